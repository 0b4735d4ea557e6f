/* SPDX-License-Identifier: MIT */
/*
 * ABI shared by gc.bpf.c and user space: probe-site configuration written by
 * the planner, and per-process GC counters read by the collector.
 */
#ifndef MMTRACE_GC_H
#define MMTRACE_GC_H

#ifndef __bpf__
#include <linux/types.h>	/* BPF side gets these from vmlinux.h */
#endif
#include "stack.h"

#define MMTRACE_GENERATIONS 3
/* log2 buckets of pause in ns: slot i holds [2^i, 2^(i+1)); 2^39 ns ~ 9 min */
#define MMTRACE_HIST_SLOTS 40
/* sites of all attached binaries: 2 for USDT, 2 per collector clone */
#define MMTRACE_MAX_SITES 1024
/* processes tracked at once; entries go when a process exits or execs */
#define MMTRACE_MAX_PROCS 8192
#define MMTRACE_CHAIN_MAX 3
/* pymalloc size classes: 512 bytes / 16-byte alignment = 32; room for 8-byte alignment */
#define MMTRACE_SIZE_CLASSES 64

/* Where the pointer chain that leads to generation_stats starts. */
enum gc_base {
	/* First argument of the probed function (the collector's tstate). */
	GC_BASE_ARG0 = 0,
	/* _PyRuntime, found as probe address + runtime_delta. */
	GC_BASE_RUNTIME = 1,
};

/* What a probe site does when it fires. */
enum gc_role {
	GC_ROLE_BEGIN = 0,
	GC_ROLE_END = 1,
	/* allocator growth: pymalloc's slow paths */
	ROLE_ARENA_ALLOC = 2,		/* entry of the arena allocator: remembers the size */
	ROLE_ARENA_ALLOC_RET = 3,	/* its return: an arena when not NULL */
	ROLE_ARENA_FREE = 4,
	ROLE_POOL_NEW = 5,		/* a pool taken for a size class */
	/* --alloc=exact (alloc.bpf.c; the cookie says domain and call) */
	ROLE_ALLOC_ENTER = 6,
	ROLE_ALLOC_RETURN = 7,
	ROLE_ALLOC_FREE = 8,
	ROLE_DEALLOC = 9,		/* an object's deallocation: counted per type */
	ROLE_WEAKREF_CLEAR = 10,
	ROLE_TYPE_ALLOC = 11,		/* an allocation whose first argument is the type */
};

/*
 * One attached probe site, indexed by the BPF cookie of its link.
 * stats = deref(...deref(base + deref_off[0]) ... + deref_off[n-1]) + stats_off
 */
struct gc_site {
	__u32 base;	/* enum gc_base */
	__u32 nderef;	/* number of pointer hops, <= MMTRACE_CHAIN_MAX */
	__u32 bin_id;	/* user space's index of the interpreter file */
	/* begin sites of 3.9+: tell the main interpreter's collections from
	 * subinterpreters' (each has its own GC state and gc.get_stats()) */
	__u32 split_main;
	__s64 runtime_delta;
	__u64 deref_off[MMTRACE_CHAIN_MAX];
	__u64 stats_off;
	__s64 main_runtime_delta;	/* probe address -> &_PyRuntime */
	__u64 main_interp_off;		/* _PyRuntime.interpreters.main */
	__u64 main_stats_off;		/* PyInterpreterState -> generation_stats */
	/* allocator sites: which argument holds the size (or size class), and
	 * ARENA_SIZE, the only size that is an arena (3.11+ also route
	 * interpreter data-stack chunks through the arena allocator) */
	__u32 arg_index;
	__u32 main_stats_deref;	/* 3.15: main_stats_off holds a pointer to the stats */
	__u64 arena_size;
	/* stacks: probe address -> &_PyRuntime (0: no stacks at this site) */
	__s64 stack_runtime_delta;
	__u64 pool_size;
	struct py_stack_layout stack;
	/* 3.15: the address is a struct gc_stats, one ring of cumulative
	 * records per generation; the newest is items[index] (ring = 0: three
	 * struct gc_gen_counts in a row, 3.8-3.14) */
	__u32 ring;
	__u32 ring_len[MMTRACE_GENERATIONS];	/* items per buffer */
	__u64 ring_buf[MMTRACE_GENERATIONS];	/* buffer offsets in struct gc_stats */
	__u64 ring_index[MMTRACE_GENERATIONS];	/* int8_t index, within its buffer */
	__u64 ring_rec;				/* sizeof(struct gc_generation_stats) */
	__u64 ring_counts;			/* its collections, collected, uncollectable, candidates */
};

/* pymalloc's growth, per process */
struct alloc_growth {
	__u64 arenas_allocated;
	__u64 arenas_freed;
	__u64 arena_alloc_failed;	/* the arena allocator returned NULL */
	__u64 pools_acquired[MMTRACE_SIZE_CLASSES];
};

/* CPython's struct gc_generation_stats (Py_ssize_t fields), 3.8 to 3.13. */
struct gc_gen_counts {
	__s64 collections;
	__s64 collected;
	__s64 uncollectable;
};

/* Per-process GC counters, cumulative since attach. */
struct gc_proc_stats {
	__u64 collections[MMTRACE_GENERATIONS];
	__u64 collected[MMTRACE_GENERATIONS];
	__u64 uncollectable[MMTRACE_GENERATIONS];
	__u64 pause_ns_total[MMTRACE_GENERATIONS];
	__u64 pause_ns_max[MMTRACE_GENERATIONS];
	__u64 pause_hist[MMTRACE_GENERATIONS][MMTRACE_HIST_SLOTS];
	/* collector calls whose interpreter state could not be read */
	__u64 read_errors;
	/* collector calls that returned without collecting (3.13 early exits) */
	__u64 empty_calls;
	/* ends seen without a begin (attached in the middle of a collection) */
	__u64 unmatched_ends;
	/* the interpreter file whose probes counted this process (gc_site.bin_id) */
	__u32 bin_id;
	/* begins that found inflight full, already counted as dropped: their
	 * ends find no begin and are not counted again as unmatched */
	__u32 begins_unrecorded;
	/* Collections of subinterpreters, kept apart so that the fields above
	 * are the main interpreter's, which its gc.get_stats() reports. */
	__u64 sub_collections[MMTRACE_GENERATIONS];
	__u64 sub_collected[MMTRACE_GENERATIONS];
	__u64 sub_uncollectable[MMTRACE_GENERATIONS];
	__u64 sub_pause_ns_total;
	/* 3.15+: the objects the collections examined (gc.get_stats()'s
	 * "candidates"), from the ring records; 0 before 3.15 */
	__u64 candidates[MMTRACE_GENERATIONS];
	struct alloc_growth growth;
};

#endif /* MMTRACE_GC_H */
