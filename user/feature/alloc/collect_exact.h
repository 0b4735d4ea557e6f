/* SPDX-License-Identifier: MIT */
/* collect_exact: the --alloc=exact figures of one process out of the maps. */
#ifndef MMTRACE_COLLECT_EXACT_H
#define MMTRACE_COLLECT_EXACT_H

#include <sys/types.h>
#include "alloc.h"

struct type_row {
	__u64 type;		/* PyTypeObject * in the target */
	struct type_counts c;
};

/* 0, or -ENOENT (out zeroed) before the process made its first call. */
int collect_exact_entry(int exact_fd, pid_t pid, struct alloc_exact_stats *out);
/* The process's types, most deallocations first; at most max rows. */
int collect_types(int types_fd, pid_t pid, struct type_row *out, int max);
/* Net blocks of a domain: allocated minus freed while traced. */
long long exact_net_blocks(const struct alloc_domain_stats *d);

#endif /* MMTRACE_COLLECT_EXACT_H */
