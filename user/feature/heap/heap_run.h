/* SPDX-License-Identifier: MIT */
/* heap_run: the --heap mode, snapshots of running processes' heap state. */
#ifndef MMTRACE_HEAP_RUN_H
#define MMTRACE_HEAP_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>
#include "heap.h"
#include "heap_layout.h"
#include "present_heap.h"
#include "options.h"
#include "resolve.h"

struct heap_config {
	const struct options *opt;
	const struct resolve_opts *ro;
	FILE *out;
	int sigfd;		/* SIGINT/SIGTERM end the loop between snapshots */
	char *err;
	size_t errlen;
};

/* Returns an exit code (MMX_*), with err set on failure. */
int heap_run(const struct heap_config *c);

/* One reading of a process's heap state. */
struct heap_reading {
	struct dwarf_cache dwarf;	/* kept from one reading to the next */
	struct heap_layout layout;
	struct heap_snapshot snap;
	unsigned long long rss_bytes;
	char error[256];	/* when rc is not MMX_OK */
	int rc;
};

void heap_read_process(pid_t pid, const struct python_binary *bin, struct heap_reading *out);
struct heap_view heap_view_of(pid_t pid, const char *comm, const struct python_binary *bin,
			      const struct heap_reading *r);

/* The "Rss:" of /proc/PID/smaps_rollup text, in bytes; 0 when absent. */
unsigned long long parse_rss_rollup(const char *text);

#endif /* MMTRACE_HEAP_RUN_H */
