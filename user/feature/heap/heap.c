// SPDX-License-Identifier: MIT
/*
 * The walk follows sys._debugmallocstats(): every arena with an address,
 * every pool from the arena's first pool-aligned address up to its
 * pool_address, a pool in use when ref.count is not 0.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "heap.h"

/* struct arena_object and struct pool_header, 3.8-3.13 on 64-bit */
struct arena_obj {
	uint64_t address;
	uint64_t pool_address;
	uint32_t nfreepools, ntotalpools;
	uint64_t freepools, nextarena, prevarena;
};

struct pool_hdr {
	uint32_t count;		/* union with a block pointer: the low half on little endian */
	uint32_t pad;
	uint64_t freeblock, nextpool, prevpool;
	uint32_t arenaindex, szidx, nextoffset, maxnextoffset;
};

#define POOL_OVERHEAD 48	/* sizeof(struct pool_header), 16-aligned */

static int rd(const struct mem_reader *r, uint64_t addr, void *buf, size_t len)
{
	return r->read(r->ctx, addr, buf, len);
}

static int follow(const struct mem_reader *r, const struct heap_chain *c, uint64_t *out)
{
	uint64_t a = c->base;
	int i;

	if (!a || c->nderef > HEAP_CHAIN_MAX)
		return -EINVAL;
	for (i = 0; i < c->nderef; i++) {
		if (rd(r, a + c->off[i], &a, sizeof(a)))
			return -EFAULT;
		if (!a)
			return -EFAULT;
	}
	*out = a + c->last;
	return 0;
}

struct counters {
	uint64_t arenas, maxarenas, current, total, highwater;
};

static int read_u64(const struct mem_reader *r, uint64_t addr, uint64_t *v)
{
	return rd(r, addr, v, sizeof(*v));
}

static int read_counters(const struct mem_reader *r, const struct heap_layout *l, struct counters *c)
{
	uint64_t base = 0;
	uint32_t max32 = 0;

	if (l->fields_are_offsets && follow(r, &l->mgmt, &base))
		return -EFAULT;
	if (read_u64(r, base + l->arenas, &c->arenas) || rd(r, base + l->maxarenas, &max32, sizeof(max32)) ||
	    read_u64(r, base + l->narenas_current, &c->current) ||
	    read_u64(r, base + l->ntimes_allocated, &c->total) || read_u64(r, base + l->highwater, &c->highwater))
		return -EFAULT;
	c->maxarenas = max32;
	return 0;
}

static int bad(struct heap_snapshot *s, const char *what)
{
	snprintf(s->why, sizeof(s->why), "%s", what);
	return -EINVAL;
}

/* One pool header: taken into account when it is plausible for the layout. */
static int take_pool(const struct heap_layout *l, const struct pool_hdr *p, struct heap_snapshot *s)
{
	uint64_t size, nblocks;

	if (p->count == 0)
		return 0;	/* an emptied pool: the arena's nfreepools counts it */
	if (p->szidx >= HEAP_CLASSES)
		return bad(s, "a pool header names a size class above 31: not pymalloc's layout");
	size = heap_class_size((int)p->szidx);
	nblocks = (l->pool_size - POOL_OVERHEAD) / size;
	if (p->count > nblocks)
		return bad(s, "a pool claims more blocks than fit in it: not pymalloc's layout");
	s->pools_used++;
	s->classes[p->szidx].pools++;
	s->classes[p->szidx].blocks_in_use += p->count;
	s->classes[p->szidx].free_blocks += nblocks - p->count;
	s->bytes_in_use += (uint64_t)p->count * size;
	s->bytes_in_pools += l->pool_size;
	return 0;
}

/* n pool headers: in one batch where the reader can, else one by one */
static int read_pools(const struct mem_reader *r, const uint64_t *addrs, struct pool_hdr *out, int n)
{
	int i;

	if (r->read_batch)
		return r->read_batch(r->ctx, addrs, sizeof(*out), out, n);
	for (i = 0; i < n; i++)
		if (rd(r, addrs[i], &out[i], sizeof(out[i])))
			return -EFAULT;
	return 0;
}

static int walk_arena(const struct mem_reader *r, const struct heap_layout *l, const struct arena_obj *a,
		      struct heap_snapshot *s)
{
	uint64_t mask = l->pool_size - 1, base = a->address, addrs[READER_MAX_BATCH], left;
	struct pool_hdr p[READER_MAX_BATCH];
	int n, i;

