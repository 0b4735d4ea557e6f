// SPDX-License-Identifier: MIT
/*
 * Offsets read with gdb (print &((T *)0)->field) from the DWARF of the pyenv
 * builds 3.8.18-3.13.0, and checked end to end: the tests find functions at
 * the lines inspect gives for them, on every cell of the matrix. From 3.13 on
 * the interpreter's own _Py_DebugOffsets are preferred: their values follow
 * the build (they change within a minor), the tables' do not.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include "resolve.h"
#include "stack_layout.h"

struct version_layouts {
	int major, minor;
	struct py_stack_layout stack;
	struct code_layout code;
};

static const struct version_layouts table[] = {
	/* kind, via_gil, tstate_current, interp_main, interp_gil, last_holder, tstate_frame, cframe_current,
	 * frame_back, frame_code, frame_instr, frame_owner, code_adaptive, code_tag_bits */
	{ 3, 8, { STACK_FRAME_OBJECTS, 0, 1368, 40, 0, 0, 24, 0, 24, 32, 104, 0, 0, 0 },
	  { 104, 112, 40, 120, LINES_LNOTAB, 48 } },
	{ 3, 9, { STACK_FRAME_OBJECTS, 0, 568, 40, 0, 0, 24, 0, 24, 32, 104, 0, 0, 0 },
	  { 104, 112, 40, 120, LINES_LNOTAB, 48 } },
	{ 3, 10, { STACK_FRAME_OBJECTS, 0, 568, 40, 0, 0, 24, 0, 24, 32, 96, 0, 0, 0 },
	  { 104, 112, 40, 120, LINES_LINETABLE, 48 } },
	{ 3, 11, { STACK_CFRAME, 0, 576, 48, 0, 0, 56, 8, 48, 32, 56, 69, 184, 0 },
	  { 112, 128, 72, 136, LINES_LOCATIONS, 48 } },
	{ 3, 12, { STACK_CFRAME, 1, 0, 48, 384, 8, 56, 0, 8, 0, 56, 70, 192, 0 },
	  { 112, 128, 68, 136, LINES_LOCATIONS, 40 } },
	{ 3, 13, { STACK_CURRENT_FRAME, 1, 0, 640, 16, 8, 72, 0, 8, 0, 56, 70, 200, 0 },
	  { 112, 128, 68, 136, LINES_LOCATIONS, 40 } },
};

static const struct version_layouts *find(int major, int minor)
{
	size_t i;

	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].major == major && table[i].minor == minor)
			return &table[i];
	return NULL;
}

const struct py_stack_layout *stack_layout_for(int major, int minor)
{
	const struct version_layouts *v = find(major, minor);

	return v ? &v->stack : NULL;
}

const struct code_layout *code_layout_for(int major, int minor)
{
	const struct version_layouts *v = find(major, minor);

	return v ? &v->code : NULL;
}

/* Every field the walk and the symboliser read, or none. */
static bool from_debug_offsets(const struct py_offsets *o, struct py_stack_layout *st, struct code_layout *co)
{
	static const enum pyoff_field need[] = {
		PYOFF_RUNTIME_INTERPRETERS_HEAD, PYOFF_INTERP_CEVAL_GIL, PYOFF_INTERP_GIL_RUNTIME_STATE,
		PYOFF_INTERP_GIL_HOLDER, PYOFF_THREAD_CURRENT_FRAME, PYOFF_FRAME_PREVIOUS, PYOFF_FRAME_EXECUTABLE,
		PYOFF_FRAME_INSTR_PTR, PYOFF_FRAME_OWNER, PYOFF_CODE_FILENAME, PYOFF_CODE_QUALNAME,
		PYOFF_CODE_LINETABLE, PYOFF_CODE_FIRSTLINENO, PYOFF_CODE_CO_CODE_ADAPTIVE,
		PYOFF_UNICODE_ASCIIOBJECT_SIZE,
	};
	uint64_t v[sizeof(need) / sizeof(need[0])];
	size_t i;

	if (o->major != 3 || o->minor < 13 || o->free_threaded)
		return false;	/* free-threaded: other tags, per-thread bytecode */
	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (!pyoff_get(o, need[i], &v[i]))
			return false;
	/* the holder's offset is given inside the interpreter (_gil inline);
	 * the walk follows ceval.gil, the GIL the interpreter runs under,
	 * which is its own _gil unless it shares the main one */
	if (v[3] < v[2] || v[3] - v[2] >= 64)
		return false;
	memset(st, 0, sizeof(*st));
	st->kind = STACK_CURRENT_FRAME;
	st->tstate_via_gil = 1;
	/* interpreters.head: the newest interpreter, the main one unless
	 * subinterpreters were made (debug offsets do not give .main) */
	st->interp_main = v[0];
	st->interp_gil = v[1];
	st->gil_last_holder = v[3] - v[2];
	st->tstate_frame = v[4];
	st->frame_back = v[5];
	st->frame_code = v[6];
	st->frame_instr = v[7];
	st->frame_owner = v[8];
	st->code_adaptive = v[13];
	/* 3.14's f_executable is a _PyStackRef (Py_TAG_BITS 3 in GIL builds) */
	st->code_tag_bits = o->minor >= 14 ? 3 : 0;
	memset(co, 0, sizeof(*co));
	co->filename = v[9];
	co->name = v[10];
	co->linetable = v[11];
	co->firstlineno = v[12];
	/* the 3.11 location table: _PyCodeLocationInfoKind is unchanged in 3.14 and 3.15 */
	co->lines = LINES_LOCATIONS;
	co->ascii_data = v[14];
	return true;
}

enum pyoff_source stack_layouts_of(const struct python_binary *pb, struct py_stack_layout *stack,
				   struct code_layout *code)
{
	const struct version_layouts *v;
	struct py_stack_layout st;
	struct code_layout co;

	if (pb->has_debug_offsets && from_debug_offsets(&pb->pyoff, &st, &co)) {
		if (stack)
			*stack = st;
		if (code)
			*code = co;
		return OFF_DEBUG_OFFSETS;
	}
	v = find(pb->major, pb->minor);
	if (!v)
		return OFF_NONE;
	if (stack)
		*stack = v->stack;
	if (code)
		*code = v->code;
	return OFF_TABLE;
}
