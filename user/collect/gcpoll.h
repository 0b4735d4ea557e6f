/* SPDX-License-Identifier: MIT */
/* gcpoll: the GC counters of a process with no probe point, read from its
 * memory (a "polled" plan). */
#ifndef MMTRACE_GCPOLL_H
#define MMTRACE_GCPOLL_H

#include <stdbool.h>
#include <sys/types.h>
#include "events.h"
#include "gc.h"
#include "procmem.h"
#include "plan.h"
#include "resolve.h"

/* One reading of the interpreter's cumulative counters. */
struct gc_poll_read {
	__u64 collections[MMTRACE_GENERATIONS];
	__u64 collected[MMTRACE_GENERATIONS];
	__u64 uncollectable[MMTRACE_GENERATIONS];
	__u64 candidates[MMTRACE_GENERATIONS];	/* 3.15 rings, else 0 */
	double duration_s[MMTRACE_GENERATIONS];	/* 3.15 rings, else 0 */
};

/* The same from any memory (tests, fuzzing): runtime is &_PyRuntime there.
 * 0, or -errno: -EFAULT unreadable, -ENOENT a NULL pointer on the way,
 * -ERANGE a ring index or duration out of range, -EAGAIN never the same
 * reading twice in a row. */
int gc_poll_read_mem(struct mem_reader *r, uint64_t runtime, const struct probe_plan *plan,
		     struct gc_poll_read *out);

/* Reads the counters of pid through plan->poll_cfg: 0, or -errno. */
int gc_poll_read(pid_t pid, const struct python_binary *pb, const struct probe_plan *plan,
		 struct gc_poll_read *out);

/* Where BPF reads a polled process as it exits (struct poll_target). */
struct gc_poll_where {
	uint64_t runtime;	/* &_PyRuntime */
	uint64_t main_static;	/* see struct poll_target; 0 until known, or not so */
};

/* Fills w for pid (the interpreter file mapped): 0, or -errno. main_static
 * stays 0 until the interpreter is initialised: locate again later. */
int gc_poll_locate(pid_t pid, const struct python_binary *pb, const struct probe_plan *plan,
		   struct gc_poll_where *w);

/* The main interpreter's address when main_ptr (interpreters.main, read at
 * the chain's first hop) lies inside _PyRuntime's own storage, as the main
 * interpreter does from 3.12 on, and the stats are inside it; else 0 (heap
 * memory, freed at finalize, or a ring behind another pointer). */
bool gc_poll_may_be_static(const struct python_binary *pb, const struct probe_plan *plan);
uint64_t gc_poll_static_main(const struct python_binary *pb, const struct probe_plan *plan, uint64_t runtime,
			     uint64_t main_ptr);

/* The reading BPF took as the process exited (attacher_poll_at_exit): false
 * when that read failed or holds what no interpreter would. */
bool gc_poll_from_event(const struct probe_plan *plan, const struct mm_poll_final_event *e, struct gc_poll_read *out);

/* out's counters (and pause totals when the plan has durations) = now - base.
 * False, with out untouched, when a counter went backwards (not the same
 * interpreter any more, or a torn read): the caller keeps what it had. */
bool gc_poll_delta(const struct probe_plan *plan, const struct gc_poll_read *now, const struct gc_poll_read *base,
		   struct gc_proc_stats *out);

#endif /* MMTRACE_GCPOLL_H */
