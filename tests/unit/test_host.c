// SPDX-License-Identifier: MIT
/* Unit tests of the system-wide mode's bookkeeping: the file registry, the
 * process table and interval arithmetic on counters. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "collect.h"
#include "discover.h"
#include "discover_host.h"
#include "export.h"
#include "heap.h"
#include "heap_run.h"
#include "session_impl.h"
#include "linetable.h"
#include "procmem.h"
#include "proctable.h"
#include "registry.h"

static struct file_id fid(uint32_t dev, uint64_t ino)
{
	return (struct file_id){ dev, ino };
}

static void registry_remembers_across_growth(void **state)
{
	struct registry r;
	enum file_kind kind;
	int bin;
	uint64_t i;

	(void)state;
	assert_int_equal(registry_init(&r), 0);
	for (i = 1; i <= 20000; i++)
		registry_remember(&r, fid(7, i), FILE_NOT_PYTHON, -1);
	for (i = 1; i <= 20000; i++) {
		assert_true(registry_lookup(&r, fid(7, i), &kind, &bin));
		assert_int_equal(kind, FILE_NOT_PYTHON);
	}
	/* same inode on another device is another file */
	assert_false(registry_lookup(&r, fid(8, 1), &kind, &bin));
	registry_free(&r);
}

static void registry_interpreters_are_deduplicated(void **state)
{
	struct python_binary pb = { .version = "3.12.1" };
	struct registry r;
	enum file_kind kind;
	int a, b, bin;

	(void)state;
	assert_int_equal(registry_init(&r), 0);
	a = registry_add_interp(&r, fid(1, 42), &pb);
	b = registry_add_interp(&r, fid(1, 42), &pb);
	assert_true(a >= 0);
	assert_int_equal(a, b);
	assert_int_equal(r.nbins, 1);
	registry_remember(&r, fid(1, 43), FILE_LINKS_PYTHON, a);
	assert_true(registry_lookup(&r, fid(1, 43), &kind, &bin));
	assert_int_equal(kind, FILE_LINKS_PYTHON);
	assert_int_equal(bin, a);
	assert_string_equal(r.bins[a]->bin.version, "3.12.1");
	registry_free(&r);
}

/* Past REGISTRY_MAX_FILES the table forgets non-interpreters, never interpreters. */
static void registry_stays_bounded(void **state)
{
	struct python_binary pb = { .version = "3.11.2" };
	struct registry r;
	enum file_kind kind;
	int id, bin;
	uint64_t i;

	(void)state;
	assert_int_equal(registry_init(&r), 0);
	id = registry_add_interp(&r, fid(3, 1), &pb);
	registry_remember(&r, fid(3, 2), FILE_LINKS_PYTHON, id);
	for (i = 10; i < 10 + 4 * REGISTRY_MAX_FILES; i++)
		registry_remember(&r, fid(3, i), FILE_EXE_NOT_PYTHON, -1);
	assert_true(r.cap <= 2 * REGISTRY_MAX_FILES);
	assert_true(r.used <= r.cap / 2 + 1);
	assert_true(registry_lookup(&r, fid(3, 1), &kind, &bin) && kind == FILE_PYTHON && bin == id);
	assert_true(registry_lookup(&r, fid(3, 2), &kind, &bin) && kind == FILE_LINKS_PYTHON);
	/* the newest verdict survives */
	assert_true(registry_lookup(&r, fid(3, 9 + 4 * REGISTRY_MAX_FILES), &kind, &bin));
	registry_free(&r);
}

static void proctable_one_live_row_per_pid(void **state)
{
	struct proctable t;
	struct proc_row *row;

	(void)state;
	proctable_init(&t);
	row = proctable_add(&t, 100);
	assert_non_null(row);
	assert_ptr_equal(proctable_live(&t, 100), row);
	proctable_end(&t, row, 5);
	assert_null(proctable_live(&t, 100));
	/* the pid is reused by a new process */
	row = proctable_add(&t, 100);
	assert_ptr_equal(proctable_live(&t, 100), row);
	assert_int_equal(t.n, 2);
	assert_int_equal(t.nended, 1);
	assert_int_equal(t.seen, 2);
	proctable_discard(&t, row);
	assert_int_equal(t.n, 1);
	assert_int_equal(t.seen, 1);
	proctable_free(&t);
}

