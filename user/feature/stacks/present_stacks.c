// SPDX-License-Identifier: MIT
/* The heaviest Python stacks of one process, per metric. */
#include <string.h>
#include "json.h"
#include "present.h"
#include "present_stacks.h"
#include "stacks.h"

#define TEXT_TOP 5
#define JSON_TOP 20

static uint64_t metric_total(const struct stack_table *t, pid_t pid, enum folded_metric m)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < t->cap; i++)
		if (t->slots[i].frames && t->slots[i].pid == pid && stack_in_metric(&t->slots[i], m, t->growth_from_pools))
			sum += stack_weight(&t->slots[i], m);
	return sum;
}

/* Innermost frame first, one per line, as a traceback reads upside down. */
static void text_frames(FILE *f, const char *frames)
{
	const char *end = frames + strlen(frames), *p;

	while (end > frames) {
		for (p = end; p > frames && p[-1] != ';'; p--)
			;
		fprintf(f, "        %.*s\n", (int)(end - p), p);
		end = p > frames ? p - 1 : frames;
	}
}

static void present_stacks_text(FILE *f, const struct report_row *row)
{
	const struct stack_entry *top[TEXT_TOP];
	uint64_t total;
	int m, n, i;

	if (row->stacks->overflowed)
		fprintf(f, "STACKS: %llu events beyond %zu distinct stacks counted as %s\n",
			row->stacks->overflowed, row->stacks->max_stacks, STACKS_OTHER);
	for (m = 0; m < FOLD__COUNT; m++) {
		if (m == FOLD_ARENA && !row->stacks->growth_from_pools)
			continue;	/* growth-bytes are the arenas then */
		total = metric_total(row->stacks, row->pid, m);
		n = stacks_top(row->stacks, row->pid, m, top, TEXT_TOP);
		if (!n)
			continue;
		fprintf(f, "STACKS %s: %llu in all\n", folded_metric_name(m), (unsigned long long)total);
		for (i = 0; i < n; i++) {
			fprintf(f, "  %12llu %5.1f%%  tid %d", (unsigned long long)stack_weight(top[i], m),
				pct(stack_weight(top[i], m), total), top[i]->tid);
			if (top[i]->metric == STACK_GC)
				fprintf(f, "  gen%u", top[i]->generation);
			fputc('\n', f);
			text_frames(f, top[i]->frames);
		}
	}
}

static void json_frames(FILE *f, const char *frames)
{
	const char *p = frames, *semi;
	char frame[2048];
	int first = 1;

	fputc('[', f);
	while (*p) {
		semi = strchr(p, ';');
		snprintf(frame, sizeof(frame), "%.*s", (int)(semi ? semi - p : (long)strlen(p)), p);
		fputs(first ? "" : ",", f);
		json_string(f, frame);
		first = 0;
		p = semi ? semi + 1 : p + strlen(p);
	}
	fputc(']', f);
}

static void present_stacks_json(FILE *f, const struct report_row *row)
{
	const struct stack_entry *top[JSON_TOP];
	int m, n, i, first = 1, ef;

	fputc('{', f);
	json_u64(f, "events", row->stacks->events, &first);
	json_u64(f, "truncated", row->stacks->truncated, &first);
	json_u64(f, "broken", row->stacks->broken, &first);
	json_u64(f, "no_thread", row->stacks->no_thread, &first);
	json_u64(f, "dropped", row->stacks->dropped, &first);
	json_u64(f, "overflowed", row->stacks->overflowed, &first);
	json_u64(f, "symbol_cache_evicted", row->symbolizer ? row->symbolizer->evicted : 0, &first);
	json_u64(f, "symbol_cache_hits", row->symbolizer ? row->symbolizer->hits : 0, &first);
	json_u64(f, "symbol_cache_misses", row->symbolizer ? row->symbolizer->misses : 0, &first);
	for (m = 0; m < FOLD__COUNT; m++) {
		/* growth-bytes are the arenas' when the build hides pool refills */
		n = m == FOLD_ARENA && !row->stacks->growth_from_pools ? 0 :
		    stacks_top(row->stacks, row->pid, m, top, JSON_TOP);
		json_key(f, folded_metric_name(m), &first);
		fputc('[', f);
		for (i = 0; i < n; i++) {
			ef = 1;
			fputs(i ? ",{" : "{", f);
			json_key(f, "tid", &ef), fprintf(f, "%d", top[i]->tid);
			json_u64(f, "weight", stack_weight(top[i], m), &ef);
			json_u64(f, "count", top[i]->count, &ef);
			if (top[i]->metric == STACK_GC)
				json_u64(f, "generation", top[i]->generation, &ef);
			json_key(f, "frames", &ef), json_frames(f, top[i]->frames);
			fputc('}', f);
		}
		fputc(']', f);
	}
	fputc('}', f);
}

static void stacks_json_field(FILE *f, const struct report_row *row, int *first)
{
	json_key(f, "stacks", first);
	present_stacks_json(f, row);
}

const struct row_part present_stacks_part = { present_stacks_text, NULL, stacks_json_field };
