/* SPDX-License-Identifier: MIT */
/* host: the system-wide mode. Every CPython process on the host, found at
 * start and on exec, probes attached once per interpreter file. */
#ifndef MMTRACE_HOST_H
#define MMTRACE_HOST_H

#include <stdbool.h>
#include <stdio.h>
#include "gc.h"
#include "options.h"
#include "plan.h"
#include "resolve.h"

struct host_config {
	const struct options *opt;
	const struct resolve_opts *ro;
	const struct plan_opts *po;
	FILE *out;
	bool tty;
	int sigfd;	/* SIGINT/SIGTERM arrive here */
	char *err;
	size_t errlen;
};

struct proctable;
struct registry;

/* An END event applied to the process table: the row it ends, a row for a
 * process that ended unseen, or nothing when that image already ended.
 * True when the process's map entries can go. */
bool host_end_event(struct proctable *t, const struct registry *reg, const struct mm_end_event *e);

/* Runs until a signal or COUNT reports. Returns an exit code (MMX_*). */
int host_run(const struct host_config *c);

#endif /* MMTRACE_HOST_H */
