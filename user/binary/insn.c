// SPDX-License-Identifier: MIT
/*
 * The cost of a uprobe hit, from the probed instruction's first bytes. The
 * rules are those of Linux's arch/x86/kernel/uprobes.c: push_setup_xol_ops
 * (push of a register, REX 0x41 allowed), branch_setup_xol_ops (jmp rel8,
 * jmp rel32, call rel32, jcc rel8 and rel32, none with a 0x66 prefix, and
 * 0x90 behind any prefixes) and, from 6.16, the multi-byte nops of
 * x86_nops[]. Everything else is single-stepped out of line.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "insn.h"

/* x86_nops[] of 64-bit kernels, 3 to 8 bytes (1 and 2 are 0x90 behind
 * prefixes, emulated on every kernel) */
static const uint8_t nops[][8] = {
	{ 0x0f, 0x1f, 0x00 },
	{ 0x0f, 0x1f, 0x40, 0x00 },
	{ 0x0f, 0x1f, 0x44, 0x00, 0x00 },
	{ 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00 },
	{ 0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00 },
	{ 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00 },
};

static bool legacy_prefix(uint8_t b)
{
	switch (b) {
	case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65:
	case 0x66: case 0x67: case 0xf0: case 0xf2: case 0xf3:
		return true;
	default:
		return false;
	}
}

static bool multibyte_nop(const uint8_t *code, size_t len)
{
	size_t i, n;

	for (i = 0; i < sizeof(nops) / sizeof(nops[0]); i++) {
		n = i + 3;
		if (len >= n && !memcmp(code, nops[i], n))
			return true;
	}
	return false;
}

/* Names for what is single-stepped, so that --probes says why. */
static const char *single_step_name(const uint8_t *code, size_t len, size_t at)
{
	uint8_t op = code[at];

	if (len >= 4 && !memcmp(code, "\xf3\x0f\x1e\xfa", 4))
		return "endbr64";
	if (op == 0x88 || op == 0x89 || op == 0x8a || op == 0x8b || op == 0xc6 || op == 0xc7 ||
	    (op >= 0xb0 && op <= 0xbf))
		return "mov";
	if (op == 0x8d)
		return "lea";
	if (op == 0x84 || op == 0x85 || op == 0xa8 || op == 0xa9)
		return "test";
	if (op == 0x38 || op == 0x39 || op == 0x3a || op == 0x3b || op == 0x3c || op == 0x3d)
		return "cmp";
	if (op == 0x80 || op == 0x81 || op == 0x83)
		return "arithmetic with an immediate";
	if (op == 0x31 || op == 0x33)
		return "xor";
	if (op == 0x29 || op == 0x2b)
		return "sub";
	if (op == 0xff)
		return "indirect call, jmp or push";
	if (op == 0xc3)
		return "ret";
	if (op == 0x0f && at + 1 < len && code[at + 1] == 0x1f)
		return "multi-byte nop (emulated from Linux 6.16)";
	return "other";
}

struct insn_cost insn_uprobe_cost(const uint8_t *code, size_t len, bool kernel_nops)
{
	struct insn_cost c = { INSN_TRAP_UNKNOWN, "unreadable" };
	bool has66 = false, rex41 = false, rex = false, other_prefix = false;
	size_t at = 0;
	uint8_t op;

	if (!code || !len)
		return c;
	c.trap = INSN_TRAP_SINGLE_STEP;
	if (kernel_nops && multibyte_nop(code, len)) {
		c.trap = INSN_TRAP_EMULATED;
		c.insn = "nop";
		return c;
	}
	/* at most 14 prefix bytes: an instruction is at most 15 long */
	while (at < len && at < 14 && legacy_prefix(code[at])) {
		has66 |= code[at] == 0x66;
		other_prefix = true;
		at++;
	}
	if (at < len && (code[at] & 0xf0) == 0x40) {
		rex = true;
		rex41 = code[at] == 0x41;
		at++;
	}
	if (at >= len) {
		c.insn = "truncated";
		return c;
	}
	op = code[at];
	c.trap = INSN_TRAP_EMULATED;
	if (op >= 0x50 && op <= 0x57 && !other_prefix && (!rex || rex41)) {
		c.insn = "push";
		return c;
	}
	if (op == 0x90 && !rex) {
		c.insn = "nop";
		return c;
	}
	if (!has66) {
		if (op == 0xeb || op == 0xe9) {
			c.insn = "jmp";
			return c;
		}
		if (op == 0xe8) {
			c.insn = "call";
			return c;
		}
		if ((op >= 0x70 && op <= 0x7f) ||
		    (op == 0x0f && at + 1 < len && code[at + 1] >= 0x80 && code[at + 1] <= 0x8f)) {
			c.insn = "jcc";
			return c;
		}
	}
	c.trap = INSN_TRAP_SINGLE_STEP;
	c.insn = single_step_name(code, len, at);
	return c;
}

bool insn_kernel_emulates_nops(const char *release)
{
	char *end;
	long major, minor;

	if (!release)
		return false;
	errno = 0;
	major = strtol(release, &end, 10);
	if (errno || end == release || *end != '.')
		return false;
	release = end + 1;
	minor = strtol(release, &end, 10);
	if (errno || end == release)
		return false;
	return major > 6 || (major == 6 && minor >= 16);
}

const char *insn_trap_name(enum insn_trap t)
{
	switch (t) {
	case INSN_TRAP_EMULATED:
		return "one trap";
	case INSN_TRAP_SINGLE_STEP:
		return "single-step";
	default:
		return "unknown";
	}
}
