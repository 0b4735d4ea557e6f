/* SPDX-License-Identifier: MIT */
/* The stacks' part of a row: the heaviest stacks of its process per metric,
 * as text and JSON. */
#ifndef MMTRACE_PRESENT_STACKS_H
#define MMTRACE_PRESENT_STACKS_H

#include "present.h"

extern const struct row_part present_stacks_part;

#endif /* MMTRACE_PRESENT_STACKS_H */
