// SPDX-License-Identifier: MIT
/*
 * mmtrace: discover -> resolve -> plan -> attach -> collect -> present.
 * This file only sequences the stages and owns the lifecycle.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "attach.h"
#include "collect.h"
#include "collect_exact.h"
#include "discover.h"
#include "discover_host.h"
#include "exitcodes.h"
#include "export.h"
#include "gcpoll.h"
#include "heap_run.h"
#include "host.h"
#include "options.h"
#include "parse.h"
#include "present.h"
#include "pprof.h"
#include "pyoffsets_dwarf.h"
#include "stacks.h"
#include "stop.h"
#include "symbolize.h"

/* per-type rows kept per target for the table and JSON */
#define TYPES_KEPT 50
/* how long CMD has to end once the signal that stopped mmtrace is passed on */
#define CMD_GRACE_S 3

/* The one-process mode (-p, -- CMD); the system-wide mode lives in host.c. */
struct mmtrace {
	struct options opt;
	struct resolve_opts ro;
	struct plan_opts po;
	struct target targets[OPT_MAX_PIDS];
	int ntargets;
	struct attacher att;
	bool loaded;
	struct collector col;
	bool collecting;
	struct exporters ex;
	bool exporting;
	bool trace_named[OPT_MAX_PIDS];	/* its --trace track has a name */
	char container_id[OPT_MAX_PIDS][72];
	/* the last counters read from the map, or the final ones BPF handed
	 * over when the target ended (has_final): kept if an end event is lost */
	struct gc_proc_stats last[OPT_MAX_PIDS];
	bool has_final[OPT_MAX_PIDS];
	/* polled targets: the reading at attach, counts are taken from */
	struct gc_poll_read poll_base[OPT_MAX_PIDS];
	bool poll_registered[OPT_MAX_PIDS];	/* BPF reads it at its exit */
	bool poll_located[OPT_MAX_PIDS];	/* ... wherever its interpreter is then */
	/* --alloc=exact: the figures of the latest report */
	struct alloc_exact_stats exact[OPT_MAX_PIDS];
	struct type_row types[OPT_MAX_PIDS][TYPES_KEPT];
	/* --heap=live: the reading of the latest report */
	struct heap_reading heap[OPT_MAX_PIDS];
	struct heap_view heapv[OPT_MAX_PIDS];
	/* --stacks, --folded: symbolised as they arrive, while the target lives */
	struct stack_table stacks;
	struct symbolizer sym[OPT_MAX_PIDS];
	bool sym_open[OPT_MAX_PIDS];
	uint64_t sym_failed_ns[OPT_MAX_PIDS];	/* the last failed open: retried after a second */
	struct held_child child;	/* pid 0 unless -- CMD */
	char exe[PATH_MAX];
	int sigfd;
	int stop_sig;		/* the SIGINT or SIGTERM that ended the loop, or 0 */
	bool stop_from_tty;	/* sent by a terminal to the whole process group (^C) */
	FILE *out;
	bool tty;
	char err[512];
};

/* The signal that asked to stop before a loop took SIGINT/SIGTERM over:
 * the one state a signal handler may write. */
static stop_flag stop_signal;

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

/* No SA_RESTART: a stage blocked in a slow open or read returns EINTR.
 * A scraper or a reader of stdout that hangs up must not kill mmtrace
 * (the --trace array would stay unclosed): writes fail with EPIPE instead. */
static int catch_stop_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };

	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGINT);
	sigaddset(&sa.sa_mask, SIGTERM);
	if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL))
		return -1;
	return signal(SIGPIPE, SIG_IGN) == SIG_ERR ? -1 : 0;
}

static void fail(const struct mmtrace *m)
{
	fprintf(stderr, "mmtrace: %s\n", m->err);
}

