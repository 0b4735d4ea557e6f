/* SPDX-License-Identifier: MIT */
/* plan: which probe point serves each metric, and how exactly. */
#ifndef MMTRACE_PLAN_H
#define MMTRACE_PLAN_H

#include <linux/types.h>
#include "gc.h"
#include "resolve.h"

enum coverage { COV_EXACT, COV_PARTIAL, COV_UNAVAILABLE };
enum site_kind { SITE_UPROBE, SITE_URETPROBE, SITE_USDT };
enum gc_metric {
	M_COLLECTIONS, M_COLLECTED, M_UNCOLLECTABLE, M_PAUSE,	/* GC */
	M_ARENAS, M_POOLS,					/* --alloc=growth */
	M_ALLOC_RAW, M_ALLOC_MEM, M_ALLOC_OBJ, M_TYPES, M_WEAKREFS, M_TYPE_ALLOCS,	/* --alloc=exact */
	M_STACKS,							/* --stacks, --folded */
	M__COUNT
};

/* GC: begin and end per collector copy; growth: 2 per arena allocator copy,
 * 1 per arena release and pool refill copy */
#define PLAN_MAX_SITES (6 * RESOLVE_MAX_COLLECTORS + 2 * API__COUNT + RESOLVE_MAX_COLLECTORS)

struct plan_site {
	enum site_kind kind;
	enum gc_role role;
	struct code_site at;
	struct gc_site cfg;
	__u64 cookie;		/* exact-level sites: ALLOC_COOKIE(domain, call) */
};

struct metric_plan {
	enum coverage cov;
	char reason[512];
};

/* "polled": no probe point; the interpreter's own counters are read from
 * its memory at each report (gcpoll.c), by the chain of poll_cfg from
 * &_PyRuntime (runtime_delta 0) */
struct probe_plan {
	const char *method;	/* "usdt", "uprobe", "polled" or "none" */
	bool polled;
	bool poll_durations;	/* 3.15: the ring's cumulative duration per generation */
	struct gc_site poll_cfg;
	/* arenas counted at the process's own mmap/munmap of this size (its
	 * build hides the arena functions); 0: not so */
	__u64 mmap_arena_size;
	struct plan_site sites[PLAN_MAX_SITES];
	int nsites;
	struct metric_plan metrics[M__COUNT];
};

struct plan_opts {
	bool no_usdt;		/* use the collector's symbols even where USDT exists */
	bool allow_poll;	/* no probe point: read the counters from outside (-p) */
	bool force_poll;	/* --poll: read them from outside even where a probe point exists */
	bool alloc_growth;	/* --alloc=growth: probe pymalloc's slow paths */
	bool alloc_exact;	/* --alloc=exact: every allocator call, and deallocations */
	bool stacks;		/* Python stacks at collections and growth events */
	__u64 sample_bytes;	/* --alloc=exact: a stack per this many bytes, 0: none */
	bool mmap_arenas;	/* arenas by mmap/munmap where symbols lack (per process: not system-wide) */
};

/* Returns 0 with sites planned, or -ENOENT when no GC probe point exists
 * (the metrics then say why). */
int plan_gc(const struct python_binary *pb, const struct plan_opts *o, struct probe_plan *plan);

/* Adds the allocator-growth sites (--alloc=growth) after plan_gc; the
 * metrics say what is exact and why not. */
void plan_alloc(const struct python_binary *pb, const struct plan_opts *o, struct probe_plan *plan);

/* Adds the exact-level sites (--alloc=exact): every allocator call of the
 * three domains, deallocations per type and weak reference clearing. */
void plan_exact(const struct python_binary *pb, const struct plan_opts *o, struct probe_plan *plan);

/* Shared by the planners */
void plan_add_site(struct probe_plan *p, enum site_kind kind, enum gc_role role, const struct code_site *at,
		   const struct gc_site *cfg);
void plan_set_metric(struct probe_plan *p, enum gc_metric m, enum coverage cov, const char *reason);

/* Every plan of a file: GC (its result is returned) and allocator growth. */
int plan_file(const struct python_binary *pb, const struct plan_opts *o, struct probe_plan *plan);

const char *coverage_name(enum coverage c);
const char *metric_name(enum gc_metric m);
const char *site_kind_name(enum site_kind k);
const char *role_name(enum gc_role r);

#endif /* MMTRACE_PLAN_H */
