/* SPDX-License-Identifier: MIT */
/* pyoffsets_dwarf: where the DWARF of a debug file has each value of
 * _Py_DebugOffsets, and the cross-check of the two that --probes prints. */
#ifndef MMTRACE_PYOFFSETS_DWARF_H
#define MMTRACE_PYOFFSETS_DWARF_H

#include <stddef.h>
#include "dwarf_layout.h"
#include "pyoffsets.h"

/* q asks DWARF for field f: a member path in CPython's struct, or (no
 * members) the struct's size. */
void pyoff_dwarf_query(enum pyoff_field f, struct dwarf_query *q);

struct pyoff_check {
	int agree, differ, not_in_dwarf;
	enum pyoff_field first_differ;	/* valid when differ > 0 */
	uint64_t dwarf_value;		/* DWARF's value of first_differ */
};

/* Every offset o took from _Py_DebugOffsets against the DWARF of path: 0
 * (out filled), or -errno when the file has no DWARF. */
int pyoff_crosscheck(const struct py_offsets *o, const char *path, struct pyoff_check *out);

/* out as one line for --probes: what agrees, and the first difference. */
void pyoff_check_str(const struct py_offsets *o, const struct pyoff_check *c, char *buf, size_t len);

struct python_binary;

/* One line for --probes: where pb's CPython offsets come from and, when a
 * DWARF is at hand (its debug file, or the file itself unstripped), how
 * they compare with it. */
void pyoff_describe(const struct python_binary *pb, char *buf, size_t len);

#endif /* MMTRACE_PYOFFSETS_DWARF_H */
