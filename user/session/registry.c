// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "registry.h"

#define INITIAL_SLOTS 1024

static uint32_t hash_id(struct file_id id)
{
	uint64_t h = (id.ino ^ ((uint64_t)id.dev << 32)) * 0x9e3779b97f4a7c15ull;

	return (uint32_t)(h >> 32);
}

int registry_init(struct registry *r)
{
	memset(r, 0, sizeof(*r));
	r->slots = calloc(INITIAL_SLOTS, sizeof(*r->slots));
	if (!r->slots)
		return -ENOMEM;
	r->cap = INITIAL_SLOTS;
	return 0;
}

void registry_free(struct registry *r)
{
	int i;

	for (i = 0; i < r->nbins; i++)
		free(r->bins[i]);
	free(r->slots);
	memset(r, 0, sizeof(*r));
}

static struct file_slot *find_slot(const struct registry *r, struct file_id id)
{
	uint32_t mask = r->cap - 1, i = hash_id(id) & mask, n;

	for (n = 0; n < r->cap; n++, i = (i + 1) & mask)
		if (!r->slots[i].kind || file_id_eq(r->slots[i].id, id))
			return &r->slots[i];
	return NULL;	/* full; never reached, the table grows at half load */
}

bool registry_lookup(const struct registry *r, struct file_id id, enum file_kind *kind, int *bin_id)
{
	const struct file_slot *s = find_slot(r, id);

	if (!s || !s->kind)
		return false;
	*kind = (enum file_kind)s->kind;
	*bin_id = s->bin_id;
	return true;
}

/* Rehashes into a table of new_cap slots, keeping only interpreter verdicts
 * when keep_all is false (the bound on memory). */
static int rehash(struct registry *r, uint32_t new_cap, bool keep_all)
{
	struct file_slot *old = r->slots, *s;
	uint32_t i, old_cap = r->cap;

	r->slots = calloc(new_cap, sizeof(*r->slots));
	if (!r->slots) {
		r->slots = old;
		return -ENOMEM;
	}
	r->cap = new_cap;
	r->used = 0;
	for (i = 0; i < old_cap; i++) {
		if (!old[i].kind ||
		    (!keep_all && old[i].kind != FILE_PYTHON && old[i].kind != FILE_LINKS_PYTHON))
			continue;
		s = find_slot(r, old[i].id);
		*s = old[i];
		r->used++;
	}
	free(old);
	return 0;
}

void registry_remember(struct registry *r, struct file_id id, enum file_kind kind, int bin_id)
{
	struct file_slot *s;

	if (r->used * 2 >= r->cap) {
		if (r->cap * 2 <= REGISTRY_MAX_FILES * 2)
			rehash(r, r->cap * 2, true);
		else
			rehash(r, r->cap, false);
	}
	s = find_slot(r, id);
	if (!s)
		return;
	if (!s->kind)
		r->used++;
	*s = (struct file_slot){ id, (uint8_t)kind, bin_id };
}

int registry_add_interp(struct registry *r, struct file_id id, const struct python_binary *bin)
{
	enum file_kind kind;
	int bin_id;

	if (registry_lookup(r, id, &kind, &bin_id) && kind == FILE_PYTHON)
		return bin_id;
	if (r->nbins >= REGISTRY_MAX_BINS)
		return -ENOSPC;
	r->bins[r->nbins] = calloc(1, sizeof(struct interp_file));
	if (!r->bins[r->nbins])
		return -ENOMEM;
	r->bins[r->nbins]->bin = *bin;
	r->bins[r->nbins]->id = id;
	registry_remember(r, id, FILE_PYTHON, r->nbins);
	return r->nbins++;
}
