// SPDX-License-Identifier: MIT
/*
 * Each address is the interpreter file's vaddr plus the load bias, which is
 * the same for every segment of one mapped object; it is measured at
 * Py_GetVersion, whose code is mapped from the file (_PyRuntime may be .bss).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "dwarf_layout.h"
#include "heap_layout.h"
#include "layout.h"

#define KIB 1024ull

/*
 * 3.14 and 3.15 have no entry in layout.c's table: what --heap needs that
 * _Py_DebugOffsets leaves out (gcstate.enabled and .generations; the
 * pymalloc geometry) per minor, read with gdb (ptype /o) from Debian sid's
 * debug files (3.14.10, 3.15.2) and, for 3.14, the same in 3.14.0-3.14.7's
 * sources. DWARF, where the process has it, still wins.
 */
struct heap_minor {
	int minor;
	uint64_t gc_enabled, gc_generations;
};

static const struct heap_minor minors[] = {
	{ 14, 12, 24 },
	{ 15, 0, 8 },	/* 3.15 dropped trash_delete_* from the front */
};

/*
 * Per micro, where a micro differs from its minor or where a field is not
 * in _Py_DebugOffsets and moves between micros (PyInterpreterState.obmalloc
 * moved +24 at 3.14.5). Each row was read from that micro's DWARF (Debian
 * sid's -dbg files) and checked against sys._debugmallocstats() and
 * gc.get_count() by tests/e2e/test_sid_heap.py; a micro not listed gets
 * no obmalloc offset without DWARF, never a guess.
 */
struct heap_micro {
	int minor, micro;
	uint64_t gc_generations;	/* 0: the minor's */
	uint64_t interp_obmalloc;	/* PyInterpreterState.obmalloc (a pointer) */
};

static const struct heap_micro micros[] = {
	{ 13, 18, 20, 0x2a30 },	/* Debian 3.13.18: generations at +20, not 3.13.0's +24 */
	{ 14, 10, 0, 0x2a98 },
	{ 15, 2, 0, 0x2a80 },
};

static const struct heap_micro *micro_for(const struct python_binary *pb)
{
	size_t i;

	if (pb->major != 3 || pb->micro < 0)
		return NULL;
	for (i = 0; i < sizeof(micros) / sizeof(micros[0]); i++)
		if (micros[i].minor == pb->minor && micros[i].micro == pb->micro)
			return &micros[i];
	return NULL;
}

/* A layout for 3.14+ from _Py_DebugOffsets and the built-ins above. */
static bool layout_from_debug_offsets(const struct python_binary *pb, struct cpython_layout *l, char *why,
				      size_t len)
{
	const struct heap_minor *m = NULL;
	uint64_t head, gc;
	size_t i;

	for (i = 0; i < sizeof(minors) / sizeof(minors[0]); i++)
		if (pb->major == 3 && minors[i].minor == pb->minor)
			m = &minors[i];
	if (!m) {
		snprintf(why, len, "CPython %d.%d has no verified layout in mmtrace (3.8 to 3.15 have)", pb->major,
			 pb->minor);
		return false;
	}
	if (!pyoff_get(&pb->pyoff, PYOFF_RUNTIME_INTERPRETERS_HEAD, &head) ||
	    !pyoff_get(&pb->pyoff, PYOFF_INTERP_GC, &gc)) {
		snprintf(why, len, "CPython %d.%d: its _Py_DebugOffsets were not read (%s)", pb->major, pb->minor,
			 pb->pyoff_why[0] ? pb->pyoff_why : "no reason recorded");
		return false;
	}
	memset(l, 0, sizeof(*l));
	l->major = pb->major;
	l->minor = pb->minor;
	/* the list's head is the newest interpreter: the main one unless
	 * subinterpreters exist (the DWARF, when present, names main) */
	l->runtime_interp_main = head;
	l->interp_gc = gc;
	l->gc_enabled = m->gc_enabled;
	l->gc_generations = m->gc_generations;
	l->obmalloc_is_ptr = true;
	l->obmalloc_mgmt = 512;	/* pools.used[64] first, as in 3.12-3.13 */
	l->growth = *growth_layout_for(3, 14);	/* a newer minor: 3.14's obmalloc sizes */
	if (growth_layout_for(pb->major, pb->minor))
		l->growth = *growth_layout_for(pb->major, pb->minor);
	return true;
}

