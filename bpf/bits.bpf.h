/* SPDX-License-Identifier: MIT */
/* BPF-only helpers. */
#ifndef MMTRACE_BITS_BPF_H
#define MMTRACE_BITS_BPF_H

/* floor(log2(v)), 0 for v <= 1; branch-free so the verifier sees no loop. */
static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r, shift;

	r = (v > 0xFFFFFFFFULL) << 5; v >>= r;
	shift = (v > 0xFFFF) << 4; v >>= shift; r |= shift;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

#endif /* MMTRACE_BITS_BPF_H */