static int prepare_targets(struct mmtrace *m)
{
	int i, rc;

	if (m->opt.cmd_argc) {
		m->ntargets = 1;
		return discover_command(m->opt.cmd[0], &m->ro, &m->targets[0], m->exe, sizeof(m->exe),
					m->err, sizeof(m->err));
	}
	for (i = 0; i < m->opt.npids && !stop_pending(m->ro.stop); i++) {
		rc = discover_pid(m->opt.pids[i], &m->ro, &m->targets[i], m->err, sizeof(m->err));
		m->ntargets = i + (rc == MMX_OK);
		if (rc)
			return rc;
	}
	return MMX_OK;
}

static int plan_targets(struct mmtrace *m)
{
	struct target *t;
	int i, rc = MMX_OK;

	for (i = 0; i < m->ntargets; i++) {
		t = &m->targets[i];
		if (plan_file(&t->bin, &m->po, &t->plan) && rc == MMX_OK) {
			snprintf(m->err, sizeof(m->err), "no GC probe point for %s (CPython %s): %s", t->bin.path,
				 t->bin.version, t->plan.metrics[M_COLLECTIONS].reason);
			rc = MMX_NO_PROBE;
		}
	}
	return rc;
}

/* SIGINT, SIGTERM and SIGCHLD arrive on a descriptor the loop polls:
 * SIGCHLD from now on, SIGINT and SIGTERM once stop_take_over() blocks them. */
static int signals_fd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -1;
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static int target_index(const struct mmtrace *m, pid_t pid)
{
	int i;

	for (i = 0; i < m->ntargets; i++)
		if (m->targets[i].pid == pid)
			return i;
	return -1;
}

static void on_end(void *ctx, const struct mm_end_event *e)
{
	struct mmtrace *m = ctx;
	int i = target_index(m, (pid_t)e->pid);

	/* without counters it says nothing the map would not; and the held
	 * child's own exec into CMD ends a "process" that never ran Python */
	if (i < 0 || !e->has_stats)
		return;
	if (m->targets[i].plan.polled) {
		/* its GC counters come from its memory: BPF counted its arenas only */
		m->last[i].growth = e->stats.growth;
		return;
	}
	if (m->has_final[i])
		return;
	m->last[i] = e->stats;
	m->has_final[i] = true;
}

/* What BPF read as a polled target exited: its counters since the base. */
static void on_poll_final(void *ctx, const struct mm_poll_final_event *e)
{
	struct mmtrace *m = ctx;
	int i = target_index(m, (pid_t)e->pid);
	struct gc_poll_read now;

	if (i < 0 || !m->targets[i].plan.polled)
		return;
	if (!gc_poll_from_event(&m->targets[i].plan, e, &now) ||
	    !gc_poll_delta(&m->targets[i].plan, &now, &m->poll_base[i], &m->last[i])) {
		m->last[i].read_errors++;
		return;
	}
	m->has_final[i] = true;
}

static void on_pause(void *ctx, const struct mm_pause_event *e)
{
	struct mmtrace *m = ctx;
	int i = target_index(m, (pid_t)e->pid);

	if (i < 0)
		return;
	/* BPF reports every collection when --trace is on: print the slow ones */
	if (m->opt.min_pause_ms && e->pause_ns >= (__u64)(m->opt.min_pause_ms * 1e6))
		present_pause_event(m->out, e, m->opt.json);
	exporters_pause(&m->ex, e, m->targets[i].comm, m->targets[i].bin.version, &m->trace_named[i]);
}

/* The symboliser opens at the first stack: a -- CMD child has exec'd by then. */
static void on_stack(void *ctx, const struct mm_stack_event *e)
{
	struct mmtrace *m = ctx;
	int i = target_index(m, (pid_t)e->pid);
	const struct stack_entry *s = NULL;

	if (i < 0)
		return;
	if (!m->sym_open[i] && monotonic_ns() - m->sym_failed_ns[i] > 1000000000ull) {
		m->sym_open[i] = !symbolizer_open(&m->sym[i], m->targets[i].pid, &m->targets[i].bin);
		if (!m->sym_open[i])
			m->sym_failed_ns[i] = monotonic_ns();
	}
	if (m->sym_open[i])
		s = stacks_add(&m->stacks, &m->sym[i], e);
	else
		m->stacks.dropped++;	/* the process could not be read: counted, not named wrongly */
	if (e->metric == STACK_GC)	/* its collection's slice waits for it */
		exporters_gc_stack(&m->ex, e, s ? s->frames : NULL);
}

