// SPDX-License-Identifier: MIT
/* JSON lines: one object per report, per slow collection, per probe plan.
 * The schema is documented in the README. */
#include <time.h>
#include "collect.h"
#include "json.h"
#include "present.h"
#include "proctable.h"

/* "collections", "collected", "uncollectable" per generation, object left open */
static void json_open_counts(FILE *f, const __u64 *collections, const __u64 *collected, const __u64 *uncollectable,
			     int *first)
{
	fputc('{', f);
	json_key(f, "collections", first), json_u64_array(f, collections, MMTRACE_GENERATIONS);
	json_key(f, "collected", first), json_u64_array(f, collected, MMTRACE_GENERATIONS);
	json_key(f, "uncollectable", first), json_u64_array(f, uncollectable, MMTRACE_GENERATIONS);
}

/* collections of every subinterpreter together; the gc fields are the main one's */
static void json_subinterp(FILE *f, const struct gc_proc_stats *s)
{
	int first = 1;

	json_open_counts(f, s->sub_collections, s->sub_collected, s->sub_uncollectable, &first);
	json_u64(f, "pause_ns_total", s->sub_pause_ns_total, &first);
	fputc('}', f);
}

/* candidates: null where the interpreter does not count them (before 3.15);
 * pauses: null where nothing sees them (a polled process: no collection is
 * seen, only 3.15's own duration totals), never zeros that look measured */
static void json_gc(FILE *f, const struct gc_proc_stats *s, const struct probe_plan *plan)
{
	const struct gc_site *c = plan->polled ? &plan->poll_cfg : plan->nsites ? &plan->sites[0].cfg : NULL;
	int first = 1, g;

	json_open_counts(f, s->collections, s->collected, s->uncollectable, &first);
	json_key(f, "candidates", &first);
	if (c && c->ring)
		json_u64_array(f, s->candidates, MMTRACE_GENERATIONS);
	else
		fputs("null", f);
	json_key(f, "pause_ns_total", &first);
	if (plan->polled && !plan->poll_durations)
		fputs("null", f);
	else
		json_u64_array(f, s->pause_ns_total, MMTRACE_GENERATIONS);
	json_key(f, "pause_ns_max", &first);
	if (plan->polled) {
		fputs("null", f);
		json_key(f, "pause_hist_log2_ns", &first), fputs("null", f);
	} else {
		json_u64_array(f, s->pause_ns_max, MMTRACE_GENERATIONS);
		json_key(f, "pause_hist_log2_ns", &first);
		fputc('[', f);
		for (g = 0; g < MMTRACE_GENERATIONS; g++) {
			if (g)
				fputc(',', f);
			json_u64_array(f, s->pause_hist[g], MMTRACE_HIST_SLOTS);
		}
		fputc(']', f);
	}
	json_u64(f, "read_errors", s->read_errors, &first);
	json_u64(f, "unmatched_ends", s->unmatched_ends, &first);
	json_u64(f, "empty_calls", s->empty_calls, &first);
	json_key(f, "subinterpreters", &first), json_subinterp(f, s);
	fputc('}', f);
}

/* pymalloc's growth (--alloc=growth): arenas and pools taken */
static void json_alloc(FILE *f, const struct alloc_growth *g)
{
	int first = 1;

	fputc('{', f);
	json_u64(f, "arenas_allocated", g->arenas_allocated, &first);
	json_u64(f, "arenas_freed", g->arenas_freed, &first);
	json_u64(f, "arena_alloc_failed", g->arena_alloc_failed, &first);
	json_key(f, "pools_acquired", &first), json_u64_array(f, g->pools_acquired, MMTRACE_SIZE_CLASSES);
	fputc('}', f);
}

/* a forked child's interpreter starts with its parent's GC statistics */
static void json_inherited(FILE *f, const struct gc_inherited *in)
{
	int first = 1;

	json_open_counts(f, in->collections, in->collected, in->uncollectable, &first);
	fputc('}', f);
}

