// SPDX-License-Identifier: MIT
/*
 * Offsets read with gdb (ptype /o) from the DWARF of the pyenv builds (3.8.18, 3.9.18,
 * 3.10.13, 3.11.7, 3.12.1, 3.13.0) and confirmed end to end by the test
 * suite, which compares mmtrace's counts with gc.get_stats() on each of them
 * and on Debian's 3.11.2. These structs are stable within a minor version.
 */
#include <stddef.h>
#include "layout.h"

#define KIB 1024ull
/* 3.8-3.9: 256 KiB arenas of 4 KiB pools; 3.10+ on 64-bit: 1 MiB and 16 KiB */
#define MMAP_OLD "_PyObject_ArenaMmap", "_PyObject_ArenaMunmap"
#define MMAP_NEW "_PyMem_ArenaAlloc", "_PyMem_ArenaFree"
/* pymalloc's growth functions (struct growth_layout): allocate_from_new_pool
 * since 3.9, its size class the second argument since 3.12 (the state first) */
#define GROWTH_38 { MMAP_OLD, NULL, 0, 256 * KIB, 4 * KIB }
#define GROWTH_39 { MMAP_OLD, "allocate_from_new_pool", 0, 256 * KIB, 4 * KIB }
#define GROWTH_310 { MMAP_OLD, "allocate_from_new_pool", 0, 1024 * KIB, 16 * KIB }
#define GROWTH_312 { MMAP_NEW, "allocate_from_new_pool", 1, 1024 * KIB, 16 * KIB }
/* gcstate.enabled and gcstate.generations: the same 3.8-3.13 */
#define GC_HEAP 12, 24

static const struct cpython_layout layouts[] = {
	{ 3, 8, "collect", false, 40, 1368, 344, 16, 0, 128, GROWTH_38, GC_HEAP, 0, 0, 0 },
	{ 3, 9, "collect", true, 40, 568, 0, 16, 616, 128, GROWTH_39, GC_HEAP, 0, 0, 0 },
	{ 3, 10, "gc_collect_main", true, 40, 568, 0, 16, 616, 128, GROWTH_310, GC_HEAP, 0, 0, 0 },
	{ 3, 11, "gc_collect_main", true, 48, 576, 0, 16, 648, 128, GROWTH_310, GC_HEAP, 0, 0, 0 },
	{ 3, 12, "gc_collect_main", true, 48, 0, 0, 16, 112, 128, GROWTH_312, GC_HEAP, 3960, false, 512 },
	{ 3, 13, "gc_collect_main", true, 640, 0, 0, 16, 7400, 128, GROWTH_312, GC_HEAP, 10800, true, 512 },
};

/* 3.14 and 3.15: the obmalloc of 3.13 (signatures and sizes read from the
 * DWARF of sid's 3.14.10 and 3.15.2 debug files; sizes confirmed by --heap
 * against sys._debugmallocstats() on them) */
static const struct {
	int major, minor;
	struct growth_layout growth;
} newer[] = {
	{ 3, 14, GROWTH_312 },
	{ 3, 15, GROWTH_312 },
};

const struct growth_layout *growth_layout_for(int major, int minor)
{
	const struct cpython_layout *l = layout_for(major, minor);
	size_t i;

	if (l)
		return &l->growth;
	for (i = 0; i < sizeof(newer) / sizeof(newer[0]); i++)
		if (newer[i].major == major && newer[i].minor == minor)
			return &newer[i].growth;
	return NULL;
}

const struct cpython_layout *layout_for(int major, int minor)
{
	size_t i;

	for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		if (layouts[i].major == major && layouts[i].minor == minor)
			return &layouts[i];
	return NULL;
}
