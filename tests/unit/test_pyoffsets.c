// SPDX-License-Identifier: MIT
/* Unit tests of the _Py_DebugOffsets reader: crafted buffers for every way
 * the input can be wrong, then the real interpreters on this machine, each
 * offset compared with the DWARF of its debug file (never with numbers
 * written here). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "dwarf_layout.h"
#include "plan.h"
#include "pyoffsets.h"
#include "pyoffsets_dwarf.h"
#include "resolve.h"
#include "stack_layout.h"

#define BUF_SIZE 1024

/* A cell of the matrix that is not on this machine: a skip, but a failure
 * under CI, where make test has made every cell (tools/install-deps.sh). */
static void missing_cell(void)
{
	const char *ci = getenv("CI");

	if (ci && !strcmp(ci, "true"))
		fail_msg("a matrix cell is missing under CI=true (see the SKIP line above)");
	skip();
}

static void put64(unsigned char *buf, size_t pos, uint64_t v)
{
	memcpy(buf + pos, &v, sizeof(v));
}

static bool is_size(enum pyoff_field f)
{
	const char *n = pyoff_field_name(f);
	size_t l = strlen(n);

	return l > 5 && !strcmp(n + l - 5, ".size");
}

/* A plausible _Py_DebugOffsets for 3.minor: every group 64 KiB but the GC
 * state (1 KiB, so that it fits in the interpreter), every other field at
 * a distinct aligned offset. */
static size_t craft(unsigned char *buf, int minor)
{
	const struct pyoff_schema *s = pyoffsets_schema(3, minor);
	int f;

	memset(buf, 0, BUF_SIZE);
	memcpy(buf, PYOFF_COOKIE, 8);
	put64(buf, 8, 0x030000f0ull | (uint64_t)minor << 16 | 2 << 8);
	for (f = 0; s && f < PYOFF__COUNT; f++) {
		if (!s->pos[f])
			continue;
		if (f == PYOFF_GC_SIZE)
			put64(buf, s->pos[f], 1024);
		else
			put64(buf, s->pos[f], is_size(f) ? 65536 : 8 * (f + 1));
	}
	return s ? s->size : BUF_SIZE;
}

static void test_crafted_each_minor(void **state)
{
	unsigned char buf[BUF_SIZE];
	struct py_offsets o;
	char why[256];
	int minor, f;

	(void)state;
	for (minor = 13; minor <= 15; minor++) {
		const struct pyoff_schema *s = pyoffsets_schema(3, minor);
		size_t len = craft(buf, minor);

		assert_non_null(s);
		assert_int_equal(s->minor, minor);
		assert_int_equal(pyoffsets_parse(buf, len, 3, minor, &o, why, sizeof(why)), 0);
		assert_int_equal(o.micro, 2);
		assert_false(o.free_threaded);
		assert_int_equal(o.unread | o.rejected, 0);
		for (f = 0; f < PYOFF__COUNT; f++) {
			/* present exactly where the minor's schema has the field */
			assert_int_equal(o.f[f].source, s->pos[f] ? OFF_DEBUG_OFFSETS : OFF_NONE);
			if (s->pos[f] && !is_size(f) && f != PYOFF_GC_SIZE)
				assert_int_equal(o.f[f].value, 8 * (f + 1));
		}
	}
	/* the fields each minor added */
	assert_int_equal(pyoff_schema_313.pos[PYOFF_INTERP_THREADS_MAIN], 0);
	assert_int_not_equal(pyoff_schema_314.pos[PYOFF_INTERP_THREADS_MAIN], 0);
	assert_int_equal(pyoff_schema_314.pos[PYOFF_THREAD_BASE_FRAME], 0);
	assert_int_not_equal(pyoff_schema_315.pos[PYOFF_GC_GENERATION_STATS], 0);
}

static void test_header_errors(void **state)
{
	unsigned char buf[BUF_SIZE];
	struct py_offsets o;
	char why[256];
	size_t len;

	(void)state;
	len = craft(buf, 14);
	buf[0] = 'X';
	assert_int_equal(pyoffsets_parse(buf, len, 3, 14, &o, why, sizeof(why)), -ENOMSG);
	assert_non_null(strstr(why, "xdebugpy"));

	/* the file says 3.14, the caller believes 3.13 */
	len = craft(buf, 14);
	assert_int_equal(pyoffsets_parse(buf, len, 3, 13, &o, why, sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, "not 3.13"));
	/* a version with bits above PY_VERSION_HEX's 32 */
	put64(buf, 8, 0x1030e02f0ull);
	assert_int_equal(pyoffsets_parse(buf, len, 3, 14, &o, why, sizeof(why)), -EPROTO);

	/* shorter than the header, or nothing at all */
	len = craft(buf, 14);
	assert_int_equal(pyoffsets_parse(buf, 23, 3, 14, &o, why, sizeof(why)), -EINVAL);
	assert_int_equal(pyoffsets_parse(NULL, 0, 3, 14, &o, NULL, 0), -EINVAL);
}

