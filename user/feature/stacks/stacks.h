/* SPDX-License-Identifier: MIT */
/* stacks: Python stacks of collections and heap growth, symbolised as they
 * arrive, aggregated per process, thread and metric, and written as
 * collapsed stacks (flamegraph.pl, speedscope, inferno) and top-N lists. */
#ifndef MMTRACE_STACKS_H
#define MMTRACE_STACKS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include "events.h"
#include "gc.h"
#include "symbolize.h"

enum folded_metric {
	FOLD_GC_COUNT,		/* collections, by the stack that triggered them; root frame: genN */
	FOLD_GC_PAUSE,		/* their pause, ns */
	FOLD_GROWTH,		/* bytes of pools taken (3.9+), else of arenas */
	FOLD_ARENA,		/* bytes of arenas requested */
	FOLD_ALLOC,		/* --alloc=exact: bytes requested, one stack per --sample-bytes */
	FOLD__COUNT,
};

struct stack_entry {
	char *frames;		/* outermost first, ';'-separated; NULL: free slot */
	enum stack_metric metric;
	uint32_t generation;
	pid_t pid, tid;
	uint64_t weight, count, pause_ns;
};

/* Distinct stacks kept per table: a long run meets new stacks for ever. */
#define STACKS_MAX 65536
/* where the stacks beyond it go, per process, metric and generation */
#define STACKS_OTHER "[other stacks]"

struct stack_table {
	struct stack_entry *slots;
	size_t cap, n;
	size_t max_stacks;		/* STACKS_MAX; lower in tests */
	size_t others;			/* [other stacks] entries among n */
	unsigned long long overflowed;	/* events counted in [other stacks] */
	bool growth_from_pools;	/* the build probes pool refills */
	unsigned long long events, truncated, broken, no_thread;
	unsigned long long dropped;	/* stacks of a process whose memory could not be read */
};

void stacks_init(struct stack_table *t);
void stacks_free(struct stack_table *t);
/* One event, symbolised now (the frames may be gone later); the entry it
 * was counted in, NULL when it was not. */
const struct stack_entry *stacks_add(struct stack_table *t, struct symbolizer *sym, const struct mm_stack_event *e);

const char *folded_metric_name(enum folded_metric m);
/* -1 when name is none of them */
int folded_metric_parse(const char *name);
/* The collapsed lines of one metric; the count of lines written. */
long stacks_write_folded(const struct stack_table *t, enum folded_metric m, FILE *f);
/* Writes path (one metric) or path.METRIC.folded for each metric with data. */
int stacks_write_files(const struct stack_table *t, const char *path, int metric, char *err, size_t errlen);
/* The top n stacks of a metric for one process, heaviest first. */
int stacks_top(const struct stack_table *t, pid_t pid, enum folded_metric m, const struct stack_entry **out, int n);
uint64_t stack_weight(const struct stack_entry *e, enum folded_metric m);
bool stack_in_metric(const struct stack_entry *e, enum folded_metric m, bool growth_from_pools);

#endif /* MMTRACE_STACKS_H */
