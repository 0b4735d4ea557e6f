/* SPDX-License-Identifier: MIT */
/* Whole-string number parsing with range checks: the one place where
 * options and /proc text become numbers. */
#ifndef MMTRACE_PARSE_H
#define MMTRACE_PARSE_H

/* 0 when all of s is a base-10 integer in [min, max], else -EINVAL. */
int parse_long(const char *s, long min, long max, long *out);
/* 0 when all of s is a finite number in [min, max], else -EINVAL. */
int parse_double(const char *s, double min, double max, double *out);

#endif /* MMTRACE_PARSE_H */
