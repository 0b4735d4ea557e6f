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
 * Probes are attached once per interpreter file, so the counters are keyed
 * by process here. The exec and exit tracepoints hand each process's final
 * counters to user space and delete its entries, which keeps the maps
 * bounded by the number of live processes, and (system-wide) report every
 * exec so that user space can discover new interpreters.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "gc.h"
#include "bits.bpf.h"
#include "pystack.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* set by user space before load */
const volatile bool system_wide = false;	/* report execs and forks for discovery */
const volatile __u64 min_pause_ns = 0;		/* 0: no per-collection events */
const volatile __u32 stack_depth = 0;		/* Python frames per stack; 0: no stacks */

/* what was not counted, by cause (enum mm_drop) */
__u64 drops[MM_DROPS] = {};

struct gc_inflight {
	__u64 start_ns;
	__u64 stats_addr;
	__u32 subinterp;	/* collecting a subinterpreter's GC state */
	__u32 unreadable;	/* the begin's read failed and was counted: the end counts nothing */
	struct gc_gen_counts before[MMTRACE_GENERATIONS];
	__s64 cand_before[MMTRACE_GENERATIONS];	/* 3.15 rings only */
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
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct gc_inflight);
} inflight SEC(".maps");

/* keyed by process id (tgid). The hash maps here take memory per entry as
 * it is made (BPF_F_NO_PREALLOC), not their maximum up front: preallocated,
 * this one alone held 14.3 MiB of kernel memory for one -p; a failed
 * insertion is a counted drop either way */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MMTRACE_MAX_PROCS);
	__type(key, __u32);
	__type(value, struct gc_proc_stats);
} proc_stats SEC(".maps");

/* processes user space tracks, keyed by tgid: their exit must be reported
 * even when they never collected */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MMTRACE_MAX_PROCS);
	__type(key, __u32);
	__type(value, __u32);
} watched SEC(".maps");

/* processes whose arenas are counted at their mmap/munmap, keyed by tgid */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MMTRACE_MAX_PROCS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct mmap_watch);
} mmap_watch SEC(".maps");

/* polled processes, keyed by tgid: read once more at their exit */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MMTRACE_MAX_PROCS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct poll_target);
} poll_targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

static const struct gc_proc_stats zero_stats;

/* a stack is built here, then sent with only the frames it has */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mm_stack_event);
} stack_scratch SEC(".maps");

/* the stack of a collection in progress, by thread: sent at its end; not
 * LRU, whose eviction would lose another collection's stack uncounted */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct mm_stack_event);
} gc_stacks SEC(".maps");

static void drop(enum mm_drop cause)
{
	__sync_fetch_and_add(&drops[cause], 1);
}

/* A process's counters, created at its first count; NULL when a map is
 * full, and *cause says which. */
static struct gc_proc_stats *try_stats_of(__u32 tgid, __u32 bin_id, enum mm_drop *cause)
{
	struct gc_proc_stats *s = bpf_map_lookup_elem(&proc_stats, &tgid);

	if (s)
		return s;
	/* watched first: only a watched process's end is claimed and reported
	 * (end_process), so counters without it would never be handed over */
	if (bpf_map_update_elem(&watched, &tgid, &bin_id, BPF_NOEXIST) && !bpf_map_lookup_elem(&watched, &tgid)) {
		*cause = DROP_WATCH_FULL;
		return NULL;
	}
	bpf_map_update_elem(&proc_stats, &tgid, &zero_stats, BPF_NOEXIST);
	s = bpf_map_lookup_elem(&proc_stats, &tgid);
	if (s)
		s->bin_id = bin_id;
	*cause = DROP_TABLE_FULL;
	return s;
}

/* The same where the count that needs them is lost without them. */
static struct gc_proc_stats *stats_of(__u32 tgid, __u32 bin_id)
{
	enum mm_drop cause = DROP_TABLE_FULL;
	struct gc_proc_stats *s = try_stats_of(tgid, bin_id, &cause);

	if (!s)
		drop(cause);
	return s;
}

static void *reserve(__u64 size)
{
	void *e = bpf_ringbuf_reserve(&events, size, 0);

	if (!e)
		drop(DROP_EVENTS_LOST);
	return e;
}

