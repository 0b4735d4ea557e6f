// SPDX-License-Identifier: MIT
/*
 * Offsets read with gdb (print &((T *)0)->field) from the DWARF of the pyenv
 * builds 3.8.18-3.13.0, and checked end to end: the tests find functions at
 * the lines inspect gives for them, on every cell of the matrix.
 */
#include <stddef.h>
#include "stack_layout.h"

struct version_layouts {
	int major, minor;
	struct py_stack_layout stack;
	struct code_layout code;
};

static const struct version_layouts table[] = {
	/* kind, via_gil, tstate_current, interp_main, interp_gil, last_holder, tstate_frame, cframe_current,
	 * frame_back, frame_code, frame_instr, frame_owner, code_adaptive */
	{ 3, 8, { STACK_FRAME_OBJECTS, 0, 1368, 40, 0, 0, 24, 0, 24, 32, 104, 0, 0 },
	  { 104, 112, 40, 120, LINES_LNOTAB, 48 } },
	{ 3, 9, { STACK_FRAME_OBJECTS, 0, 568, 40, 0, 0, 24, 0, 24, 32, 104, 0, 0 },
	  { 104, 112, 40, 120, LINES_LNOTAB, 48 } },
	{ 3, 10, { STACK_FRAME_OBJECTS, 0, 568, 40, 0, 0, 24, 0, 24, 32, 96, 0, 0 },
	  { 104, 112, 40, 120, LINES_LINETABLE, 48 } },
	{ 3, 11, { STACK_CFRAME, 0, 576, 48, 0, 0, 56, 8, 48, 32, 56, 69, 184 },
	  { 112, 128, 72, 136, LINES_LOCATIONS, 48 } },
	{ 3, 12, { STACK_CFRAME, 1, 0, 48, 384, 8, 56, 0, 8, 0, 56, 70, 192 },
	  { 112, 128, 68, 136, LINES_LOCATIONS, 40 } },
	{ 3, 13, { STACK_CURRENT_FRAME, 1, 0, 640, 16, 8, 72, 0, 8, 0, 56, 70, 200 },
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