static int open_collector(struct mmtrace *m)
{
	struct collect_handlers h = { .ctx = m, .on_end = on_end, .on_pause = on_pause, .on_stack = on_stack,
				      .on_poll_final = on_poll_final };

	if (collector_open(&m->col, attacher_events_fd(&m->att), attacher_stats_fd(&m->att),
			   attacher_watched_fd(&m->att), &h)) {
		snprintf(m->err, sizeof(m->err), "cannot read the BPF ring buffer: %s", strerror(errno));
		return MMX_INTERNAL;
	}
	m->collecting = true;
	return MMX_OK;
}

static int start_child(struct mmtrace *m)
{
	struct target *t = &m->targets[0];

	if (held_child_spawn(m->exe, m->opt.cmd, &m->child)) {
		snprintf(m->err, sizeof(m->err), "cannot start %s: %s", m->exe, strerror(errno));
		return MMX_CMD_NOT_FOUND;
	}
	t->pid = m->child.pid;
	return MMX_OK;
}

/* BPF reads a polled target's counters once more as it exits: the
 * collections after the last report are counted too. Where the kernel
 * cannot (its exit tracepoint after the address space went, before 6.16)
 * the event says so and the last report's figures stay. */
static void poll_at_exit(struct mmtrace *m, int i)
{
	struct target *t = &m->targets[i];
	struct gc_poll_where w;

	if (!gc_poll_locate(t->pid, &t->bin, &t->plan, &w) &&
	    !attacher_poll_at_exit(&m->att, t->pid, w.runtime, w.main_static, &t->plan.poll_cfg)) {
		m->poll_registered[i] = true;
		m->poll_located[i] = w.main_static || !gc_poll_may_be_static(&t->bin, &t->plan);
	}
}

/* Nothing to attach: the first reading is where counting starts. A
 * command's interpreter counts from zero (it has not run yet): its base is
 * zero and its exit is watched once it has exec'd (after the release). */
static int attach_polled(struct mmtrace *m, int i)
{
	struct target *t = &m->targets[i];
	int err;

	if (t->spawned) {
		memset(&m->poll_base[i], 0, sizeof(m->poll_base[i]));
		return MMX_OK;
	}
	err = gc_poll_read(t->pid, &t->bin, &t->plan, &m->poll_base[i]);
	if (err) {
		snprintf(m->err, sizeof(m->err), "cannot read the GC counters of PID %d (%s, no probe point): %s",
			 t->pid, t->bin.path, strerror(-err));
		return MMX_INTERNAL;
	}
	poll_at_exit(m, i);
	return MMX_OK;
}

/* A released command maps its interpreter within milliseconds of its exec;
 * until then there is no &_PyRuntime to give BPF, and until its interpreter
 * is initialised no address of it (3.12+: what its exit is read through
 * once Py_Finalize has cleared interpreters.main; a command shorter than
 * an interval has no other reading). Bounded: a command that ends or fails
 * first has no final reading (its last report stands). */
static void poll_spawned_at_exit(struct mmtrace *m)
{
	int tries;

	if (!m->targets[0].plan.polled)
		return;
	for (tries = 0; tries < 2000 && !m->poll_located[0] && !kill(m->targets[0].pid, 0); tries++) {
		poll_at_exit(m, 0);
		if (!m->poll_located[0])
			usleep(1000);
	}
}

/* A polled target's counters now; the last good reading stays when the
 * process is gone or the read fails (counted in read_errors). */
static void read_polled(struct mmtrace *m, int i)
{
	struct target *t = &m->targets[i];
	struct gc_poll_read now;

	if (t->exited || m->has_final[i] || kill(t->pid, 0))
		return;
	if (m->poll_registered[i] && !m->poll_located[i])
		poll_at_exit(m, i);	/* its interpreter is initialised by now */
	if (gc_poll_read(t->pid, &t->bin, &t->plan, &now) ||
	    !gc_poll_delta(&t->plan, &now, &m->poll_base[i], &m->last[i]))
		m->last[i].read_errors++;
}

