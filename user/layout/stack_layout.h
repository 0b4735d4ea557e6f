/* SPDX-License-Identifier: MIT */
/* stack_layout: per-version offsets for walking Python frames (BPF) and
 * for reading code objects (user space). */
#ifndef MMTRACE_STACK_LAYOUT_H
#define MMTRACE_STACK_LAYOUT_H

#include <stdint.h>
#include "gc.h"
#include "pyoffsets.h"

enum line_table_kind {
	LINES_LNOTAB = 1,	/* 3.8-3.9: co_lnotab, byte offsets */
	LINES_LINETABLE = 2,	/* 3.10: co_linetable, (start delta, line delta) pairs */
	LINES_LOCATIONS = 3,	/* 3.11+: PEP 657 location table, code units */
};

struct code_layout {
	uint64_t filename, name, firstlineno, linetable;	/* PyCodeObject fields */
	enum line_table_kind lines;
	uint64_t ascii_data;	/* sizeof(PyASCIIObject): where compact ASCII text starts */
};

/* NULL when the version has no verified layout (mmtrace's tables, 3.8-3.13). */
const struct py_stack_layout *stack_layout_for(int major, int minor);
const struct code_layout *code_layout_for(int major, int minor);

struct python_binary;

/*
 * The layouts for one interpreter file: from its own _Py_DebugOffsets when
 * it has every field the walk and the symboliser need (3.13+), else from
 * the tables. Returns where they came from: OFF_DEBUG_OFFSETS, OFF_TABLE,
 * or OFF_NONE (no layout; stack and code untouched). Either may be NULL.
 */
enum pyoff_source stack_layouts_of(const struct python_binary *pb, struct py_stack_layout *stack, struct code_layout *code);

#endif /* MMTRACE_STACK_LAYOUT_H */
