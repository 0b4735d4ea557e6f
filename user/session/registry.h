/* SPDX-License-Identifier: MIT */
/*
 * registry: what mmtrace learned about each file it looked at, keyed by
 * device and inode, so that 50 processes of one interpreter (or 500 short
 * ones) cost one ELF parse and one set of probes. Interpreter files get a
 * small integer id, which BPF stores with each process's counters.
 */
#ifndef MMTRACE_REGISTRY_H
#define MMTRACE_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>
#include "discover.h"
#include "plan.h"
#include "resolve.h"

/* distinct files remembered; past this the non-interpreter verdicts are
 * forgotten and relearned, so memory stays bounded on any host */
#define REGISTRY_MAX_FILES 65536
/* distinct interpreter files; each costs a few probe sites */
#define REGISTRY_MAX_BINS 256

enum file_kind {
	FILE_NOT_PYTHON = 1,	/* no CPython in it (what it links is not checked) */
	FILE_PYTHON,		/* an interpreter: executable or libpython */
	FILE_LINKS_PYTHON,	/* an executable whose DT_NEEDED is a libpython */
	FILE_EXE_NOT_PYTHON,	/* an executable that is no CPython and links none */
};

struct interp_file {
	struct python_binary bin;
	struct probe_plan plan;
	struct file_id id;
	bool planned;		/* plan filled in (for --probes), sites or not */
	bool no_probe;		/* planned, with no GC probe point */
	bool refusal_said;	/* why it is not attached, said on stderr */
	bool attached;
	uint64_t attach_ns;	/* CLOCK_MONOTONIC when its probes went live */
	char attach_error[256];	/* why it is not attached, when it is not */
};

struct file_slot {
	struct file_id id;
	uint8_t kind;		/* enum file_kind, 0 = empty slot */
	int32_t bin_id;		/* for FILE_PYTHON and FILE_LINKS_PYTHON */
};

struct registry {
	struct file_slot *slots;	/* open addressing, power-of-two size */
	uint32_t cap;
	uint32_t used;
	struct interp_file *bins[REGISTRY_MAX_BINS];
	int nbins;
};

int registry_init(struct registry *r);
void registry_free(struct registry *r);
/* true with *kind and *bin_id set when the file was seen before */
bool registry_lookup(const struct registry *r, struct file_id id, enum file_kind *kind, int *bin_id);
void registry_remember(struct registry *r, struct file_id id, enum file_kind kind, int bin_id);
/* The id of the interpreter file (added when new); -ENOSPC when full. */
int registry_add_interp(struct registry *r, struct file_id id, const struct python_binary *bin);

#endif /* MMTRACE_REGISTRY_H */
