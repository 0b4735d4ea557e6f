/* SPDX-License-Identifier: GPL-2.0 */
/* Map and ring helpers every program here shares (after libbpf-tools' maps.bpf.h). */
#ifndef MMTRACE_MAPS_BPF_H
#define MMTRACE_MAPS_BPF_H

#include "stack.h"

#ifndef EEXIST
#define EEXIST 17
#endif

/* The entry under key, made from init when missing (another CPU may make
 * it first); NULL when the map is full. */
static __always_inline void *lookup_or_try_init(void *map, const void *key, const void *init)
{
	void *val = bpf_map_lookup_elem(map, key);
	long err;

	if (val)
		return val;
	err = bpf_map_update_elem(map, key, init, BPF_NOEXIST);
	if (err && err != -EEXIST)
		return NULL;
	return bpf_map_lookup_elem(map, key);
}

/* A stack record into ring with only the frames it has; false when the
 * ring had no room (the caller counts it). */
static __always_inline bool stack_output(void *ring, const struct mm_stack_event *e)
{
	__u64 size = MM_STACK_EVENT_HEAD + (__u64)e->depth * sizeof(struct py_frame);

	if (size > sizeof(*e))
		size = sizeof(*e);
	return bpf_ringbuf_output(ring, (void *)e, size, 0) == 0;
}

#endif /* MMTRACE_MAPS_BPF_H */
