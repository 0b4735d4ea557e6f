/* SPDX-License-Identifier: MIT */
/* collect: read per-process counters out of the BPF maps and the events out
 * of the ring buffer. */
#ifndef MMTRACE_COLLECT_H
#define MMTRACE_COLLECT_H

#include <linux/types.h>
#include <sys/types.h>
#include "events.h"
#include "gc.h"

struct ring_buffer;

struct collect_handlers {
	void *ctx;
	void (*on_exec)(void *ctx, const struct mm_exec_event *e);
	void (*on_end)(void *ctx, const struct mm_end_event *e);
	void (*on_pause)(void *ctx, const struct mm_pause_event *e);
	void (*on_fork)(void *ctx, const struct mm_fork_event *e);
	void (*on_stack)(void *ctx, const struct mm_stack_event *e);
	void (*on_poll_final)(void *ctx, const struct mm_poll_final_event *e);
};

struct collector {
	struct ring_buffer *rb;
	struct mm_stack_event stack_buf;	/* a stack record, completed to a whole event */
	struct collect_handlers h;
	int stats_fd;
	int watched_fd;
};

struct map_usage {
	__u32 proc_stats;	/* entries in use */
	__u32 watched;
	__u32 max;		/* MMTRACE_MAX_PROCS */
};

int collector_open(struct collector *c, int events_fd, int stats_fd, int watched_fd,
		   const struct collect_handlers *h);
/* Another ring buffer of the same records (the exact level's samples). */
int collector_add_ring(struct collector *c, int fd);
/* pollable descriptor that is readable when events wait */
int collector_fd(const struct collector *c);
/* runs the handlers for every waiting event; 0 or -errno */
int collector_drain(struct collector *c);
void collector_close(struct collector *c);

/* A process's counters: 0, or -ENOENT (out untouched) when the map has no
 * entry (it has not reached a probe yet, or it just ended). */
int collect_gc_entry(int stats_fd, pid_t pid, struct gc_proc_stats *out);
/* out = now - before, field by field; pause_ns_max[g] > 0 when it rose. */
void gc_stats_delta(struct gc_proc_stats *out, const struct gc_proc_stats *now, const struct gc_proc_stats *before);
/* Asks BPF to report the exit of pid even if it never collects. */
int collect_watch(const struct collector *c, pid_t pid, __u32 bin_id);
/* Drops both map entries of a process mmtrace saw end without an event. */
void collect_forget(const struct collector *c, pid_t pid);
void collect_map_usage(const struct collector *c, struct map_usage *u);

/* Sums over generations. */
__u64 gc_sum(const __u64 per_gen[MMTRACE_GENERATIONS]);

#endif /* MMTRACE_COLLECT_H */
