// SPDX-License-Identifier: MIT
/*
 * The pids given with -p as a target source: each resolved and planned
 * before anything is loaded (a bad pid is refused with its own exit code),
 * its probes filtered to it, and followed across an exec (its old image's
 * row ends, the new image gets its own) until it exits.
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

/* A process resolved for -p or -- CMD, registered by its interpreter file. */
int session_follow(struct session *s, pid_t pid, const struct target *t)
{
	struct followed *f = &s->follow[s->nfollow];
	int bin = discover_host_adopt(&s->disc, &t->bin);

	if (bin < 0) {
		snprintf(s->c->err, s->c->errlen, "cannot identify %s: %s", t->bin.path, strerror(-bin));
		return MMX_INTERNAL;
	}
	*f = (struct followed){ .pid = pid, .bin_id = bin, .pidfd = t->pidfd };
	snprintf(f->comm, sizeof(f->comm), "%s", t->comm);
	s->nfollow++;
	return MMX_OK;
}

int session_plan_followed(struct session *s)
{
	char first[sizeof(((struct interp_file *)0)->attach_error) + PATH_MAX];
	int i, rc = MMX_OK, prc;

	for (i = 0; i < s->nfollow; i++) {
		prc = session_plan(s, s->follow[i].bin_id);
		if (prc && rc == MMX_OK) {
			rc = prc;
			snprintf(first, sizeof(first), "%s", s->c->err);
		}
	}
	if (rc)
		snprintf(s->c->err, s->c->errlen, "%s", first);
	return rc;
}

int session_print_followed_probes(struct session *s)
{
	static char offsets[OPT_MAX_PIDS][384];
	struct probe_view v[OPT_MAX_PIDS];
	int i, rc = session_plan_followed(s);

	for (i = 0; i < s->nfollow; i++)
		v[i] = session_probe_view(s, s->follow[i].pid, s->follow[i].comm, s->follow[i].bin_id, offsets[i],
					  sizeof(offsets[i]));
	session_print_probes(s, v, s->nfollow);
	return rc;
}

static int pids_find(struct session *s)
{
	const struct options *o = s->c->opt;
	struct target *t = malloc(sizeof(*t));
	int i, rc = MMX_OK;

	if (!t) {
		snprintf(s->c->err, s->c->errlen, "out of memory");
		return MMX_INTERNAL;
	}
	for (i = 0; i < o->npids && !rc && !stop_pending(s->c->ro->stop); i++) {
		rc = discover_pid(o->pids[i], s->c->ro, t, s->c->err, s->c->errlen);
		if (!rc)
			rc = session_follow(s, o->pids[i], t);
		if (rc && t->pidfd >= 0)
			close(t->pidfd);
	}
	free(t);
	/* --probes shows the plans, with or without a probe point */
	return rc || o->probes_only ? rc : session_plan_followed(s);
}

static int pids_start(struct session *s)
{
	struct followed *f;
	struct proc_row *row;
	uint64_t attach_ns;
	int i, rc;

	for (i = 0; i < s->nfollow && !stop_pending(s->c->ro->stop); i++) {
		f = &s->follow[i];
		rc = session_attach(s, f->bin_id, f->pid, &attach_ns);
		if (rc)
			return rc;
		row = session_track(s, f->pid, f->bin_id, f->comm, read_ns_pid(f->pid), 0, monotonic_ns());
		if (row && session_interp(s, f->bin_id)->plan.polled && !row->poll_based) {
			snprintf(s->c->err, s->c->errlen, "cannot read the GC counters of PID %d (%s, no probe point)",
				 f->pid, session_interp(s, f->bin_id)->bin.path);
			return MMX_INTERNAL;
		}
	}
	return MMX_OK;
}

static bool pids_follows(const struct session *s, pid_t pid)
{
	int i;

	for (i = 0; i < s->nfollow; i++)
		if (s->follow[i].pid == pid && !s->follow[i].gone)
			return true;
	return false;
}

static int pids_pollfds(struct session *s, struct pollfd *fds, int max)
{
	int i, n = 0;

	for (i = 0; i < s->nfollow && n < max; i++)
		if (!s->follow[i].gone && s->follow[i].pidfd >= 0)
			fds[n++] = (struct pollfd){ .fd = s->follow[i].pidfd, .events = POLLIN };
	return n;
}

static void pids_polled(struct session *s, const struct pollfd *fds, int n)
{
	int i, j;

	for (j = 0; j < n; j++)
		for (i = 0; fds[j].revents && i < s->nfollow; i++)
			if (s->follow[i].pidfd == fds[j].fd)
				s->follow[i].gone = true;
}

/* Every process followed has exited (without a pidfd: gone from /proc). */
static bool pids_done(struct session *s)
{
	struct followed *f;
	int i, live = 0;

	for (i = 0; i < s->nfollow; i++) {
		f = &s->follow[i];
		if (!f->gone && f->pidfd < 0 && kill(f->pid, 0) && errno == ESRCH)
			f->gone = true;
		live += !f->gone;
	}
	return live == 0;
}

static void pids_close(struct session *s)
{
	int i;

	for (i = 0; i < s->nfollow; i++)
		if (s->follow[i].pidfd >= 0)
			close(s->follow[i].pidfd);
	s->nfollow = 0;
}

const struct target_source source_pids = {
	.name = "pids",
	.per_process = true,
	.one_table = true,
	.find = pids_find,
	.probes = session_print_followed_probes,
	.start = pids_start,
	.follows = pids_follows,
	.pollfds = pids_pollfds,
	.polled = pids_polled,
	.done = pids_done,
	.close = pids_close,
};
