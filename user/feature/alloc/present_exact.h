/* SPDX-License-Identifier: MIT */
/* --alloc=exact's part of a row: per-domain and per-type tables, their
 * histograms, and its JSON object. */
#ifndef MMTRACE_PRESENT_EXACT_H
#define MMTRACE_PRESENT_EXACT_H

#include "present.h"

extern const struct row_part present_exact_part;

#endif /* MMTRACE_PRESENT_EXACT_H */
