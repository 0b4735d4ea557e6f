// SPDX-License-Identifier: MIT
#include "json.h"
#include "present.h"
#include "present_heap.h"

static double mib(unsigned long long b)
{
	return (double)b / (1024.0 * 1024.0);
}

/* the share of pool memory that holds no live block */
static double fragmentation(const struct heap_class *c, int cls, uint64_t pool_size)
{
	double pool = (double)c->pools * (double)pool_size;

	return pool > 0 ? 1.0 - (double)c->blocks_in_use * (double)heap_class_size(cls) / pool : 0.0;
}

static void text_classes(FILE *f, const struct heap_view *v)
{
	const struct heap_snapshot *s = v->snap;
	uint64_t pools = 0, used = 0, avail = 0;
	int c;

	fprintf(f, "  %5s %5s %7s %13s %12s %13s %12s %6s\n", "CLASS", "SIZE", "POOLS", "BLOCKS_IN_USE",
		"FREE_BLOCKS", "BYTES_IN_USE", "POOL_BYTES", "FRAG%");
	for (c = 0; c < HEAP_CLASSES; c++) {
		const struct heap_class *k = &s->classes[c];

		if (!k->pools)
			continue;
		pools += k->pools;
		used += k->blocks_in_use;
		avail += k->free_blocks;
		fprintf(f, "  %5d %5llu %7llu %13llu %12llu %13llu %12llu %6.1f\n", c,
			(unsigned long long)heap_class_size(c), (unsigned long long)k->pools,
			(unsigned long long)k->blocks_in_use, (unsigned long long)k->free_blocks,
			(unsigned long long)(k->blocks_in_use * heap_class_size(c)),
			(unsigned long long)(k->pools * v->layout->pool_size),
			100.0 * fragmentation(k, c, v->layout->pool_size));
	}
	fprintf(f, "  %-11s %7llu %13llu %12llu %13llu %12llu %6.1f\n", "total", (unsigned long long)pools,
		(unsigned long long)used, (unsigned long long)avail, (unsigned long long)s->bytes_in_use,
		(unsigned long long)s->bytes_in_pools,
		s->bytes_in_pools ? 100.0 * (1.0 - (double)s->bytes_in_use / (double)s->bytes_in_pools) : 0.0);
}

/* Arenas given back: allocated in total minus current. The two counters are
 * read at different moments, so an approximate snapshot can have more
 * current than ever allocated; then the difference is unknown (false), never
 * a wrapped number. */
static bool arenas_reclaimed(const struct heap_snapshot *s, uint64_t *n)
{
	if (s->arenas_total < s->arenas_current)
		return false;
	*n = s->arenas_total - s->arenas_current;
	return true;
}

static void text_pymalloc(FILE *f, const struct heap_view *v)
{
	const struct heap_snapshot *s = v->snap;
	char reclaimed[48];
	uint64_t n;

	if (!s->pymalloc_ok) {
		fprintf(f, "  pymalloc: n/a (%s)\n", v->layout->pymalloc ? s->why : v->layout->why);
		return;
	}
	fprintf(f, "  pymalloc: %s\n", s->consistent ? "consistent snapshot" :
		"approximate: the heap changed while it was read");
	if (arenas_reclaimed(s, &n))
		snprintf(reclaimed, sizeof(reclaimed), "%llu", (unsigned long long)n);
	else
		snprintf(reclaimed, sizeof(reclaimed), "? (counters changed while read)");
	fprintf(f, "  arenas: %llu current (%.1f MiB), %llu allocated in total, %s reclaimed, high-water %llu\n",
		(unsigned long long)s->arenas_current, mib(s->bytes_in_arenas), (unsigned long long)s->arenas_total,
		reclaimed, (unsigned long long)s->arenas_highwater);
	if (v->rss_bytes)
		fprintf(f, "  RSS %.1f MiB: pymalloc arenas are %.0f%% of it\n", mib(v->rss_bytes),
			100.0 * (double)s->bytes_in_arenas / (double)v->rss_bytes);
	fprintf(f, "  pools: %llu in use, %llu free\n", (unsigned long long)s->pools_used,
		(unsigned long long)s->pools_free);
	text_classes(f, v);
}

