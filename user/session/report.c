// SPDX-License-Identifier: MIT
/*
 * Reports: the process table as report rows, each a GC row plus the
 * features' parts, handed to the table, JSON and the exporters. The -p and
 * -- CMD sources show every row in full at each report; the host shows
 * the rows of the interval and a summary.
 */
#include <stdlib.h>
#include <string.h>
#include "pprof.h"
#include "pyoffsets_dwarf.h"
#include "present.h"
#include "session_impl.h"

static void summarize(struct session *s, struct host_summary *sum)
{
	struct map_usage u;
	int i;

	memset(sum, 0, sizeof(*sum));
	collect_map_usage(&s->col, &u);
	sum->processes_seen = s->procs.seen;
	sum->ended = (unsigned long long)s->procs.nended + s->procs.folded;
	sum->live = s->procs.n - s->procs.nended;
	sum->folded = s->procs.folded;
	for (i = 0; i < s->reg.nbins; i++)
		sum->interpreters += session_interp(s, i)->attached;
	sum->lost_events = attacher_lost_events(&s->att);
	sum->missed_execs = s->disc.missed;
	sum->untraceable = s->untraceable;
	sum->map_proc_stats = u.proc_stats;
	sum->map_watched = u.watched;
	sum->map_max = u.max;
}

static void fill_row(struct session *s, struct proc_row *p, uint64_t now, bool final, bool scrape,
		     struct report_row *r)
{
	const struct interp_file *f = session_interp(s, p->bin_id);
	uint64_t end = p->ended ? p->end_ns : now;
	/* a row's first interval runs from when it was first counted */
	uint64_t from = p->reported_once && s->last_report_ns > p->start_ns ? s->last_report_ns : p->start_ns;

	memset(r, 0, sizeof(*r));
	r->pid = p->pid;
	r->ns_pid = p->ns_pid;
	r->comm = p->comm;
	r->container_id = p->container_id;
	r->bin = &f->bin;
	r->plan = &f->plan;
	r->exited = p->ended;
	r->from_exec = p->from_exec;
	r->forked = p->forked;
	r->parent_pid = p->parent_pid;
	r->absolute = p->absolute;
	if (p->forked)
		r->inherited = &p->inherited;
	r->gc = p->now;
	r->traced_ns = end > p->start_ns ? end - p->start_ns : 0;
	if (final) {	/* the whole traced time is the "interval" */
		r->delta = p->now;
		r->interval_ns = r->traced_ns;
	} else {
		gc_stats_delta(&r->delta, &p->now, &p->prev);
		r->interval_ns = end > from ? end - from : 0;
	}
	features_fill(&s->fc, p, &f->bin, scrape, r);
}

/* Which rows a report carries. */
enum row_set { ROWS_INTERVAL, ROWS_ALL, ROWS_METRICS };

static bool row_in(const struct session *s, const struct proc_row *p, enum row_set set, uint64_t now)
{
	if (set == ROWS_ALL || s->src->one_table)
		return true;
	if (set == ROWS_INTERVAL)
		return !p->reported_end;
	/* metrics: an ended process's series stay for the grace period */
	return !p->ended || (double)(now - p->end_ns) < s->c->opt->metrics_grace_s * 1e9;
}

/* The chosen rows into r; r->rows is the caller's to free. */
static void collect_rows(struct session *s, enum row_set set, uint64_t now, bool scrape, struct report *r)
{
	int i;

	r->rows = calloc((size_t)s->procs.n + 1, sizeof(*r->rows));
	r->n = 0;
	for (i = 0; r->rows && i < s->procs.n; i++)
		if (row_in(s, &s->procs.rows[i], set, now))
			fill_row(s, &s->procs.rows[i], now, set == ROWS_ALL, scrape, &r->rows[r->n++]);
}

/* A report's frame: fresh counters, what was lost or dropped, the summary. */
static void begin_report(struct session *s, bool final, struct host_summary *sum, struct report *r)
{
	memset(r, 0, sizeof(*r));
	session_refresh(s, monotonic_ns());
	summarize(s, sum);
	r->final = final;
	r->host = s->src->one_table ? NULL : sum;
	r->lost_events = sum->lost_events + attacher_lost_samples(&s->att);
	r->growth = s->c->opt->alloc_growth;
	attacher_drops(&s->att, r->drops);
	clock_gettime(CLOCK_REALTIME, &r->wall);
}

