/* SPDX-License-Identifier: MIT */
/*
 * proctable: one row per CPython process mmtrace has seen, live or ended.
 * A pid can be reused (or exec a new image), so a row is one process
 * image: at most one live row per pid.
 */
#ifndef MMTRACE_PROCTABLE_H
#define MMTRACE_PROCTABLE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "events.h"
#include "gc.h"
#include "gcpoll.h"
#include "procfs.h"

/* ended rows kept for the final summary; older ones are folded into a count */
#define PROCTABLE_MAX_ENDED 4096
/* slots for the features' own state of a row (feature.h owns them) */
#define PROC_ROW_FEATURES 3

/* What a forked child's interpreter already counted when it was born. */
struct gc_inherited {
	__u64 collections[MMTRACE_GENERATIONS];
	__u64 collected[MMTRACE_GENERATIONS];
	__u64 uncollectable[MMTRACE_GENERATIONS];
};


struct proc_row {
	pid_t pid;
	pid_t parent_pid;	/* for forked rows */
	pid_t ns_pid;		/* in its own PID namespace, 0 when unknown */
	char comm[MMTRACE_COMM_LEN];
	char container_id[72];	/* from /proc/PID/cgroup, empty when none */
	bool trace_named;	/* its track in the --trace file has a name */
	int bin_id;
	struct exe_id exe;	/* its executable when found */
	uint64_t start_ns;	/* CLOCK_MONOTONIC from which it was counted */
	uint64_t end_ns;	/* when it exited or exec'd, 0 while live */
	uint64_t found_ns;	/* when mmtrace learned of it: older events are not its own */
	uint64_t start_ticks;	/* /proc/PID/stat starttime: tells a reused pid apart */
	bool from_exec;		/* counted from its first instruction */
	bool forked;		/* counted from its fork off a tracked parent */
	/* inherited + own counters equal the interpreter's gc.get_stats() */
	bool absolute;
	struct gc_inherited inherited;
	bool ended;
	/* the image its END event named (mm_end_event start_ns, exec_id) */
	bool end_identified;
	uint64_t end_start_ns;
	uint64_t end_exec_id;
	bool reported_end;	/* its last interval report has been printed */
	bool reported_once;	/* in at least one report: intervals start at the last one */
	/* a polled interpreter (no probe point): its own counters at the first
	 * read, which the row's counts are taken from */
	bool poll_based;
	bool poll_at_exit;	/* BPF reads its counters once more as it exits */
	bool poll_located;	/* ... wherever its interpreter is then (gc_poll_where) */
	struct gc_poll_read poll_base;
	struct gc_proc_stats now;	/* cumulative at the last read */
	struct gc_proc_stats prev;	/* cumulative at the previous report */
	bool poll_final;	/* BPF read its counters as it exited: they stand */
	void *feat[PROC_ROW_FEATURES];	/* each feature's state, NULL until used */
};

struct proctable {
	struct proc_row *rows;
	pid_t *live_pids;	/* live_pids[i]: rows[i].pid while live, 0 once ended */
	int n;
	int cap;
	int nended;
	uint64_t seen;		/* processes ever added */
	uint64_t folded;	/* ended rows dropped past PROCTABLE_MAX_ENDED */
	/* called for a row that leaves the table (its features' state) */
	void (*release)(struct proc_row *row, void *ctx);
	void *release_ctx;
};

void proctable_init(struct proctable *t);
void proctable_free(struct proctable *t);
struct proc_row *proctable_live(struct proctable *t, pid_t pid);
/* A new live row for pid (NULL when out of memory). */
struct proc_row *proctable_add(struct proctable *t, pid_t pid);
/* Removes a row that turned out not to be a process of its own (a fork
 * that exec'd at once, as subprocess does). */
void proctable_discard(struct proctable *t, struct proc_row *row);
/* Marks the row ended at end_ns and keeps the table bounded. */
void proctable_end(struct proctable *t, struct proc_row *row, uint64_t end_ns);

/* What a tracked parent's fork event does about the child's pid, given its
 * live row (NULL when none). */
enum fork_action {
	FORK_NEW_ROW,	/* a new row, counted from the fork */
	FORK_END_STALE,	/* the row is an older process's: it ends, then a new row */
	FORK_ADOPT,	/* the scan found the child first: its row becomes the fork */
	FORK_KEEP,	/* the scan found the child running another image: it stays */
};

enum fork_action proctable_fork_action(const struct proc_row *child, const struct proc_row *parent,
				       uint64_t fork_ns);

/* What an exec event does about the pid's live row (NULL when none). */
enum exec_action {
	EXEC_NEW_ROW,	/* the new image gets a row */
	EXEC_END_OLD,	/* the row is the old image (its end event was lost): it ends first */
	EXEC_SEEN,	/* the scan found the new image already: the row is it */
	EXEC_UNFORK,	/* the row took its parent's image at fork, yet the scan found this new one */
};

enum exec_action proctable_exec_action(const struct proc_row *row, uint64_t exec_ns);
/* EXEC_UNFORK: the row is the image exec'd at exec_ns, of a file whose
 * probes went live at attach_ns, not a copy of its parent's. */
void proctable_unfork(struct proc_row *row, uint64_t exec_ns, uint64_t attach_ns);

/* What one look at /proc/PID found, in the order it was read. */
struct scan_facts {
	uint64_t begin_ns;	/* CLOCK_MONOTONIC before anything was read */
	uint64_t ticks_before;	/* start time before and after the maps */
	uint64_t ticks_after;
	struct exe_id exe_before;	/* executable before and after the maps */
	struct exe_id exe_after;
	uint64_t exec_ns;	/* its newest exec event drained after the maps, 0 if none */
	int bin;		/* the interpreter the maps show, < 0 when none */
};

enum scan_action {
	SCAN_SKIP,	/* no CPython, or events made its row meanwhile */
	SCAN_TRACK,	/* a row for the image the maps show, found at begin_ns */
	SCAN_RETRY,	/* an exec or a new process under the pid while the maps were read */
};

/* live: the pid's live row after the look, NULL when none */
enum scan_action proctable_scan_action(const struct scan_facts *f, const struct proc_row *live);

/* One process image as its row remembers it: a new process under a reused
 * pid has another start time, a row made later another found_ns. */
struct row_key {
	pid_t pid;
	uint64_t start_ticks;
	uint64_t found_ns;
};

struct row_key proctable_key(const struct proc_row *row);
/* Ends at now the live rows of the n processes in gone[] (found gone in
 * /proc), keeping in gone[] those it ended, whose BPF entries go too.
 * Returns how many it ended. */
int proctable_end_gone(struct proctable *t, struct row_key *gone, int n, uint64_t end_ns);

#endif /* MMTRACE_PROCTABLE_H */