/* refresh() found pid 100 gone; before it ended the row, the drain brought
 * the old process's end and a new process under the same pid. */
static void proctable_gone_spares_a_reused_pid(void **state)
{
	struct proctable t;
	struct proc_row *row;
	struct row_key gone[2];

	(void)state;
	proctable_init(&t);
	row = proctable_add(&t, 100);
	row->start_ticks = 500;
	row->found_ns = 10;
	gone[0] = proctable_key(row);
	row = proctable_add(&t, 200);
	row->start_ticks = 700;
	row->found_ns = 15;
	gone[1] = proctable_key(row);
	proctable_end(&t, &t.rows[0], 30);
	row = proctable_add(&t, 100);
	row->start_ticks = 900;
	row->found_ns = 40;
	assert_int_equal(proctable_end_gone(&t, gone, 2, 50), 1);
	/* only pid 200's row ended, and only its map entries are to go */
	assert_int_equal(gone[0].pid, 200);
	assert_ptr_equal(proctable_live(&t, 100), row);
	assert_false(row->ended);
	assert_true(t.rows[1].ended && t.rows[1].end_ns == 50);
	assert_int_equal(t.rows[0].end_ns, 30);
	assert_int_equal(t.nended, 2);
	/* a live row whose pid is reused within one clock tick: found_ns tells */
	gone[0] = (struct row_key){ 100, 900, 39 };
	assert_int_equal(proctable_end_gone(&t, gone, 1, 60), 0);
	assert_false(row->ended);
	gone[0] = proctable_key(row);
	assert_int_equal(proctable_end_gone(&t, gone, 1, 60), 1);
	assert_true(row->ended);
	proctable_free(&t);
}

/* A tracked parent (interpreter 0) forks pid 300 at 100; a scan that began
 * at 300 found pid 300 before the fork event was drained. */
static void fork_adopts_only_a_child_that_did_not_exec(void **state)
{
	struct proc_row parent = { .pid = 200, .bin_id = 0, .found_ns = 10, .exe = { 8, 77 } };
	struct proc_row child = { .pid = 300, .bin_id = 0, .found_ns = 300, .exe = { 8, 77 } };

	(void)state;
	assert_int_equal(proctable_fork_action(NULL, &parent, 100), FORK_NEW_ROW);
	assert_int_equal(proctable_fork_action(&child, &parent, 100), FORK_ADOPT);
	/* found before the fork: an older process under a reused pid */
	child.found_ns = 50;
	assert_int_equal(proctable_fork_action(&child, &parent, 100), FORK_END_STALE);
	/* found running another interpreter: it exec'd since the fork */
	child.found_ns = 300;
	child.bin_id = 1;
	assert_int_equal(proctable_fork_action(&child, &parent, 100), FORK_KEEP);
	/* the same interpreter (a libpython), another executable */
	child.bin_id = 0;
	child.exe.ino = 78;
	assert_int_equal(proctable_fork_action(&child, &parent, 100), FORK_KEEP);
	/* an executable not known on one side decides nothing */
	child.exe = (struct exe_id){ 0, 0 };
	assert_int_equal(proctable_fork_action(&child, &parent, 100), FORK_ADOPT);
}

/* The scan (begun at 300) found pid 300 after it exec'd the parent's own
 * interpreter again at 200; its fork event (at 100) was drained first. */
