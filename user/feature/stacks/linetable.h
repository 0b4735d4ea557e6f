/* SPDX-License-Identifier: MIT */
/* linetable: the source line of an instruction, from a code object's line
 * table as the target holds it (untrusted bytes: every read is bounded). */
#ifndef MMTRACE_LINETABLE_H
#define MMTRACE_LINETABLE_H

#include <stddef.h>
#include <stdint.h>
#include "stack_layout.h"

/* lasti: a byte offset (3.8-3.9, 3.11+) or an instruction index (3.10),
 * as the BPF walker records it. Returns the line, or -1 when the table has
 * none for that instruction. */
int code_line(enum line_table_kind kind, const uint8_t *table, size_t len, int firstlineno, uint64_t lasti);

#endif /* MMTRACE_LINETABLE_H */
