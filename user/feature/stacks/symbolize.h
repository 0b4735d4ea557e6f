/* SPDX-License-Identifier: MIT */
/* symbolize: code objects of a target process -> qualname, file and line,
 * read once per code object with bounded, validated reads. */
#ifndef MMTRACE_SYMBOLIZE_H
#define MMTRACE_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "procmem.h"
#include "resolve.h"
#include "stack_layout.h"

#define SYM_NAME_MAX 256
#define SYM_FILE_MAX 1024
#define SYM_LINES_MAX (1 << 16)
/* Code objects cached per process: a long run with code created at run
 * time (exec, lambdas in loops) meets new ones for ever. */
#define SYM_CACHE_MAX 16384

struct code_info {
	uint64_t code;		/* 0: free slot */
	bool valid;		/* a code object whose fields could be read */
	/* what the entry was read from: a code object freed and its address
	 * reused by another (module and class bodies die after import) differs */
	uint64_t name_obj, file_obj, lines_obj;
	uint64_t failed_ns;	/* when reading it failed: retried after a while, not per frame */
	char *name, *file;
	int firstlineno;
	uint8_t *lines;
	size_t nlines;
};

struct symbolizer {
	pid_t pid;		/* 0: an image read through reader (fuzzing) */
	struct mem_reader reader;
	struct code_layout layout;	/* the file's own, or mmtrace's table */
	uint64_t code_type;	/* &PyCode_Type in the process, 0 when unknown */
	struct procmem pm;
	bool pm_open;
	uint64_t maps_read_ns;	/* when /proc/PID/maps was read */
	bool may_refresh;	/* reading a new code object: one fresh read of the maps allowed */
	struct code_info *slots;
	size_t cap, n;
	size_t max_entries;		/* SYM_CACHE_MAX; lower in tests */
	size_t hand;			/* where eviction looks next */
	unsigned long long hits, misses;
	unsigned long long evicted;	/* entries dropped to stay under max_entries */
};

/* 0, or -errno (no layout for the version, process gone). */
int symbolizer_open(struct symbolizer *s, pid_t pid, const struct python_binary *bin);
/* Over any reader: the symboliser of a memory image. */
void symbolizer_open_reader(struct symbolizer *s, const struct code_layout *layout, uint64_t code_type,
			    struct mem_reader reader);
void symbolizer_close(struct symbolizer *s);
/* The code object's names and line table, read at its first use. */
const struct code_info *symbolize_code(struct symbolizer *s, uint64_t code);
/* "qualname (file:line)" for one frame, into buf. */
void frame_text(struct symbolizer *s, uint64_t code, uint64_t lasti, char *buf, size_t len);

#endif /* MMTRACE_SYMBOLIZE_H */
