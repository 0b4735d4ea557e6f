// SPDX-License-Identifier: MIT
/*
 * A command as a target source: resolved before it runs, forked and held
 * before its exec while its probes attach, then released, so that its
 * interpreter is counted from its first instruction (its row comes with
 * its exec event). It ends as timeout(1) does: a signal that stops mmtrace
 * is passed on, and CMD is killed if it outlives a grace period.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "exitcodes.h"
#include "session_impl.h"
#include "stop.h"

/* how long CMD has to end once the signal that stopped mmtrace is passed on */
#define CMD_GRACE_S 3
/* how long a released command has to map and initialise its interpreter
 * before its polled exit read is located (a short command has no other) */
#define LOCATE_TRIES 2000

static int command_find(struct session *s)
{
	const struct options *o = s->c->opt;
	struct target *t = malloc(sizeof(*t));
	int rc;

	if (!t) {
		snprintf(s->c->err, s->c->errlen, "out of memory");
		return MMX_INTERNAL;
	}
	rc = discover_command(o->cmd[0], s->c->ro, t, s->exe, sizeof(s->exe), s->c->err, s->c->errlen);
	t->pidfd = -1;
	if (!rc)
		rc = session_follow(s, 0, t);
	free(t);
	return rc || o->probes_only ? rc : session_plan_followed(s);
}

static int command_spawn(struct session *s)
{
	if (held_child_spawn(s->exe, s->c->opt->cmd, &s->child)) {
		snprintf(s->c->err, s->c->errlen, "cannot start %s: %s", s->exe, strerror(errno));
		return MMX_CMD_NOT_FOUND;
	}
	s->follow[0].pid = s->child.pid;
	return MMX_OK;
}

static int command_start(struct session *s)
{
	struct followed *f = &s->follow[0];
	uint64_t attach_ns;
	int rc;

	rc = session_attach(s, f->bin_id, f->pid, &attach_ns);
	/* its exec (and end) are reported: its row comes with the exec */
	if (!rc)
		collect_watch(&s->col, f->pid, (__u32)f->bin_id);
	return rc;
}

/* A polled command: BPF reads it once more as it exits, through where its
 * interpreter is, known once it has exec'd and initialised it. Bounded: a
 * command that ends or fails first has no final reading (its last report
 * stands). */
static void locate_polled(struct session *s)
{
	struct proc_row *row = NULL;
	int tries;

	if (!session_interp(s, s->follow[0].bin_id)->plan.polled)
		return;
	for (tries = 0; tries < LOCATE_TRIES && !kill(s->child.pid, 0); tries++) {
		collector_drain(&s->col);	/* its exec makes its row */
		row = proctable_live(&s->procs, s->child.pid);
		if (row)
			session_refresh_polled(s, row);
		if (row && row->poll_located)
			return;
		usleep(1000);
	}
}

static void command_live(struct session *s)
{
	s->follow[0].pidfd = (int)syscall(SYS_pidfd_open, s->child.pid, 0);
	held_child_release(&s->child);
	locate_polled(s);
}

static bool command_follows(const struct session *s, pid_t pid)
{
	return s->child.pid && pid == s->child.pid;
}

/* Its first exec runs the file resolved before it started. */
static int command_exec_bin(struct session *s, const struct mm_exec_event *e)
{
	struct followed *f = &s->follow[0];

	if (!f->gone && !f->exec_seen) {
		f->exec_seen = true;
		return f->bin_id;
	}
	return discover_host_exec(&s->disc, e);
}

/* Reaps CMD if it ended: true then. */
static bool reap(struct session *s, int flags)
{
	if (!s->child.pid)
		return true;
	if (waitpid(s->child.pid, &s->wait_status, flags) != s->child.pid)
		return false;
	s->child.pid = 0;
	s->child_reaped = true;
	s->follow[0].gone = true;
	return true;
}

static int command_pollfds(struct session *s, struct pollfd *fds, int max)
{
	if (s->follow[0].gone || s->follow[0].pidfd < 0 || max < 1)
		return 0;
	fds[0] = (struct pollfd){ .fd = s->follow[0].pidfd, .events = POLLIN };
	return 1;
}

static void command_polled(struct session *s, const struct pollfd *fds, int n)
{
	if (n && fds[0].revents)
		reap(s, 0);
}

/* SIGCHLD wakes the loop without a pidfd */
static bool command_done(struct session *s)
{
	return reap(s, WNOHANG);
}

static void kill_child(struct session *s)
{
	fprintf(stderr, "mmtrace: %s (PID %d) still running %d s after SIG%s: killed\n", s->follow[0].comm,
		s->child.pid, CMD_GRACE_S, sigabbrev_np(s->stop_sig));
	kill(s->child.pid, SIGKILL);
	reap(s, 0);
}

/*
 * Tracing ended while CMD runs. As timeout(1) does, mmtrace detaches, passes
 * the signal that stopped it on to CMD (a terminal's ^C reached CMD's process
 * group already), and kills CMD if it has not ended CMD_GRACE_S later (at
 * once on a second signal). Ended otherwise (COUNT, the reader gone), it waits
 * for CMD, passing on a signal that comes meanwhile.
 */
static void wait_child(struct session *s)
{
	struct pollfd p = { .fd = s->c->sigfd, .events = POLLIN };
	uint64_t deadline = 0, now;

	session_detach(s);
	while (!reap(s, WNOHANG)) {
		now = monotonic_ns();
		if (s->stop_sig && !deadline) {
			if (!s->stop_from_tty)
				kill(s->child.pid, s->stop_sig);
			deadline = now + CMD_GRACE_S * 1000000000ull;
			continue;
		}
		if (deadline && now >= deadline) {
			kill_child(s);
			return;
		}
		/* SIGCHLD, queued on the signalfd, says when CMD ends */
		if (poll(&p, 1, deadline ? (int)((deadline - now + 999999) / 1000000) : -1) > 0 &&
		    session_drain_signals(s) && deadline)
			deadline = now;
	}
}

/* CMD's own exit status is mmtrace's. */
static int command_finish(struct session *s)
{
	int st;

	if (s->child.pid)
		wait_child(s);
	s->c->err[0] = '\0';	/* what a later image could not do is no failure of CMD's */
	if (!s->child_reaped)
		return MMX_OK;
	st = s->wait_status;
	return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : MMX_INTERNAL;
}

static void command_close(struct session *s)
{
	if (s->child.pid)
		held_child_abort(&s->child, s->c->ro->stop ? *s->c->ro->stop : 0);
	if (s->follow[0].pidfd >= 0)
		close(s->follow[0].pidfd);
	s->follow[0].pidfd = -1;
}

const struct target_source source_command = {
	.name = "command",
	.per_process = true,
	.one_table = true,
	.find = command_find,
	.probes = session_print_followed_probes,
	.prepare = command_spawn,
	.start = command_start,
	.live = command_live,
	.follows = command_follows,
	.exec_bin = command_exec_bin,
	.pollfds = command_pollfds,
	.polled = command_polled,
	.done = command_done,
	.finish = command_finish,
	.close = command_close,
};
