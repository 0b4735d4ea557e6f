// SPDX-License-Identifier: MIT
/*
 * The bytes come from a file or a process mmtrace does not trust: every
 * position is checked against the buffer's length, and every value against
 * the size of the struct it indexes into (also read from the buffer), before
 * it is kept. A value that fails is dropped, never clamped; a minor with no
 * schema yields no offsets at all, never positions guessed from a neighbour.
 * The buffer is in the byte order of this machine, as is the target's.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "pyoffsets.h"

/* Larger than any CPython struct (3.15's _PyRuntime is 339 KiB): a value
 * above it is not a size but garbage. */
#define MAX_STRUCT_SIZE (16u << 20)
/* 3.15's statistics ring is 1120 bytes; a megabyte is not a ring. */
#define MAX_BLOCK_SIZE (1u << 20)

enum field_kind {
	K_SIZE,		/* its group's struct size: bounds the others */
	K_OFFSET,	/* offset of a member of width align inside the group's struct */
	K_EXTENT,	/* size of a leading part of the group's struct */
	K_BLOCK,	/* size of a separate block the struct points to */
};

struct field_meta {
	const char *name;
	enum pyoff_group group;
	enum field_kind kind;
	unsigned int align;	/* of the member, also its width for the bound */
	bool zero_ok;		/* a first member may sit at 0 */
};

#define SZ(g, n) { n, g, K_SIZE, 8, false }
#define PTR(g, n) { n, g, K_OFFSET, 8, false }
#define INT(g, n) { n, g, K_OFFSET, 4, false }

