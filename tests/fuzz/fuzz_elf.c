// SPDX-License-Identifier: MIT
/* libFuzzer target: every reader of elf_file.c over an arbitrary "file":
 * section and symbol tables, dynamic strings, notes (build-id, stapsdt),
 * .gnu_debuglink and address translation; and the DWARF layout reader of
 * --heap over the same bytes as a debug file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "dwarf_layout.h"
#include "elf_file.h"

static int count_symbol(const char *name, const GElf_Sym *sym, void *arg)
{
	(void)sym;
	*(size_t *)arg += strlen(name);
	return 0;
}

static int count_string(const char *value, void *arg)
{
	*(size_t *)arg += strlen(value);
	return 0;
}

static int count_note(const struct elf_stapsdt *n, void *arg)
{
	*(size_t *)arg += strlen(n->provider) + strlen(n->name) + strlen(n->args) + (n->pc & 1);
	return 0;
}

static void read_everything(struct elf_file *ef)
{
	uint8_t id[64], word[16];
	char link[256];
	size_t sum = 0, len;
	uint64_t off;
	uint32_t crc;
	GElf_Sym sym;
	GElf_Shdr shdr;

	elf_for_each_symbol(ef, SHT_SYMTAB, count_symbol, &sum);
	elf_for_each_symbol(ef, SHT_DYNSYM, count_symbol, &sum);
	if (!elf_find_defined(ef, SHT_DYNSYM, "_PyRuntime", &sym) ||
	    !elf_find_defined(ef, SHT_SYMTAB, "_PyRuntime", &sym)) {
		elf_vaddr_to_offset(ef, sym.st_value, &off);
		elf_read_vaddr(ef, sym.st_value, word, sizeof(word));
	}
	elf_for_each_dynstr(ef, DT_NEEDED, count_string, &sum);
	elf_for_each_dynstr(ef, DT_SONAME, count_string, &sum);
	elf_for_each_dynstr(ef, DT_RUNPATH, count_string, &sum);
	elf_for_each_stapsdt(ef, count_note, &sum);
	elf_build_id(ef, id, sizeof(id), &len);
	elf_debuglink(ef, link, sizeof(link), &crc);
	elf_section_named(ef, ".rodata", &shdr);
	elf_has_section_type(ef, SHT_SYMTAB);
}

/* libdw reads a file: the input goes to one memfd, rewritten each run */
static void read_dwarf(const uint8_t *data, size_t size)
{
	static int fd = -1;
	struct dwarf_offsets d;
	char path[64];

	if (fd < 0)
		fd = memfd_create("fuzz_dwarf", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		return;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (!dwarf_heap_offsets(path, DW_ALL, &d) && d.obmalloc_is_ptr && !d.found[DW_INTERP_OBMALLOC])
		abort();	/* the pointer flag comes only with the field */
}

/* the DWARF cache would keep a record per input: none while fuzzing */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setenv("MMTRACE_CACHE_DIR", "", 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* libelf may keep pointers into the buffer: give it a private copy */
	void *buf = malloc(size ? size : 1);
	struct elf_file ef;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (!elf_file_open_mem(&ef, buf, size)) {
		read_everything(&ef);
		elf_file_close(&ef);
	}
	free(buf);
	read_dwarf(data, size);
	return 0;
}
