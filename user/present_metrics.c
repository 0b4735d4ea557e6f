// SPDX-License-Identifier: MIT
/*
 * Prometheus text exposition (format 0.0.4), following the OpenMetrics
 * naming conventions: prefix mmtrace_, base units, _total counters, and GC
 * pauses as a real histogram per generation.
 *
 * Histogram bounds come straight from the BPF log2 slots: slot i holds
 * pauses p with 2^i <= p < 2^(i+1) ns, so "le" = (2^k - 1) ns counts exactly
 * the pauses below 2^k ns. The bounds are therefore 1023 ns, 2047 ns, ...
 * rather than round numbers, and every bucket is exact. They are printed as
 * exact decimals: a whole number of ns has at most 9 decimals in seconds,
 * which "%.9g" would round from 2^30 ns on.
 */
#include <stdio.h>
#include "collect.h"
#include "export.h"
#include "json.h"

#define FIRST_BOUND 10	/* 2^10 ns ~ 1 us */
#define LAST_BOUND 36	/* 2^36 ns ~ 69 s */

/* The exposition is UTF-8: a comm or path byte that is not well-formed
 * UTF-8 becomes U+FFFD, as in JSON. */
static void label_value(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int n;

	while (p && *p) {
		n = utf8_sequence_len(p);
		if (!n)
			fputs("\xef\xbf\xbd", f), n = 1;
		else if (*p == '\\' || *p == '"')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else
			fwrite(p, 1, (size_t)n, f);
		p += n;
	}
}

/* extra: one more label, already formatted (name="value"), or NULL */
static void labels_with(FILE *f, const struct report_row *r, int gen, const char *le, const char *extra)
{
	fprintf(f, "{pid=\"%d\",comm=\"", r->pid);
	label_value(f, r->comm);
	fputs("\",python_version=\"", f);
	label_value(f, r->bin->version);
	fputc('"', f);
	if (r->container_id && r->container_id[0]) {
		fputs(",container_id=\"", f);
		label_value(f, r->container_id);
		fputc('"', f);
	}
	if (gen >= 0)
		fprintf(f, ",generation=\"%d\"", gen);
	if (le)
		fprintf(f, ",le=\"%s\"", le);
	if (extra)
		fprintf(f, ",%s", extra);
	fputc('}', f);
}

static void labels(FILE *f, const struct report_row *r, int gen, const char *le)
{
	labels_with(f, r, gen, le, NULL);
}

