// SPDX-License-Identifier: MIT
/*
 * Prometheus text exposition (format 0.0.4), following the OpenMetrics
 * naming conventions: base units, _total counters, and GC pauses as a real
 * histogram per generation.
 *
 * The GC series carry the names people already query: prometheus_client's
 * (python_gc_collections_total, ... with label generation) by default, or,
 * with --metric-names=otel, OpenTelemetry's cpython.gc.* as the OTel to
 * Prometheus mapping writes them (dots to underscores, unit suffix, _total).
 * What has no convention keeps the prefix mmtrace_.
 *
 * Histogram bounds come straight from the BPF log2 slots: slot i holds
 * pauses p with 2^i <= p < 2^(i+1) ns, so "le" = (2^k - 1) ns counts exactly
 * the pauses below 2^k ns. The bounds are therefore 1023 ns, 2047 ns, ...
 * rather than round numbers, and every bucket is exact. They are printed as
 * exact decimals: a whole number of ns has at most 9 decimals in seconds,
 * which "%.9g" would round from 2^30 ns on.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
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

/* The GC series' names of one scheme. HELP texts of the prometheus scheme
 * are prometheus_client's own, word for word (its "object" singular too),
 * so that both sources of one name describe it alike. */
struct metric_names {
	const char *collections, *collected, *uncollectable, *candidates, *duration, *generation;
	const char *help_collections, *help_collected, *help_uncollectable;
};

static const struct metric_names scheme_names[] = {
	[METRICS_PROMETHEUS] = {
		"python_gc_collections_total", "python_gc_objects_collected_total",
		"python_gc_objects_uncollectable_total", "python_gc_objects_candidates_total",
		"python_gc_duration_seconds", "generation",
		"Number of times this generation was collected", "Objects collected during gc",
		"Uncollectable object found during GC",
	},
	[METRICS_OTEL] = {
		"cpython_gc_collections_total", "cpython_gc_collected_objects_total",
		"cpython_gc_uncollectable_objects_total", "cpython_gc_candidate_objects_total",
		"cpython_gc_duration_seconds", "cpython_gc_generation",
		"The number of times a generation was collected.",
		"The number of objects collected inside a generation.",
		"The number of objects found uncollectable inside a generation.",
	},
};

int metric_scheme_parse(const char *s, enum metric_scheme *out)
{
	if (!strcmp(s, "prometheus"))
		*out = METRICS_PROMETHEUS;
	else if (!strcmp(s, "otel"))
		*out = METRICS_OTEL;
	else
		return -EINVAL;
	return 0;
}

/* What a series' labels need: the scheme (its generation label's name), the
 * row, and the generation (-1: none). */
struct series_ctx {
	FILE *f;
	const struct metric_names *n;
	const struct report_row *r;
	int gen;
};

/* extra: one more label, already formatted (name="value"), or NULL */
static void labels_with(const struct series_ctx *s, const char *le, const char *extra)
{
	FILE *f = s->f;

	fprintf(f, "{pid=\"%d\",comm=\"", s->r->pid);
	label_value(f, s->r->comm);
	fputs("\",python_version=\"", f);
	label_value(f, s->r->bin->version);
	fputc('"', f);
	if (s->r->container_id && s->r->container_id[0]) {
		fputs(",container_id=\"", f);
		label_value(f, s->r->container_id);
		fputc('"', f);
	}
	if (s->gen >= 0)
		fprintf(f, ",%s=\"%d\"", s->n->generation, s->gen);
	if (le)
		fprintf(f, ",le=\"%s\"", le);
	if (extra)
		fprintf(f, ",%s", extra);
	fputc('}', f);
}

