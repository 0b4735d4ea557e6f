// SPDX-License-Identifier: MIT
#include "json.h"

void json_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	for (; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
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