static void text_gc(FILE *f, const struct heap_view *v)
{
	const struct heap_snapshot *s = v->snap;
	int g;

	if (!s->gc_ok) {
		fprintf(f, "  GC state: n/a (%s)\n", s->why);
		return;
	}
	fprintf(f, "  GC: %s", s->gc_enabled ? "enabled" : "DISABLED");
	for (g = 0; g < HEAP_GENERATIONS; g++)
		fprintf(f, "; gen%d %d/%d", g, s->count[g], s->threshold[g]);
	fputc('\n', f);
	fprintf(f, "  GC-tracked objects: gen0 %lld, gen1 %lld (gen2 not walked: one read per object)\n",
		(long long)s->objects[0], (long long)s->objects[1]);
	if (s->ring_ok) {
		/* 3.15's own gc.get_stats(), read with no probe: cumulative */
		fprintf(f, "  GC stats (the interpreter's own gc.get_stats(), from its ring; %s):\n",
			s->ring_consistent ? "consistent" : "approximate: a collection ended while it was read");
		fprintf(f, "  %4s %12s %12s %14s %12s %12s\n", "GEN", "COLLECTIONS", "COLLECTED", "UNCOLLECTABLE",
			"CANDIDATES", "DURATION_S");
		for (g = 0; g < HEAP_GENERATIONS; g++)
			fprintf(f, "  %4d %12lld %12lld %14lld %12lld %12.6f\n", g, (long long)s->ring[g].collections,
				(long long)s->ring[g].collected, (long long)s->ring[g].uncollectable,
				(long long)s->ring[g].candidates, s->ring[g].duration);
	} else {
		fprintf(f, "  GC stats ring: n/a (%s)\n", s->ring_why);
	}
	if (!s->gc_enabled)
		fprintf(f, "  warning: gc.disable() is in effect: reference cycles are never collected\n");
	else if (s->threshold[0] > 0)
		fprintf(f, "  next gen0 collection in %d allocations of GC-tracked objects\n",
			s->threshold[0] > s->count[0] ? s->threshold[0] - s->count[0] : 0);
}

void present_heap_section(FILE *f, const struct heap_view *v)
{
	if (v->error) {
		fprintf(f, "  heap unreadable: %s\n", v->error);
		return;
	}
	text_pymalloc(f, v);
	text_gc(f, v);
	fprintf(f, "  layout: pymalloc from %s; GC from %s; offsets from %s\n",
		v->layout->pymalloc ? v->layout->pymalloc_source : "nowhere",
		v->layout->gc_source ? v->layout->gc_source : "nowhere", v->layout->offsets_source);
}

