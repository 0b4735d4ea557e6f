// SPDX-License-Identifier: GPL-2.0
/*
 * Exact allocation accounting (--alloc=exact): every call of the raw, mem
 * and obj allocators, their results, and per-type deallocations.
 *
 * This is the expensive level: one uprobe per call and one uretprobe per
 * allocation. User space opts in and says so.
 *
 * pymalloc hands obj and mem requests of 0 or over 512 bytes to
 * PyMem_RawMalloc & co. Such a raw call, made from inside the obj/mem call
 * for the same request, is the fallback: the outer domain counts it once,
 * and the raw domain does not count it again. A per-thread stack of calls in
 * flight tells nested calls from the interpreter's own raw allocations.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "alloc.h"
#include "events.h"
#include "bits.bpf.h"
#include "maps.bpf.h"
#include "pystack.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* object layout of default (not free-threaded) builds, 3.8-3.14 */
const volatile __u64 ob_type_off = 8;	/* PyObject.ob_type */
const volatile __u64 tp_name_off = 24;	/* PyTypeObject.tp_name */
/* sampled stacks: one per sample_bytes requested by a thread; 0: none */
const volatile __u64 sample_bytes = 0;
const volatile __u32 stack_depth = 64;

/* what was not counted, by cause (enum mm_drop): table_full, samples_lost */
__u64 drops[MM_DROPS] = {};

#define MAX_NEST 4	/* power of 2: obj -> raw fallback needs 2 */

struct pending {
	__u64 a0, a1;		/* the call's arguments: size | nelem, elsize | ptr, size */
	__u64 ts_ns;
	__u32 domain, call;
	__u32 nested;		/* a fallback inside an obj/mem call: not counted again */
	__u32 pad;
};

struct call_stack {
	__u32 depth;
	__u32 pad;
	__u64 last_free;	/* pointer of this thread's last obj/mem free */
	__u64 unsampled;	/* bytes requested since this thread's last sampled stack */
	struct pending p[MAX_NEST];
};

struct block_key {
	__u64 ptr;
	__u32 tgid;
	__u32 pad;
};

struct block {
	__u64 size;
	__u64 ts_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct alloc_exact_stats);
} exact_stats SEC(".maps");

/* threads come and go: the least recently used stack goes first */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct call_stack);
} stacks SEC(".maps");

/* blocks allocated while traced; memory is taken as blocks live, not up front */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 20);
	__type(key, struct block_key);
	__type(value, struct block);
} blocks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 8192);
	__type(key, struct type_key);
	__type(value, struct type_counts);
} types SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MMTRACE_EXACT_SITES);
	__type(key, __u32);
	__type(value, struct exact_site);
} exact_sites SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} samples SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mm_stack_event);
} sample_scratch SEC(".maps");

static const struct alloc_exact_stats zero_stats;
static const struct call_stack zero_stack;

static struct alloc_exact_stats *stats_of(__u32 tgid)
{
	struct alloc_exact_stats *s = lookup_or_try_init(&exact_stats, &tgid, &zero_stats);

	if (!s)
		__sync_fetch_and_add(&drops[DROP_TABLE_FULL], 1);
	return s;
}

static struct call_stack *stack_of(__u32 tid)
{
	return lookup_or_try_init(&stacks, &tid, &zero_stack);
}

static __u32 domain_index(__u32 d)
{
	return d < ALLOC_DOMAINS ? d : DOMAIN_RAW;
}

/* Constant offsets: the verifier cannot bound a computed index into a map
 * value once the compiler has folded the range check away. */
static struct alloc_domain_stats *domain_of(struct alloc_exact_stats *s, __u32 d)
{
	barrier_var(d);
	if (d == DOMAIN_OBJ)
		return &s->d[DOMAIN_OBJ];
	if (d == DOMAIN_MEM)
		return &s->d[DOMAIN_MEM];
	return &s->d[DOMAIN_RAW];
}

static __u64 requested_bytes(const struct pending *p)
{
	if (p->call == CALL_CALLOC)
		return p->a0 * p->a1;
	return p->call == CALL_REALLOC ? p->a1 : p->a0;
}

#define PY_SSIZE_T_MAX 0x7fffffffffffffffULL

