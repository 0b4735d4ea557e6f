// SPDX-License-Identifier: MIT
/*
 * The cache is keyed by code object address, and each use checks the
 * entry still describes the object there: the code objects of module and
 * class bodies are freed after import, and their addresses are soon reused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "discover.h"
#include "linetable.h"
#include "symbolize.h"

#define OB_TYPE 8
#define VAR_SIZE 16		/* PyVarObject.ob_size, PyASCIIObject.length */
#define ASCII_STATE 32		/* PyASCIIObject.state: compact (bit 5), ascii (bit 6) */
#define BYTES_DATA 32		/* PyBytesObject.ob_sval */
#define MAPS_REREAD_NS 50000000ull

static int reopen_maps(struct symbolizer *s, bool force)
{
	uint64_t now = monotonic_ns();

	if (!s->pid)
		return -EAGAIN;	/* an image: nothing to refresh */
	if (!force && s->pm_open && now - s->maps_read_ns < MAPS_REREAD_NS)
		return -EAGAIN;
	if (s->pm_open)
		procmem_close(&s->pm);
	s->pm_open = !procmem_open(&s->pm, s->pid);
	s->maps_read_ns = now;
	if (s->pm_open)
		s->reader = procmem_reader(&s->pm);
	return s->pm_open ? 0 : -ESRCH;
}

/* A read, retried once with fresh mappings: the target maps memory as it runs. */
static int rd(struct symbolizer *s, uint64_t addr, void *buf, size_t len)
{
	bool force = s->may_refresh;

	if (s->pid && !s->pm_open && reopen_maps(s, true))
		return -ESRCH;
	if (!s->reader.read(s->reader.ctx, addr, buf, len))
		return 0;
	/* a new code object, its names and table may lie in memory mapped
	 * since the maps were read: once per object, whatever the rate limit */
	s->may_refresh = false;
	if (reopen_maps(s, force))
		return -EFAULT;
	return s->reader.read(s->reader.ctx, addr, buf, len);
}

int symbolizer_open(struct symbolizer *s, pid_t pid, const struct python_binary *bin)
{
	uint64_t bias;

	memset(s, 0, sizeof(*s));
	s->max_entries = SYM_CACHE_MAX;
	s->pid = pid;
	if (stack_layouts_of(bin, NULL, &s->layout) == OFF_NONE)
		return -ENOENT;
	if (reopen_maps(s, true))
		return -ESRCH;
	if (bin->code_type_vaddr && !procmem_load_bias(&s->pm, bin->path, bin->anchor_offset, bin->anchor_vaddr, &bias))
		s->code_type = bin->code_type_vaddr + bias;
	return 0;
}

void symbolizer_open_reader(struct symbolizer *s, const struct code_layout *layout, uint64_t code_type,
			    struct mem_reader reader)
{
	memset(s, 0, sizeof(*s));
	s->max_entries = SYM_CACHE_MAX;
	s->layout = *layout;
	s->code_type = code_type;
	s->reader = reader;
}

static void free_info(struct code_info *c)
{
	free(c->name);
	free(c->file);
	free(c->lines);
}

void symbolizer_close(struct symbolizer *s)
{
	size_t i;

	for (i = 0; i < s->cap; i++)
		if (s->slots[i].code)
			free_info(&s->slots[i]);
	free(s->slots);
	if (s->pm_open)
		procmem_close(&s->pm);
	memset(s, 0, sizeof(*s));
}

/* A str object's text: compact ASCII only; anything else reads as "?".
 * A byte above 0x7f cannot be in an ASCII str: the object was freed and its
 * memory reused while it was read, so the read fails (the frame then reads
 * as unreadable, never as garbage). A control byte becomes '?'. */
static char *read_str(struct symbolizer *s, uint64_t obj, size_t max)
{
	uint64_t length, i;
	uint32_t state;
	char *text;

	if (!obj || rd(s, obj + VAR_SIZE, &length, sizeof(length)) || rd(s, obj + ASCII_STATE, &state, sizeof(state)))
		return NULL;
	if (!(state & (1u << 5)) || !(state & (1u << 6)))
		return strdup("?");
	if (length >= max)
		length = max - 1;
	text = calloc(1, length + 1);
	if (text && rd(s, obj + s->layout.ascii_data, text, length)) {
		free(text);
		return NULL;
	}
	for (i = 0; text && i < length; i++) {
		if ((unsigned char)text[i] > 0x7f) {
			free(text);
			return NULL;
		}
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
			text[i] = '?';
	}
	return text;
}

static uint8_t *read_bytes(struct symbolizer *s, uint64_t obj, size_t *len)
{
	uint64_t n;
	uint8_t *data;

	if (!obj || rd(s, obj + VAR_SIZE, &n, sizeof(n)) || n > SYM_LINES_MAX)
		return NULL;
	data = malloc(n ? n : 1);
	if (data && n && rd(s, obj + BYTES_DATA, data, n)) {
		free(data);
		return NULL;
	}
	*len = n;
	return data;
}

