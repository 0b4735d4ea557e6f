// SPDX-License-Identifier: GPL-2.0
/*
 * GC pause and outcome accounting for CPython.
 *
 * A "begin" site (collector entry, or USDT python:gc__start) snapshots the
 * interpreter's own generation_stats[3]; the matching "end" site (collector
 * return, or USDT python:gc__done, both after CPython updated the stats)
 * snapshots them again. The difference is exactly what gc.get_stats() will
 * report for that call: which generation ran, objects collected and
 * uncollectable, counted separately. Argument conventions do not matter,
 * which keeps LTO/constprop clones and 3.13's generation == -1 honest.
 *
 * Probes are attached once per interpreter file (or per process), so the
 * counters are keyed by process here; proc.bpf.c hands them over when the
 * process ends, growth.bpf.c adds the allocator's growth to them.
 */
#include "gc_common.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* set by user space before load */
const volatile bool system_wide = false;
const volatile __u64 min_pause_ns = 0;
const volatile __u32 stack_depth = 0;

__u64 drops[MM_DROPS] = {};

/* A collection starts: its stack waits for the end, which knows the generation. */
static void gc_stack_begin(struct pt_regs *ctx, const struct gc_site *site, __u32 tid)
{
	__u32 zero = 0;
	struct mm_stack_event *e = bpf_map_lookup_elem(&stack_scratch, &zero);

	if (!e || !stacks_at(site))
		return;
	fill_stack(ctx, site, STACK_GC, 1, e);
	if (bpf_map_update_elem(&gc_stacks, &tid, e, BPF_ANY))
		drop(DROP_STACK_FULL);
}

static void gc_stack_end(__u32 tid, __u32 gen, __u64 pause_ns)
{
	struct mm_stack_event *e = bpf_map_lookup_elem(&gc_stacks, &tid);

	if (!e)
		return;
	e->generation = gen;
	e->pause_ns = pause_ns;
	send_stack(e);
	bpf_map_delete_elem(&gc_stacks, &tid);
}
/* Follows the site's pointer chain to &gcstate->generation_stats. */
static int stats_address(struct pt_regs *ctx, const struct gc_site *site, __u64 *out)
{
	__u64 addr;
	__u32 i;

	if (site->base == GC_BASE_ARG0)
		addr = PT_REGS_PARM1(ctx);
	else
		addr = PT_REGS_IP(ctx) + site->runtime_delta;

	for (i = 0; i < MMTRACE_CHAIN_MAX; i++) {
		if (i >= site->nderef)
			break;
		if (bpf_probe_read_user(&addr, sizeof(addr), (void *)(addr + site->deref_off[i])))
			return -1;
		if (!addr)
			return -1;
	}
	*out = addr + site->stats_off;
	return 0;
}

/* The three generations' {collections, collected, uncollectable}: in a row
 * (3.8-3.14), or each from its ring's newest record (3.15), which the
 * collector has already written when gc__done fires; there cand gets the
 * records' candidates too. */
static int read_counts(const struct gc_site *site, __u64 addr, struct gc_gen_counts *out, __s64 *cand)
{
	struct {
		struct gc_gen_counts c;
		__s64 candidates;
	} rec;
	__u64 buf;
	__s8 idx;
	__u32 g;

	if (!site->ring)
		return bpf_probe_read_user(out, sizeof(*out) * MMTRACE_GENERATIONS, (void *)addr);
	for (g = 0; g < MMTRACE_GENERATIONS; g++) {
		buf = addr + site->ring_buf[g];
		if (bpf_probe_read_user(&idx, sizeof(idx), (void *)(buf + site->ring_index[g])))
			return -1;
		if (idx < 0 || (__u32)idx >= site->ring_len[g])
			return -1;
		if (bpf_probe_read_user(&rec, sizeof(rec),
					(void *)(buf + (__u64)idx * site->ring_rec + site->ring_counts)))
			return -1;
		out[g] = rec.c;
		cand[g] = rec.candidates;
	}
	return 0;
}

/* At a begin site the IP is the probe address, so _PyRuntime is found from it
 * (a return probe's IP is the caller's, which is why the end sites do not). */
static __u32 is_subinterp(struct pt_regs *ctx, const struct gc_site *site, __u64 stats_addr)
{
	__u64 main_interp = 0, main_stats;

	if (!site->split_main)
		return 0;
	if (bpf_probe_read_user(&main_interp, sizeof(main_interp),
				(void *)(PT_REGS_IP(ctx) + site->main_runtime_delta + site->main_interp_off)) ||
	    !main_interp)
		return 0;
	main_stats = main_interp + site->main_stats_off;
	if (site->main_stats_deref &&
	    bpf_probe_read_user(&main_stats, sizeof(main_stats), (void *)main_stats))
		return 0;
	return stats_addr != main_stats;
}

static void account_subinterp(struct gc_proc_stats *s, __u32 gen, const struct gc_gen_counts *before,
			      const struct gc_gen_counts *after, __u64 pause_ns)
{
	__sync_fetch_and_add(&s->sub_collections[gen], after->collections - before->collections);
	__sync_fetch_and_add(&s->sub_collected[gen], after->collected - before->collected);
	__sync_fetch_and_add(&s->sub_uncollectable[gen], after->uncollectable - before->uncollectable);
	__sync_fetch_and_add(&s->sub_pause_ns_total, pause_ns);
}

