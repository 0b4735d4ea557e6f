// SPDX-License-Identifier: MIT
/*
 * The session's lifecycle, once for every mode: exporters (bad addresses
 * fail before any probe) -> load -> the source finds and attaches its
 * targets -> the loop (events, scrapes, reports, the source's own work)
 * -> the final report -> the source finishes -> cleanup.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "exitcodes.h"
#include "parse.h"
#include "session_impl.h"
#include "stop.h"

/* pollfds besides the source's: signals, events, scrapes */
#define ENGINE_FDS 3

static const struct target_source *source_of(const struct options *o)
{
	return o->cmd_argc ? &source_command : o->all ? &source_host : &source_pids;
}

/* Bad addresses and paths fail here, before any probe. */
static int open_exporters(struct session *s)
{
	const struct options *o = s->c->opt;
	struct export_opts eo = { o->openmetrics, o->openmetrics_file, o->trace_file, o->metric_names };
	int rc;

	s->exporting = true;
	rc = exporters_open(&s->ex, &eo, s->c->err, s->c->errlen);
	s->ex.trace_stacks = s->c->po->stacks;	/* each slice carries its collection's stack */
	return rc;
}

static int load(struct session *s)
{
	const struct options *o = s->c->opt;
	struct attach_opts ao = { .verbose = o->verbose, .system_wide = !s->src->per_process,
				  .min_pause_ns = (__u64)(o->min_pause_ms * 1e6), .events_bytes = o->events_kib * 1024,
				  .alloc_exact = o->alloc_exact, .stack_depth = s->c->po->stacks ? o->stack_depth : 0,
				  .sample_bytes = s->c->po->sample_bytes };
	struct collect_handlers h = session_handlers(s);
	int rc;

	if (exporters_want_pauses(&s->ex))
		ao.min_pause_ns = 1;	/* every collection goes to the trace */
	rc = attacher_open(&s->att, &ao, s->c->err, s->c->errlen);
	s->loaded = true;
	if (rc)
		return rc;
	if (collector_open(&s->col, attacher_events_fd(&s->att), attacher_stats_fd(&s->att),
			   attacher_watched_fd(&s->att), &h)) {
		snprintf(s->c->err, s->c->errlen, "cannot read the BPF ring buffer: %s", strerror(errno));
		return MMX_INTERNAL;
	}
	s->collecting = true;
	if (ao.sample_bytes && collector_add_ring(&s->col, attacher_samples_fd(&s->att))) {
		snprintf(s->c->err, s->c->errlen, "cannot read the samples ring buffer: %s", strerror(errno));
		return MMX_INTERNAL;
	}
	return MMX_OK;
}

/* True when tracing must stop (SIGINT, SIGTERM); SIGCHLD only wakes the loop. */
bool session_drain_signals(struct session *s)
{
	int sig = stop_drain(s->c->sigfd, &s->stop_from_tty);

	if (sig)
		s->stop_sig = sig;
	return sig != 0;
}

static int wait_ms(uint64_t now, uint64_t until)
{
	return until > now ? (int)((until - now + 999999) / 1000000) : 0;
}

static void loop(struct session *s)
{
	const struct options *o = s->c->opt;
	uint64_t interval = (uint64_t)(o->interval_s * 1e9), now = monotonic_ns();
	uint64_t next_report = now + interval, next_tick = s->src->tick_ns ? now + s->src->tick_ns : 0, wake;
	struct pollfd fds[ENGINE_FDS + OPT_MAX_PIDS];
	long reports = 0;
	int nsrc;

	fds[0] = (struct pollfd){ .fd = s->c->sigfd, .events = POLLIN };
	fds[1] = (struct pollfd){ .fd = collector_fd(&s->col), .events = POLLIN };
	fds[2] = (struct pollfd){ .fd = exporters_listen_fd(&s->ex), .events = POLLIN };
	while (!s->src->done(s)) {
		nsrc = s->src->pollfds ? s->src->pollfds(s, fds + ENGINE_FDS, OPT_MAX_PIDS) : 0;
		now = monotonic_ns();
		wake = next_tick && next_tick < next_report ? next_tick : next_report;
		if (poll(fds, (nfds_t)(ENGINE_FDS + nsrc), wait_ms(now, wake)) < 0 && errno != EINTR)
			break;
		if (fds[0].revents && session_drain_signals(s))
			break;
		if (fds[1].revents)
			collector_drain(&s->col);
		if (fds[2].revents)
			session_scrape(s);
		if (nsrc)
			s->src->polled(s, fds + ENGINE_FDS, nsrc);
		now = monotonic_ns();
		if (next_tick && now >= next_tick) {
			s->src->tick(s);
			next_tick = now + s->src->tick_ns;
		}
		if (now < next_report || s->src->done(s))
			continue;
		next_report += interval;
		session_report(s, false);
		if (reader_gone(s->c->out) || (o->count && ++reports >= o->count))
			break;
	}
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
static void warn_exact_cost(const struct options *o)
{
	if (o->alloc_exact)
		fprintf(stderr, "mmtrace: --alloc=exact traps on every allocator call (~1 us each on bare metal, "
			"5-10 us in a VM): allocation-heavy code runs 10-100x slower while traced; "
			"--alloc=growth costs a few percent\n");
}

static int trace(struct session *s)
{
	int rc;

	rc = s->src->find(s);
	if (rc || stop_pending(s->c->ro->stop))
		return rc;
	if (s->c->opt->probes_only)
		return s->src->probes(s);
	rc = open_exporters(s);
	if (!rc)
		rc = load(s);
	if (!rc && s->src->prepare)
		rc = s->src->prepare(s);
	if (rc)
		return rc;
	test_delay_before_attach();
	warn_exact_cost(s->c->opt);
	rc = s->src->start(s);
	/* a signal that came before is handled by main(): nothing was traced */
	if (rc || stop_take_over(s->c->ro->stop))
		return rc;
	s->last_report_ns = monotonic_ns();
	if (s->src->live)
		s->src->live(s);
	loop(s);
	session_report(s, true);
	rc = s->src->finish ? s->src->finish(s) : MMX_OK;
	if (session_write_stacks(s)) {
		fprintf(stderr, "mmtrace: %s\n", s->c->err);	/* now: main() is silent once a command ended */
		s->c->err[0] = '\0';
		return MMX_INTERNAL;
	}
	return rc;
}

/* Probes cost a command time, and a stopped mmtrace reads no more events. */
void session_detach(struct session *s)
{
	if (s->collecting)
		collector_close(&s->col);
	s->collecting = false;
	if (s->loaded)
		attacher_close(&s->att);
	s->loaded = false;
}

int session_run(const struct session_config *c)
{
	struct session *s = calloc(1, sizeof(*s));
	int rc;

	if (!s || registry_init(&s->reg)) {
		free(s);
		snprintf(c->err, c->errlen, "out of memory");
		return MMX_INTERNAL;
	}
	s->c = c;
	s->src = source_of(c->opt);
	s->child = (struct held_child){ 0, -1 };
	discover_host_init(&s->disc, &s->reg, c->ro);
	proctable_init(&s->procs);
	s->procs.release = features_release_row;
	stacks_init(&s->stacks);
	s->fc = (struct feature_ctx){ c->opt, &s->att, &s->stacks, &s->ex };
	rc = trace(s);
	if (s->src->close)
		s->src->close(s);	/* a held command dies with a signal that came first */
	session_detach(s);
	if (s->exporting)
		exporters_close(&s->ex);
	proctable_free(&s->procs);
	stacks_free(&s->stacks);
	registry_free(&s->reg);
	free(s->pid_att);
	free(s);
	return rc;
}