static void test_truncated(void **state)
{
	unsigned char buf[BUF_SIZE];
	struct py_offsets o;
	uint64_t v;
	char why[256];

	(void)state;
	craft(buf, 15);
	/* cut inside the gc group: gc.collecting is there, gc.frame is not */
	assert_int_equal(pyoffsets_parse(buf, pyoff_schema_315.pos[PYOFF_GC_FRAME] + 7, 3, 15, &o, why,
					 sizeof(why)), -ERANGE);
	assert_int_equal(o.unread, 1u << PYG_GC);
	assert_int_equal(o.rejected, 0);
	/* a group is read whole or not at all */
	assert_false(pyoff_get(&o, PYOFF_GC_COLLECTING, &v));
	assert_true(pyoff_get(&o, PYOFF_INTERP_GC, &v));
	assert_non_null(strstr(why, "past the buffer's end: gc;"));

	/* only the header: every group unread */
	assert_int_equal(pyoffsets_parse(buf, PYOFF_HEADER_SIZE, 3, 15, &o, why, sizeof(why)), -ERANGE);
	assert_int_equal(o.unread, (1u << PYG__COUNT) - 1);
	assert_false(pyoff_get(&o, PYOFF_RUNTIME_INTERPRETERS_HEAD, &v));
}

static void test_free_threaded(void **state)
{
	unsigned char buf[BUF_SIZE];
	struct py_offsets o;
	char why[256];
	size_t len;

	(void)state;
	len = craft(buf, 14);
	put64(buf, 16, 1);
	/* its offsets are its own: read, and the build flagged */
	assert_int_equal(pyoffsets_parse(buf, len, 3, 14, &o, why, sizeof(why)), 0);
	assert_true(o.free_threaded);
	assert_non_null(strstr(why, "free-threaded"));
	assert_int_equal(o.f[PYOFF_INTERP_GC].source, OFF_DEBUG_OFFSETS);
	/* neither 0 nor 1: not a _Py_DebugOffsets we understand */
	put64(buf, 16, 2);
	assert_int_equal(pyoffsets_parse(buf, len, 3, 14, &o, why, sizeof(why)), -EPROTO);
}

static void test_unknown_minor(void **state)
{
	unsigned char buf[BUF_SIZE];
	struct py_offsets o;
	char why[256];
	uint64_t v;
	int f;

	(void)state;
	/* 3.16: the header is stable and read, no position is guessed */
	craft(buf, 16);
	assert_null(pyoffsets_schema(3, 16));
	assert_int_equal(pyoffsets_parse(buf, BUF_SIZE, 3, 16, &o, why, sizeof(why)), -EOPNOTSUPP);
	assert_int_equal(o.minor, 16);
	assert_int_equal(o.micro, 2);
	assert_int_equal(o.unread, (1u << PYG__COUNT) - 1);
	for (f = 0; f < PYOFF__COUNT; f++)
		assert_false(pyoff_get(&o, f, &v));
	assert_non_null(strstr(why, "3.16"));
	assert_non_null(strstr(why, "runtime_state interpreter_state"));
	assert_non_null(strstr(why, " gc"));
	/* nor before 3.13, which has no such struct */
	craft(buf, 12);
	assert_int_equal(pyoffsets_parse(buf, BUF_SIZE, 3, 12, &o, why, sizeof(why)), -EOPNOTSUPP);
	assert_null(pyoffsets_schema(2, 13));
}