/* The configuration of the probe site that fired (its BPF cookie). */
static struct gc_site *site_of(struct pt_regs *ctx)
{
	__u32 idx = (__u32)bpf_get_attach_cookie(ctx);

	return bpf_map_lookup_elem(&sites, &idx);
}

static bool stacks_at(const struct gc_site *site)
{
	return stack_depth && site->stack_runtime_delta && site->stack.kind != STACK_NONE;
}

static void send_stack(struct mm_stack_event *e)
{
	__u64 size = MM_STACK_EVENT_HEAD + (__u64)e->depth * sizeof(struct py_frame);

	if (size > sizeof(*e))
		size = sizeof(*e);
	if (bpf_ringbuf_output(&events, e, size, 0))
		drop(DROP_EVENTS_LOST);
}

/* The stack of the current thread into e (its header set here). */
static void fill_stack(struct pt_regs *ctx, const struct gc_site *site, __u32 metric, __u64 weight,
		       struct mm_stack_event *e)
{
	__u64 id = bpf_get_current_pid_tgid();

	e->kind = MM_EV_STACK;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->metric = metric;
	e->generation = 0;
	e->bin_id = site->bin_id;
	e->weight = weight;
	e->pause_ns = 0;
	walk_python_stack(PT_REGS_IP(ctx) + site->stack_runtime_delta, &site->stack, stack_depth, e);
}

/* Heap growth: the stack, sent at once. */
static void growth_stack(struct pt_regs *ctx, const struct gc_site *site, __u32 metric, __u64 weight)
{
	__u32 zero = 0;
	struct mm_stack_event *e;

	if (!stacks_at(site))
		return;
	e = bpf_map_lookup_elem(&stack_scratch, &zero);
	if (!e)
		return;
	fill_stack(ctx, site, metric, weight, e);
	send_stack(e);
}

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

/*
 * Hands a tracked process's final counters to user space and forgets it.
 * Several threads of an exit_group can each see signal->live at 0, so the
 * end is claimed through one key, the watched entry: of the threads that
 * find it, only the one whose delete succeeds reports. stats_of watches
 * every process it counts, so no process has counters without that key.
 */
static void end_process(struct task_struct *p, __u32 tgid, __u32 reason)
{
	struct gc_proc_stats *s;
	struct mm_end_event *e;

	if (!bpf_map_lookup_elem(&watched, &tgid))
		return;
	s = bpf_map_lookup_elem(&proc_stats, &tgid);
	e = reserve(sizeof(*e));
	if (!e) {
		/* counted as lost; the claim still makes this the only end */
		if (!bpf_map_delete_elem(&watched, &tgid))
			bpf_map_delete_elem(&proc_stats, &tgid);
		return;
	}
	e->kind = MM_EV_END;
	e->pid = tgid;
	e->reason = reason;
	e->ts_ns = bpf_ktime_get_ns();
	/* start_boottime is the leader's, copied over by an exec from another thread */
	e->start_ns = BPF_CORE_READ(p, group_leader, start_boottime);
	/* every thread of an image has its self_exec_id; the exec tracepoint
	 * runs after the new image's increment */
	e->exec_id = BPF_CORE_READ(p, self_exec_id) - (reason == MM_END_EXEC);
	/* ring buffer memory is not zeroed: copy zeros when there are no counters */
	e->has_stats = s && !bpf_probe_read_kernel(&e->stats, sizeof(e->stats), s);
	if (!e->has_stats)
		bpf_probe_read_kernel(&e->stats, sizeof(e->stats), &zero_stats);
	if (bpf_map_delete_elem(&watched, &tgid)) {
		bpf_ringbuf_discard(e, 0);	/* another thread claimed it first */
		return;
	}
	bpf_ringbuf_submit(e, 0);
	bpf_map_delete_elem(&proc_stats, &tgid);
}