static void exec_after_fork_undoes_the_adoption(void **state)
{
	struct proc_row row = { .pid = 300, .parent_pid = 200, .bin_id = 0, .found_ns = 300, .start_ns = 100,
				.forked = true, .absolute = true, .inherited = { .collections = { 5, 1, 0 } } };

	(void)state;
	assert_int_equal(proctable_exec_action(NULL, 200), EXEC_NEW_ROW);
	assert_int_equal(proctable_exec_action(&row, 200), EXEC_UNFORK);
	assert_int_equal(proctable_exec_action(&row, 300), EXEC_END_OLD);
	/* an exec before the fork was an older process's */
	assert_int_equal(proctable_exec_action(&row, 50), EXEC_SEEN);
	/* a row the fork made itself: the exec ends the copied image */
	row.found_ns = 100;
	assert_int_equal(proctable_exec_action(&row, 200), EXEC_END_OLD);
	/* a row of the scan alone */
	row.found_ns = 300;
	row.forked = false;
	assert_int_equal(proctable_exec_action(&row, 200), EXEC_SEEN);
	/* undone: counted from the exec when the file was probed by then */
	row.forked = true;
	proctable_unfork(&row, 200, 150);
	assert_false(row.forked);
	assert_int_equal(row.parent_pid, 0);
	assert_true(row.from_exec && row.absolute);
	assert_int_equal(row.start_ns, 200);
	assert_int_equal(row.inherited.collections[0], 0);
	assert_int_equal(row.found_ns, 300);
	/* probed after the exec: counted from the attach */
	row.forked = true;
	proctable_unfork(&row, 200, 250);
	assert_false(row.from_exec || row.absolute);
	assert_int_equal(row.start_ns, 250);
}

/* A look at pid 300 began at 1000; what it saw decides whether its maps
 * name one image. */
static void scan_tracks_only_an_image_that_held_still(void **state)
{
	struct scan_facts f = { .begin_ns = 1000, .ticks_before = 50, .ticks_after = 50, .exe_before = { 8, 77 },
				.exe_after = { 8, 77 }, .exec_ns = 0, .bin = 0 };
	struct proc_row live = { .pid = 300, .found_ns = 1200 };

	(void)state;
	assert_int_equal(proctable_scan_action(&f, NULL), SCAN_TRACK);
	/* an exec event older than the look is the image it read */
	f.exec_ns = 999;
	assert_int_equal(proctable_scan_action(&f, NULL), SCAN_TRACK);
	/* an exec of the same file while the maps were read */
	f.exec_ns = 1000;
	assert_int_equal(proctable_scan_action(&f, NULL), SCAN_RETRY);
	f.exec_ns = 1500;
	assert_int_equal(proctable_scan_action(&f, NULL), SCAN_RETRY);
	/* whose event made its row during the look: the event's row stands */
	assert_int_equal(proctable_scan_action(&f, &live), SCAN_SKIP);
	/* an exec of another file, its event not drained yet */
	f.exec_ns = 0;
	f.exe_after.ino = 78;
	assert_int_equal(proctable_scan_action(&f, NULL), SCAN_RETRY);
	/* gone while read */
	f.exe_after = (struct exe_id){ 0, 0 };
	assert_int_equal(proctable_scan_action(&f, NULL), SCAN_RETRY);
	/* a new process under the pid */
	f.exe_after = f.exe_before;
	f.ticks_after = 51;
	assert_int_equal(proctable_scan_action(&f, NULL), SCAN_RETRY);
	/* no CPython in the maps */
	f.ticks_after = 50;
	f.bin = -ENOEXEC;
	assert_int_equal(proctable_scan_action(&f, NULL), SCAN_SKIP);
}

static void proctable_folds_old_ended_rows(void **state)
{
	struct proctable t;
	struct proc_row *row;
	int i;

	(void)state;
	proctable_init(&t);
	for (i = 1; i <= PROCTABLE_MAX_ENDED + 50; i++) {
		row = proctable_add(&t, i);
		assert_non_null(row);
		proctable_end(&t, row, (uint64_t)i);
		row->reported_end = true;
	}
	assert_int_equal(t.nended, PROCTABLE_MAX_ENDED);
	assert_int_equal(t.folded, 50);
	assert_int_equal(t.seen, PROCTABLE_MAX_ENDED + 50);
	/* the oldest went first */
	assert_int_equal(t.rows[0].pid, 51);
	proctable_free(&t);
}

/* A registry with one interpreter file (inode ino), its probes live since attach_ns. */
static int attached_interp(struct registry *reg, const struct python_binary *pb, uint64_t ino, uint64_t attach_ns)
{
	int bin;

	assert_int_equal(registry_init(reg), 0);
	bin = registry_add_interp(reg, fid(1, ino), pb);
	reg->bins[bin]->attached = true;
	reg->bins[bin]->attach_ns = attach_ns;
	return bin;
}

