// SPDX-License-Identifier: MIT
/* libFuzzer target: the readers of target memory. The input is the
 * "process image": its first bytes choose a layout (3.8-3.11 statics or
 * 3.12+ state behind pointers, pool and arena sizes), the rest is memory
 * mapped at IMAGE_BASE. Whatever the bytes say, the walk must end, read only
 * inside the image, and keep its figures consistent. The same bytes are
 * also 3.15's GC stats block (the ring) for its parser, and, through the
 * layout, the block gcstate's pointer names. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "heap.h"

#define IMAGE_BASE 0x10000000ull

struct image {
	const uint8_t *data;
	size_t size;
	unsigned long reads;
};

static int read_image(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct image *im = ctx;

	im->reads++;
	if (addr < IMAGE_BASE || addr - IMAGE_BASE > im->size || len > im->size - (addr - IMAGE_BASE))
		return -EFAULT;
	memcpy(buf, im->data + (addr - IMAGE_BASE), len);
	return 0;
}

static int read_image_batch(void *ctx, const uint64_t *addrs, size_t len, void *buf, int n)
{
	int i;

	if (n <= 0 || n > READER_MAX_BATCH)
		abort();	/* the walker must keep to the batch bound */
	for (i = 0; i < n; i++)
		if (read_image(ctx, addrs[i], (char *)buf + (size_t)i * len, len))
			return -EFAULT;
	return 0;
}

static void choose_layout(const uint8_t *cfg, struct heap_layout *l)
{
	static const uint64_t pools[] = { 4096, 16384 }, arenas[] = { 256 << 10, 1 << 20 };

	memset(l, 0, sizeof(*l));
	l->pymalloc = true;
	l->gc = true;
	l->pool_size = pools[cfg[0] & 1];
	l->arena_size = arenas[(cfg[0] >> 1) & 1];
	l->gcstate.base = IMAGE_BASE + cfg[1];
	l->gcstate.nderef = cfg[2] % 3;
	l->gcstate.off[0] = cfg[3];
	l->gcstate.off[1] = cfg[4];
	l->gc_enabled_off = 12;
	l->gc_generations_off = 24;
	/* 3.15's ring: any pointer offset, a size around the real one */
	l->gc_ring = cfg[0] & 16;
	l->gc_ring_ptr_off = cfg[9];
	l->gc_ring_size = HEAP_RING_MIN - 64 + (uint64_t)cfg[3] * 16;
	if (cfg[0] & 4) {	/* 3.12+: fields are offsets from a state behind pointers */
		l->fields_are_offsets = true;
		l->mgmt.base = IMAGE_BASE + cfg[5];
		l->mgmt.nderef = 1 + (cfg[6] & 1);
		l->mgmt.off[0] = cfg[7];
		l->mgmt.off[1] = cfg[8];
		l->arenas = 0;
		l->maxarenas = 8;
		l->narenas_current = 16;
		l->ntimes_allocated = 24;
		l->highwater = 32;
	} else {		/* 3.8-3.11: statics at fixed addresses */
		l->arenas = IMAGE_BASE + cfg[5];
		l->maxarenas = IMAGE_BASE + cfg[6];
		l->narenas_current = IMAGE_BASE + cfg[7];
		l->ntimes_allocated = IMAGE_BASE + cfg[8];
		l->highwater = IMAGE_BASE + cfg[9];
	}
}

/* what the parser promises of a ring it accepts */
static void check_ring(const struct heap_gc_totals *t)
{
	int g;

	for (g = 0; g < HEAP_GENERATIONS; g++)
		if (t[g].collections < 0 || t[g].collected < 0 || t[g].uncollectable < 0 || t[g].candidates < 0 ||
		    !isfinite(t[g].duration) || t[g].duration < 0)
			abort();
}

/* the DWARF cache would keep a record per input: none while fuzzing */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setenv("MMTRACE_CACHE_DIR", "", 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct image im = { data, size, 0 };
	struct mem_reader r = { read_image, NULL, &im };
	struct heap_layout l;
	struct heap_snapshot s;
	struct heap_gc_totals ring[HEAP_GENERATIONS];
	char why[160];
	uint64_t used = 0, pools = 0;
	int c;

	if (size < 10)
		return 0;
	choose_layout(data, &l);
	if (data[0] & 8)
		r.read_batch = read_image_batch;
	/* the ring parser alone, on the whole input */
	if (!heap_parse_gc_ring(data, size, ring, why, sizeof(why)))
		check_ring(ring);
	heap_snapshot(&r, &l, &s);
	if (s.ring_ok)
		check_ring(s.ring);
	if (!s.pymalloc_ok)
		return 0;
	for (c = 0; c < HEAP_CLASSES; c++) {
		used += s.classes[c].blocks_in_use * heap_class_size(c);
		pools += s.classes[c].pools;
	}
	if (used != s.bytes_in_use || pools != s.pools_used || s.arenas_walked > HEAP_MAX_ARENAS)
		abort();
	return 0;
}
