// SPDX-License-Identifier: MIT
/* Unit tests of the polled GC reader: the chain and the 3.15 rings read
 * from crafted memory, every way that memory can be wrong (unmapped,
 * NULL, an index or a duration out of range, changing under the reader),
 * and the differences taken from the first reading. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "gcpoll.h"

#define MEM_BASE 0x10000ull
#define MEM_SIZE 16384
#define RUNTIME MEM_BASE
#define INTERP (MEM_BASE + 0x1000)
#define STATS (MEM_BASE + 0x2000)
/* the chain: _PyRuntime +40 -> interp; interp +200 -> stats (3.15: a pointer) */
#define HEAD_OFF 40
#define GC_OFF 200
#define REC 64
#define COUNTS 16

struct fake_mem {
	unsigned char buf[MEM_SIZE];
	uint64_t flip_at;	/* non-zero: this 8-byte word changes on every read */
	uint64_t flips;
};

static int fake_read(void *ctx, uint64_t addr, void *out, size_t len)
{
	struct fake_mem *m = ctx;
	uint64_t v;

	if (addr < MEM_BASE || addr - MEM_BASE > MEM_SIZE || len > MEM_SIZE - (addr - MEM_BASE))
		return -EFAULT;
	if (m->flip_at) {
		v = ++m->flips;
		memcpy(m->buf + (m->flip_at - MEM_BASE), &v, sizeof(v));
	}
	memcpy(out, m->buf + (addr - MEM_BASE), len);
	return 0;
}

static void put64(struct fake_mem *m, uint64_t addr, uint64_t v)
{
	memcpy(m->buf + (addr - MEM_BASE), &v, sizeof(v));
}

static struct mem_reader reader(struct fake_mem *m)
{
	return (struct mem_reader){ .read = fake_read, .ctx = m };
}

/* 3.12-3.14: generation_stats[3] inline in the interpreter's gc state */
static void inline_plan(struct probe_plan *p)
{
	memset(p, 0, sizeof(*p));
	p->polled = true;
	p->poll_cfg.base = GC_BASE_RUNTIME;
	p->poll_cfg.nderef = 1;
	p->poll_cfg.deref_off[0] = HEAD_OFF;
	p->poll_cfg.stats_off = GC_OFF;
}

/* 3.15: a pointer to struct gc_stats, three rings of 64-byte records */
static const struct { uint32_t len; uint64_t buf; } rings[3] = { { 11, 0 }, { 3, 712 }, { 3, 912 } };

static void ring_plan(struct probe_plan *p)
{
	int g;

	inline_plan(p);
	p->poll_durations = true;
	p->poll_cfg.nderef = 2;
	p->poll_cfg.deref_off[1] = GC_OFF;
	p->poll_cfg.stats_off = 0;
	p->poll_cfg.ring = 1;
	p->poll_cfg.ring_rec = REC;
	p->poll_cfg.ring_counts = COUNTS;
	for (g = 0; g < 3; g++) {
		p->poll_cfg.ring_len[g] = rings[g].len;
		p->poll_cfg.ring_buf[g] = rings[g].buf;
		p->poll_cfg.ring_index[g] = rings[g].len * REC;
	}
}

/* generation g's newest record at slot idx holds {c, c+1, c+2, c+3, dur} */
static void put_record(struct fake_mem *m, int g, int8_t idx, uint64_t c, double dur)
{
	uint64_t rec = STATS + rings[g].buf + (uint64_t)idx * REC + COUNTS;
	int k;

	m->buf[STATS + rings[g].buf + rings[g].len * REC - MEM_BASE] = (unsigned char)idx;
	for (k = 0; k < 4; k++)
		put64(m, rec + 8 * (uint64_t)k, c + (uint64_t)k);
	memcpy(m->buf + (rec + 32 - MEM_BASE), &dur, sizeof(dur));
}

static void ring_memory(struct fake_mem *m)
{
	memset(m, 0, sizeof(*m));
	put64(m, RUNTIME + HEAD_OFF, INTERP);
	put64(m, INTERP + GC_OFF, STATS);
	put_record(m, 0, 7, 100, 0.25);
	put_record(m, 1, 2, 200, 0.5);
	put_record(m, 2, 0, 300, 1.0);
}

static void test_inline_stats(void **state)
{
	static struct fake_mem m;
	struct mem_reader r = reader(&m);
	struct gc_poll_read out;
	struct probe_plan p;
	int g;

	(void)state;
	memset(&m, 0, sizeof(m));
	inline_plan(&p);
	put64(&m, RUNTIME + HEAD_OFF, INTERP);
	for (g = 0; g < 9; g++)
		put64(&m, INTERP + GC_OFF + 8 * (uint64_t)g, 10 + (uint64_t)g);
	assert_int_equal(gc_poll_read_mem(&r, RUNTIME, &p, &out), 0);
	for (g = 0; g < 3; g++) {
		assert_int_equal(out.collections[g], 10 + 3 * g);
		assert_int_equal(out.collected[g], 11 + 3 * g);
		assert_int_equal(out.uncollectable[g], 12 + 3 * g);
		assert_int_equal(out.candidates[g], 0);
	}
}

