// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "maps.h"

/* A number in base up to stop, which it must end at; *s moves past stop. */
static int num_field(char **s, int base, char stop, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(*s, &end, base);
	if (errno || end == *s || *end != stop || **s == '-' || **s == '+')
		return -EINVAL;
	*out = v;
	*s = end + 1;
	return 0;
}

int parse_mem_region(char *line, struct mem_region *r)
{
	uint64_t major, minor, ino;
	char *s = line, *perms;
	size_t n;

	memset(r, 0, sizeof(*r));
	if (num_field(&s, 16, '-', &r->start) || num_field(&s, 16, ' ', &r->end) || r->end <= r->start)
		return -EINVAL;
	perms = s;
	if (strlen(perms) < 5 || perms[4] != ' ')
		return -EINVAL;
	r->readable = perms[0] == 'r';
	r->executable = perms[2] == 'x';
	s = perms + 5;
	if (num_field(&s, 16, ' ', &r->offset) || num_field(&s, 16, ':', &major) || num_field(&s, 16, ' ', &minor) ||
	    major > 0xfff || minor > 0xfffff)
		return -EINVAL;
	ino = strtoull(s, &s, 10);	/* decimal, up to the spaces (or the end) */
	if (*s && *s != ' ' && *s != '\n')
		return -EINVAL;
	while (*s == ' ')
		s++;
	n = strcspn(s, "\n");
	s[n] = '\0';
	r->deleted = n > 10 && !strcmp(s + n - 10, " (deleted)");
	if (r->deleted)
		s[n - 10] = '\0';
	r->path = *s == '/' ? s : NULL;
	if (ino || major || minor)
		r->id = (struct file_id){ kernel_dev((unsigned int)major, (unsigned int)minor), ino };
	return 0;
}
