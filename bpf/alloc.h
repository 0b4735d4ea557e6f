/* SPDX-License-Identifier: MIT */
/*
 * ABI shared by alloc.bpf.c and user space: the exact allocation level
 * (--alloc=exact), which probes every call of the allocator's three
 * domains, and per-type deallocation counts.
 */
#ifndef MMTRACE_ALLOC_H
#define MMTRACE_ALLOC_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#include "gc.h"	/* MMTRACE_HIST_SLOTS */

enum alloc_domain {
	DOMAIN_RAW = 0,		/* PyMem_Raw*: the C library's malloc */
	DOMAIN_MEM = 1,		/* PyMem_*: pymalloc */
	DOMAIN_OBJ = 2,		/* PyObject_*: pymalloc */
	ALLOC_DOMAINS = 3,
};

enum alloc_call {
	CALL_MALLOC = 0,
	CALL_CALLOC = 1,
	CALL_REALLOC = 2,
	CALL_FREE = 3,
	ALLOC_CALLS = 4,
};

/* A site's BPF cookie says which function fired: domain | call << 8, and
 * (sampled stacks) the site's index in exact_sites << 16. */
#define ALLOC_COOKIE(domain, call) ((__u64)(domain) | ((__u64)(call) << 8))
#define ALLOC_COOKIE_DOMAIN(c) ((__u32)((c) & 0xff))
#define ALLOC_COOKIE_CALL(c) ((__u32)(((c) >> 8) & 0xff))
#define ALLOC_COOKIE_SITE(c) ((__u32)(((c) >> 16) & 0xffff))
#define MMTRACE_EXACT_SITES 64

/* Where a sampled stack starts: the probe address -> &_PyRuntime, and how
 * to walk the frames. Index 0 is unused (no stacks at the site). */
struct exact_site {
	__s64 runtime_delta;
	struct py_stack_layout stack;
};

/* pymalloc serves requests of 1..512 bytes in 16-byte size classes (3.8+);
 * 0 and larger requests fall back to the raw domain */
#define MMTRACE_SMALL_REQUEST 512
#define MMTRACE_SMALL_CLASSES 32
#define MMTRACE_TYPE_NAME_LEN 48

struct alloc_domain_stats {
	__u64 calls[ALLOC_CALLS];
	__u64 bytes_requested;	/* malloc size, calloc nelem * elsize, realloc's new size */
	__u64 blocks_allocated;	/* non-NULL results, realloc's new block included */
	__u64 blocks_freed;	/* non-NULL frees, realloc's old block included */
	__u64 bytes_freed;	/* of freed blocks allocated while traced (size known) */
	__u64 freed_unknown;	/* freed blocks allocated before tracing began */
	__s64 live_bytes;	/* allocated while traced and not yet freed */
	__u64 failed;		/* NULL results */
	/* obj and mem requests that pymalloc hands to the raw domain (size 0
	 * or over 512): counted here once, never again under raw */
	__u64 fallback_calls;
	__u64 fallback_bytes;
	__u64 size_hist[MMTRACE_HIST_SLOTS];		/* log2 of requested bytes */
	__u64 small_class[MMTRACE_SMALL_CLASSES];	/* requests per pymalloc size class */
};

struct alloc_exact_stats {
	struct alloc_domain_stats d[ALLOC_DOMAINS];
	__u64 lifetime_hist[MMTRACE_HIST_SLOTS];	/* obj domain: log2 ns from allocation to free */
	__u64 untracked;	/* allocations not remembered: the block map was full */
	__u64 unmatched;	/* returns without their entry, or nesting deeper than tracked */
	__u64 type_allocs;	/* objects allocated through type-aware functions, all types */
	__u64 deallocs;		/* objects deallocated, all types */
	__u64 weakref_clears;	/* PyObject_ClearWeakRefs calls, all types */
	__u64 types_dropped;	/* type map full: counted in the totals only */
};

struct type_key {
	__u32 tgid;
	__u32 pad;
	__u64 type;		/* PyTypeObject * in the target */
};

struct type_counts {
	__u64 allocs;		/* through the type-aware allocation functions */
	__u64 deallocs;
	__u64 weakref_clears;
	char name[MMTRACE_TYPE_NAME_LEN];	/* tp_name, read once */
};

#endif /* MMTRACE_ALLOC_H */