static __u32 ns_tgid(struct task_struct *p)
{
	struct pid *pid = BPF_CORE_READ(p, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);
	int nr = 0;

	bpf_core_read(&nr, sizeof(nr), &pid->numbers[level].nr);
	return (__u32)nr;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(mm_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct mm_exec_event *e;
	struct mmap_watch *w;
	struct inode *ino;

	/* the old image's counters end here; a new image starts from zero
	 * (and a polled one's chain, made for the old image, is gone) */
	bpf_map_delete_elem(&poll_targets, &tgid);
	w = bpf_map_lookup_elem(&mmap_watch, &tgid);
	if (w && w->keep_exec)
		w->keep_exec = 0;	/* the command's own image starts here */
	else if (w)
		bpf_map_delete_elem(&mmap_watch, &tgid);
	end_process(p, tgid, MM_END_EXEC);
	if (!system_wide)
		return 0;
	e = reserve(sizeof(*e));
	if (!e)
		return 0;
	ino = BPF_CORE_READ(bprm, file, f_inode);
	e->kind = MM_EV_EXEC;
	e->pid = tgid;
	e->ns_pid = ns_tgid(p);
	e->mnt_ns = BPF_CORE_READ(p, nsproxy, mnt_ns, ns.inum);
	e->ts_ns = bpf_ktime_get_ns();
	e->ino = BPF_CORE_READ(ino, i_ino);
	e->dev = BPF_CORE_READ(ino, i_sb, s_dev);
	e->pad = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), BPF_CORE_READ(bprm, filename));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/*
 * Allocator growth: pymalloc's slow paths only, so the cost is per arena
 * (1 MiB) or per pool (16 KiB), never per allocation.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u64);
} arena_pending SEC(".maps");	/* tid -> requested size, between entry and return */

/* Loads at fixed offsets, then a choice: the verifier refuses a ctx load at
 * a computed offset, which a switch over PT_REGS_PARMn compiles into. */
static __u64 arg_n(struct pt_regs *ctx, __u32 n)
{
	__u64 a0 = PT_REGS_PARM1(ctx), a1 = PT_REGS_PARM2(ctx), a2 = PT_REGS_PARM3(ctx);

	barrier_var(a0);
	barrier_var(a1);
	barrier_var(a2);
	return n == 0 ? a0 : n == 1 ? a1 : a2;
}

SEC("uprobe")
int arena_alloc(struct pt_regs *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct gc_site *site = site_of(ctx);
	__u64 size;

	if (!site)
		return 0;
	size = arg_n(ctx, site->arg_index);
	/* only an arena's request is lost when its size cannot wait for the return */
	if (bpf_map_update_elem(&arena_pending, &tid, &size, BPF_ANY) && size == site->arena_size)
		drop(DROP_INFLIGHT_FULL);
	if (size == site->arena_size)
		growth_stack(ctx, site, STACK_ARENA, size);
	return 0;
}

SEC("uretprobe")
int arena_alloc_ret(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct gc_site *site = site_of(ctx);
	struct gc_proc_stats *s;
	__u64 *size;

	size = bpf_map_lookup_elem(&arena_pending, &tid);
	if (!site || !size)
		return 0;
	if (*size == site->arena_size) {
		s = stats_of(id >> 32, site->bin_id);
		if (s && PT_REGS_RC(ctx))
			__sync_fetch_and_add(&s->growth.arenas_allocated, 1);
		else if (s)
			__sync_fetch_and_add(&s->growth.arena_alloc_failed, 1);
	}
	bpf_map_delete_elem(&arena_pending, &tid);
	return 0;
}

SEC("uprobe")
int arena_free(struct pt_regs *ctx)
{
	struct gc_site *site = site_of(ctx);
	struct gc_proc_stats *s;

	if (!site || arg_n(ctx, site->arg_index) != site->arena_size)
		return 0;
	s = stats_of(bpf_get_current_pid_tgid() >> 32, site->bin_id);
	if (s)
		__sync_fetch_and_add(&s->growth.arenas_freed, 1);
	return 0;
}

#define NR_MMAP 9		/* x86-64 */
#define NR_MUNMAP 11
#define ARENA_PROT 3		/* PROT_READ | PROT_WRITE */
#define ARENA_FLAGS 0x22	/* MAP_PRIVATE | MAP_ANONYMOUS */
#define MAP_TYPE_AND_ANON 0x2f	/* MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE, MAP_FIXED, MAP_ANONYMOUS */

