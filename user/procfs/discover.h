/* SPDX-License-Identifier: MIT */
/* discover: validate target processes, find their interpreter, hold a child. */
#ifndef MMTRACE_DISCOVER_H
#define MMTRACE_DISCOVER_H

#include <stdbool.h>
#include <limits.h>
#include <stdint.h>
#include <sys/types.h>
#include "maps.h"
#include "procfs.h"
#include "resolve.h"

struct target {
	pid_t pid;
	int pidfd;		/* -1 when not open */
	char comm[32];
	struct python_binary bin;
};

/* Fills t for a running process. Returns an exit code (MMX_*), with err set. */
int discover_pid(pid_t pid, const struct resolve_opts *ro, struct target *t, char *err, size_t errlen);

/* Finds the CPython file that CMD will run: the executable, one shebang
 * level, or a libpython it links. Returns an exit code (MMX_*). */
int discover_command(const char *cmd, const struct resolve_opts *ro, struct target *t,
		     char *exe, size_t exelen, char *err, size_t errlen);

/* A child forked and held before exec until held_child_release(). */
struct held_child {
	pid_t pid;
	int gate_fd;	/* write end: one byte lets the child exec */
};

int held_child_spawn(const char *exe, char *const argv[], struct held_child *c);
int held_child_release(struct held_child *c);
/* Ends a child still held, which must not run CMD (attach failed; or sig,
 * when not 0, came first: the child dies of it too), and reaps it; a child
 * already released is only waited for. Its wait status, or -1. */
int held_child_abort(struct held_child *c, int sig);

#define MAX_MAPPED_FILES 256

struct mapped_file {
	char *path;		/* as /proc/PID/maps prints it */
	struct file_id id;
	uint64_t start, end;	/* its first mapping: names it in /proc/PID/map_files */
};

struct mapped_files {
	struct mapped_file files[MAX_MAPPED_FILES];
	int n;
	bool saw_deleted;
	char deleted[PATH_MAX];
};

struct maps_line {
	char *path;		/* inside the line buffer */
	uint64_t start, end;
	struct file_id id;
	bool deleted;		/* " (deleted)" was cut off path */
};

/* Parses one /proc/PID/maps line in place: 1 for an executable mapping of
 * a file (out set), 0 for anything else. */
int parse_maps_line(char *line, struct maps_line *out);

/* The interpreter a "#!" line names (in place), or NULL; *via_env when it
 * must be searched on PATH ("#!/usr/bin/env [-opts] NAME"). */
const char *parse_shebang(char *line, bool *via_env);

/* The executable file mappings of pid. 0 or -errno; free_mapped_files after. */
int read_mapped_files(pid_t pid, struct mapped_files *m);
void free_mapped_files(struct mapped_files *m);

/*
 * Where mmtrace can open a file that pid maps. /proc/PID/maps prints a path
 * relative to the reader's root when the file is reachable from it (a
 * chroot in mmtrace's own mount namespace: the full host path) and relative
 * to the mount namespace's root otherwise (a container), so neither
 * /proc/PID/root + path nor path alone is right everywhere: the first that
 * is the mapped file (device and inode) wins, path before /proc/PID/root +
 * path (it outlives the process), else the mapping itself,
 * /proc/PID/map_files/START-END (root only; valid while pid maps it). Fills
 * root (the prefix, "" for none) and open (the path to put after it).
 */
void locate_mapped(pid_t pid, const struct mapped_file *f, char *root, size_t rootlen,
		   char *open, size_t openlen);

/* Finds a libpython among exe's DT_NEEDED entries, searched like ld.so does
 * (minus ld.so.cache), under ro->root when set. 0 or -ENOEXEC. */
int linked_libpython(const char *exe, const struct resolve_opts *ro, struct python_binary *pb);


#endif /* MMTRACE_DISCOVER_H */