static void test_values_rejected(void **state)
{
	const struct pyoff_schema *s = &pyoff_schema_313;
	unsigned char buf[BUF_SIZE];
	struct py_offsets o;
	char why[256];
	uint64_t v;
	size_t len;

	(void)state;
	/* the GC state would end past the interpreter's end */
	len = craft(buf, 13);
	put64(buf, s->pos[PYOFF_INTERP_GC], 65536 - 512);
	assert_int_equal(pyoffsets_parse(buf, len, 3, 13, &o, why, sizeof(why)), -ERANGE);
	assert_false(pyoff_get(&o, PYOFF_INTERP_GC, &v));
	assert_int_equal(o.rejected, 1u << PYG_INTERP | 1u << PYG_GC);
	assert_true(pyoff_get(&o, PYOFF_GC_COLLECTING, &v));

	/* an offset past its struct's size, a pointer not aligned, a zero */
	len = craft(buf, 13);
	put64(buf, s->pos[PYOFF_CODE_NAME], 65536);
	put64(buf, s->pos[PYOFF_THREAD_NEXT], 13);
	put64(buf, s->pos[PYOFF_OBJECT_OB_TYPE], 0);
	put64(buf, s->pos[PYOFF_FRAME_EXECUTABLE], 0);	/* a first member: fine */
	assert_int_equal(pyoffsets_parse(buf, len, 3, 13, &o, why, sizeof(why)), -ERANGE);
	assert_int_equal(o.rejected, 1u << PYG_CODE | 1u << PYG_THREAD | 1u << PYG_OBJECT);
	assert_false(pyoff_get(&o, PYOFF_CODE_NAME, &v));
	assert_true(pyoff_get(&o, PYOFF_CODE_FILENAME, &v));
	assert_false(pyoff_get(&o, PYOFF_THREAD_NEXT, &v));
	assert_false(pyoff_get(&o, PYOFF_OBJECT_OB_TYPE, &v));
	assert_true(pyoff_get(&o, PYOFF_FRAME_EXECUTABLE, &v));
	assert_int_equal(v, 0);
	assert_non_null(strstr(why, "values rejected: thread_state code_object pyobject"));

	/* a group whose size is garbage: nothing of it kept */
	len = craft(buf, 13);
	put64(buf, s->pos[PYOFF_UNICODE_SIZE], 1ull << 40);
	assert_int_equal(pyoffsets_parse(buf, len, 3, 13, &o, why, sizeof(why)), -ERANGE);
	assert_int_equal(o.rejected, 1u << PYG_UNICODE);
	assert_false(pyoff_get(&o, PYOFF_UNICODE_SIZE, &v));
	assert_false(pyoff_get(&o, PYOFF_UNICODE_LENGTH, &v));
}

static void test_names(void **state)
{
	char small[12];
	int f;

	(void)state;
	for (f = 0; f < PYOFF__COUNT; f++)
		assert_non_null(strchr(pyoff_field_name(f), '.'));
	assert_string_equal(pyoff_field_name(PYOFF_INTERP_GC), "interpreter_state.gc");
	assert_int_equal(pyoff_field_group(PYOFF_GC_FRAME), PYG_GC);
	assert_string_equal(pyoff_source_name(OFF_DEBUG_OFFSETS), "_Py_DebugOffsets");
	pyoff_groups_str((1u << PYG__COUNT) - 1, small, sizeof(small));
	assert_string_equal(small, "runtime_sta");
}

/* Per field: [0] its value, [1] its position in _Py_DebugOffsets (the
 * group and field names are the struct's own members); then the struct's
 * size. */
struct answers {
	struct dwarf_query q[PYOFF__COUNT][2];
	struct dwarf_query total;
	char names[PYOFF__COUNT][64];
};

static void ask(struct answers *a)
{
	int f;

	memset(a, 0, sizeof(*a));
	for (f = 0; f < PYOFF__COUNT; f++) {
		char *dot;

		pyoff_dwarf_query(f, &a->q[f][0]);	/* the product's own table of names */
		snprintf(a->names[f], sizeof(a->names[f]), "%s", pyoff_field_name(f));
		dot = strchr(a->names[f], '.');
		assert_non_null(dot);
		*dot = '\0';
		a->q[f][1].type = "_Py_DebugOffsets";
		a->q[f][1].members[0] = a->names[f];
		a->q[f][1].members[1] = dot + 1;
	}
	a->total.type = "_Py_DebugOffsets";
}

/* One field: position and value as DWARF says, or absent from both. */
static int check_field(const struct pyoff_schema *s, const struct py_offsets *o, const struct answers *a, int f)
{
	const struct dwarf_query *val = &a->q[f][0], *pos = &a->q[f][1];
	bool agree;

	if (!s->pos[f]) {
		print_message("  %-44s  -    (not in 3.%d's _Py_DebugOffsets)\n", pyoff_field_name(f), s->minor);
		assert_false(pos->found);
		assert_int_equal(o->f[f].source, OFF_NONE);
		return 0;
	}
	assert_true(pos->found);
	assert_int_equal(pos->value, s->pos[f]);
	assert_int_equal(o->f[f].source, OFF_DEBUG_OFFSETS);
	agree = val->found && val->value == o->f[f].value;
	print_message("  %-44s %4u %8llu  DWARF %8llu%s  %s\n", pyoff_field_name(f), s->pos[f],
		      (unsigned long long)o->f[f].value, (unsigned long long)val->value,
		      val->found ? "" : " (not found)", agree ? "agrees" : "DIFFERS");
	return agree ? 0 : 1;
}

