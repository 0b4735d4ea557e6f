// SPDX-License-Identifier: MIT
/* Every reader of /proc/PID/x but the maps (maps.c) and memory (procmem.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "parse.h"
#include "procfs.h"

uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int read_comm(pid_t pid, char *buf, size_t len)
{
	if (read_proc_text(pid, "comm", buf, len) < 0)
		return -ENOENT;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

uint64_t parse_stat_starttime(const char *stat)
{
	const char *p = strrchr(stat, ')');
	unsigned long long v = 0;
	char *end;
	int field;

	/* "pid (comm) state ppid ...": starttime is field 22; comm may hold ')' */
	if (!p)
		return 0;
	p++;
	for (field = 3; field <= 22; field++) {
		while (*p == ' ')
			p++;
		if (!*p)
			return 0;
		if (field == 22) {
			errno = 0;
			v = strtoull(p, &end, 10);
			return errno || end == p ? 0 : v;
		}
		while (*p && *p != ' ')
			p++;
	}
	return 0;
}

ssize_t read_proc_text(pid_t pid, const char *name, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || len < 2) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return n;
}

uint64_t process_start_ticks(pid_t pid)
{
	char buf[1024];

	return read_proc_text(pid, "stat", buf, sizeof(buf)) > 0 ? parse_stat_starttime(buf) : 0;
}

bool process_alive(pid_t pid)
{
	char buf[512], *p;

	if (read_proc_text(pid, "stat", buf, sizeof(buf)) <= 0)
		return false;
	/* "pid (comm) S ...": comm may hold spaces and parentheses */
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

void process_root(pid_t pid, char *buf, size_t len)
{
	struct stat mine, theirs;
	char link[64];

	snprintf(link, sizeof(link), "/proc/%d/root", pid);
	if (!stat("/proc/self/root", &mine) && !stat(link, &theirs) && mine.st_dev == theirs.st_dev &&
	    mine.st_ino == theirs.st_ino)
		buf[0] = '\0';
	else
		snprintf(buf, len, "%s", link);
}

static bool parse_pid_name(const char *s, pid_t *pid)
{
	long v;

	if (parse_long(s, 1, INT_MAX, &v))
		return false;
	*pid = (pid_t)v;
	return true;
}

int procfs_each_pid(void (*fn)(void *arg, pid_t pid), void *arg)
{
	DIR *dir = opendir("/proc");
	struct dirent *de;
	pid_t pid, self = getpid();

	if (!dir)
		return -errno;
	while ((de = readdir(dir)))
		if (parse_pid_name(de->d_name, &pid) && pid != self)
			fn(arg, pid);
	closedir(dir);
	return 0;
}

int read_exe_id(pid_t pid, struct exe_id *id)
{
	char link[64];
	struct stat st;

	/* stat follows the link to the file the process runs: its device and
	 * inode, in the one encoding all rows compare */
	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	if (stat(link, &st)) {
		*id = (struct exe_id){ 0, 0 };
		return -errno;
	}
	*id = (struct exe_id){ st.st_dev, st.st_ino };
	return 0;
}

/* The lines of /proc/PID/NAME, each NUL-terminated in turn, to fn until it
 * returns true. */
static void each_line(pid_t pid, const char *name, bool (*fn)(char *line, void *arg), void *arg)
{
	char buf[8192], *line, *nl;

	if (read_proc_text(pid, name, buf, sizeof(buf)) <= 0)
		return;
	for (line = buf; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (fn(line, arg))
			return;
	}
}

static bool take_nspid(char *line, void *arg)
{
	pid_t *ns = arg;

	*ns = parse_nspid_line(line);
	return !strncmp(line, "NSpid:", 6);
}

pid_t read_ns_pid(pid_t pid)
{
	pid_t ns = 0;

	each_line(pid, "status", take_nspid, &ns);
	return ns;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

int parse_container_id(const char *line, char *out, size_t outlen)
{
	size_t n = strlen(line), i = 0, j;
	const char *last = NULL;

	/* runs of lowercase hex digits; the innermost (last) 64-digit one wins */
	while (i < n) {
		for (j = i; j < n && is_hex(line[j]); j++)
			;
		if (j - i == 64)
			last = line + i;
		i = j > i ? j : i + 1;
	}
	if (!last || outlen <= 64)
		return -ENOENT;
	snprintf(out, outlen, "%.64s", last);
	return 0;
}

struct id_out {
	char *out;
	size_t len;
};

static bool take_container_id(char *line, void *arg)
{
	struct id_out *o = arg;

	return !parse_container_id(line, o->out, o->len);
}

void read_container_id(pid_t pid, char *out, size_t outlen)
{
	struct id_out o = { out, outlen };

	out[0] = '\0';
	each_line(pid, "cgroup", take_container_id, &o);
}

pid_t parse_nspid_line(char *line)
{
	char *p, *last = NULL, *save = NULL;
	long v;

	if (strncmp(line, "NSpid:", 6))
		return 0;
	/* "NSpid:\t4242\t7": the innermost namespace comes last */
	for (p = strtok_r(line + 6, " \t\n", &save); p; p = strtok_r(NULL, " \t\n", &save))
		last = p;
	return last && !parse_long(last, 1, INT_MAX, &v) ? (pid_t)v : 0;
}