/* ns as seconds, exactly: "1.073741823", "0.000001023", "2" */
void metrics_exact_seconds(char *buf, size_t len, unsigned long long ns)
{
	int n = snprintf(buf, len, "%llu.%09llu", ns / 1000000000ull, ns % 1000000000ull);

	if (n <= 0 || (size_t)n >= len)
		return;
	while (buf[n - 1] == '0')
		buf[--n] = '\0';
	if (buf[n - 1] == '.')
		buf[n - 1] = '\0';
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

typedef __u64 (*per_gen_fn)(const struct gc_proc_stats *s, int gen);

static __u64 collections(const struct gc_proc_stats *s, int g) { return s->collections[g]; }
static __u64 collected(const struct gc_proc_stats *s, int g) { return s->collected[g]; }
static __u64 uncollectable(const struct gc_proc_stats *s, int g) { return s->uncollectable[g]; }
static __u64 sub_collections(const struct gc_proc_stats *s, int g) { return s->sub_collections[g]; }

static void per_generation(FILE *f, const struct report *r, const char *name, const char *help, per_gen_fn fn)
{
	int i, g;

	family(f, name, "counter", help);
	for (i = 0; i < r->n; i++) {
		for (g = 0; g < MMTRACE_GENERATIONS; g++) {
			fputs(name, f);
			labels(f, &r->rows[i], g, NULL);
			fprintf(f, " %llu\n", (unsigned long long)fn(&r->rows[i].gc, g));
		}
	}
}

static void pause_histogram(FILE *f, const struct report_row *row, int g)
{
	const __u64 *slots = row->gc.pause_hist[g];
	unsigned long long below = 0, total = 0;
	char le[32];
	int k, i;

	for (i = 0; i < MMTRACE_HIST_SLOTS; i++)
		total += slots[i];
	for (i = 0; i < FIRST_BOUND; i++)
		below += slots[i];
	for (k = FIRST_BOUND; k <= LAST_BOUND; k++) {
		metrics_exact_seconds(le, sizeof(le), (1ull << k) - 1);
		fputs("mmtrace_gc_pause_seconds_bucket", f);
		labels(f, row, g, le);
		fprintf(f, " %llu\n", below);
		if (k < MMTRACE_HIST_SLOTS)
			below += slots[k];
	}
	fputs("mmtrace_gc_pause_seconds_bucket", f);
	labels(f, row, g, "+Inf");
	fprintf(f, " %llu\n", total);
	fputs("mmtrace_gc_pause_seconds_sum", f);
	labels(f, row, g, NULL);
	fprintf(f, " %.9f\n", (double)row->gc.pause_ns_total[g] / 1e9);
	fputs("mmtrace_gc_pause_seconds_count", f);
	labels(f, row, g, NULL);
	fprintf(f, " %llu\n", total);
}

static void per_process(FILE *f, const struct report *r)
{
	int i, g;

	family(f, "mmtrace_gc_pause_seconds", "histogram",
	       "GC pause of the main interpreter: collector entry to return (or gc__start to gc__done).");
	for (i = 0; i < r->n; i++)
		for (g = 0; g < MMTRACE_GENERATIONS; g++)
			pause_histogram(f, &r->rows[i], g);
	family(f, "mmtrace_gc_pause_max_seconds", "gauge", "Longest GC pause since tracing of the process began.");
	for (i = 0; i < r->n; i++) {
		for (g = 0; g < MMTRACE_GENERATIONS; g++) {
			fputs("mmtrace_gc_pause_max_seconds", f);
			labels(f, &r->rows[i], g, NULL);
			fprintf(f, " %.9f\n", (double)r->rows[i].gc.pause_ns_max[g] / 1e9);
		}
	}
	family(f, "mmtrace_process_traced_seconds_total", "counter", "Time the process has been traced.");
	for (i = 0; i < r->n; i++) {
		fputs("mmtrace_process_traced_seconds_total", f);
		labels(f, &r->rows[i], -1, NULL);
		fprintf(f, " %.6f\n", (double)r->rows[i].traced_ns / 1e9);
	}
	family(f, "mmtrace_process_exited", "gauge", "1 when the process has ended (its series go after a grace period).");
	for (i = 0; i < r->n; i++) {
		fputs("mmtrace_process_exited", f);
		labels(f, &r->rows[i], -1, NULL);
		fprintf(f, " %d\n", r->rows[i].exited);
	}
}

static bool growth_traced(const struct report_row *r)
{
	return r->plan->metrics[M_ARENAS].cov != COV_UNAVAILABLE;
}

static void arena_counter(FILE *f, const struct report *r, const char *name, const char *help, bool freed)
{
	const struct alloc_growth *g;
	int i;

	family(f, name, "counter", help);
	for (i = 0; i < r->n; i++) {
		if (!growth_traced(&r->rows[i]))
			continue;
		g = &r->rows[i].gc.growth;
		fputs(name, f);
		labels(f, &r->rows[i], -1, NULL);
		fprintf(f, " %llu\n", (unsigned long long)(freed ? g->arenas_freed : g->arenas_allocated));
	}
}

/* --alloc=growth: only for processes whose arenas are really probed */
static void alloc_metrics(FILE *f, const struct report *r)
{
	char size_class[32];
	int i, c, any = 0;

	for (i = 0; i < r->n; i++)
		any |= growth_traced(&r->rows[i]);
	if (!any)
		return;
	arena_counter(f, r, "mmtrace_alloc_arenas_allocated_total", "pymalloc arenas allocated.", false);
	arena_counter(f, r, "mmtrace_alloc_arenas_freed_total", "pymalloc arenas given back to the system.", true);
	family(f, "mmtrace_alloc_pools_acquired_total", "counter", "pymalloc pools taken for a size class.");
	for (i = 0; i < r->n; i++) {
		if (r->rows[i].plan->metrics[M_POOLS].cov == COV_UNAVAILABLE)
			continue;
		for (c = 0; c < MMTRACE_SIZE_CLASSES; c++) {
			if (!r->rows[i].gc.growth.pools_acquired[c])
				continue;
			snprintf(size_class, sizeof(size_class), "size_class=\"%d\"", c);
			fputs("mmtrace_alloc_pools_acquired_total", f);
			labels_with(f, &r->rows[i], -1, NULL, size_class);
			fprintf(f, " %llu\n", (unsigned long long)r->rows[i].gc.growth.pools_acquired[c]);
		}
	}
}

static void host_metrics(FILE *f, const struct report *r)
{
	const struct host_summary *h = r->host;
	int i;

	family(f, "mmtrace_lost_events_total", "counter", "Events dropped because mmtrace's ring buffer was full.");
	fprintf(f, "mmtrace_lost_events_total %llu\n", r->lost_events);
	family(f, "mmtrace_dropped_total", "counter", "What mmtrace could not count, by cause.");
	for (i = 0; i < MM_DROPS; i++)
		fprintf(f, "mmtrace_dropped_total{cause=\"%s\"} %llu\n", drop_names[i], (unsigned long long)r->drops[i]);
	if (!h)
		return;
	family(f, "mmtrace_processes_seen_total", "counter", "CPython processes seen since mmtrace started.");
	fprintf(f, "mmtrace_processes_seen_total %llu\n", h->processes_seen);
	family(f, "mmtrace_processes_live", "gauge", "CPython processes traced now.");
	fprintf(f, "mmtrace_processes_live %llu\n", h->live);
	family(f, "mmtrace_processes_untraceable_total", "counter",
	       "CPython processes whose interpreter file offers no GC probe point.");
	fprintf(f, "mmtrace_processes_untraceable_total %llu\n", h->untraceable);
}

void present_metrics(FILE *f, const struct report *r)
{
	per_generation(f, r, "mmtrace_gc_collections_total",
		       "Collections of the main interpreter, as its gc.get_stats() counts them.", collections);
	per_generation(f, r, "mmtrace_gc_collected_objects_total", "Objects the main interpreter's GC freed.",
		       collected);
	per_generation(f, r, "mmtrace_gc_uncollectable_objects_total",
		       "Objects the main interpreter's GC found uncollectable.", uncollectable);
	per_generation(f, r, "mmtrace_gc_subinterpreter_collections_total",
		       "Collections of all subinterpreters of the process together.", sub_collections);
	per_process(f, r);
	alloc_metrics(f, r);
	host_metrics(f, r);
}
