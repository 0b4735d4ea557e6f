// SPDX-License-Identifier: MIT
/*
 * The interpreter's own _Py_DebugOffsets is what mmtrace uses from 3.13 on;
 * a debug file's DWARF, where there is one, says the same in another way.
 * Reading it costs a pass over a large file (~0.4 s for sid's 3.14), so
 * the cross-check is made for --probes, not at every attach.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "pyoffsets_dwarf.h"
#include "resolve.h"

/* The names are CPython's own (3.13-3.15). */
static const struct {
	const char *type;
	const char *members[DWARF_QUERY_DEPTH];
} where[PYOFF__COUNT] = {
	[PYOFF_RUNTIME_SIZE] = { "pyruntimestate", { NULL } },
	[PYOFF_RUNTIME_INTERPRETERS_HEAD] = { "pyruntimestate", { "interpreters", "head" } },
	[PYOFF_INTERP_SIZE] = { "_is", { NULL } },
	[PYOFF_INTERP_NEXT] = { "_is", { "next" } },
	[PYOFF_INTERP_THREADS_HEAD] = { "_is", { "threads", "head" } },
	[PYOFF_INTERP_THREADS_MAIN] = { "_is", { "threads", "main" } },
	[PYOFF_INTERP_GC] = { "_is", { "gc" } },
	[PYOFF_INTERP_CEVAL_GIL] = { "_is", { "ceval", "gil" } },
	[PYOFF_INTERP_GIL_RUNTIME_STATE] = { "_is", { "_gil" } },
	[PYOFF_INTERP_GIL_LOCKED] = { "_is", { "_gil", "locked" } },
	[PYOFF_INTERP_GIL_HOLDER] = { "_is", { "_gil", "last_holder" } },
	[PYOFF_THREAD_SIZE] = { "_ts", { NULL } },
	[PYOFF_THREAD_NEXT] = { "_ts", { "next" } },
	[PYOFF_THREAD_INTERP] = { "_ts", { "interp" } },
	[PYOFF_THREAD_CURRENT_FRAME] = { "_ts", { "current_frame" } },
	[PYOFF_THREAD_BASE_FRAME] = { "_ts", { "base_frame" } },
	[PYOFF_THREAD_THREAD_ID] = { "_ts", { "thread_id" } },
	[PYOFF_THREAD_NATIVE_THREAD_ID] = { "_ts", { "native_thread_id" } },
	[PYOFF_FRAME_SIZE] = { "_PyInterpreterFrame", { NULL } },
	[PYOFF_FRAME_PREVIOUS] = { "_PyInterpreterFrame", { "previous" } },
	[PYOFF_FRAME_EXECUTABLE] = { "_PyInterpreterFrame", { "f_executable" } },
	[PYOFF_FRAME_INSTR_PTR] = { "_PyInterpreterFrame", { "instr_ptr" } },
	[PYOFF_FRAME_OWNER] = { "_PyInterpreterFrame", { "owner" } },
	[PYOFF_CODE_SIZE] = { "PyCodeObject", { NULL } },
	[PYOFF_CODE_FILENAME] = { "PyCodeObject", { "co_filename" } },
	[PYOFF_CODE_NAME] = { "PyCodeObject", { "co_name" } },
	[PYOFF_CODE_QUALNAME] = { "PyCodeObject", { "co_qualname" } },
	[PYOFF_CODE_LINETABLE] = { "PyCodeObject", { "co_linetable" } },
	[PYOFF_CODE_FIRSTLINENO] = { "PyCodeObject", { "co_firstlineno" } },
	[PYOFF_CODE_CO_CODE_ADAPTIVE] = { "PyCodeObject", { "co_code_adaptive" } },
	[PYOFF_OBJECT_SIZE] = { "_object", { NULL } },
	[PYOFF_OBJECT_OB_TYPE] = { "_object", { "ob_type" } },
	[PYOFF_TYPE_SIZE] = { "_typeobject", { NULL } },
	[PYOFF_TYPE_TP_NAME] = { "_typeobject", { "tp_name" } },
	[PYOFF_UNICODE_SIZE] = { "PyUnicodeObject", { NULL } },
	[PYOFF_UNICODE_STATE] = { "PyASCIIObject", { "state" } },
	[PYOFF_UNICODE_LENGTH] = { "PyASCIIObject", { "length" } },
	[PYOFF_UNICODE_ASCIIOBJECT_SIZE] = { "PyASCIIObject", { NULL } },
	[PYOFF_GC_SIZE] = { "_gc_runtime_state", { NULL } },
	[PYOFF_GC_COLLECTING] = { "_gc_runtime_state", { "collecting" } },
	[PYOFF_GC_FRAME] = { "_gc_runtime_state", { "frame" } },
	[PYOFF_GC_GENERATION_STATS_SIZE] = { "gc_stats", { NULL } },
	[PYOFF_GC_GENERATION_STATS] = { "_gc_runtime_state", { "generation_stats" } },
};