static int attach_all(struct mmtrace *m)
{
	struct attach_opts ao = { .verbose = m->opt.verbose, .min_pause_ns = (__u64)(m->opt.min_pause_ms * 1e6),
				  .events_bytes = m->opt.events_kib * 1024, .alloc_exact = m->opt.alloc_exact,
				  .stack_depth = m->po.stacks ? m->opt.stack_depth : 0,
				  .sample_bytes = m->po.sample_bytes };
	struct target *t;
	int i, rc;

	if (exporters_want_pauses(&m->ex))
		ao.min_pause_ns = 1;	/* every collection goes to the trace */
	rc = attacher_open(&m->att, &ao, m->err, sizeof(m->err));
	m->loaded = true;
	if (!rc)
		rc = open_collector(m);
	if (!rc && ao.sample_bytes && collector_add_ring(&m->col, attacher_samples_fd(&m->att))) {
		snprintf(m->err, sizeof(m->err), "cannot read the samples ring buffer: %s", strerror(errno));
		rc = MMX_INTERNAL;
	}
	for (i = 0; !rc && i < m->ntargets && !stop_pending(m->ro.stop); i++) {
		t = &m->targets[i];
		if (t->plan.polled)
			rc = attach_polled(m, i);
		else
			rc = attacher_attach(&m->att, &t->bin, &t->plan, t->pid, (__u32)i, m->err, sizeof(m->err));
		if (!rc && t->plan.mmap_arena_size)
			rc = attacher_mmap_arenas(&m->att, t->pid, (__u32)i, t->plan.mmap_arena_size, t->spawned,
						  m->err, sizeof(m->err));
		t->start_ns = monotonic_ns();
		read_container_id(t->pid, m->container_id[i], sizeof(m->container_id[i]));
	}
	return rc;
}

static void mark_exited(struct mmtrace *m, struct target *t)
{
	if (t->exited)
		return;
	t->exited = true;
	t->end_ns = monotonic_ns();
	if (t->spawned && waitpid(t->pid, &t->wait_status, 0) == t->pid)
		m->child.pid = 0;
}

static bool all_exited(const struct mmtrace *m)
{
	int i;

	for (i = 0; i < m->ntargets; i++)
		if (!m->targets[i].exited)
			return false;
	return true;
}

/* scrape: a Prometheus scrape, which shows neither types nor the heap */
static void fill_row(struct mmtrace *m, int i, uint64_t now, bool scrape, struct report_row *row)
{
	const struct target *t = &m->targets[i];

	memset(row, 0, sizeof(*row));
	row->pid = t->pid;
	row->comm = t->comm;
	row->container_id = m->container_id[i];
	row->bin = &t->bin;
	row->plan = &t->plan;
	row->exited = t->exited;
	row->from_exec = t->spawned;
	row->absolute = t->spawned;
	if (t->plan.polled) {
		struct gc_proc_stats bpf_side;

		read_polled(m, i);
		/* arenas seen at its mmap calls, while its entry lives */
		if (!collect_gc_entry(attacher_stats_fd(&m->att), t->pid, &bpf_side))
			m->last[i].growth = bpf_side.growth;
	} else if (!m->has_final[i])
		collect_gc_entry(attacher_stats_fd(&m->att), t->pid, &m->last[i]);
	row->gc = m->last[i];
	if (m->opt.alloc_exact && !scrape) {
		/* entries stay after exit: the final figures are read from the map */
		collect_exact_entry(attacher_exact_fd(&m->att), t->pid, &m->exact[i]);
		row->exact = &m->exact[i];
		row->types = m->types[i];
		row->ntypes = collect_types(attacher_types_fd(&m->att), t->pid, m->types[i], TYPES_KEPT);
	}
	if (m->po.stacks) {
		row->stacks = &m->stacks;
		row->symbolizer = m->sym_open[i] ? &m->sym[i] : NULL;
	}
	if (m->opt.heap_live && !t->exited && !scrape) {
		heap_read_process(t->pid, &t->bin, &m->heap[i]);
		m->heapv[i] = heap_view_of(t->pid, t->comm, &t->bin, &m->heap[i]);
		row->heap = &m->heapv[i];
	}
	row->traced_ns = (t->exited ? t->end_ns : now) - t->start_ns;
}

