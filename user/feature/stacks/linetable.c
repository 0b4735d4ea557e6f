// SPDX-License-Identifier: MIT
/*
 * The three formats CPython used, decoded as its own code did:
 *  - 3.8-3.9 co_lnotab: (byte offset delta, signed line delta) pairs
 *    (PyCode_Addr2Line);
 *  - 3.10 co_linetable: (byte length, signed line delta or -128 for none)
 *    pairs (PEP 626, codeobject.c advance());
 *  - 3.11+ location table (PEP 657): entries of 1-8 code units, a header
 *    byte 1CCCCLLL, then per code C: short forms, one-line forms, a signed
 *    varint line delta, or no location (Objects/locations.md).
 */
#include <limits.h>
#include "linetable.h"

/* Lines accumulate deltas from untrusted bytes: in 64 bits, then checked. */
static int as_line(int64_t line)
{
	return line >= 0 && line <= INT_MAX ? (int)line : -1;
}

static int lnotab_line(const uint8_t *t, size_t len, int64_t line, uint64_t lasti)
{
	uint64_t addr = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2) {
		addr += t[i];
		if (addr > lasti)
			break;
		line += (int8_t)t[i + 1];
	}
	return as_line(line);
}

static int linetable_line(const uint8_t *t, size_t len, int64_t first, uint64_t index)
{
	uint64_t start, end = 0, addr = index * 2;
	int64_t computed = first, line;
	size_t i;

	for (i = 0; i + 1 < len; i += 2) {
		start = end;
		end = start + t[i];
		if ((int8_t)t[i + 1] == -128) {
			line = -1;
		} else {
			computed += (int8_t)t[i + 1];
			line = computed;
		}
		if (start <= addr && addr < end)
			return line < 0 ? -1 : as_line(line);
	}
	return -1;
}

/* 6-bit chunks, low first, bit 6 set while more follow */
static int read_varint(const uint8_t *t, size_t len, size_t *i, uint32_t *out)
{
	uint32_t v = 0, shift = 0;
	uint8_t b;

	do {
		if (*i >= len || shift > 28)
			return -1;
		b = t[(*i)++];
		v |= (uint32_t)(b & 63) << shift;
		shift += 6;
	} while (b & 64);
	*out = v;
	return 0;
}

static int read_svarint(const uint8_t *t, size_t len, size_t *i, int *out)
{
	uint32_t u;

	if (read_varint(t, len, i, &u))
		return -1;
	*out = (u & 1) ? -(int)(u >> 1) : (int)(u >> 1);
	return 0;
}

/* Moves past one entry's payload; its line delta in *ldelta, or no line. */
static int location_entry(const uint8_t *t, size_t len, size_t *i, int code, int *ldelta, int *has_line)
{
	uint32_t skip;
	int k;

	*ldelta = 0;
	*has_line = 1;
	if (code == 15) {
		*has_line = 0;
		return 0;
	}
	if (code == 14 || code == 13) {
		if (read_svarint(t, len, i, ldelta))
			return -1;
		for (k = 0; code == 14 && k < 3; k++)	/* end line, column, end column */
			if (read_varint(t, len, i, &skip))
				return -1;
		return 0;
	}
	if (code >= 10) {	/* one-line forms: line delta code - 10, two column bytes */
		*ldelta = code - 10;
		*i += 2;
		return *i <= len ? 0 : -1;
	}
	*i += 1;		/* short forms: one column byte */
	return *i <= len ? 0 : -1;
}

static int locations_line(const uint8_t *t, size_t len, int64_t line, uint64_t lasti)
{
	uint64_t unit = lasti / 2, addr = 0;
	int code, ldelta, has_line;
	size_t i = 0;
	uint8_t head;

	while (i < len) {
		head = t[i++];
		if (!(head & 0x80))
			return -1;	/* not an entry's first byte */
		code = (head >> 3) & 15;
		if (location_entry(t, len, &i, code, &ldelta, &has_line))
			return -1;
		line += ldelta;
		addr += (head & 7) + 1;
		if (unit < addr)
			return has_line ? as_line(line) : -1;
	}
	return -1;
}

int code_line(enum line_table_kind kind, const uint8_t *table, size_t len, int firstlineno, uint64_t lasti)
{
	switch (kind) {
	case LINES_LNOTAB:
		return lnotab_line(table, len, firstlineno, lasti);
	case LINES_LINETABLE:
		return linetable_line(table, len, firstlineno, lasti);
	case LINES_LOCATIONS:
		return locations_line(table, len, firstlineno, lasti);
	default:
		return -1;
	}
}
