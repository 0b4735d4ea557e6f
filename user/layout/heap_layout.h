/* SPDX-License-Identifier: MIT */
/* heap_layout: where one process's pymalloc and GC state are, from the
 * interpreter file's symbols, _Py_DebugOffsets (3.13+) and built-in tables. */
#ifndef MMTRACE_HEAP_LAYOUT_H
#define MMTRACE_HEAP_LAYOUT_H

#include "dwarf_layout.h"
#include "heap.h"
#include "procmem.h"
#include "resolve.h"

/* The load bias of the interpreter file in the process: 0, or -ENOENT. */
int interp_load_bias(const struct python_binary *pb, const struct procmem *pm, uint64_t *bias);

/* A binary's DWARF offsets, read once (tens of ms for a libpython). */
struct dwarf_cache {
	bool done;
	int rc;
	struct dwarf_offsets d;
};

/* 0, or -errno with why set (no verified layout, file not mapped). */
int heap_layout_for(const struct python_binary *pb, const struct procmem *pm, struct dwarf_cache *dc,
		    struct heap_layout *hl, char *why, size_t len);

#endif /* MMTRACE_HEAP_LAYOUT_H */
