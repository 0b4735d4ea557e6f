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

static void gc_chain(const struct python_binary *pb, const struct cpython_layout *l, uint64_t runtime,
		     struct heap_layout *hl)
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
		hl->gc_source = "interpreters.main -> gc, gc's offset from _Py_DebugOffsets";
	}
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
static void pymalloc_in_interp(const struct cpython_layout *l, uint64_t runtime, struct heap_layout *hl)
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
	snprintf(hl->pymalloc_source, sizeof(hl->pymalloc_source), "interpreters.main -> %sobmalloc.mgmt",
		 l->obmalloc_is_ptr ? "*" : "");
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

/* The interpreter's own DWARF, where it has it, over mmtrace's table. */
static void apply_dwarf(const struct python_binary *pb, struct dwarf_cache *dc, struct cpython_layout *l,
			struct heap_layout *hl)
{
	const char *path = dwarf_file(pb);
	const struct dwarf_offsets *dp = &dc->d;
	int taken = 0, differ = 0;

	if (!path)
		return;
	if (!dc->done) {
		dc->rc = dwarf_heap_offsets(path, &dc->d);
		dc->done = true;
	}
	if (dc->rc)
		return;
	take(dp, DW_RUNTIME_INTERP_MAIN, &l->runtime_interp_main, &taken, &differ);
	if (l->runtime_gc)
		take(dp, DW_RUNTIME_GC, &l->runtime_gc, &taken, &differ);
	else
		take(dp, DW_INTERP_GC, &l->interp_gc, &taken, &differ);
	take(dp, DW_GC_ENABLED, &l->gc_enabled, &taken, &differ);
	take(dp, DW_GC_GENERATIONS, &l->gc_generations, &taken, &differ);
	if (l->interp_obmalloc) {
		take(dp, DW_INTERP_OBMALLOC, &l->interp_obmalloc, &taken, &differ);
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
}

int interp_load_bias(const struct python_binary *pb, const struct procmem *pm, uint64_t *bias)
{
	uint64_t anchor;

	if (!pb->anchor_vaddr || procmem_file_addr(pm, pb->path, pb->anchor_offset, &anchor))
		return -ENOENT;
	*bias = anchor - pb->anchor_vaddr;
	return 0;
}

int heap_layout_for(const struct python_binary *pb, const struct procmem *pm, struct dwarf_cache *dc,
		    struct heap_layout *hl, char *why, size_t len)
{
	const struct cpython_layout *table = layout_for(pb->major, pb->minor);
	struct cpython_layout eff, *l = &eff;
	uint64_t runtime, bias;

	memset(hl, 0, sizeof(*hl));
	if (!table) {
		snprintf(why, len, "CPython %d.%d has no verified layout in mmtrace (3.8 to 3.13 have)", pb->major,
			 pb->minor);
		return -ENOENT;
	}
	if (interp_load_bias(pb, pm, &bias)) {
		snprintf(why, len, "%s is not mapped in the process (its code was not found)", pb->path);
		return -ENOENT;
	}
	runtime = pb->runtime_vaddr + bias;
	eff = *table;
	snprintf(hl->offsets_source, sizeof(hl->offsets_source), "mmtrace's table for CPython %d.%d", pb->major,
		 pb->minor);
	hl->arenas = MGMT_ARENAS;
	hl->maxarenas = MGMT_MAXARENAS;
	hl->narenas_current = MGMT_NARENAS_CURRENT;
	hl->ntimes_allocated = MGMT_NTIMES_ALLOCATED;
	hl->highwater = MGMT_HIGHWATER;
	apply_dwarf(pb, dc, &eff, hl);
	hl->pool_size = l->pool_size;
	hl->arena_size = l->arena_size;
	gc_chain(pb, l, runtime, hl);
	if (l->interp_obmalloc)
		pymalloc_in_interp(l, runtime, hl);
	else
		pymalloc_statics(pb, bias, hl);
	return 0;
}