/* A report read the child's pid after its exec, before the exec's events
 * were drained: its fork row holds the new image's first counts. The END of
 * the forked image has none of its own, so the fork row goes, and an image
 * that ends with no counters has none, whatever a read under its pid saw. */
static void fork_then_exec_counts_only_the_new_image(void **state)
{
	struct python_binary pb = { .version = "3.11.2" };
	struct mm_end_event e = { .kind = MM_EV_END, .pid = 5000, .reason = MM_END_EXEC, .has_stats = 0,
				  .ts_ns = 2000, .start_ns = 900, .exec_id = 1 };
	struct registry reg;
	struct proctable t;
	struct proc_row *row;
	int bin;

	(void)state;
	bin = attached_interp(&reg, &pb, 43, 10);
	proctable_init(&t);
	row = proctable_add(&t, 5000);
	row->bin_id = bin;
	row->found_ns = 1000;
	row->forked = true;
	row->now.collections[0] = 3;	/* the next image's, read too early */
	assert_false(session_end_event(&t, &reg, &e));
	assert_int_equal(t.n, 0);
	assert_int_equal(t.seen, 0);
	/* an image found by a scan that exec'd with nothing counted */
	row = proctable_add(&t, 5001);
	row->bin_id = bin;
	row->found_ns = 1000;
	row->now.collections[0] = 2;
	e.pid = 5001;
	assert_false(session_end_event(&t, &reg, &e));
	assert_int_equal(t.n, 1);
	assert_true(t.rows[0].ended);
	assert_int_equal(t.rows[0].now.collections[0], 0);
	proctable_free(&t);
	registry_free(&reg);
}

/* Two threads of one exit_group used to hand over two ENDs: the second
 * must neither add a row nor change the first. */
static void repeated_end_is_one_ended_row(void **state)
{
	struct python_binary pb = { .version = "3.12.1" };
	struct mm_end_event e = { .kind = MM_EV_END, .pid = 4242, .reason = MM_END_EXIT, .has_stats = 1,
				  .ts_ns = 1000, .start_ns = 777, .exec_id = 1 };
	struct registry reg;
	struct proctable t;
	struct proc_row *row;
	int bin;

	(void)state;
	bin = attached_interp(&reg, &pb, 42, 10);
	proctable_init(&t);
	e.stats.bin_id = (__u32)bin;
	e.stats.collections[0] = 5;
	/* a live row, then the same END twice, the second a little later */
	row = proctable_add(&t, 4242);
	row->bin_id = bin;
	row->found_ns = 100;
	assert_true(session_end_event(&t, &reg, &e));
	e.ts_ns = 1010;
	e.stats.collections[0] = 6;
	assert_false(session_end_event(&t, &reg, &e));
	assert_int_equal(t.n, 1);
	assert_int_equal(t.nended, 1);
	assert_int_equal(t.seen, 1);
	assert_int_equal(t.rows[0].end_ns, 1000);
	assert_int_equal(t.rows[0].now.collections[0], 5);
	/* a process nobody saw live: adopted once, however many ENDs */
	e.pid = 4343;
	assert_false(session_end_event(&t, &reg, &e));
	assert_false(session_end_event(&t, &reg, &e));
	assert_int_equal(t.n, 2);
	assert_int_equal(t.nended, 2);
	/* the same pid with another image (it exec'd) or another start (pid
	 * reused) is another process */
	e.exec_id = 2;
	session_end_event(&t, &reg, &e);
	e.start_ns = 888;
	session_end_event(&t, &reg, &e);
	assert_int_equal(t.n, 4);
	assert_int_equal(t.nended, 4);
	proctable_free(&t);
	registry_free(&reg);
}

