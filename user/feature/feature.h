/* SPDX-License-Identifier: MIT */
/*
 * feature: what a report row carries beyond the GC counts. Each feature
 * (the exact allocation level, the heap section, the stacks) is a module
 * that keeps its own state per process image and fills its part of a
 * report row; the session engine only calls it. A row is then a GC row
 * plus the extensions of the features that are on.
 */
#ifndef MMTRACE_FEATURE_H
#define MMTRACE_FEATURE_H

#include <stdbool.h>
#include <stdint.h>
#include "events.h"
#include "gc.h"
#include "options.h"
#include "present.h"
#include "proctable.h"

struct attacher;
struct stack_table;
struct exporters;

enum feature_id { FEAT_EXACT, FEAT_HEAP, FEAT_STACKS, FEAT_MAX };
_Static_assert(FEAT_MAX == PROC_ROW_FEATURES, "a row has a state slot per feature");

/* What a feature may use of the session: nothing else. */
struct feature_ctx {
	const struct options *opt;
	const struct attacher *att;
	struct stack_table *stacks;
	struct exporters *ex;
};

struct feature {
	const char *name;
	bool (*wanted)(const struct options *o);
	size_t state_size;	/* per process image, zeroed at its first use */
	/* its part of the row; scrape: a Prometheus scrape (no types, no heap) */
	void (*fill)(const struct feature_ctx *c, const struct proc_row *p, const struct python_binary *bin,
		     void *state, bool scrape, struct report_row *out);
	void (*release)(void *state);	/* may be NULL */
};

extern const struct feature *const features[FEAT_MAX];

/* The feature's state of a row, allocated at the first call; NULL when out of memory. */
void *feature_state(struct proc_row *p, enum feature_id id);
/* Releases every feature's state of a row (the proctable's release hook). */
void features_release_row(struct proc_row *p, void *unused);
/* Each wanted feature's part of a report row. */
void features_fill(const struct feature_ctx *c, struct proc_row *p, const struct python_binary *bin, bool scrape,
		   struct report_row *out);

/* Adds the feature's presentation to the row. */
static inline void feature_present(struct report_row *out, const struct row_part *part)
{
	if (out->nparts < ROW_PARTS_MAX)
		out->parts[out->nparts++] = part;
}

/* --stacks: a stack event of the row's process, symbolised while it lives. */
void feature_stacks_event(const struct feature_ctx *c, struct proc_row *p, const struct python_binary *bin,
			  const struct mm_stack_event *e);

#endif /* MMTRACE_FEATURE_H */