void present_heap_text(FILE *f, const struct heap_view *v, int n, const struct timespec *wall)
{
	char when[32];
	struct tm tm;
	int i;

	localtime_r(&wall->tv_sec, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	fprintf(f, "%s mmtrace: heap state, read from outside\n", when);
	for (i = 0; i < n; i++) {
		fprintf(f, "PID %d (%s)  Python %s  %s\n", v[i].pid, v[i].comm, v[i].bin->version, v[i].bin->path);
		present_heap_section(f, &v[i]);
		fputc('\n', f);
	}
	fflush(f);
}

static void json_classes(FILE *f, const struct heap_view *v)
{
	int c, first, any = 0;

	fputc('[', f);
	for (c = 0; c < HEAP_CLASSES; c++) {
		const struct heap_class *k = &v->snap->classes[c];

		if (!k->pools)
			continue;
		first = 1;
		fputs(any++ ? ",{" : "{", f);
		json_u64(f, "class", (unsigned long long)c, &first);
		json_u64(f, "size", heap_class_size(c), &first);
		json_u64(f, "pools", k->pools, &first);
		json_u64(f, "blocks_in_use", k->blocks_in_use, &first);
		json_u64(f, "free_blocks", k->free_blocks, &first);
		json_u64(f, "bytes_in_use", k->blocks_in_use * heap_class_size(c), &first);
		json_u64(f, "pool_bytes", k->pools * v->layout->pool_size, &first);
		json_key(f, "fragmentation", &first), fprintf(f, "%.6f", fragmentation(k, c, v->layout->pool_size));
		fputc('}', f);
	}
	fputc(']', f);
}

static void json_heap(FILE *f, const struct heap_view *v)
{
	const struct heap_snapshot *s = v->snap;
	int first = 1;
	uint64_t n;

	fputc('{', f);
	if (!s->pymalloc_ok) {
		json_key(f, "error", &first), json_string(f, v->layout->pymalloc ? s->why : v->layout->why);
		fputc('}', f);
		return;
	}
	json_key(f, "source", &first), json_string(f, v->layout->pymalloc_source);
	json_key(f, "offsets", &first), json_string(f, v->layout->offsets_source);
	json_key(f, "consistent", &first), fputs(s->consistent ? "true" : "false", f);
	json_u64(f, "arenas_current", s->arenas_current, &first);
	json_u64(f, "arenas_allocated_total", s->arenas_total, &first);
	if (arenas_reclaimed(s, &n))
		json_u64(f, "arenas_reclaimed", n, &first);
	else	/* unknown on this snapshot: null, never a wrapped number */
		json_key(f, "arenas_reclaimed", &first), fputs("null", f);
	json_u64(f, "arenas_highwater", s->arenas_highwater, &first);
	json_u64(f, "arenas_walked", s->arenas_walked, &first);
	json_u64(f, "arena_bytes", s->bytes_in_arenas, &first);
	json_u64(f, "pools_used", s->pools_used, &first);
	json_u64(f, "pools_free", s->pools_free, &first);
	json_u64(f, "bytes_in_use", s->bytes_in_use, &first);
	json_u64(f, "pool_bytes", s->bytes_in_pools, &first);
	json_key(f, "classes", &first), json_classes(f, v);
	fputc('}', f);
}

/* 3.15's gc.get_stats(), one object per generation; the duration is
 * printed with 17 significant digits, so that it reads back as the very
 * double the interpreter stored. */
static void json_ring(FILE *f, const struct heap_snapshot *s)
{
	int first = 1, g, one;

	fputc('{', f);
	if (!s->ring_ok) {
		json_key(f, "error", &first), json_string(f, s->ring_why);
		fputc('}', f);
		return;
	}
	json_key(f, "source", &first), json_string(f, "gcstate.generation_stats, offset and size from _Py_DebugOffsets");
	json_key(f, "consistent", &first), fputs(s->ring_consistent ? "true" : "false", f);
	json_key(f, "generations", &first), fputc('[', f);
	for (g = 0; g < HEAP_GENERATIONS; g++) {
		one = 1;
		fputs(g ? ",{" : "{", f);
		json_key(f, "collections", &one), fprintf(f, "%lld", (long long)s->ring[g].collections);
		json_key(f, "collected", &one), fprintf(f, "%lld", (long long)s->ring[g].collected);
		json_key(f, "uncollectable", &one), fprintf(f, "%lld", (long long)s->ring[g].uncollectable);
		json_key(f, "candidates", &one), fprintf(f, "%lld", (long long)s->ring[g].candidates);
		json_key(f, "duration", &one), fprintf(f, "%.17g", s->ring[g].duration);
		fputc('}', f);
	}
	fputs("]}", f);
}

static void json_gc_state(FILE *f, const struct heap_view *v)
{
	const struct heap_snapshot *s = v->snap;
	__u64 count[HEAP_GENERATIONS], threshold[HEAP_GENERATIONS];
	int first = 1, g;

	fputc('{', f);
	if (!s->gc_ok) {
		json_key(f, "error", &first), json_string(f, s->why);
		fputc('}', f);
		return;
	}
	for (g = 0; g < HEAP_GENERATIONS; g++) {
		count[g] = (__u64)(int64_t)s->count[g];
		threshold[g] = (__u64)(int64_t)s->threshold[g];
	}
	json_key(f, "source", &first), json_string(f, v->layout->gc_source);
	json_key(f, "offsets", &first), json_string(f, v->layout->offsets_source);
	json_key(f, "enabled", &first), fputs(s->gc_enabled ? "true" : "false", f);
	json_key(f, "count", &first), json_u64_array(f, count, HEAP_GENERATIONS);
	json_key(f, "threshold", &first), json_u64_array(f, threshold, HEAP_GENERATIONS);
	json_key(f, "objects", &first);
	fprintf(f, "[%lld,%lld,null]", (long long)s->objects[0], (long long)s->objects[1]);
	json_key(f, "stats", &first), json_ring(f, s);
	fputc('}', f);
}

void present_heap_json_fields(FILE *f, const struct heap_view *v, int *first)
{
	if (v->error) {
		json_key(f, "heap_error", first), json_string(f, v->error);
		return;
	}
	json_u64(f, "rss_bytes", v->rss_bytes, first);
	json_key(f, "heap", first), json_heap(f, v);
	json_key(f, "gc_state", first), json_gc_state(f, v);
}

static void json_one(FILE *f, const struct heap_view *v)
{
	int first = 1;

	fputc('{', f);
	json_key(f, "pid", &first), fprintf(f, "%d", v->pid);
	json_key(f, "comm", &first), json_string(f, v->comm);
	json_key(f, "python", &first), json_string(f, v->bin->version);
	json_key(f, "binary", &first), json_string(f, v->bin->path);
	if (v->error)
		json_key(f, "error", &first), json_string(f, v->error);
	else
		present_heap_json_fields(f, v, &first);
	fputc('}', f);
}

void present_heap_json(FILE *f, const struct heap_view *v, int n, const struct timespec *wall)
{
	int i;

	fprintf(f, "{\"time\":%lld.%03ld,\"processes\":[", (long long)wall->tv_sec, wall->tv_nsec / 1000000);
	for (i = 0; i < n; i++) {
		if (i)
			fputc(',', f);
		json_one(f, &v[i]);
	}
	fputs("]}\n", f);
	fflush(f);
}

static void heap_text(FILE *f, const struct report_row *row)
{
	present_heap_section(f, row->heap);
}

static void heap_json(FILE *f, const struct report_row *row, int *first)
{
	present_heap_json_fields(f, row->heap, first);
}

const struct row_part present_heap_part = { heap_text, NULL, heap_json };
