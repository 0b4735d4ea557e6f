// SPDX-License-Identifier: MIT
/*
 * The system-wide mode: discover (scan /proc, then exec events) -> resolve
 * (once per file) -> plan and attach (once per interpreter file, for every
 * process that maps it) -> collect (per-process counters, final counters on
 * exit) -> present (one row per process).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include "attach.h"
#include "collect.h"
#include "discover_host.h"
#include "exitcodes.h"
#include "export.h"
#include "host.h"
#include "pyoffsets_dwarf.h"
#include "present.h"
#include "proctable.h"
#include "registry.h"
#include "stop.h"

/* A process can load libpython long after exec (uwsgi's plugin): /proc is
 * scanned again this often. Exec events find everything else at once. */
#define RESCAN_NS (10ull * 1000000000ull)
/* looks at a pid that keeps exec'ing while its maps are read; the next
 * rescan or its exec event finds it */
#define SCAN_TRIES 3

struct host {
	const struct host_config *c;
	struct registry reg;
	struct host_discovery disc;
	struct proctable procs;
	struct attacher att;
	bool loaded;
	struct collector col;
	bool collecting;
	uint64_t last_report_ns;
	unsigned long long untraceable;	/* CPython processes whose file has no usable probe */
	struct exporters ex;
	bool exporting;
	pid_t scan_pid;		/* the pid whose look drains events, 0 when none */
	uint64_t scan_exec_ns;	/* its newest exec event in that drain */
};

static struct interp_file *interp(const struct host *h, int bin_id)
{
	return h->reg.bins[bin_id];
}

/* Plans and attaches an interpreter file the first time a process of it
 * shows up. 0 when its probes are live. */
