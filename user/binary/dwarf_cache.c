// SPDX-License-Identifier: MIT
/*
 * A record is one file: a header naming the DWARF file (device, inode,
 * size, modification and change times) and the lengths, then the question
 * and the answer. Its name is a hash of the header's identity and the
 * question; a load compares them all, so a collision or a replaced file
 * reads as a miss. Records are root's, in a directory that is root's and
 * writable by no one else: mmtrace runs as root over files anyone owns, and
 * these answers steer its reads. Everything read is still checked.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "dwarf_cache.h"

#define MAGIC "mmdwc001"
#define MAX_QUESTION 4096
#define MAX_ANSWER 65536

struct record_head {
	char magic[8];
	uint64_t dev, ino, size, mtime_s, mtime_ns, ctime_s, ctime_ns;
	uint32_t qlen, len;
};

static bool identify(int fd, struct record_head *h)
{
	struct stat st;

	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		return false;
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, MAGIC, sizeof(h->magic));
	h->dev = st.st_dev;
	h->ino = st.st_ino;
	h->size = (uint64_t)st.st_size;
	h->mtime_s = (uint64_t)st.st_mtim.tv_sec;
	h->mtime_ns = (uint64_t)st.st_mtim.tv_nsec;
	h->ctime_s = (uint64_t)st.st_ctim.tv_sec;
	h->ctime_ns = (uint64_t)st.st_ctim.tv_nsec;
	return true;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--)
		h = (h ^ *b++) * 0x100000001b3ull;
	return h;
}

static void record_name(const struct record_head *h, const void *q, size_t qlen, char *name, size_t cap)
{
	uint64_t x = fnv1a(0xcbf29ce484222325ull, h, offsetof(struct record_head, qlen));

	snprintf(name, cap, "%016llx", (unsigned long long)fnv1a(x, q, qlen));
}

/* Root's directory, writable by root alone, or -1. */
static int open_dir(bool create)
{
	const char *dir = getenv("MMTRACE_CACHE_DIR");
	char parent[4096], *slash;
	struct stat st;
	int fd;

	if (geteuid() != 0 || (dir && !*dir))
		return -1;	/* not root, or MMTRACE_CACHE_DIR= (none) */
	if (!dir)
		dir = DWARF_CACHE_DIR;
	if (create && strlen(dir) < sizeof(parent)) {
		snprintf(parent, sizeof(parent), "%s", dir);
		slash = strrchr(parent, '/');
		if (slash && slash != parent) {
			*slash = '\0';
			(void)mkdir(parent, 0755);
		}
		(void)mkdir(dir, 0700);
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || st.st_uid != 0 || (st.st_mode & 022)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* All of len bytes, or false. A signal (EINTR) ends it too: mmtrace's
 * stages stop at one, and the cache only saves time. */
static bool transfer_all(int fd, void *buf, size_t len, bool out)
{
	char *p = buf;
	ssize_t n;

	while (len) {
		n = out ? write(fd, p, len) : read(fd, p, len);
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static bool read_all(int fd, void *buf, size_t len)
{
	return transfer_all(fd, buf, len, false);
}

static bool write_all(int fd, const void *buf, size_t len)
{
	return transfer_all(fd, (void *)buf, len, true);
}

bool dwarf_cache_load(int fd, const void *question, size_t qlen, void *out, size_t len)
{
	struct record_head want, got;
	char name[32], *q = NULL;
	struct stat st;
	bool ok = false;
	int dir, rec = -1;

	if (qlen > MAX_QUESTION || len > MAX_ANSWER || !identify(fd, &want))
		return false;
	want.qlen = (uint32_t)qlen;
	want.len = (uint32_t)len;
	dir = open_dir(false);
	if (dir < 0)
		return false;
	record_name(&want, question, qlen, name, sizeof(name));
	rec = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (rec < 0 || fstat(rec, &st) || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    (uint64_t)st.st_size != sizeof(got) + qlen + len)
		goto out;
	q = malloc(qlen ? qlen : 1);
	if (!q || !read_all(rec, &got, sizeof(got)) || memcmp(&got, &want, sizeof(got)) ||
	    !read_all(rec, q, qlen) || memcmp(q, question, qlen) || !read_all(rec, out, len))
		goto out;
	ok = true;
out:
	free(q);
	if (rec >= 0)
		close(rec);
	close(dir);
	return ok;
}

void dwarf_cache_store(int fd, const void *question, size_t qlen, const void *answer, size_t len)
{
	struct record_head h;
	char name[32], tmp[64];
	int dir, rec;
	bool ok;

	if (qlen > MAX_QUESTION || len > MAX_ANSWER || !identify(fd, &h))
		return;
	h.qlen = (uint32_t)qlen;
	h.len = (uint32_t)len;
	dir = open_dir(true);
	if (dir < 0)
		return;
	record_name(&h, question, qlen, name, sizeof(name));
	snprintf(tmp, sizeof(tmp), ".%s.%d", name, (int)getpid());
	rec = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (rec < 0) {
		close(dir);
		return;
	}
	ok = write_all(rec, &h, sizeof(h)) && write_all(rec, question, qlen) && write_all(rec, answer, len);
	ok = !close(rec) && ok;
	/* whole or not at all: a reader sees the old record or the new one */
	if (!ok || renameat(dir, tmp, dir, name))
		unlinkat(dir, tmp, 0);
	close(dir);
}
