// SPDX-License-Identifier: MIT
/* libFuzzer target: the uprobe cost of an instruction, from bytes that are
 * the probed file's to choose. The first byte says whether multi-byte nops
 * are emulated; the rest is the code. Besides not reading past the end
 * (ASan): every answer is one of the kinds, with a name, and decoding a
 * prefix of the bytes never turns single-stepped code into emulated code
 * that would need the missing bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "insn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct insn_cost c;
	uint8_t *copy;

	if (!size)
		return 0;
	/* an exact-size heap copy: ASan sees a read past the code's end */
	copy = malloc(size - 1 ? size - 1 : 1);
	if (!copy)
		return 0;
	memcpy(copy, data + 1, size - 1);
	c = insn_uprobe_cost(copy, size - 1, data[0] & 1);
	if (!c.insn || (c.trap != INSN_TRAP_EMULATED && c.trap != INSN_TRAP_SINGLE_STEP &&
			c.trap != INSN_TRAP_UNKNOWN))
		abort();
	if ((size - 1 == 0) != (c.trap == INSN_TRAP_UNKNOWN))
		abort();
	free(copy);
	return 0;
}