/* 3.15: gc.get_stats()'s ring, entirely through _Py_DebugOffsets. */
static void gc_ring(const struct python_binary *pb, struct heap_layout *hl)
{
	uint64_t off, size;

	if (pb->major == 3 && pb->minor < 15) {
		snprintf(hl->gc_ring_why, sizeof(hl->gc_ring_why), "CPython %d.%d keeps no GC stats ring (3.15+)",
			 pb->major, pb->minor);
		return;
	}
	if (pb->pyoff.free_threaded) {
		snprintf(hl->gc_ring_why, sizeof(hl->gc_ring_why), "free-threaded build: its rings hold one "
			 "record each, a layout mmtrace does not read");
		return;
	}
	if (!pyoff_get(&pb->pyoff, PYOFF_GC_GENERATION_STATS, &off) ||
	    !pyoff_get(&pb->pyoff, PYOFF_GC_GENERATION_STATS_SIZE, &size)) {
		snprintf(hl->gc_ring_why, sizeof(hl->gc_ring_why), "_Py_DebugOffsets has no gc.generation_stats");
		return;
	}
	hl->gc_ring = true;
	hl->gc_ring_ptr_off = off;
	hl->gc_ring_size = size;
}

static void gc_chain(const struct python_binary *pb, const struct cpython_layout *l, uint64_t runtime,
		     bool from_head, struct heap_layout *hl)
{
	struct heap_chain *c = &hl->gcstate;
	uint64_t gc;

	memset(c, 0, sizeof(*c));
	c->base = runtime;
	hl->gc = true;
	hl->gc_enabled_off = l->gc_enabled;
	hl->gc_generations_off = l->gc_generations;
	if (l->runtime_gc) {
		c->last = l->runtime_gc;	/* 3.8: one GC state, in _PyRuntime */
		hl->gc_source = "_PyRuntime.gc";
		return;
	}
	c->nderef = 1;
	c->off[0] = l->runtime_interp_main;
	c->last = l->interp_gc;
	hl->gc_source = "interpreters.main -> gc";
	if (pyoff_get(&pb->pyoff, PYOFF_INTERP_GC, &gc)) {
		c->last = gc;
		hl->gc_source = from_head ? "interpreters.head -> gc, both offsets from _Py_DebugOffsets" :
			"interpreters.main -> gc, gc's offset from _Py_DebugOffsets";
	}
	gc_ring(pb, hl);
}

static bool statics_found(const struct python_binary *pb, char *why, size_t len)
{
	int i;

	for (i = 0; i < OBM__COUNT; i++) {
		if (pb->obmalloc[i])
			continue;
		if (pb->stripped && pb->sym_source == SYM_DYNSYM)
			snprintf(why, len, "stripped build: pymalloc's state is in static variables; install its "
				 "debug symbols (Debian: python%d.%d-dbg)", pb->major, pb->minor);
		else
			snprintf(why, len, "no symbol %s in %s", obmalloc_static_name(i), sym_source_name(pb->sym_source));
		return false;
	}
	return true;
}

static void pymalloc_statics(const struct python_binary *pb, uint64_t bias, struct heap_layout *hl)
{
	if (!statics_found(pb, hl->why, sizeof(hl->why)))
		return;
	hl->pymalloc = true;
	hl->arenas = pb->obmalloc[OBM_ARENAS] + bias;
	hl->maxarenas = pb->obmalloc[OBM_MAXARENAS] + bias;
	hl->narenas_current = pb->obmalloc[OBM_NARENAS_CURRENT] + bias;
	hl->ntimes_allocated = pb->obmalloc[OBM_NTIMES_ALLOCATED] + bias;
	hl->highwater = pb->obmalloc[OBM_HIGHWATER] + bias;
	snprintf(hl->pymalloc_source, sizeof(hl->pymalloc_source), "obmalloc.c statics (%s)",
		 sym_source_name(pb->sym_source));
}

