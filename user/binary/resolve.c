// SPDX-License-Identifier: MIT
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/openat2.h>
#include "elf_file.h"
#include "layout.h"
#include "resolve.h"
#include "dwarf_layout.h"

#define BUILD_ID_MAX 64

const char *sym_source_name(enum sym_source s)
{
	switch (s) {
	case SYM_DYNSYM: return ".dynsym";
	case SYM_SYMTAB: return ".symtab";
	case SYM_BUILD_ID: return "build-id debug file";
	case SYM_DEBUGLINK: return ".gnu_debuglink debug file";
	default: return "none";
	}
}

const char *api_name(enum api_fn f)
{
	static const char *const names[API__COUNT] = {
		"PyMem_RawMalloc", "PyMem_RawCalloc", "PyMem_RawRealloc", "PyMem_RawFree",
		"PyMem_Malloc", "PyMem_Calloc", "PyMem_Realloc", "PyMem_Free",
		"PyObject_Malloc", "PyObject_Calloc", "PyObject_Realloc", "PyObject_Free",
		"_Py_Dealloc", "PyObject_ClearWeakRefs",
		"PyType_GenericAlloc", "_PyObject_New", "_PyObject_NewVar", "_PyObject_GC_New", "_PyObject_GC_NewVar",
	};

	return f < API__COUNT ? names[f] : "?";
}

const char *obmalloc_static_name(enum obmalloc_static s)
{
	static const char *const names[OBM__COUNT] = {
		"arenas", "maxarenas", "narenas_currently_allocated", "ntimes_arena_allocated", "narenas_highwater",
	};

	return s < OBM__COUNT ? names[s] : "?";
}

static bool is_clone_suffix(const char *s)
{
	static const char *const kinds[] = { ".lto_priv.", ".constprop.", ".isra." };
	size_t i, n;

	while (*s) {
		for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
			n = strlen(kinds[i]);
			if (!strncmp(s, kinds[i], n) && isdigit((unsigned char)s[n]))
				break;
		}
		if (i == sizeof(kinds) / sizeof(kinds[0]))
			return false; /* .cold, .part and anything unknown */
		s += n;
		while (isdigit((unsigned char)*s))
			s++;
	}
	return true;
}

bool symbol_is_clone_of(const char *name, const char *base)
{
	size_t n = strlen(base);

	return !strncmp(name, base, n) && (name[n] == '\0' || is_clone_suffix(name + n));
}

bool parse_python_version(const char *s, int *major, int *minor, int *micro)
{
	char *end;
	long v[3];
	int i;

	for (i = 0; i < 3; i++) {
		if (!isdigit((unsigned char)*s))
			return false;
		errno = 0;
		v[i] = strtol(s, &end, 10);
		if (errno || end == s || v[i] > 999)
			return false;
		s = end;
		if (i < 2 && *s++ != '.')
			return false;
	}
	/* allow a release tag such as "rc1" or "+" after the micro version */
	if (*s && !isalpha((unsigned char)*s) && *s != '+')
		return false;
	*major = (int)v[0];
	*minor = (int)v[1];
	*micro = (int)v[2];
	return true;
}

static int take_soname(const char *value, void *arg)
{
	int *mm = arg;
	char *end;
	long major, minor;

	if (strncmp(value, "libpython", 9))
		return 0;
	errno = 0;
	major = strtol(value + 9, &end, 10);
	if (errno || end == value + 9 || *end != '.')
		return 0;
	minor = strtol(end + 1, &end, 10);
	if (errno || (*end != '.' && *end != 'd' && *end != 'm' && *end != 't'))
		return 0;
	mm[0] = (int)major;
	mm[1] = (int)minor;
	return 1;
}

/*
 * Before 3.11 there is no Py_Version. PY_VERSION's literal survives in
 * .rodata, often tail-merged into a longer string ("/.../Python-3.9.18"), so
 * accept "3.M.N\0" after any non-digit, and only when every match agrees.
 */
