/* SPDX-License-Identifier: MIT */
/*
 * pyoffsets: CPython 3.13+ describes its own layout in _Py_DebugOffsets, the
 * first member of _PyRuntime ("xdebugpy", PY_VERSION_HEX, free_threaded, then
 * groups of uint64_t offsets and sizes). The struct has no size or schema
 * field and its field list changes with each minor, so this module owns one
 * schema per minor (pyoffsets_3NN.c): where each field mmtrace uses sits in
 * the struct. Every value read is checked before it is kept, and carries
 * where it came from.
 */
#ifndef MMTRACE_PYOFFSETS_H
#define MMTRACE_PYOFFSETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PYOFF_COOKIE "xdebugpy"
#define PYOFF_HEADER_SIZE 24	/* cookie, version, free_threaded */

enum pyoff_source {
	OFF_NONE = 0,		/* not known: absent in this minor, unread or rejected */
	OFF_DEBUG_OFFSETS,	/* the interpreter's own _Py_DebugOffsets */
	OFF_DWARF,		/* its debug information */
	OFF_TABLE,		/* mmtrace's built-in tables */
};

/* The groups of _Py_DebugOffsets that mmtrace reads from. */
enum pyoff_group {
	PYG_RUNTIME, PYG_INTERP, PYG_THREAD, PYG_FRAME, PYG_CODE, PYG_OBJECT, PYG_TYPE, PYG_UNICODE, PYG_GC,
	PYG__COUNT,
};

/* Each is named after its _Py_DebugOffsets member (group.field). */
enum pyoff_field {
	PYOFF_RUNTIME_SIZE, PYOFF_RUNTIME_INTERPRETERS_HEAD,
	PYOFF_INTERP_SIZE, PYOFF_INTERP_NEXT, PYOFF_INTERP_THREADS_HEAD,
	PYOFF_INTERP_THREADS_MAIN,	/* 3.14+ */
	PYOFF_INTERP_GC, PYOFF_INTERP_CEVAL_GIL, PYOFF_INTERP_GIL_RUNTIME_STATE,
	PYOFF_INTERP_GIL_LOCKED, PYOFF_INTERP_GIL_HOLDER,
	PYOFF_THREAD_SIZE, PYOFF_THREAD_NEXT, PYOFF_THREAD_INTERP, PYOFF_THREAD_CURRENT_FRAME,
	PYOFF_THREAD_BASE_FRAME,	/* 3.15+ */
	PYOFF_THREAD_THREAD_ID, PYOFF_THREAD_NATIVE_THREAD_ID,
	PYOFF_FRAME_SIZE, PYOFF_FRAME_PREVIOUS, PYOFF_FRAME_EXECUTABLE, PYOFF_FRAME_INSTR_PTR, PYOFF_FRAME_OWNER,
	PYOFF_CODE_SIZE, PYOFF_CODE_FILENAME, PYOFF_CODE_NAME, PYOFF_CODE_QUALNAME, PYOFF_CODE_LINETABLE,
	PYOFF_CODE_FIRSTLINENO, PYOFF_CODE_CO_CODE_ADAPTIVE,
	PYOFF_OBJECT_SIZE, PYOFF_OBJECT_OB_TYPE,
	PYOFF_TYPE_SIZE, PYOFF_TYPE_TP_NAME,
	PYOFF_UNICODE_SIZE, PYOFF_UNICODE_STATE, PYOFF_UNICODE_LENGTH, PYOFF_UNICODE_ASCIIOBJECT_SIZE,
	PYOFF_GC_SIZE, PYOFF_GC_COLLECTING,
	PYOFF_GC_FRAME,			/* 3.15+ */
	PYOFF_GC_GENERATION_STATS_SIZE,	/* 3.15+: sizeof(struct gc_stats), the ring */
	PYOFF_GC_GENERATION_STATS,	/* 3.15+: a pointer to it */
	PYOFF__COUNT,
};

/* Where a minor's fields sit inside its _Py_DebugOffsets: pos 0 (the
 * cookie's place) means the minor has no such field. */
struct pyoff_schema {
	int minor;
	size_t size;			/* sizeof(_Py_DebugOffsets) */
	uint16_t pos[PYOFF__COUNT];
};

extern const struct pyoff_schema pyoff_schema_313, pyoff_schema_314, pyoff_schema_315;

struct pyoff {
	uint64_t value;
	enum pyoff_source source;
};

struct py_offsets {
	uint64_t version;		/* PY_VERSION_HEX */
	int major, minor, micro;
	bool free_threaded;
	unsigned int unread;		/* groups not read: 1u << enum pyoff_group */
	unsigned int rejected;		/* groups with a field that failed a check */
	struct pyoff f[PYOFF__COUNT];
};

/*
 * Parses the raw bytes of a _Py_DebugOffsets (_PyRuntime's initial data in
 * the file, or process memory) of an interpreter believed to be major.minor.
 * Returns:
 *   0		every field of the minor's schema read and sane;
 *   -ERANGE	some groups unread (buffer too short) or fields rejected (see
 *		unread, rejected, why); the others are filled;
 *   -EOPNOTSUPP no schema for this minor (before 3.13, or newer than any
 *		known): the header is filled, every group is unread;
 *   -ENOMSG	no cookie; -EPROTO version is not major.minor or not a version;
 *   -EINVAL	shorter than the header.
 * A free-threaded build is parsed (its offsets are its own) and flagged.
 * why gets one line for the caller's messages; it may be NULL.
 */
int pyoffsets_parse(const void *buf, size_t len, int major, int minor, struct py_offsets *out, char *why,
		    size_t whylen);

/* The schema of a minor of 3.x, or NULL when there is none. */
const struct pyoff_schema *pyoffsets_schema(int major, int minor);

/* True, with the value, when the field is known from any source. */
bool pyoff_get(const struct py_offsets *o, enum pyoff_field f, uint64_t *value);

const char *pyoff_field_name(enum pyoff_field f);	/* "interpreter_state.gc" */
const char *pyoff_group_name(enum pyoff_group g);	/* "interpreter_state" */
enum pyoff_group pyoff_field_group(enum pyoff_field f);
const char *pyoff_source_name(enum pyoff_source s);

/* Names of the groups in mask, space-separated, into buf. */
void pyoff_groups_str(unsigned int mask, char *buf, size_t len);

#endif /* MMTRACE_PYOFFSETS_H */
