// SPDX-License-Identifier: GPL-2.0
/*
 * Allocator growth: pymalloc's slow paths only, so the cost is per arena
 * (1 MiB) or per pool (16 KiB), never per allocation. Where the symbols
 * lack, arenas are counted at a watched process's mmap and munmap of
 * exactly an arena's size.
 */
#include "gc_common.bpf.h"

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
