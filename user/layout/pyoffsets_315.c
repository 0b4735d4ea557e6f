// SPDX-License-Identifier: MIT
/*
 * CPython 3.15's _Py_DebugOffsets (Include/internal/pycore_debug_offsets.h):
 * byte positions of the fields mmtrace reads. Checked against the DWARF of
 * struct _Py_DebugOffsets in Debian's 3.15.2 (tests/unit/test_pyoffsets.c).
 * New since 3.14: thread_state.base_frame and six more thread_state fields,
 * the err_stackitem and heap_type_object groups, and in the gc group the
 * frame that started a collection and the statistics ring (a pointer, and
 * the size of the block it points to).
 */
#include "pyoffsets.h"

const struct pyoff_schema pyoff_schema_315 = {
	.minor = 15,
	.size = 888,
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
		[PYOFF_THREAD_BASE_FRAME] = 216,
		[PYOFF_THREAD_THREAD_ID] = 240,
		[PYOFF_THREAD_NATIVE_THREAD_ID] = 248,
		[PYOFF_FRAME_SIZE] = 312,
		[PYOFF_FRAME_PREVIOUS] = 320,
		[PYOFF_FRAME_EXECUTABLE] = 328,
		[PYOFF_FRAME_INSTR_PTR] = 336,
		[PYOFF_FRAME_OWNER] = 352,
		[PYOFF_CODE_SIZE] = 376,
		[PYOFF_CODE_FILENAME] = 384,
		[PYOFF_CODE_NAME] = 392,
		[PYOFF_CODE_QUALNAME] = 400,
		[PYOFF_CODE_LINETABLE] = 408,
		[PYOFF_CODE_FIRSTLINENO] = 416,
		[PYOFF_CODE_CO_CODE_ADAPTIVE] = 448,
		[PYOFF_OBJECT_SIZE] = 464,
		[PYOFF_OBJECT_OB_TYPE] = 472,
		[PYOFF_TYPE_SIZE] = 480,
		[PYOFF_TYPE_TP_NAME] = 488,
		[PYOFF_UNICODE_SIZE] = 712,
		[PYOFF_UNICODE_STATE] = 720,
		[PYOFF_UNICODE_LENGTH] = 728,
		[PYOFF_UNICODE_ASCIIOBJECT_SIZE] = 736,
		[PYOFF_GC_SIZE] = 752,
		[PYOFF_GC_COLLECTING] = 760,
		[PYOFF_GC_FRAME] = 768,
		[PYOFF_GC_GENERATION_STATS_SIZE] = 776,
		[PYOFF_GC_GENERATION_STATS] = 784,
	},
};