static const struct field_meta meta[PYOFF__COUNT] = {
	[PYOFF_RUNTIME_SIZE] = SZ(PYG_RUNTIME, "runtime_state.size"),
	[PYOFF_RUNTIME_INTERPRETERS_HEAD] = PTR(PYG_RUNTIME, "runtime_state.interpreters_head"),
	[PYOFF_INTERP_SIZE] = SZ(PYG_INTERP, "interpreter_state.size"),
	[PYOFF_INTERP_NEXT] = PTR(PYG_INTERP, "interpreter_state.next"),
	[PYOFF_INTERP_THREADS_HEAD] = PTR(PYG_INTERP, "interpreter_state.threads_head"),
	[PYOFF_INTERP_THREADS_MAIN] = PTR(PYG_INTERP, "interpreter_state.threads_main"),
	[PYOFF_INTERP_GC] = PTR(PYG_INTERP, "interpreter_state.gc"),
	[PYOFF_INTERP_CEVAL_GIL] = PTR(PYG_INTERP, "interpreter_state.ceval_gil"),
	[PYOFF_INTERP_GIL_RUNTIME_STATE] = PTR(PYG_INTERP, "interpreter_state.gil_runtime_state"),
	[PYOFF_INTERP_GIL_LOCKED] = INT(PYG_INTERP, "interpreter_state.gil_runtime_state_locked"),
	[PYOFF_INTERP_GIL_HOLDER] = PTR(PYG_INTERP, "interpreter_state.gil_runtime_state_holder"),
	[PYOFF_THREAD_SIZE] = SZ(PYG_THREAD, "thread_state.size"),
	[PYOFF_THREAD_NEXT] = PTR(PYG_THREAD, "thread_state.next"),
	[PYOFF_THREAD_INTERP] = PTR(PYG_THREAD, "thread_state.interp"),
	[PYOFF_THREAD_CURRENT_FRAME] = PTR(PYG_THREAD, "thread_state.current_frame"),
	[PYOFF_THREAD_BASE_FRAME] = PTR(PYG_THREAD, "thread_state.base_frame"),
	[PYOFF_THREAD_THREAD_ID] = PTR(PYG_THREAD, "thread_state.thread_id"),
	[PYOFF_THREAD_NATIVE_THREAD_ID] = PTR(PYG_THREAD, "thread_state.native_thread_id"),
	[PYOFF_FRAME_SIZE] = SZ(PYG_FRAME, "interpreter_frame.size"),
	[PYOFF_FRAME_PREVIOUS] = PTR(PYG_FRAME, "interpreter_frame.previous"),
	/* f_executable is the frame's first member in 3.13-3.15 */
	[PYOFF_FRAME_EXECUTABLE] = { "interpreter_frame.executable", PYG_FRAME, K_OFFSET, 8, true },
	[PYOFF_FRAME_INSTR_PTR] = PTR(PYG_FRAME, "interpreter_frame.instr_ptr"),
	[PYOFF_FRAME_OWNER] = { "interpreter_frame.owner", PYG_FRAME, K_OFFSET, 1, false },
	[PYOFF_CODE_SIZE] = SZ(PYG_CODE, "code_object.size"),
	[PYOFF_CODE_FILENAME] = PTR(PYG_CODE, "code_object.filename"),
	[PYOFF_CODE_NAME] = PTR(PYG_CODE, "code_object.name"),
	[PYOFF_CODE_QUALNAME] = PTR(PYG_CODE, "code_object.qualname"),
	[PYOFF_CODE_LINETABLE] = PTR(PYG_CODE, "code_object.linetable"),
	[PYOFF_CODE_FIRSTLINENO] = INT(PYG_CODE, "code_object.firstlineno"),
	/* the bytecode is a char array at the struct's end */
	[PYOFF_CODE_CO_CODE_ADAPTIVE] = { "code_object.co_code_adaptive", PYG_CODE, K_OFFSET, 1, false },
	[PYOFF_OBJECT_SIZE] = SZ(PYG_OBJECT, "pyobject.size"),
	[PYOFF_OBJECT_OB_TYPE] = PTR(PYG_OBJECT, "pyobject.ob_type"),
	[PYOFF_TYPE_SIZE] = SZ(PYG_TYPE, "type_object.size"),
	[PYOFF_TYPE_TP_NAME] = PTR(PYG_TYPE, "type_object.tp_name"),
	[PYOFF_UNICODE_SIZE] = SZ(PYG_UNICODE, "unicode_object.size"),
	[PYOFF_UNICODE_STATE] = INT(PYG_UNICODE, "unicode_object.state"),
	[PYOFF_UNICODE_LENGTH] = PTR(PYG_UNICODE, "unicode_object.length"),
	[PYOFF_UNICODE_ASCIIOBJECT_SIZE] = { "unicode_object.asciiobject_size", PYG_UNICODE, K_EXTENT, 8, false },
	[PYOFF_GC_SIZE] = SZ(PYG_GC, "gc.size"),
	[PYOFF_GC_COLLECTING] = INT(PYG_GC, "gc.collecting"),
	[PYOFF_GC_FRAME] = PTR(PYG_GC, "gc.frame"),
	[PYOFF_GC_GENERATION_STATS_SIZE] = { "gc.generation_stats_size", PYG_GC, K_BLOCK, 8, false },
	[PYOFF_GC_GENERATION_STATS] = PTR(PYG_GC, "gc.generation_stats"),
};

static const enum pyoff_field group_size[PYG__COUNT] = {
	[PYG_RUNTIME] = PYOFF_RUNTIME_SIZE, [PYG_INTERP] = PYOFF_INTERP_SIZE,
	[PYG_THREAD] = PYOFF_THREAD_SIZE, [PYG_FRAME] = PYOFF_FRAME_SIZE,
	[PYG_CODE] = PYOFF_CODE_SIZE, [PYG_OBJECT] = PYOFF_OBJECT_SIZE,
	[PYG_TYPE] = PYOFF_TYPE_SIZE, [PYG_UNICODE] = PYOFF_UNICODE_SIZE,
	[PYG_GC] = PYOFF_GC_SIZE,
};

static const char *const group_names[PYG__COUNT] = {
	[PYG_RUNTIME] = "runtime_state", [PYG_INTERP] = "interpreter_state",
	[PYG_THREAD] = "thread_state", [PYG_FRAME] = "interpreter_frame",
	[PYG_CODE] = "code_object", [PYG_OBJECT] = "pyobject",
	[PYG_TYPE] = "type_object", [PYG_UNICODE] = "unicode_object",
	[PYG_GC] = "gc",
};

