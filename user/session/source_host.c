// SPDX-License-Identifier: MIT
/*
 * The host as a target source: every CPython process, found by a scan of
 * /proc at start (exec events already flowing, so none started meanwhile is
 * missed), then by exec events, and by a rescan every 10 s for processes
 * that load libpython long after exec (uwsgi's plugin). One set of probes
 * per interpreter file serves every process that maps it.
 */
#include <stdlib.h>
#include "exitcodes.h"
#include "present.h"
#include "session_impl.h"
#include "stop.h"

#define RESCAN_NS (10ull * 1000000000ull)

static void consider(void *arg, pid_t pid)
{
	session_consider(arg, pid);
}

static int host_find(struct session *s)
{
	(void)s;
	return MMX_OK;	/* the scan comes once exec events flow */
}

static void plan_pid(void *arg, pid_t pid)
{
	struct session *s = arg;
	int bin;

	if (stop_pending(s->c->ro->stop))
		return;
	bin = discover_host_pid(&s->disc, pid);
	/* a file without a probe point still gets a plan: its metrics say why */
	if (bin >= 0)
		session_plan(s, bin);
}

/* --probes with no target: the plan of every interpreter file in use. */
static int host_probes(struct session *s)
{
	struct probe_view *v;
	char (*offsets)[384];
	int i;

	procfs_each_pid(plan_pid, s);
	if (stop_pending(s->c->ro->stop))
		return MMX_OK;	/* main() says how it ended */
	s->c->err[0] = '\0';
	v = calloc((size_t)s->reg.nbins + 1, sizeof(*v));
	offsets = calloc((size_t)s->reg.nbins + 1, sizeof(*offsets));
	if (!v || !offsets) {
		free(v);
		free(offsets);
		return MMX_INTERNAL;
	}
	for (i = 0; i < s->reg.nbins; i++)
		v[i] = session_probe_view(s, 0, NULL, i, offsets[i], sizeof(offsets[i]));
	session_print_probes(s, v, s->reg.nbins);
	if (!s->reg.nbins && !s->c->opt->json)
		fprintf(s->c->out, "no running process maps a CPython interpreter\n");
	free(v);
	free(offsets);
	return MMX_OK;
}

static int host_start(struct session *s)
{
	procfs_each_pid(consider, s);
	s->c->err[0] = '\0';	/* files without probes were said on stderr; not mmtrace's failure */
	return MMX_OK;
}

static bool host_follows(const struct session *s, pid_t pid)
{
	(void)s;
	(void)pid;
	return true;
}

static void host_rescan(struct session *s)
{
	procfs_each_pid(consider, s);
}

static bool host_done(struct session *s)
{
	(void)s;
	return false;	/* until a signal or COUNT */
}

const struct target_source source_host = {
	.name = "host",
	.per_process = false,
	.one_table = false,
	.find = host_find,
	.probes = host_probes,
	.start = host_start,
	.follows = host_follows,
	.tick_ns = RESCAN_NS,
	.tick = host_rescan,
	.done = host_done,
};
