// SPDX-License-Identifier: MIT
/* Unit tests of the _Py_DebugOffsets reader: crafted buffers for every way
 * the input can be wrong. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "pyoffsets.h"

#define BUF_SIZE 1024

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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