static void fresh_report(struct mmtrace *m, bool final, bool scrape, struct report *r)
{
	static struct report_row rows[OPT_MAX_PIDS];
	uint64_t now = monotonic_ns();
	int i;

	*r = (struct report){ rows, m->ntargets, { 0, 0 }, final, NULL, attacher_lost_events(&m->att) + attacher_lost_samples(&m->att), m->opt.alloc_growth, { 0 } };
	/* final counters of targets that just ended are in the ring buffer */
	collector_drain(&m->col);
	attacher_drops(&m->att, r->drops);
	clock_gettime(CLOCK_REALTIME, &r->wall);
	for (i = 0; i < m->ntargets; i++)
		fill_row(m, i, now, scrape, &rows[i]);
}

static void serve_scrape(struct mmtrace *m)
{
	struct report r;

	fresh_report(m, false, true, &r);
	exporters_serve(&m->ex, &r);
}

static void report(struct mmtrace *m, bool final)
{
	struct report r;

	fresh_report(m, final, false, &r);
	exporters_tick(&m->ex, &r);
	exporters_counters(&m->ex, &r, monotonic_ns());
	if (m->opt.json) {
		present_json(m->out, &r);
		return;
	}
	/* slow-GC lines would be wiped by clearing the screen */
	present_table(m->out, &r, m->tty && !m->opt.min_pause_ms);
	if (m->opt.histograms)
		present_histograms(m->out, &r);
}

/* Returns true when tracing must stop (signal). */
static bool drain_signals(struct mmtrace *m)
{
	struct signalfd_siginfo si;
	bool stop = false;

	while (read(m->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo != SIGINT && si.ssi_signo != SIGTERM)
			continue;
		stop = true;
		m->stop_sig = (int)si.ssi_signo;
		m->stop_from_tty = si.ssi_code == SI_KERNEL;
	}
	return stop;
}

static void poll_exits(struct mmtrace *m, const struct pollfd *fds, int nfds)
{
	int i;

	for (i = 1; i < nfds; i++)
		if (fds[i].revents)
			mark_exited(m, &m->targets[i - 1]);
	for (i = 0; i < m->ntargets; i++)
		if (m->targets[i].pidfd < 0 && kill(m->targets[i].pid, 0) && errno == ESRCH)
			mark_exited(m, &m->targets[i]);
}

static void trace_loop(struct mmtrace *m)
{
	struct pollfd fds[OPT_MAX_PIDS + 3];
	uint64_t interval = (uint64_t)(m->opt.interval_s * 1e9), next = monotonic_ns() + interval, now;
	int i, timeout, nfds = m->ntargets + 3, ev = m->ntargets + 1, scrape = m->ntargets + 2;
	long reports = 0;

	/* signals, one pidfd per target, events, scrapes */
	fds[0] = (struct pollfd){ .fd = m->sigfd, .events = POLLIN };
	for (i = 0; i < m->ntargets; i++)
		fds[i + 1] = (struct pollfd){ .fd = m->targets[i].pidfd, .events = POLLIN };
	fds[ev] = (struct pollfd){ .fd = collector_fd(&m->col), .events = POLLIN };
	fds[scrape] = (struct pollfd){ .fd = exporters_listen_fd(&m->ex), .events = POLLIN };
	while (!all_exited(m)) {
		now = monotonic_ns();
		timeout = next > now ? (int)((next - now + 999999) / 1000000) : 0;
		if (poll(fds, (nfds_t)nfds, timeout) < 0 && errno != EINTR)
			break;
		if (fds[0].revents && drain_signals(m))
			break;
		if (fds[ev].revents)
			collector_drain(&m->col);
		if (fds[scrape].revents)
			serve_scrape(m);
		poll_exits(m, fds, ev);
		if (monotonic_ns() < next || all_exited(m))
			continue;
		next += interval;
		report(m, false);
		if (reader_gone(m->out) || (m->opt.count && ++reports >= m->opt.count))
			break;
	}
}