/* CPython refuses a request over PY_SSIZE_T_MAX bytes, and a calloc whose
 * nelem * elsize would be, with NULL before any allocator runs (the
 * product may have wrapped to a small size): the call counts, its bytes
 * do not, and its NULL counts as failed at the return. */
static bool refused(const struct pending *p)
{
	if (p->call == CALL_CALLOC)
		return p->a1 && p->a0 > PY_SSIZE_T_MAX / p->a1;
	return requested_bytes(p) > PY_SSIZE_T_MAX;
}

/* The raw call inside an obj/mem call that serves the same request. */
static bool is_fallback(const struct pending *outer, __u32 call, __u64 a0, __u64 a1)
{
	switch (outer->call) {
	case CALL_MALLOC:
		return call == CALL_MALLOC && a0 == outer->a0;
	case CALL_CALLOC:
		return call == CALL_CALLOC && a0 == outer->a0 && a1 == outer->a1;
	case CALL_REALLOC:
		return (call == CALL_REALLOC && a0 == outer->a0 && a1 == outer->a1) ||
		       (call == CALL_MALLOC && a0 == outer->a1);
	default:
		return false;
	}
}

static void count_request(struct alloc_domain_stats *d, __u32 call, __u64 bytes)
{
	__u32 slot = log2_u64(bytes);

	__sync_fetch_and_add(&d->calls[call & (ALLOC_CALLS - 1)], 1);
	__sync_fetch_and_add(&d->bytes_requested, bytes);
	if (slot >= MMTRACE_HIST_SLOTS)
		slot = MMTRACE_HIST_SLOTS - 1;
	__sync_fetch_and_add(&d->size_hist[slot], 1);
	if (bytes >= 1 && bytes <= MMTRACE_SMALL_REQUEST)
		__sync_fetch_and_add(&d->small_class[((bytes - 1) >> 4) & (MMTRACE_SMALL_CLASSES - 1)], 1);
}

/* An obj or mem request that pymalloc handed to the raw domain: seen as
 * the raw call made inside it for the same request. */
static void count_fallback(struct alloc_domain_stats *d, const struct pending *raw)
{
	__sync_fetch_and_add(&d->fallback_calls, 1);
	__sync_fetch_and_add(&d->fallback_bytes, requested_bytes(raw));
}

/* Go and tcmalloc's rule: a stack per sample_bytes requested, weighted by
 * the bytes since the thread's last one, so that stacks do not multiply
 * the cost of every call. */
static void sample_stack(struct pt_regs *ctx, __u64 cookie, struct call_stack *st, __u64 bytes)
{
	__u32 idx = ALLOC_COOKIE_SITE(cookie), zero = 0;
	struct mm_stack_event *e;
	struct exact_site *site;
	__u64 id;

	st->unsampled += bytes;
	if (!sample_bytes || st->unsampled < sample_bytes || !idx)
		return;
	site = bpf_map_lookup_elem(&exact_sites, &idx);
	e = bpf_map_lookup_elem(&sample_scratch, &zero);
	if (!site || !e)
		return;
	id = bpf_get_current_pid_tgid();
	e->kind = MM_EV_STACK;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->metric = STACK_SAMPLE;
	e->generation = 0;
	e->bin_id = 0;
	e->weight = st->unsampled;
	e->pause_ns = 0;
	st->unsampled = 0;
	walk_python_stack(PT_REGS_IP(ctx) + site->runtime_delta, &site->stack, stack_depth, e);
	if (!stack_output(&samples, e))
		__sync_fetch_and_add(&drops[DROP_SAMPLES_LOST], 1);
}

