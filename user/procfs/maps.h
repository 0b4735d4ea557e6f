/* SPDX-License-Identifier: MIT */
/*
 * maps: the one parser of a /proc/PID/maps line, and the identity of a
 * mapped file as the kernel (and BPF) names it. Every reader of maps lines
 * (the interpreter's mappings, the memory reader's regions, mmtrace's own
 * mapping of a file) goes through parse_mem_region.
 */
#ifndef MMTRACE_MAPS_H
#define MMTRACE_MAPS_H

#include <stdbool.h>
#include <stdint.h>

/* A file as the kernel names it: s_dev in the kernel's encoding
 * (major << 20 | minor, as /proc/PID/maps and BPF see it) and inode. */
struct file_id {
	uint32_t dev;
	uint64_t ino;
};

static inline bool file_id_eq(struct file_id a, struct file_id b)
{
	return a.dev == b.dev && a.ino == b.ino;
}

static inline uint32_t kernel_dev(unsigned int major, unsigned int minor)
{
	return (major << 20) | (minor & 0xfffff);
}

/* One line: "start-end perms offset major:minor inode   path". */
struct mem_region {
	uint64_t start, end;	/* [start, end) */
	uint64_t offset;	/* in the mapped file */
	bool readable;
	bool executable;
	struct file_id id;	/* {0, 0} for an anonymous mapping */
	bool deleted;		/* " (deleted)" was cut off path */
	char *path;		/* file-backed: as the process sees it, inside the line; else NULL */
};

/* Parses one line in place (every number checked to its end): 0, or -EINVAL. */
int parse_mem_region(char *line, struct mem_region *r);

#endif /* MMTRACE_MAPS_H */
