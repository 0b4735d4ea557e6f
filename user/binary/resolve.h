/* SPDX-License-Identifier: MIT */
/*
 * resolve: is this ELF file a CPython interpreter (by content, not name),
 * which version, where are its symbols (.dynsym, .symtab, build-id debug
 * file, .gnu_debuglink) and its USDT notes.
 */
#ifndef MMTRACE_RESOLVE_H
#define MMTRACE_RESOLVE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include "insn.h"
#include "pyoffsets.h"
#include "stop.h"

#define RESOLVE_MAX_COLLECTORS 8
#define RESOLVE_MAX_DEBUG_DIRS 4

enum sym_source {
	SYM_NONE = 0,
	SYM_DYNSYM,
	SYM_SYMTAB,
	SYM_BUILD_ID,	/* /usr/lib/debug/.build-id/xx/rest.debug */
	SYM_DEBUGLINK,	/* .gnu_debuglink in the usual directories */
};

struct code_site {
	char name[128];		/* symbol, or provider:name for USDT */
	uint64_t vaddr;
	uint64_t offset;	/* file offset in the probed binary */
	uint64_t sem_offset;	/* USDT semaphore file offset, 0 if none */
	struct insn_cost cost;	/* what a uprobe hit here costs (its instruction) */
	/* bytes past the function's entry (an endbr64) the site was moved by,
	 * so that a hit is one trap: vaddr and offset include them */
	uint32_t past_entry;
};

/* Exported functions probed by --alloc=exact: domain * 4 + call for the
 * allocators (the order of enum alloc_domain and enum alloc_call). */
enum api_fn {
	API_RAW_MALLOC, API_RAW_CALLOC, API_RAW_REALLOC, API_RAW_FREE,
	API_MEM_MALLOC, API_MEM_CALLOC, API_MEM_REALLOC, API_MEM_FREE,
	API_OBJ_MALLOC, API_OBJ_CALLOC, API_OBJ_REALLOC, API_OBJ_FREE,
	API_DEALLOC,		/* _Py_Dealloc(op) */
	API_CLEAR_WEAKREFS,	/* PyObject_ClearWeakRefs(op) */
	/* type-aware allocation: the type is the first argument */
	API_TYPE_GENERIC_ALLOC, API_OBJECT_NEW, API_OBJECT_NEWVAR, API_GC_NEW, API_GC_NEWVAR,
	API__COUNT,
};

/* pymalloc's static state in 3.8-3.11 (obmalloc.c), where symbols show it */
enum obmalloc_static {
	OBM_ARENAS, OBM_MAXARENAS, OBM_NARENAS_CURRENT, OBM_NTIMES_ALLOCATED, OBM_HIGHWATER,
	OBM__COUNT,
};

struct python_binary {
	char path[PATH_MAX];	  /* as the process sees it */
	char open_path[PATH_MAX]; /* what mmtrace opens and attaches to */
	char debug_path[PATH_MAX];
	int major, minor, micro;  /* micro is -1 when unknown */
	char version[32];
	const char *version_source;
	bool stripped;		  /* no .symtab in the binary itself */
	enum sym_source sym_source;
	uint64_t runtime_vaddr;	  /* _PyRuntime */
	uint64_t runtime_size;	  /* its symbol's size: the static storage it spans */
	/* a function mapped from the file: its address in a process gives the
	 * load bias (_PyRuntime itself may be .bss, which has no file offset) */
	uint64_t anchor_vaddr, anchor_offset;
	uint64_t code_type_vaddr;	/* PyCode_Type: tells a code object from anything else */
	struct code_site collectors[RESOLVE_MAX_COLLECTORS];
	int ncollectors;
	/* pymalloc's slow paths, where the symbols show them (see layout.h) */
	struct code_site arena_alloc[RESOLVE_MAX_COLLECTORS], arena_free[RESOLVE_MAX_COLLECTORS],
		pool_new[RESOLVE_MAX_COLLECTORS];
	int narena_alloc, narena_free, npool_new;
	struct code_site api[API__COUNT];	/* from the dynamic symbols */
	bool has_api[API__COUNT];
	/* every Python class's tp_dealloc: where LTO inlined _Py_Dealloc */
	struct code_site subtype_dealloc[RESOLVE_MAX_COLLECTORS];
	int nsubtype_dealloc;
	bool lto;		  /* its symbols show link-time optimisation clones */
	uint64_t obmalloc[OBM__COUNT];	  /* vaddrs, 0 when not found */
	/* 3.13+: _Py_DebugOffsets at the start of _PyRuntime's initial data;
	 * has_debug_offsets when it was read whole (pyoff may hold part of it
	 * otherwise, and pyoff_why says why) */
	bool has_debug_offsets;
	struct py_offsets pyoff;
	char pyoff_why[192];
	/* 3.14: generation_stats inside interp->gc, which _Py_DebugOffsets
	 * leaves out; gc_stats_source says where it came from ("DWARF" or
	 * "built-in"), NULL before 3.14 */
	uint64_t gc_stats_off;
	const char *gc_stats_source;
	struct code_site usdt_gc_start, usdt_gc_done;
	bool has_gc_usdt;
	char debug_hint[160];	  /* why no debug file was found, when stripped */
};

struct resolve_opts {
	/* debug file roots, default /usr/lib/debug */
	const char *debug_dirs[RESOLVE_MAX_DEBUG_DIRS];
	int ndebug_dirs;
	/* prefix for paths inside the target's mount namespace, e.g. /proc/PID/root */
	const char *root;
	/* set by SIGINT/SIGTERM: work over many files stops early (NULL: never) */
	const stop_flag *stop;
	/* the target's own root when it is not mmtrace's (/proc/PID/root): the
	 * debug directories are searched under it first, then on the host */
	const char *debug_root;
	/* --at-entry: every site at its function's first byte, even where a
	 * later one costs a hit less (for measuring the difference) */
	bool at_entry;
};

/*
 * Returns 0 when path is a CPython interpreter (executable or libpython),
 * -ENOEXEC when it is an ELF file but not CPython, other -errno on I/O errors.
 */
int resolve_python(const char *path, const struct resolve_opts *opts, struct python_binary *pb);

/* Parses a trailing "3.12.1"-style version from s; false when none. */
bool parse_python_version(const char *s, int *major, int *minor, int *micro);

/* True when name is base itself or base with LTO/IPA clone suffixes
 * (.lto_priv.N, .constprop.N, .isra.N), never a .cold or .part piece. */
bool symbol_is_clone_of(const char *name, const char *base);

const char *sym_source_name(enum sym_source s);
const char *api_name(enum api_fn f);
const char *obmalloc_static_name(enum obmalloc_static s);

#endif /* MMTRACE_RESOLVE_H */
