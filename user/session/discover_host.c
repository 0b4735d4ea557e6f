// SPDX-License-Identifier: MIT
#include <dirent.h>
#include <limits.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "discover_host.h"
#include "elf_file.h"
#include "parse.h"

static uint64_t mnt_ns_of(const char *ns_link)
{
	struct stat st;

	return stat(ns_link, &st) ? 0 : st.st_ino;
}

void discover_host_init(struct host_discovery *d, struct registry *reg, const struct resolve_opts *ro)
{
	memset(d, 0, sizeof(*d));
	d->reg = reg;
	d->ro = ro;
	d->own_mnt_ns = mnt_ns_of("/proc/self/ns/mnt");
}

/* NULL for a process in mmtrace's own mount namespace (paths are ours),
 * else its /proc/PID/root, through which its files are reached. */
static const char *root_of(const struct host_discovery *d, pid_t pid, char *buf, size_t len)
{
	char link[64];
	uint64_t ns;

	snprintf(link, sizeof(link), "/proc/%d/ns/mnt", pid);
	ns = mnt_ns_of(link);
	if (ns && ns == d->own_mnt_ns)
		return NULL;
	snprintf(buf, len, "/proc/%d/root", pid);
	return buf;
}

/* The id of the mapping that starts at addr in our own /proc/self/maps. */
static int id_of_own_mapping(const void *addr, struct file_id *id)
{
	char line[PATH_MAX + 128];
	FILE *f = fopen("/proc/self/maps", "re");
	struct mem_region r;
	int rc = -ENOENT;

	if (!f)
		return -errno;
	while (rc && fgets(line, sizeof(line), f)) {
		if (!parse_mem_region(line, &r) && r.start == (uint64_t)(uintptr_t)addr) {
			*id = r.id;
			rc = 0;
		}
	}
	fclose(f);
	return rc;
}

/*
 * The file's id as the kernel names it in /proc/PID/maps and in BPF
 * (i_sb->s_dev, i_ino). stat()'s st_dev can differ from s_dev (btrfs
 * subvolumes), so the file is mapped for a moment and the mapping asked.
 */
static int id_of_path(const char *root, const char *path, struct file_id *id)
{
	char full[PATH_MAX];
	struct stat st;
	void *map;
	int fd, rc;

	snprintf(full, sizeof(full), "%s%s", root ? root : "", path);
	fd = open_target_file(full);	/* a path the target controls: no FIFO, no device */
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) || st.st_size <= 0) {
		close(fd);
		return -ENOEXEC;
	}
	map = mmap(NULL, 1, PROT_READ, MAP_PRIVATE, fd, 0);
	rc = map == MAP_FAILED ? -errno : id_of_own_mapping(map, id);
	if (map != MAP_FAILED)
		munmap(map, 1);
	close(fd);
	return rc;
}

/* Resolves path (under ro->root) as an interpreter and registers it under
 * id, named shown (the process's own name for it), after checking that the
 * path still names that file. An interpreter id or -errno. */
static int register_interp(struct host_discovery *d, const struct resolve_opts *ro, const char *path,
			   const char *shown, struct file_id id)
{
	struct python_binary *pb = malloc(sizeof(*pb));
	struct file_id now;
	int rc;

	if (!pb)
		return -ENOMEM;
	rc = resolve_python(path, ro, pb);
	if (!rc && (id_of_path(ro->root, path, &now) || !file_id_eq(now, id)))
		rc = -ESTALE;	/* replaced under us: classify it when next seen */
	if (!rc) {
		snprintf(pb->path, sizeof(pb->path), "%s", shown);
		rc = registry_add_interp(d->reg, id, pb);
	} else if (rc == -ENOEXEC) {
		registry_remember(d->reg, id, FILE_NOT_PYTHON, -1);
	}
	free(pb);
	return rc;
}

int discover_host_adopt(struct host_discovery *d, const struct python_binary *pb)
{
	struct file_id id;
	int rc = id_of_path(NULL, pb->open_path, &id);

	return rc ? rc : registry_add_interp(d->reg, id, pb);
}

static int classify_mapped(struct host_discovery *d, pid_t pid, const struct resolve_opts *ro_in,
			   const struct mapped_file *f)
{
	struct resolve_opts ro = *ro_in;
	char root[64], open[PATH_MAX];
	enum file_kind kind;
	int bin;

	if (registry_lookup(d->reg, f->id, &kind, &bin))
		return kind == FILE_PYTHON ? bin : -ENOEXEC;	/* an executable is no interpreter */
	locate_mapped(pid, f, root, sizeof(root), open, sizeof(open));
	ro.root = root[0] ? root : NULL;
	return register_interp(d, &ro, open, f->path, f->id);
}

/* Whether the executable alone makes a process CPython: true when it is the
 * interpreter or links the libpython that bin is. An embedding host that
 * dlopens libpython (uwsgi) is not, and is found by rescans instead. */
/* The interpreter id of the libpython that exe links (registered when new),
 * -ENOEXEC when it links none. */
static int linked_interp(struct host_discovery *d, const char *exe, const struct resolve_opts *ro)
{
	struct python_binary *pb = malloc(sizeof(*pb));
	struct file_id lib;
	int rc = -ENOEXEC;

	if (!pb)
		return -ENOMEM;
	if (!linked_libpython(exe, ro, pb) && !id_of_path(NULL, pb->open_path, &lib))
		rc = registry_add_interp(d->reg, lib, pb);
	free(pb);
	return rc;
}