static void delta_marks_new_maximum(void **state)
{
	struct gc_proc_stats before = { 0 }, now = { 0 }, d;

	(void)state;
	before.collections[0] = 10;
	now.collections[0] = 15;
	before.pause_ns_max[0] = 900;
	now.pause_ns_max[0] = 900;
	before.pause_ns_max[2] = 100;
	now.pause_ns_max[2] = 5000;
	now.pause_hist[1][12] = 3;
	gc_stats_delta(&d, &now, &before);
	assert_int_equal(d.collections[0], 5);
	assert_int_equal(d.pause_ns_max[0], 0);	/* no new maximum */
	assert_true(d.pause_ns_max[2] > 0);	/* a new one */
	assert_int_equal(d.pause_hist[1][12], 3);
	/* counters never run backwards, even for a stale snapshot */
	gc_stats_delta(&d, &before, &now);
	assert_int_equal(d.collections[0], 0);
}

static void container_ids_from_cgroup_paths(void **state)
{
	const char *id = "4f1b6c0e2d3a49587a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f";
	char line[512], out[72];

	(void)state;
	snprintf(line, sizeof(line), "0::/system.slice/docker-%s.scope\n", id);
	assert_int_equal(parse_container_id(line, out, sizeof(out)), 0);
	assert_string_equal(out, id);
	snprintf(line, sizeof(line), "0::/kubepods/besteffort/pod1b2c3d4e-0000-1111-2222-333344445555/%s", id);
	assert_int_equal(parse_container_id(line, out, sizeof(out)), 0);
	assert_string_equal(out, id);
	snprintf(line, sizeof(line), "0::/system.slice/cri-containerd-%s.scope", id);
	assert_int_equal(parse_container_id(line, out, sizeof(out)), 0);
	/* no container: a host service, a 65-digit run, a short id */
	assert_int_not_equal(parse_container_id("0::/system.slice/ssh.service", out, sizeof(out)), 0);
	snprintf(line, sizeof(line), "0::/x/%sa", id);
	assert_int_not_equal(parse_container_id(line, out, sizeof(out)), 0);
	assert_int_not_equal(parse_container_id("0::/docker/4f1b6c0e2d3a", out, sizeof(out)), 0);
}

static void stat_start_times(void **state)
{
	(void)state;
	assert_int_equal(parse_stat_starttime("42 (python3) S 1 42 42 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 "
					      "123456 10000 200 18446744073709551615"), 123456);
	/* a comm with spaces and parentheses */
	assert_int_equal(parse_stat_starttime("7 (a) b (c) R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 1 1"), 99);
	assert_int_equal(parse_stat_starttime("7 (short) R 1 2"), 0);
	assert_int_equal(parse_stat_starttime("no paren"), 0);
}

static void memory_regions(void **state)
{
	char l1[] = "7f00-7f10 r--p 00001000 fe:00 42   /usr/lib/libpython3.12.so.1.0 (deleted)\n";
	char l2[] = "7f10-7f20 rw-p 00000000 00:00 0 \n";
	char l3[] = "7f30-7f40 ---p 00000000 00:00 0   [heap]";
	char bad[] = "7f40-7f30 r--p 0 0:0 0";
	struct mem_region r[3];
	struct procmem pm = { 1, r, 3 };
	uint64_t addr;

	(void)state;
	assert_int_equal(parse_mem_region(l1, &r[0]), 0);
	assert_true(r[0].readable && r[0].offset == 0x1000);
	assert_string_equal(r[0].path, "/usr/lib/libpython3.12.so.1.0");
	assert_true(r[0].deleted && !r[0].executable);
	assert_true(r[0].id.dev == kernel_dev(0xfe, 0) && r[0].id.ino == 42);
	assert_int_equal(parse_mem_region(l2, &r[1]), 0);
	assert_null(r[1].path);
	assert_int_equal(parse_mem_region(l3, &r[2]), 0);
	assert_false(r[2].readable);
	assert_null(r[2].path);
	assert_int_equal(parse_mem_region(bad, &r[2]), -EINVAL);
	r[2] = (struct mem_region){ .start = 0x7f30, .end = 0x7f40 };
	/* reads may span adjacent readable regions, never a gap or ---p */
	assert_true(procmem_covers(&pm, 0x7f08, 0x10));
	assert_false(procmem_covers(&pm, 0x7f18, 0x10));
	assert_false(procmem_covers(&pm, 0x7f35, 1));
	assert_false(procmem_covers(&pm, UINT64_MAX - 4, 8));
	assert_int_equal(procmem_file_addr(&pm, "/usr/lib/libpython3.12.so.1.0", 0x1008, &addr), 0);
	assert_int_equal(addr, 0x7f08);
	assert_int_equal(procmem_file_addr(&pm, "/usr/lib/libpython3.12.so.1.0", 0x20, &addr), -ENOENT);
	assert_int_equal(parse_rss_rollup("55d0-7ffe ---p 0 00:00 0 [rollup]\nRss:               24676 kB\n"),
			 24676ull * 1024);
	assert_int_equal(parse_rss_rollup("Pss: 5 kB\n"), 0);
}

