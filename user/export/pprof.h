/* SPDX-License-Identifier: MIT */
/* pprof: the stack table as a gzipped profile.proto (go tool pprof,
 * Pyroscope, Parca), one sample type per figure the run recorded. */
#ifndef MMTRACE_PPROF_H
#define MMTRACE_PPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "stacks.h"

struct pprof_process {
	pid_t pid;
	const char *comm;
};

struct pprof_run {
	const struct pprof_process *procs;	/* named by a comm label */
	int nprocs;
	bool growth;			/* --alloc=growth: growth (and arena) sample types */
	uint64_t sample_bytes;		/* --alloc=exact stacks: alloc sample types, their period */
	int64_t time_ns;		/* wall clock when tracing began, 0 unknown */
	int64_t duration_ns;
};

/* The gzipped profile in *out (malloc'd): 0, or -ENOMEM. */
int pprof_encode(const struct stack_table *t, const struct pprof_run *r, uint8_t **out, size_t *len);
/* 0, or -1 with err set. */
int pprof_write(const struct stack_table *t, const struct pprof_run *r, const char *path, char *err,
		size_t errlen);

#endif /* MMTRACE_PPROF_H */
