/* SPDX-License-Identifier: MIT */
/* stack_layout: per-version offsets for walking Python frames (BPF) and
 * for reading code objects (user space). */
#ifndef MMTRACE_STACK_LAYOUT_H
#define MMTRACE_STACK_LAYOUT_H

#include <stdint.h>
#include "gc.h"

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

/* NULL when the version has no verified layout. */
const struct py_stack_layout *stack_layout_for(int major, int minor);
const struct code_layout *code_layout_for(int major, int minor);

#endif /* MMTRACE_STACK_LAYOUT_H */
