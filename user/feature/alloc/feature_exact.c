// SPDX-License-Identifier: MIT
/* --alloc=exact: per-process figures and the per-type table, read from the
 * exact level's maps. Their entries stay after the process ends, so an
 * ended image is read once more for its final figures, then kept. */
#include "attach.h"
#include "collect_exact.h"
#include "feature.h"
#include "present_exact.h"

/* per-type rows kept per process for the table and JSON */
#define TYPES_KEPT 50

struct exact_state {
	struct alloc_exact_stats stats;
	struct type_row types[TYPES_KEPT];
	int ntypes;
	bool final;		/* read after its end: no more reads */
};

static bool exact_wanted(const struct options *o)
{
	return o->alloc_exact;
}

static void exact_fill(const struct feature_ctx *c, const struct proc_row *p, const struct python_binary *bin,
		       void *state, bool scrape, struct report_row *out)
{
	struct exact_state *st = state;

	(void)bin;
	if (scrape)
		return;
	if (!st->final) {
		collect_exact_entry(attacher_exact_fd(c->att), p->pid, &st->stats);
		st->ntypes = collect_types(attacher_types_fd(c->att), p->pid, st->types, TYPES_KEPT);
		st->final = p->ended;
	}
	out->exact = &st->stats;
	out->types = st->types;
	out->ntypes = st->ntypes;
	feature_present(out, &present_exact_part);
}

const struct feature feature_exact = {
	.name = "exact",
	.wanted = exact_wanted,
	.state_size = sizeof(struct exact_state),
	.fill = exact_fill,
};