static void test_ring_newest_records(void **state)
{
	static struct fake_mem m;
	struct mem_reader r = reader(&m);
	struct gc_poll_read out;
	struct probe_plan p;

	(void)state;
	ring_memory(&m);
	ring_plan(&p);
	assert_int_equal(gc_poll_read_mem(&r, RUNTIME, &p, &out), 0);
	assert_int_equal(out.collections[0], 100);
	assert_int_equal(out.uncollectable[1], 202);
	assert_int_equal(out.candidates[2], 303);
	assert_true(out.duration_s[1] == 0.5);
}

static void test_ring_index_out_of_range(void **state)
{
	static struct fake_mem m;
	struct mem_reader r = reader(&m);
	struct gc_poll_read out;
	struct probe_plan p;

	(void)state;
	ring_memory(&m);
	ring_plan(&p);
	/* index == length, then negative */
	m.buf[STATS + rings[0].buf + rings[0].len * REC - MEM_BASE] = (unsigned char)rings[0].len;
	assert_int_equal(gc_poll_read_mem(&r, RUNTIME, &p, &out), -ERANGE);
	m.buf[STATS + rings[0].buf + rings[0].len * REC - MEM_BASE] = 0x80;
	assert_int_equal(gc_poll_read_mem(&r, RUNTIME, &p, &out), -ERANGE);
}

static void test_ring_bad_duration(void **state)
{
	static struct fake_mem m;
	struct mem_reader r = reader(&m);
	struct gc_poll_read out;
	struct probe_plan p;

	(void)state;
	ring_memory(&m);
	ring_plan(&p);
	put_record(&m, 2, 0, 300, NAN);
	assert_int_equal(gc_poll_read_mem(&r, RUNTIME, &p, &out), -ERANGE);
	put_record(&m, 2, 0, 300, -1.0);
	assert_int_equal(gc_poll_read_mem(&r, RUNTIME, &p, &out), -ERANGE);
}

static void test_chain_null_and_unmapped(void **state)
{
	static struct fake_mem m;
	struct mem_reader r = reader(&m);
	struct gc_poll_read out;
	struct probe_plan p;

	(void)state;
	ring_memory(&m);
	ring_plan(&p);
	put64(&m, INTERP + GC_OFF, 0);	/* stats not allocated (yet, or any more) */
	assert_int_equal(gc_poll_read_mem(&r, RUNTIME, &p, &out), -ENOENT);
	put64(&m, INTERP + GC_OFF, 0xdead0000ull);
	assert_int_equal(gc_poll_read_mem(&r, RUNTIME, &p, &out), -EFAULT);
	put64(&m, INTERP + GC_OFF, MEM_BASE + MEM_SIZE - 8);	/* the ring runs off the end */
	assert_int_equal(gc_poll_read_mem(&r, RUNTIME, &p, &out), -EFAULT);
	p.poll_cfg.nderef = MMTRACE_CHAIN_MAX + 1;
	assert_int_equal(gc_poll_read_mem(&r, RUNTIME, &p, &out), -EINVAL);
	p.polled = false;
	assert_int_equal(gc_poll_read_mem(&r, RUNTIME, &p, &out), -EINVAL);
}

static void test_changing_under_the_reader(void **state)
{
	static struct fake_mem m;
	struct mem_reader r = reader(&m);
	struct gc_poll_read out;
	struct probe_plan p;

	(void)state;
	memset(&m, 0, sizeof(m));
	inline_plan(&p);
	put64(&m, RUNTIME + HEAD_OFF, INTERP);
	m.flip_at = INTERP + GC_OFF;	/* collections[0] never reads the same */
	assert_int_equal(gc_poll_read_mem(&r, RUNTIME, &p, &out), -EAGAIN);
}

static void test_delta(void **state)
{
	struct gc_poll_read base = { 0 }, now;
	struct gc_proc_stats out;
	struct probe_plan p;
	int g;

	(void)state;
	ring_plan(&p);
	for (g = 0; g < 3; g++) {
		base.collections[g] = 5, base.collected[g] = 6, base.uncollectable[g] = 7, base.candidates[g] = 8;
		base.duration_s[g] = 0.5;
	}
	now = base;
	now.collections[1] += 4;
	now.duration_s[1] += 0.001;
	memset(&out, 0, sizeof(out));
	assert_true(gc_poll_delta(&p, &now, &base, &out));
	assert_int_equal(out.collections[1], 4);
	assert_int_equal(out.collections[0], 0);
	assert_int_equal(out.pause_ns_total[1], 1000000);
	p.poll_durations = false;
	assert_true(gc_poll_delta(&p, &now, &base, &out));
	assert_int_equal(out.pause_ns_total[1], 0);
	/* backwards: another interpreter, or a torn value; out stays */
	now.collected[2] = 1;
	out.collections[1] = 42;
	assert_false(gc_poll_delta(&p, &now, &base, &out));
	assert_int_equal(out.collections[1], 42);
}