static void read_code(struct symbolizer *s, struct code_info *c, bool may_refresh)
{
	const struct code_layout *l = &s->layout;
	uint64_t type = 0, name = 0, file = 0, lines = 0;
	int32_t first = 0;

	s->may_refresh = may_refresh;
	if (rd(s, c->code + OB_TYPE, &type, sizeof(type)))
		return;
	if (s->code_type && type != s->code_type)
		return;	/* not a code object (freed meanwhile, or a torn chain) */
	if (rd(s, c->code + l->name, &name, sizeof(name)) || rd(s, c->code + l->filename, &file, sizeof(file)) ||
	    rd(s, c->code + l->linetable, &lines, sizeof(lines)) ||
	    rd(s, c->code + l->firstlineno, &first, sizeof(first)))
		return;
	c->name_obj = name;
	c->file_obj = file;
	c->lines_obj = lines;
	c->name = read_str(s, name, SYM_NAME_MAX);
	c->file = read_str(s, file, SYM_FILE_MAX);
	c->lines = read_bytes(s, lines, &c->nlines);
	c->firstlineno = first;
	c->valid = c->name && c->file && c->lines;
	s->may_refresh = false;
}

static int grow(struct symbolizer *s)
{
	struct code_info *old = s->slots, *slots;
	size_t i, cap = s->cap ? 2 * s->cap : 1024, j;

	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (i = 0; i < s->cap; i++) {
		if (!old[i].code)
			continue;
		for (j = (old[i].code >> 4) & (cap - 1); slots[j].code; j = (j + 1) & (cap - 1))
			;
		slots[j] = old[i];
	}
	free(old);
	s->slots = slots;
	s->cap = cap;
	return 0;
}

/* The object at the entry's address still has the entry's names and table:
 * the three pointers lie within 32 bytes, read at once. */
static bool still_same(struct symbolizer *s, const struct code_info *c)
{
	const struct code_layout *l = &s->layout;
	uint64_t lo = l->name < l->filename ? l->name : l->filename, hi, words[4], name, file, lines;

	if (l->linetable < lo)
		lo = l->linetable;
	hi = l->name > l->filename ? l->name : l->filename;
	if (l->linetable > hi)
		hi = l->linetable;
	if (hi - lo > sizeof(words) - sizeof(uint64_t) || rd(s, c->code + lo, words, hi - lo + sizeof(uint64_t)))
		return false;
	memcpy(&name, (char *)words + (l->name - lo), sizeof(name));
	memcpy(&file, (char *)words + (l->filename - lo), sizeof(file));
	memcpy(&lines, (char *)words + (l->linetable - lo), sizeof(lines));
	return name == c->name_obj && file == c->file_obj && lines == c->lines_obj;
}

/* Frees the next entry from the clock hand on and closes the gap in its
 * probe chain (backward shift), so lookups need no tombstones. A code
 * object evicted and met again is simply read again. */
static void evict_one(struct symbolizer *s)
{
	size_t mask = s->cap - 1, i = s->hand & mask, j, home;

	while (!s->slots[i].code)
		i = (i + 1) & mask;
	s->hand = i + 1;
	free_info(&s->slots[i]);
	memset(&s->slots[i], 0, sizeof(s->slots[i]));
	for (j = (i + 1) & mask; s->slots[j].code; j = (j + 1) & mask) {
		home = (s->slots[j].code >> 4) & mask;
		/* an entry whose home lies cyclically in (i, j] stays */
		if (i <= j ? (home > i && home <= j) : (home > i || home <= j))
			continue;
		s->slots[i] = s->slots[j];
		memset(&s->slots[j], 0, sizeof(s->slots[j]));
		i = j;
	}
	s->n--;
	s->evicted++;
}

const struct code_info *symbolize_code(struct symbolizer *s, uint64_t code)
{
	struct code_info *c;
	uint64_t failed;
	size_t i;

	if (!code || ((s->n + 1) * 2 > s->cap && grow(s)))
		return NULL;
	for (i = (code >> 4) & (s->cap - 1); s->slots[i].code; i = (i + 1) & (s->cap - 1)) {
		c = &s->slots[i];
		if (c->code != code)
			continue;
		if (c->valid && still_same(s, c)) {
			s->hits++;
			return c;
		}
		/* another object now, or one that was not a readable code object:
		 * read again (an object seen mid-change reads right a moment
		 * later), refreshing the maps for it at most every 50 ms */
		failed = c->valid ? 0 : c->failed_ns;
		free_info(c);
		memset(c, 0, sizeof(*c));
		c->code = code;
		s->misses++;
		read_code(s, c, !failed || monotonic_ns() - failed >= MAPS_REREAD_NS);
		if (!c->valid)
			c->failed_ns = failed ? failed : monotonic_ns();
		return c;
	}
	s->misses++;
	if (s->n >= s->max_entries) {	/* full: one goes, then the free slot moved */
		evict_one(s);
		for (i = (code >> 4) & (s->cap - 1); s->slots[i].code; i = (i + 1) & (s->cap - 1))
			;
	}
	s->slots[i].code = code;
	s->n++;
	read_code(s, &s->slots[i], true);
	if (!s->slots[i].valid)
		s->slots[i].failed_ns = monotonic_ns();
	return &s->slots[i];
}

/* The folded format separates frames with ';' and stacks with newlines. */
static void sanitize(char *p)
{
	for (; *p; p++)
		if (*p == ';' || *p == '\n' || *p == '\r')
			*p = '_';
}

void frame_text(struct symbolizer *s, uint64_t code, uint64_t lasti, char *buf, size_t len)
{
	const struct code_info *c = symbolize_code(s, code);
	int line;

	if (!c || !c->valid) {
		snprintf(buf, len, "[unreadable code 0x%llx]", (unsigned long long)code);
		return;
	}
	line = code_line(s->layout.lines, c->lines, c->nlines, c->firstlineno, lasti);
	if (line < 0)
		snprintf(buf, len, "%s (%s)", c->name, c->file);
	else
		snprintf(buf, len, "%s (%s:%d)", c->name, c->file, line);
	sanitize(buf);
}