static void json_process(FILE *f, const struct report_row *row)
{
	int first = 1, i;

	fputc('{', f);
	json_key(f, "pid", &first), fprintf(f, "%d", row->pid);
	json_key(f, "ns_pid", &first), fprintf(f, "%d", row->ns_pid ? row->ns_pid : row->pid);
	json_key(f, "comm", &first), json_string(f, row->comm);
	json_key(f, "python", &first), json_string(f, row->bin->version);
	json_key(f, "binary", &first), json_string(f, row->bin->path);
	json_key(f, "exited", &first), fputs(row->exited ? "true" : "false", f);
	json_key(f, "traced_from", &first),
		json_string(f, row->forked ? "fork" : row->from_exec ? "exec" : "attach");
	json_key(f, "counts_absolute", &first), fputs(row->absolute ? "true" : "false", f);
	if (row->forked) {
		json_key(f, "parent_pid", &first), fprintf(f, "%d", row->parent_pid);
		json_key(f, "inherited", &first), json_inherited(f, row->inherited);
	}
	json_key(f, "probe_method", &first), json_string(f, row->plan->method);
	json_u64(f, "traced_ns", row->traced_ns, &first);
	json_key(f, "gc_time_pct", &first);
	if (row->plan->polled && !row->plan->poll_durations)
		fputs("null", f);
	else
		fprintf(f, "%.6f", pct(gc_sum(row->gc.pause_ns_total), row->traced_ns));
	json_key(f, "gc", &first), json_gc(f, &row->gc, row->plan);
	json_key(f, "alloc", &first), json_alloc(f, &row->gc.growth);
	for (i = 0; i < row->nparts; i++)
		row->parts[i]->json(f, row, &first);
	fputc('}', f);
}

static void json_host(FILE *f, const struct host_summary *h)
{
	int first = 1, mf = 1;

	fputc('{', f);
	json_u64(f, "processes_seen", h->processes_seen, &first);
	json_u64(f, "live", h->live, &first);
	json_u64(f, "ended", h->ended, &first);
	json_u64(f, "folded", h->folded, &first);
	json_u64(f, "interpreters", h->interpreters, &first);
	json_u64(f, "lost_events", h->lost_events, &first);
	json_u64(f, "missed_execs", h->missed_execs, &first);
	json_u64(f, "untraceable", h->untraceable, &first);
	json_key(f, "maps", &first);
	fputc('{', f);
	json_u64(f, "proc_stats", h->map_proc_stats, &mf);
	json_u64(f, "watched", h->map_watched, &mf);
	json_u64(f, "max_entries", h->map_max, &mf);
	fputs("}}", f);
}

/* "drops":{...}, every cause, zeros included */
static void json_drops(FILE *f, const __u64 *drops)
{
	int i, first = 1;

	fputs("\"drops\":{", f);
	for (i = 0; i < MM_DROPS; i++)
		json_u64(f, drop_names[i], drops[i], &first);
	fputs("},", f);
}

void present_json(FILE *f, const struct report *r)
{
	int i;

	fprintf(f, "{\"time\":%lld.%03ld,\"final\":%s,\"lost_events\":%llu,", (long long)r->wall.tv_sec,
		r->wall.tv_nsec / 1000000, r->final ? "true" : "false", r->lost_events);
	json_drops(f, r->drops);
	if (r->host) {
		fputs("\"host\":", f);
		json_host(f, r->host);
		fputc(',', f);
	}
	fputs("\"processes\":[", f);
	for (i = 0; i < r->n; i++) {
		if (i)
			fputc(',', f);
		json_process(f, &r->rows[i]);
	}
	fputs("]}\n", f);
	fflush(f);
}

/* Event times are CLOCK_MONOTONIC; shown as wall time. */
static struct timespec wall_of(__u64 mono_ns)
{
	struct timespec now_wall, now_mono;
	long long ns;

	clock_gettime(CLOCK_REALTIME, &now_wall);
	clock_gettime(CLOCK_MONOTONIC, &now_mono);
	ns = (long long)now_wall.tv_sec * 1000000000ll + now_wall.tv_nsec -
	     ((long long)now_mono.tv_sec * 1000000000ll + now_mono.tv_nsec - (long long)mono_ns);
	return (struct timespec){ ns / 1000000000ll, ns % 1000000000ll };
}

