// SPDX-License-Identifier: MIT
/* Unit tests of ELF/USDT/debug-file resolution and planning on fixtures. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "alloc.h"
#include "dwarf_cache.h"
#include "dwarf_layout.h"
#include "elf_file.h"
#include "plan.h"
#include "resolve.h"

static char fixtures[PATH_MAX];
static char debugroot[PATH_MAX];

static const char *fx(const char *rel)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", fixtures, rel);
	return path;
}

static struct resolve_opts opts_with_root(const char *root)
{
	struct resolve_opts o = { .ndebug_dirs = 1 };

	o.debug_dirs[0] = root;
	return o;
}

static void expect_collectors(const struct python_binary *pb)
{
	bool plain = false, lto = false;
	int i;

	for (i = 0; i < pb->ncollectors; i++) {
		assert_null(strstr(pb->collectors[i].name, ".cold"));
		assert_null(strstr(pb->collectors[i].name, ".part"));
		plain |= !strcmp(pb->collectors[i].name, "gc_collect_main");
		lto |= !strcmp(pb->collectors[i].name, "gc_collect_main.lto_priv.0");
	}
	assert_int_equal(pb->ncollectors, 2);
	assert_true(plain && lto);
}

static void test_full_symtab(void **state)
{
	struct resolve_opts o = opts_with_root("/nonexistent");
	struct python_binary pb;

	(void)state;
	assert_int_equal(resolve_python(fx("fake_python"), &o, &pb), 0);
	assert_string_equal(pb.version, "3.12.1");
	assert_string_equal(pb.version_source, "Py_Version");
	assert_false(pb.stripped);
	assert_int_equal(pb.sym_source, SYM_SYMTAB);
	assert_true(pb.runtime_vaddr != 0);
	expect_collectors(&pb);
}

static void test_usdt_with_semaphores(void **state)
{
	struct resolve_opts o = opts_with_root("/nonexistent");
	struct python_binary pb;
	struct elf_file ef;
	GElf_Sym sem;
	uint64_t sem_off;

	(void)state;
	assert_int_equal(resolve_python(fx("fake_python"), &o, &pb), 0);
	assert_true(pb.has_gc_usdt);
	assert_string_equal(pb.usdt_gc_start.name, "python:gc__start");
	assert_string_equal(pb.usdt_gc_done.name, "python:gc__done");
	/* the semaphore offset is that of the variable the program tests */
	assert_int_equal(elf_file_open(&ef, fx("fake_python")), 0);
	assert_int_equal(elf_find_defined(&ef, SHT_SYMTAB, "python_gc__start_semaphore", &sem), 0);
	assert_int_equal(elf_vaddr_to_offset(&ef, sem.st_value, &sem_off), 0);
	elf_file_close(&ef);
	assert_int_equal(pb.usdt_gc_start.sem_offset, sem_off);
	assert_true(pb.usdt_gc_done.sem_offset != 0);
	assert_true(pb.usdt_gc_start.offset != 0);
}

static void test_stripped_debuglink(void **state)
{
	struct resolve_opts o = opts_with_root("/nonexistent");
	struct python_binary pb;

	(void)state;
	assert_int_equal(resolve_python(fx("stripped_debuglink/fake_python"), &o, &pb), 0);
	assert_true(pb.stripped);
	assert_int_equal(pb.sym_source, SYM_DEBUGLINK);
	assert_non_null(strstr(pb.debug_path, "fake_python.debug"));
	expect_collectors(&pb);
}

static void test_stripped_build_id(void **state)
{
	struct resolve_opts o = opts_with_root(debugroot);
	struct python_binary pb;

	(void)state;
	assert_int_equal(resolve_python(fx("stripped_buildid/fake_python"), &o, &pb), 0);
	assert_int_equal(pb.sym_source, SYM_BUILD_ID);
	assert_non_null(strstr(pb.debug_path, "/.build-id/"));
	expect_collectors(&pb);
}

