// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include "parse.h"
#include "procmem.h"

void procmem_close(struct procmem *pm)
{
	int i;

	for (i = 0; i < pm->n; i++)
		free(pm->regions[i].path);
	free(pm->regions);
	pm->regions = NULL;
	pm->n = 0;
}

static int add_region(struct procmem *pm, const struct mem_region *r, int *cap)
{
	struct mem_region *grown;

	if (pm->n >= PROCMEM_MAX_REGIONS)
		return -E2BIG;
	if (pm->n == *cap) {
		*cap = *cap ? 2 * *cap : 256;
		grown = realloc(pm->regions, (size_t)*cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		pm->regions = grown;
	}
	pm->regions[pm->n] = *r;
	if (r->path && !(pm->regions[pm->n].path = strdup(r->path)))
		return -ENOMEM;
	pm->n++;
	return 0;
}

int procmem_open(struct procmem *pm, pid_t pid)
{
	char path[64], *line = NULL;
	struct mem_region r;
	size_t cap_line = 0;
	int cap = 0, err = 0;
	FILE *f;

	memset(pm, 0, sizeof(*pm));
	pm->pid = pid;
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (!err && getline(&line, &cap_line, f) > 0)
		if (!parse_mem_region(line, &r))
			err = add_region(pm, &r, &cap);
	free(line);
	fclose(f);
	if (err)
		procmem_close(pm);
	return err;
}

/* The first region that ends above addr; regions come sorted, as the
 * kernel lists them. */
static int first_above(const struct procmem *pm, uint64_t addr)
{
	int lo = 0, hi = pm->n;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;

		if (pm->regions[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool procmem_covers(const struct procmem *pm, uint64_t addr, size_t len)
{
	uint64_t end = addr + len;
	int i;

	if (!len || end < addr)
		return false;
	for (i = first_above(pm, addr); i < pm->n && addr < end; i++) {
		const struct mem_region *r = &pm->regions[i];

		if (r->end <= addr)
			continue;
		if (r->start > addr || !r->readable)
			return false;
		addr = r->end;
	}
	return addr >= end;
}

int procmem_file_addr(const struct procmem *pm, const char *path, uint64_t off, uint64_t *addr)
{
	int i;

	for (i = 0; i < pm->n; i++) {
		const struct mem_region *r = &pm->regions[i];

		if (r->path && !strcmp(r->path, path) && off >= r->offset && off - r->offset < r->end - r->start) {
			*addr = r->start + (off - r->offset);
			return 0;
		}
	}
	return -ENOENT;
}

static int read_process(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct procmem *pm = ctx;
	struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)addr, len };
	ssize_t n;

	if (!procmem_covers(pm, addr, len))
		return -EFAULT;
	n = process_vm_readv(pm->pid, &local, 1, &remote, 1, 0);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

/* One process_vm_readv for many small reads (pool headers of an arena). */
static int read_process_batch(void *ctx, const uint64_t *addrs, size_t len, void *buf, int n)
{
	struct iovec local[READER_MAX_BATCH], remote[READER_MAX_BATCH];
	struct procmem *pm = ctx;
	ssize_t got;
	int i;

	if (n <= 0 || n > READER_MAX_BATCH)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (!procmem_covers(pm, addrs[i], len))
			return -EFAULT;
		local[i] = (struct iovec){ (char *)buf + (size_t)i * len, len };
		remote[i] = (struct iovec){ (void *)(uintptr_t)addrs[i], len };
	}
	got = process_vm_readv(pm->pid, local, (unsigned long)n, remote, (unsigned long)n, 0);
	if (got < 0)
		return -errno;
	return (size_t)got == len * (size_t)n ? 0 : -EFAULT;
}

struct mem_reader procmem_reader(struct procmem *pm)
{
	return (struct mem_reader){ read_process, read_process_batch, pm };
}

int procmem_load_bias(const struct procmem *pm, const char *path, uint64_t file_offset, uint64_t vaddr,
		      uint64_t *bias)
{
	uint64_t addr;

	if (!vaddr || procmem_file_addr(pm, path, file_offset, &addr))
		return -ENOENT;
	*bias = addr - vaddr;
	return 0;
}
