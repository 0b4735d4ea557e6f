// SPDX-License-Identifier: MIT
/* Unit tests of what mmtrace prints: numbers that must be exact, bounds that
 * must say when they are open, and text from target memory in JSON. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "collect.h"
#include "export.h"
#include "heap.h"
#include "json.h"
#include "present.h"
#include "present_heap.h"
#include "stack_layout.h"
#include "stacks.h"
#include "symbolize.h"

/* Everything f wrote, as one string the caller frees. */
struct capture {
	FILE *f;
	char *text;
	size_t len;
};

static FILE *capture_open(struct capture *c)
{
	memset(c, 0, sizeof(*c));
	c->f = open_memstream(&c->text, &c->len);
	assert_non_null(c->f);
	return c->f;
}

static char *capture_close(struct capture *c)
{
	fclose(c->f);
	return c->text;
}

static struct python_binary test_bin = { .version = "3.12.1" };
static struct probe_plan test_plan;

static void test_row(struct report_row *row, pid_t pid)
{
	int m;

	memset(row, 0, sizeof(*row));
	memset(&test_plan, 0, sizeof(test_plan));	/* not polled, no ring */
	for (m = 0; m < M__COUNT; m++)
		test_plan.metrics[m].cov = COV_UNAVAILABLE;
	test_plan.metrics[M_COLLECTIONS].cov = COV_EXACT;
	test_plan.method = "test";
	row->pid = pid;
	row->comm = "python3";
	row->bin = &test_bin;
	row->plan = &test_plan;
	row->traced_ns = 10000000000ull;
	row->interval_ns = 1000000000ull;
}

