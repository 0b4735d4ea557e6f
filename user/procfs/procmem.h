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
#include "maps.h"

#define PROCMEM_MAX_REGIONS 65536
#define READER_MAX_BATCH 256


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

/* Reads /proc/PID/maps. 0, or -errno. procmem_close after. */
int procmem_open(struct procmem *pm, pid_t pid);
void procmem_close(struct procmem *pm);
/* True when [addr, addr + len) lies in readable mappings, without a gap. */
bool procmem_covers(const struct procmem *pm, uint64_t addr, size_t len);
/* Where file offset off of path is mapped: 0 with *addr, or -ENOENT. */
int procmem_file_addr(const struct procmem *pm, const char *path, uint64_t off, uint64_t *addr);
/* A reader over pm: validated process_vm_readv. */
struct mem_reader procmem_reader(struct procmem *pm);

/* How far the file at path is loaded from its link-time addresses: the
 * address of file_offset in the process less vaddr, the link-time address
 * of that offset. -ENOENT when not mapped (or vaddr unknown). */
int procmem_load_bias(const struct procmem *pm, const char *path, uint64_t file_offset, uint64_t vaddr,
		      uint64_t *bias);

#endif /* MMTRACE_PROCMEM_H */