static void test_stripped_bare_plans_usdt_or_says_why(void **state)
{
	struct resolve_opts o = opts_with_root("/nonexistent");
	struct plan_opts po = { .no_usdt = false };
	struct python_binary pb;
	struct probe_plan plan;

	(void)state;
	assert_int_equal(resolve_python(fx("stripped_bare/fake_python"), &o, &pb), 0);
	assert_int_equal(pb.sym_source, SYM_DYNSYM);
	assert_int_equal(pb.ncollectors, 0);
	assert_int_equal(plan_gc(&pb, &po, &plan), 0);
	assert_string_equal(plan.method, "usdt");
	assert_int_equal(plan.nsites, 2);
	assert_int_equal(plan.sites[0].cfg.base, GC_BASE_RUNTIME);
	/* _PyRuntime is found from the probe address */
	assert_int_equal((int64_t)plan.sites[0].at.vaddr + plan.sites[0].cfg.runtime_delta, pb.runtime_vaddr);
	po.no_usdt = true;
	assert_int_equal(plan_gc(&pb, &po, &plan), -ENOENT);
	assert_int_equal(plan.metrics[M_COLLECTIONS].cov, COV_UNAVAILABLE);
	assert_non_null(strstr(plan.metrics[M_COLLECTIONS].reason, "python3.12-dbg"));
}

static void test_uprobe_plan_per_clone(void **state)
{
	struct resolve_opts o = opts_with_root("/nonexistent");
	struct plan_opts po = { .no_usdt = true };
	struct python_binary pb;
	struct probe_plan plan;
	int i;

	(void)state;
	assert_int_equal(resolve_python(fx("fake_python"), &o, &pb), 0);
	assert_int_equal(plan_gc(&pb, &po, &plan), 0);
	assert_string_equal(plan.method, "uprobe");
	assert_int_equal(plan.nsites, 4);
	for (i = 0; i < plan.nsites; i++) {
		assert_int_equal(plan.sites[i].kind, i % 2 ? SITE_URETPROBE : SITE_UPROBE);
		/* 3.12: tstate argument -> interp (+16) -> gc (+112) + generation_stats (+128) */
		assert_int_equal(plan.sites[i].cfg.base, GC_BASE_ARG0);
		assert_int_equal(plan.sites[i].cfg.deref_off[0], 16);
		assert_int_equal(plan.sites[i].cfg.stats_off, 112 + 128);
	}
	assert_int_equal(plan.metrics[M_PAUSE].cov, COV_EXACT);
}

static const struct plan_site *site_at(const struct probe_plan *p, const char *name, enum gc_role role)
{
	int i;

	for (i = 0; i < p->nsites; i++)
		if (!strcmp(p->sites[i].at.name, name) && p->sites[i].role == role)
			return &p->sites[i];
	return NULL;
}

/* --alloc=exact on a build whose symbols show LTO clones: every exported
 * function probed, returns attached before entries, and partial coverage */