/* "1.073741823" -> 1073741823 ns, exactly, by integer arithmetic only */
static int seconds_to_ns(const char *s, size_t len, unsigned long long *ns)
{
	char buf[40], *dot, *end;
	unsigned long long whole, frac = 0;
	size_t digits = 0;

	if (len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	dot = strchr(buf, '.');
	if (dot)
		*dot = '\0';
	errno = 0;
	whole = strtoull(buf, &end, 10);
	if (errno || end == buf || *end)
		return -EINVAL;
	if (dot) {
		digits = strlen(dot + 1);
		if (!digits || digits > 9)
			return -EINVAL;
		frac = strtoull(dot + 1, &end, 10);
		if (errno || *end)
			return -EINVAL;
		for (; digits < 9; digits++)
			frac *= 10;
	}
	*ns = whole * 1000000000ull + frac;
	return 0;
}

/* Every le bound is (2^k - 1) ns written exactly; %.9g rounded them from k = 30. */
static void metrics_le_bounds_are_exact(void **state)
{
	struct report_row row;
	struct report r = { .rows = &row, .n = 1 };
	struct capture c;
	const char *p, *q;
	unsigned long long ns, total = 0;
	int k = 10, i;
	char *text;

	(void)state;
	test_row(&row, 42);
	for (i = 0; i < MMTRACE_HIST_SLOTS; i++) {
		row.gc.pause_hist[0][i] = (unsigned long long)i + 1;
		total += (unsigned long long)i + 1;
	}
	present_metrics(capture_open(&c), &r, METRICS_PROMETHEUS);
	text = capture_close(&c);
	for (p = text; (p = strstr(p, "generation=\"0\",le=\"")); p = q) {
		p += strlen("generation=\"0\",le=\"");
		q = strchr(p, '"');
		assert_non_null(q);
		if (!strncmp(p, "+Inf", 4)) {
			/* the last slot holds everything longer: +Inf counts every pause */
			assert_int_equal(strtoull(q + 2, NULL, 10), total);
			break;
		}
		assert_int_equal(seconds_to_ns(p, (size_t)(q - p), &ns), 0);
		assert_int_equal(ns, (1ull << k) - 1);
		k++;
	}
	assert_int_equal(k, 37);	/* 2^10 .. 2^36 ns, then +Inf */
	assert_non_null(strstr(text, "le=\"1.073741823\""));
	assert_non_null(strstr(text, "le=\"0.000001023\""));
	free(text);
}

static void exact_seconds(void **state)
{
	char buf[32];

	(void)state;
	metrics_exact_seconds(buf, sizeof(buf), 68719476735ull);
	assert_string_equal(buf, "68.719476735");
	metrics_exact_seconds(buf, sizeof(buf), 2000000000ull);
	assert_string_equal(buf, "2");
	metrics_exact_seconds(buf, sizeof(buf), 1500);
	assert_string_equal(buf, "0.0000015");
}

/* The last log2 slot collects everything above its lower bound. */
static void last_slot_is_open(void **state)
{
	__u64 slots[MMTRACE_HIST_SLOTS] = { 0 };
	struct capture c;
	char *text;

	(void)state;
	slots[MMTRACE_HIST_SLOTS - 2] = 1;
	slots[MMTRACE_HIST_SLOTS - 1] = 3;
	log2_hist(capture_open(&c), slots, MMTRACE_HIST_SLOTS);
	text = capture_close(&c);
	assert_non_null(strstr(text, "549755813888 -> inf"));
	assert_non_null(strstr(text, "274877906944 -> 549755813887"));
	assert_null(strstr(text, "1099511627775"));
	free(text);
}

/* A quantile in the last slot is a lower bound, not "<" its closed end. */
static void host_quantile_in_last_slot(void **state)
{
	struct host_summary h = { .live = 1, .processes_seen = 1 };
	struct report_row row;
	struct report r = { .rows = &row, .n = 1, .host = &h };
	struct capture c;
	char *text;

	(void)state;
	test_row(&row, 7);
	row.delta.collections[2] = 1;
	row.delta.pause_hist[2][MMTRACE_HIST_SLOTS - 1] = 1;
	row.gc = row.delta;
	row.gc.pause_ns_max[2] = 600000000000ull;	/* an earlier interval's */
	present_host_table(capture_open(&c), &r, SORT_TIME, 0, false);
	text = capture_close(&c);
	assert_non_null(strstr(text, ">=550s"));
	assert_non_null(strstr(text, "<=600s"));	/* this interval's: at most the maximum */
	assert_null(strstr(text, "<1.1e+03s"));
	free(text);
}

/* An approximate snapshot read allocated-in-total before a new arena came
 * and current after: reclaimed is unknown, never 2^64 - 1. */
static void heap_reclaimed_never_wraps(void **state)
{
	struct heap_layout l = { .pymalloc = true, .pool_size = 16384, .arena_size = 1 << 20 };
	struct heap_snapshot s = { .pymalloc_ok = true, .arenas_total = 4, .arenas_current = 5, .gc_ok = false };
	struct heap_view v = { .pid = 1, .comm = "python3", .bin = &test_bin, .layout = &l, .snap = &s };
	struct timespec wall = { 0, 0 };
	struct capture c;
	char *text;

	(void)state;
	snprintf(s.why, sizeof(s.why), "test");
	present_heap_section(capture_open(&c), &v);
	text = capture_close(&c);
	assert_null(strstr(text, "18446744073709551615"));
	assert_non_null(strstr(text, "? (counters changed while read) reclaimed"));
	free(text);
	present_heap_json(capture_open(&c), &v, 1, &wall);
	text = capture_close(&c);
	assert_null(strstr(text, "18446744073709551615"));
	assert_non_null(strstr(text, "\"arenas_reclaimed\":null"));
	free(text);
	s.arenas_total = 9;	/* the usual case: a plain difference */
	present_heap_json(capture_open(&c), &v, 1, &wall);
	text = capture_close(&c);
	assert_non_null(strstr(text, "\"arenas_reclaimed\":4"));
	free(text);
}

/* Bytes from target memory: every invalid UTF-8 byte is \ufffd, valid
 * multi-byte text passes through, controls and quotes are escaped. */
static void json_strings_are_valid_utf8(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "py\xff\xfe", "\"py\\ufffd\\ufffd\"" },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x8d", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x8d\"" },
		{ "\xc3", "\"\\ufffd\"" },				/* truncated at the end */
		{ "\xc3(", "\"\\ufffd(\"" },			/* bad continuation */
		{ "\xc0\xaf", "\"\\ufffd\\ufffd\"" },		/* overlong '/' */
		{ "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"" },	/* a surrogate */
		{ "\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" },	/* above U+10FFFF */
		{ "a\"b\\\n\x7f", "\"a\\\"b\\\\\\u000a\\u007f\"" },
	};
	struct capture c;
	char *text;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_string(capture_open(&c), cases[i].in);
		text = capture_close(&c);
		assert_string_equal(text, cases[i].out);
		free(text);
	}
}

/* The Prometheus exposition is UTF-8 too: a comm label with odd bytes. */
static void metrics_labels_are_valid_utf8(void **state)
{
	struct report_row row;
	struct report r = { .rows = &row, .n = 1 };
	struct capture c;
	char *text;

	(void)state;
	test_row(&row, 42);
	row.comm = "py\xff\xfe";
	present_metrics(capture_open(&c), &r, METRICS_PROMETHEUS);
	text = capture_close(&c);
	assert_non_null(strstr(text, "comm=\"py\xef\xbf\xbd\xef\xbf\xbd\""));
	assert_null(strstr(text, "\xff"));
	free(text);
}

