// SPDX-License-Identifier: MIT
/*
 * The process table: one row per process image, made when a source finds
 * a process or an exec event names one, and kept true by BPF's events (a
 * fork copies its parent's image, an exec ends one image and starts the
 * next, an exit ends it) and by /proc (a reused pid). Every source shares
 * this, so -p follows a re-exec as the system-wide mode does.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "exitcodes.h"
#include "present.h"
#include "session_impl.h"
#include "stop.h"

/* looks at a pid that keeps exec'ing while its maps are read; the next
 * rescan or its exec event finds it */
#define SCAN_TRIES 3

static struct pid_attachment *find_pid_attachment(const struct session *s, int bin_id, pid_t pid)
{
	int i;

	for (i = 0; i < s->npid_att; i++)
		if (s->pid_att[i].bin_id == bin_id && s->pid_att[i].pid == pid)
			return &s->pid_att[i];
	return NULL;
}

static struct pid_attachment *add_pid_attachment(struct session *s, int bin_id, pid_t pid)
{
	struct pid_attachment *a;
	int cap;

	if (s->npid_att == s->cap_pid_att) {
		cap = s->cap_pid_att ? s->cap_pid_att * 2 : 8;
		a = realloc(s->pid_att, (size_t)cap * sizeof(*a));
		if (!a)
			return NULL;
		s->pid_att = a;
		s->cap_pid_att = cap;
	}
	a = &s->pid_att[s->npid_att++];
	*a = (struct pid_attachment){ bin_id, pid, 0 };
	return a;
}

int session_plan(struct session *s, int bin_id)
{
	struct interp_file *f = session_interp(s, bin_id);

	if (!f->planned) {
		f->planned = true;
		f->no_probe = plan_file(&f->bin, s->c->po, &f->plan) != 0;
		if (f->no_probe)
			snprintf(f->attach_error, sizeof(f->attach_error), "no GC probe point: %s",
				 f->plan.metrics[M_COLLECTIONS].reason);
	}
	if (!f->no_probe)
		return MMX_OK;
	snprintf(s->c->err, s->c->errlen, "no GC probe point for %s (CPython %s): %s", f->bin.path, f->bin.version,
		 f->plan.metrics[M_COLLECTIONS].reason);
	return MMX_NO_PROBE;
}

/* The probes of one file for every process that maps it: once. */
static int attach_file(struct session *s, int bin_id, uint64_t *attach_ns)
{
	struct interp_file *f = session_interp(s, bin_id);
	int rc = MMX_OK;

	if (!f->attached && !f->attach_error[0]) {
		/* a polled file has nothing to attach: its rows are read at each report */
		if (!f->plan.polled)
			rc = attacher_attach(&s->att, &f->bin, &f->plan, -1, (__u32)bin_id, f->attach_error,
					     sizeof(f->attach_error));
		f->attached = !rc;
		f->attach_ns = monotonic_ns();
	}
	if (f->attached) {
		*attach_ns = f->attach_ns;
		return MMX_OK;
	}
	if (!f->refusal_said)	/* once per file, not per process */
		fprintf(stderr, "mmtrace: not tracing CPython %s at %s: %s\n", f->bin.version, f->bin.path,
			f->attach_error);
	f->refusal_said = true;
	return rc ? rc : MMX_NO_PROBE;
}

/* The probes of one file for one process: once per process and file. */
static int attach_for_pid(struct session *s, int bin_id, pid_t pid, uint64_t *attach_ns)
{
	struct interp_file *f = session_interp(s, bin_id);
	struct pid_attachment *a = find_pid_attachment(s, bin_id, pid);
	int rc = MMX_OK;

	if (!a) {
		if (!f->plan.polled)
			rc = attacher_attach(&s->att, &f->bin, &f->plan, pid, (__u32)bin_id, s->c->err, s->c->errlen);
		if (!rc && f->plan.mmap_arena_size)
			rc = attacher_mmap_arenas(&s->att, pid, (__u32)bin_id, f->plan.mmap_arena_size,
						  s->child.pid == pid && !s->child_reaped && s->child.gate_fd >= 0,
						  s->c->err, s->c->errlen);
		if (rc)
			return rc;
		a = add_pid_attachment(s, bin_id, pid);
		if (!a) {
			snprintf(s->c->err, s->c->errlen, "out of memory");
			return MMX_INTERNAL;
		}
		a->attach_ns = monotonic_ns();
		f->attached = true;
	}
	*attach_ns = a->attach_ns;
	return MMX_OK;
}

