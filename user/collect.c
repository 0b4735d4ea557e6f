// SPDX-License-Identifier: MIT
#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>
#include "collect.h"

int collect_gc(int stats_fd, pid_t pid, struct gc_proc_stats *out)
{
	__u32 key = (__u32)pid;

	if (!bpf_map_lookup_elem(stats_fd, &key, out))
		return 0;
	memset(out, 0, sizeof(*out));
	return errno == ENOENT ? 0 : -errno;
}

__u64 gc_sum(const __u64 per_gen[MMTRACE_GENERATIONS])
{
	__u64 s = 0;
	int g;

	for (g = 0; g < MMTRACE_GENERATIONS; g++)
		s += per_gen[g];
	return s;
}
