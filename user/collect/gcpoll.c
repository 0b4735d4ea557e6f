// SPDX-License-Identifier: MIT
/*
 * Reading a process's GC counters from outside, for builds with neither
 * USDT notes nor a collector symbol. Every pointer comes from the target
 * and is data: procmem's reader checks each read against the readable
 * mappings, the chain has a bounded length, and a ring index is checked
 * against its ring's length before it is used.
 *
 * The interpreter updates its counters while mmtrace reads them (no lock
 * is shared): a reading is taken twice and kept only when both agree, so a
 * record being written (3.15's add_stats copies the previous record into
 * the next slot, then adds) is not mistaken for a value.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include "gcpoll.h"
#include "procmem.h"

#define POLL_TRIES 5
#define RING_MAX_LEN 64		/* longer than any ring CPython has (11) */
/* 3.15's struct gc_generation_stats: duration (double, seconds) follows
 * collections, collected, uncollectable and candidates */
#define RING_DURATION_AFTER_COUNTS 32

struct gen_counts {
	__u64 collections, collected, uncollectable;
};

/* a ring record from its counts on */
struct ring_counts {
	struct gen_counts c;
	__s64 candidates;
	double duration;
};
_Static_assert(offsetof(struct ring_counts, duration) == RING_DURATION_AFTER_COUNTS, "3.15 record layout");

static int runtime_addr(const struct procmem *pm, const struct python_binary *pb, uint64_t *addr)
{
	uint64_t anchor;

	/* the load bias, from an exported function of the same file */
	if (!pb->anchor_vaddr || !pb->runtime_vaddr ||
	    procmem_file_addr(pm, pb->path, pb->anchor_offset, &anchor))
		return -ENOENT;
	*addr = pb->runtime_vaddr + (anchor - pb->anchor_vaddr);
	return 0;
}

static int stats_addr(struct mem_reader *r, uint64_t runtime, const struct gc_site *c, uint64_t *out)
{
	uint64_t addr = runtime;
	__u32 i;

	if (c->base != GC_BASE_RUNTIME || c->nderef > MMTRACE_CHAIN_MAX)
		return -EINVAL;
	for (i = 0; i < c->nderef; i++) {
		if (r->read(r->ctx, addr + c->deref_off[i], &addr, sizeof(addr)))
			return -EFAULT;
		if (!addr)
			return -ENOENT;	/* not initialised yet, or finalised */
	}
	*out = addr + c->stats_off;
	return 0;
}

static int read_once(struct mem_reader *r, uint64_t addr, const struct gc_site *c, struct gc_poll_read *out)
{
	struct gen_counts in_row[MMTRACE_GENERATIONS];
	struct ring_counts rec;
	__s8 idx;
	int g;

	memset(out, 0, sizeof(*out));
	if (!c->ring) {
		if (r->read(r->ctx, addr, in_row, sizeof(in_row)))
			return -EFAULT;
		for (g = 0; g < MMTRACE_GENERATIONS; g++) {
			out->collections[g] = in_row[g].collections;
			out->collected[g] = in_row[g].collected;
			out->uncollectable[g] = in_row[g].uncollectable;
		}
		return 0;
	}
	if (c->ring_rec < c->ring_counts + sizeof(rec))
		return -EINVAL;
	for (g = 0; g < MMTRACE_GENERATIONS; g++) {
		if (c->ring_len[g] > RING_MAX_LEN ||
		    r->read(r->ctx, addr + c->ring_buf[g] + c->ring_index[g], &idx, sizeof(idx)))
			return -EFAULT;
		if (idx < 0 || (__u32)idx >= c->ring_len[g])
			return -ERANGE;
		if (r->read(r->ctx, addr + c->ring_buf[g] + (__u64)idx * c->ring_rec + c->ring_counts, &rec,
			    sizeof(rec)))
			return -EFAULT;
		/* a duration that is not a plain non-negative number is not one */
		if (!(rec.duration >= 0 && rec.duration < 1e12))
			return -ERANGE;
		out->collections[g] = rec.c.collections;
		out->collected[g] = rec.c.collected;
		out->uncollectable[g] = rec.c.uncollectable;
		out->candidates[g] = (__u64)rec.candidates;
		out->duration_s[g] = rec.duration;
	}
	return 0;
}

int gc_poll_read_mem(struct mem_reader *r, uint64_t runtime, const struct probe_plan *plan, struct gc_poll_read *out)
{
	struct gc_poll_read a, b;
	uint64_t addr;
	int err = 0, i;

	if (!plan->polled)
		return -EINVAL;
	for (i = 0; i < POLL_TRIES; i++) {
		/* the chain too: the ring is reached through a pointer */
		err = stats_addr(r, runtime, &plan->poll_cfg, &addr);
		if (!err)
			err = read_once(r, addr, &plan->poll_cfg, &a);
		if (!err)
			err = read_once(r, addr, &plan->poll_cfg, &b);
		if (err == -ERANGE)
			continue;	/* mid-update: try again */
		if (err)
			return err;
		if (!memcmp(&a, &b, sizeof(a))) {
			*out = a;
			return 0;
		}
	}
	return err ? err : -EAGAIN;
}

