/* SPDX-License-Identifier: MIT */
/* collect: read per-process counters out of the BPF maps. */
#ifndef MMTRACE_COLLECT_H
#define MMTRACE_COLLECT_H

#include <linux/types.h>
#include <sys/types.h>
#include "gc.h"

/* Fills out (zeros when the process has not collected yet). 0 or -errno. */
int collect_gc(int stats_fd, pid_t pid, struct gc_proc_stats *out);

/* Sums over generations. */
__u64 gc_sum(const __u64 per_gen[MMTRACE_GENERATIONS]);

#endif /* MMTRACE_COLLECT_H */
