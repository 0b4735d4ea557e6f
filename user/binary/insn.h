/* SPDX-License-Identifier: MIT */
/* insn: what a uprobe on an x86-64 instruction costs, from its bytes. */
#ifndef MMTRACE_INSN_H
#define MMTRACE_INSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A uprobe replaces the probed instruction's first byte with int3. At a
 * hit, Linux emulates a few instructions in the trap handler (one trap,
 * ~0.75 us here); every other one is copied to a page of the process and
 * single-stepped there (a second trap, 10-13 us here).
 */
enum insn_trap {
	INSN_TRAP_UNKNOWN,	/* no bytes to read (a site not in the file) */
	INSN_TRAP_EMULATED,
	INSN_TRAP_SINGLE_STEP,
};

struct insn_cost {
	enum insn_trap trap;
	const char *insn;	/* static: "push %r15", "jcc", "nop", "mov", "other" ... */
};

/* The instruction at code[0..len): emulated as Linux's arch/x86 uprobe code
 * does (push of a register, jmp/call rel, jcc rel without a 0x66 prefix,
 * nop with prefixes; multi-byte nops only when kernel_nops, Linux 6.16+),
 * else single-stepped. Bytes are untrusted: never reads past len. */
struct insn_cost insn_uprobe_cost(const uint8_t *code, size_t len, bool kernel_nops);

/* Whether the running kernel emulates multi-byte nops (6.16+), from a
 * uname release string such as "6.18.1-amd64". */
bool insn_kernel_emulates_nops(const char *release);

const char *insn_trap_name(enum insn_trap t);

#endif /* MMTRACE_INSN_H */