/* 3.12+: the state moved into the interpreter (3.13: behind a pointer). */
static void pymalloc_in_interp(const struct cpython_layout *l, uint64_t runtime, bool from_head,
			       const char *from, struct heap_layout *hl)
{
	struct heap_chain *c = &hl->mgmt;

	memset(c, 0, sizeof(*c));
	c->base = runtime;
	c->off[c->nderef++] = l->runtime_interp_main;
	if (l->obmalloc_is_ptr) {
		c->off[c->nderef++] = l->interp_obmalloc;
		c->last = l->obmalloc_mgmt;
	} else {
		c->last = l->interp_obmalloc + l->obmalloc_mgmt;
	}
	hl->pymalloc = true;
	hl->fields_are_offsets = true;
	snprintf(hl->pymalloc_source, sizeof(hl->pymalloc_source), "interpreters.%s -> %sobmalloc.mgmt%s%s",
		 from_head ? "head" : "main", l->obmalloc_is_ptr ? "*" : "", from ? ", obmalloc's offset from " : "",
		 from ? from : "");
}

/* Where the DWARF is: the binary's own, or its debug file. */
static const char *dwarf_file(const struct python_binary *pb)
{
	if (!pb->stripped)
		return pb->open_path;
	return pb->debug_path[0] ? pb->debug_path : NULL;
}

static void take(const struct dwarf_offsets *d, enum dwarf_field f, uint64_t *field, int *taken, int *differ)
{
	if (!d->found[f])
		return;
	*differ += *field != d->off[f];
	*field = d->off[f];
	(*taken)++;
}

/* The fields apply_dwarf takes for this layout. */
static uint32_t wanted_fields(const struct cpython_layout *l, bool in_interp)
{
	uint32_t w = 1u << DW_RUNTIME_INTERP_MAIN | 1u << DW_GC_ENABLED | 1u << DW_GC_GENERATIONS;

	w |= l->runtime_gc ? 1u << DW_RUNTIME_GC : 1u << DW_INTERP_GC;
	if (in_interp)
		w |= 1u << DW_INTERP_OBMALLOC | 1u << DW_OBMALLOC_MGMT | 1u << DW_MGMT_ARENAS |
		     1u << DW_MGMT_MAXARENAS | 1u << DW_MGMT_NARENAS_CURRENT | 1u << DW_MGMT_NTIMES |
		     1u << DW_MGMT_HIGHWATER;
	return w;
}

/* The interpreter's own DWARF, where it has it, over mmtrace's table; true
 * when it gave PyInterpreterState.obmalloc. */
static bool apply_dwarf(const struct python_binary *pb, struct dwarf_cache *dc, struct cpython_layout *l,
			bool in_interp, bool from_table, struct heap_layout *hl)
{
	const char *path = dwarf_file(pb);
	const struct dwarf_offsets *dp = &dc->d;
	int taken = 0, differ = 0, ignored = 0;	/* a count of differences that mean nothing */

	if (!path)
		return false;
	if (!dc->done) {
		dc->rc = dwarf_heap_offsets(path, wanted_fields(l, in_interp), &dc->d);
		dc->done = true;
	}
	if (dc->rc)
		return false;
	/* without a table, the built-in is interpreters.head, another field:
	 * that it differs from interpreters.main says nothing */
	take(dp, DW_RUNTIME_INTERP_MAIN, &l->runtime_interp_main, &taken, from_table ? &differ : &ignored);
	if (l->runtime_gc)
		take(dp, DW_RUNTIME_GC, &l->runtime_gc, &taken, &differ);
	else
		take(dp, DW_INTERP_GC, &l->interp_gc, &taken, &differ);
	take(dp, DW_GC_ENABLED, &l->gc_enabled, &taken, &differ);
	take(dp, DW_GC_GENERATIONS, &l->gc_generations, &taken, &differ);
	if (in_interp) {
		/* no row for this micro (0) is no disagreement */
		take(dp, DW_INTERP_OBMALLOC, &l->interp_obmalloc, &taken,
		     l->interp_obmalloc ? &differ : &ignored);
		take(dp, DW_OBMALLOC_MGMT, &l->obmalloc_mgmt, &taken, &differ);
		if (dp->found[DW_INTERP_OBMALLOC])
			l->obmalloc_is_ptr = dp->obmalloc_is_ptr;
		take(dp, DW_MGMT_ARENAS, &hl->arenas, &taken, &differ);
		take(dp, DW_MGMT_MAXARENAS, &hl->maxarenas, &taken, &differ);
		take(dp, DW_MGMT_NARENAS_CURRENT, &hl->narenas_current, &taken, &differ);
		take(dp, DW_MGMT_NTIMES, &hl->ntimes_allocated, &taken, &differ);
		take(dp, DW_MGMT_HIGHWATER, &hl->highwater, &taken, &differ);
	}
	if (taken)
		snprintf(hl->offsets_source, sizeof(hl->offsets_source), "DWARF of %s (%d offsets%s)",
			 path == pb->open_path ? pb->path : path, taken,
			 differ ? ", some unlike mmtrace's table: DWARF wins" : ", as in mmtrace's table");
	return in_interp && dp->found[DW_INTERP_OBMALLOC];
}