static void version_from_rodata(struct elf_file *ef, struct python_binary *pb)
{
	GElf_Shdr shdr;
	Elf_Scn *scn = elf_section_named(ef, ".rodata", &shdr);
	Elf_Data *d = scn ? elf_getdata(scn, NULL) : NULL;
	const char *p, *end, *z;
	int M, m, u, found = 0;

	if (!d || !d->d_buf)
		return;
	p = d->d_buf;
	end = p + d->d_size;
	for (; p + 6 <= end; p++) {
		if (p[0] != '3' || p[1] != '.' || (p > (const char *)d->d_buf && (isdigit((unsigned char)p[-1]) || p[-1] == '.')))
			continue;
		z = memchr(p, '\0', (size_t)(end - p) < 16 ? (size_t)(end - p) : 16);
		if (!z || !parse_python_version(p, &M, &m, &u) || z - p > 11)
			continue;
		if (pb->major && (M != pb->major || m != pb->minor))
			continue;
		if (found && (M != pb->major || m != pb->minor || u != pb->micro)) {
			pb->micro = -1; /* disagreement: do not guess */
			return;
		}
		pb->major = M;
		pb->minor = m;
		pb->micro = u;
		found = 1;
	}
}

static int detect_version(struct elf_file *ef, Elf64_Word symtype, struct python_binary *pb)
{
	GElf_Sym sym;
	uint32_t hex;
	int mm[2] = { 0, 0 };

	pb->micro = -1;
	if (!elf_find_defined(ef, symtype, "Py_Version", &sym) &&
	    !elf_read_vaddr(ef, sym.st_value, &hex, sizeof(hex))) {
		pb->major = (int)(hex >> 24) & 0xff;
		pb->minor = (int)(hex >> 16) & 0xff;
		pb->micro = (int)(hex >> 8) & 0xff;
		pb->version_source = "Py_Version";
	} else if (elf_for_each_dynstr(ef, DT_SONAME, take_soname, mm) == 1) {
		pb->major = mm[0];
		pb->minor = mm[1];
		pb->version_source = "DT_SONAME";
		version_from_rodata(ef, pb);
	} else {
		version_from_rodata(ef, pb);
		pb->version_source = "PY_VERSION in .rodata";
	}
	if (pb->major != 3)
		return -ENOEXEC;
	if (pb->micro >= 0)
		snprintf(pb->version, sizeof(pb->version), "%d.%d.%d", pb->major, pb->minor, pb->micro);
	else
		snprintf(pb->version, sizeof(pb->version), "%d.%d", pb->major, pb->minor);
	return 0;
}

static bool same_build_id(struct elf_file *a, struct elf_file *b)
{
	uint8_t ia[BUILD_ID_MAX], ib[BUILD_ID_MAX];
	size_t la = 0, lb = 0;

	if (elf_build_id(a, ia, sizeof(ia), &la))
		return true; /* nothing to compare: debuglink CRC is the only check */
	return !elf_build_id(b, ib, sizeof(ib), &lb) && la == lb && !memcmp(ia, ib, la);
}

/* Why the last debug file that existed was not taken, for the hint. */
struct debug_search {
	char why[PATH_MAX + 64];
};

/*
 * A debug file is only useful if it has a symbol table and matches. It is
 * opened as anything a target names: inside the target's root when path is
 * under /proc/PID/root, a regular file of bounded size, never blocking.
 */
static bool usable_debug_file(struct elf_file *bin, const char *path, struct debug_search *ds)
{
	struct elf_file dbg;
	const char *why = NULL;
	int err;

	/* open and ELF setup apart: "empty" is a better reason than "no ELF" */
	err = open_target_file(path);
	if (err >= 0)
		err = elf_file_open_fd(&dbg, err);
	if (err) {
		if (err != -ENOENT && err != -ENOTDIR)
			snprintf(ds->why, sizeof(ds->why), "%s: %s", path, target_file_error(err));
		return false;
	}
	if (!elf_has_section_type(&dbg, SHT_SYMTAB))
		why = "no symbol table";
	else if (!same_build_id(bin, &dbg))
		why = "another build";
	elf_file_close(&dbg);
	if (why)
		snprintf(ds->why, sizeof(ds->why), "%s: %s", path, why);
	return !why;
}

/*
 * A file found through /proc/PID/root under mmtrace's own name for it,
 * when it has one (a chroot in mmtrace's mount namespace), so that the name
 * outlives the process; kept as it is otherwise. The name is the kernel's
 * for the file opened inside the root, taken only when it has no symlink
 * from mmtrace's root on (RESOLVE_NO_SYMLINKS) and leads to that same
 * file: realpath() would follow the target's absolute symlinks on the host.
 */
