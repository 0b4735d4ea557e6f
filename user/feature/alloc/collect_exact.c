// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "collect_exact.h"

int collect_exact_entry(int exact_fd, pid_t pid, struct alloc_exact_stats *out)
{
	__u32 key = (__u32)pid;

	if (exact_fd >= 0 && !bpf_map_lookup_elem(exact_fd, &key, out))
		return 0;
	memset(out, 0, sizeof(*out));
	return -ENOENT;
}

long long exact_net_blocks(const struct alloc_domain_stats *d)
{
	return (long long)(d->blocks_allocated - d->blocks_freed);
}

static int more_deallocs(const void *a, const void *b)
{
	const struct type_row *x = a, *y = b;

	if (x->c.deallocs != y->c.deallocs)
		return x->c.deallocs < y->c.deallocs ? 1 : -1;
	if (x->c.allocs != y->c.allocs)
		return x->c.allocs < y->c.allocs ? 1 : -1;
	if (x->c.weakref_clears != y->c.weakref_clears)
		return x->c.weakref_clears < y->c.weakref_clears ? 1 : -1;
	return strncmp(x->c.name, y->c.name, sizeof(x->c.name));
}

/* Every key of the map is visited once; the map holds at most a few
 * thousand types, so the whole set is sorted, then cut to max. */
int collect_types(int types_fd, pid_t pid, struct type_row *out, int max)
{
	struct type_key key, next, *prev = NULL;
	struct type_row *all = NULL, *grown;
	int n = 0, cap = 0;

	if (types_fd < 0 || max <= 0)
		return 0;
	while (!bpf_map_get_next_key(types_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (key.tgid != (__u32)pid)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 256;
			grown = realloc(all, (size_t)cap * sizeof(*all));
			if (!grown)
				break;
			all = grown;
		}
		if (bpf_map_lookup_elem(types_fd, &key, &all[n].c))
			continue;
		all[n].c.name[sizeof(all[n].c.name) - 1] = '\0';
		all[n++].type = key.type;
	}
	if (n)
		qsort(all, (size_t)n, sizeof(*all), more_deallocs);
	if (n > max)
		n = max;
	if (n)
		memcpy(out, all, (size_t)n * sizeof(*out));
	free(all);
	return n;
}
