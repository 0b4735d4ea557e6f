/* SPDX-License-Identifier: MIT */
/* dwarf_layout: the struct offsets --heap needs, from an interpreter's DWARF
 * (the binary's own, or its debug file), where it has them. */
#ifndef MMTRACE_DWARF_LAYOUT_H
#define MMTRACE_DWARF_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum dwarf_field {
	DW_RUNTIME_INTERP_MAIN,	/* pyruntimestate.interpreters.main */
	DW_RUNTIME_GC,		/* pyruntimestate.gc (3.8) */
	DW_INTERP_GC,		/* _is.gc (3.9+) */
	DW_INTERP_OBMALLOC,	/* _is.obmalloc (3.12+) */
	DW_OBMALLOC_MGMT,	/* _obmalloc_state.mgmt */
	DW_GC_ENABLED,		/* _gc_runtime_state.enabled */
	DW_GC_GENERATIONS,	/* _gc_runtime_state.generations */
	DW_MGMT_ARENAS, DW_MGMT_MAXARENAS, DW_MGMT_NARENAS_CURRENT, DW_MGMT_NTIMES, DW_MGMT_HIGHWATER,
	DW__COUNT,
};

struct dwarf_offsets {
	uint64_t off[DW__COUNT];
	bool found[DW__COUNT];
	bool obmalloc_is_ptr;	/* _is.obmalloc is a pointer (3.13) */
};

/* 0 when the file has DWARF (some fields may still be missing), else -errno.
 * want: the fields (1 << enum dwarf_field) the caller needs; the walk ends
 * once they are all found (others found by then are filled in too). */
#define DW_ALL ((1u << DW__COUNT) - 1)
int dwarf_heap_offsets(const char *path, uint32_t want, struct dwarf_offsets *out);

/* One question to a file's DWARF: the offset of a path of members inside a
 * struct named by its tag or a typedef, or, with no members, its size. */
#define DWARF_QUERY_DEPTH 3
struct dwarf_query {
	const char *type;
	const char *members[DWARF_QUERY_DEPTH];	/* NULL after the last */
	uint64_t value;
	bool found;
};

/* Answers n queries in one pass over the file's units: 0 when the file has
 * DWARF (each query says whether it was found), else -errno. */
int dwarf_query_file(const char *path, struct dwarf_query *q, size_t n);

#endif /* MMTRACE_DWARF_LAYOUT_H */