/* Reaps CMD if it ended: true then. */
static bool reap_child(struct mmtrace *m)
{
	struct target *t = &m->targets[0];

	if (waitpid(m->child.pid, &t->wait_status, WNOHANG) != m->child.pid)
		return false;
	m->child.pid = 0;
	t->exited = true;
	t->end_ns = monotonic_ns();
	return true;
}

static void kill_child(struct mmtrace *m)
{
	struct target *t = &m->targets[0];

	fprintf(stderr, "mmtrace: %s (PID %d) still running %d s after SIG%s: killed\n", t->comm, t->pid,
		CMD_GRACE_S, sigabbrev_np(m->stop_sig));
	kill(m->child.pid, SIGKILL);
	if (waitpid(m->child.pid, &t->wait_status, 0) == m->child.pid) {
		m->child.pid = 0;
		t->exited = true;
	}
}

/* Probes cost CMD time, and a stopped mmtrace reads no more events. */
static void detach(struct mmtrace *m)
{
	if (m->collecting)
		collector_close(&m->col);
	m->collecting = false;
	if (m->loaded)
		attacher_close(&m->att);
	m->loaded = false;
}

/*
 * Tracing ended while CMD runs. As timeout(1) does, mmtrace detaches, passes
 * the signal that stopped it on to CMD (a terminal's ^C reached CMD's process
 * group already), and kills CMD if it has not ended CMD_GRACE_S later (at
 * once on a second signal). Ended otherwise (COUNT, the reader gone), it waits
 * for CMD, passing on a signal that comes meanwhile.
 */
static void finish_child(struct mmtrace *m)
{
	struct pollfd p = { .fd = m->sigfd, .events = POLLIN };
	uint64_t deadline = 0, now;

	detach(m);
	while (!reap_child(m)) {
		now = monotonic_ns();
		if (m->stop_sig && !deadline) {
			if (!m->stop_from_tty)
				kill(m->child.pid, m->stop_sig);
			deadline = now + CMD_GRACE_S * 1000000000ull;
			continue;
		}
		if (deadline && now >= deadline) {
			kill_child(m);
			return;
		}
		/* SIGCHLD, queued on the signalfd, says when CMD ends */
		if (poll(&p, 1, deadline ? (int)((deadline - now + 999999) / 1000000) : -1) > 0 &&
		    drain_signals(m) && deadline)
			deadline = now;
	}
}

static int child_exit_code(const struct mmtrace *m)
{
	int st = m->targets[0].wait_status;

	if (!m->targets[0].exited)
		return MMX_OK;
	return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : MMX_INTERNAL;
}

static void print_probes(struct mmtrace *m)
{
	static char offsets[OPT_MAX_PIDS][384];
	struct probe_view v[OPT_MAX_PIDS];
	int i;

	for (i = 0; i < m->ntargets; i++) {
		pyoff_describe(&m->targets[i].bin, offsets[i], sizeof(offsets[i]));
		v[i] = (struct probe_view){ m->targets[i].pid, m->targets[i].comm, &m->targets[i].bin,
					    &m->targets[i].plan, offsets[i] };
	}
	(m->opt.json ? present_probes_json : present_probes_text)(m->out, v, m->ntargets);
}

/* Bad addresses and paths fail here, before any probe. */
static int open_exporters(struct mmtrace *m)
{
	struct export_opts eo = { m->opt.openmetrics, m->opt.openmetrics_file, m->opt.trace_file, m->opt.metric_names };
	int rc;

	m->exporting = true;
	rc = exporters_open(&m->ex, &eo, m->err, sizeof(m->err));
	m->ex.trace_stacks = m->po.stacks;	/* each slice carries its collection's stack */
	return rc;
}