void session_scrape(struct session *s)
{
	struct host_summary sum;
	struct report r;

	begin_report(s, false, &sum, &r);
	collect_rows(s, ROWS_METRICS, monotonic_ns(), true, &r);
	if (r.rows)
		exporters_serve(&s->ex, &r);
	free(r.rows);
}

static void print_report(struct session *s, struct report *r)
{
	const struct options *o = s->c->opt;
	bool clear = s->c->tty && !o->min_pause_ms && !(r->final && !s->src->one_table);

	if (o->json) {
		present_json(s->c->out, r);
		return;
	}
	if (s->src->one_table)
		present_table(s->c->out, r, clear);
	else
		present_host_table(s->c->out, r, o->sort, o->top, clear);
	if (o->histograms && o->merge)
		present_merged_histograms(s->c->out, r);
	else if (o->histograms)
		present_histograms(s->c->out, r);
}

/* Live rows and rows that ended since the last report (every row in the
 * one-process tables); all rows at the end. */
void session_report(struct session *s, bool final)
{
	uint64_t now = monotonic_ns();
	struct host_summary sum;
	struct report r;
	struct proc_row *p;
	int i;

	/* draining events adds rows: collect_rows sizes the report after it */
	begin_report(s, final, &sum, &r);
	collect_rows(s, final ? ROWS_ALL : ROWS_INTERVAL, now, false, &r);
	if (r.rows) {
		if (s->src->one_table) {	/* the same rows, read once */
			exporters_tick(&s->ex, &r);
			exporters_counters(&s->ex, &r, now);
		}
		print_report(s, &r);
	}
	free(r.rows);
	if (!s->src->one_table && exporters_want_ticks(&s->ex)) {
		collect_rows(s, ROWS_METRICS, now, true, &r);
		if (r.rows)
			exporters_tick(&s->ex, &r);
		free(r.rows);
	}
	for (i = 0; i < s->procs.n; i++) {
		p = &s->procs.rows[i];
		p->prev = p->now;
		p->reported_end = p->ended;
		p->reported_once = true;
	}
	s->last_report_ns = now;
}

/* The rows as the profile's labels, the traced span as its time and duration. */
static int write_pprof(struct session *s)
{
	struct pprof_process *procs = calloc((size_t)s->procs.n + 1, sizeof(*procs));
	struct pprof_run r = { procs, s->procs.n, s->c->opt->alloc_growth, s->c->opt->sample_bytes, 0, 0 };
	uint64_t now = monotonic_ns(), first = now, last = 0, end;
	const struct proc_row *p;
	struct timespec wall;
	int i, rc;

	if (!procs) {
		snprintf(s->c->err, s->c->errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < s->procs.n; i++) {
		p = &s->procs.rows[i];
		procs[i] = (struct pprof_process){ p->pid, p->comm };
		end = p->ended ? p->end_ns : now;
		first = p->start_ns < first ? p->start_ns : first;
		last = end > last ? end : last;
	}
	clock_gettime(CLOCK_REALTIME, &wall);
	r.time_ns = (int64_t)wall.tv_sec * 1000000000 + wall.tv_nsec - (int64_t)(now - first);
	r.duration_ns = last > first ? (int64_t)(last - first) : 0;
	rc = pprof_write(&s->stacks, &r, s->c->opt->pprof, s->c->err, s->c->errlen);
	free(procs);
	return rc;
}

int session_write_stacks(struct session *s)
{
	const struct options *o = s->c->opt;

	if (o->folded && stacks_write_files(&s->stacks, o->folded, o->folded_metric, s->c->err, s->c->errlen))
		return -1;
	return o->pprof ? write_pprof(s) : 0;
}

struct probe_view session_probe_view(const struct session *s, pid_t pid, const char *comm, int bin_id, char *offsets,
				     size_t len)
{
	const struct interp_file *f = session_interp(s, bin_id);

	pyoff_describe(&f->bin, offsets, len);
	return (struct probe_view){ pid, comm, &f->bin, &f->plan, offsets };
}

void session_print_probes(const struct session *s, const struct probe_view *v, int n)
{
	(s->c->opt->json ? present_probes_json : present_probes_text)(s->c->out, v, n);
}