static void check_build(const char *label, const char *exe, const char *debug_dir)
{
	struct resolve_opts ro = { .debug_dirs = { debug_dir }, .ndebug_dirs = 1 };
	struct python_binary pb;
	struct answers a;
	const struct pyoff_schema *s;
	const char *dwarf_file;
	struct dwarf_query all[2 * PYOFF__COUNT + 1];
	int f, differ = 0;

	if (access(exe, R_OK)) {
		print_message("SKIP %s: %s is not on this machine\n", label, exe);
		missing_cell();
	}
	assert_int_equal(resolve_python(exe, &ro, &pb), 0);
	s = pyoffsets_schema(pb.major, pb.minor);
	assert_non_null(s);
	/* the file's own _PyRuntime, read and parsed by resolve */
	if (!pb.has_debug_offsets)
		print_message("%s: %s\n", label, pb.pyoff_why);
	assert_true(pb.has_debug_offsets);
	assert_false(pb.pyoff.free_threaded);
	dwarf_file = pb.stripped ? pb.debug_path : pb.open_path;
	if (pb.stripped && pb.sym_source != SYM_BUILD_ID && pb.sym_source != SYM_DEBUGLINK) {
		print_message("SKIP %s: no debug file for %s under %s, nothing to compare with\n", label, exe,
			      debug_dir);
		missing_cell();
	}
	ask(&a);
	for (f = 0; f < PYOFF__COUNT; f++) {
		all[2 * f] = a.q[f][0];
		all[2 * f + 1] = a.q[f][1];
	}
	all[2 * PYOFF__COUNT] = a.total;
	assert_int_equal(dwarf_query_file(dwarf_file, all, 2 * PYOFF__COUNT + 1), 0);
	for (f = 0; f < PYOFF__COUNT; f++) {
		a.q[f][0] = all[2 * f];
		a.q[f][1] = all[2 * f + 1];
	}
	print_message("%s: %s (Python %s, %s), DWARF from %s\n", label, exe, pb.version,
		      pb.stripped ? "stripped" : "with symbols", dwarf_file);
	print_message("  sizeof(_Py_DebugOffsets): schema %zu, DWARF %llu\n", s->size,
		      (unsigned long long)all[2 * PYOFF__COUNT].value);
	assert_true(all[2 * PYOFF__COUNT].found);
	assert_int_equal(all[2 * PYOFF__COUNT].value, s->size);
	print_message("  %-44s %4s %8s\n", "field", "pos", "value");
	for (f = 0; f < PYOFF__COUNT; f++)
		differ += check_field(s, &pb.pyoff, &a, f);
	assert_int_equal(differ, 0);
}

#define SID "/var/lib/mmtrace/sid"

static void test_real_sid_313(void **state)
{
	(void)state;
	check_build("sid python3.13", SID "/usr/bin/python3.13", SID "/usr/lib/debug");
}

static void test_real_sid_314(void **state)
{
	(void)state;
	check_build("sid python3.14", SID "/usr/bin/python3.14", SID "/usr/lib/debug");
}

static void test_real_sid_315(void **state)
{
	(void)state;
	check_build("sid python3.15", SID "/usr/bin/python3.15", SID "/usr/lib/debug");
}

#define Q(t, ...) { .type = t, .members = { __VA_ARGS__ } }

/* The query itself, on this test's own DWARF, where offsetof is the truth. */
static void test_dwarf_query_self(void **state)
{
	struct dwarf_query q[] = {
		Q("py_offsets", NULL), Q("py_offsets", "f"), Q("pyoff_schema", "pos"),
		Q("py_offsets", "no_such_member"), Q("no_such_struct", NULL),
	};

	(void)state;
	assert_int_equal(dwarf_query_file("/nonexistent/file", q, 1), -ENOENT);
	assert_int_equal(dwarf_query_file("/proc/self/exe", q, sizeof(q) / sizeof(q[0])), 0);
	assert_true(q[0].found && q[1].found && q[2].found);
	assert_int_equal(q[0].value, sizeof(struct py_offsets));
	assert_int_equal(q[1].value, offsetof(struct py_offsets, f));
	assert_int_equal(q[2].value, offsetof(struct pyoff_schema, pos));
	assert_false(q[3].found);
	assert_false(q[4].found);
}

/* 3.15's statistics ring, as its DWARF lays it out, for the ring's reader:
 * printed, and its lengths derived from the offsets (never assumed). */
