// SPDX-License-Identifier: MIT
/*
 * Each address is the interpreter file's vaddr plus the load bias, which is
 * the same for every segment of one mapped object; it is measured at
 * Py_GetVersion, whose code is mapped from the file (_PyRuntime may be .bss).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "heap_layout.h"
#include "layout.h"

static void gc_chain(const struct python_binary *pb, const struct cpython_layout *l, uint64_t runtime,
		     struct heap_layout *hl)
{
	struct heap_chain *c = &hl->gcstate;

	memset(c, 0, sizeof(*c));
	c->base = runtime;
	hl->gc = true;
	hl->gc_enabled_off = l->gc_enabled;
	hl->gc_generations_off = l->gc_generations;
	if (l->runtime_gc) {
		c->last = l->runtime_gc;	/* 3.8: one GC state, in _PyRuntime */
		hl->gc_source = "built-in table (_PyRuntime.gc)";
		return;
	}
	c->nderef = 1;
	c->off[0] = l->runtime_interp_main;
	c->last = l->interp_gc;
	hl->gc_source = "built-in table (interpreters.main -> gc)";
	if (pb->has_debug_offsets) {
		c->last = pb->dbgoff_interp_gc;
		hl->gc_source = "_Py_DebugOffsets (interpreter_state.gc), interpreters.main from the built-in table";
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
	hl->arenas = MGMT_ARENAS;
	hl->maxarenas = MGMT_MAXARENAS;
	hl->narenas_current = MGMT_NARENAS_CURRENT;
	hl->ntimes_allocated = MGMT_NTIMES_ALLOCATED;
	hl->highwater = MGMT_HIGHWATER;
	snprintf(hl->pymalloc_source, sizeof(hl->pymalloc_source),
		 "built-in table (interpreters.main -> obmalloc.mgmt)");
}

int heap_layout_for(const struct python_binary *pb, const struct procmem *pm, struct heap_layout *hl,
		    char *why, size_t len)
{
	const struct cpython_layout *l = layout_for(pb->major, pb->minor);
	uint64_t runtime, anchor;

	memset(hl, 0, sizeof(*hl));
	if (!l) {
		snprintf(why, len, "CPython %d.%d has no verified layout in mmtrace (3.8 to 3.13 have)", pb->major,
			 pb->minor);
		return -ENOENT;
	}
	if (!pb->anchor_vaddr || procmem_file_addr(pm, pb->path, pb->anchor_offset, &anchor)) {
		snprintf(why, len, "%s is not mapped in the process (its code was not found)", pb->path);
		return -ENOENT;
	}
	runtime = pb->runtime_vaddr + (anchor - pb->anchor_vaddr);
	hl->pool_size = l->pool_size;
	hl->arena_size = l->arena_size;
	gc_chain(pb, l, runtime, hl);
	if (l->interp_obmalloc)
		pymalloc_in_interp(l, runtime, hl);
	else
		pymalloc_statics(pb, anchor - pb->anchor_vaddr, hl);
	return 0;
}