int gc_poll_read(pid_t pid, const struct python_binary *pb, const struct probe_plan *plan, struct gc_poll_read *out)
{
	struct procmem pm;
	struct mem_reader r;
	uint64_t runtime;
	int err;

	if (!plan->polled)
		return -EINVAL;
	err = procmem_open(&pm, pid);
	if (err)
		return err;
	r = procmem_reader(&pm);
	err = runtime_addr(&pm, pb, &runtime);
	if (!err)
		err = gc_poll_read_mem(&r, runtime, plan, out);
	procmem_close(&pm);
	return err;
}

uint64_t gc_poll_static_main(const struct python_binary *pb, const struct probe_plan *plan, uint64_t runtime,
			     uint64_t main_ptr)
{
	if (!gc_poll_may_be_static(pb, plan) || main_ptr <= runtime || main_ptr - runtime >= pb->runtime_size)
		return 0;
	return main_ptr;
}

bool gc_poll_may_be_static(const struct python_binary *pb, const struct probe_plan *plan)
{
	/* one hop: the stats inside the interpreter (3.15's ring is behind a
	 * second pointer, into memory Py_Finalize may free) */
	return plan->polled && plan->poll_cfg.nderef == 1 && pb->major == 3 && pb->minor >= 12;
}

int gc_poll_locate(pid_t pid, const struct python_binary *pb, const struct probe_plan *plan,
		   struct gc_poll_where *w)
{
	struct procmem pm;
	struct mem_reader r;
	uint64_t main_ptr;
	int err = procmem_open(&pm, pid);

	if (err)
		return err;
	memset(w, 0, sizeof(*w));
	err = runtime_addr(&pm, pb, &w->runtime);
	r = procmem_reader(&pm);
	if (!err && plan->poll_cfg.nderef >= 1 &&
	    !r.read(r.ctx, w->runtime + plan->poll_cfg.deref_off[0], &main_ptr, sizeof(main_ptr)))
		w->main_static = gc_poll_static_main(pb, plan, w->runtime, main_ptr);
	procmem_close(&pm);
	return err;
}

bool gc_poll_from_event(const struct probe_plan *plan, const struct mm_poll_final_event *e, struct gc_poll_read *out)
{
	int g;

	if (!plan->polled || e->err)
		return false;
	memset(out, 0, sizeof(*out));
	for (g = 0; g < MMTRACE_GENERATIONS; g++) {
		if (e->counts[g].collections < 0 || e->counts[g].collected < 0 || e->counts[g].uncollectable < 0 ||
		    e->candidates[g] < 0)
			return false;
		out->collections[g] = (__u64)e->counts[g].collections;
		out->collected[g] = (__u64)e->counts[g].collected;
		out->uncollectable[g] = (__u64)e->counts[g].uncollectable;
		if (!plan->poll_cfg.ring)
			continue;
		out->candidates[g] = (__u64)e->candidates[g];
		memcpy(&out->duration_s[g], &e->duration_bits[g], sizeof(double));
		/* as read_once: a duration that is not a plain number is not one */
		if (!(out->duration_s[g] >= 0 && out->duration_s[g] < 1e12))
			return false;
	}
	return true;
}

bool gc_poll_delta(const struct probe_plan *plan, const struct gc_poll_read *now, const struct gc_poll_read *base,
		   struct gc_proc_stats *out)
{
	double d;
	int g;

	for (g = 0; g < MMTRACE_GENERATIONS; g++)
		if (now->collections[g] < base->collections[g] || now->collected[g] < base->collected[g] ||
		    now->uncollectable[g] < base->uncollectable[g] || now->candidates[g] < base->candidates[g] ||
		    now->duration_s[g] < base->duration_s[g])
			return false;
	for (g = 0; g < MMTRACE_GENERATIONS; g++) {
		out->collections[g] = now->collections[g] - base->collections[g];
		out->collected[g] = now->collected[g] - base->collected[g];
		out->uncollectable[g] = now->uncollectable[g] - base->uncollectable[g];
		out->candidates[g] = now->candidates[g] - base->candidates[g];
		d = plan->poll_durations ? (now->duration_s[g] - base->duration_s[g]) * 1e9 : 0;
		out->pause_ns_total[g] = (__u64)(d + 0.5);
	}
	return true;
}
