// SPDX-License-Identifier: GPL-2.0
/*
 * The life of a tracked process: its exec (a new image; discovery,
 * system-wide or for a process mmtrace follows), its fork (a child that
 * inherits its parent's counts, system-wide) and its exit, where its final
 * counters (or a polled interpreter's last reading) go to user space and
 * its entries are deleted, which keeps the maps bounded by live processes.
 */
#include "gc_common.bpf.h"

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
	/* one process mmtrace follows (-p, -- CMD) is followed into its new image */
	bool followed = system_wide || bpf_map_lookup_elem(&watched, &tgid);
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
	if (!followed)
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