/* name{labels} value */
static void sample(const struct series_ctx *s, const char *name, const char *le, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void sample(const struct series_ctx *s, const char *name, const char *le, const char *fmt, ...)
{
	va_list ap;

	fputs(name, s->f);
	labels_with(s, le, NULL);
	fputc(' ', s->f);
	va_start(ap, fmt);
	vfprintf(s->f, fmt, ap);
	va_end(ap);
	fputc('\n', s->f);
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
/* Whether a row has the figure at all; NULL: every row has it. */
typedef bool (*row_has_fn)(const struct report_row *r);

static __u64 collections(const struct gc_proc_stats *s, int g) { return s->collections[g]; }
static __u64 collected(const struct gc_proc_stats *s, int g) { return s->collected[g]; }
static __u64 uncollectable(const struct gc_proc_stats *s, int g) { return s->uncollectable[g]; }
static __u64 candidates(const struct gc_proc_stats *s, int g) { return s->candidates[g]; }
static __u64 sub_collections(const struct gc_proc_stats *s, int g) { return s->sub_collections[g]; }

/* 3.15's rings count candidates; before, the interpreter has none to give */
static bool has_candidates(const struct report_row *r)
{
	const struct probe_plan *p = r->plan;
	const struct gc_site *c = p->polled ? &p->poll_cfg : p->nsites ? &p->sites[0].cfg : NULL;

	return c && c->ring;
}

static bool any_row(const struct report *r, row_has_fn has)
{
	int i;

	for (i = 0; i < r->n; i++)
		if (!has || has(&r->rows[i]))
			return true;
	return false;
}

static void per_generation(FILE *f, const struct report *r, const struct metric_names *n, const char *name,
			   const char *help, per_gen_fn fn, row_has_fn has)
{
	struct series_ctx s = { f, n, NULL, 0 };
	int i;

	if (!any_row(r, has))
		return;		/* no family without samples */
	family(f, name, "counter", help);
	for (i = 0; i < r->n; i++) {
		if (has && !has(&r->rows[i]))
			continue;
		s.r = &r->rows[i];
		for (s.gen = 0; s.gen < MMTRACE_GENERATIONS; s.gen++)
			sample(&s, name, NULL, "%llu", (unsigned long long)fn(&s.r->gc, s.gen));
	}
}

/* A probed process: every collection's pause is in a log2 slot. */
static bool pauses_seen(const struct report_row *r)
{
	return !r->plan->polled;
}

/* Probed, or polled 3.15 whose rings hold each generation's duration total:
 * a sum is known. A polled process before 3.15 has no pause figure at all,
 * and zeros would read as measured. */
static bool pause_sum_known(const struct report_row *r)
{
	return !r->plan->polled || r->plan->poll_durations;
}

/* _sum and _count of a histogram; +Inf was written by the caller */
static void histogram_tail(const struct series_ctx *s, const char *base, unsigned long long count)
{
	char name[96];

	snprintf(name, sizeof(name), "%s_sum", base);
	sample(s, name, NULL, "%.9f", (double)s->r->gc.pause_ns_total[s->gen] / 1e9);
	snprintf(name, sizeof(name), "%s_count", base);
	sample(s, name, NULL, "%llu", count);
}

static void pause_buckets(const struct series_ctx *s, const char *bucket)
{
	const __u64 *slots = s->r->gc.pause_hist[s->gen];
	unsigned long long below = 0;
	char le[32];
	int k, i;

	for (i = 0; i < FIRST_BOUND; i++)
		below += slots[i];
	for (k = FIRST_BOUND; k <= LAST_BOUND; k++) {
		metrics_exact_seconds(le, sizeof(le), (1ull << k) - 1);
		sample(s, bucket, le, "%llu", below);
		if (k < MMTRACE_HIST_SLOTS)
			below += slots[k];
	}
}

/* Polled 3.15 knows each generation's total duration and collections but
 * not one pause: the histogram is its +Inf bucket, _sum and _count, which
 * the exposition format allows and which rate() and sum/count still serve. */
static void pause_histogram(const struct series_ctx *s)
{
	char bucket[96];
	unsigned long long total = 0;
	int i;

	snprintf(bucket, sizeof(bucket), "%s_bucket", s->n->duration);
	if (pauses_seen(s->r)) {
		for (i = 0; i < MMTRACE_HIST_SLOTS; i++)
			total += s->r->gc.pause_hist[s->gen][i];
		pause_buckets(s, bucket);
	} else {
		total = s->r->gc.collections[s->gen];
	}
	sample(s, bucket, "+Inf", "%llu", total);
	histogram_tail(s, s->n->duration, total);
}

static void pause_metrics(FILE *f, const struct report *r, const struct metric_names *n)
{
	struct series_ctx s = { f, n, NULL, 0 };
	int i;

	if (any_row(r, pause_sum_known))
		family(f, n->duration, "histogram",
		       "GC pause of the main interpreter: collector entry to return (or gc__start to gc__done).");
	for (i = 0; i < r->n; i++) {
		s.r = &r->rows[i];
		if (!pause_sum_known(s.r))
			continue;
		for (s.gen = 0; s.gen < MMTRACE_GENERATIONS; s.gen++)
			pause_histogram(&s);
	}
	if (any_row(r, pauses_seen))
		family(f, "mmtrace_gc_pause_max_seconds", "gauge", "Longest GC pause since tracing of the process began.");
	for (i = 0; i < r->n; i++) {
		s.r = &r->rows[i];
		if (!pauses_seen(s.r))
			continue;
		for (s.gen = 0; s.gen < MMTRACE_GENERATIONS; s.gen++)
			sample(&s, "mmtrace_gc_pause_max_seconds", NULL, "%.9f",
			       (double)s.r->gc.pause_ns_max[s.gen] / 1e9);
	}
}

static void per_process(FILE *f, const struct report *r, const struct metric_names *n)
{
	struct series_ctx s = { f, n, NULL, -1 };
	int i;

	pause_metrics(f, r, n);
	family(f, "mmtrace_process_traced_seconds_total", "counter", "Time the process has been traced.");
	for (i = 0; i < r->n; i++) {
		s.r = &r->rows[i];
		sample(&s, "mmtrace_process_traced_seconds_total", NULL, "%.6f", (double)s.r->traced_ns / 1e9);
	}
	family(f, "mmtrace_process_exited", "gauge", "1 when the process has ended (its series go after a grace period).");
	for (i = 0; i < r->n; i++) {
		s.r = &r->rows[i];
		sample(&s, "mmtrace_process_exited", NULL, "%d", s.r->exited);
	}
}

static bool growth_traced(const struct report_row *r)
{
	return r->plan->metrics[M_ARENAS].cov != COV_UNAVAILABLE;
}

static void arena_counter(FILE *f, const struct report *r, const char *name, const char *help, bool freed)
{
	struct series_ctx s = { f, &scheme_names[METRICS_PROMETHEUS], NULL, -1 };
	const struct alloc_growth *g;
	int i;

	family(f, name, "counter", help);
	for (i = 0; i < r->n; i++) {
		if (!growth_traced(&r->rows[i]))
			continue;
		s.r = &r->rows[i];
		g = &s.r->gc.growth;
		sample(&s, name, NULL, "%llu", (unsigned long long)(freed ? g->arenas_freed : g->arenas_allocated));
	}
}

static void pools_acquired(FILE *f, const struct report_row *row)
{
	struct series_ctx s = { f, &scheme_names[METRICS_PROMETHEUS], row, -1 };
	char size_class[32];
	int c;

	for (c = 0; c < MMTRACE_SIZE_CLASSES; c++) {
		if (!row->gc.growth.pools_acquired[c])
			continue;
		snprintf(size_class, sizeof(size_class), "size_class=\"%d\"", c);
		fputs("mmtrace_alloc_pools_acquired_total", f);
		labels_with(&s, NULL, size_class);
		fprintf(f, " %llu\n", (unsigned long long)row->gc.growth.pools_acquired[c]);
	}
}

/* --alloc=growth: only for processes whose arenas are really probed */
static void alloc_metrics(FILE *f, const struct report *r)
{
	int i;

	if (!any_row(r, growth_traced))
		return;
	arena_counter(f, r, "mmtrace_alloc_arenas_allocated_total", "pymalloc arenas allocated.", false);
	arena_counter(f, r, "mmtrace_alloc_arenas_freed_total", "pymalloc arenas given back to the system.", true);
	family(f, "mmtrace_alloc_pools_acquired_total", "counter", "pymalloc pools taken for a size class.");
	for (i = 0; i < r->n; i++)
		if (r->rows[i].plan->metrics[M_POOLS].cov != COV_UNAVAILABLE)
			pools_acquired(f, &r->rows[i]);
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

void present_metrics(FILE *f, const struct report *r, enum metric_scheme scheme)
{
	const struct metric_names *n = &scheme_names[scheme == METRICS_OTEL ? METRICS_OTEL : METRICS_PROMETHEUS];

	per_generation(f, r, n, n->collections, n->help_collections, collections, NULL);
	per_generation(f, r, n, n->collected, n->help_collected, collected, NULL);
	per_generation(f, r, n, n->uncollectable, n->help_uncollectable, uncollectable, NULL);
	per_generation(f, r, n, n->candidates,
		       "Objects the collector examined, as CPython 3.15's gc.get_stats() \"candidates\".",
		       candidates, has_candidates);
	per_generation(f, r, n, "mmtrace_gc_subinterpreter_collections_total",
		       "Collections of all subinterpreters of the process together.", sub_collections, NULL);
	per_process(f, r, n);
	alloc_metrics(f, r);
	host_metrics(f, r);
}
