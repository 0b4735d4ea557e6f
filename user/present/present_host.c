// SPDX-License-Identifier: MIT
/* The system-wide table: one row per CPython process. */
#include <stdlib.h>
#include <string.h>
#include "collect.h"
#include "present.h"
#include "proctable.h"

/* Pause quantiles come from log2 buckets, so they are shown as the bucket's
 * upper bound with a '<': the true value is below it and above half of it. */
static __u64 bucket_upper(int slot)
{
	return (2ull << slot) - 1;
}

static int quantile_slot(const __u64 hist[MMTRACE_GENERATIONS][MMTRACE_HIST_SLOTS], double q)
{
	__u64 total = 0, seen = 0, want;
	int g, i;

	for (g = 0; g < MMTRACE_GENERATIONS; g++)
		for (i = 0; i < MMTRACE_HIST_SLOTS; i++)
			total += hist[g][i];
	if (!total)
		return -1;
	want = (__u64)(q * (double)total + 0.999999);
	if (!want)
		want = 1;
	for (i = 0; i < MMTRACE_HIST_SLOTS; i++) {
		for (g = 0; g < MMTRACE_GENERATIONS; g++)
			seen += hist[g][i];
		if (seen >= want)
			return i;
	}
	return MMTRACE_HIST_SLOTS - 1;
}

/* "<X": a value known only to lie below the upper bound X */
static const char *fmt_below(char *buf, size_t len, __u64 upper)
{
	char v[16];

	snprintf(buf, len, "<%s", fmt_ns(v, sizeof(v), (double)upper));
	return buf;
}

/* the last slot holds everything from its lower bound up: no upper bound */
static const char *fmt_bound(char *buf, size_t len, int slot)
{
	char v[16];

	if (slot < 0)
		return "-";
	if (slot < MMTRACE_HIST_SLOTS - 1)
		return fmt_below(buf, len, bucket_upper(slot));
	snprintf(buf, len, ">=%s", fmt_ns(v, sizeof(v), (double)(1ull << slot)));
	return buf;
}

static __u64 max_of(const __u64 v[MMTRACE_GENERATIONS])
{
	__u64 m = 0;
	int g;

	for (g = 0; g < MMTRACE_GENERATIONS; g++)
		if (v[g] > m)
			m = v[g];
	return m;
}

static int top_slot(const __u64 hist[MMTRACE_HIST_SLOTS])
{
	int i;

	for (i = MMTRACE_HIST_SLOTS - 1; i >= 0; i--)
		if (hist[i])
			return i;
	return -1;
}

/* The interval's longest pause. Per generation it is exact when it raised
 * that generation's maximum, else below the top bucket the interval filled. */
static const char *interval_max(char *buf, size_t len, const struct report_row *r)
{
	__u64 best = 0, v;
	bool bound = false, open = false;
	int g, slot;
	char at_most[16];

	if (!gc_sum(r->delta.collections))
		return "-";
	for (g = 0; g < MMTRACE_GENERATIONS; g++) {
		if (!r->delta.collections[g])
			continue;
		slot = top_slot(r->delta.pause_hist[g]);
		/* the last slot has no upper bound: the maximum since attach is one */
		v = r->delta.pause_ns_max[g] || slot == MMTRACE_HIST_SLOTS - 1 ? r->gc.pause_ns_max[g] :
		    slot < 0 ? 0 : bucket_upper(slot);
		if (v > best) {
			best = v;
			bound = !r->delta.pause_ns_max[g];
			open = slot == MMTRACE_HIST_SLOTS - 1;
		}
	}
	if (bound && open) {
		snprintf(buf, len, "<=%s", fmt_ns(at_most, sizeof(at_most), (double)best));
		return buf;
	}
	return bound ? fmt_below(buf, len, best) : fmt_ns(buf, len, (double)best);
}