static void test_real_sid_315_ring(void **state)
{
	struct resolve_opts ro = { .debug_dirs = { SID "/usr/lib/debug" }, .ndebug_dirs = 1 };
	struct dwarf_query q[] = {
		Q("gc_stats", NULL), Q("gc_stats", "young"), Q("gc_stats", "young", "index"),
		Q("gc_stats", "old"), Q("gc_stats", "update_seq"),
		Q("gc_young_stats_buffer", NULL), Q("gc_old_stats_buffer", NULL),
		Q("gc_old_stats_buffer", "index"),
		Q("gc_generation_stats", NULL), Q("gc_generation_stats", "ts_start"),
		Q("gc_generation_stats", "ts_stop"), Q("gc_generation_stats", "collections"),
		Q("gc_generation_stats", "collected"), Q("gc_generation_stats", "uncollectable"),
		Q("gc_generation_stats", "candidates"), Q("gc_generation_stats", "duration"),
		Q("gc_generation_stats", "heap_size"),
		Q("_gc_runtime_state", "enabled"), Q("_gc_runtime_state", "generations"),
		Q("_gc_runtime_state", "permanent_generation"), Q("_gc_runtime_state", "heap_size"),
	};
	struct python_binary pb;
	uint64_t rec, young, old;
	size_t i;

	(void)state;
	if (access(SID "/usr/bin/python3.15", R_OK) ||
	    resolve_python(SID "/usr/bin/python3.15", &ro, &pb) || !pb.debug_path[0]) {
		print_message("SKIP %s: no python3.15 with its debug file under " SID "\n", __func__);
		missing_cell();
	}
	assert_int_equal(dwarf_query_file(pb.debug_path, q, sizeof(q) / sizeof(q[0])), 0);
	for (i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		print_message("  %-22s %-12s%s%-8s %5llu\n", q[i].type, q[i].members[0] ? q[i].members[0] : "(size)",
			      q[i].members[1] ? "." : " ", q[i].members[1] ? q[i].members[1] : "",
			      (unsigned long long)q[i].value);
		assert_true(q[i].found);
	}
	rec = q[8].value;
	young = q[2].value / rec;			/* items[] end where index begins */
	old = (q[4].value - q[3].value) / q[6].value;	/* old[] ends at update_seq */
	print_message("  ring: young %llu records, old[%llu] of %llu records each, %llu-byte records\n",
		      (unsigned long long)young, (unsigned long long)old,
		      (unsigned long long)(q[7].value / rec), (unsigned long long)rec);
	assert_int_equal(q[0].value, pb.pyoff.f[PYOFF_GC_GENERATION_STATS_SIZE].value);
}

/* The GC plan of a sid build: every offset its sites carry, checked against
 * the build's DWARF (the _Py_DebugOffsets values are checked above). */
static void sid_plan(const char *exe, struct python_binary *pb, struct probe_plan *plan)
{
	struct resolve_opts ro = { .debug_dirs = { SID "/usr/lib/debug" }, .ndebug_dirs = 1 };
	struct plan_opts po = { 0 };

	if (access(exe, R_OK) || resolve_python(exe, &ro, pb) || !pb->debug_path[0]) {
		print_message("SKIP %s: no such build with its debug file under " SID "\n", exe);
		missing_cell();
	}
	assert_true(pb->has_gc_usdt);
	assert_int_equal(plan_gc(pb, &po, plan), 0);
	assert_string_equal(plan->method, "usdt");
	assert_int_equal(plan->nsites, 2);
}