/* A two-arena heap in a fake image: figures as _debugmallocstats would give. */
struct image {
	uint8_t mem[3 * 4096];
};

static int read_image(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct image *im = ctx;

	if (addr < 0x1000 || addr - 0x1000 + len > sizeof(im->mem))
		return -EFAULT;
	memcpy(buf, im->mem + addr - 0x1000, len);
	return 0;
}

static void put64(struct image *im, uint64_t addr, uint64_t v)
{
	memcpy(im->mem + addr - 0x1000, &v, sizeof(v));
}

static void put32(struct image *im, uint64_t addr, uint32_t v)
{
	memcpy(im->mem + addr - 0x1000, &v, sizeof(v));
}

static void heap_walk_of_an_image(void **state)
{
	static struct image im;
	struct mem_reader r = { read_image, NULL, &im };
	struct heap_layout l = { .pymalloc = true, .arenas = 0x1000, .maxarenas = 0x1008, .narenas_current = 0x1010,
				 .ntimes_allocated = 0x1018, .highwater = 0x1020, .pool_size = 4096,
				 .arena_size = 8192 };
	struct heap_snapshot s;

	(void)state;
	put64(&im, 0x1000, 0x1100);	/* arenas -> table */
	put32(&im, 0x1008, 2);		/* maxarenas: one in use, one free slot */
	put64(&im, 0x1010, 1);
	put64(&im, 0x1018, 4);
	put64(&im, 0x1020, 2);
	put64(&im, 0x1100, 0x2000);	/* arena 0: address */
	put64(&im, 0x1108, 0x4000);	/* pool_address: two pools carved */
	put32(&im, 0x1110, 1);		/* nfreepools */
	put32(&im, 0x2000, 3);		/* pool 0: 3 blocks of class 1 (32 bytes) */
	put32(&im, 0x2000 + 36, 1);
	put32(&im, 0x3000, 0);		/* pool 1: empty */
	heap_snapshot(&r, &l, &s);
	assert_true(s.pymalloc_ok && s.consistent);
	assert_int_equal(s.arenas_walked, 1);
	assert_int_equal(s.arenas_total, 4);
	assert_int_equal(s.pools_used, 1);
	assert_int_equal(s.pools_free, 1);
	assert_int_equal(s.classes[1].blocks_in_use, 3);
	assert_int_equal(s.classes[1].free_blocks, (4096 - 48) / 32 - 3);
	assert_false(s.gc_ok);
	/* a size class pymalloc cannot have: refused, not counted */
	put32(&im, 0x2000 + 36, 77);
	heap_snapshot(&r, &l, &s);
	assert_false(s.pymalloc_ok);
	assert_non_null(strstr(s.why, "size class"));
	/* a table that claims a million arenas beyond the image: an error, quickly */
	put32(&im, 0x2000 + 36, 1);
	put32(&im, 0x1008, 1000000);
	heap_snapshot(&r, &l, &s);
	assert_false(s.pymalloc_ok);
}

