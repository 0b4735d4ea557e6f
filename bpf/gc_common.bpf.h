/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the GC, growth and process-event programs share: one set of maps
 * (each object defines them weak; bpftool's linker makes them one), the
 * configuration user space sets before load, and the per-process counters'
 * and stacks' helpers. Linked into one object, one skeleton (gc.skel.h).
 */
#ifndef MMTRACE_GC_COMMON_BPF_H
#define MMTRACE_GC_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "gc.h"
#include "events.h"
#include "bits.bpf.h"
#include "maps.bpf.h"
#include "pystack.bpf.h"

/* set by user space before load (defined in gc.bpf.c) */
extern const volatile bool system_wide;		/* report execs and forks for discovery */
extern const volatile __u64 min_pause_ns;	/* 0: no per-collection events */
extern const volatile __u32 stack_depth;	/* Python frames per stack; 0: no stacks */

/* what was not counted, by cause (enum mm_drop) */
extern __u64 drops[MM_DROPS];

struct gc_inflight {
	__u64 start_ns;
	__u64 stats_addr;
	__u32 subinterp;	/* collecting a subinterpreter's GC state */
	__u32 unreadable;	/* the begin's read failed and was counted: the end counts nothing */
	struct gc_gen_counts before[MMTRACE_GENERATIONS];
	__s64 cand_before[MMTRACE_GENERATIONS];	/* 3.15 rings only */
};
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MMTRACE_MAX_SITES);
	__type(key, __u32);
	__type(value, struct gc_site);
} sites SEC(".maps") __weak;

/* keyed by thread id: a collection runs on one thread from begin to end */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct gc_inflight);
} inflight SEC(".maps") __weak;

/* keyed by process id (tgid). The hash maps here take memory per entry as
 * it is made (BPF_F_NO_PREALLOC), not their maximum up front: preallocated,
 * this one alone held 14.3 MiB of kernel memory for one -p; a failed
 * insertion is a counted drop either way */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MMTRACE_MAX_PROCS);
	__type(key, __u32);
	__type(value, struct gc_proc_stats);
} proc_stats SEC(".maps") __weak;

/* processes user space tracks, keyed by tgid: their exit must be reported
 * even when they never collected */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MMTRACE_MAX_PROCS);
	__type(key, __u32);
	__type(value, __u32);
} watched SEC(".maps") __weak;

/* processes whose arenas are counted at their mmap/munmap, keyed by tgid */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MMTRACE_MAX_PROCS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct mmap_watch);
} mmap_watch SEC(".maps") __weak;

/* polled processes, keyed by tgid: read once more at their exit */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MMTRACE_MAX_PROCS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct poll_target);
} poll_targets SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps") __weak;

static const struct gc_proc_stats zero_stats;

/* a stack is built here, then sent with only the frames it has */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mm_stack_event);
} stack_scratch SEC(".maps") __weak;

/* the stack of a collection in progress, by thread: sent at its end; not
 * LRU, whose eviction would lose another collection's stack uncounted */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct mm_stack_event);
} gc_stacks SEC(".maps") __weak;

/*
 * Allocator growth: between an arena allocation's entry and its return.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u64);
} arena_pending SEC(".maps") __weak;	/* tid -> requested size, between entry and return */

static inline void drop(enum mm_drop cause)
{
	__sync_fetch_and_add(&drops[cause], 1);
}

/* A process's counters, created at its first count; NULL when a map is
 * full, and *cause says which. */
static inline struct gc_proc_stats *try_stats_of(__u32 tgid, __u32 bin_id, enum mm_drop *cause)
{
	struct gc_proc_stats *s = bpf_map_lookup_elem(&proc_stats, &tgid);

	if (s)
		return s;
	/* watched first: only a watched process's end is claimed and reported
	 * (end_process), so counters without it would never be handed over */
	if (bpf_map_update_elem(&watched, &tgid, &bin_id, BPF_NOEXIST) && !bpf_map_lookup_elem(&watched, &tgid)) {
		*cause = DROP_WATCH_FULL;
		return NULL;
	}
	s = lookup_or_try_init(&proc_stats, &tgid, &zero_stats);
	if (s)
		s->bin_id = bin_id;
	*cause = DROP_TABLE_FULL;
	return s;
}

/* The same where the count that needs them is lost without them. */
static inline struct gc_proc_stats *stats_of(__u32 tgid, __u32 bin_id)
{
	enum mm_drop cause = DROP_TABLE_FULL;
	struct gc_proc_stats *s = try_stats_of(tgid, bin_id, &cause);

	if (!s)
		drop(cause);
	return s;
}

static inline void *reserve(__u64 size)
{
	void *e = bpf_ringbuf_reserve(&events, size, 0);

	if (!e)
		drop(DROP_EVENTS_LOST);
	return e;
}

/* The configuration of the probe site that fired (its BPF cookie). */
static inline struct gc_site *site_of(struct pt_regs *ctx)
{
	__u32 idx = (__u32)bpf_get_attach_cookie(ctx);

	return bpf_map_lookup_elem(&sites, &idx);
}

static inline bool stacks_at(const struct gc_site *site)
{
	return stack_depth && site->stack_runtime_delta && site->stack.kind != STACK_NONE;
}

static inline void send_stack(struct mm_stack_event *e)
{
	if (!stack_output(&events, e))
		drop(DROP_EVENTS_LOST);
}

/* The stack of the current thread into e (its header set here). */
static inline void fill_stack(struct pt_regs *ctx, const struct gc_site *site, __u32 metric, __u64 weight,
		       struct mm_stack_event *e)
{
	__u64 id = bpf_get_current_pid_tgid();

	e->kind = MM_EV_STACK;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->metric = metric;
	e->generation = 0;
	e->bin_id = site->bin_id;
	e->weight = weight;
	e->pause_ns = 0;
	walk_python_stack(PT_REGS_IP(ctx) + site->stack_runtime_delta, &site->stack, stack_depth, e);
}

#endif /* MMTRACE_GC_COMMON_BPF_H */