/* Fault injection for the tests: MMTRACE_TEST_ATTACH_DELAY_MS widens the
 * window between discovery and attach, where a target may exit (or a
 * signal come: it ends the sleep). */
static void test_delay_before_attach(void)
{
	const char *v = getenv("MMTRACE_TEST_ATTACH_DELAY_MS");
	long ms;

	if (v && !parse_long(v, 1, 60000, &ms))
		usleep((useconds_t)ms * 1000);
}

/* The exact level's price, said before it is paid. */
static void warn_exact_cost(const struct mmtrace *m)
{
	if (m->opt.alloc_exact)
		fprintf(stderr, "mmtrace: --alloc=exact traps on every allocator call (~1 us each on bare metal, "
			"5-10 us in a VM): allocation-heavy code runs 10-100x slower while traced; "
			"--alloc=growth costs a few percent\n");
}

/* The targets as labels, the traced span as the profile's time and duration. */
static int write_pprof(struct mmtrace *m)
{
	struct pprof_process procs[OPT_MAX_PIDS];
	struct pprof_run r = { procs, m->ntargets, m->opt.alloc_growth, m->opt.sample_bytes, 0, 0 };
	uint64_t now = monotonic_ns(), first = now, last = 0, end;
	struct timespec wall;
	int i;

	for (i = 0; i < m->ntargets; i++) {
		procs[i] = (struct pprof_process){ m->targets[i].pid, m->targets[i].comm };
		end = m->targets[i].exited ? m->targets[i].end_ns : now;
		first = m->targets[i].start_ns < first ? m->targets[i].start_ns : first;
		last = end > last ? end : last;
	}
	clock_gettime(CLOCK_REALTIME, &wall);
	r.time_ns = (int64_t)wall.tv_sec * 1000000000 + wall.tv_nsec - (int64_t)(now - first);
	r.duration_ns = last > first ? (int64_t)(last - first) : 0;
	return pprof_write(&m->stacks, &r, m->opt.pprof, m->err, sizeof(m->err));
}

static int run_single(struct mmtrace *m)
{
	int rc;

	rc = prepare_targets(m);
	if (rc || stop_pending(m->ro.stop))
		return rc;
	rc = plan_targets(m);
	/* growth stacks weigh pools where the build shows refills, else arenas */
	m->stacks.growth_from_pools = m->ntargets && m->targets[0].plan.metrics[M_POOLS].cov != COV_UNAVAILABLE;
	if (m->opt.probes_only) {
		print_probes(m);
		return rc;
	}
	if (rc)
		return rc;
	rc = open_exporters(m);
	if (rc)
		return rc;
	if (m->opt.cmd_argc && (rc = start_child(m)))
		return rc;
	test_delay_before_attach();
	warn_exact_cost(m);
	rc = attach_all(m);
	/* a signal that came before is handled by main(): nothing was traced */
	if (rc || stop_take_over(m->ro.stop))
		return rc;
	if (m->child.pid) {
		m->targets[0].pidfd = (int)syscall(SYS_pidfd_open, m->child.pid, 0);
		held_child_release(&m->child);
		poll_spawned_at_exit(m);
	}
	trace_loop(m);
	report(m, true);
	if (m->child.pid)
		finish_child(m);
	if ((m->opt.folded && stacks_write_files(&m->stacks, m->opt.folded, m->opt.folded_metric, m->err,
						 sizeof(m->err))) ||
	    (m->opt.pprof && write_pprof(m))) {
		fail(m);	/* now: main() is silent once a command ended */
		m->err[0] = '\0';
		return MMX_INTERNAL;
	}
	return m->opt.cmd_argc ? child_exit_code(m) : MMX_OK;
}