static int read_nothing(void *ctx, uint64_t addr, void *buf, size_t len)
{
	(void)ctx, (void)addr, (void)buf, (void)len;
	return -EFAULT;
}

/* More distinct stacks than the cap: the rest go to [other stacks], counted,
 * and the folded totals stay exact. */
static void stacks_are_bounded(void **state)
{
	static struct mm_stack_event e;
	struct symbolizer sym;
	struct stack_table t;
	struct capture c;
	uint64_t code, total = 0;
	char *text, *p, *save;
	int i;

	(void)state;
	symbolizer_open_reader(&sym, code_layout_for(3, 12), 0, (struct mem_reader){ read_nothing, NULL, NULL });
	stacks_init(&t);
	t.max_stacks = 8;
	e = (struct mm_stack_event){ .pid = 5, .tid = 5, .metric = STACK_GC, .depth = 1, .weight = 1, .pause_ns = 10 };
	for (code = 1; code <= 20; code++) {
		e.frames[0].code = code << 8;	/* each its own "[unreadable code]" stack */
		stacks_add(&t, &sym, &e);
		stacks_add(&t, &sym, &e);
	}
	assert_int_equal(t.n - t.others, 8);
	assert_int_equal(t.others, 1);
	assert_int_equal(t.overflowed, 24);
	assert_int_equal(t.events, 40);
	stacks_write_folded(&t, FOLD_GC_COUNT, capture_open(&c));
	text = capture_close(&c);
	assert_non_null(strstr(text, "gen0;[other stacks] 24\n"));
	for (p = strtok_r(text, "\n", &save), i = 0; p; p = strtok_r(NULL, "\n", &save), i++)
		total += strtoull(strrchr(p, ' ') + 1, NULL, 10);	/* "stack weight" */
	assert_int_equal(i, 9);
	assert_int_equal(total, 40);
	free(text);
	stacks_free(&t);
	symbolizer_close(&sym);
}

/* The code cache evicts past its cap, counts it, and every entry left is
 * found again at its place (the probe chains stay whole). */
static void symbol_cache_is_bounded(void **state)
{
	struct symbolizer sym;
	uint64_t code, seen;
	size_t i, n;

	(void)state;
	symbolizer_open_reader(&sym, code_layout_for(3, 12), 0, (struct mem_reader){ read_nothing, NULL, NULL });
	sym.max_entries = 16;
	for (code = 1; code <= 5000; code++)
		/* unique addresses, many sharing a home slot and wrapping around */
		assert_non_null(symbolize_code(&sym, ((code % 3) * 1023 + code * 4096) << 4));
	assert_true(sym.n <= 16);
	assert_int_equal(sym.evicted, 5000 - sym.n);
	for (i = 0, n = 0; i < sym.cap; i++) {
		if (!sym.slots[i].code)
			continue;
		n++;
		seen = sym.evicted;
		assert_ptr_equal(symbolize_code(&sym, sym.slots[i].code), &sym.slots[i]);
		assert_int_equal(sym.evicted, seen);	/* a hit on what is there: nothing goes */
	}
	assert_int_equal(n, sym.n);
	symbolizer_close(&sym);
}

#define IMG_BASE 0x10000ull
#define IMG_NAME (IMG_BASE + 0x400)
#define IMG_FILE (IMG_BASE + 0x600)
#define IMG_LINES (IMG_BASE + 0x800)

static int read_img(void *ctx, uint64_t addr, void *buf, size_t len)
{
	const uint8_t *img = ctx;

	if (addr < IMG_BASE || addr - IMG_BASE + len > 0x1000)
		return -EFAULT;
	memcpy(buf, img + (addr - IMG_BASE), len);
	return 0;
}

/* a compact ASCII str object at addr (3.12's layout: text at +40) */
static void put_str(uint8_t *img, uint64_t addr, const char *text)
{
	uint64_t len = strlen(text);
	uint32_t state = (1u << 5) | (1u << 6);

	memcpy(img + (addr - IMG_BASE) + 16, &len, sizeof(len));
	memcpy(img + (addr - IMG_BASE) + 32, &state, sizeof(state));
	memcpy(img + (addr - IMG_BASE) + 40, text, len);
}

