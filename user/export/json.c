// SPDX-License-Identifier: MIT
#include "json.h"

/* Bytes in the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), 0 when it is not one. */
int utf8_sequence_len(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xbf;
	int n, i;

	if (*p < 0x80)
		return 1;
	if (*p >= 0xc2 && *p <= 0xdf)
		n = 2;
	else if (*p >= 0xe0 && *p <= 0xef)
		n = 3, lo = *p == 0xe0 ? 0xa0 : 0x80, hi = *p == 0xed ? 0x9f : 0xbf;
	else if (*p >= 0xf0 && *p <= 0xf4)
		n = 4, lo = *p == 0xf0 ? 0x90 : 0x80, hi = *p == 0xf4 ? 0x8f : 0xbf;
	else
		return 0;
	/* only the second byte has the narrower range; a NUL ends the loop */
	for (i = 1; i < n; i++, lo = 0x80, hi = 0xbf)
		if (p[i] < lo || p[i] > hi)
			return 0;
	return n;
}

/* s with each byte that is not part of well-formed UTF-8 as U+FFFD: for
 * plain-text outputs (folded stacks) whose readers decode strictly. */
void utf8_fputs(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int n;

	for (; *p; p += n) {
		n = utf8_sequence_len(p);
		if (!n)
			fputs("\xef\xbf\xbd", f), n = 1;
		else
			fwrite(p, 1, (size_t)n, f);
	}
}

/* Text from target memory (comm, names, paths) can hold any bytes: each byte
 * that is not part of well-formed UTF-8 becomes U+FFFD, so every line parses
 * under a strict parser. */
void json_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int n;

	fputc('"', f);
	while (*p) {
		n = utf8_sequence_len(p);
		if (!n)
			fputs("\\ufffd", f), n = 1;
		else if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fwrite(p, 1, (size_t)n, f);
		p += n;
	}
	fputc('"', f);
}

void json_u64_array(FILE *f, const __u64 *v, int n)
{
	int i;

	fputc('[', f);
	for (i = 0; i < n; i++)
		fprintf(f, "%s%llu", i ? "," : "", (unsigned long long)v[i]);
	fputc(']', f);
}

void json_key(FILE *f, const char *key, int *first)
{
	if (!*first)
		fputc(',', f);
	*first = 0;
	json_string(f, key);
	fputc(':', f);
}

void json_u64(FILE *f, const char *key, unsigned long long v, int *first)
{
	json_key(f, key, first);
	fprintf(f, "%llu", v);
}
