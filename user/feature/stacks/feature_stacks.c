// SPDX-License-Identifier: MIT
/* --stacks, --folded, --pprof: one symboliser per process, opened at its
 * first stack (a command has exec'd by then) and retried a second after a
 * failed open; every stack lands in the session's one table. */
#include "discover.h"
#include "export.h"
#include "feature.h"
#include "present_stacks.h"
#include "stacks.h"
#include "symbolize.h"

#define REOPEN_AFTER_NS 1000000000ull

struct stacks_state {
	struct symbolizer sym;
	bool open;
	uint64_t failed_ns;	/* the last failed open */
};

static bool stacks_wanted(const struct options *o)
{
	return o->stacks || o->folded;	/* --pprof needs --stacks */
}

static void stacks_fill(const struct feature_ctx *c, const struct proc_row *p, const struct python_binary *bin,
			void *state, bool scrape, struct report_row *out)
{
	struct stacks_state *st = state;

	(void)p;
	(void)bin;
	(void)scrape;
	out->stacks = c->stacks;
	out->symbolizer = st->open ? &st->sym : NULL;
	feature_present(out, &present_stacks_part);
}

static void stacks_release(void *state)
{
	struct stacks_state *st = state;

	if (st->open)
		symbolizer_close(&st->sym);
	st->open = false;
}

void feature_stacks_event(const struct feature_ctx *c, struct proc_row *p, const struct python_binary *bin,
			  const struct mm_stack_event *e)
{
	struct stacks_state *st = feature_state(p, FEAT_STACKS);
	const struct stack_entry *s = NULL;

	if (st && !st->open && !p->ended && monotonic_ns() - st->failed_ns > REOPEN_AFTER_NS) {
		st->open = !symbolizer_open(&st->sym, p->pid, bin);
		if (!st->open)
			st->failed_ns = monotonic_ns();
	}
	if (st && st->open)
		s = stacks_add(c->stacks, &st->sym, e);
	else
		c->stacks->dropped++;	/* the process could not be read: counted, not named wrongly */
	if (e->metric == STACK_GC)	/* its collection's slice waits for it */
		exporters_gc_stack(c->ex, e, s ? s->frames : NULL);
}

const struct feature feature_stacks = {
	.name = "stacks",
	.wanted = stacks_wanted,
	.state_size = sizeof(struct stacks_state),
	.fill = stacks_fill,
	.release = stacks_release,
};
