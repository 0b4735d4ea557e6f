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
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "gc.h"
#include "bits.bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct gc_inflight {
	__u64 start_ns;
	__u64 stats_addr;
	struct gc_gen_counts before[MMTRACE_GENERATIONS];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MMTRACE_MAX_SITES);
	__type(key, __u32);
	__type(value, struct gc_site);
} sites SEC(".maps");

/* keyed by thread id: a collection runs on one thread from begin to end */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct gc_inflight);
} inflight SEC(".maps");

/* keyed by process id (tgid) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MMTRACE_MAX_PROCS);
	__type(key, __u32);
	__type(value, struct gc_proc_stats);
} proc_stats SEC(".maps");

static const struct gc_proc_stats zero_stats;

static struct gc_proc_stats *stats_of(__u32 tgid)
{
	struct gc_proc_stats *s = bpf_map_lookup_elem(&proc_stats, &tgid);

	if (s)
		return s;
	bpf_map_update_elem(&proc_stats, &tgid, &zero_stats, BPF_NOEXIST);
	return bpf_map_lookup_elem(&proc_stats, &tgid);
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

SEC("uprobe")
int gc_begin(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, idx = (__u32)bpf_get_attach_cookie(ctx);
	struct gc_inflight f = {};
	struct gc_site *site;
	struct gc_proc_stats *s;

	site = bpf_map_lookup_elem(&sites, &idx);
	if (!site)
		return 0;
	if (stats_address(ctx, site, &f.stats_addr) ||
	    bpf_probe_read_user(f.before, sizeof(f.before), (void *)f.stats_addr)) {
		s = stats_of(id >> 32);
		if (s)
			__sync_fetch_and_add(&s->read_errors, 1);
		return 0;
	}
	f.start_ns = bpf_ktime_get_ns();
	bpf_map_update_elem(&inflight, &tid, &f, BPF_ANY);
	return 0;
}

static void account(struct gc_proc_stats *s, __u32 gen, const struct gc_gen_counts *before,
		    const struct gc_gen_counts *after, __u64 pause_ns)
{
	__u32 slot = log2_u64(pause_ns);

	if (slot >= MMTRACE_HIST_SLOTS)
		slot = MMTRACE_HIST_SLOTS - 1;
	__sync_fetch_and_add(&s->collections[gen], after->collections - before->collections);
	__sync_fetch_and_add(&s->collected[gen], after->collected - before->collected);
	__sync_fetch_and_add(&s->uncollectable[gen], after->uncollectable - before->uncollectable);
	__sync_fetch_and_add(&s->pause_ns_total[gen], pause_ns);
	__sync_fetch_and_add(&s->pause_hist[gen][slot], 1);
	/* racy max is fine: one GC runs at a time per interpreter */
	if (pause_ns > s->pause_ns_max[gen])
		s->pause_ns_max[gen] = pause_ns;
}

SEC("uprobe")
int gc_end(struct pt_regs *ctx __attribute__((unused)))
{
	__u64 id = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns();
	struct gc_gen_counts after[MMTRACE_GENERATIONS];
	__u32 tid = (__u32)id, gen, ran = 0;
	struct gc_inflight *f;
	struct gc_proc_stats *s;

	s = stats_of(id >> 32);
	if (!s)
		return 0;
	f = bpf_map_lookup_elem(&inflight, &tid);
	if (!f) {
		__sync_fetch_and_add(&s->unmatched_ends, 1);
		return 0;
	}
	if (bpf_probe_read_user(after, sizeof(after), (void *)f->stats_addr)) {
		__sync_fetch_and_add(&s->read_errors, 1);
		goto out;
	}
	for (gen = 0; gen < MMTRACE_GENERATIONS; gen++) {
		if (after[gen].collections <= f->before[gen].collections)
			continue;
		account(s, gen, &f->before[gen], &after[gen], now - f->start_ns);
		ran++;
	}
	if (!ran)
		__sync_fetch_and_add(&s->empty_calls, 1);
out:
	bpf_map_delete_elem(&inflight, &tid);
	return 0;
}