static int run(struct mmtrace *m)
{
	struct host_config hc = { &m->opt, &m->ro, &m->po, m->out, m->tty, -1, m->err, sizeof(m->err) };
	struct heap_config heap = { &m->opt, &m->ro, m->out, -1, m->err, sizeof(m->err) };

	/* before anything else, so that a user is not told less useful things
	 * first; --heap loads nothing and needs only the right to read memory */
	if (!m->opt.probes_only && !m->opt.heap && geteuid() != 0) {
		snprintf(m->err, sizeof(m->err),
			 "must run as root: loading BPF and attaching uprobes needs CAP_SYS_ADMIN");
		return MMX_NO_PERMISSION;
	}
	m->sigfd = signals_fd();
	if (m->sigfd < 0) {
		snprintf(m->err, sizeof(m->err), "cannot set up signals: %s", strerror(errno));
		return MMX_INTERNAL;
	}
	hc.sigfd = m->sigfd;
	heap.sigfd = m->sigfd;
	if (m->opt.heap)
		return heap_run(&heap);
	/* arenas at the mmap calls need each process watched by pid: the
	 * system-wide mode does not do that yet, so its plans do not offer it */
	m->po.mmap_arenas = !m->opt.all;
	return m->opt.all ? host_run(&hc) : run_single(m);
}

int main(int argc, char **argv)
{
	static struct mmtrace m = { .sigfd = -1, .child = { 0, -1 } };
	int rc, i;

	rc = options_parse(argc, argv, &m.opt);
	if (rc)
		goto cleanup;
	if (catch_stop_signals()) {
		snprintf(m.err, sizeof(m.err), "cannot set up signals: %s", strerror(errno));
		rc = MMX_INTERNAL;
		goto cleanup;
	}
	m.ro.stop = &stop_signal;
	m.ro.at_entry = m.opt.at_entry;
	m.ro.debug_dirs[0] = "/usr/lib/debug";
	m.ro.ndebug_dirs = 1;
	if (m.opt.ndebug_dirs) {
		memcpy(m.ro.debug_dirs, m.opt.debug_dirs, sizeof(m.ro.debug_dirs));
		m.ro.ndebug_dirs = m.opt.ndebug_dirs;
	}
	m.po.no_usdt = m.opt.no_usdt;
	m.po.force_poll = m.opt.poll;
	/* a running process (-p, or found system-wide) can be read from
	 * outside; a command mmtrace starts has no interpreter to read yet when
	 * it attaches */
	m.po.allow_poll = true;
	m.po.alloc_growth = m.opt.alloc_growth;
	m.po.alloc_exact = m.opt.alloc_exact;
	m.po.stacks = m.opt.stacks || m.opt.folded;
	m.po.sample_bytes = m.opt.sample_bytes;
	stacks_init(&m.stacks);
	m.out = m.opt.output ? fopen(m.opt.output, "we") : stdout;
	if (!m.out) {
		snprintf(m.err, sizeof(m.err), "cannot open %s: %s", m.opt.output, strerror(errno));
		rc = MMX_USAGE;
		goto cleanup;
	}
	m.tty = isatty(fileno(m.out));
	rc = run(&m);
cleanup:
	/* a signal before a loop took over: whatever stage it cut short, mmtrace
	 * ends quietly as if killed by it, and a held CMD dies of it too */
	if (stop_signal)
		rc = 128 + stop_signal;
	if (rc && m.err[0] && !stop_signal && !(m.opt.cmd_argc && m.targets[0].exited))
		fail(&m);
	if (m.child.pid)
		held_child_abort(&m.child, stop_signal);
	if (m.collecting)
		collector_close(&m.col);
	if (m.exporting)
		exporters_close(&m.ex);
	if (m.loaded)
		attacher_close(&m.att);
	for (i = 0; i < m.ntargets; i++) {
		if (m.targets[i].pidfd >= 0)
			close(m.targets[i].pidfd);
		if (m.sym_open[i])
			symbolizer_close(&m.sym[i]);
	}
	stacks_free(&m.stacks);
	if (m.sigfd >= 0)
		close(m.sigfd);
	if (m.out && m.out != stdout)
		fclose(m.out);
	options_free(&m.opt);
	return rc;
}
