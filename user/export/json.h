/* SPDX-License-Identifier: MIT */
/* Minimal JSON writing: escaped strings and number arrays. */
#ifndef MMTRACE_JSON_H
#define MMTRACE_JSON_H

#include <stdio.h>
#include <linux/types.h>

/* s as a JSON string; bytes that are not well-formed UTF-8 become \ufffd */
void json_string(FILE *f, const char *s);
/* s as text, each byte that is not well-formed UTF-8 as U+FFFD */
void utf8_fputs(FILE *f, const char *s);
/* length of the well-formed UTF-8 sequence at p, 0 when it is not one */
int utf8_sequence_len(const unsigned char *p);
void json_u64_array(FILE *f, const __u64 *v, int n);
/* "name": value pairs, with a leading comma unless first */
void json_key(FILE *f, const char *key, int *first);
void json_u64(FILE *f, const char *key, unsigned long long v, int *first);

#endif /* MMTRACE_JSON_H */