int interp_load_bias(const struct python_binary *pb, const struct procmem *pm, uint64_t *bias)
{
	return procmem_load_bias(pm, pb->path, pb->anchor_offset, pb->anchor_vaddr, bias);
}

int heap_layout_for(const struct python_binary *pb, const struct procmem *pm, struct dwarf_cache *dc,
		    struct heap_layout *hl, char *why, size_t len)
{
	const struct cpython_layout *table = layout_for(pb->major, pb->minor);
	const struct heap_micro *micro = micro_for(pb);
	struct cpython_layout eff, *l = &eff;
	bool in_interp = pb->major == 3 && pb->minor >= 12, from_head;
	const char *obm_from = NULL;
	char builtin[64] = "";
	uint64_t runtime, bias;

	memset(hl, 0, sizeof(*hl));
	if (table)
		eff = *table;
	else if (!layout_from_debug_offsets(pb, &eff, why, len))
		return -ENOENT;
	if (interp_load_bias(pb, pm, &bias)) {
		snprintf(why, len, "%s is not mapped in the process (its code was not found)", pb->path);
		return -ENOENT;
	}
	runtime = pb->runtime_vaddr + bias;
	snprintf(hl->offsets_source, sizeof(hl->offsets_source), table ? "mmtrace's table for CPython %d.%d%s" :
		 "_Py_DebugOffsets and mmtrace's built-ins for CPython %d.%d%s", pb->major, pb->minor,
		 micro ? " (and its row for this micro)" : "");
	if (table && pb->minor < 14)
		obm_from = "mmtrace's table";	/* 3.12-3.13: one offset per minor */
	else
		eff.interp_obmalloc = 0;	/* 3.14+: per micro or nothing */
	if (micro) {
		if (micro->gc_generations)
			eff.gc_generations = micro->gc_generations;
		eff.interp_obmalloc = micro->interp_obmalloc;
		snprintf(builtin, sizeof(builtin), "mmtrace's row for %s", pb->version);
		obm_from = builtin;
	}
	hl->arenas = MGMT_ARENAS;
	hl->maxarenas = MGMT_MAXARENAS;
	hl->narenas_current = MGMT_NARENAS_CURRENT;
	hl->ntimes_allocated = MGMT_NTIMES_ALLOCATED;
	hl->highwater = MGMT_HIGHWATER;
	if (apply_dwarf(pb, dc, &eff, in_interp, table != NULL, hl))
		obm_from = "DWARF";
	/* without a table and without DWARF naming interpreters.main */
	from_head = !table && !(dc->done && !dc->rc && dc->d.found[DW_RUNTIME_INTERP_MAIN]);
	hl->pool_size = l->growth.pool_size;
	hl->arena_size = l->growth.arena_size;
	gc_chain(pb, l, runtime, from_head, hl);
	if (in_interp && l->interp_obmalloc)
		pymalloc_in_interp(l, runtime, from_head, obm_from, hl);
	else if (in_interp)
		/* the one offset --heap needs that _Py_DebugOffsets lacks */
		snprintf(hl->why, sizeof(hl->why), "unavailable: PyInterpreterState.obmalloc is not in "
			 "_Py_DebugOffsets and moves between micros (3.14.5 moved it); mmtrace has no row for "
			 "%s and no DWARF was found (Debian: python%d.%d-dbg)", pb->version, pb->major, pb->minor);
	else
		pymalloc_statics(pb, bias, hl);
	return 0;
}