	if (a->pool_address < a->address || a->pool_address - a->address > l->arena_size)
		return bad(s, "an arena's pool_address lies outside it: not pymalloc's layout");
	if (base & mask)
		base = (base & ~mask) + l->pool_size;
	/* pools up to pool_address, which lies within the arena: at most
	 * arena_size / pool_size, whatever the target says (and no wrap) */
	left = l->arena_size / l->pool_size + 1;
	while (base < a->pool_address && base >= a->address && left) {
		for (n = 0; n < READER_MAX_BATCH && base < a->pool_address && left; n++, left--, base += l->pool_size)
			addrs[n] = base;
		if (read_pools(r, addrs, p, n))
			return bad(s, "a pool header could not be read (the arena was freed meanwhile?)");
		for (i = 0; i < n; i++)
			if (take_pool(l, &p[i], s))
				return -EINVAL;
	}
	s->pools_free += a->nfreepools;
	return 0;
}

static int walk_pymalloc(const struct mem_reader *r, const struct heap_layout *l, struct heap_snapshot *s)
{
	struct counters c;
	struct arena_obj a;
	uint64_t i;

	if (read_counters(r, l, &c))
		return bad(s, "pymalloc's state could not be read at the addresses the layout gives");
	s->arenas_total = c.total;
	s->arenas_current = c.current;
	s->arenas_highwater = c.highwater;
	if (c.maxarenas > HEAP_MAX_ARENAS || c.current > c.maxarenas || c.highwater > c.maxarenas)
		return bad(s, "pymalloc's arena counts are implausible: not pymalloc's layout");
	if (c.maxarenas && !c.arenas)
		return bad(s, "pymalloc's arena table is NULL while it has entries");
	for (i = 0; i < c.maxarenas; i++) {
		if (rd(r, c.arenas + i * sizeof(a), &a, sizeof(a)))
			return bad(s, "pymalloc's arena table could not be read");
		if (!a.address)
			continue;
		s->arenas_walked++;
		s->bytes_in_arenas += l->arena_size;
		if (walk_arena(r, l, &a, s))
			return -EINVAL;
	}
	return 0;
}

/* The length of a generation's list: PyGC_Head._gc_next links back to the
 * head. A cycle that does not pass the head ends at the bound. */
static int64_t list_length(const struct mem_reader *r, uint64_t head)
{
	uint64_t node;
	int64_t n = 0;

	if (read_u64(r, head, &node))
		return -1;
	while (node != head) {
		if (n >= HEAP_GC_LIST_MAX || !node || read_u64(r, node, &node))
			return -1;
		n++;
	}
	return n;
}

/* The young generation's list head must be a list: its first node links
 * back to it (_gc_prev keeps flags in its low two bits). A layout that puts
 * the generations at the wrong offset fails here instead of printing
 * numbers read from some other field. */
static bool gen0_links_back(const struct mem_reader *r, uint64_t head)
{
	uint64_t h[2], prev;

	if (rd(r, head, h, sizeof(h)) || !h[0] || !h[1])
		return false;
	if (h[0] == head)
		return h[1] == head;	/* an empty list points at itself */
	return !read_u64(r, h[0] + 8, &prev) && (prev & ~3ull) == head;
}

static int ring_bad(char *why, size_t len, const char *what)
{
	if (why && len)
		snprintf(why, len, "%s", what);
	return -EINVAL;
}

/* One record's totals, at rec (64 bytes inside the buffer). */
static int ring_record(const uint8_t *rec, struct heap_gc_totals *t, char *why, size_t len)
{
	memcpy(&t->collections, rec + 16, 8);
	memcpy(&t->collected, rec + 24, 8);
	memcpy(&t->uncollectable, rec + 32, 8);
	memcpy(&t->candidates, rec + 40, 8);
	memcpy(&t->duration, rec + 48, 8);
	if (t->collections < 0 || t->collected < 0 || t->uncollectable < 0 || t->candidates < 0)
		return ring_bad(why, len, "a GC stats record holds a negative total: not CPython's gc_stats");
	if (!isfinite(t->duration) || t->duration < 0)
		return ring_bad(why, len, "a GC stats record's duration is not a time: not CPython's gc_stats");
	return 0;
}

int heap_parse_gc_ring(const void *buf, size_t len, struct heap_gc_totals out[HEAP_GENERATIONS], char *why,
		       size_t whylen)
{
	const uint8_t *b = buf;
	size_t base, items, index_at;
	int8_t idx;
	int g;

	if (len < HEAP_RING_MIN)
		return ring_bad(why, whylen, "the GC stats block is smaller than 3.15's rings");
	for (g = 0; g < HEAP_GENERATIONS; g++) {
		/* generation 0 is the young ring, 1 and 2 the old ones */
		base = g ? HEAP_RING_OLD + (size_t)(g - 1) * HEAP_RING_OLD_BUF : 0;
		items = g ? HEAP_RING_OLD_ITEMS : HEAP_RING_YOUNG_ITEMS;
		index_at = base + items * HEAP_RING_REC;
		idx = (int8_t)b[index_at];
		if (idx < 0 || (size_t)idx >= items)
			return ring_bad(why, whylen, "a GC stats ring index is outside its buffer: not CPython's gc_stats");
		if (ring_record(b + base + (size_t)idx * HEAP_RING_REC, &out[g], why, whylen))
			return -EINVAL;
	}
	return 0;
}