void present_pause_event(FILE *f, const struct mm_pause_event *e, bool json)
{
	struct timespec w = wall_of(e->ts_ns);
	char comm[MMTRACE_COMM_LEN + 1] = "", when[16], dur[16];
	int first = 1;
	struct tm tm;

	snprintf(comm, sizeof(comm), "%.*s", MMTRACE_COMM_LEN, e->comm);
	if (json) {
		fprintf(f, "{\"event\":\"gc_pause\",\"time\":%lld.%06ld,", (long long)w.tv_sec, w.tv_nsec / 1000);
		json_key(f, "pid", &first), fprintf(f, "%u", e->pid);
		json_key(f, "tid", &first), fprintf(f, "%u", e->tid);
		json_key(f, "comm", &first), json_string(f, comm);
		json_u64(f, "generation", e->generation, &first);
		json_u64(f, "pause_ns", e->pause_ns, &first);
		json_u64(f, "collected", e->collected, &first);
		json_u64(f, "uncollectable", e->uncollectable, &first);
		fputs("}\n", f);
	} else {
		localtime_r(&w.tv_sec, &tm);
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
		fprintf(f, "%s.%03ld SLOW GC  pid %u (%s) tid %u  gen %u  pause %s  collected %llu  uncollectable %llu\n",
			when, w.tv_nsec / 1000000, e->pid, comm, e->tid, e->generation,
			fmt_ns(dur, sizeof(dur), (double)e->pause_ns), (unsigned long long)e->collected,
			(unsigned long long)e->uncollectable);
	}
	fflush(f);
}

static void probes_json_site(FILE *f, const struct plan_site *s)
{
	int first = 1;

	fputc('{', f);
	json_key(f, "kind", &first), json_string(f, site_kind_name(s->kind));
	json_key(f, "role", &first), json_string(f, role_name(s->role));
	json_key(f, "at", &first), json_string(f, s->at.name);
	json_u64(f, "vaddr", s->at.vaddr, &first);
	json_u64(f, "offset", s->at.offset, &first);
	json_u64(f, "semaphore_offset", s->at.sem_offset, &first);
	json_key(f, "trap", &first), json_string(f, insn_trap_name(s->at.cost.trap));
	json_key(f, "instruction", &first), json_string(f, s->at.cost.insn);
	json_u64(f, "past_entry", s->at.past_entry, &first);
	fputc('}', f);
}

static void probes_json_metrics(FILE *f, const struct probe_plan *plan)
{
	int j, mf;

	fputc('{', f);
	for (j = 0; j < M__COUNT; j++) {
		mf = 1;
		if (j)
			fputc(',', f);
		json_string(f, metric_name(j));
		fputs(":{", f);
		json_key(f, "coverage", &mf), json_string(f, coverage_name(plan->metrics[j].cov));
		json_key(f, "reason", &mf), json_string(f, plan->metrics[j].reason);
		fputc('}', f);
	}
	fputc('}', f);
}

static void probes_json_target(FILE *f, const struct probe_view *t)
{
	int first = 1, j;

	fputc('{', f);
	if (t->pid) {
		json_key(f, "pid", &first), fprintf(f, "%d", t->pid);
		json_key(f, "comm", &first), json_string(f, t->comm);
	}
	json_key(f, "python", &first), json_string(f, t->bin->version);
	json_key(f, "version_source", &first), json_string(f, t->bin->version_source);
	json_key(f, "binary", &first), json_string(f, t->bin->path);
	json_key(f, "stripped", &first), fputs(t->bin->stripped ? "true" : "false", f);
	json_key(f, "symbol_source", &first), json_string(f, sym_source_name(t->bin->sym_source));
	json_key(f, "debug_file", &first), json_string(f, t->bin->debug_path);
	json_key(f, "debug_hint", &first), json_string(f, t->bin->debug_hint);
	json_key(f, "usdt", &first), fputs(t->bin->has_gc_usdt ? "true" : "false", f);
	json_key(f, "offsets", &first), json_string(f, t->offsets ? t->offsets : "");
	json_key(f, "method", &first), json_string(f, t->plan->method);
	json_key(f, "sites", &first), fputc('[', f);
	for (j = 0; j < t->plan->nsites; j++) {
		if (j)
			fputc(',', f);
		probes_json_site(f, &t->plan->sites[j]);
	}
	fputc(']', f);
	json_key(f, "metrics", &first), probes_json_metrics(f, t->plan);
	fputc('}', f);
}

void present_probes_json(FILE *f, const struct probe_view *v, int n)
{
	int i;

	fputs("{\"targets\":[", f);
	for (i = 0; i < n; i++) {
		if (i)
			fputc(',', f);
		probes_json_target(f, &v[i]);
	}
	fputs("]}\n", f);
}