static void test_exact_plan_lto(void **state)
{
	struct resolve_opts o = opts_with_root("/nonexistent");
	struct plan_opts po = { .no_usdt = true, .alloc_exact = true };
	struct python_binary pb;
	struct probe_plan plan;
	const struct plan_site *s;
	int i, last_return = -1, first_entry = -1;

	(void)state;
	assert_int_equal(resolve_python(fx("fake_python"), &o, &pb), 0);
	assert_true(pb.lto);
	for (i = 0; i < API__COUNT; i++)
		assert_true(pb.has_api[i]);
	assert_int_equal(plan_file(&pb, &po, &plan), 0);
	for (i = 0; i < plan.nsites; i++) {
		if (plan.sites[i].role == ROLE_ALLOC_RETURN)
			last_return = i;
		if (plan.sites[i].role == ROLE_ALLOC_ENTER && first_entry < 0)
			first_entry = i;
	}
	assert_true(last_return >= 0 && first_entry > last_return);
	s = site_at(&plan, "PyObject_Realloc", ROLE_ALLOC_ENTER);
	assert_non_null(s);
	assert_int_equal(s->cookie, ALLOC_COOKIE(DOMAIN_OBJ, CALL_REALLOC));
	s = site_at(&plan, "PyMem_RawFree", ROLE_ALLOC_FREE);
	assert_non_null(s);
	assert_int_equal(s->cookie, ALLOC_COOKIE(DOMAIN_RAW, CALL_FREE));
	assert_null(site_at(&plan, "PyMem_Free", ROLE_ALLOC_RETURN));
	assert_int_equal(plan.metrics[M_ALLOC_OBJ].cov, COV_PARTIAL);
	assert_non_null(strstr(plan.metrics[M_ALLOC_OBJ].reason, "LTO build"));
	/* LTO inlines _Py_Dealloc: Python classes through subtype_dealloc only */
	assert_null(site_at(&plan, "_Py_Dealloc", ROLE_DEALLOC));
	assert_non_null(site_at(&plan, "subtype_dealloc.lto_priv.0", ROLE_DEALLOC));
	assert_int_equal(plan.metrics[M_TYPES].cov, COV_PARTIAL);
	assert_non_null(site_at(&plan, "PyObject_ClearWeakRefs", ROLE_WEAKREF_CLEAR));
}

static void test_exact_plan_stripped_and_unrequested(void **state)
{
	struct resolve_opts o = opts_with_root("/nonexistent");
	struct plan_opts po = { .alloc_exact = true };
	struct python_binary pb;
	struct probe_plan plan;
	int m;

	(void)state;
	assert_int_equal(resolve_python(fx("stripped_bare/fake_python"), &o, &pb), 0);
	assert_false(pb.lto);	/* unknown: no symbols to tell */
	assert_true(pb.has_api[API_OBJ_MALLOC]);
	assert_int_equal(plan_file(&pb, &po, &plan), 0);
	assert_int_equal(plan.metrics[M_ALLOC_OBJ].cov, COV_PARTIAL);
	assert_non_null(strstr(plan.metrics[M_ALLOC_OBJ].reason, "install python3.12-dbg"));
	assert_int_equal(plan.metrics[M_TYPES].cov, COV_UNAVAILABLE);
	assert_null(site_at(&plan, "_Py_Dealloc", ROLE_DEALLOC));
	po.alloc_exact = false;
	assert_int_equal(plan_file(&pb, &po, &plan), 0);
	for (m = M_ALLOC_RAW; m <= M_TYPE_ALLOCS; m++) {
		assert_int_equal(plan.metrics[m].cov, COV_UNAVAILABLE);
		assert_non_null(strstr(plan.metrics[m].reason, "--alloc=exact"));
	}
	for (m = 0; m < plan.nsites; m++)
		assert_true(plan.sites[m].role < ROLE_ALLOC_ENTER);
}

/* The fixture's structs, at offsets unlike CPython's (see fake_python.c). */
static void test_dwarf_offsets(void **state)
{
	struct dwarf_offsets d;

	(void)state;
	assert_int_equal(dwarf_heap_offsets(fx("fake_python"), DW_ALL, &d), 0);
	assert_true(d.found[DW_RUNTIME_INTERP_MAIN]);
	assert_int_equal(d.off[DW_RUNTIME_INTERP_MAIN], 64 + 16);
	assert_int_equal(d.off[DW_INTERP_GC], 200);
	assert_int_equal(d.off[DW_GC_ENABLED], 40);
	assert_int_equal(d.off[DW_GC_GENERATIONS], 48);
	assert_int_equal(d.off[DW_INTERP_OBMALLOC], 200 + 48 + 3 * 24);
	assert_true(d.obmalloc_is_ptr);
	assert_int_equal(d.off[DW_OBMALLOC_MGMT], 1000);
	assert_int_equal(d.off[DW_MGMT_MAXARENAS], 8);
	assert_int_equal(d.off[DW_MGMT_NARENAS_CURRENT], 112);
	assert_false(d.found[DW_RUNTIME_GC]);
	/* stripped: no DWARF, nothing found, and no error beyond that */
	dwarf_heap_offsets(fx("stripped_bare/fake_python"), DW_ALL, &d);
	assert_false(d.found[DW_INTERP_GC]);
}