static int ensure_attached(struct host *h, int bin_id)
{
	struct interp_file *f = interp(h, bin_id);

	if (f->attached)
		return 0;
	if (f->attach_error[0])
		return -1;
	if (plan_file(&f->bin, h->c->po, &f->plan))
		snprintf(f->attach_error, sizeof(f->attach_error), "no GC probe point: %s",
			 f->plan.metrics[M_COLLECTIONS].reason);
	else if (f->plan.polled)
		f->attached = true;	/* nothing to attach: its rows are read at each report */
	else
		f->attached = !attacher_attach(&h->att, &f->bin, &f->plan, -1, (__u32)bin_id, f->attach_error,
					       sizeof(f->attach_error));
	if (!f->attached) {
		fprintf(stderr, "mmtrace: not tracing CPython %s at %s: %s\n", f->bin.version, f->bin.path,
			f->attach_error);
		return -1;
	}
	f->attach_ns = monotonic_ns();
	return 0;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec t;

	return clock_gettime(id, &t) ? 0 : (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* /proc/PID/stat's starttime counts ticks of CLOCK_BOOTTIME (task->start_boottime);
 * mmtrace's clock is CLOCK_MONOTONIC, behind it by the time spent suspended. */
static uint64_t boottime_ahead_ns(void)
{
	uint64_t boot = clock_ns(CLOCK_BOOTTIME), mono = monotonic_ns();

	return boot > mono ? boot - mono : 0;
}

/* When a process found by a scan began to be counted: the probes count
 * every process from when they went live, or from its start if it started
 * later (a process that dlopens libpython is found by a rescan up to 10 s
 * after). Unknown (gone already), it is when mmtrace found it. */
static uint64_t counted_from(uint64_t attach_ns, uint64_t start_ticks, uint64_t found_ns)
{
	long hz = sysconf(_SC_CLK_TCK);
	uint64_t started = found_ns, since, ahead;

	if (start_ticks && hz > 0) {
		since = start_ticks * (1000000000ull / (uint64_t)hz);
		ahead = boottime_ahead_ns();
		started = since > ahead ? since - ahead : 0;
	}
	return started > attach_ns ? started : attach_ns;
}

/* A live row for a CPython process, once its interpreter file is probed.
 * exec_ns is when it exec'd, 0 when unknown; it was counted from its first
 * instruction when the file's probes were already live then. */
static struct proc_row *track(struct host *h, pid_t pid, int bin_id, const char *comm, pid_t ns_pid,
			      uint64_t exec_ns, uint64_t found_ns)
{
	struct interp_file *f = interp(h, bin_id);
	struct proc_row *row;

	if (ensure_attached(h, bin_id)) {
		h->untraceable++;
		return NULL;
	}
	if (proctable_live(&h->procs, pid))
		return NULL;
	row = proctable_add(&h->procs, pid);
	if (!row)
		return NULL;
	row->bin_id = bin_id;
	snprintf(row->comm, sizeof(row->comm), "%s", comm);
	row->ns_pid = ns_pid;
	row->from_exec = exec_ns && f->attach_ns <= exec_ns;
	row->absolute = row->from_exec;
	row->found_ns = found_ns;
	row->start_ticks = process_start_ticks(pid);
	/* exec_ns before the attach: the attach, which came for this process */
	row->start_ns = row->from_exec ? exec_ns : exec_ns ? f->attach_ns :
			counted_from(f->attach_ns, row->start_ticks, found_ns);
	read_exe_id(pid, &row->exe);
	read_container_id(pid, row->container_id, sizeof(row->container_id));
	/* so that BPF reports its end even if it never collects */
	collect_watch(&h->col, pid, (__u32)bin_id);
	return row;
}

/* Reads pid's image from /proc with what would show that it exec'd, or
 * that the pid came to name another process, while its maps were read. */
static void look(struct host *h, pid_t pid, struct scan_facts *f)
{
	memset(f, 0, sizeof(*f));
	/* before reading /proc: events older than this are not about what we read */
	f->begin_ns = monotonic_ns();
	f->ticks_before = process_start_ticks(pid);
	read_exe_id(pid, &f->exe_before);
	f->bin = discover_host_pid(&h->disc, pid);
	if (f->bin < 0)
		return;
	f->ticks_after = process_start_ticks(pid);
	read_exe_id(pid, &f->exe_after);
	/* an exec of the same file shows only as an event */
	h->scan_pid = pid;
	h->scan_exec_ns = 0;
	collector_drain(&h->col);
	h->scan_pid = 0;
	f->exec_ns = h->scan_exec_ns;
}

static void consider_pid(void *arg, pid_t pid)
{
	struct host *h = arg;
	char comm[MMTRACE_COMM_LEN] = "?";
	enum scan_action act = SCAN_RETRY;
	struct scan_facts f;
	struct proc_row *row;
	int i;

	/* the rest of a scan can wait for the next mmtrace */
	if (stop_pending(h->c->ro->stop) || proctable_live(&h->procs, pid))
		return;
	for (i = 0; i < SCAN_TRIES && act == SCAN_RETRY; i++) {
		look(h, pid, &f);
		act = proctable_scan_action(&f, proctable_live(&h->procs, pid));
	}
	if (act != SCAN_TRACK)
		return;
	read_comm(pid, comm, sizeof(comm));
	row = track(h, pid, f.bin, comm, read_ns_pid(pid), 0, f.begin_ns);
	if (!row)
		return;
	/* what the maps were checked against, not a later look */
	row->start_ticks = f.ticks_after;
	row->exe = f.exe_after;
}

static void on_exec(void *ctx, const struct mm_exec_event *e)
{
	struct host *h = ctx;
	struct proc_row *row = proctable_live(&h->procs, (pid_t)e->pid);
	enum exec_action act = proctable_exec_action(row, e->ts_ns);
	char comm[MMTRACE_COMM_LEN + 1];
	int bin;

	if ((pid_t)e->pid == h->scan_pid && e->ts_ns > h->scan_exec_ns)
		h->scan_exec_ns = e->ts_ns;
	if (act == EXEC_SEEN)
		return;		/* the scan already saw the new image */
	if (act == EXEC_UNFORK) {	/* the scan saw this image, not the parent's copy */
		proctable_unfork(row, e->ts_ns, interp(h, row->bin_id)->attach_ns);
		return;
	}
	if (act == EXEC_END_OLD)	/* its end event was lost: the old image ends here */
		proctable_end(&h->procs, row, e->ts_ns);
	bin = discover_host_exec(&h->disc, e);
	if (bin < 0)
		return;
	snprintf(comm, sizeof(comm), "%.*s", MMTRACE_COMM_LEN, e->comm);
	track(h, (pid_t)e->pid, bin, comm, (pid_t)e->ns_pid, e->ts_ns, e->ts_ns);
}

/* An ended row of the image an END event names, if any. */
static bool ended_image(const struct proctable *t, const struct mm_end_event *e)
{
	int i;

	for (i = t->n - 1; i >= 0; i--)
		if (t->rows[i].pid == (pid_t)e->pid && t->rows[i].ended && t->rows[i].end_identified &&
		    t->rows[i].end_start_ns == e->start_ns && t->rows[i].end_exec_id == e->exec_id)
			return true;
	return false;
}

static void end_as(struct proctable *t, struct proc_row *row, const struct mm_end_event *e)
{
	row->end_identified = true;
	row->end_start_ns = e->start_ns;
	row->end_exec_id = e->exec_id;
	proctable_end(t, row, e->ts_ns);
}

/* Counters of a process that ended before mmtrace learned of it. */
static void adopt_ended(struct proctable *t, const struct registry *reg, const struct mm_end_event *e)
{
	struct proc_row *row;
	int bin = (int)e->stats.bin_id;

	if (!e->has_stats || bin < 0 || bin >= reg->nbins || !reg->bins[bin]->attached)
		return;
	row = proctable_add(t, (pid_t)e->pid);
	if (!row)
		return;
	row->bin_id = bin;
	snprintf(row->comm, sizeof(row->comm), "?");
	row->start_ns = reg->bins[bin]->attach_ns;
	row->found_ns = e->ts_ns;
	row->now = e->stats;
	end_as(t, row, e);
}

static void on_fork(void *ctx, const struct mm_fork_event *e)
{
	struct host *h = ctx;
	struct proc_row *parent = proctable_live(&h->procs, (pid_t)e->parent_pid), *row;
	char parent_comm[MMTRACE_COMM_LEN];
	struct gc_inherited from_parent;
	struct exe_id parent_exe;
	enum fork_action act;
	bool absolute;
	int g, bin_id;

	if (!parent)
		return;
	/* copied out: ending or adding rows below may move them */
	bin_id = parent->bin_id;
	absolute = parent->absolute;
	snprintf(parent_comm, sizeof(parent_comm), "%s", parent->comm);
	parent_exe = parent->exe;
	from_parent = parent->inherited;
	for (g = 0; e->has_stats && g < MMTRACE_GENERATIONS; g++) {
		from_parent.collections[g] += e->parent_collections[g];
		from_parent.collected[g] += e->parent_collected[g];
		from_parent.uncollectable[g] += e->parent_uncollectable[g];
	}
	row = proctable_live(&h->procs, (pid_t)e->pid);
	act = proctable_fork_action(row, parent, e->ts_ns);
	if (act == FORK_KEEP)	/* the scan found it after it exec'd: not its parent's image */
		return;
	if (act == FORK_END_STALE)	/* a stale row of a reused pid */
		proctable_end(&h->procs, row, e->ts_ns);
	else if (act == FORK_ADOPT)	/* the scan found the child first: it is this one */
		goto forked;
	row = proctable_add(&h->procs, (pid_t)e->pid);
	if (!row)
		return;
	snprintf(row->comm, sizeof(row->comm), "%s", parent_comm);
	row->exe = parent_exe;
	row->ns_pid = read_ns_pid(row->pid);
	row->start_ticks = process_start_ticks(row->pid);
	row->found_ns = e->ts_ns;	/* its end, however soon, is its own */
forked:
	row->bin_id = bin_id;
	row->parent_pid = (pid_t)e->parent_pid;
	row->forked = true;
	row->from_exec = false;
	row->absolute = absolute;
	row->inherited = from_parent;
	row->start_ns = e->ts_ns;
}

static bool own_collections(const struct proc_row *row)
{
	return gc_sum(row->now.collections) != 0;
}

bool host_end_event(struct proctable *t, const struct registry *reg, const struct mm_end_event *e)
{
	struct proc_row *row;

	/* an image ends once: a second END of it (BPF hands each end over once,
	 * but user space may have watched the dying process again) is no news */
	if (ended_image(t, e))
		return false;
	row = proctable_live(t, (pid_t)e->pid);
	if (!row || row->found_ns > e->ts_ns) {
		adopt_ended(t, reg, e);
		return false;
	}
	if (row->forked && e->reason == MM_END_EXEC && !e->has_stats && !own_collections(row)) {
		proctable_discard(t, row);	/* fork + exec: the child's new image is what counts */
		return false;
	}
	if (e->has_stats)
		row->now = e->stats;
	end_as(t, row, e);
	/* user space may have watched it again after BPF let it go (exec and
	 * exit drained together): no live row is left to need the entries */
	return e->reason == MM_END_EXIT && !proctable_live(t, (pid_t)e->pid);
}

static void on_end(void *ctx, const struct mm_end_event *e)
{
	struct host *h = ctx;

	if (host_end_event(&h->procs, &h->reg, e))
		collect_forget(&h->col, (pid_t)e->pid);
}

/* What BPF read as a polled process exited (before its END, in the same
 * ring): the row's counts then include the collections after the last read.
 * A row never read has no base, unless it counts from its exec (zero). */
static void on_poll_final(void *ctx, const struct mm_poll_final_event *e)
{
	struct host *h = ctx;
	struct proc_row *row = proctable_live(&h->procs, (pid_t)e->pid);
	const struct interp_file *f;
	struct gc_poll_read now;

	if (!row || row->ended)
		return;
	f = interp(h, row->bin_id);
	if (!f->plan.polled || (!row->poll_based && !row->from_exec))
		return;
	if (!row->poll_based) {
		memset(&row->poll_base, 0, sizeof(row->poll_base));
		row->poll_based = true;
	}
	if (!gc_poll_from_event(&f->plan, e, &now) || !gc_poll_delta(&f->plan, &now, &row->poll_base, &row->now))
		row->now.read_errors++;
}

static void on_pause(void *ctx, const struct mm_pause_event *e)
{
	struct host *h = ctx;
	struct proc_row *row;

	/* BPF reports every collection when --trace is on: print the slow ones */
	if (h->c->opt->min_pause_ms && e->pause_ns >= (__u64)(h->c->opt->min_pause_ms * 1e6))
		present_pause_event(h->c->out, e, h->c->opt->json);
	if (!exporters_want_pauses(&h->ex))
		return;
	row = proctable_live(&h->procs, (pid_t)e->pid);
	exporters_pause(&h->ex, e, row ? row->comm : NULL, row ? interp(h, row->bin_id)->bin.version : NULL,
			row ? &row->trace_named : NULL);
}

/* Still the process of this row: alive, and not a new one under a reused
 * pid (its end event lost). */
static bool same_process(const struct proc_row *row)
{
	uint64_t ticks;

	if (kill(row->pid, 0) && errno == ESRCH)
		return false;
	ticks = process_start_ticks(row->pid);
	return !row->start_ticks || !ticks || ticks == row->start_ticks;
}

/* A polled row: the interpreter's counters now, less those of its first
 * read. A process caught at its exec has counted nothing before (its
 * interpreter starts from zero), so its base is zero and its counts are
 * absolute; until its interpreter is initialised, there is nothing to read.
 * Collections between the last read and the end are not seen. */
static void refresh_polled(struct host *h, struct proc_row *row)
{
	const struct interp_file *f = interp(h, row->bin_id);
	struct gc_poll_read now;
	struct gc_poll_where w;

	if ((!row->poll_at_exit || !row->poll_located) && !gc_poll_locate(row->pid, &f->bin, &f->plan, &w) &&
	    !attacher_poll_at_exit(&h->att, row->pid, w.runtime, w.main_static, &f->plan.poll_cfg)) {
		row->poll_at_exit = true;
		row->poll_located = w.main_static || !gc_poll_may_be_static(&f->bin, &f->plan);
	}
	if (gc_poll_read(row->pid, &f->bin, &f->plan, &now))
		return;
	if (!row->poll_based) {
		memset(&row->poll_base, 0, sizeof(row->poll_base));
		if (!row->from_exec)
			row->poll_base = now;
		/* a fork's parent had no counters in BPF to hand over: its
		 * inherited share is unknown, so its counts start here */
		if (row->forked)
			row->absolute = false;
		row->poll_based = true;
	}
	if (!gc_poll_delta(&f->plan, &now, &row->poll_base, &row->now))
		row->now.read_errors++;
}

/* Reads the live rows' counters; rows whose process vanished without an
 * end event (ring buffer full) end here and their map entries go. */
static void refresh(struct host *h, uint64_t now)
{
	int i, n = 0, fd = attacher_stats_fd(&h->att);
	struct row_key *gone = calloc((size_t)h->procs.n + 1, sizeof(*gone));
	struct proc_row *row;

	collector_drain(&h->col);
	for (i = 0; i < h->procs.n; i++) {
		row = &h->procs.rows[i];
		if (row->ended)
			continue;
		if (interp(h, row->bin_id)->plan.polled)
			refresh_polled(h, row);
		else	/* absent: not collected yet, or just ended (its event comes next) */
			collect_gc_entry(fd, row->pid, &row->now);
		if (gone && !same_process(row))
			gone[n++] = proctable_key(row);
	}
	/* an end event may have arrived since the first drain: it wins */
	collector_drain(&h->col);
	n = proctable_end_gone(&h->procs, gone, n, now);
	for (i = 0; i < n; i++)
		collect_forget(&h->col, gone[i].pid);
	free(gone);
}

static void summarize(struct host *h, struct host_summary *s)
{
	struct map_usage u;
	int i;

	memset(s, 0, sizeof(*s));
	collect_map_usage(&h->col, &u);
	s->processes_seen = h->procs.seen;
	s->ended = (unsigned long long)h->procs.nended + h->procs.folded;
	s->live = h->procs.n - h->procs.nended;
	s->folded = h->procs.folded;
	for (i = 0; i < h->reg.nbins; i++)
		s->interpreters += interp(h, i)->attached;
	s->lost_events = attacher_lost_events(&h->att);
	s->missed_execs = h->disc.missed;
	s->untraceable = h->untraceable;
	s->map_proc_stats = u.proc_stats;
	s->map_watched = u.watched;
	s->map_max = u.max;
}

static void fill_row(const struct host *h, const struct proc_row *p, uint64_t now, bool final,
		     struct report_row *r)
{
	uint64_t end = p->ended ? p->end_ns : now;
	/* a row's first interval runs from when it was first counted */
	uint64_t from = p->reported_once && h->last_report_ns > p->start_ns ? h->last_report_ns : p->start_ns;

	memset(r, 0, sizeof(*r));
	r->pid = p->pid;
	r->ns_pid = p->ns_pid;
	r->comm = p->comm;
	r->container_id = p->container_id;
	r->bin = &interp(h, p->bin_id)->bin;
	r->plan = &interp(h, p->bin_id)->plan;
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
}

static void print_report(struct host *h, struct report *r)
{
	const struct options *o = h->c->opt;

	if (o->json) {
		present_json(h->c->out, r);
		return;
	}
	present_host_table(h->c->out, r, o->sort, o->top, h->c->tty && !o->min_pause_ms && !r->final);
	if (o->histograms && o->merge)
		present_merged_histograms(h->c->out, r);
	else if (o->histograms)
		present_histograms(h->c->out, r);
}

/* Which rows a report carries. */
enum row_set { ROWS_INTERVAL, ROWS_ALL, ROWS_METRICS };

static bool row_in(const struct host *h, const struct proc_row *p, enum row_set set, uint64_t now)
{
	if (set == ROWS_ALL)
		return true;
	if (set == ROWS_INTERVAL)
		return !p->reported_end;
	/* metrics: an ended process's series stay for the grace period */
	return !p->ended || (double)(now - p->end_ns) < h->c->opt->metrics_grace_s * 1e9;
}

/* A report of the chosen rows, to hand to an exporter; rows freed by caller. */
static struct report_row *collect_rows(struct host *h, enum row_set set, uint64_t now, struct report *r)
{
	struct report_row *rows = calloc((size_t)h->procs.n + 1, sizeof(*rows));
	int i;

	r->rows = rows;
	r->n = 0;
	for (i = 0; rows && i < h->procs.n; i++)
		if (row_in(h, &h->procs.rows[i], set, now))
			fill_row(h, &h->procs.rows[i], now, set == ROWS_ALL, &rows[r->n++]);
	return rows;
}

/* A scrape: fresh counters, then the metrics of live and recently ended rows. */
static void serve_scrape(struct host *h)
{
	struct host_summary sum;
	struct report r = { NULL, 0, { 0, 0 }, false, &sum, 0, h->c->opt->alloc_growth, { 0 } };
	uint64_t now = monotonic_ns();

	refresh(h, now);
	summarize(h, &sum);
	r.lost_events = sum.lost_events;
	attacher_drops(&h->att, r.drops);
	collect_rows(h, ROWS_METRICS, now, &r);
	if (r.rows)
		exporters_serve(&h->ex, &r);
	free(r.rows);
}

/* Live rows and rows that ended since the last report; all rows at the end. */
static void report(struct host *h, bool final)
{
	uint64_t now = monotonic_ns();
	struct host_summary sum;
	struct report r = { NULL, 0, { 0, 0 }, final, &sum, 0, h->c->opt->alloc_growth, { 0 } };
	struct proc_row *p;
	int i;

	/* draining events adds rows: collect_rows sizes the report after it */
	refresh(h, now);
	summarize(h, &sum);
	r.lost_events = sum.lost_events;
	attacher_drops(&h->att, r.drops);
	clock_gettime(CLOCK_REALTIME, &r.wall);
	collect_rows(h, final ? ROWS_ALL : ROWS_INTERVAL, now, &r);
	if (r.rows)
		print_report(h, &r);
	free(r.rows);
	if (exporters_want_ticks(&h->ex)) {
		collect_rows(h, ROWS_METRICS, now, &r);
		if (r.rows)
			exporters_tick(&h->ex, &r);
		free(r.rows);
	}
	for (i = 0; i < h->procs.n; i++) {
		p = &h->procs.rows[i];
		p->prev = p->now;
		p->reported_end = p->ended;
		p->reported_once = true;
	}
	h->last_report_ns = now;
}

static bool stop_requested(int sigfd)
{
	struct signalfd_siginfo si;
	bool stop = false;

	while (read(sigfd, &si, sizeof(si)) == sizeof(si))
		if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM)
			stop = true;
	return stop;
}

static void host_loop(struct host *h)
{
	uint64_t interval = (uint64_t)(h->c->opt->interval_s * 1e9), now = monotonic_ns();
	uint64_t next_report = now + interval, next_scan = now + RESCAN_NS, wake;
	struct pollfd fds[3] = { { .fd = h->c->sigfd, .events = POLLIN },
				 { .fd = collector_fd(&h->col), .events = POLLIN },
				 { .fd = exporters_listen_fd(&h->ex), .events = POLLIN } };
	long reports = 0;

	for (;;) {
		now = monotonic_ns();
		wake = next_report < next_scan ? next_report : next_scan;
		if (poll(fds, 3, wake > now ? (int)((wake - now + 999999) / 1000000) : 0) < 0 && errno != EINTR)
			break;
		if (fds[0].revents && stop_requested(h->c->sigfd))
			break;
		if (fds[1].revents)
			collector_drain(&h->col);
		if (fds[2].revents)
			serve_scrape(h);
		now = monotonic_ns();
		if (now >= next_scan) {
			discover_host_each(consider_pid, h);
			next_scan = now + RESCAN_NS;
		}
		if (now < next_report)
			continue;
		next_report += interval;
		report(h, false);
		if (reader_gone(h->c->out) || (h->c->opt->count && ++reports >= h->c->opt->count))
			break;
	}
}

static int start(struct host *h)
{
	const struct options *o = h->c->opt;
	struct export_opts eo = { o->openmetrics, o->openmetrics_file, o->trace_file, o->metric_names };
	struct attach_opts ao = { .verbose = o->verbose, .system_wide = true,
				  .min_pause_ns = (__u64)(o->min_pause_ms * 1e6), .events_bytes = o->events_kib * 1024 };
	struct collect_handlers hd = { .ctx = h, .on_exec = on_exec, .on_end = on_end, .on_pause = on_pause,
				       .on_poll_final = on_poll_final,
				       .on_fork = on_fork };
	int rc;

	/* bad addresses and paths fail here, before any probe */
	rc = exporters_open(&h->ex, &eo, h->c->err, h->c->errlen);
	h->exporting = true;
	if (rc)
		return rc;
	if (exporters_want_pauses(&h->ex))
		ao.min_pause_ns = 1;	/* every collection goes to the trace */
	rc = attacher_open(&h->att, &ao, h->c->err, h->c->errlen);
	h->loaded = true;
	if (rc)
		return rc;
	if (collector_open(&h->col, attacher_events_fd(&h->att), attacher_stats_fd(&h->att),
			   attacher_watched_fd(&h->att), &hd)) {
		snprintf(h->c->err, h->c->errlen, "cannot read the BPF ring buffer: %s", strerror(errno));
		return MMX_INTERNAL;
	}
	h->collecting = true;
	/* exec events are already flowing: processes started during the scan are not missed */
	discover_host_each(consider_pid, h);
	h->last_report_ns = monotonic_ns();
	return MMX_OK;
}

static void plan_pid(void *arg, pid_t pid)
{
	struct host *h = arg;
	int bin;

	if (stop_pending(h->c->ro->stop))
		return;
	bin = discover_host_pid(&h->disc, pid);
	/* a file without a probe point still gets a plan: its metrics say why */
	if (bin >= 0 && !interp(h, bin)->planned) {
		plan_file(&interp(h, bin)->bin, h->c->po, &interp(h, bin)->plan);
		interp(h, bin)->planned = true;
	}
}

/* --probes with no target: the plan of every interpreter file in use. */
static int print_host_probes(struct host *h)
{
	struct probe_view *v;
	char (*offsets)[384];
	int i;

	discover_host_each(plan_pid, h);
	if (stop_pending(h->c->ro->stop))
		return MMX_OK;	/* main() says how it ended */
	v = calloc((size_t)h->reg.nbins + 1, sizeof(*v));
	offsets = calloc((size_t)h->reg.nbins + 1, sizeof(*offsets));
	if (!v || !offsets) {
		free(v);
		free(offsets);
		return MMX_INTERNAL;
	}
	for (i = 0; i < h->reg.nbins; i++) {
		pyoff_describe(&interp(h, i)->bin, offsets[i], sizeof(offsets[i]));
		v[i] = (struct probe_view){ 0, NULL, &interp(h, i)->bin, &interp(h, i)->plan, offsets[i] };
	}
	(h->c->opt->json ? present_probes_json : present_probes_text)(h->c->out, v, h->reg.nbins);
	if (!h->reg.nbins && !h->c->opt->json)
		fprintf(h->c->out, "no running process maps a CPython interpreter\n");
	free(v);
	free(offsets);
	return MMX_OK;
}

int host_run(const struct host_config *c)
{
	struct host *h = calloc(1, sizeof(*h));
	int rc;

	if (!h || registry_init(&h->reg)) {
		free(h);
		snprintf(c->err, c->errlen, "out of memory");
		return MMX_INTERNAL;
	}
	h->c = c;
	discover_host_init(&h->disc, &h->reg, c->ro);
	proctable_init(&h->procs);
	if (c->opt->probes_only) {
		rc = print_host_probes(h);
		goto cleanup;
	}
	rc = start(h);
	/* a signal that came before is handled by main(): no report */
	if (rc || stop_take_over(c->ro->stop))
		goto cleanup;
	host_loop(h);
	report(h, true);
cleanup:
	if (h->collecting)
		collector_close(&h->col);
	if (h->loaded)
		attacher_close(&h->att);
	if (h->exporting)
		exporters_close(&h->ex);
	proctable_free(&h->procs);
	registry_free(&h->reg);
	free(h);
	return rc;
}