static void own_name(char *path, size_t cap)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC,
				.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
	char link[64], real[PATH_MAX];
	struct stat in_root, own;
	int fd, ofd = -1;
	ssize_t n;

	fd = open_target_file(path);
	if (fd < 0)
		return;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, real, sizeof(real) - 1);
	if (n > 0 && !fstat(fd, &in_root)) {
		real[n] = '\0';
		if (real[0] == '/' && strncmp(real, "/proc/", 6))
			ofd = (int)syscall(SYS_openat2, AT_FDCWD, real, &how, sizeof(how));
		if (ofd >= 0 && !fstat(ofd, &own) && own.st_dev == in_root.st_dev &&
		    own.st_ino == in_root.st_ino)
			snprintf(path, cap, "%s", real);
	}
	if (ofd >= 0)
		close(ofd);
	close(fd);
}

static bool find_by_build_id(struct elf_file *ef, const struct resolve_opts *o, char *out, size_t cap,
			     struct debug_search *ds)
{
	uint8_t id[BUILD_ID_MAX];
	char hex[2 * BUILD_ID_MAX + 1];
	size_t len = 0, i;
	const char *root;
	int d, r;

	if (elf_build_id(ef, id, sizeof(id), &len) || len < 2)
		return false;
	for (i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", id[i]);
	for (r = 0; r < 2; r++) {
		root = r ? "" : o->debug_root;
		for (d = 0; root && d < o->ndebug_dirs; d++) {
			snprintf(out, cap, "%s%s/.build-id/%.2s/%s.debug", root, o->debug_dirs[d], hex, hex + 2);
			if (usable_debug_file(ef, out, ds)) {
				if (!r)
					own_name(out, cap);
				return true;
			}
		}
	}
	return false;
}

static bool find_by_debuglink(struct elf_file *ef, const char *path, const struct resolve_opts *o,
			      char *out, size_t cap, struct debug_search *ds)
{
	char link[256], dir[PATH_MAX];
	const char *root;
	uint32_t crc;
	int d, r;

	/* a name, never a path: "../../etc/x" would be one */
	if (elf_debuglink(ef, link, sizeof(link), &crc) || strchr(link, '/') || !strcmp(link, "..") ||
	    !strcmp(link, "."))
		return false;
	snprintf(dir, sizeof(dir), "%s", path);
	dirname(dir);
	snprintf(out, cap, "%s/%s", dir, link);
	if (strcmp(out, path) && usable_debug_file(ef, out, ds))
		return true;
	snprintf(out, cap, "%s/.debug/%s", dir, link);
	if (usable_debug_file(ef, out, ds))
		return true;
	for (r = 0; r < 2; r++) {
		root = r ? "" : o->debug_root;
		for (d = 0; root && d < o->ndebug_dirs; d++) {
			snprintf(out, cap, "%s%s%s/%s", root, o->debug_dirs[d], dir, link);
			if (usable_debug_file(ef, out, ds))
				return true;
		}
	}
	return false;
}

/* Every copy of one static function: the function and its LTO/IPA clones. */
struct function_scan {
	const char *base;
	struct code_site *out;
	int *n;
	struct elf_file *bin;
};

static int take_function(const char *name, const GElf_Sym *sym, void *arg)
{
	struct function_scan *c = arg;
	struct code_site *s;
	int i;

	if (GELF_ST_TYPE(sym->st_info) != STT_FUNC || !sym->st_value || sym->st_shndx == SHN_UNDEF ||
	    !symbol_is_clone_of(name, c->base))
		return 0;
	for (i = 0; i < *c->n; i++)
		if (c->out[i].vaddr == sym->st_value)
			return 0;
	if (*c->n >= RESOLVE_MAX_COLLECTORS)
		return 1;
	s = &c->out[*c->n];
	/* offsets always come from the probed binary's own segments */
	if (elf_vaddr_to_offset(c->bin, sym->st_value, &s->offset))
		return 0;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->vaddr = sym->st_value;
	(*c->n)++;
	return 0;
}

static void find_function(struct elf_file *bin, struct elf_file *symfile, const char *base, struct code_site *out,
			  int *n)
{
	struct function_scan c = { base, out, n, bin };

	if (base)
		elf_for_each_symbol(symfile, SHT_SYMTAB, take_function, &c);
}

struct object_scan {
	uint64_t *vaddr;
};

static int take_obmalloc_static(const char *name, const GElf_Sym *sym, void *arg)
{
	struct object_scan *o = arg;
	int i;

	if (GELF_ST_TYPE(sym->st_info) != STT_OBJECT || !sym->st_value || sym->st_shndx == SHN_UNDEF)
		return 0;
	for (i = 0; i < OBM__COUNT; i++)
		if (!o->vaddr[i] && symbol_is_clone_of(name, obmalloc_static_name(i)))
			o->vaddr[i] = sym->st_value;
	return 0;
}

/* The statics of obmalloc.c; a name matched twice keeps the first. */
static void find_obmalloc_statics(struct elf_file *symfile, struct python_binary *pb)
{
	struct object_scan o = { pb->obmalloc };

	if (pb->minor <= 11)
		elf_for_each_symbol(symfile, SHT_SYMTAB, take_obmalloc_static, &o);
}

static void find_growth(struct elf_file *bin, struct elf_file *symfile, struct python_binary *pb)
{
	const struct growth_layout *g = growth_layout_for(pb->major, pb->minor);

	if (!g)
		return;
	find_function(bin, symfile, g->arena_alloc, pb->arena_alloc, &pb->narena_alloc);
	find_function(bin, symfile, g->arena_free, pb->arena_free, &pb->narena_free);
	find_function(bin, symfile, g->pool_new, pb->pool_new, &pb->npool_new);
}

static void find_collectors(struct elf_file *bin, struct elf_file *symfile, struct python_binary *pb)
{
	const struct cpython_layout *l = layout_for(pb->major, pb->minor);

	find_growth(bin, symfile, pb);
	/* Python classes' deallocator, the same function 3.8-3.15 */
	find_function(bin, symfile, "subtype_dealloc", pb->subtype_dealloc, &pb->nsubtype_dealloc);
	/* 3.14.5+ and 3.15 have no built-in layout (their offsets come from
	 * _Py_DebugOffsets) but the collector of 3.13 again: a build without
	 * USDT notes is probed there when its .symtab or debug file has it */
	if (!l && pb->major == 3 && pb->minor >= 14) {
		find_function(bin, symfile, "gc_collect_main", pb->collectors, &pb->ncollectors);
		return;
	}
	if (!l)
		return;
	find_function(bin, symfile, l->collector, pb->collectors, &pb->ncollectors);
	find_obmalloc_statics(symfile, pb);
}

static int take_lto_mark(const char *name, const GElf_Sym *sym, void *arg)
{
	(void)sym;
	(void)arg;
	return strstr(name, ".lto_priv.") != NULL;
}

/* GCC names the statics it moved across units under LTO "name.lto_priv.N". */
static bool built_with_lto(struct elf_file *symfile)
{
	return elf_for_each_symbol(symfile, SHT_SYMTAB, take_lto_mark, NULL) == 1;
}

static void find_symbols(struct elf_file *ef, const struct resolve_opts *o, struct python_binary *pb)
{
	struct debug_search ds = { { 0 } };
	struct elf_file dbg;

	pb->stripped = !elf_has_section_type(ef, SHT_SYMTAB);
	if (!pb->stripped) {
		pb->sym_source = SYM_SYMTAB;
		find_collectors(ef, ef, pb);
		pb->lto = built_with_lto(ef);
		return;
	}
	if (find_by_build_id(ef, o, pb->debug_path, sizeof(pb->debug_path), &ds))
		pb->sym_source = SYM_BUILD_ID;
	else if (find_by_debuglink(ef, pb->open_path, o, pb->debug_path, sizeof(pb->debug_path), &ds))
		pb->sym_source = SYM_DEBUGLINK;
	else {
		pb->sym_source = SYM_DYNSYM;
		pb->debug_path[0] = '\0';
		if (ds.why[0])
			snprintf(pb->debug_hint, sizeof(pb->debug_hint),
				 "stripped binary and no usable debug file (%s)", ds.why);
		else
			snprintf(pb->debug_hint, sizeof(pb->debug_hint),
				 "stripped binary and no debug file under %s", o->debug_dirs[0]);
		return;
	}
	if (!elf_file_open(&dbg, pb->debug_path)) {
		find_collectors(ef, &dbg, pb);
		pb->lto = built_with_lto(&dbg);
		elf_file_close(&dbg);
	}
}

static int usdt_site(struct elf_file *ef, const struct elf_stapsdt *n, struct code_site *s)
{
	snprintf(s->name, sizeof(s->name), "%s:%s", n->provider, n->name);
	s->vaddr = n->pc;
	if (elf_vaddr_to_offset(ef, n->pc, &s->offset))
		return 0;
	if (n->sem && elf_vaddr_to_offset(ef, n->sem, &s->sem_offset))
		return 0;
	return 1;
}

struct usdt_scan {
	struct elf_file *ef;
	struct python_binary *pb;
	int start_sites, done_sites;
};

static int take_gc_usdt(const struct elf_stapsdt *n, void *arg)
{
	struct usdt_scan *u = arg;

	if (strcmp(n->provider, "python"))
		return 0;
	if (!strcmp(n->name, "gc__start"))
		u->start_sites += usdt_site(u->ef, n, &u->pb->usdt_gc_start);
	else if (!strcmp(n->name, "gc__done"))
		u->done_sites += usdt_site(u->ef, n, &u->pb->usdt_gc_done);
	return 0;
}

static void find_usdt(struct elf_file *ef, struct python_binary *pb)
{
	struct usdt_scan u = { ef, pb, 0, 0 };

	elf_for_each_stapsdt(ef, take_gc_usdt, &u);
	/* one site each: the begin/end pairing per thread needs no more */
	pb->has_gc_usdt = u.start_sites == 1 && u.done_sites == 1;
}

/* CPython by content: it defines _PyRuntime and Py_GetVersion or Py_Version. */
static int cpython_symbols(struct elf_file *ef, Elf64_Word *symtype, uint64_t *runtime, uint64_t *size)
{
	GElf_Sym sym;
	Elf64_Word t = elf_has_section_type(ef, SHT_DYNSYM) ? SHT_DYNSYM : SHT_SYMTAB;

	if (elf_find_defined(ef, t, "_PyRuntime", &sym))
		return -ENOEXEC;
	*runtime = sym.st_value;
	*size = sym.st_size;
	*symtype = t;
	if (elf_find_defined(ef, t, "Py_GetVersion", &sym) && elf_find_defined(ef, t, "Py_Version", &sym))
		return -ENOEXEC;
	return 0;
}

/* The exported entry points, which every build has, stripped or not. */
static void find_api(struct elf_file *ef, Elf64_Word symtype, struct python_binary *pb)
{
	GElf_Sym sym;
	int f;

	for (f = 0; f < API__COUNT; f++) {
		struct code_site *s = &pb->api[f];

		if (elf_find_defined(ef, symtype, api_name(f), &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
		    elf_vaddr_to_offset(ef, sym.st_value, &s->offset))
			continue;
		snprintf(s->name, sizeof(s->name), "%s", api_name(f));
		s->vaddr = sym.st_value;
		pb->has_api[f] = true;
	}
}

/* 3.13+: _Py_DebugOffsets, in _PyRuntime's initial data; a minor with no
 * schema has only its header read, which says which minor it is. */
static void read_debug_offsets(struct elf_file *ef, struct python_binary *pb)
{
	const struct pyoff_schema *s = pyoffsets_schema(pb->major, pb->minor);
	unsigned char buf[1024];
	size_t len = s ? s->size : PYOFF_HEADER_SIZE;

	if (pb->major != 3 || pb->minor < 13 || len > sizeof(buf) ||
	    elf_read_vaddr(ef, pb->runtime_vaddr, buf, len))
		return;
	pb->has_debug_offsets = !pyoffsets_parse(buf, len, pb->major, pb->minor, &pb->pyoff, pb->pyoff_why,
						 sizeof(pb->pyoff_why));
}

static void find_anchor(struct elf_file *ef, Elf64_Word symtype, struct python_binary *pb)
{
	GElf_Sym sym;

	if (!elf_find_defined(ef, symtype, "Py_GetVersion", &sym) && GELF_ST_TYPE(sym.st_info) == STT_FUNC &&
	    !elf_vaddr_to_offset(ef, sym.st_value, &pb->anchor_offset))
		pb->anchor_vaddr = sym.st_value;
	if (!elf_find_defined(ef, symtype, "PyCode_Type", &sym) && GELF_ST_TYPE(sym.st_info) == STT_OBJECT)
		pb->code_type_vaddr = sym.st_value;
}

/* struct _gc_runtime_state.generation_stats of 3.14.5+ (3.14.10's DWARF) */
#define GC_STATS_OFF_314 120

/* 3.14's _Py_DebugOffsets has no offset for generation_stats: the debug
 * file's DWARF has it, else the value of the 3.14.5+ builds read here. */
static void find_gc_stats_314(struct python_binary *pb)
{
	struct dwarf_query q = { .type = "_gc_runtime_state", .members = { "generation_stats" } };
	const char *dwarf = pb->debug_path[0] ? pb->debug_path : !pb->stripped ? pb->open_path : NULL;

	if (pb->major != 3 || pb->minor != 14)
		return;
	pb->gc_stats_off = GC_STATS_OFF_314;
	pb->gc_stats_source = "built-in";
	if (dwarf && !dwarf_query_file(dwarf, &q, 1) && q.found) {
		pb->gc_stats_off = q.value;
		pb->gc_stats_source = "DWARF";
	}
}

#define ENDBR64_LEN 4

/*
 * CET builds (sid's) begin every function with endbr64, which Linux
 * single-steps. It writes no register and leaves the stack as it is, so the
 * next instruction sees the same arguments and, at the top of the stack,
 * the same return address (what a uretprobe takes): when the kernel
 * emulates that one, the site moves there and a hit is one trap. Every
 * path into the function passes it (calls and jumps go to the entry; an
 * indirect one must, to find the endbr64).
 */
static void price_site(struct elf_file *ef, bool kernel_nops, bool movable, struct code_site *s)
{
	uint8_t code[16];
	struct insn_cost next;

	/* a site near the end of its section: fewer bytes, decoded as far
	 * as they go */
	size_t len = sizeof(code);

	while (len && elf_read_vaddr(ef, s->vaddr, code, len))
		len /= 2;
	s->cost = insn_uprobe_cost(code, len, kernel_nops);
	if (!movable || s->cost.trap != INSN_TRAP_SINGLE_STEP || strcmp(s->cost.insn, "endbr64"))
		return;
	next = insn_uprobe_cost(code + ENDBR64_LEN, len - ENDBR64_LEN, kernel_nops);
	if (next.trap != INSN_TRAP_EMULATED)
		return;
	s->vaddr += ENDBR64_LEN;
	s->offset += ENDBR64_LEN;
	s->past_entry = ENDBR64_LEN;
	s->cost = next;
}

/* What a hit costs at every site found, read from the file's own code
 * (the debug file has none: its sections are NOBITS). */
static void price_sites(struct elf_file *ef, bool movable, struct python_binary *pb)
{
	struct utsname u;
	bool nops = !uname(&u) && insn_kernel_emulates_nops(u.release);
	int i;

	for (i = 0; i < pb->ncollectors; i++)
		price_site(ef, nops, movable, &pb->collectors[i]);
	for (i = 0; i < pb->narena_alloc; i++)
		price_site(ef, nops, movable, &pb->arena_alloc[i]);
	for (i = 0; i < pb->narena_free; i++)
		price_site(ef, nops, movable, &pb->arena_free[i]);
	for (i = 0; i < pb->npool_new; i++)
		price_site(ef, nops, movable, &pb->pool_new[i]);
	for (i = 0; i < pb->nsubtype_dealloc; i++)
		price_site(ef, nops, movable, &pb->subtype_dealloc[i]);
	for (i = 0; i < API__COUNT; i++)
		if (pb->has_api[i])
			price_site(ef, nops, movable, &pb->api[i]);
	if (pb->has_gc_usdt) {
		price_site(ef, nops, false, &pb->usdt_gc_start);
		price_site(ef, nops, false, &pb->usdt_gc_done);
	}
}

int resolve_python(const char *path, const struct resolve_opts *o, struct python_binary *pb)
{
	struct elf_file ef;
	Elf64_Word symtype;
	int err;

	memset(pb, 0, sizeof(*pb));
	snprintf(pb->path, sizeof(pb->path), "%s", path);
	snprintf(pb->open_path, sizeof(pb->open_path), "%s%s", o->root ? o->root : "", path);
	err = elf_file_open(&ef, pb->open_path);
	if (err)
		return err;
	err = cpython_symbols(&ef, &symtype, &pb->runtime_vaddr, &pb->runtime_size);
	if (!err)
		find_anchor(&ef, symtype, pb);
	if (!err)
		err = detect_version(&ef, symtype, pb);
	if (!err) {
		find_symbols(&ef, o, pb);
		find_api(&ef, symtype, pb);
		read_debug_offsets(&ef, pb);
		find_usdt(&ef, pb);
		find_gc_stats_314(pb);
		price_sites(&ef, !o->at_entry, pb);
	}
	elf_file_close(&ef);
	return err;
}