static void test_real_sid_314_plan(void **state)
{
	struct dwarf_query q[] = {
		Q("_PyRuntimeState", "interpreters", "main"), Q("_is", "gc"),
		Q("_gc_runtime_state", "generation_stats"),
	};
	struct python_binary *pb = malloc(sizeof(*pb));
	struct probe_plan *plan = malloc(sizeof(*plan));
	const struct gc_site *c;

	(void)state;
	assert_non_null(pb);
	assert_non_null(plan);
	sid_plan(SID "/usr/bin/python3.14", pb, plan);
	assert_int_equal(dwarf_query_file(pb->debug_path, q, 3), 0);
	assert_true(q[0].found && q[1].found && q[2].found);
	c = &plan->sites[0].cfg;
	assert_string_equal(pb->gc_stats_source, "DWARF");
	assert_int_equal(c->ring, 0);
	assert_int_equal(c->nderef, 1);
	assert_int_equal(c->deref_off[0], q[0].value);
	assert_int_equal(c->stats_off, q[1].value + q[2].value);
	/* without USDT: gc_collect_main's clone from the debug file, each
	 * collection read from its thread state's interpreter, the main one's
	 * found from _PyRuntime to tell subinterpreters apart */
	{
		struct dwarf_query t[] = { Q("_ts", "interp") };

		assert_int_equal(dwarf_query_file(pb->debug_path, t, 1), 0);
		assert_true(t[0].found);
		assert_int_equal(plan_gc(pb, &(struct plan_opts){ .no_usdt = true }, plan), 0);
		assert_string_equal(plan->method, "uprobe");
		assert_true(plan->nsites >= 2);
		assert_int_equal(plan->sites[0].cfg.base, GC_BASE_ARG0);
		assert_int_equal(plan->sites[0].cfg.nderef, 1);
		assert_int_equal(plan->sites[0].cfg.deref_off[0], t[0].value);
		assert_int_equal(plan->sites[0].cfg.stats_off, q[1].value + q[2].value);
		assert_int_equal(plan->sites[0].cfg.split_main, 1);
		assert_int_equal(plan->sites[0].cfg.main_interp_off, q[0].value);
		assert_int_equal(plan->sites[0].cfg.main_stats_off, q[1].value + q[2].value);
		assert_int_equal(plan->metrics[M_COLLECTIONS].cov, COV_EXACT);
		assert_int_equal(plan_gc(pb, &(struct plan_opts){ 0 }, plan), 0);
	}
	/* 3.14.0-3.14.4 (incremental, from the sources): the same USDT pair
	 * and stats, counts from the stats' differences as ever; the pauses
	 * are partial (mark-only increments) and the plan says so */
	pb->micro = 4;
	assert_int_equal(plan_gc(pb, &(struct plan_opts){ 0 }, plan), 0);
	assert_string_equal(plan->method, "usdt");
	assert_int_equal(plan->sites[0].cfg.stats_off, c->stats_off);
	assert_int_equal(plan->metrics[M_PAUSE].cov, COV_PARTIAL);
	assert_non_null(strstr(plan->metrics[M_PAUSE].reason, "mark-only increments"));
	assert_non_null(strstr(plan->metrics[M_COLLECTIONS].reason, "not verified on a build"));
	/* without USDT (and no gc_collect_main there): polled, exact counts */
	pb->ncollectors = 0;
	assert_int_equal(plan_gc(pb, &(struct plan_opts){ .no_usdt = true, .allow_poll = true }, plan), 0);
	assert_string_equal(plan->method, "polled");
	assert_int_equal(plan->metrics[M_PAUSE].cov, COV_UNAVAILABLE);
	assert_non_null(strstr(plan->metrics[M_COLLECTIONS].reason, "increments"));
	free(pb);
	free(plan);
}

/* --probes' cross-check: the sid build's offsets all agree with its DWARF;
 * one moved by 24 bytes (as 3.14.5 moved interp fields) is the one named. */
static void test_crosscheck_flags_a_difference(void **state)
{
	struct resolve_opts ro = { .debug_dirs = { SID "/usr/lib/debug" }, .ndebug_dirs = 1 };
	struct python_binary *pb = malloc(sizeof(*pb));
	struct pyoff_check c;
	char line[384];

	(void)state;
	assert_non_null(pb);
	if (access(SID "/usr/bin/python3.14", R_OK) || resolve_python(SID "/usr/bin/python3.14", &ro, pb) ||
	    !pb->debug_path[0]) {
		print_message("SKIP: no sid python3.14 with its debug file under " SID "\n");
		missing_cell();
	}
	assert_int_equal(pyoff_crosscheck(&pb->pyoff, pb->debug_path, &c), 0);
	assert_int_equal(c.differ, 0);
	assert_true(c.agree >= 30);
	pyoff_describe(pb, line, sizeof(line));
	assert_non_null(strstr(line, "all "));
	pb->pyoff.f[PYOFF_INTERP_GC].value += 24;
	assert_int_equal(pyoff_crosscheck(&pb->pyoff, pb->debug_path, &c), 0);
	assert_int_equal(c.differ, 1);
	assert_int_equal(c.first_differ, PYOFF_INTERP_GC);
	assert_int_equal(c.dwarf_value + 24, pb->pyoff.f[PYOFF_INTERP_GC].value);
	pyoff_describe(pb, line, sizeof(line));
	assert_non_null(strstr(line, "1 DIFFER, e.g. interpreter_state.gc"));
	assert_int_equal(pyoff_crosscheck(&pb->pyoff, "/nonexistent", &c) < 0, 1);
	free(pb);
}