static void frame_of(const char *name, const char *file, char *out, size_t len)
{
	static uint8_t img[0x1000];
	const struct code_layout *l = code_layout_for(3, 12);
	uint64_t name_obj = IMG_NAME, file_obj = IMG_FILE, lines_obj = IMG_LINES;
	struct symbolizer sym;

	memset(img, 0, sizeof(img));
	memcpy(img + l->name, &name_obj, 8);
	memcpy(img + l->filename, &file_obj, 8);
	memcpy(img + l->linetable, &lines_obj, 8);	/* an empty bytes object: no line */
	put_str(img, IMG_NAME, name);
	put_str(img, IMG_FILE, file);
	symbolizer_open_reader(&sym, l, 0, (struct mem_reader){ read_img, NULL, img });
	frame_text(&sym, IMG_BASE, 0, out, len);
	symbolizer_close(&sym);
}

/* A str flagged ASCII that holds a byte above 0x7f was freed and reused
 * while it was read: the frame is unreadable, never garbage (a folded
 * file once held a lone 0x96 that way). Control bytes become '?'. */
static void frames_from_torn_strings_are_unreadable(void **state)
{
	char out[256];

	(void)state;
	frame_of("work", "w.py", out, sizeof(out));
	assert_string_equal(out, "work (w.py)");
	frame_of("wo\x96rk", "w.py", out, sizeof(out));
	assert_string_equal(out, "[unreadable code 0x10000]");
	frame_of("work", "w\x96.py", out, sizeof(out));
	assert_string_equal(out, "[unreadable code 0x10000]");
	frame_of("wo\x01rk", "w\n.py", out, sizeof(out));
	assert_string_equal(out, "wo?rk (w?.py)");
}

/* Lines of text that start with prefix and hold needle (NULL: any). */
static int lines_with(const char *text, const char *prefix, const char *needle)
{
	const char *p = text, *nl;
	char line[1024];
	int n = 0;

	for (; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		assert_non_null(nl);
		snprintf(line, sizeof(line), "%.*s", (int)(nl - p), p);
		n += !strncmp(line, prefix, strlen(prefix)) && (!needle || strstr(line, needle));
	}
	return n;
}

static char *metrics_of(struct report *r, enum metric_scheme scheme)
{
	struct capture c;

	present_metrics(capture_open(&c), r, scheme);
	return capture_close(&c);
}

/* A polled process before 3.15 has no pause figure: no histogram, no max,
 * rather than zeros that read as measured; its counters are there. */
static void metrics_polled_rows_have_no_fake_pauses(void **state)
{
	struct report_row row;
	struct report r = { .rows = &row, .n = 1 };
	char *text;

	(void)state;
	test_row(&row, 42);
	test_plan.polled = true;
	row.gc.collections[0] = 5;
	text = metrics_of(&r, METRICS_PROMETHEUS);
	assert_int_equal(lines_with(text, "python_gc_collections_total{", NULL), MMTRACE_GENERATIONS);
	assert_int_equal(lines_with(text, "python_gc_duration_seconds", NULL), 0);
	assert_int_equal(lines_with(text, "mmtrace_gc_pause_max_seconds", NULL), 0);
	assert_int_equal(lines_with(text, "# TYPE python_gc_duration_seconds", NULL), 0);
	assert_int_equal(lines_with(text, "python_gc_objects_candidates_total", NULL), 0);
	free(text);
}

/* Polled 3.15: each generation's duration total and collections, not one
 * pause: +Inf, _sum and _count only; and its candidates. */
