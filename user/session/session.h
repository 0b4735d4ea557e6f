/* SPDX-License-Identifier: MIT */
/*
 * session: the one engine of every tracing mode. It owns the lifecycle
 * (load, attach, the loop, signals, cadence, scrapes, reports, cleanup)
 * and the process table; a target source says which processes it is
 * about: the pids given (-p), a command held before exec (-- CMD), or the
 * whole host. Exec, fork and pid reuse are handled once, for all three.
 */
#ifndef MMTRACE_SESSION_H
#define MMTRACE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "options.h"
#include "plan.h"
#include "resolve.h"

struct session_config {
	const struct options *opt;
	const struct resolve_opts *ro;
	const struct plan_opts *po;
	FILE *out;
	bool tty;
	int sigfd;	/* SIGCHLD, and SIGINT/SIGTERM once the loop takes them over */
	char *err;
	size_t errlen;
};

/* Runs the mode the options name until its targets end, a signal, or
 * COUNT reports. Returns an exit code (MMX_*, or CMD's own). */
int session_run(const struct session_config *c);

#endif /* MMTRACE_SESSION_H */
