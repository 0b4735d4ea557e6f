// SPDX-License-Identifier: MIT
#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "collect.h"

/* A stack record carries only its frames: copied into a whole event, so
 * that the handler never reads past what arrived. */
static void dispatch_stack(struct collector *c, const void *data, size_t size)
{
	struct mm_stack_event *e = &c->stack_buf;

	memset(e, 0, sizeof(*e));
	memcpy(e, data, size < sizeof(*e) ? size : sizeof(*e));
	if (e->depth > MMTRACE_STACK_MAX || MM_STACK_EVENT_HEAD + e->depth * sizeof(struct py_frame) > size)
		return;
	c->h.on_stack(c->h.ctx, e);
}

/* Records come from our own BPF program, but their size is still checked
 * before a handler reads them as a struct. */
static int dispatch(void *arg, void *data, size_t size)
{
	struct collector *c = arg;
	__u32 kind;

	if (size < sizeof(kind))
		return 0;
	memcpy(&kind, data, sizeof(kind));
	if (kind == MM_EV_EXEC && size >= sizeof(struct mm_exec_event) && c->h.on_exec)
		c->h.on_exec(c->h.ctx, data);
	else if (kind == MM_EV_END && size >= sizeof(struct mm_end_event) && c->h.on_end)
		c->h.on_end(c->h.ctx, data);
	else if (kind == MM_EV_PAUSE && size >= sizeof(struct mm_pause_event) && c->h.on_pause)
		c->h.on_pause(c->h.ctx, data);
	else if (kind == MM_EV_FORK && size >= sizeof(struct mm_fork_event) && c->h.on_fork)
		c->h.on_fork(c->h.ctx, data);
	else if (kind == MM_EV_POLL_FINAL && size >= sizeof(struct mm_poll_final_event) && c->h.on_poll_final)
		c->h.on_poll_final(c->h.ctx, data);
	else if (kind == MM_EV_STACK && size >= MM_STACK_EVENT_HEAD && c->h.on_stack)
		dispatch_stack(c, data, size);
	return 0;
}

int collector_open(struct collector *c, int events_fd, int stats_fd, int watched_fd,
		   const struct collect_handlers *h)
{
	memset(c, 0, sizeof(*c));
	c->h = *h;
	c->stats_fd = stats_fd;
	c->watched_fd = watched_fd;
	c->rb = ring_buffer__new(events_fd, dispatch, c, NULL);
	return c->rb ? 0 : -errno;
}

int collector_add_ring(struct collector *c, int fd)
{
	return ring_buffer__add(c->rb, fd, dispatch, c);
}

int collector_fd(const struct collector *c)
{
	return ring_buffer__epoll_fd(c->rb);
}

int collector_drain(struct collector *c)
{
	int n = ring_buffer__consume(c->rb);

	return n < 0 ? n : 0;
}

void collector_close(struct collector *c)
{
	ring_buffer__free(c->rb);
	c->rb = NULL;
}

int collect_gc_entry(int stats_fd, pid_t pid, struct gc_proc_stats *out)
{
	__u32 key = (__u32)pid;

	return bpf_map_lookup_elem(stats_fd, &key, out) ? -errno : 0;
}

static void sub_each(__u64 *out, const __u64 *now, const __u64 *before, int n)
{
	int i;

	for (i = 0; i < n; i++)
		out[i] = now[i] >= before[i] ? now[i] - before[i] : 0;
}

void gc_stats_delta(struct gc_proc_stats *out, const struct gc_proc_stats *now, const struct gc_proc_stats *before)
{
	int g;

	*out = *now;
	sub_each(out->collections, now->collections, before->collections, MMTRACE_GENERATIONS);
	sub_each(out->collected, now->collected, before->collected, MMTRACE_GENERATIONS);
	sub_each(out->uncollectable, now->uncollectable, before->uncollectable, MMTRACE_GENERATIONS);
	sub_each(out->pause_ns_total, now->pause_ns_total, before->pause_ns_total, MMTRACE_GENERATIONS);
	sub_each(out->pause_ns_max, now->pause_ns_max, before->pause_ns_max, MMTRACE_GENERATIONS);
	for (g = 0; g < MMTRACE_GENERATIONS; g++)
		sub_each(out->pause_hist[g], now->pause_hist[g], before->pause_hist[g], MMTRACE_HIST_SLOTS);
	sub_each(out->sub_collections, now->sub_collections, before->sub_collections, MMTRACE_GENERATIONS);
	sub_each(out->sub_collected, now->sub_collected, before->sub_collected, MMTRACE_GENERATIONS);
	sub_each(out->sub_uncollectable, now->sub_uncollectable, before->sub_uncollectable, MMTRACE_GENERATIONS);
	sub_each(&out->sub_pause_ns_total, &now->sub_pause_ns_total, &before->sub_pause_ns_total, 1);
	sub_each(out->candidates, now->candidates, before->candidates, MMTRACE_GENERATIONS);
	sub_each(&out->read_errors, &now->read_errors, &before->read_errors, 1);
	sub_each(&out->empty_calls, &now->empty_calls, &before->empty_calls, 1);
	sub_each(&out->unmatched_ends, &now->unmatched_ends, &before->unmatched_ends, 1);
}

int collect_watch(const struct collector *c, pid_t pid, __u32 bin_id)
{
	__u32 key = (__u32)pid;

	return bpf_map_update_elem(c->watched_fd, &key, &bin_id, BPF_ANY) ? -errno : 0;
}

void collect_forget(const struct collector *c, pid_t pid)
{
	__u32 key = (__u32)pid;

	bpf_map_delete_elem(c->stats_fd, &key);
	bpf_map_delete_elem(c->watched_fd, &key);
}

static __u32 count_keys(int fd)
{
	__u32 key, next, n = 0;
	void *prev = NULL;

	/* bounded: a hash map never yields more keys than its capacity */
	while (n < MMTRACE_MAX_PROCS * 2 && !bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		n++;
	}
	return n;
}

void collect_map_usage(const struct collector *c, struct map_usage *u)
{
	u->proc_stats = count_keys(c->stats_fd);
	u->watched = count_keys(c->watched_fd);
	u->max = MMTRACE_MAX_PROCS;
}

__u64 gc_sum(const __u64 per_gen[MMTRACE_GENERATIONS])
{
	__u64 s = 0;
	int g;

	for (g = 0; g < MMTRACE_GENERATIONS; g++)
		s += per_gen[g];
	return s;
}