/* Hand-made tables in each format, decoded as CPython's own code does. */
static void line_tables(void **state)
{
	static const uint8_t lnotab[] = { 2, 1, 4, 1 };
	static const uint8_t linetable[] = { 4, 0, 6, 1, 2, 0x80 };
	/* one-line form len 2 (delta 0), no-column form len 1 (delta +3), no location len 1 */
	static const uint8_t locations[] = { 0xD1, 0, 0, 0xE8, 0x06, 0xF8 };
	static const uint8_t torn[] = { 0xE8, 0x46 };	/* a varint that never ends */

	(void)state;
	assert_int_equal(code_line(LINES_LNOTAB, lnotab, sizeof(lnotab), 10, 0), 10);
	assert_int_equal(code_line(LINES_LNOTAB, lnotab, sizeof(lnotab), 10, 2), 11);
	assert_int_equal(code_line(LINES_LNOTAB, lnotab, sizeof(lnotab), 10, 5), 11);
	assert_int_equal(code_line(LINES_LNOTAB, lnotab, sizeof(lnotab), 10, 6), 12);
	/* 3.10: instruction indexes; byte ranges [0,4) line 10, [4,10) line 11, [10,12) none */
	assert_int_equal(code_line(LINES_LINETABLE, linetable, sizeof(linetable), 10, 0), 10);
	assert_int_equal(code_line(LINES_LINETABLE, linetable, sizeof(linetable), 10, 2), 11);
	assert_int_equal(code_line(LINES_LINETABLE, linetable, sizeof(linetable), 10, 5), -1);
	assert_int_equal(code_line(LINES_LINETABLE, linetable, sizeof(linetable), 10, 6), -1);
	/* 3.11+: byte offsets of code units */
	assert_int_equal(code_line(LINES_LOCATIONS, locations, sizeof(locations), 20, 0), 20);
	assert_int_equal(code_line(LINES_LOCATIONS, locations, sizeof(locations), 20, 2), 20);
	assert_int_equal(code_line(LINES_LOCATIONS, locations, sizeof(locations), 20, 4), 23);
	assert_int_equal(code_line(LINES_LOCATIONS, locations, sizeof(locations), 20, 6), -1);
	assert_int_equal(code_line(LINES_LOCATIONS, locations, sizeof(locations), 20, 8), -1);
	assert_int_equal(code_line(LINES_LOCATIONS, torn, sizeof(torn), 20, 0), -1);
}

static void listen_addresses(void **state)
{
	char host[64];
	int port;

	(void)state;
	assert_int_equal(parse_listen_address("9464", host, sizeof(host), &port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 9464);
	assert_int_equal(parse_listen_address("0.0.0.0:80", host, sizeof(host), &port), 0);
	assert_string_equal(host, "0.0.0.0");
	assert_int_equal(parse_listen_address("[::1]:9464", host, sizeof(host), &port), 0);
	assert_string_equal(host, "::1");
	assert_int_not_equal(parse_listen_address("0", host, sizeof(host), &port), 0);
	assert_int_not_equal(parse_listen_address("65536", host, sizeof(host), &port), 0);
	assert_int_not_equal(parse_listen_address("[::1]9464", host, sizeof(host), &port), 0);
	assert_int_not_equal(parse_listen_address("1.2.3.4:", host, sizeof(host), &port), 0);
	assert_int_not_equal(parse_listen_address("", host, sizeof(host), &port), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(registry_remembers_across_growth),
		cmocka_unit_test(registry_interpreters_are_deduplicated),
		cmocka_unit_test(registry_stays_bounded),
		cmocka_unit_test(proctable_one_live_row_per_pid),
		cmocka_unit_test(proctable_gone_spares_a_reused_pid),
		cmocka_unit_test(proctable_folds_old_ended_rows),
		cmocka_unit_test(repeated_end_is_one_ended_row),
		cmocka_unit_test(fork_then_exec_counts_only_the_new_image),
		cmocka_unit_test(fork_adopts_only_a_child_that_did_not_exec),
		cmocka_unit_test(exec_after_fork_undoes_the_adoption),
		cmocka_unit_test(scan_tracks_only_an_image_that_held_still),
		cmocka_unit_test(delta_marks_new_maximum),
		cmocka_unit_test(container_ids_from_cgroup_paths),
		cmocka_unit_test(listen_addresses),
		cmocka_unit_test(memory_regions),
		cmocka_unit_test(heap_walk_of_an_image),
		cmocka_unit_test(line_tables),
		cmocka_unit_test(stat_start_times),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
