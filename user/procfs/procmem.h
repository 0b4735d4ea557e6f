/* SPDX-License-Identifier: MIT */
/*
 * procmem: bounded, read-only copies of another process's memory.
 *
 * process_vm_readv, not a BPF iterator with bpf_copy_from_user_task: a
 * snapshot is a few thousand small reads done once, on demand, and it needs
 * no probe in the target and no program loaded. Each read is checked first
 * against the target's readable mappings (a pointer read from the target is
 * data, not a promise), and copies exactly what was asked or fails.
 */
#ifndef MMTRACE_PROCMEM_H
#define MMTRACE_PROCMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROCMEM_MAX_REGIONS 65536
#define READER_MAX_BATCH 256

struct mem_region {
	uint64_t start, end;	/* [start, end) */
	uint64_t offset;	/* in the mapped file */
	bool readable;
	char *path;		/* file-backed: as the process sees it; else NULL */
};

/* The source of a snapshot: a live process, or (fuzzing) bytes in memory. */
struct mem_reader {
	/* copies len bytes at addr: 0, or -errno (nothing partial is kept) */
	int (*read)(void *ctx, uint64_t addr, void *buf, size_t len);
	/* optional: n chunks of len bytes at addrs[i] into buf, one after the
	 * other, all or nothing (n <= READER_MAX_BATCH) */
	int (*read_batch)(void *ctx, const uint64_t *addrs, size_t len, void *buf, int n);
	void *ctx;
};

struct procmem {
	pid_t pid;
	struct mem_region *regions;
	int n;
};

/* Parses one /proc/PID/maps line in place (path points into line).
 * Returns 0, or -EINVAL for a line that is not one. */
int parse_mem_region(char *line, struct mem_region *r);

/* Reads /proc/PID/maps. 0, or -errno. procmem_close after. */
int procmem_open(struct procmem *pm, pid_t pid);
void procmem_close(struct procmem *pm);
/* True when [addr, addr + len) lies in readable mappings, without a gap. */
bool procmem_covers(const struct procmem *pm, uint64_t addr, size_t len);
/* Where file offset off of path is mapped: 0 with *addr, or -ENOENT. */
int procmem_file_addr(const struct procmem *pm, const char *path, uint64_t off, uint64_t *addr);
/* A reader over pm: validated process_vm_readv. */
struct mem_reader procmem_reader(struct procmem *pm);

#endif /* MMTRACE_PROCMEM_H */