static void test_not_python_and_malformed(void **state)
{
	struct resolve_opts o = opts_with_root("/nonexistent");
	struct python_binary pb;

	(void)state;
	assert_int_equal(resolve_python(fx("not_python"), &o, &pb), -ENOEXEC);
	assert_int_equal(resolve_python(fx("truncated"), &o, &pb), -ENOEXEC);
	assert_int_equal(resolve_python(fx("fake_python.c-does-not-exist"), &o, &pb), -ENOENT);
	assert_int_equal(resolve_python("/proc/self/status", &o, &pb), -ENOEXEC);
}

static void test_clone_suffixes(void **state)
{
	(void)state;
	assert_true(symbol_is_clone_of("collect", "collect"));
	assert_true(symbol_is_clone_of("collect.constprop.0", "collect"));
	assert_true(symbol_is_clone_of("gc_collect_main.lto_priv.0", "gc_collect_main"));
	assert_true(symbol_is_clone_of("collect.isra.0.constprop.1", "collect"));
	assert_false(symbol_is_clone_of("collect.cold", "collect"));
	assert_false(symbol_is_clone_of("collect.constprop.0.cold", "collect"));
	assert_false(symbol_is_clone_of("collect.part.0", "collect"));
	assert_false(symbol_is_clone_of("collect_generations", "collect"));
	assert_false(symbol_is_clone_of("collect.constprop.", "collect"));
}

static void test_version_strings(void **state)
{
	int M, m, u;

	(void)state;
	assert_true(parse_python_version("3.12.1", &M, &m, &u));
	assert_int_equal(M * 10000 + m * 100 + u, 31201);
	assert_true(parse_python_version("3.13.0rc1", &M, &m, &u));
	assert_false(parse_python_version("3.12", &M, &m, &u));
	assert_false(parse_python_version("3.x.1", &M, &m, &u));
	assert_false(parse_python_version("3.12.1.4", &M, &m, &u));
	assert_false(parse_python_version("99999999999999999999.1.1", &M, &m, &u));
}

/* What a uprobe hit costs, from first instructions seen in the matrix's
 * builds (pyenv 3.12's gc_collect_main, PyObject_Malloc, PyObject_Calloc,
 * _PyMem_ArenaAlloc, _Py_Dealloc; USDT sites) and the kernel's edge cases */
