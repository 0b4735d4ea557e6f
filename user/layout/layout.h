/* SPDX-License-Identifier: MIT */
/* Per-version CPython layouts needed to reach the GC's own statistics. */
#ifndef MMTRACE_LAYOUT_H
#define MMTRACE_LAYOUT_H

#include <stdbool.h>
#include <stdint.h>

/* pymalloc's slow paths (allocator growth): the same from 3.12 to 3.15 */
struct growth_layout {
	const char *arena_alloc;	 /* (ctx, size) -> arena, via _PyObject_Arena.alloc */
	const char *arena_free;		 /* (ctx, ptr, size) */
	const char *pool_new;		 /* takes a pool for a size class; NULL when inlined */
	int pool_size_arg;		 /* which argument is the size class */
	uint64_t arena_size;		 /* ARENA_SIZE */
	uint64_t pool_size;		 /* POOL_SIZE */
};

struct cpython_layout {
	int major, minor;
	/* static function that runs one collection and updates generation_stats */
	const char *collector;
	/* its first argument is a PyThreadState * (false in 3.8: gcstate) */
	bool collector_takes_tstate;
	uint64_t runtime_interp_main;	 /* _PyRuntime.interpreters.main */
	uint64_t runtime_tstate_current; /* _PyRuntime.gilstate.tstate_current, 0 if TLS */
	uint64_t runtime_gc;		 /* _PyRuntime.gc (3.8 only), else 0 */
	uint64_t tstate_interp;		 /* PyThreadState.interp */
	uint64_t interp_gc;		 /* PyInterpreterState.gc, 0 when in _PyRuntime */
	uint64_t gc_generation_stats;	 /* struct _gc_runtime_state.generation_stats */
	struct growth_layout growth;
	/* heap state read from outside (--heap) */
	uint64_t gc_enabled;		 /* struct _gc_runtime_state.enabled */
	uint64_t gc_generations;	 /* .generations[3]: {PyGC_Head, threshold, count} */
	uint64_t interp_obmalloc;	 /* 3.12+: PyInterpreterState.obmalloc, else 0 (statics) */
	bool obmalloc_is_ptr;		 /* 3.13: a pointer to the state, 3.12: the state */
	uint64_t obmalloc_mgmt;		 /* struct _obmalloc_state.mgmt */
};

/* struct _obmalloc_mgmt (3.12+): fields of the static state 3.8-3.11 had */
#define MGMT_ARENAS 0
#define MGMT_MAXARENAS 8
#define MGMT_NARENAS_CURRENT 552
#define MGMT_NTIMES_ALLOCATED 560
#define MGMT_HIGHWATER 568

/* NULL when mmtrace has no verified layout for this version. */
const struct cpython_layout *layout_for(int major, int minor);
/* The allocator's growth functions and sizes: 3.8-3.13 from their layouts,
 * 3.14 and 3.15 (whose GC offsets come from _Py_DebugOffsets) from their own
 * rows; NULL for any other version. */
const struct growth_layout *growth_layout_for(int major, int minor);

#endif /* MMTRACE_LAYOUT_H */
