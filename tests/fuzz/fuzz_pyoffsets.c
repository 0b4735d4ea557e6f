// SPDX-License-Identifier: MIT
/* libFuzzer target: _Py_DebugOffsets as mmtrace meets it, the initial bytes
 * of _PyRuntime in any file or process. The first byte picks the minor the
 * caller believes in (3.12 to 3.16: before, within and after the schemas),
 * the rest is the struct, exactly as long as given. Besides not crashing,
 * whatever the reader keeps must hold its promises. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "pyoffsets.h"

static const enum pyoff_field sizes[PYG__COUNT] = {
	[PYG_RUNTIME] = PYOFF_RUNTIME_SIZE, [PYG_INTERP] = PYOFF_INTERP_SIZE,
	[PYG_THREAD] = PYOFF_THREAD_SIZE, [PYG_FRAME] = PYOFF_FRAME_SIZE,
	[PYG_CODE] = PYOFF_CODE_SIZE, [PYG_OBJECT] = PYOFF_OBJECT_SIZE,
	[PYG_TYPE] = PYOFF_TYPE_SIZE, [PYG_UNICODE] = PYOFF_UNICODE_SIZE,
	[PYG_GC] = PYOFF_GC_SIZE,
};

/* A kept offset lies inside its group's struct, whose size was kept too. */
static void check_field(const struct pyoff_schema *s, const struct py_offsets *o, int f)
{
	enum pyoff_group g = pyoff_field_group(f);
	uint64_t gsz;

	if (o->f[f].source == OFF_NONE)
		return;
	if (o->f[f].source != OFF_DEBUG_OFFSETS || !s || !s->pos[f] || (o->unread & (1u << g)))
		abort();
	if (!pyoff_get(o, sizes[g], &gsz))
		abort();
	if ((int)sizes[g] != f && f != PYOFF_GC_GENERATION_STATS_SIZE && o->f[f].value > gsz)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct pyoff_schema *s;
	struct py_offsets o;
	char why[256];
	int minor, err, f;

	if (!size)
		return 0;
	minor = 12 + data[0] % 5;
	s = pyoffsets_schema(3, minor);
	err = pyoffsets_parse(data + 1, size - 1, 3, minor, &o, why, sizeof(why));
	if (!memchr(why, '\0', sizeof(why)))
		abort();
	if ((!err && (o.unread || o.rejected)) || (err == -EOPNOTSUPP && s))
		abort();
	for (f = 0; f < PYOFF__COUNT; f++)
		check_field(s, &o, f);
	return 0;
}