#define ALL_GROUPS ((1u << PYG__COUNT) - 1)

const char *pyoff_field_name(enum pyoff_field f)
{
	return (unsigned int)f < PYOFF__COUNT ? meta[f].name : "?";
}

const char *pyoff_group_name(enum pyoff_group g)
{
	return (unsigned int)g < PYG__COUNT ? group_names[g] : "?";
}

enum pyoff_group pyoff_field_group(enum pyoff_field f)
{
	return (unsigned int)f < PYOFF__COUNT ? meta[f].group : PYG__COUNT;
}

const char *pyoff_source_name(enum pyoff_source s)
{
	switch (s) {
	case OFF_DEBUG_OFFSETS: return "_Py_DebugOffsets";
	case OFF_DWARF: return "DWARF";
	case OFF_TABLE: return "built-in table";
	default: return "none";
	}
}

bool pyoff_get(const struct py_offsets *o, enum pyoff_field f, uint64_t *value)
{
	if ((unsigned int)f >= PYOFF__COUNT || o->f[f].source == OFF_NONE)
		return false;
	*value = o->f[f].value;
	return true;
}

void pyoff_groups_str(unsigned int mask, char *buf, size_t len)
{
	size_t used = 0;
	int g, n;

	if (!len)
		return;
	buf[0] = '\0';
	for (g = 0; g < PYG__COUNT; g++) {
		if (!(mask & (1u << g)))
			continue;
		n = snprintf(buf + used, len - used, "%s%s", used ? " " : "", group_names[g]);
		if (n < 0 || (size_t)n >= len - used)
			return;	/* truncated, still terminated */
		used += n;
	}
}

const struct pyoff_schema *pyoffsets_schema(int major, int minor)
{
	if (major != 3)
		return NULL;
	switch (minor) {
	case 13: return &pyoff_schema_313;
	case 14: return &pyoff_schema_314;
	case 15: return &pyoff_schema_315;
	default: return NULL;
	}
}