static void test_uprobe_cost(void **state)
{
	static const struct {
		const char *code;
		size_t len;
		bool nops;
		enum insn_trap trap;
		const char *insn;
	} cases[] = {
		{ "\x41\x57", 2, false, INSN_TRAP_EMULATED, "push" },		/* push %r15 */
		{ "\x55", 1, false, INSN_TRAP_EMULATED, "push" },			/* push %rbp */
		{ "\x48\x55", 2, false, INSN_TRAP_SINGLE_STEP, "other" },	/* REX.W push: not 0x41 */
		{ "\x66\x55", 2, false, INSN_TRAP_SINGLE_STEP, "other" },	/* pushw */
		{ "\x48\x89\xfe", 3, false, INSN_TRAP_SINGLE_STEP, "mov" },
		{ "\x48\x85\xf6", 3, false, INSN_TRAP_SINGLE_STEP, "test" },
		{ "\x48\x83\xec\x08", 4, false, INSN_TRAP_SINGLE_STEP, "arithmetic with an immediate" },
		{ "\x48\x8b\x47\x08", 4, false, INSN_TRAP_SINGLE_STEP, "mov" },
		{ "\xf3\x0f\x1e\xfa", 4, true, INSN_TRAP_SINGLE_STEP, "endbr64" },
		{ "\x90", 1, false, INSN_TRAP_EMULATED, "nop" },			/* every USDT site */
		{ "\xf3\x90", 2, false, INSN_TRAP_EMULATED, "nop" },		/* prefix* + nop */
		{ "\x0f\x1f\x44\x00\x00", 5, true, INSN_TRAP_EMULATED, "nop" },
		{ "\x0f\x1f\x44\x00\x00", 5, false, INSN_TRAP_SINGLE_STEP,
		  "multi-byte nop (emulated from Linux 6.16)" },
		{ "\x66\x0f\x1f\x44\x00\x00", 6, true, INSN_TRAP_EMULATED, "nop" },
		{ "\x0f\x1f\x44\x00", 4, true, INSN_TRAP_SINGLE_STEP,		/* truncated nop5 */
		  "multi-byte nop (emulated from Linux 6.16)" },
		{ "\xeb\x10", 2, false, INSN_TRAP_EMULATED, "jmp" },
		{ "\xe9\x00\x00\x00\x00", 5, false, INSN_TRAP_EMULATED, "jmp" },
		{ "\xe8\x00\x00\x00\x00", 5, false, INSN_TRAP_EMULATED, "call" },
		{ "\x66\xe8\x00\x00", 4, false, INSN_TRAP_SINGLE_STEP, "other" },	/* callw */
		{ "\x78\x18", 2, false, INSN_TRAP_EMULATED, "jcc" },		/* js */
		{ "\x0f\x84\x10\x00\x00\x00", 6, false, INSN_TRAP_EMULATED, "jcc" },
		{ "\x0f\x84", 1, false, INSN_TRAP_SINGLE_STEP, "other" },		/* cut short */
		{ "\xff\x60\x30", 3, false, INSN_TRAP_SINGLE_STEP, "indirect call, jmp or push" },
		{ "\x66\x66\x66", 3, false, INSN_TRAP_SINGLE_STEP, "truncated" },	/* prefixes only */
		{ "\x41", 1, false, INSN_TRAP_SINGLE_STEP, "truncated" },
		{ "", 0, false, INSN_TRAP_UNKNOWN, "unreadable" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct insn_cost c = insn_uprobe_cost((const uint8_t *)cases[i].code, cases[i].len, cases[i].nops);

		if (c.trap != cases[i].trap || strcmp(c.insn, cases[i].insn))
			fail_msg("case %zu: %s, %s; expected %s, %s", i, insn_trap_name(c.trap), c.insn,
				 insn_trap_name(cases[i].trap), cases[i].insn);
	}
	assert_true(insn_kernel_emulates_nops("6.18.1-amd64"));
	assert_true(insn_kernel_emulates_nops("6.16.0"));
	assert_true(insn_kernel_emulates_nops("7.0"));
	assert_false(insn_kernel_emulates_nops("6.15.9"));
	assert_false(insn_kernel_emulates_nops("6.1.0-18-amd64"));
	assert_false(insn_kernel_emulates_nops("6"));
	assert_false(insn_kernel_emulates_nops("x.y"));
	assert_false(insn_kernel_emulates_nops(""));
	assert_false(insn_kernel_emulates_nops(NULL));
}

/* The DWARF cache: an answer comes back only for the same file, unchanged,
 * and the same question, from a directory that is root's alone (as root:
 * not root, there is no cache and nothing is kept) */
static void test_dwarf_cache(void **state)
{
	char dir[] = "/tmp/mmtrace-cache-XXXXXX", cache[64], file[64], rec[128];
	const char answer[] = "forty-two", other[] = "forty-three";
	char got[sizeof(answer)];
	struct dirent *de;
	DIR *d;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	snprintf(file, sizeof(file), "%s/debugfile", dir);
	fd = open(file, O_RDWR | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "DWARF", 5), 5);
	setenv("MMTRACE_CACHE_DIR", cache, 1);
	assert_false(dwarf_cache_load(fd, "q", 1, got, sizeof(got)));
	dwarf_cache_store(fd, "q", 1, answer, sizeof(answer));
	if (geteuid() != 0) {
		assert_false(dwarf_cache_load(fd, "q", 1, got, sizeof(got)));
		goto out;
	}
	assert_true(dwarf_cache_load(fd, "q", 1, got, sizeof(got)));
	assert_memory_equal(got, answer, sizeof(answer));
	/* another question, another length: misses */
	assert_false(dwarf_cache_load(fd, "r", 1, got, sizeof(got)));
	assert_false(dwarf_cache_load(fd, "q", 1, got, sizeof(got) - 1));
	/* a record cut short or grown: a miss */
	d = opendir(cache);
	assert_non_null(d);
	while ((de = readdir(d)) && de->d_name[0] == '.')
		;
	assert_non_null(de);
	snprintf(rec, sizeof(rec), "%s/%s", cache, de->d_name);
	closedir(d);
	assert_int_equal(truncate(rec, 10), 0);
	assert_false(dwarf_cache_load(fd, "q", 1, got, sizeof(got)));
	dwarf_cache_store(fd, "q", 1, answer, sizeof(answer));
	assert_true(dwarf_cache_load(fd, "q", 1, got, sizeof(got)));
	/* the file changed (size, times): a miss, then its own answer */
	assert_int_equal(write(fd, "more", 4), 4);
	assert_false(dwarf_cache_load(fd, "q", 1, got, sizeof(got)));
	dwarf_cache_store(fd, "q", 1, other, sizeof(got));
	assert_true(dwarf_cache_load(fd, "q", 1, got, sizeof(got)));
	assert_memory_equal(got, other, sizeof(got));
	/* a directory others may write to is not used */
	assert_int_equal(chmod(cache, 0777), 0);
	assert_false(dwarf_cache_load(fd, "q", 1, got, sizeof(got)));
	assert_int_equal(chmod(cache, 0700), 0);
	/* an empty MMTRACE_CACHE_DIR: no cache */
	setenv("MMTRACE_CACHE_DIR", "", 1);
	assert_false(dwarf_cache_load(fd, "q", 1, got, sizeof(got)));
out:
	unsetenv("MMTRACE_CACHE_DIR");
	close(fd);
	d = opendir(cache);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, "..")))
			continue;
		snprintf(rec, sizeof(rec), "%s/%s", cache, de->d_name);
		unlink(rec);
	}
	if (d)
		closedir(d);
	rmdir(cache);
	unlink(file);
	rmdir(dir);
}

int main(void)
{
	const char *dir = getenv("MMTRACE_FIXTURES");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uprobe_cost),
		cmocka_unit_test(test_dwarf_cache),
		cmocka_unit_test(test_full_symtab),
		cmocka_unit_test(test_usdt_with_semaphores),
		cmocka_unit_test(test_stripped_debuglink),
		cmocka_unit_test(test_stripped_build_id),
		cmocka_unit_test(test_stripped_bare_plans_usdt_or_says_why),
		cmocka_unit_test(test_uprobe_plan_per_clone),
		cmocka_unit_test(test_exact_plan_lto),
		cmocka_unit_test(test_exact_plan_stripped_and_unrequested),
		cmocka_unit_test(test_dwarf_offsets),
		cmocka_unit_test(test_not_python_and_malformed),
		cmocka_unit_test(test_clone_suffixes),
		cmocka_unit_test(test_version_strings),
	};

	if (!dir) {
		fprintf(stderr, "set MMTRACE_FIXTURES to the built fixtures directory\n");
		return 2;
	}
	snprintf(fixtures, sizeof(fixtures), "%s", dir);
	snprintf(debugroot, sizeof(debugroot), "%s/debugroot", dir);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
