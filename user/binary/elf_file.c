// SPDX-License-Identifier: MIT
/*
 * ELF access through libelf. Every file here may be hostile (a container's
 * binary, a truncated download), so every size read from the file is checked
 * against the data libelf actually holds before it is used.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/openat2.h>
#include <unistd.h>
#include "elf_file.h"

#define NOTE_ALIGN4(x) (((x) + 3u) & ~(size_t)3u)

static int elf_setup(struct elf_file *ef)
{
	if (!ef->elf || elf_kind(ef->elf) != ELF_K_ELF)
		return -ENOEXEC;
	if (gelf_getclass(ef->elf) != ELFCLASS64 || !gelf_getehdr(ef->elf, &ef->ehdr))
		return -ENOEXEC;
	if (elf_getshdrstrndx(ef->elf, &ef->shstrndx))
		ef->shstrndx = SHN_UNDEF;
	return 0;
}

/*
 * A target names these paths (its maps, its root, its debug links), so one
 * may be a FIFO or a device: opening a FIFO for reading would wait for a
 * writer forever, and reading a device may never end. O_NONBLOCK makes the
 * open return at once (it changes nothing for a regular file), and only a
 * regular file of a sane size is kept: libelf and libdw map the whole file,
 * and a sparse 100 GiB "debug file" would be read, or faulted in, for ever.
 */
static int checked_fd(int fd)
{
	struct stat st;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if (st.st_size <= 0 || (uint64_t)st.st_size > TARGET_FILE_MAX) {
		close(fd);
		return st.st_size <= 0 ? -ENODATA : -EFBIG;
	}
	return fd;
}

int open_target_file_in(int root_fd, const char *path)
{
	/*
	 * RESOLVE_IN_ROOT makes "/" and ".." of the path, and of every
	 * symlink met on the way, the target's root: an absolute symlink
	 * planted in a container lands in the container, not on the host as
	 * it would after the /proc/PID/root magic link (which only moves the
	 * start; what follows restarts at mmtrace's root). Magic links
	 * (/proc/self/fd/N inside the target's /proc) lead anywhere: refused.
	 */
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};

	if (root_fd < 0)
		return checked_fd(open(path, (int)how.flags));
	return checked_fd((int)syscall(SYS_openat2, root_fd, path, &how, sizeof(how)));
}

/* The length of a leading "/proc/PID/root" in path, 0 when there is none. */
static size_t proc_root_prefix(const char *path)
{
	const char *p = path;

	if (strncmp(p, "/proc/", 6))
		return 0;
	p += 6;
	if (*p < '1' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	if (strncmp(p, "/root", 5) || (p[5] && p[5] != '/'))
		return 0;
	return (size_t)(p + 5 - path);
}

int open_target_root(const char *path)
{
	char root[64];
	size_t n = proc_root_prefix(path);
	int fd;

	if (!n || n >= sizeof(root))
		return -EINVAL;
	memcpy(root, path, n);
	root[n] = '\0';
	/* O_PATH: a handle on the root for openat2, nothing read through it */
	fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int open_target_file(const char *path)
{
	size_t n = proc_root_prefix(path);
	int root_fd, fd;

	if (!n)
		return open_target_file_in(-1, path);
	root_fd = open_target_root(path);
	if (root_fd < 0)
		return root_fd;
	fd = open_target_file_in(root_fd, path[n] ? path + n : "/");
	close(root_fd);
	return fd;
}

const char *target_file_error(int err)
{
	switch (err) {
	case -EINVAL:
		return "not a regular file";
	case -ENODATA:
		return "empty";
	case -EFBIG:
		return "larger than 2 GiB";
	case -ENOEXEC:
		return "not a 64-bit ELF file";
	default:
		return strerror(-err);
	}
}

int elf_file_open_fd(struct elf_file *ef, int fd)
{
	int err;

	memset(ef, 0, sizeof(*ef));
	elf_version(EV_CURRENT);
	ef->fd = fd;
	ef->elf = elf_begin(ef->fd, ELF_C_READ_MMAP, NULL);
	err = elf_setup(ef);
	if (err)
		elf_file_close(ef);
	return err;
}

int elf_file_open(struct elf_file *ef, const char *path)
{
	int fd = open_target_file(path);

	if (fd < 0) {
		memset(ef, 0, sizeof(*ef));
		ef->fd = -1;
		/* an empty file is no ELF file: callers tell "not CPython" by it */
		return fd == -ENODATA ? -ENOEXEC : fd;
	}
	return elf_file_open_fd(ef, fd);
}

int elf_file_open_mem(struct elf_file *ef, void *buf, size_t len)
{
	int err;

	memset(ef, 0, sizeof(*ef));
	elf_version(EV_CURRENT);
	ef->fd = -1;
	ef->elf = elf_memory(buf, len);
	err = elf_setup(ef);
	if (err)
		elf_file_close(ef);
	return err;
}

void elf_file_close(struct elf_file *ef)
{
	if (ef->elf)
		elf_end(ef->elf);
	if (ef->fd >= 0)
		close(ef->fd);
	ef->elf = NULL;
	ef->fd = -1;
}

Elf_Scn *elf_section_named(struct elf_file *ef, const char *name, GElf_Shdr *shdr)
{
	Elf_Scn *scn = NULL;
	const char *sname;

	if (ef->shstrndx == SHN_UNDEF)
		return NULL;
	while ((scn = elf_nextscn(ef->elf, scn))) {
		if (!gelf_getshdr(scn, shdr))
			continue;
		sname = elf_strptr(ef->elf, ef->shstrndx, shdr->sh_name);
		if (sname && !strcmp(sname, name))
			return scn;
	}
	return NULL;
}

bool elf_has_section_type(struct elf_file *ef, Elf64_Word type)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr shdr;

	while ((scn = elf_nextscn(ef->elf, scn)))
		if (gelf_getshdr(scn, &shdr) && shdr.sh_type == type)
			return true;
	return false;
}

static int symbols_of_section(struct elf_file *ef, Elf_Scn *scn, const GElf_Shdr *shdr,
			      elf_sym_cb cb, void *arg)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t i, n;
	GElf_Sym sym;
	const char *name;
	int ret;

	if (!data || !shdr->sh_entsize)
		return 0;
	n = data->d_size / shdr->sh_entsize;
	for (i = 0; i < n; i++) {
		if (!gelf_getsym(data, (int)i, &sym) || !sym.st_name)
			continue;
		name = elf_strptr(ef->elf, shdr->sh_link, sym.st_name);
		if (!name || !*name)
			continue;
		ret = cb(name, &sym, arg);
		if (ret)
			return ret;
	}
	return 0;
}