static void test_real_sid_315_plan(void **state)
{
	struct dwarf_query q[] = {
		Q("_PyRuntimeState", "interpreters", "main"), Q("_is", "gc"),
		Q("_gc_runtime_state", "generation_stats"),
		Q("gc_stats", "young"), Q("gc_stats", "young", "index"), Q("gc_stats", "old"),
		Q("gc_old_stats_buffer", NULL), Q("gc_old_stats_buffer", "index"),
		Q("gc_generation_stats", NULL), Q("gc_generation_stats", "collections"),
		Q("gc_generation_stats", "collected"), Q("gc_generation_stats", "uncollectable"),
		Q("gc_generation_stats", "candidates"),
	};
	struct python_binary *pb = malloc(sizeof(*pb));
	struct probe_plan *plan = malloc(sizeof(*plan));
	const struct gc_site *c;
	uint64_t rec;
	size_t i;

	(void)state;
	assert_non_null(pb);
	assert_non_null(plan);
	sid_plan(SID "/usr/bin/python3.15", pb, plan);
	assert_int_equal(dwarf_query_file(pb->debug_path, q, sizeof(q) / sizeof(q[0])), 0);
	for (i = 0; i < sizeof(q) / sizeof(q[0]); i++)
		assert_true(q[i].found);
	c = &plan->sites[0].cfg;
	rec = q[8].value;
	assert_int_equal(c->ring, 1);
	assert_int_equal(c->nderef, 2);
	assert_int_equal(c->deref_off[0], q[0].value);
	assert_int_equal(c->deref_off[1], q[1].value + q[2].value);
	assert_int_equal(c->stats_off, 0);
	assert_int_equal(c->ring_rec, rec);
	/* the reader takes collections, collected, uncollectable, candidates in a row */
	assert_int_equal(c->ring_counts, q[9].value);
	assert_int_equal(q[10].value, q[9].value + 8);
	assert_int_equal(q[11].value, q[9].value + 16);
	assert_int_equal(q[12].value, q[9].value + 24);
	/* generation 0 is young, 1 and 2 are old[0] and old[1] */
	assert_int_equal(c->ring_buf[0], q[3].value);
	assert_int_equal(c->ring_index[0], q[4].value - q[3].value);
	assert_int_equal(c->ring_len[0], (q[4].value - q[3].value) / rec);
	for (i = 1; i < 3; i++) {
		assert_int_equal(c->ring_buf[i], q[5].value + (i - 1) * q[6].value);
		assert_int_equal(c->ring_index[i], q[7].value);
		assert_int_equal(c->ring_len[i], q[7].value / rec);
	}
	free(pb);
	free(plan);
}

/* The stack walk's and the symboliser's layouts of a sid build come from its
 * _Py_DebugOffsets; each one is checked against the build's DWARF, the two
 * the walk derives (the holder inside the GIL, the tag bits) included. */
static void check_stack_layouts(const char *exe, int minor)
{
	struct resolve_opts ro = { .debug_dirs = { SID "/usr/lib/debug" }, .ndebug_dirs = 1 };
	struct dwarf_query q[] = {
		Q("pyruntimestate", "interpreters", "head"), Q("_is", "ceval", "gil"),
		Q("_gil_runtime_state", "last_holder"), Q("_ts", "current_frame"),
		Q("_PyInterpreterFrame", "previous"), Q("_PyInterpreterFrame", "f_executable"),
		Q("_PyInterpreterFrame", "instr_ptr"), Q("_PyInterpreterFrame", "owner"),
		Q("PyCodeObject", "co_code_adaptive"), Q("PyCodeObject", "co_filename"),
		Q("PyCodeObject", "co_qualname"), Q("PyCodeObject", "co_linetable"),
		Q("PyCodeObject", "co_firstlineno"), Q("PyASCIIObject", NULL),
	};
	struct python_binary *pb = malloc(sizeof(*pb));
	struct py_stack_layout st;
	struct code_layout co;
	size_t i;

	assert_non_null(pb);
	if (access(exe, R_OK) || resolve_python(exe, &ro, pb) || !pb->debug_path[0]) {
		free(pb);
		print_message("SKIP %s: no such build with its debug file under " SID "\n", exe);
		missing_cell();
	}
	assert_int_equal(pb->minor, minor);
	assert_int_equal(stack_layouts_of(pb, &st, &co), OFF_DEBUG_OFFSETS);
	assert_int_equal(dwarf_query_file(pb->debug_path, q, sizeof(q) / sizeof(q[0])), 0);
	for (i = 0; i < sizeof(q) / sizeof(q[0]); i++)
		assert_true(q[i].found);
	assert_int_equal(st.kind, STACK_CURRENT_FRAME);
	assert_int_equal(st.tstate_via_gil, 1);
	assert_int_equal(st.interp_main, q[0].value);
	assert_int_equal(st.interp_gil, q[1].value);
	assert_int_equal(st.gil_last_holder, q[2].value);
	assert_int_equal(st.tstate_frame, q[3].value);
	assert_int_equal(st.frame_back, q[4].value);
	assert_int_equal(st.frame_code, q[5].value);
	assert_int_equal(st.frame_instr, q[6].value);
	assert_int_equal(st.frame_owner, q[7].value);
	assert_int_equal(st.code_adaptive, q[8].value);
	/* f_executable: a PyObject * in 3.13, a _PyStackRef from 3.14 */
	assert_int_equal(st.code_tag_bits, minor >= 14 ? 3 : 0);
	assert_int_equal(co.filename, q[9].value);
	assert_int_equal(co.name, q[10].value);
	assert_int_equal(co.linetable, q[11].value);
	assert_int_equal(co.firstlineno, q[12].value);
	assert_int_equal(co.ascii_data, q[13].value);
	assert_int_equal(co.lines, LINES_LOCATIONS);
	/* without them, 3.13 falls back to the tables and 3.14+ has none */
	pb->has_debug_offsets = false;
	assert_int_equal(stack_layouts_of(pb, &st, &co), minor == 13 ? OFF_TABLE : OFF_NONE);
	free(pb);
}

