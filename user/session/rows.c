// SPDX-License-Identifier: MIT
/*
 * The process table: one row per process image, made when a source finds
 * a process (track, consider) or an exec event names one (events.c), and
 * read at each report (refresh); /proc tells a vanished or reused pid.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "session_impl.h"
#include "stop.h"

/* looks at a pid that keeps exec'ing while its maps are read; the next
 * rescan or its exec event finds it */
#define SCAN_TRIES 3

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