/* 3.15: the ring behind gcstate's pointer, read until two reads agree. */
static void read_ring(const struct mem_reader *r, const struct heap_layout *l, uint64_t gcstate,
		      struct heap_snapshot *s)
{
	uint8_t a[HEAP_RING_MAX], b[HEAP_RING_MAX];
	size_t len = (size_t)l->gc_ring_size;
	uint64_t ptr;
	int try;

	if (!l->gc_ring) {
		snprintf(s->ring_why, sizeof(s->ring_why), "%s", l->gc_ring_why);
		return;
	}
	if (len < HEAP_RING_MIN || len > HEAP_RING_MAX) {
		snprintf(s->ring_why, sizeof(s->ring_why), "gc_stats is %zu bytes: not 3.15's rings", len);
		return;
	}
	if (read_u64(r, gcstate + l->gc_ring_ptr_off, &ptr) || !ptr) {
		/* NULL before _PyGC_Init and after _PyGC_Fini */
		snprintf(s->ring_why, sizeof(s->ring_why), "gcstate.generation_stats is not readable or NULL");
		return;
	}
	if (rd(r, ptr, a, len)) {
		snprintf(s->ring_why, sizeof(s->ring_why), "the GC stats block could not be read");
		return;
	}
	/* a collection that ends between two reads changes the block: a third
	 * read that equals the second is a block no collection was writing */
	for (try = 0; try < 3 && !s->ring_consistent; try++) {
		if (rd(r, ptr, b, len))
			break;
		s->ring_consistent = !memcmp(a, b, len);
		memcpy(a, b, len);
	}
	if (heap_parse_gc_ring(a, len, s->ring, s->ring_why, sizeof(s->ring_why)))
		return;
	s->ring_ok = true;
}

static void read_gc(const struct mem_reader *r, const struct heap_layout *l, struct heap_snapshot *s)
{
	struct { uint64_t head[2]; int32_t threshold, count; } gen[HEAP_GENERATIONS];
	uint64_t gcstate;
	int32_t enabled;
	int g;

	if (!l->gc || follow(r, &l->gcstate, &gcstate) ||
	    rd(r, gcstate + l->gc_enabled_off, &enabled, sizeof(enabled)) ||
	    rd(r, gcstate + l->gc_generations_off, gen, sizeof(gen))) {
		if (!s->why[0])
			snprintf(s->why, sizeof(s->why), "the GC state could not be read");
		return;
	}
	if (enabled != 0 && enabled != 1) {
		snprintf(s->why, sizeof(s->why), "gcstate.enabled is %d: not CPython's GC state", enabled);
		return;
	}
	if (!gen0_links_back(r, gcstate + l->gc_generations_off)) {
		snprintf(s->why, sizeof(s->why), "the youngest generation at gcstate+%llu is not a GC list: "
			 "not this build's GC layout", (unsigned long long)l->gc_generations_off);
		return;
	}
	s->gc_enabled = enabled;
	for (g = 0; g < HEAP_GENERATIONS; g++) {
		s->threshold[g] = gen[g].threshold;
		s->count[g] = gen[g].count;
		s->objects[g] = g < HEAP_GC_WALKED ?
			list_length(r, gcstate + l->gc_generations_off + (uint64_t)g * sizeof(gen[0])) : -1;
	}
	s->gc_ok = true;
	read_ring(r, l, gcstate, s);
}

static bool same_heap(const struct heap_snapshot *a, const struct heap_snapshot *b)
{
	return a->arenas_total == b->arenas_total && a->arenas_walked == b->arenas_walked &&
	       a->pools_used == b->pools_used && !memcmp(a->classes, b->classes, sizeof(a->classes));
}

void heap_snapshot(const struct mem_reader *r, const struct heap_layout *l, struct heap_snapshot *s)
{
	struct heap_snapshot again;

	memset(s, 0, sizeof(*s));
	if (!l->pymalloc) {
		snprintf(s->why, sizeof(s->why), "%s", l->why);
	} else if (l->pool_size < 4096 || l->pool_size & (l->pool_size - 1) || l->arena_size < l->pool_size) {
		bad(s, "internal: an impossible pool or arena size in the layout");
	} else if (!walk_pymalloc(r, l, s)) {
		/* a second walk tells a still heap from one that moved under the reads */
		memset(&again, 0, sizeof(again));
		s->pymalloc_ok = true;
		s->consistent = !walk_pymalloc(r, l, &again) && same_heap(s, &again);
	}
	read_gc(r, l, s);
}
