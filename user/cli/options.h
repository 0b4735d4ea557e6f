/* SPDX-License-Identifier: MIT */
#ifndef MMTRACE_OPTIONS_H
#define MMTRACE_OPTIONS_H

#include <stdbool.h>
#include <sys/types.h>
#include "export.h"
#include "present.h"
#include "resolve.h"

#define OPT_MAX_PIDS 64

struct options {
	pid_t pids[OPT_MAX_PIDS];
	int npids;
	double interval_s;	/* seconds between reports */
	bool interval_given;
	long count;		/* reports before exit, 0 = until stopped */
	bool histograms;
	bool json;
	bool probes_only;
	bool verbose;
	bool no_usdt;
	bool at_entry;		/* --at-entry: no site moved past an endbr64 */
	bool poll;		/* --poll: no probe in any target, its own counters read at each report */
	bool all;		/* system-wide: no -p and no command, or -a */
	enum sort_key sort;	/* -s, system-wide table */
	bool sort_given;
	int top;		/* -n, rows shown, 0 = all */
	double min_pause_ms;	/* --min-pause, 0 = off */
	bool merge;		/* --merge: one host-wide histogram per generation */
	bool alloc_growth;	/* --alloc=growth (or exact) */
	bool alloc_exact;	/* --alloc=exact */
	bool heap;		/* --heap: snapshots of the heap state, read from outside */
	bool heap_live;		/* --heap=live: a heap section in the live table */
	bool stacks;		/* --stacks: top Python stacks in the live table */
	const char *folded;	/* --folded PATH: collapsed stacks at the end */
	int folded_metric;	/* --folded-metric, -1: every metric, one file each */
	const char *pprof;	/* --pprof FILE: the stacks as a gzipped profile.proto at the end */
	unsigned int stack_depth;	/* --stack-depth, frames per stack */
	unsigned long long sample_bytes;	/* --sample-bytes: exact level, a stack per N bytes */
	unsigned int events_kib;	/* --events-kib, 0 = default */
	const char *openmetrics;	/* --openmetrics [ADDR:]PORT */
	const char *openmetrics_file;
	double metrics_grace_s;		/* ended processes' series stay this long */
	enum metric_scheme metric_names;	/* --metric-names, default prometheus */
	bool metric_names_given;
	const char *trace_file;		/* --trace FILE */
	const char *output;	/* -o FILE, default stdout */
	const char *debug_dirs[RESOLVE_MAX_DEBUG_DIRS];
	int ndebug_dirs;
	char **cmd;		/* NULL-terminated, from "-- CMD ..." (in argv) or -c */
	int cmd_argc;
	char *cmd_buf;		/* owns the words of -c */
	char **cmd_words;	/* owns -c's array of them */
};

/* Returns MMX_OK or MMX_USAGE (message printed). --help exits 0. */
int options_parse(int argc, char **argv, struct options *o);
void options_free(struct options *o);

#endif /* MMTRACE_OPTIONS_H */