void pyoff_dwarf_query(enum pyoff_field f, struct dwarf_query *q)
{
	memset(q, 0, sizeof(*q));
	if ((unsigned int)f >= PYOFF__COUNT)
		return;
	q->type = where[f].type;
	memcpy(q->members, where[f].members, sizeof(q->members));
}

int pyoff_crosscheck(const struct py_offsets *o, const char *path, struct pyoff_check *out)
{
	struct dwarf_query q[PYOFF__COUNT];
	int f, rc;

	memset(out, 0, sizeof(*out));
	for (f = 0; f < PYOFF__COUNT; f++)
		pyoff_dwarf_query(f, &q[f]);
	rc = dwarf_query_file(path, q, PYOFF__COUNT);
	if (rc)
		return rc;
	for (f = 0; f < PYOFF__COUNT; f++) {
		if (o->f[f].source != OFF_DEBUG_OFFSETS)
			continue;
		if (!q[f].found)
			out->not_in_dwarf++;
		else if (q[f].value == o->f[f].value)
			out->agree++;
		else if (!out->differ++) {
			out->first_differ = f;
			out->dwarf_value = q[f].value;
		}
	}
	return 0;
}

void pyoff_check_str(const struct py_offsets *o, const struct pyoff_check *c, char *buf, size_t len)
{
	if (!c->differ) {
		snprintf(buf, len, "all %d agree (%d not in the DWARF)", c->agree, c->not_in_dwarf);
		return;
	}
	snprintf(buf, len, "%d DIFFER, e.g. %s %llu (DWARF %llu); %d agree; _Py_DebugOffsets is used", c->differ,
		 pyoff_field_name(c->first_differ), (unsigned long long)o->f[c->first_differ].value,
		 (unsigned long long)c->dwarf_value, c->agree);
}

void pyoff_describe(const struct python_binary *pb, char *buf, size_t len)
{
	const char *dwarf = pb->debug_path[0] ? pb->debug_path : !pb->stripped ? pb->open_path : NULL;
	struct pyoff_check c;
	char check[192];
	int f, n = 0;

	if (pb->major != 3 || pb->minor < 13) {
		snprintf(buf, len, "mmtrace's tables for CPython %d.%d (no _Py_DebugOffsets before 3.13)", pb->major,
			 pb->minor);
		return;
	}
	if (!pb->has_debug_offsets) {
		snprintf(buf, len, "no usable _Py_DebugOffsets: %s", pb->pyoff_why);
		return;
	}
	for (f = 0; f < PYOFF__COUNT; f++)
		n += pb->pyoff.f[f].source == OFF_DEBUG_OFFSETS;
	if (!dwarf)
		snprintf(check, sizeof(check), "no DWARF here to cross-check them");
	else if (pyoff_crosscheck(&pb->pyoff, dwarf, &c))
		snprintf(check, sizeof(check), "no DWARF in %s to cross-check them", dwarf);
	else {
		char what[160];

		pyoff_check_str(&pb->pyoff, &c, what, sizeof(what));
		snprintf(check, sizeof(check), "cross-checked with its DWARF: %s", what);
	}
	snprintf(buf, len, "%d from the file's _Py_DebugOffsets (PY_VERSION_HEX 0x%08llx); %s", n,
		 (unsigned long long)pb->pyoff.version, check);
}