static void say(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (!why || !whylen)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

static uint64_t u64_at(const unsigned char *buf, size_t pos)
{
	uint64_t v;

	memcpy(&v, buf + pos, sizeof(v));
	return v;
}

/* The cookie, then PY_VERSION_HEX (0xMMmmuuLS) and free_threaded (0 or 1). */
static int parse_header(const unsigned char *buf, size_t len, int major, int minor, struct py_offsets *o,
			char *why, size_t whylen)
{
	uint64_t v, ft;

	if (!buf || len < PYOFF_HEADER_SIZE) {
		say(why, whylen, "_Py_DebugOffsets: %zu bytes, shorter than its %d-byte header", buf ? len : 0,
		    PYOFF_HEADER_SIZE);
		return -EINVAL;
	}
	if (memcmp(buf, PYOFF_COOKIE, 8)) {
		say(why, whylen, "no _Py_DebugOffsets: _PyRuntime does not begin with \"%s\"", PYOFF_COOKIE);
		return -ENOMSG;
	}
	v = u64_at(buf, 8);
	ft = u64_at(buf, 16);
	if (v >> 32 || (int)(v >> 24) != major || (int)((v >> 16) & 0xff) != minor) {
		say(why, whylen, "_Py_DebugOffsets: version 0x%llx is not %d.%d", (unsigned long long)v, major, minor);
		return -EPROTO;
	}
	if (ft > 1) {
		say(why, whylen, "_Py_DebugOffsets: free_threaded is %llu, not 0 or 1", (unsigned long long)ft);
		return -EPROTO;
	}
	o->version = v;
	o->major = major;
	o->minor = minor;
	o->micro = (v >> 8) & 0xff;
	o->free_threaded = ft;
	return 0;
}

static bool aligned(uint64_t v, unsigned int align)
{
	return !(v & (align - 1));
}

/* Is v plausible for field f, given its group's struct size? */
static bool value_ok(enum pyoff_field f, uint64_t v, uint64_t group_sz)
{
	const struct field_meta *m = &meta[f];

	if (!v && !m->zero_ok)
		return false;
	if (!aligned(v, m->align))
		return false;
	switch (m->kind) {
	case K_SIZE: return v <= MAX_STRUCT_SIZE;
	case K_OFFSET: return v <= group_sz && m->align <= group_sz - v;
	case K_EXTENT: return v <= group_sz;
	case K_BLOCK: return v <= MAX_BLOCK_SIZE;
	}
	return false;
}

/* A group is read whole or not at all: its size bounds every other field. */
static void read_group(const unsigned char *buf, size_t len, const struct pyoff_schema *s, enum pyoff_group g,
		       struct py_offsets *o)
{
	enum pyoff_field sf = group_size[g];
	uint64_t size;
	int f;

	for (f = 0; f < PYOFF__COUNT; f++) {
		if (meta[f].group == g && s->pos[f] && (s->pos[f] > len || len - s->pos[f] < 8)) {
			o->unread |= 1u << g;
			return;
		}
	}
	size = u64_at(buf, s->pos[sf]);
	if (!value_ok(sf, size, 0)) {
		o->rejected |= 1u << g;
		return;
	}
	o->f[sf] = (struct pyoff){ size, OFF_DEBUG_OFFSETS };
	for (f = 0; f < PYOFF__COUNT; f++) {
		uint64_t v;

		if (meta[f].group != g || f == (int)sf || !s->pos[f])
			continue;
		v = u64_at(buf, s->pos[f]);
		if (value_ok(f, v, size))
			o->f[f] = (struct pyoff){ v, OFF_DEBUG_OFFSETS };
		else
			o->rejected |= 1u << g;
	}
}

/* The GC state is a struct inside the interpreter: it must fit there. */
static void cross_check(struct py_offsets *o)
{
	uint64_t gc, gcsz, isz;

	if (!pyoff_get(o, PYOFF_INTERP_GC, &gc) || !pyoff_get(o, PYOFF_GC_SIZE, &gcsz) ||
	    !pyoff_get(o, PYOFF_INTERP_SIZE, &isz))
		return;
	if (gcsz > isz || gc > isz - gcsz) {
		o->f[PYOFF_INTERP_GC].source = OFF_NONE;
		o->rejected |= 1u << PYG_INTERP | 1u << PYG_GC;
	}
}

int pyoffsets_parse(const void *buf, size_t len, int major, int minor, struct py_offsets *out, char *why,
		    size_t whylen)
{
	const struct pyoff_schema *s;
	char groups[160], bad[160];
	int g, err;

	memset(out, 0, sizeof(*out));
	say(why, whylen, "%s", "");
	err = parse_header(buf, len, major, minor, out, why, whylen);
	if (err)
		return err;
	s = pyoffsets_schema(major, minor);
	if (!s) {
		out->unread = ALL_GROUPS;
		pyoff_groups_str(out->unread, groups, sizeof(groups));
		say(why, whylen, "%d.%d: no _Py_DebugOffsets schema for this minor (known: 3.13-3.15); not read: %s",
		    major, minor, groups);
		return -EOPNOTSUPP;
	}
	for (g = 0; g < PYG__COUNT; g++)
		read_group(buf, len, s, g, out);
	cross_check(out);
	if (out->unread || out->rejected) {
		pyoff_groups_str(out->unread, groups, sizeof(groups));
		pyoff_groups_str(out->rejected, bad, sizeof(bad));
		say(why, whylen, "_Py_DebugOffsets of %d.%d: past the buffer's end: %s; values rejected: %s", major,
		    minor, *groups ? groups : "none", *bad ? bad : "none");
		return -ERANGE;
	}
	if (out->free_threaded)
		say(why, whylen, "%d.%d free-threaded build (_Py_DebugOffsets.free_threaded = 1)", major, minor);
	return 0;
}
