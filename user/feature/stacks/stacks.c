// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"
#include "stacks.h"

#define FRAME_TEXT_MAX (SYM_NAME_MAX + SYM_FILE_MAX + 32)

void stacks_init(struct stack_table *t)
{
	memset(t, 0, sizeof(*t));
	t->max_stacks = STACKS_MAX;
}

void stacks_free(struct stack_table *t)
{
	size_t i;

	for (i = 0; i < t->cap; i++)
		free(t->slots[i].frames);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

static uint64_t hash_key(const char *frames, uint32_t metric, uint32_t gen, pid_t tid)
{
	uint64_t h = 1469598103934665603ull ^ metric ^ ((uint64_t)gen << 8) ^ ((uint64_t)(uint32_t)tid << 16);

	for (; *frames; frames++)
		h = (h ^ (unsigned char)*frames) * 1099511628211ull;
	return h;
}

static int grow(struct stack_table *t)
{
	size_t cap = t->cap ? 2 * t->cap : 256, i, j;
	struct stack_entry *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (i = 0; i < t->cap; i++) {
		struct stack_entry *e = &t->slots[i];

		if (!e->frames)
			continue;
		for (j = hash_key(e->frames, e->metric, e->generation, e->tid) & (cap - 1); slots[j].frames;
		     j = (j + 1) & (cap - 1))
			;
		slots[j] = *e;
	}
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
	return 0;
}

/* Outermost frame first, as the collapsed format wants; marks say where a
 * stack is incomplete, so that no partial stack passes for a whole one. */
static char *fold(struct symbolizer *sym, const struct mm_stack_event *e)
{
	size_t cap = 64 + (size_t)e->depth * FRAME_TEXT_MAX, len = 0;
	char *out = malloc(cap), frame[FRAME_TEXT_MAX];
	int i;

	if (!out)
		return NULL;
	out[0] = '\0';
	if (e->flags & STACK_NO_THREAD)
		len += (size_t)snprintf(out + len, cap - len, "[no Python thread]");
	if (e->flags & STACK_BROKEN)
		len += (size_t)snprintf(out + len, cap - len, "%s[unreadable frames]", len ? ";" : "");
	if (e->flags & STACK_TRUNCATED)
		len += (size_t)snprintf(out + len, cap - len, "%s[deeper frames]", len ? ";" : "");
	for (i = (int)e->depth - 1; i >= 0; i--) {
		frame_text(sym, e->frames[i].code, e->frames[i].lasti, frame, sizeof(frame));
		len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? ";" : "", frame);
		if (len >= cap)
			break;
	}
	if (!len)
		snprintf(out, cap, "[empty stack]");
	/* sized for the worst case while built; kept at its length */
	return realloc(out, strlen(out) + 1) ?: out;
}

/* The entry of (frames, metric, generation, pid, tid), or the free slot for it. */
static struct stack_entry *find(struct stack_table *t, const char *frames, const struct mm_stack_event *e,
				pid_t tid)
{
	struct stack_entry *s;
	size_t i;

	for (i = hash_key(frames, e->metric, e->generation, tid) & (t->cap - 1); t->slots[i].frames;
	     i = (i + 1) & (t->cap - 1)) {
		s = &t->slots[i];
		if (s->metric == e->metric && s->generation == e->generation && s->pid == (pid_t)e->pid &&
		    s->tid == tid && !strcmp(s->frames, frames))
			return s;
	}
	return &t->slots[i];
}

const struct stack_entry *stacks_add(struct stack_table *t, struct symbolizer *sym, const struct mm_stack_event *e)
{
	char *frames = fold(sym, e);
	pid_t tid = (pid_t)e->tid;
	struct stack_entry *s;

	if (!frames || ((t->n + 1) * 2 > t->cap && grow(t))) {
		free(frames);
		return NULL;
	}
	t->events++;
	t->truncated += !!(e->flags & STACK_TRUNCATED);
	t->broken += !!(e->flags & STACK_BROKEN);
	t->no_thread += !!(e->flags & STACK_NO_THREAD);
	s = find(t, frames, e, tid);
	if (!s->frames && t->n - t->others >= t->max_stacks) {
		/* full: a new stack joins its process's [other stacks] of this
		 * metric, so totals stay exact; at most one per process, metric
		 * and generation */
		free(frames);
		frames = strdup(STACKS_OTHER);
		tid = 0;
		t->overflowed++;
		if (!frames)
			return NULL;
		s = find(t, frames, e, tid);
		t->others += !s->frames;
	}
	if (s->frames) {
		free(frames);
	} else {
		*s = (struct stack_entry){ frames, e->metric, e->generation, (pid_t)e->pid, tid, 0, 0, 0 };
		t->n++;
	}
	s->weight += e->weight;
	s->count++;
	s->pause_ns += e->pause_ns;
	return s;
}