/* The begin waits for its end in inflight. When that map is full the end
 * finds nothing: begins_unrecorded tells it that the collection was
 * already counted as dropped, here, and is no unmatched end. */
static void remember_begin(__u64 id, const struct gc_site *site, const struct gc_inflight *f)
{
	__u32 tid = (__u32)id;
	enum mm_drop cause;
	struct gc_proc_stats *s;

	if (!bpf_map_update_elem(&inflight, &tid, f, BPF_ANY))
		return;
	if (!f->unreadable)
		drop(DROP_INFLIGHT_FULL);
	s = try_stats_of(id >> 32, site->bin_id, &cause);
	if (s)
		__sync_fetch_and_add(&s->begins_unrecorded, 1);
}

SEC("uprobe")
int gc_begin(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct gc_inflight f = {};
	struct gc_site *site;
	struct gc_proc_stats *s;
	enum mm_drop cause;

	site = site_of(ctx);
	if (!site)
		return 0;
	if (stats_address(ctx, site, &f.stats_addr) || read_counts(site, f.stats_addr, f.before, f.cand_before)) {
		/* counted once, here; the mark tells the end not to count it again */
		drop(DROP_READ_ERROR);
		s = try_stats_of(id >> 32, site->bin_id, &cause);
		if (s)
			__sync_fetch_and_add(&s->read_errors, 1);
		f.unreadable = 1;
		remember_begin(id, site, &f);
		return 0;
	}
	f.subinterp = is_subinterp(ctx, site, f.stats_addr);
	gc_stack_begin(ctx, site, tid);
	f.start_ns = bpf_ktime_get_ns();
	remember_begin(id, site, &f);
	return 0;
}

static void report_pause(__u64 id, __u32 gen, const struct gc_gen_counts *before,
			 const struct gc_gen_counts *after, __u64 pause_ns, __u64 now)
{
	struct mm_pause_event *e = reserve(sizeof(*e));

	if (!e)
		return;
	e->kind = MM_EV_PAUSE;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->generation = gen;
	e->ts_ns = now;
	e->pause_ns = pause_ns;
	e->collected = after->collected - before->collected;
	e->uncollectable = after->uncollectable - before->uncollectable;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
}

static void account(struct gc_proc_stats *s, __u32 gen, const struct gc_gen_counts *before,
		    const struct gc_gen_counts *after, __u64 pause_ns, __s64 candidates)
{
	__u32 slot = log2_u64(pause_ns);

	if (slot >= MMTRACE_HIST_SLOTS)
		slot = MMTRACE_HIST_SLOTS - 1;
	__sync_fetch_and_add(&s->collections[gen], after->collections - before->collections);
	__sync_fetch_and_add(&s->collected[gen], after->collected - before->collected);
	__sync_fetch_and_add(&s->uncollectable[gen], after->uncollectable - before->uncollectable);
	__sync_fetch_and_add(&s->pause_ns_total[gen], pause_ns);
	__sync_fetch_and_add(&s->pause_hist[gen][slot], 1);
	if (candidates > 0)
		__sync_fetch_and_add(&s->candidates[gen], candidates);
	/* racy max is fine: one GC runs at a time per interpreter */
	if (pause_ns > s->pause_ns_max[gen])
		s->pause_ns_max[gen] = pause_ns;
}

SEC("uprobe")
int gc_end(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns();
	__u32 tid = (__u32)id, gen, ran = 0;
	struct gc_gen_counts after[MMTRACE_GENERATIONS];
	__s64 cand[MMTRACE_GENERATIONS] = {};
	struct gc_inflight *f;
	struct gc_proc_stats *s;
	struct gc_site *site;

	site = site_of(ctx);
	if (!site)
		return 0;
	f = bpf_map_lookup_elem(&inflight, &tid);
	if (f && f->unreadable)
		goto out;	/* counted as a read error at its begin */
	s = stats_of(id >> 32, site->bin_id);
	if (!s)
		goto out;
	if (!f) {
		/* racy test and decrement: one collection at a time per interpreter */
		if (s->begins_unrecorded) {
			__sync_fetch_and_add(&s->begins_unrecorded, -1);
			return 0;
		}
		drop(DROP_UNMATCHED_END);
		__sync_fetch_and_add(&s->unmatched_ends, 1);
		return 0;
	}
	if (read_counts(site, f->stats_addr, after, cand)) {
		drop(DROP_READ_ERROR);
		__sync_fetch_and_add(&s->read_errors, 1);
		goto out;
	}
	for (gen = 0; gen < MMTRACE_GENERATIONS; gen++) {
		if (after[gen].collections <= f->before[gen].collections)
			continue;
		if (f->subinterp)
			account_subinterp(s, gen, &f->before[gen], &after[gen], now - f->start_ns);
		else
			account(s, gen, &f->before[gen], &after[gen], now - f->start_ns,
				cand[gen] - f->cand_before[gen]);
		if (min_pause_ns && now - f->start_ns >= min_pause_ns)
			report_pause(id, gen, &f->before[gen], &after[gen], now - f->start_ns, now);
		if (stack_depth && !f->subinterp)
			gc_stack_end(tid, gen, now - f->start_ns);
		ran++;
	}
	if (!ran)
		__sync_fetch_and_add(&s->empty_calls, 1);
out:
	if (stack_depth)
		bpf_map_delete_elem(&gc_stacks, &tid);
	bpf_map_delete_elem(&inflight, &tid);
	return 0;
}
