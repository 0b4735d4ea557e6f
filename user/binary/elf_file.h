/* SPDX-License-Identifier: MIT */
/* Bounded readers of ELF files owned by anyone: symbols, notes, segments. */
#ifndef MMTRACE_ELF_FILE_H
#define MMTRACE_ELF_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <gelf.h>

struct elf_file {
	int fd;		/* -1 when opened from memory */
	Elf *elf;
	GElf_Ehdr ehdr;
	size_t shstrndx;
};

/* Larger ELF and debug files are refused (libelf/libdw map them whole). */
#define TARGET_FILE_MAX (2ull << 30)

/* Opens a file a target may control, read-only: its descriptor, or -errno
 * (-EINVAL for anything but a regular file, a FIFO included; -ENODATA when
 * empty; -EFBIG above TARGET_FILE_MAX). Never blocks. With root_fd >= 0 (a
 * directory, e.g. /proc/PID/root opened O_PATH), path is resolved inside it:
 * its symlinks and ".." never leave it; with -1, as open(2) does. */
int open_target_file_in(int root_fd, const char *path);
/* The same, path resolved inside the target's root when it starts with
 * /proc/PID/root (the one way mmtrace names a file in another root). */
int open_target_file(const char *path);
/* An O_PATH descriptor of the /proc/PID/root that path starts with. */
int open_target_root(const char *path);
/* Why an open_target_file* or elf_file_open* error, in words. */
const char *target_file_error(int err);

/* Returns 0, or -errno (-ENOEXEC when the file is not a 64-bit ELF). */
int elf_file_open(struct elf_file *ef, const char *path);
/* The same from a descriptor of open_target_file*, which ef then owns
 * (closed by elf_file_close, or here on error). */
int elf_file_open_fd(struct elf_file *ef, int fd);
int elf_file_open_mem(struct elf_file *ef, void *buf, size_t len);
void elf_file_close(struct elf_file *ef);

/* Returns the first section with this name, or NULL. */
Elf_Scn *elf_section_named(struct elf_file *ef, const char *name, GElf_Shdr *shdr);
bool elf_has_section_type(struct elf_file *ef, Elf64_Word type);

/* Calls cb for every named symbol of the tables of this type (SHT_SYMTAB or
 * SHT_DYNSYM); a nonzero return from cb stops the walk and is returned. */
typedef int (*elf_sym_cb)(const char *name, const GElf_Sym *sym, void *arg);
int elf_for_each_symbol(struct elf_file *ef, Elf64_Word type, elf_sym_cb cb, void *arg);

/* Looks up a defined symbol by exact name in one table type. */
int elf_find_defined(struct elf_file *ef, Elf64_Word type, const char *name, GElf_Sym *out);

/* Maps a virtual address to its file offset through the PT_LOAD segments. */
int elf_vaddr_to_offset(struct elf_file *ef, uint64_t vaddr, uint64_t *off);
/* Copies len bytes stored in the file at vaddr (no .bss). */
int elf_read_vaddr(struct elf_file *ef, uint64_t vaddr, void *buf, size_t len);

int elf_build_id(struct elf_file *ef, uint8_t *buf, size_t cap, size_t *len);
int elf_debuglink(struct elf_file *ef, char *name, size_t cap, uint32_t *crc);

/* Calls cb for every string of the dynamic section with this tag
 * (DT_NEEDED, DT_SONAME, DT_RUNPATH, DT_RPATH). */
typedef int (*elf_dyn_cb)(const char *value, void *arg);
int elf_for_each_dynstr(struct elf_file *ef, int64_t tag, elf_dyn_cb cb, void *arg);

struct elf_stapsdt {
	uint64_t pc;	/* probe address, adjusted for prelink via .stapsdt.base */
	uint64_t sem;	/* semaphore address, 0 if none */
	const char *provider;
	const char *name;
	const char *args;
};
typedef int (*elf_stapsdt_cb)(const struct elf_stapsdt *note, void *arg);
int elf_for_each_stapsdt(struct elf_file *ef, elf_stapsdt_cb cb, void *arg);

#endif /* MMTRACE_ELF_FILE_H */