SEC("uprobe")
int alloc_enter(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), cookie = bpf_get_attach_cookie(ctx);
	__u64 a0 = PT_REGS_PARM1(ctx), a1 = PT_REGS_PARM2(ctx);
	struct pending p = { .a0 = a0, .a1 = a1, .domain = domain_index(ALLOC_COOKIE_DOMAIN(cookie)),
			     .call = ALLOC_COOKIE_CALL(cookie) & (ALLOC_CALLS - 1) };
	struct alloc_exact_stats *s;
	struct call_stack *st;
	__u32 depth;

	st = stack_of((__u32)id);
	s = stats_of(id >> 32);
	if (!st || !s)
		return 0;
	depth = st->depth;
	/* a fallback's free comes right after its outer free, before any other call */
	st->last_free = 0;
	if (p.domain == DOMAIN_RAW && depth > 0 && depth <= MAX_NEST) {
		struct pending *outer = &st->p[(depth - 1) & (MAX_NEST - 1)];

		p.nested = outer->domain != DOMAIN_RAW && is_fallback(outer, p.call, a0, a1);
		if (p.nested)
			count_fallback(domain_of(s, outer->domain), &p);
	}
	p.ts_ns = bpf_ktime_get_ns();
	if (depth < MAX_NEST)
		st->p[depth & (MAX_NEST - 1)] = p;
	st->depth = depth + 1;
	if (p.nested)
		return 0;
	if (refused(&p)) {
		__sync_fetch_and_add(&domain_of(s, p.domain)->calls[p.call], 1);
		return 0;
	}
	count_request(domain_of(s, p.domain), p.call, requested_bytes(&p));
	/* raw calls may run without the GIL, whose holder the stack walk reads */
	if (p.domain != DOMAIN_RAW)
		sample_stack(ctx, cookie, st, requested_bytes(&p));
	return 0;
}

static void forget_block(struct alloc_exact_stats *s, __u32 domain, __u32 tgid, __u64 ptr)
{
	struct alloc_domain_stats *d = domain_of(s, domain);
	struct block_key k = { .ptr = ptr, .tgid = tgid };
	struct block *b = bpf_map_lookup_elem(&blocks, &k);
	__u32 slot;

	__sync_fetch_and_add(&d->blocks_freed, 1);
	if (!b) {
		__sync_fetch_and_add(&d->freed_unknown, 1);
		return;
	}
	__sync_fetch_and_add(&d->bytes_freed, b->size);
	__sync_fetch_and_add(&d->live_bytes, -(__s64)b->size);
	if (domain == DOMAIN_OBJ) {
		slot = log2_u64(bpf_ktime_get_ns() - b->ts_ns);
		if (slot >= MMTRACE_HIST_SLOTS)
			slot = MMTRACE_HIST_SLOTS - 1;
		__sync_fetch_and_add(&s->lifetime_hist[slot], 1);
	}
	bpf_map_delete_elem(&blocks, &k);
}

static void remember_block(struct alloc_exact_stats *s, const struct pending *p, __u32 tgid, __u64 ptr)
{
	struct alloc_domain_stats *d = domain_of(s, p->domain);
	struct block_key k = { .ptr = ptr, .tgid = tgid };
	struct block b = { .size = requested_bytes(p), .ts_ns = p->ts_ns };

	__sync_fetch_and_add(&d->blocks_allocated, 1);
	if (bpf_map_update_elem(&blocks, &k, &b, BPF_ANY)) {
		__sync_fetch_and_add(&s->untracked, 1);
		return;
	}
	__sync_fetch_and_add(&d->live_bytes, (__s64)b.size);
}

SEC("uretprobe")
int alloc_return(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), ret = PT_REGS_RC(ctx);
	struct alloc_exact_stats *s = stats_of(id >> 32);
	struct call_stack *st = bpf_map_lookup_elem(&stacks, &(__u32){ (__u32)id });
	struct pending p;
	__u32 depth;

	if (!s)
		return 0;
	if (!st || !st->depth) {
		__sync_fetch_and_add(&s->unmatched, 1);	/* attached while the call ran */
		return 0;
	}
	depth = --st->depth;
	if (depth >= MAX_NEST) {
		__sync_fetch_and_add(&s->unmatched, 1);
		return 0;
	}
	p = st->p[depth & (MAX_NEST - 1)];
	if (p.nested)
		return 0;
	if (!ret) {
		__sync_fetch_and_add(&domain_of(s, p.domain)->failed, 1);
		return 0;
	}
	/* realloc: the free of the old block and the allocation of the new one */
	if (p.call == CALL_REALLOC && p.a0)
		forget_block(s, p.domain, id >> 32, p.a0);
	remember_block(s, &p, id >> 32, ret);
	if (ret == st->last_free)
		st->last_free = 0;
	return 0;
}

