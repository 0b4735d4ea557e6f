/* SPDX-License-Identifier: MIT */
/* Minimal JSON writing: escaped strings and number arrays. */
#ifndef MMTRACE_JSON_H
#define MMTRACE_JSON_H

#include <stdio.h>
#include <linux/types.h>

void json_string(FILE *f, const char *s);
void json_u64_array(FILE *f, const __u64 *v, int n);
/* "name": value pairs, with a leading comma unless first */
void json_key(FILE *f, const char *key, int *first);
void json_u64(FILE *f, const char *key, unsigned long long v, int *first);

#endif /* MMTRACE_JSON_H */