static double gc_per_s(const struct report_row *r)
{
	return r->interval_ns ? (double)gc_sum(r->delta.collections) * 1e9 / (double)r->interval_ns : 0;
}

static double gc_time_pct(const struct report_row *r)
{
	return pct(gc_sum(r->delta.pause_ns_total), r->interval_ns);
}

static double pause_key(const struct report_row *r)
{
	int s = quantile_slot(r->delta.pause_hist, 0.99);

	return s < 0 ? (double)max_of(r->gc.pause_ns_max) / 1e12 : (double)bucket_upper(s);
}

static int compare_rows(const void *pa, const void *pb, void *key)
{
	const struct report_row *a = pa, *b = pb;
	double ka, kb;

	if (a->exited != b->exited)
		return a->exited - b->exited;	/* live rows first */
	switch (*(const enum sort_key *)key) {
	case SORT_PID: return (a->pid > b->pid) - (a->pid < b->pid);
	case SORT_GC: ka = gc_per_s(a), kb = gc_per_s(b); break;
	case SORT_PAUSE: ka = pause_key(a), kb = pause_key(b); break;
	default: ka = gc_time_pct(a), kb = gc_time_pct(b); break;
	}
	if (ka != kb)
		return ka < kb ? 1 : -1;
	return (a->pid > b->pid) - (a->pid < b->pid);
}

