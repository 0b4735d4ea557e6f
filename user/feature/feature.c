// SPDX-License-Identifier: MIT
#include <stdlib.h>
#include "feature.h"

extern const struct feature feature_exact, feature_heap, feature_stacks;

const struct feature *const features[FEAT_MAX] = {
	[FEAT_EXACT] = &feature_exact,
	[FEAT_HEAP] = &feature_heap,
	[FEAT_STACKS] = &feature_stacks,
};

void *feature_state(struct proc_row *p, enum feature_id id)
{
	if (!p->feat[id])
		p->feat[id] = calloc(1, features[id]->state_size);
	return p->feat[id];
}

void features_release_row(struct proc_row *p, void *unused)
{
	int i;

	(void)unused;
	for (i = 0; i < FEAT_MAX; i++) {
		if (!p->feat[i])
			continue;
		if (features[i]->release)
			features[i]->release(p->feat[i]);
		free(p->feat[i]);
		p->feat[i] = NULL;
	}
}

void features_fill(const struct feature_ctx *c, struct proc_row *p, const struct python_binary *bin, bool scrape,
		   struct report_row *out)
{
	void *st;
	int i;

	for (i = 0; i < FEAT_MAX; i++) {
		if (!features[i]->wanted(c->opt))
			continue;
		st = feature_state(p, (enum feature_id)i);
		if (st)
			features[i]->fill(c, p, bin, st, scrape, out);
	}
}