int session_attach(struct session *s, int bin_id, pid_t pid, uint64_t *attach_ns)
{
	int rc = session_plan(s, bin_id);

	if (rc && !s->src->per_process)	/* said once per file, as its attach failure is */
		return attach_file(s, bin_id, attach_ns);
	if (rc)
		return rc;
	return s->src->per_process ? attach_for_pid(s, bin_id, pid, attach_ns) : attach_file(s, bin_id, attach_ns);
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

/* The stacks table weighs growth by pools where the first build shows refills. */
static void first_row_of(struct session *s, const struct interp_file *f)
{
	if (!s->procs.seen)
		s->stacks.growth_from_pools = f->plan.metrics[M_POOLS].cov != COV_UNAVAILABLE;
}

struct proc_row *session_track(struct session *s, pid_t pid, int bin_id, const char *comm, pid_t ns_pid,
			       uint64_t exec_ns, uint64_t found_ns)
{
	struct interp_file *f = session_interp(s, bin_id);
	uint64_t attach_ns;
	struct proc_row *row;

	if (session_attach(s, bin_id, pid, &attach_ns)) {
		s->untraceable++;
		return NULL;
	}
	if (proctable_live(&s->procs, pid))
		return NULL;
	first_row_of(s, f);
	row = proctable_add(&s->procs, pid);
	if (!row)
		return NULL;
	row->bin_id = bin_id;
	snprintf(row->comm, sizeof(row->comm), "%s", comm);
	row->ns_pid = ns_pid;
	row->from_exec = exec_ns && attach_ns <= exec_ns;
	row->absolute = row->from_exec;
	row->found_ns = found_ns;
	row->start_ticks = process_start_ticks(pid);
	/* exec_ns before the attach: the attach, which came for this process */
	row->start_ns = row->from_exec ? exec_ns : exec_ns ? attach_ns :
			counted_from(attach_ns, row->start_ticks, found_ns);
	read_exe_id(pid, &row->exe);
	read_container_id(pid, row->container_id, sizeof(row->container_id));
	/* so that BPF reports its end (and its exec) even if it never collects */
	collect_watch(&s->col, pid, (__u32)bin_id);
	/* a polled process counts from its first reading: now */
	if (f->plan.polled)
		session_refresh_polled(s, row);
	return row;
}

/* Reads pid's image from /proc with what would show that it exec'd, or
 * that the pid came to name another process, while its maps were read. */
static void look(struct session *s, pid_t pid, struct scan_facts *f)
{
	memset(f, 0, sizeof(*f));
	/* before reading /proc: events older than this are not about what we read */
	f->begin_ns = monotonic_ns();
	f->ticks_before = process_start_ticks(pid);
	read_exe_id(pid, &f->exe_before);
	f->bin = discover_host_pid(&s->disc, pid);
	if (f->bin < 0)
		return;
	f->ticks_after = process_start_ticks(pid);
	read_exe_id(pid, &f->exe_after);
	/* an exec of the same file shows only as an event */
	s->scan_pid = pid;
	s->scan_exec_ns = 0;
	collector_drain(&s->col);
	s->scan_pid = 0;
	f->exec_ns = s->scan_exec_ns;
}

void session_consider(struct session *s, pid_t pid)
{
	char comm[MMTRACE_COMM_LEN] = "?";
	enum scan_action act = SCAN_RETRY;
	struct scan_facts f;
	struct proc_row *row;
	int i;

	/* the rest of a scan can wait for the next mmtrace */
	if (stop_pending(s->c->ro->stop) || proctable_live(&s->procs, pid))
		return;
	for (i = 0; i < SCAN_TRIES && act == SCAN_RETRY; i++) {
		look(s, pid, &f);
		act = proctable_scan_action(&f, proctable_live(&s->procs, pid));
	}
	if (act != SCAN_TRACK)
		return;
	read_comm(pid, comm, sizeof(comm));
	row = session_track(s, pid, f.bin, comm, read_ns_pid(pid), 0, f.begin_ns);
	if (!row)
		return;
	/* what the maps were checked against, not a later look */
	row->start_ticks = f.ticks_after;
	row->exe = f.exe_after;
}

static void on_exec(void *ctx, const struct mm_exec_event *e)
{
	struct session *s = ctx;
	struct proc_row *row = proctable_live(&s->procs, (pid_t)e->pid);
	enum exec_action act = proctable_exec_action(row, e->ts_ns);
	char comm[MMTRACE_COMM_LEN + 1];
	int bin;

	if ((pid_t)e->pid == s->scan_pid && e->ts_ns > s->scan_exec_ns)
		s->scan_exec_ns = e->ts_ns;
	if (act == EXEC_SEEN)
		return;		/* the scan already saw the new image */
	if (act == EXEC_UNFORK) {	/* the scan saw this image, not the parent's copy */
		proctable_unfork(row, e->ts_ns, session_interp(s, row->bin_id)->attach_ns);
		return;
	}
	if (act == EXEC_END_OLD)	/* its end event was lost: the old image ends here */
		proctable_end(&s->procs, row, e->ts_ns);
	if (!s->src->follows(s, (pid_t)e->pid))
		return;
	bin = s->src->exec_bin ? s->src->exec_bin(s, e) : discover_host_exec(&s->disc, e);
	if (bin < 0)
		return;
	snprintf(comm, sizeof(comm), "%.*s", MMTRACE_COMM_LEN, e->comm);
	session_track(s, (pid_t)e->pid, bin, comm, (pid_t)e->ns_pid, e->ts_ns, e->ts_ns);
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

static bool attached_bin(const struct registry *reg, int bin)
{
	return bin >= 0 && bin < reg->nbins && reg->bins[bin]->attached;
}

/* Counters of a process that ended before mmtrace learned of it. */
static void adopt_ended(struct proctable *t, const struct registry *reg, const struct mm_end_event *e)
{
	struct proc_row *row;
	int bin = (int)e->stats.bin_id;

	if (!e->has_stats || !attached_bin(reg, bin))
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
	struct session *s = ctx;
	struct proc_row *parent = proctable_live(&s->procs, (pid_t)e->parent_pid), *row;
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
	row = proctable_live(&s->procs, (pid_t)e->pid);
	act = proctable_fork_action(row, parent, e->ts_ns);
	if (act == FORK_KEEP)	/* the scan found it after it exec'd: not its parent's image */
		return;
	if (act == FORK_END_STALE)	/* a stale row of a reused pid */
		proctable_end(&s->procs, row, e->ts_ns);
	else if (act == FORK_ADOPT)	/* the scan found the child first: it is this one */
		goto forked;
	row = proctable_add(&s->procs, (pid_t)e->pid);
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

bool session_end_event(struct proctable *t, const struct registry *reg, const struct mm_end_event *e)
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
	/* No counters at its end: the image counted nothing in BPF. What a
	 * report read under its pid may be the next image's already (read
	 * after the exec, before its events were drained): not this one's. */
	if (row->forked && e->reason == MM_END_EXEC && !e->has_stats) {
		proctable_discard(t, row);	/* fork + exec: the child's new image is what counts */
		return false;
	}
	if (attached_bin(reg, row->bin_id) && reg->bins[row->bin_id]->plan.polled) {
		/* a polled process's GC counters come from its memory: BPF counted its arenas only */
		if (e->has_stats)
			row->now.growth = e->stats.growth;
	} else {
		row->now = e->has_stats ? e->stats : (struct gc_proc_stats){ .bin_id = e->stats.bin_id };
	}
	end_as(t, row, e);
	/* user space may have watched it again after BPF let it go (exec and
	 * exit drained together): no live row is left to need the entries */
	return e->reason == MM_END_EXIT && !proctable_live(t, (pid_t)e->pid);
}

static void on_end(void *ctx, const struct mm_end_event *e)
{
	struct session *s = ctx;

	if (session_end_event(&s->procs, &s->reg, e))
		collect_forget(&s->col, (pid_t)e->pid);
}

/* What BPF read as a polled process exited (before its END, in the same
 * ring): the row's counts then include the collections after the last read.
 * A row never read has no base, unless it counts from its exec (zero). */
static void on_poll_final(void *ctx, const struct mm_poll_final_event *e)
{
	struct session *s = ctx;
	struct proc_row *row = proctable_live(&s->procs, (pid_t)e->pid);
	const struct interp_file *f;
	struct gc_poll_read now;

	if (!row || row->ended)
		return;
	f = session_interp(s, row->bin_id);
	if (!f->plan.polled || (!row->poll_based && !row->from_exec))
		return;
	if (!row->poll_based) {
		memset(&row->poll_base, 0, sizeof(row->poll_base));
		row->poll_based = true;
	}
	if (!gc_poll_from_event(&f->plan, e, &now) || !gc_poll_delta(&f->plan, &now, &row->poll_base, &row->now))
		row->now.read_errors++;
	row->poll_final = true;
}

static void on_pause(void *ctx, const struct mm_pause_event *e)
{
	struct session *s = ctx;
	const struct options *o = s->c->opt;
	struct proc_row *row;

	/* BPF reports every collection when --trace is on: print the slow ones */
	if (o->min_pause_ms && e->pause_ns >= (__u64)(o->min_pause_ms * 1e6))
		present_pause_event(s->c->out, e, o->json);
	if (!exporters_want_pauses(&s->ex))
		return;
	row = proctable_live(&s->procs, (pid_t)e->pid);
	exporters_pause(&s->ex, e, row ? row->comm : NULL, row ? session_interp(s, row->bin_id)->bin.version : NULL,
			row ? &row->trace_named : NULL);
}

static void on_stack(void *ctx, const struct mm_stack_event *e)
{
	struct session *s = ctx;
	struct proc_row *row = proctable_live(&s->procs, (pid_t)e->pid);

	if (!row) {
		s->stacks.dropped++;	/* no live image to name its frames */
		return;
	}
	feature_stacks_event(&s->fc, row, &session_interp(s, row->bin_id)->bin, e);
}

struct collect_handlers session_handlers(struct session *s)
{
	return (struct collect_handlers){ .ctx = s, .on_exec = on_exec, .on_end = on_end, .on_pause = on_pause,
					  .on_fork = on_fork, .on_stack = on_stack, .on_poll_final = on_poll_final };
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

/* BPF reads a polled process's counters once more as it exits, through its
 * interpreter's address, which is known once it is initialised. */
static void poll_at_exit(struct session *s, struct proc_row *row, const struct interp_file *f)
{
	struct gc_poll_where w;

	if ((row->poll_at_exit && row->poll_located) || gc_poll_locate(row->pid, &f->bin, &f->plan, &w) ||
	    attacher_poll_at_exit(&s->att, row->pid, w.runtime, w.main_static, &f->plan.poll_cfg))
		return;
	row->poll_at_exit = true;
	row->poll_located = w.main_static || !gc_poll_may_be_static(&f->bin, &f->plan);
}

/* A polled row: the interpreter's counters now, less those of its first
 * read. A process caught at its exec has counted nothing before (its
 * interpreter starts from zero), so its base is zero and its counts are
 * absolute; until its interpreter is initialised, there is nothing to read. */
void session_refresh_polled(struct session *s, struct proc_row *row)
{
	const struct interp_file *f = session_interp(s, row->bin_id);
	struct gc_poll_read now;

	if (row->poll_final)
		return;	/* what BPF read at its exit stands */
	poll_at_exit(s, row, f);
	if (gc_poll_read(row->pid, &f->bin, &f->plan, &now)) {
		if (row->poll_based)
			row->now.read_errors++;
		return;
	}
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
void session_refresh(struct session *s, uint64_t now)
{
	int i, n = 0, fd = attacher_stats_fd(&s->att);
	struct row_key *gone = calloc((size_t)s->procs.n + 1, sizeof(*gone));
	struct gc_proc_stats bpf_side;
	struct proc_row *row;

	collector_drain(&s->col);
	for (i = 0; i < s->procs.n; i++) {
		row = &s->procs.rows[i];
		if (row->ended)
			continue;
		if (session_interp(s, row->bin_id)->plan.polled) {
			session_refresh_polled(s, row);
			/* arenas seen at its mmap calls, while its entry lives */
			if (!collect_gc_entry(fd, row->pid, &bpf_side))
				row->now.growth = bpf_side.growth;
		} else {	/* absent: not collected yet, or just ended (its event comes next) */
			collect_gc_entry(fd, row->pid, &row->now);
		}
		if (gone && !same_process(row))
			gone[n++] = proctable_key(row);
	}
	/* an end event may have arrived since the first drain: it wins */
	collector_drain(&s->col);
	n = proctable_end_gone(&s->procs, gone, n, now);
	for (i = 0; i < n; i++)
		collect_forget(&s->col, gone[i].pid);
	free(gone);
}
