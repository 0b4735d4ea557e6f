// SPDX-License-Identifier: MIT
/* --heap=live: the heap section of a live process, read from its memory at
 * each report (nothing runs in it). An ended process keeps no section. */
#include "feature.h"
#include "present_heap.h"
#include "heap_run.h"

struct heap_state {
	struct heap_reading reading;	/* its DWARF answers kept between reports */
	struct heap_view view;
};

static bool heap_wanted(const struct options *o)
{
	return o->heap_live;
}

static void heap_fill(const struct feature_ctx *c, const struct proc_row *p, const struct python_binary *bin,
		      void *state, bool scrape, struct report_row *out)
{
	struct heap_state *st = state;

	(void)c;
	if (scrape || p->ended)
		return;
	heap_read_process(p->pid, bin, &st->reading);
	st->view = heap_view_of(p->pid, p->comm, bin, &st->reading);
	out->heap = &st->view;
	feature_present(out, &present_heap_part);
}

const struct feature feature_heap = {
	.name = "heap",
	.wanted = heap_wanted,
	.state_size = sizeof(struct heap_state),
	.fill = heap_fill,
};