SEC("uprobe")
int alloc_free(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), ptr = PT_REGS_PARM1(ctx);
	__u32 domain = domain_index(ALLOC_COOKIE_DOMAIN(bpf_get_attach_cookie(ctx)));
	struct alloc_exact_stats *s;
	struct call_stack *st = stack_of((__u32)id);

	if (!st)
		return 0;
	/* PyObject_Free of a fallback block calls PyMem_RawFree on it, at once */
	if (domain == DOMAIN_RAW) {
		bool fallback = ptr && st->last_free == ptr;

		st->last_free = 0;
		if (fallback)
			return 0;
	} else {
		st->last_free = ptr;
	}
	s = stats_of(id >> 32);
	if (!s)
		return 0;
	__sync_fetch_and_add(&domain_of(s, domain)->calls[CALL_FREE], 1);
	if (ptr)
		forget_block(s, domain, id >> 32, ptr);
	return 0;
}

/* tp_name; it may sit in a page the target has not touched yet, which a
 * probe cannot fault in: a failed read is retried at the type's next event. */
static void read_type_name(__u64 type, char *name)
{
	__u64 str = 0;

	if (!bpf_probe_read_user(&str, sizeof(str), (void *)(type + tp_name_off)) && str)
		bpf_probe_read_user_str(name, MMTRACE_TYPE_NAME_LEN, (void *)str);
}

/* A type's counters, created at its first event. */
static struct type_counts *counts_of(__u32 tgid, __u64 type, struct alloc_exact_stats *s)
{
	struct type_key k = { .tgid = tgid, .type = type };
	struct type_counts *c, fresh = {};

	if (!type)
		return NULL;
	c = bpf_map_lookup_elem(&types, &k);
	if (c) {
		if (!c->name[0])
			read_type_name(type, c->name);
		return c;
	}
	read_type_name(type, fresh.name);
	if (bpf_map_update_elem(&types, &k, &fresh, BPF_NOEXIST) && !bpf_map_lookup_elem(&types, &k)) {
		__sync_fetch_and_add(&s->types_dropped, 1);
		return NULL;
	}
	return bpf_map_lookup_elem(&types, &k);
}

/* The type of an object, from its header. */
static struct type_counts *type_of(__u32 tgid, __u64 op, struct alloc_exact_stats *s)
{
	__u64 type = 0;

	if (bpf_probe_read_user(&type, sizeof(type), (void *)(op + ob_type_off)))
		return NULL;
	return counts_of(tgid, type, s);
}

enum type_event { TYPE_ALLOC, TYPE_DEALLOC, TYPE_WEAKREF_CLEAR };

/* One event of a type, counted for the process and for the type. The
 * argument is the type itself (allocations) or an object of it. */
static int count_type_event(struct pt_regs *ctx, enum type_event ev)
{
	__u64 id = bpf_get_current_pid_tgid(), arg = PT_REGS_PARM1(ctx);
	struct alloc_exact_stats *s = stats_of(id >> 32);
	struct type_counts *c;

	if (!s)
		return 0;
	__sync_fetch_and_add(ev == TYPE_ALLOC ? &s->type_allocs : ev == TYPE_DEALLOC ? &s->deallocs :
			     &s->weakref_clears, 1);
	c = ev == TYPE_ALLOC ? counts_of(id >> 32, arg, s) : type_of(id >> 32, arg, s);
	if (c)
		__sync_fetch_and_add(ev == TYPE_ALLOC ? &c->allocs : ev == TYPE_DEALLOC ? &c->deallocs :
				     &c->weakref_clears, 1);
	return 0;
}

/* PyType_GenericAlloc(type, n), _PyObject_New(type), _PyObject_GC_New(type)
 * and their Var forms */
SEC("uprobe")
int type_alloc(struct pt_regs *ctx)
{
	return count_type_event(ctx, TYPE_ALLOC);
}

/* _Py_Dealloc(op), or subtype_dealloc(op) where LTO inlined it */
SEC("uprobe")
int obj_dealloc(struct pt_regs *ctx)
{
	return count_type_event(ctx, TYPE_DEALLOC);
}

SEC("uprobe")
int weakref_clear(struct pt_regs *ctx)
{
	return count_type_event(ctx, TYPE_WEAKREF_CLEAR);
}
