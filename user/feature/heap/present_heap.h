/* SPDX-License-Identifier: MIT */
/* present_heap: one heap snapshot per process, as text or JSON. */
#ifndef MMTRACE_PRESENT_HEAP_H
#define MMTRACE_PRESENT_HEAP_H

#include <stdio.h>
#include <sys/types.h>
#include <time.h>
#include "heap.h"
#include "resolve.h"

struct heap_view {
	pid_t pid;
	const char *comm;
	const struct python_binary *bin;
	const struct heap_layout *layout;
	const struct heap_snapshot *snap;
	unsigned long long rss_bytes;	/* 0 when unknown */
	const char *error;		/* the process could not be read at all, else NULL */
};

void present_heap_text(FILE *f, const struct heap_view *v, int n, const struct timespec *wall);
/* one process's part: the lines under its header, or its JSON fields */
void present_heap_section(FILE *f, const struct heap_view *v);
void present_heap_json_fields(FILE *f, const struct heap_view *v, int *first);
void present_heap_json(FILE *f, const struct heap_view *v, int n, const struct timespec *wall);

/* --heap=live's part of a live report's row (present.h) */
struct row_part;
extern const struct row_part present_heap_part;

#endif /* MMTRACE_PRESENT_HEAP_H */
