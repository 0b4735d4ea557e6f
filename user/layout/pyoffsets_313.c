// SPDX-License-Identifier: MIT
/*
 * CPython 3.13's _Py_DebugOffsets (Include/internal/pycore_runtime.h):
 * byte positions of the fields mmtrace reads. Checked against the DWARF of
 * struct _Py_DebugOffsets in Debian's 3.13.18 and pyenv's 3.13.0 (see
 * tests/unit/test_pyoffsets.c). The field list is fixed within a minor; the
 * values are not, so they are always read from the target.
 */
#include "pyoffsets.h"

const struct pyoff_schema pyoff_schema_313 = {
	.minor = 13,
	.size = 584,
	.pos = {
		[PYOFF_RUNTIME_SIZE] = 24,
		[PYOFF_RUNTIME_INTERPRETERS_HEAD] = 40,
		[PYOFF_INTERP_SIZE] = 48,
		[PYOFF_INTERP_NEXT] = 64,
		[PYOFF_INTERP_THREADS_HEAD] = 72,
		[PYOFF_INTERP_GC] = 80,
		[PYOFF_INTERP_CEVAL_GIL] = 112,
		[PYOFF_INTERP_GIL_RUNTIME_STATE] = 120,
		[PYOFF_INTERP_GIL_LOCKED] = 136,
		[PYOFF_INTERP_GIL_HOLDER] = 144,
		[PYOFF_THREAD_SIZE] = 152,
		[PYOFF_THREAD_NEXT] = 168,
		[PYOFF_THREAD_INTERP] = 176,
		[PYOFF_THREAD_CURRENT_FRAME] = 184,
		[PYOFF_THREAD_THREAD_ID] = 192,
		[PYOFF_THREAD_NATIVE_THREAD_ID] = 200,
		[PYOFF_FRAME_SIZE] = 224,
		[PYOFF_FRAME_PREVIOUS] = 232,
		[PYOFF_FRAME_EXECUTABLE] = 240,
		[PYOFF_FRAME_INSTR_PTR] = 248,
		[PYOFF_FRAME_OWNER] = 264,
		[PYOFF_CODE_SIZE] = 272,
		[PYOFF_CODE_FILENAME] = 280,
		[PYOFF_CODE_NAME] = 288,
		[PYOFF_CODE_QUALNAME] = 296,
		[PYOFF_CODE_LINETABLE] = 304,
		[PYOFF_CODE_FIRSTLINENO] = 312,
		[PYOFF_CODE_CO_CODE_ADAPTIVE] = 344,
		[PYOFF_OBJECT_SIZE] = 352,
		[PYOFF_OBJECT_OB_TYPE] = 360,
		[PYOFF_TYPE_SIZE] = 368,
		[PYOFF_TYPE_TP_NAME] = 376,
		[PYOFF_UNICODE_SIZE] = 536,
		[PYOFF_UNICODE_STATE] = 544,
		[PYOFF_UNICODE_LENGTH] = 552,
		[PYOFF_UNICODE_ASCIIOBJECT_SIZE] = 560,
		[PYOFF_GC_SIZE] = 568,
		[PYOFF_GC_COLLECTING] = 576,
	},
};