const char *folded_metric_name(enum folded_metric m)
{
	static const char *const names[FOLD__COUNT] = { "gc-count", "gc-pause-ns", "growth-bytes", "arena-bytes",
							 "alloc-bytes" };

	return m < FOLD__COUNT ? names[m] : "?";
}

int folded_metric_parse(const char *name)
{
	int m;

	for (m = 0; m < FOLD__COUNT; m++)
		if (!strcmp(name, folded_metric_name(m)))
			return m;
	return -1;
}

bool stack_in_metric(const struct stack_entry *e, enum folded_metric m, bool growth_from_pools)
{
	switch (m) {
	case FOLD_GC_COUNT:
	case FOLD_GC_PAUSE:
		return e->metric == STACK_GC;
	case FOLD_GROWTH:
		return e->metric == (growth_from_pools ? STACK_POOL : STACK_ARENA);
	case FOLD_ARENA:
		return e->metric == STACK_ARENA;
	case FOLD_ALLOC:
		return e->metric == STACK_SAMPLE;
	default:
		return false;
	}
}

uint64_t stack_weight(const struct stack_entry *e, enum folded_metric m)
{
	return m == FOLD_GC_COUNT ? e->count : m == FOLD_GC_PAUSE ? e->pause_ns : e->weight;
}

struct folded_line {
	char *stack;
	uint64_t weight;
};

static int by_stack(const void *a, const void *b)
{
	return strcmp(((const struct folded_line *)a)->stack, ((const struct folded_line *)b)->stack);
}

/* Entries differ by thread; the folded lines do not: equal stacks are summed. */
long stacks_write_folded(const struct stack_table *t, enum folded_metric m, FILE *f)
{
	struct folded_line *lines = calloc(t->n ? t->n : 1, sizeof(*lines));
	size_t i, n = 0, j;
	long written = 0;

	if (!lines)
		return -1;
	for (i = 0; i < t->cap; i++) {
		const struct stack_entry *e = &t->slots[i];
		char *stack;
		size_t len;

		if (!e->frames || !stack_in_metric(e, m, t->growth_from_pools))
			continue;
		len = strlen(e->frames) + 16;
		stack = malloc(len);
		if (!stack)
			continue;
		if (m == FOLD_GC_COUNT || m == FOLD_GC_PAUSE)
			snprintf(stack, len, "gen%u;%s", e->generation, e->frames);
		else
			snprintf(stack, len, "%s", e->frames);
		lines[n++] = (struct folded_line){ stack, stack_weight(e, m) };
	}
	qsort(lines, n, sizeof(*lines), by_stack);
	for (i = 0; i < n; i = j) {
		uint64_t w = 0;

		for (j = i; j < n && !strcmp(lines[j].stack, lines[i].stack); j++)
			w += lines[j].weight;
		if (w) {
			utf8_fputs(f, lines[i].stack);
			fprintf(f, " %llu\n", (unsigned long long)w);
			written++;
		}
	}
	for (i = 0; i < n; i++)
		free(lines[i].stack);
	free(lines);
	return written;
}

static int write_one(const struct stack_table *t, const char *path, enum folded_metric m, char *err, size_t errlen)
{
	FILE *f = fopen(path, "we");

	if (!f) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	if (stacks_write_folded(t, m, f) < 0 || ferror(f)) {
		fclose(f);
		snprintf(err, errlen, "cannot write %s: out of memory or disk", path);
		return -1;
	}
	if (fclose(f)) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int stacks_write_files(const struct stack_table *t, const char *path, int metric, char *err, size_t errlen)
{
	char name[4096];
	int m;

	if (metric >= 0)
		return write_one(t, path, metric, err, errlen);
	for (m = 0; m < FOLD__COUNT; m++) {
		snprintf(name, sizeof(name), "%s.%s.folded", path, folded_metric_name(m));
		if (write_one(t, name, m, err, errlen))
			return -1;
	}
	return 0;
}

static int heavier(const void *a, const void *b, void *metric)
{
	uint64_t x = stack_weight(*(const struct stack_entry *const *)a, *(enum folded_metric *)metric);
	uint64_t y = stack_weight(*(const struct stack_entry *const *)b, *(enum folded_metric *)metric);

	return x < y ? 1 : x > y ? -1 : 0;
}

int stacks_top(const struct stack_table *t, pid_t pid, enum folded_metric m, const struct stack_entry **out, int n)
{
	const struct stack_entry **all = calloc(t->n ? t->n : 1, sizeof(*all));
	size_t i, k = 0;
	int got;

	if (!all)
		return 0;
	for (i = 0; i < t->cap; i++)
		if (t->slots[i].frames && t->slots[i].pid == pid && stack_in_metric(&t->slots[i], m, t->growth_from_pools))
			all[k++] = &t->slots[i];
	qsort_r(all, k, sizeof(*all), heavier, &m);
	got = (int)(k < (size_t)n ? k : (size_t)n);
	memcpy(out, all, (size_t)got * sizeof(*out));
	free(all);
	return got;
}
