// SPDX-License-Identifier: MIT
/*
 * mmtrace: options -> mode -> exit code. The tracing modes (-p, -- CMD,
 * system-wide) are one session engine fed by a target source
 * (session/session.h); --heap reads snapshots and loads nothing.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include "exitcodes.h"
#include "heap_run.h"
#include "options.h"
#include "session.h"
#include "stop.h"

struct mmtrace {
	struct options opt;
	struct resolve_opts ro;
	struct plan_opts po;
	int sigfd;
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

static void plan_options(struct mmtrace *m)
{
	const struct options *o = &m->opt;

	m->ro.stop = &stop_signal;
	m->ro.at_entry = o->at_entry;
	m->ro.debug_dirs[0] = "/usr/lib/debug";
	m->ro.ndebug_dirs = 1;
	if (o->ndebug_dirs) {
		memcpy(m->ro.debug_dirs, o->debug_dirs, sizeof(m->ro.debug_dirs));
		m->ro.ndebug_dirs = o->ndebug_dirs;
	}
	m->po.no_usdt = o->no_usdt;
	m->po.force_poll = o->poll;
	/* a running process (-p, or found system-wide) can be read from outside */
	m->po.allow_poll = true;
	m->po.alloc_growth = o->alloc_growth;
	m->po.alloc_exact = o->alloc_exact;
	m->po.stacks = o->stacks || o->folded;
	m->po.sample_bytes = o->sample_bytes;
	/* arenas at the mmap calls need each process watched by pid: a
	 * system-call tracepoint for every process on the host is not cheap */
	m->po.mmap_arenas = !o->all;
}

static int run(struct mmtrace *m)
{
	struct session_config sc = { &m->opt, &m->ro, &m->po, m->out, m->tty, -1, m->err, sizeof(m->err) };
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
	sc.sigfd = m->sigfd;
	heap.sigfd = m->sigfd;
	return m->opt.heap ? heap_run(&heap) : session_run(&sc);
}

int main(int argc, char **argv)
{
	static struct mmtrace m = { .sigfd = -1 };
	int rc;

	rc = options_parse(argc, argv, &m.opt);
	if (rc)
		goto cleanup;
	if (catch_stop_signals()) {
		snprintf(m.err, sizeof(m.err), "cannot set up signals: %s", strerror(errno));
		rc = MMX_INTERNAL;
		goto cleanup;
	}
	plan_options(&m);
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
	 * ends quietly as if killed by it (a held CMD died of it too) */
	if (stop_signal)
		rc = 128 + stop_signal;
	if (rc && m.err[0] && !stop_signal)
		fprintf(stderr, "mmtrace: %s\n", m.err);
	if (m.sigfd >= 0)
		close(m.sigfd);
	if (m.out && m.out != stdout)
		fclose(m.out);
	options_free(&m.opt);
	return rc;
}
