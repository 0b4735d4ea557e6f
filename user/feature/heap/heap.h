/* SPDX-License-Identifier: MIT */
/*
 * heap: pymalloc's arenas, pools and size classes, and the GC's generation
 * state, read from outside through a mem_reader. Every pointer read from the
 * target is checked before use, and every loop has a hard bound, so a
 * hostile or corrupted image ends in an error, never in a crash or a hang.
 */
#ifndef MMTRACE_HEAP_H
#define MMTRACE_HEAP_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include "procmem.h"

#define HEAP_CLASSES 32			/* 512 bytes in 16-byte classes (3.8+, 64-bit) */
#define HEAP_MAX_ARENAS (1u << 20)	/* 1 TiB of 1 MiB arenas */
#define HEAP_GENERATIONS 3
#define HEAP_CHAIN_MAX 3
#define HEAP_GC_WALKED 2		/* generations whose object lists are walked */
#define HEAP_GC_LIST_MAX 65536	/* objects followed per list */

/*
 * 3.15 (GIL builds): struct gc_stats, the interpreter's own per-generation
 * statistics, a ring of 64-byte records per generation: young
 * {items[11]; int8 index} then old[2] {items[3]; int8 index}, each record
 * holding cumulative totals, the newest at the buffer's index. Its size is
 * _Py_DebugOffsets.gc.generation_stats_size: at least these buffers (3.15.2
 * adds a sequence word after them), never more than HEAP_RING_MAX.
 */
#define HEAP_RING_REC 64
#define HEAP_RING_YOUNG_ITEMS 11
#define HEAP_RING_OLD_ITEMS 3
#define HEAP_RING_YOUNG_INDEX (HEAP_RING_YOUNG_ITEMS * HEAP_RING_REC)		/* 704 */
#define HEAP_RING_OLD_BUF (HEAP_RING_OLD_ITEMS * HEAP_RING_REC + 8)		/* 200 */
#define HEAP_RING_OLD (HEAP_RING_YOUNG_INDEX + 8)				/* 712 */
#define HEAP_RING_MIN (HEAP_RING_OLD + 2 * HEAP_RING_OLD_BUF)			/* 1112 */
#define HEAP_RING_MAX 4096

/* gc.get_stats()[g] as 3.15 computes it: the newest record's totals */
struct heap_gc_totals {
	int64_t collections, collected, uncollectable, candidates;
	double duration;	/* seconds, as the interpreter stored it */
};

/* base + off[0] -> deref -> + off[1] -> deref ... + last */
struct heap_chain {
	uint64_t base;
	int nderef;
	uint64_t off[HEAP_CHAIN_MAX];	/* added before each dereference */
	uint64_t last;			/* added after the last one */
};

/* Where pymalloc's state lives in one process: its fields as absolute
 * addresses (3.8-3.11 statics) or as offsets from one struct (3.12+). */
struct heap_layout {
	bool pymalloc;			/* false: the build hides it (why says so) */
	struct heap_chain mgmt;		/* 3.12+: &interp->obmalloc.mgmt, or 0 chain */
	uint64_t arenas, maxarenas, narenas_current, ntimes_allocated, highwater;	/* absolute or mgmt offsets */
	bool fields_are_offsets;
	uint64_t pool_size, arena_size;
	bool gc;
	struct heap_chain gcstate;	/* &gcstate */
	uint64_t gc_enabled_off, gc_generations_off;
	/* 3.15: gcstate + gc_ring_ptr_off holds a pointer to gc_ring_size bytes */
	bool gc_ring;
	uint64_t gc_ring_ptr_off, gc_ring_size;
	char pymalloc_source[160];
	const char *gc_source;
	char gc_ring_why[160];		/* why there is no ring, when there is none */
	char offsets_source[PATH_MAX + 80];	/* DWARF of a file, or mmtrace's table */
	char why[256];
};

struct heap_class {
	uint64_t pools, blocks_in_use, free_blocks;
};

struct heap_snapshot {
	/* pymalloc */
	bool pymalloc_ok;
	uint64_t arenas_total, arenas_current, arenas_highwater, arenas_walked;
	uint64_t pools_used, pools_free;
	struct heap_class classes[HEAP_CLASSES];
	uint64_t bytes_in_use, bytes_in_pools, bytes_in_arenas;
	bool consistent;	/* two walks agreed: the heap did not change meanwhile */
	/* GC */
	bool gc_ok;
	bool gc_enabled;
	int32_t threshold[HEAP_GENERATIONS], count[HEAP_GENERATIONS];
	/* objects in the young generations' lists (the oldest is not walked:
	 * one read per object); -1 when not known (unreadable or over the bound) */
	int64_t objects[HEAP_GENERATIONS];
	/* 3.15's ring: ring_ok when read and valid; ring_consistent when two
	 * reads of it agreed (no collection finished between them) */
	bool ring_ok, ring_consistent;
	struct heap_gc_totals ring[HEAP_GENERATIONS];
	char ring_why[160];
	char why[256];		/* the first failure, when a part is not ok */
};

/* Fills s; the parts that cannot be read say why. */
void heap_snapshot(const struct mem_reader *r, const struct heap_layout *l, struct heap_snapshot *s);
/* Parses a struct gc_stats (len bytes, as read from the target) into
 * gc.get_stats()'s figures: 0, or -EINVAL with why set when an index is out
 * of its buffer or a total is negative or not a finite number. */
int heap_parse_gc_ring(const void *buf, size_t len, struct heap_gc_totals out[HEAP_GENERATIONS], char *why,
		       size_t whylen);
/* Block size of a size class (16-byte alignment). */
static inline uint64_t heap_class_size(int c)
{
	return (uint64_t)(c + 1) * 16;
}

#endif /* MMTRACE_HEAP_H */