static void test_real_sid_313_stacks(void **state)
{
	(void)state;
	check_stack_layouts(SID "/usr/bin/python3.13", 13);
}

static void test_real_sid_314_stacks(void **state)
{
	(void)state;
	check_stack_layouts(SID "/usr/bin/python3.14", 14);
}

static void test_real_sid_315_stacks(void **state)
{
	(void)state;
	check_stack_layouts(SID "/usr/bin/python3.15", 15);
}

/* 3.13's table (pyenv 3.13.0, from gdb) and the file's own offsets agree,
 * but for the interpreter: the table names interpreters.main, the debug
 * offsets only interpreters.head (the same one without subinterpreters). */
static void test_real_pyenv_313_stacks_match_table(void **state)
{
	const char *exe = "/root/.pyenv/versions/3.13.0/lib/libpython3.13.so.1.0";
	struct resolve_opts ro = { .debug_dirs = { "/nonexistent" }, .ndebug_dirs = 1 };
	struct python_binary *pb = malloc(sizeof(*pb));
	struct py_stack_layout st, tab;
	struct code_layout co;
	const struct code_layout *ct = code_layout_for(3, 13);

	(void)state;
	assert_non_null(pb);
	if (access(exe, R_OK)) {
		free(pb);
		print_message("SKIP: %s is not on this machine\n", exe);
		missing_cell();
	}
	assert_int_equal(resolve_python(exe, &ro, pb), 0);
	assert_int_equal(stack_layouts_of(pb, &st, &co), OFF_DEBUG_OFFSETS);
	tab = *stack_layout_for(3, 13);
	tab.interp_main = st.interp_main;
	assert_memory_equal(&st, &tab, sizeof(st));	/* u32, u32, then u64s: no padding */
	/* field by field: the struct has padding */
	assert_int_equal(co.filename, ct->filename);
	assert_int_equal(co.name, ct->name);
	assert_int_equal(co.firstlineno, ct->firstlineno);
	assert_int_equal(co.linetable, ct->linetable);
	assert_int_equal(co.lines, ct->lines);
	assert_int_equal(co.ascii_data, ct->ascii_data);
	free(pb);
}

static void test_real_pyenv_313(void **state)
{
	(void)state;
	check_build("pyenv 3.13.0 libpython", "/root/.pyenv/versions/3.13.0/lib/libpython3.13.so.1.0",
		    "/nonexistent");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crafted_each_minor),
		cmocka_unit_test(test_header_errors),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_free_threaded),
		cmocka_unit_test(test_unknown_minor),
		cmocka_unit_test(test_values_rejected),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_dwarf_query_self),
		cmocka_unit_test(test_real_sid_313),
		cmocka_unit_test(test_real_sid_314),
		cmocka_unit_test(test_real_sid_315),
		cmocka_unit_test(test_real_sid_315_ring),
		cmocka_unit_test(test_real_sid_314_plan),
		cmocka_unit_test(test_crosscheck_flags_a_difference),
		cmocka_unit_test(test_real_sid_315_plan),
		cmocka_unit_test(test_real_pyenv_313),
		cmocka_unit_test(test_real_sid_313_stacks),
		cmocka_unit_test(test_real_sid_314_stacks),
		cmocka_unit_test(test_real_sid_315_stacks),
		cmocka_unit_test(test_real_pyenv_313_stacks_match_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
