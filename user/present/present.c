// SPDX-License-Identifier: MIT
#include <string.h>
#include "collect.h"
#include "present.h"

/* "1.23ms"-style: three significant digits in the largest fitting unit. */
const char *fmt_ns(char *buf, size_t len, double ns)
{
	if (ns < 1e3)
		snprintf(buf, len, "%.0fns", ns);
	else if (ns < 1e6)
		snprintf(buf, len, "%.3gus", ns / 1e3);
	else if (ns < 1e9)
		snprintf(buf, len, "%.3gms", ns / 1e6);
	else
		snprintf(buf, len, "%.3gs", ns / 1e9);
	return buf;
}

double pct(__u64 part, __u64 whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static void table_row(FILE *f, const struct report_row *row, int gen)
{
	const struct gc_proc_stats *s = &row->gc;
	char tot[16], mean[16], max[16];
	__u64 n = s->collections[gen];

	/* polled: no collection is seen, so no pause, except 3.15's totals */
	if (row->plan->polled) {
		fprintf(f, "%-3d %12llu %12llu %12llu %10s %10s %10s %7s\n", gen, (unsigned long long)n,
			(unsigned long long)s->collected[gen], (unsigned long long)s->uncollectable[gen],
			row->plan->poll_durations ? fmt_ns(tot, sizeof(tot), (double)s->pause_ns_total[gen]) : "n/a",
			row->plan->poll_durations ? fmt_ns(mean, sizeof(mean),
							   n ? (double)s->pause_ns_total[gen] / (double)n : 0) : "n/a",
			"n/a", "n/a");
		return;
	}
	fprintf(f, "%-3d %12llu %12llu %12llu %10s %10s %10s %7.3f\n", gen, (unsigned long long)n,
		(unsigned long long)s->collected[gen], (unsigned long long)s->uncollectable[gen],
		fmt_ns(tot, sizeof(tot), (double)s->pause_ns_total[gen]),
		fmt_ns(mean, sizeof(mean), n ? (double)s->pause_ns_total[gen] / (double)n : 0),
		fmt_ns(max, sizeof(max), (double)s->pause_ns_max[gen]),
		pct(s->pause_ns_total[gen], row->traced_ns));
}

/* Arena bytes follow from the count: every arena is ARENA_SIZE. */
static void table_growth(FILE *f, const struct report_row *row)
{
	const struct alloc_growth *g = &row->gc.growth;
	unsigned long long pools = 0;
	int c, top = -1;

	for (c = 0; c < MMTRACE_SIZE_CLASSES; c++) {
		pools += g->pools_acquired[c];
		if (g->pools_acquired[c] && (top < 0 || g->pools_acquired[c] > g->pools_acquired[top]))
			top = c;
	}
	fprintf(f, "ALLOC arenas +%llu -%llu", (unsigned long long)g->arenas_allocated,
		(unsigned long long)g->arenas_freed);
	if (row->plan->metrics[M_POOLS].cov == COV_UNAVAILABLE)
		fprintf(f, "   pools: n/a (%s)\n", row->plan->metrics[M_POOLS].reason);
	else if (top >= 0)
		fprintf(f, "   pools taken %llu (most: size class %d, %llu)\n", pools, top,
			(unsigned long long)g->pools_acquired[top]);
	else
		fprintf(f, "   pools taken 0\n");
}

static void table_process(FILE *f, const struct report_row *row)
{
	const struct gc_proc_stats *s = &row->gc;
	int g, i;

	fprintf(f, "PID %d (%s)  Python %s  via %s  %s%s\n", row->pid, row->comm, row->bin->version,
		row->plan->method, row->bin->path, row->exited ? "  [exited]" : "");
	fprintf(f, "GEN %12s %12s %12s %10s %10s %10s %7s\n", "COLLECTIONS", "COLLECTED", "UNCOLLECT",
		"PAUSE_TOT", "PAUSE_AVG", "PAUSE_MAX", "%TIME");
	for (g = 0; g < MMTRACE_GENERATIONS; g++)
		table_row(f, row, g);
	if (row->plan->polled)
		fprintf(f, "    pauses: %s\n", row->plan->metrics[M_PAUSE].reason);
	fprintf(f, "all %12llu %12llu %12llu %10s %10s %10s ", (unsigned long long)gc_sum(s->collections),
		(unsigned long long)gc_sum(s->collected), (unsigned long long)gc_sum(s->uncollectable), "", "", "");
	if (row->plan->polled && !row->plan->poll_durations)
		fprintf(f, "%7s\n", "n/a");
	else
		fprintf(f, "%7.3f\n", pct(gc_sum(s->pause_ns_total), row->traced_ns));
	if (row->plan->metrics[M_ARENAS].cov != COV_UNAVAILABLE || row->plan->metrics[M_POOLS].cov != COV_UNAVAILABLE)
		table_growth(f, row);
	for (i = 0; i < row->nparts; i++)
		row->parts[i]->text(f, row);
	if (gc_sum(s->sub_collections))
		fprintf(f, "    subinterpreters: %llu collections, %llu collected (not in the rows above)\n",
			(unsigned long long)gc_sum(s->sub_collections), (unsigned long long)gc_sum(s->sub_collected));
	if (s->read_errors && row->plan->polled)
		fprintf(f, "    lost: %llu readings of the interpreter failed (what it counted after the last good "
			"one is not here)\n", (unsigned long long)s->read_errors);
	else if (s->read_errors || s->unmatched_ends)
		fprintf(f, "    lost: %llu collections unreadable, %llu ends without a start\n",
			(unsigned long long)s->read_errors, (unsigned long long)s->unmatched_ends);
}

const char *const drop_names[MM_DROPS] = {
	[DROP_TABLE_FULL] = "table_full",
	[DROP_INFLIGHT_FULL] = "inflight_full",
	[DROP_WATCH_FULL] = "watch_full",
	[DROP_STACK_FULL] = "stack_full",
	[DROP_READ_ERROR] = "read_error",
	[DROP_UNMATCHED_END] = "unmatched_end",
	[DROP_EVENTS_LOST] = "events_lost",
	[DROP_SAMPLES_LOST] = "samples_lost",
};

void present_drops_line(FILE *f, const __u64 *drops)
{
	const char *sep = "dropped:";
	int i;

	for (i = 0; i < MM_DROPS; i++) {
		if (!drops[i])
			continue;
		fprintf(f, "%s %s %llu", sep, drop_names[i], (unsigned long long)drops[i]);
		sep = ",";
	}
	if (sep[0] == ',')
		fputc('\n', f);
}

void present_table(FILE *f, const struct report *r, bool tty)
{
	char when[32];
	struct tm tm;
	int i;

	localtime_r(&r->wall.tv_sec, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	if (tty && !r->final)
		fputs("\033[H\033[2J", f);
	fprintf(f, "%s mmtrace: GC since attach%s\n", when, r->final ? " (final)" : "");
	if (r->lost_events)
		fprintf(f, "lost: %llu events (ring buffer full; --events-kib)\n", r->lost_events);
	present_drops_line(f, r->drops);
	for (i = 0; i < r->n; i++) {
		table_process(f, &r->rows[i]);
		fputc('\n', f);
	}
	fflush(f);
}

/* The bcc print_log2_hist shape, with ns buckets. */
void log2_hist(FILE *f, const __u64 *slots, int n)
{
	log2_hist_of(f, slots, n, "nsecs", "(no collections)");
}

void log2_hist_of(FILE *f, const __u64 *slots, int n, const char *unit, const char *empty)
{
	__u64 max = 0;
	int i, first = -1, last = -1, j, stars;

	for (i = 0; i < n; i++) {
		if (slots[i] > max)
			max = slots[i];
		if (slots[i] && first < 0)
			first = i;
		if (slots[i])
			last = i;
	}
	if (last < 0) {
		fprintf(f, "     %s\n", empty);
		return;
	}
	fprintf(f, "%24s : count     distribution\n", unit);
	/* from the first non-empty bucket, as bpftrace does: pauses start at ~10 us */
	for (i = first; i <= last; i++) {
		unsigned long long lo = i ? 1ull << i : 0, hi = (2ull << i) - 1;

		stars = (int)(slots[i] * 40 / max);
		/* BPF puts everything longer into the last slot: it has no upper bound */
		if (i == n - 1)
			fprintf(f, "%10llu -> %-10s : %-9llu |", lo, "inf", (unsigned long long)slots[i]);
		else
			fprintf(f, "%10llu -> %-10llu : %-9llu |", lo, hi, (unsigned long long)slots[i]);
		for (j = 0; j < 40; j++)
			fputc(j < stars ? '*' : ' ', f);
		fprintf(f, "|\n");
	}
}

void present_histograms(FILE *f, const struct report *r)
{
	int i, g, p;

	for (i = 0; i < r->n; i++) {
		for (g = 0; g < MMTRACE_GENERATIONS; g++) {
			fprintf(f, "PID %d (%s) gen %d GC pause:\n", r->rows[i].pid, r->rows[i].comm, g);
			log2_hist(f, r->rows[i].gc.pause_hist[g], MMTRACE_HIST_SLOTS);
		}
		for (p = 0; p < r->rows[i].nparts; p++)
			if (r->rows[i].parts[p]->histograms)
				r->rows[i].parts[p]->histograms(f, &r->rows[i]);
		fputc('\n', f);
	}
	fflush(f);
}

static void probes_text_site(FILE *f, const struct probe_view *t, const struct plan_site *s)
{
	fprintf(f, "  %-9s %-9s %-32s vaddr 0x%llx offset 0x%llx", site_kind_name(s->kind),
		role_name(s->role), s->at.name, (unsigned long long)s->at.vaddr,
		(unsigned long long)s->at.offset);
	if (s->kind == SITE_USDT && s->at.sem_offset)
		fprintf(f, " semaphore 0x%llx", (unsigned long long)s->at.sem_offset);
	/* a return probe traps at the function's entry too, then at its return */
	fprintf(f, " in %s; a hit: %s (%s", t->bin->path, insn_trap_name(s->at.cost.trap), s->at.cost.insn);
	if (s->at.past_entry)
		fprintf(f, ", %u bytes past the entry's endbr64", s->at.past_entry);
	fprintf(f, ")%s\n", s->kind == SITE_URETPROBE ? " at entry, one more at return" : "");
}

void present_probes_text(FILE *f, const struct probe_view *ts, int n)
{
	const struct probe_view *t;
	int i, j;

	for (i = 0; i < n; i++) {
		t = &ts[i];
		if (t->pid)
			fprintf(f, "PID %d (%s): ", t->pid, t->comm);
		fprintf(f, "CPython %s (version from %s)\n", t->bin->version, t->bin->version_source);
		fprintf(f, "  binary:  %s%s\n", t->bin->path, t->bin->stripped ? " (stripped)" : "");
		fprintf(f, "  symbols: %s%s%s\n", sym_source_name(t->bin->sym_source),
			t->bin->debug_path[0] ? " " : "", t->bin->debug_path);
		fprintf(f, "  usdt:    %s\n", t->bin->has_gc_usdt ? "python:gc__start, python:gc__done" : "none");
		if (t->offsets)
			fprintf(f, "  offsets: %s\n", t->offsets);
		fprintf(f, "  sites (%s):\n", t->plan->method);
		if (t->plan->polled)
			fprintf(f, "  none: the interpreter's own GC counters are read from its memory at each "
				"report; no collection is seen one by one (pauses%s, events, stacks)\n",
				t->plan->poll_durations ? " except 3.15's totals" : "");
		for (j = 0; j < t->plan->nsites; j++)
			probes_text_site(f, t, &t->plan->sites[j]);
		fprintf(f, "  %-18s %-12s %s\n", "METRIC", "COVERAGE", "WHY");
		for (j = 0; j < M__COUNT; j++)
			fprintf(f, "  %-18s %-12s %s\n", metric_name(j), coverage_name(t->plan->metrics[j].cov),
				t->plan->metrics[j].reason);
		fputc('\n', f);
	}
}