static void learn_executable(struct host_discovery *d, const struct resolve_opts *ro, pid_t pid, int bin)
{
	char link[64], path[PATH_MAX];
	enum file_kind kind;
	struct file_id exe;
	ssize_t n;
	int known;

	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	if (id_of_path(NULL, link, &exe) ||
	    (registry_lookup(d->reg, exe, &kind, &known) && kind != FILE_NOT_PYTHON))
		return;
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return;
	path[n] = '\0';
	if (linked_interp(d, path, ro) == bin)
		registry_remember(d->reg, exe, FILE_LINKS_PYTHON, bin);
	else
		registry_remember(d->reg, exe, FILE_EXE_NOT_PYTHON, -1);
}

int discover_host_pid(struct host_discovery *d, pid_t pid)
{
	struct resolve_opts ro = *d->ro;
	struct mapped_files *m = calloc(1, sizeof(*m));
	char root[64], debug_root[64];
	int i, bin = -ENOEXEC;

	if (!m)
		return -ENOMEM;
	ro.root = root_of(d, pid, root, sizeof(root));
	process_root(pid, debug_root, sizeof(debug_root));
	ro.debug_root = debug_root[0] ? debug_root : NULL;
	if (read_mapped_files(pid, m)) {
		bin = errno == ENOENT || errno == ESRCH ? -ESRCH : -errno;
		free(m);
		return bin;
	}
	for (i = 0; i < m->n && bin < 0; i++) {
		bin = classify_mapped(d, pid, &ro, &m->files[i]);
		if (bin < 0 && bin != -ENOEXEC)
			bin = -ENOEXEC;	/* unreadable file: try the others */
	}
	free_mapped_files(m);
	free(m);
	if (bin >= 0)
		learn_executable(d, &ro, pid, bin);
	return bin;
}

/*
 * Where the just-exec'd file (id) can be read: through /proc while the
 * process lives, else by the name it was exec'd by, when that name is ours.
 * /proc/PID/exe names it relative to mmtrace's root when reachable from it
 * (a chroot in our mount namespace) and to the namespace's root otherwise,
 * so the candidate that is the file wins; /proc/PID/exe itself is the last
 * one. shown is the process's name for it.
 */
static int locate_exec(struct host_discovery *d, const struct mm_exec_event *e, struct file_id id,
		       char *path, size_t len, char *shown, size_t shownlen, const char **root,
		       char *rootbuf, size_t rootlen)
{
	struct file_id now;
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%u/exe", e->pid);
	n = readlink(link, shown, shownlen - 1);
	if (n > 0) {
		shown[n] = '\0';
		snprintf(path, len, "%s", shown);
		*root = root_of(d, (pid_t)e->pid, rootbuf, rootlen);
		if (!id_of_path(*root, path, &now) && file_id_eq(now, id))
			return 0;
		snprintf(rootbuf, rootlen, "/proc/%u/root", e->pid);
		*root = rootbuf;
		if (!id_of_path(*root, path, &now) && file_id_eq(now, id))
			return 0;
		*root = NULL;
		if (!id_of_path(NULL, path, &now) && file_id_eq(now, id))
			return 0;
		snprintf(path, len, "%s", link);
		return 0;
	}
	if (e->mnt_ns == (uint32_t)d->own_mnt_ns && e->filename[0] == '/') {
		snprintf(path, len, "%.*s", (int)sizeof(e->filename), e->filename);
		snprintf(shown, shownlen, "%s", path);
		*root = NULL;
		return 0;
	}
	return -ESRCH;
}

int discover_host_exec(struct host_discovery *d, const struct mm_exec_event *e)
{
	struct file_id id = { e->dev, e->ino }, now;
	struct resolve_opts ro = *d->ro;
	char path[PATH_MAX], shown[PATH_MAX], rootbuf[64], debug_root[64];
	enum file_kind kind = 0;
	int bin = 0, rc;

	/* FILE_NOT_PYTHON came from a mapping: what it links is still unknown */
	if (registry_lookup(d->reg, id, &kind, &bin) && kind != FILE_NOT_PYTHON)
		return kind == FILE_EXE_NOT_PYTHON ? -ENOEXEC : bin;
	if (locate_exec(d, e, id, path, sizeof(path), shown, sizeof(shown), &ro.root, rootbuf,
			sizeof(rootbuf)) ||
	    id_of_path(ro.root, path, &now) || !file_id_eq(now, id)) {
		d->missed++;
		return -ESRCH;
	}
	process_root((pid_t)e->pid, debug_root, sizeof(debug_root));
	ro.debug_root = debug_root[0] ? debug_root : NULL;
	rc = kind == FILE_NOT_PYTHON ? -ENOEXEC : register_interp(d, &ro, path, shown, id);
	if (rc != -ENOEXEC)
		return rc;
	/* not an interpreter itself: one that links libpython is one too */
	rc = linked_interp(d, path, &ro);
	if (rc >= 0)
		registry_remember(d->reg, id, FILE_LINKS_PYTHON, rc);
	else if (rc == -ENOEXEC)
		registry_remember(d->reg, id, FILE_EXE_NOT_PYTHON, -1);
	return rc;
}