static void metrics_polled_315_histogram_is_its_totals(void **state)
{
	struct report_row row;
	struct report r = { .rows = &row, .n = 1 };
	char want[64];
	char *text;
	int g;

	(void)state;
	test_row(&row, 42);
	test_plan.polled = true;
	test_plan.poll_durations = true;
	test_plan.poll_cfg.ring = 1;
	for (g = 0; g < MMTRACE_GENERATIONS; g++) {
		row.gc.collections[g] = 7u + (unsigned)g;
		row.gc.candidates[g] = 1000u * (unsigned)g + 3;
		row.gc.pause_ns_total[g] = 1500000000ull * (unsigned)g + 1;
	}
	text = metrics_of(&r, METRICS_PROMETHEUS);
	assert_int_equal(lines_with(text, "python_gc_duration_seconds_bucket{", NULL), MMTRACE_GENERATIONS);
	assert_int_equal(lines_with(text, "mmtrace_gc_pause_max_seconds", NULL), 0);
	for (g = 0; g < MMTRACE_GENERATIONS; g++) {
		snprintf(want, sizeof(want), "generation=\"%d\",le=\"+Inf\"} %llu", g,
			 (unsigned long long)row.gc.collections[g]);
		assert_int_equal(lines_with(text, "python_gc_duration_seconds_bucket{", want), 1);
		snprintf(want, sizeof(want), "generation=\"%d\"} %llu", g, (unsigned long long)row.gc.collections[g]);
		assert_int_equal(lines_with(text, "python_gc_duration_seconds_count{", want), 1);
		snprintf(want, sizeof(want), "generation=\"%d\"} %.9f", g, (double)row.gc.pause_ns_total[g] / 1e9);
		assert_int_equal(lines_with(text, "python_gc_duration_seconds_sum{", want), 1);
		snprintf(want, sizeof(want), "generation=\"%d\"} %llu", g, (unsigned long long)row.gc.candidates[g]);
		assert_int_equal(lines_with(text, "python_gc_objects_candidates_total{", want), 1);
	}
	free(text);
}

/* The two schemes name the same figures; what has no convention keeps
 * mmtrace_ in both; the old mmtrace_gc_* duplicates are gone. */
static void metrics_schemes_name_the_same_figures(void **state)
{
	struct report_row row;
	struct report r = { .rows = &row, .n = 1 };
	char *prom, *otel;

	(void)state;
	test_row(&row, 42);
	row.gc.collections[2] = 11;
	row.gc.pause_hist[2][20] = 11;
	prom = metrics_of(&r, METRICS_PROMETHEUS);
	otel = metrics_of(&r, METRICS_OTEL);
	assert_int_equal(lines_with(prom, "python_gc_collections_total{", "generation=\"2\"} 11"), 1);
	assert_int_equal(lines_with(otel, "cpython_gc_collections_total{", "cpython_gc_generation=\"2\"} 11"), 1);
	assert_int_equal(lines_with(otel, "cpython_gc_duration_seconds_count{", "cpython_gc_generation=\"2\"} 11"), 1);
	assert_int_equal(lines_with(otel, "python_gc_", NULL), 0);
	assert_int_equal(lines_with(otel, "cpython_gc_", ",generation="), 0);
	assert_int_equal(lines_with(prom, "mmtrace_gc_collections_total", NULL), 0);
	assert_int_equal(lines_with(prom, "mmtrace_gc_pause_seconds", NULL), 0);
	/* 3.12: the interpreter counts no candidates */
	assert_int_equal(lines_with(prom, "python_gc_objects_candidates_total", NULL), 0);
	assert_int_equal(lines_with(prom, "mmtrace_gc_subinterpreter_collections_total{", NULL), MMTRACE_GENERATIONS);
	assert_int_equal(lines_with(otel, "mmtrace_gc_subinterpreter_collections_total{", NULL), MMTRACE_GENERATIONS);
	free(prom);
	free(otel);
}

static void metric_scheme_names(void **state)
{
	static const char *const bad[] = { "", "Prometheus", "OTEL", "otel ", " otel", "prom", "otelx", "prometheus\n" };
	enum metric_scheme s = METRICS_OTEL;
	size_t i;

	(void)state;
	assert_int_equal(metric_scheme_parse("prometheus", &s), 0);
	assert_int_equal(s, METRICS_PROMETHEUS);
	assert_int_equal(metric_scheme_parse("otel", &s), 0);
	assert_int_equal(s, METRICS_OTEL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(metric_scheme_parse(bad[i], &s), -EINVAL);
		assert_int_equal(s, METRICS_OTEL);	/* untouched */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(metrics_le_bounds_are_exact),
		cmocka_unit_test(exact_seconds),
		cmocka_unit_test(last_slot_is_open),
		cmocka_unit_test(host_quantile_in_last_slot),
		cmocka_unit_test(heap_reclaimed_never_wraps),
		cmocka_unit_test(json_strings_are_valid_utf8),
		cmocka_unit_test(metrics_labels_are_valid_utf8),
		cmocka_unit_test(metrics_polled_rows_have_no_fake_pauses),
		cmocka_unit_test(metrics_polled_315_histogram_is_its_totals),
		cmocka_unit_test(metrics_schemes_name_the_same_figures),
		cmocka_unit_test(metric_scheme_names),
		cmocka_unit_test(stacks_are_bounded),
		cmocka_unit_test(symbol_cache_is_bounded),
		cmocka_unit_test(frames_from_torn_strings_are_unreadable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