/* The reading BPF takes at exit: kept only when it is one an interpreter
 * could hold (read whole, no negative counter, a plain duration). */
static void test_exit_event(void **state)
{
	struct mm_poll_final_event e;
	struct gc_poll_read out;
	struct probe_plan p;
	double dur = 0.25, nan = 0.0 / 0.0;
	int g;

	(void)state;
	memset(&e, 0, sizeof(e));
	for (g = 0; g < 3; g++) {
		e.counts[g] = (struct gc_gen_counts){ 10 + g, 20 + g, g };
		e.candidates[g] = 30 + g;
		memcpy(&e.duration_bits[g], &dur, sizeof(dur));
	}
	ring_plan(&p);
	assert_true(gc_poll_from_event(&p, &e, &out));
	assert_int_equal(out.collections[2], 12);
	assert_int_equal(out.collected[1], 21);
	assert_int_equal(out.uncollectable[2], 2);
	assert_int_equal(out.candidates[0], 30);
	assert_true(out.duration_s[1] == 0.25);
	/* before 3.15 there is no ring: candidates and durations are not read */
	inline_plan(&p);
	assert_true(gc_poll_from_event(&p, &e, &out));
	assert_int_equal(out.candidates[0], 0);
	assert_true(out.duration_s[0] == 0);
	/* refused: a failed read, a negative counter, a duration not a number */
	e.err = -14;
	assert_false(gc_poll_from_event(&p, &e, &out));
	e.err = 0;
	e.counts[1].collected = -1;
	assert_false(gc_poll_from_event(&p, &e, &out));
	e.counts[1].collected = 21;
	ring_plan(&p);
	memcpy(&e.duration_bits[2], &nan, sizeof(nan));
	assert_false(gc_poll_from_event(&p, &e, &out));
	p.polled = false;
	assert_false(gc_poll_from_event(&p, &e, &out));
}

/* The main interpreter is read at its static address after finalization
 * only where it is inside _PyRuntime's own storage, on 3.12+, with the
 * stats inside it (one hop) */
static void test_static_main(void **state)
{
	struct python_binary *pb = calloc(1, sizeof(*pb));
	struct probe_plan p;

	(void)state;
	assert_non_null(pb);
	pb->major = 3;
	pb->minor = 12;
	pb->runtime_size = 0x70000;
	inline_plan(&p);
	assert_true(gc_poll_may_be_static(pb, &p));
	assert_int_equal(gc_poll_static_main(pb, &p, RUNTIME, RUNTIME + 0x1000), RUNTIME + 0x1000);
	/* outside _PyRuntime: heap memory, or the symbol's last byte passed */
	assert_int_equal(gc_poll_static_main(pb, &p, RUNTIME, RUNTIME + 0x70000), 0);
	assert_int_equal(gc_poll_static_main(pb, &p, RUNTIME, RUNTIME - 8), 0);
	assert_int_equal(gc_poll_static_main(pb, &p, RUNTIME, 0), 0);
	assert_int_equal(gc_poll_static_main(pb, &p, RUNTIME, RUNTIME), 0);
	/* 3.9-3.11 allocate it, and free it at finalization */
	pb->minor = 11;
	assert_false(gc_poll_may_be_static(pb, &p));
	assert_int_equal(gc_poll_static_main(pb, &p, RUNTIME, RUNTIME + 0x1000), 0);
	/* 3.15: the ring is behind a second pointer */
	pb->minor = 15;
	ring_plan(&p);
	assert_false(gc_poll_may_be_static(pb, &p));
	/* not polled: nothing to read at the exit */
	pb->minor = 13;
	inline_plan(&p);
	p.polled = false;
	assert_int_equal(gc_poll_static_main(pb, &p, RUNTIME, RUNTIME + 0x1000), 0);
	free(pb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inline_stats),
		cmocka_unit_test(test_ring_newest_records),
		cmocka_unit_test(test_ring_index_out_of_range),
		cmocka_unit_test(test_ring_bad_duration),
		cmocka_unit_test(test_chain_null_and_unmapped),
		cmocka_unit_test(test_changing_under_the_reader),
		cmocka_unit_test(test_delta),
		cmocka_unit_test(test_exit_event),
		cmocka_unit_test(test_static_main),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