int elf_for_each_symbol(struct elf_file *ef, Elf64_Word type, elf_sym_cb cb, void *arg)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr shdr;
	int ret;

	while ((scn = elf_nextscn(ef->elf, scn))) {
		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != type)
			continue;
		ret = symbols_of_section(ef, scn, &shdr, cb, arg);
		if (ret)
			return ret;
	}
	return 0;
}

struct find_defined_arg {
	const char *name;
	GElf_Sym *out;
};

static int match_defined(const char *name, const GElf_Sym *sym, void *arg)
{
	struct find_defined_arg *a = arg;

	if (sym->st_shndx == SHN_UNDEF || strcmp(name, a->name))
		return 0;
	*a->out = *sym;
	return 1;
}

int elf_find_defined(struct elf_file *ef, Elf64_Word type, const char *name, GElf_Sym *out)
{
	struct find_defined_arg a = { name, out };

	return elf_for_each_symbol(ef, type, match_defined, &a) == 1 ? 0 : -ENOENT;
}

int elf_vaddr_to_offset(struct elf_file *ef, uint64_t vaddr, uint64_t *off)
{
	size_t i, n;
	GElf_Phdr ph;

	if (elf_getphdrnum(ef->elf, &n))
		return -ENOEXEC;
	for (i = 0; i < n; i++) {
		if (!gelf_getphdr(ef->elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (vaddr >= ph.p_vaddr && vaddr - ph.p_vaddr < ph.p_filesz) {
			*off = vaddr - ph.p_vaddr + ph.p_offset;
			return 0;
		}
	}
	return -ENOENT;
}

int elf_read_vaddr(struct elf_file *ef, uint64_t vaddr, void *buf, size_t len)
{
	Elf_Scn *scn = NULL;
	Elf_Data *data;
	GElf_Shdr shdr;
	uint64_t rel;

	while ((scn = elf_nextscn(ef->elf, scn))) {
		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_PROGBITS)
			continue;
		if (vaddr < shdr.sh_addr || vaddr - shdr.sh_addr >= shdr.sh_size)
			continue;
		data = elf_getdata(scn, NULL);
		rel = vaddr - shdr.sh_addr;
		if (!data || !data->d_buf || rel > data->d_size || len > data->d_size - rel)
			return -ERANGE;
		memcpy(buf, (const char *)data->d_buf + rel, len);
		return 0;
	}
	return -ENOENT;
}

/* Walks the notes of every SHT_NOTE section; cb gets name, type, desc. */
typedef int (*note_cb)(const char *name, GElf_Word type, const void *desc, size_t desc_len,
		       void *arg);

static int for_each_note(struct elf_file *ef, const char *section, note_cb cb, void *arg)
{
	Elf_Scn *scn = NULL;
	Elf_Data *data;
	GElf_Shdr shdr;
	GElf_Nhdr nh;
	size_t off, name_off, desc_off;
	const char *sname;
	int ret;

	while ((scn = elf_nextscn(ef->elf, scn))) {
		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_NOTE)
			continue;
		sname = elf_strptr(ef->elf, ef->shstrndx, shdr.sh_name);
		if (section && (!sname || strcmp(sname, section)))
			continue;
		data = elf_getdata(scn, NULL);
		if (!data || !data->d_buf)
			continue;
		off = 0;
		while (off < data->d_size &&
		       (off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
			const char *name = (const char *)data->d_buf + name_off;

			/* libelf bounds name and desc; require the name to be terminated */
			if (!nh.n_namesz || name[nh.n_namesz - 1] != '\0')
				continue;
			ret = cb(name, nh.n_type, (const char *)data->d_buf + desc_off, nh.n_descsz, arg);
			if (ret)
				return ret;
		}
	}
	return 0;
}

struct build_id_arg {
	uint8_t *buf;
	size_t cap, *len;
};

static int take_build_id(const char *name, GElf_Word type, const void *desc, size_t len, void *arg)
{
	struct build_id_arg *a = arg;

	if (type != NT_GNU_BUILD_ID || strcmp(name, "GNU") || !len || len > a->cap)
		return 0;
	memcpy(a->buf, desc, len);
	*a->len = len;
	return 1;
}

int elf_build_id(struct elf_file *ef, uint8_t *buf, size_t cap, size_t *len)
{
	struct build_id_arg a = { buf, cap, len };

	return for_each_note(ef, NULL, take_build_id, &a) == 1 ? 0 : -ENOENT;
}

int elf_debuglink(struct elf_file *ef, char *name, size_t cap, uint32_t *crc)
{
	GElf_Shdr shdr;
	Elf_Scn *scn = elf_section_named(ef, ".gnu_debuglink", &shdr);
	Elf_Data *data = scn ? elf_getdata(scn, NULL) : NULL;
	size_t n, crc_off;

	if (!data || !data->d_buf || !data->d_size)
		return -ENOENT;
	n = strnlen(data->d_buf, data->d_size);
	crc_off = NOTE_ALIGN4(n + 1);
	if (n == 0 || n >= cap || crc_off > data->d_size || data->d_size - crc_off < 4)
		return -EINVAL;
	memcpy(name, data->d_buf, n);
	name[n] = '\0';
	memcpy(crc, (const char *)data->d_buf + crc_off, 4);
	return 0;
}

int elf_for_each_dynstr(struct elf_file *ef, int64_t tag, elf_dyn_cb cb, void *arg)
{
	Elf_Scn *scn = NULL;
	Elf_Data *data;
	GElf_Shdr shdr;
	GElf_Dyn dyn;
	const char *s;
	size_t i, n;
	int ret;

	while ((scn = elf_nextscn(ef->elf, scn))) {
		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_DYNAMIC || !shdr.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		n = data->d_size / shdr.sh_entsize;
		for (i = 0; i < n; i++) {
			if (!gelf_getdyn(data, (int)i, &dyn) || dyn.d_tag == DT_NULL)
				break;
			if (dyn.d_tag != tag)
				continue;
			s = elf_strptr(ef->elf, shdr.sh_link, dyn.d_un.d_val);
			if (!s)
				continue;
			ret = cb(s, arg);
			if (ret)
				return ret;
		}
	}
	return 0;
}

struct stapsdt_arg {
	elf_stapsdt_cb cb;
	void *arg;
	bool has_base;
	uint64_t base_addr;
};

/* desc: pc, base, semaphore (3 x u64), then provider\0 name\0 args\0 */
static int parse_stapsdt(const char *name, GElf_Word type, const void *desc, size_t len, void *arg)
{
	struct stapsdt_arg *a = arg;
	struct elf_stapsdt n;
	const char *p = (const char *)desc + 24, *end = (const char *)desc + len;
	const char *strs[3];
	uint64_t words[3];
	int i;

	if (type != 3 || strcmp(name, "stapsdt") || len < 24 + 3)
		return 0;
	memcpy(words, desc, sizeof(words));
	for (i = 0; i < 3; i++) {
		const char *z = memchr(p, '\0', (size_t)(end - p));

		if (!z)
			return 0; /* unterminated: skip the note, keep walking */
		strs[i] = p;
		p = z + 1;
	}
	n.pc = words[0];
	n.sem = words[2];
	/* prelink moves sections; .stapsdt.base records where they were linked */
	if (a->has_base && words[1]) {
		n.pc += a->base_addr - words[1];
		if (n.sem)
			n.sem += a->base_addr - words[1];
	}
	n.provider = strs[0];
	n.name = strs[1];
	n.args = strs[2];
	return a->cb(&n, a->arg);
}

int elf_for_each_stapsdt(struct elf_file *ef, elf_stapsdt_cb cb, void *arg)
{
	struct stapsdt_arg a = { .cb = cb, .arg = arg };
	GElf_Shdr shdr;

	if (elf_section_named(ef, ".stapsdt.base", &shdr)) {
		a.has_base = true;
		a.base_addr = shdr.sh_addr;
	}
	return for_each_note(ef, ".note.stapsdt", parse_stapsdt, &a);
}
