/* SPDX-License-Identifier: MIT */
/* discover: validate target processes, find their interpreter, hold a child. */
#ifndef MMTRACE_DISCOVER_H
#define MMTRACE_DISCOVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "plan.h"
#include "resolve.h"

struct target {
	pid_t pid;
	int pidfd;		/* -1 when not open */
	char comm[32];
	struct python_binary bin;
	struct probe_plan plan;
	uint64_t start_ns;	/* CLOCK_MONOTONIC when its probes were live */
	uint64_t end_ns;	/* when it was seen gone, 0 while alive */
	bool exited;
	bool spawned;		/* started by mmtrace (-- CMD) */
	int wait_status;	/* for spawned targets, from waitpid */
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
/* Kills a child that must not run (attach failed) and reaps it. */
void held_child_abort(struct held_child *c);

uint64_t monotonic_ns(void);
int read_comm(pid_t pid, char *buf, size_t len);

#endif /* MMTRACE_DISCOVER_H */