static void host_header(FILE *f, const struct report *r)
{
	const struct host_summary *h = r->host;
	char when[32];
	struct tm tm;

	localtime_r(&r->wall.tv_sec, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	fprintf(f, "%s mmtrace: %llu CPython processes live, %llu ended, %llu seen; %llu interpreter files%s\n",
		when, h->live, h->ended, h->processes_seen, h->interpreters, r->final ? " (final)" : "");
	if (h->lost_events || h->missed_execs)
		fprintf(f, "lost: %llu events (ring buffer full), %llu execs gone before identified\n",
			h->lost_events, h->missed_execs);
	present_drops_line(f, r->drops);
	if (h->untraceable)
		fprintf(f, "not traced: %llu CPython processes whose interpreter has no GC probe point (see --probes)\n",
			h->untraceable);
	fprintf(f, "%-8s %-7s %-15s %-7s %7s %-14s %8s %8s %8s %8s %8s %6s %10s %7s", "PID", "NSPID", "COMM",
		"PYTHON", "GC/s", "GEN0/1/2", "P50", "P99", "MAX", "ALL.P99", "ALL.MAX", "%GC", "COLLECTED",
		"UNCOLL");
	if (r->growth)
		fprintf(f, " %-11s %7s", "ARENAS+/-", "POOLS");
	fputc('\n', f);
}

/* pymalloc growth over the interval; "-" where the build hides it */
static void growth_cells(FILE *f, const struct report_row *r)
{
	const struct alloc_growth *g = &r->delta.growth;
	unsigned long long pools = 0;
	char arenas[32];
	int c;

	for (c = 0; c < MMTRACE_SIZE_CLASSES; c++)
		pools += g->pools_acquired[c];
	snprintf(arenas, sizeof(arenas), "+%llu/-%llu", (unsigned long long)g->arenas_allocated,
		 (unsigned long long)g->arenas_freed);
	fprintf(f, " %-11s", r->plan->metrics[M_ARENAS].cov == COV_UNAVAILABLE ? "-" : arenas);
	if (r->plan->metrics[M_POOLS].cov == COV_UNAVAILABLE)
		fprintf(f, " %7s", "-");
	else
		fprintf(f, " %7llu", pools);
}

/* Live reports show the interval; in the final one the "interval" is each
 * process's whole traced time (delta == gc). */
static void host_row(FILE *f, const struct report_row *r, bool growth)
{
	char ns[16], gens[32], p50[16], p99[16], max[16], ap99[16], amax[16];
	const struct gc_proc_stats *d = &r->delta;

	snprintf(ns, sizeof(ns), "%d", r->ns_pid);
	snprintf(gens, sizeof(gens), "%llu/%llu/%llu", (unsigned long long)d->collections[0],
		 (unsigned long long)d->collections[1], (unsigned long long)d->collections[2]);
	if (r->plan->polled) {
		/* read from its memory: no collection seen, so no pause */
		fprintf(f, "%-8d %-7s %-15.15s %-7s %7.1f %-14s %8s %8s %8s %8s %8s %6s %10llu %7llu", r->pid,
			r->ns_pid && r->ns_pid != r->pid ? ns : "-", r->comm, r->bin->version, gc_per_s(r), gens,
			"polled", "-", "-", "-", "-", "-", (unsigned long long)gc_sum(r->gc.collected),
			(unsigned long long)gc_sum(r->gc.uncollectable));
		if (growth)
			growth_cells(f, r);
		fprintf(f, "%s\n", r->exited ? "  [ended]" : "");
		return;
	}
	fprintf(f, "%-8d %-7s %-15.15s %-7s %7.1f %-14s %8s %8s %8s %8s %8s %6.2f %10llu %7llu", r->pid,
		r->ns_pid && r->ns_pid != r->pid ? ns : "-", r->comm, r->bin->version, gc_per_s(r), gens,
		fmt_bound(p50, sizeof(p50), quantile_slot(d->pause_hist, 0.5)),
		fmt_bound(p99, sizeof(p99), quantile_slot(d->pause_hist, 0.99)),
		interval_max(max, sizeof(max), r),
		fmt_bound(ap99, sizeof(ap99), quantile_slot(r->gc.pause_hist, 0.99)),
		fmt_ns(amax, sizeof(amax), (double)max_of(r->gc.pause_ns_max)),
		gc_time_pct(r),
		(unsigned long long)gc_sum(r->gc.collected), (unsigned long long)gc_sum(r->gc.uncollectable));
	if (growth)
		growth_cells(f, r);
	fprintf(f, "%s\n", r->exited ? "  [ended]" : "");
}

/* --heap=live and --stacks: under the table, one block per row shown */
static void row_sections(FILE *f, const struct report *r, int shown)
{
	const struct report_row *row;
	int i, p;

	for (i = 0; i < shown; i++) {
		row = &r->rows[i];
		if (!row->nparts)
			continue;
		fprintf(f, "PID %d (%s)  Python %s%s\n", row->pid, row->comm, row->bin->version,
			row->exited ? "  [exited]" : "");
		for (p = 0; p < row->nparts; p++)
			row->parts[p]->text(f, row);
		fputc('\n', f);
	}
}

void present_host_table(FILE *f, struct report *r, enum sort_key key, int top, bool clear)
{
	int i, shown = 0;

	qsort_r(r->rows, (size_t)r->n, sizeof(r->rows[0]), compare_rows, &key);
	if (clear)
		fputs("\033[H\033[2J", f);
	host_header(f, r);
	for (i = 0; i < r->n && (!top || shown < top); i++, shown++)
		host_row(f, &r->rows[i], r->growth);
	if (i < r->n)
		fprintf(f, "... %d more (-n)\n", r->n - i);
	fputc('\n', f);
	row_sections(f, r, shown);
	fflush(f);
}

void present_merged_histograms(FILE *f, const struct report *r)
{
	__u64 merged[MMTRACE_HIST_SLOTS];
	int g, i, s;

	for (g = 0; g < MMTRACE_GENERATIONS; g++) {
		memset(merged, 0, sizeof(merged));
		for (i = 0; i < r->n; i++)
			for (s = 0; s < MMTRACE_HIST_SLOTS; s++)
				merged[s] += r->rows[i].gc.pause_hist[g][s];
		fprintf(f, "all processes (%d) gen %d GC pause:\n", r->n, g);
		log2_hist(f, merged, MMTRACE_HIST_SLOTS);
	}
	fputc('\n', f);
	fflush(f);
}