/* Every system call enters here once these are attached (only when some
 * target's arenas are counted this way): the number is tested first. */
SEC("tp_btf/sys_enter")
int BPF_PROG(arena_mmap, struct pt_regs *regs, long id)
{
	__u64 pid_tgid, len;
	__u32 tgid, tid;
	struct mmap_watch *w;
	struct gc_proc_stats *s;

	if (id != NR_MMAP && id != NR_MUNMAP)
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	tgid = pid_tgid >> 32;
	tid = (__u32)pid_tgid;
	w = bpf_map_lookup_elem(&mmap_watch, &tgid);
	if (!w)
		return 0;
	len = BPF_CORE_READ(regs, si);
	if (len != w->arena_size)
		return 0;
	if (id == NR_MUNMAP) {
		s = stats_of(tgid, w->bin_id);
		if (s)
			__sync_fetch_and_add(&s->growth.arenas_freed, 1);
		return 0;
	}
	/* mmap(NULL, ARENA_SIZE, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) */
	if (BPF_CORE_READ(regs, di) || BPF_CORE_READ(regs, dx) != ARENA_PROT ||
	    (BPF_CORE_READ(regs, r10) & MAP_TYPE_AND_ANON) != ARENA_FLAGS || (int)BPF_CORE_READ(regs, r8) != -1)
		return 0;
	if (bpf_map_update_elem(&arena_pending, &tid, &len, BPF_ANY))
		drop(DROP_INFLIGHT_FULL);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(arena_mmap_ret, struct pt_regs *regs, long ret)
{
	__u64 pid_tgid;
	__u32 tgid, tid;
	struct mmap_watch *w;
	struct gc_proc_stats *s;

	if (BPF_CORE_READ(regs, orig_ax) != NR_MMAP)
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	tid = (__u32)pid_tgid;
	if (!bpf_map_lookup_elem(&arena_pending, &tid))
		return 0;
	bpf_map_delete_elem(&arena_pending, &tid);
	tgid = pid_tgid >> 32;
	w = bpf_map_lookup_elem(&mmap_watch, &tgid);
	s = w ? stats_of(tgid, w->bin_id) : NULL;
	if (!s)
		return 0;
	if (ret < 0 && ret > -4096)	/* MAP_FAILED: -errno */
		__sync_fetch_and_add(&s->growth.arena_alloc_failed, 1);
	else
		__sync_fetch_and_add(&s->growth.arenas_allocated, 1);
	return 0;
}

SEC("uprobe")
int pool_new(struct pt_regs *ctx)
{
	struct gc_site *site = site_of(ctx);
	struct gc_proc_stats *s;
	__u32 cls;

	if (!site)
		return 0;
	cls = (__u32)arg_n(ctx, site->arg_index);
	if (cls >= MMTRACE_SIZE_CLASSES)
		return 0;
	s = stats_of(bpf_get_current_pid_tgid() >> 32, site->bin_id);
	/* the mask restates the bound where the verifier needs it (a power of 2) */
	if (s)
		__sync_fetch_and_add(&s->growth.pools_acquired[cls & (MMTRACE_SIZE_CLASSES - 1)], 1);
	growth_stack(ctx, site, STACK_POOL, site->pool_size);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(mm_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid), ctgid = BPF_CORE_READ(child, tgid), bin_id;
	struct gc_proc_stats *s;
	struct mm_fork_event *e;
	__u32 *bin;

	/* threads share the parent's process */
	if (!system_wide || ctgid == ptgid || (__u32)BPF_CORE_READ(child, pid) != ctgid)
		return 0;
	s = bpf_map_lookup_elem(&proc_stats, &ptgid);
	bin = bpf_map_lookup_elem(&watched, &ptgid);
	if (bin)
		bin_id = *bin;
	else if (s)
		bin_id = s->bin_id;
	else
		return 0;	/* not a process mmtrace tracks */
	/* its exit is reported even if user space has not caught up yet */
	if (bpf_map_update_elem(&watched, &ctgid, &bin_id, BPF_ANY))
		drop(DROP_WATCH_FULL);
	e = reserve(sizeof(*e));
	if (!e)
		return 0;
	e->kind = MM_EV_FORK;
	e->parent_pid = ptgid;
	e->pid = ctgid;
	e->ts_ns = bpf_ktime_get_ns();
	e->has_stats = s != NULL;
	if (s) {
		__builtin_memcpy(e->parent_collections, s->collections, sizeof(e->parent_collections));
		__builtin_memcpy(e->parent_collected, s->collected, sizeof(e->parent_collected));
		__builtin_memcpy(e->parent_uncollectable, s->uncollectable, sizeof(e->parent_uncollectable));
	} else {
		__builtin_memset(e->parent_collections, 0, sizeof(e->parent_collections));
		__builtin_memset(e->parent_collected, 0, sizeof(e->parent_collected));
		__builtin_memset(e->parent_uncollectable, 0, sizeof(e->parent_uncollectable));
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* The counters of a polled process, read through its chain from &_PyRuntime
 * (3.15: each generation's newest ring record, with its candidates and
 * duration). Its thread is the last one, and the memory is still mapped. */
static int read_polled(const struct poll_target *t, struct mm_poll_final_event *e)
{
	struct {
		struct gc_gen_counts c;
		__s64 candidates;
		__u64 duration_bits;
	} rec;
	__u64 addr = t->runtime, buf;
	__s8 idx;
	__u32 i, g;

	for (i = 0; i < MMTRACE_CHAIN_MAX; i++) {
		if (i >= t->site.nderef)
			break;
		if (bpf_probe_read_user(&addr, sizeof(addr), (void *)(addr + t->site.deref_off[i])))
			return -14;	/* EFAULT */
		if (!addr && i == 0)
			addr = t->main_static;
		if (!addr)
			return -2;	/* ENOENT: not initialised, or finalised */
	}
	addr += t->site.stats_off;
	if (!t->site.ring)
		return bpf_probe_read_user(e->counts, sizeof(e->counts), (void *)addr) ? -14 : 0;
	for (g = 0; g < MMTRACE_GENERATIONS; g++) {
		buf = addr + t->site.ring_buf[g];
		if (bpf_probe_read_user(&idx, sizeof(idx), (void *)(buf + t->site.ring_index[g])))
			return -14;
		if (idx < 0 || (__u32)idx >= t->site.ring_len[g])
			return -34;	/* ERANGE */
		if (bpf_probe_read_user(&rec, sizeof(rec),
					(void *)(buf + (__u64)idx * t->site.ring_rec + t->site.ring_counts)))
			return -14;
		e->counts[g] = rec.c;
		e->candidates[g] = rec.candidates;
		e->duration_bits[g] = rec.duration_bits;
	}
	return 0;
}

static void final_poll(__u32 tgid)
{
	struct poll_target *t = bpf_map_lookup_elem(&poll_targets, &tgid);
	struct mm_poll_final_event *e;

	if (!t)
		return;
	e = reserve(sizeof(*e));
	if (e) {
		__builtin_memset(e, 0, sizeof(*e));
		e->kind = MM_EV_POLL_FINAL;
		e->pid = tgid;
		e->ts_ns = bpf_ktime_get_ns();
		e->err = read_polled(t, e);
		if (e->err) {	/* a read that failed part way: nothing of it */
			__builtin_memset(e->counts, 0, sizeof(e->counts));
			__builtin_memset(e->candidates, 0, sizeof(e->candidates));
			__builtin_memset(e->duration_bits, 0, sizeof(e->duration_bits));
		}
		bpf_ringbuf_submit(e, 0);
	}
	bpf_map_delete_elem(&poll_targets, &tgid);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(mm_exit, struct task_struct *p)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, tgid;

	/* a thread that dies inside a collection leaves no begin behind */
	bpf_map_delete_elem(&inflight, &tid);
	bpf_map_delete_elem(&arena_pending, &tid);
	if (stack_depth)
		bpf_map_delete_elem(&gc_stacks, &tid);
	/* live was decremented before this tracepoint: 0 means the last thread */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	final_poll(id >> 32);
	tgid = id >> 32;
	bpf_map_delete_elem(&mmap_watch, &tgid);
	end_process(p, tgid, MM_END_EXIT);
	return 0;
}
