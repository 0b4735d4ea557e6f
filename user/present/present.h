/* SPDX-License-Identifier: MIT */
/* present: the live tables, log2 histograms, JSON lines, slow-GC event
 * lines and the probe plan. Nothing here reads maps or /proc. */
#ifndef MMTRACE_PRESENT_H
#define MMTRACE_PRESENT_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>
#include "events.h"
#include "gc.h"
#include "plan.h"
#include "resolve.h"

/* what the features keep (their own headers say): a row only points at it */
struct alloc_exact_stats;
struct gc_inherited;
struct heap_view;
struct stack_table;
struct symbolizer;
struct type_row;
struct report_row;

/* A feature's part of a row's presentation, in the order the features are
 * listed (feature.h): the present layer calls it and knows no feature. */
struct row_part {
	void (*text)(FILE *f, const struct report_row *row);	/* lines under the process's table */
	void (*histograms)(FILE *f, const struct report_row *row);	/* may be NULL */
	void (*json)(FILE *f, const struct report_row *row, int *first);	/* its fields */
};

#define ROW_PARTS_MAX 4

struct report_row {
	pid_t pid;
	pid_t ns_pid;		/* 0 when unknown or equal to pid */
	const char *comm;
	const char *container_id;	/* from its cgroup path, NULL when none */
	const struct python_binary *bin;
	const struct probe_plan *plan;
	bool exited;
	bool from_exec;		/* counted from its first instruction */
	bool forked;		/* counted from its fork off a tracked parent */
	pid_t parent_pid;
	bool absolute;		/* inherited + gc equal the interpreter's own totals */
	const struct gc_inherited *inherited;	/* forked rows: the parent's at fork */
	struct gc_proc_stats gc;	/* cumulative */
	struct gc_proc_stats delta;	/* since the previous report */
	const struct alloc_exact_stats *exact;	/* NULL unless --alloc=exact */
	const struct heap_view *heap;		/* NULL unless --heap=live */
	const struct stack_table *stacks;	/* NULL unless --stacks or --folded */
	const struct symbolizer *symbolizer;	/* its cache figures, NULL before the first stack */
	const struct type_row *types;		/* most deallocations first */
	int ntypes;
	uint64_t traced_ns;	/* wall time the process was traced */
	uint64_t interval_ns;	/* of the delta */
	const struct row_part *parts[ROW_PARTS_MAX];	/* the features' presentation */
	int nparts;
};

/* Host-wide figures of the system-wide mode. */
struct host_summary {
	unsigned long long processes_seen;	/* CPython processes, ever */
	unsigned long long live;
	unsigned long long ended;
	unsigned long long folded;		/* ended rows no longer listed */
	unsigned long long interpreters;	/* distinct files attached */
	unsigned long long lost_events;		/* ring buffer overflows */
	unsigned long long missed_execs;	/* exited before being identified */
	unsigned long long untraceable;		/* CPython, but its file has no usable probe */
	unsigned int map_proc_stats, map_watched, map_max;
};

enum sort_key { SORT_TIME = 0, SORT_PAUSE, SORT_GC, SORT_PID };

struct report {
	struct report_row *rows;
	int n;
	struct timespec wall;	/* CLOCK_REALTIME of this report */
	bool final;
	const struct host_summary *host;	/* NULL in the one-process mode */
	unsigned long long lost_events;		/* ring buffer records dropped */
	bool growth;				/* --alloc=growth: arena and pool columns */
	__u64 drops[MM_DROPS];			/* not counted, by cause (enum mm_drop) */
};

struct probe_view {
	pid_t pid;		/* 0: a file, not one process */
	const char *comm;
	const struct python_binary *bin;
	const struct probe_plan *plan;
	const char *offsets;	/* where CPython's offsets came from, and their cross-check */
};

/* present.c: one-process table and histograms, probe plan as text */
void present_table(FILE *f, const struct report *r, bool tty);
void present_histograms(FILE *f, const struct report *r);
void present_probes_text(FILE *f, const struct probe_view *v, int n);
const char *fmt_ns(char *buf, size_t len, double ns);
double pct(__u64 part, __u64 whole);
/* drops[] by cause, as named in JSON and metrics */
extern const char *const drop_names[MM_DROPS];
/* "dropped: ..." when anything was, else nothing */
void present_drops_line(FILE *f, const __u64 *drops);

/* present_host.c: one row per process, sorted, and merged histograms */
void present_host_table(FILE *f, struct report *r, enum sort_key key, int top, bool clear);
void present_merged_histograms(FILE *f, const struct report *r);
void log2_hist(FILE *f, const __u64 *slots, int n);
/* the same with a unit ("nsecs", "bytes") and what an empty one says */
void log2_hist_of(FILE *f, const __u64 *slots, int n, const char *unit, const char *empty);


/* present_json.c */
void present_json(FILE *f, const struct report *r);
void present_probes_json(FILE *f, const struct probe_view *v, int n);
/* one line per collection slower than --min-pause */
void present_pause_event(FILE *f, const struct mm_pause_event *e, bool json);

#endif /* MMTRACE_PRESENT_H */
