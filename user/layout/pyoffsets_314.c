// SPDX-License-Identifier: MIT
/*
 * CPython 3.14's _Py_DebugOffsets (Include/internal/pycore_debug_offsets.h):
 * byte positions of the fields mmtrace reads. Checked against the DWARF of
 * struct _Py_DebugOffsets in Debian's 3.14.10 (tests/unit/test_pyoffsets.c).
 * New since 3.13 before our fields: interpreter_state.threads_main, three
 * interpreter_frame and one code_object field, the set_object group. The
 * values moved at 3.14.5 (the GC state grew), so they are always read from
 * the target.
 */
#include "pyoffsets.h"

const struct pyoff_schema pyoff_schema_314 = {
	.minor = 14,
	.size = 760,
	.pos = {
		[PYOFF_RUNTIME_SIZE] = 24,
		[PYOFF_RUNTIME_INTERPRETERS_HEAD] = 40,
		[PYOFF_INTERP_SIZE] = 48,
		[PYOFF_INTERP_NEXT] = 64,
		[PYOFF_INTERP_THREADS_HEAD] = 72,
		[PYOFF_INTERP_THREADS_MAIN] = 80,
		[PYOFF_INTERP_GC] = 88,
		[PYOFF_INTERP_CEVAL_GIL] = 120,
		[PYOFF_INTERP_GIL_RUNTIME_STATE] = 128,
		[PYOFF_INTERP_GIL_LOCKED] = 144,
		[PYOFF_INTERP_GIL_HOLDER] = 152,
		[PYOFF_THREAD_SIZE] = 176,
		[PYOFF_THREAD_NEXT] = 192,
		[PYOFF_THREAD_INTERP] = 200,
		[PYOFF_THREAD_CURRENT_FRAME] = 208,
		[PYOFF_THREAD_THREAD_ID] = 216,
		[PYOFF_THREAD_NATIVE_THREAD_ID] = 224,
		[PYOFF_FRAME_SIZE] = 248,
		[PYOFF_FRAME_PREVIOUS] = 256,
		[PYOFF_FRAME_EXECUTABLE] = 264,
		[PYOFF_FRAME_INSTR_PTR] = 272,
		[PYOFF_FRAME_OWNER] = 288,
		[PYOFF_CODE_SIZE] = 312,
		[PYOFF_CODE_FILENAME] = 320,
		[PYOFF_CODE_NAME] = 328,
		[PYOFF_CODE_QUALNAME] = 336,
		[PYOFF_CODE_LINETABLE] = 344,
		[PYOFF_CODE_FIRSTLINENO] = 352,
		[PYOFF_CODE_CO_CODE_ADAPTIVE] = 384,
		[PYOFF_OBJECT_SIZE] = 400,
		[PYOFF_OBJECT_OB_TYPE] = 408,
		[PYOFF_TYPE_SIZE] = 416,
		[PYOFF_TYPE_TP_NAME] = 424,
		[PYOFF_UNICODE_SIZE] = 616,
		[PYOFF_UNICODE_STATE] = 624,
		[PYOFF_UNICODE_LENGTH] = 632,
		[PYOFF_UNICODE_ASCIIOBJECT_SIZE] = 640,
		[PYOFF_GC_SIZE] = 648,
		[PYOFF_GC_COLLECTING] = 656,
	},
};
