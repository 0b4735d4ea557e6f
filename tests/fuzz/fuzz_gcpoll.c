// SPDX-License-Identifier: MIT
/* libFuzzer target: the polled GC reader over memory that is all the
 * target's to choose. The first byte picks the plan (3.12-3.14 inline
 * stats, or 3.15 rings; chain length), the rest is the memory from
 * MEM_BASE, where _PyRuntime is. Besides not crashing: a reading is
 * returned only when it is whole, ring indexes in range, durations sane. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "gcpoll.h"

#define MEM_BASE 0x10000ull
#define HEAD_OFF 40
#define GC_OFF 200

struct mem {
	const uint8_t *p;
	size_t n;
};

static int mem_read(void *ctx, uint64_t addr, void *out, size_t len)
{
	const struct mem *m = ctx;

	if (addr < MEM_BASE || addr - MEM_BASE > m->n || len > m->n - (addr - MEM_BASE))
		return -EFAULT;
	memcpy(out, m->p + (addr - MEM_BASE), len);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct { uint32_t len; uint64_t buf; } rings[3] = { { 11, 0 }, { 3, 712 }, { 3, 912 } };
	struct mem m;
	struct mem_reader r = { .read = mem_read, .ctx = &m };
	struct probe_plan *p;
	struct gc_poll_read out;
	int g, err;

	if (!size)
		return 0;
	m.p = data + 1;
	m.n = size - 1;
	p = calloc(1, sizeof(*p));
	if (!p)
		return 0;
	p->polled = true;
	p->poll_cfg.base = GC_BASE_RUNTIME;
	p->poll_cfg.nderef = 1 + data[0] % MMTRACE_CHAIN_MAX;
	for (g = 0; g < (int)p->poll_cfg.nderef; g++)
		p->poll_cfg.deref_off[g] = g ? GC_OFF : HEAD_OFF;
	if (data[0] & 0x80) {
		p->poll_durations = true;
		p->poll_cfg.ring = 1;
		p->poll_cfg.ring_rec = 64;
		p->poll_cfg.ring_counts = 16;
		for (g = 0; g < 3; g++) {
			p->poll_cfg.ring_len[g] = rings[g].len;
			p->poll_cfg.ring_buf[g] = rings[g].buf;
			p->poll_cfg.ring_index[g] = rings[g].len * 64;
		}
	} else {
		p->poll_cfg.stats_off = GC_OFF;
	}
	err = gc_poll_read_mem(&r, MEM_BASE, p, &out);
	for (g = 0; !err && g < 3; g++)
		if (!(out.duration_s[g] >= 0 && out.duration_s[g] < 1e12) || (!p->poll_cfg.ring && out.candidates[g]))
			abort();
	/* the same bytes as the reading BPF takes at exit: the same promises */
	if (size - 1 >= sizeof(struct mm_poll_final_event)) {
		struct mm_poll_final_event e;

		memcpy(&e, data + 1, sizeof(e));
		if (gc_poll_from_event(p, &e, &out))
			for (g = 0; g < 3; g++)
				if (!(out.duration_s[g] >= 0 && out.duration_s[g] < 1e12) ||
				    (!p->poll_cfg.ring && out.candidates[g]))
					abort();
	}
	free(p);
	return 0;
}
