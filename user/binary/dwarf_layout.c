// SPDX-License-Identifier: MIT
/*
 * Each field is a path of members from a named struct. The structs are
 * looked up among the top-level DIEs of every unit (LTO builds put types in
 * partial units); a declaration without members is skipped.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include "dwarf_cache.h"
#include "dwarf_layout.h"
#include "elf_file.h"

struct field_path {
	const char *type;	/* struct tag */
	const char *members[2];	/* one or two members deep */
};

static const struct field_path paths[DW__COUNT] = {
	[DW_RUNTIME_INTERP_MAIN] = { "pyruntimestate", { "interpreters", "main" } },
	[DW_RUNTIME_GC] = { "pyruntimestate", { "gc", NULL } },
	[DW_INTERP_GC] = { "_is", { "gc", NULL } },
	[DW_INTERP_OBMALLOC] = { "_is", { "obmalloc", NULL } },
	[DW_OBMALLOC_MGMT] = { "_obmalloc_state", { "mgmt", NULL } },
	[DW_GC_ENABLED] = { "_gc_runtime_state", { "enabled", NULL } },
	[DW_GC_GENERATIONS] = { "_gc_runtime_state", { "generations", NULL } },
	[DW_MGMT_ARENAS] = { "_obmalloc_mgmt", { "arenas", NULL } },
	[DW_MGMT_MAXARENAS] = { "_obmalloc_mgmt", { "maxarenas", NULL } },
	[DW_MGMT_NARENAS_CURRENT] = { "_obmalloc_mgmt", { "narenas_currently_allocated", NULL } },
	[DW_MGMT_NTIMES] = { "_obmalloc_mgmt", { "ntimes_arena_allocated", NULL } },
	[DW_MGMT_HIGHWATER] = { "_obmalloc_mgmt", { "narenas_highwater", NULL } },
};

/* Follows DW_AT_type through typedefs and qualifiers. */
static bool type_of(Dwarf_Die *die, Dwarf_Die *out)
{
	Dwarf_Attribute a;
	int i, tag;

	if (!dwarf_attr_integrate(die, DW_AT_type, &a) || !dwarf_formref_die(&a, out))
		return false;
	for (i = 0; i < 16; i++) {
		tag = dwarf_tag(out);
		if (tag != DW_TAG_typedef && tag != DW_TAG_const_type && tag != DW_TAG_volatile_type)
			return true;
		if (!dwarf_attr_integrate(out, DW_AT_type, &a) || !dwarf_formref_die(&a, out))
			return false;
	}
	return false;
}

static bool find_member(Dwarf_Die *st, const char *name, Dwarf_Die *member, uint64_t *off)
{
	Dwarf_Attribute a;
	Dwarf_Word w;
	const char *n;

	if (dwarf_child(st, member))
		return false;
	do {
		if (dwarf_tag(member) != DW_TAG_member || !(n = dwarf_diename(member)) || strcmp(n, name))
			continue;
		if (!dwarf_attr_integrate(member, DW_AT_data_member_location, &a) || dwarf_formudata(&a, &w))
			return false;
		*off = w;
		return true;
	} while (!dwarf_siblingof(member, member));
	return false;
}

/* One field of the struct die: the sum of the members' offsets. */
static void resolve_field(Dwarf_Die *st, int f, struct dwarf_offsets *out)
{
	Dwarf_Die cur = *st, member, type;
	uint64_t total = 0, off;
	int i;

	for (i = 0; i < 2 && paths[f].members[i]; i++) {
		if (!find_member(&cur, paths[f].members[i], &member, &off))
			return;
		total += off;
		if (!type_of(&member, &type))
			return;
		if (f == DW_INTERP_OBMALLOC)
			out->obmalloc_is_ptr = dwarf_tag(&type) == DW_TAG_pointer_type;
		cur = type;
	}
	out->off[f] = total;
	out->found[f] = true;
}

static void visit_struct(Dwarf_Die *die, struct dwarf_offsets *out)
{
	const char *name = dwarf_diename(die);
	Dwarf_Die child;
	int f;

	if (!name || dwarf_child(die, &child))
		return;	/* unnamed, or a declaration */
	for (f = 0; f < DW__COUNT; f++)
		if (!out->found[f] && !strcmp(name, paths[f].type))
			resolve_field(die, f, out);
}

/* Calls visit on each top-level DIE of every compile unit of path's DWARF,
 * until it returns true: it has all it wants (a debug file of 11 MB takes
 * ~0.2 s to walk whole, so the walk ends as soon as it can). */
static int for_each_top_die(int fd, bool (*visit)(Dwarf_Die *die, void *arg), void *arg)
{
	Dwarf_Off off = 0, next;
	Dwarf_Die cu, die;
	size_t hsize;
	Dwarf *dw;
	int units = 0;
	bool done = false;

	dw = dwarf_begin(fd, DWARF_C_READ);
	if (!dw)
		return -ENOENT;
	/* a hostile file may claim any number of units: bounded */
	while (!done && units++ < 100000 && !dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL)) {
		if (dwarf_offdie(dw, off + hsize, &cu) && !dwarf_child(&cu, &die)) {
			do
				done = visit(&die, arg);
			while (!done && !dwarf_siblingof(&die, &die));
		}
		off = next;
	}
	dwarf_end(dw);
	return 0;
}

/* A cached record holds plain flags: anything else is not one. */
static bool valid_offsets(const struct dwarf_offsets *d)
{
	const unsigned char *b = (const unsigned char *)d->found;
	size_t i;

	for (i = 0; i < DW__COUNT; i++)
		if (b[i] > 1)
			return false;
	return *(const unsigned char *)&d->obmalloc_is_ptr <= 1;
}

struct heap_walk {
	struct dwarf_offsets *out;
	uint32_t want;
};

static bool visit_heap_die(Dwarf_Die *die, void *arg)
{
	struct heap_walk *w = arg;
	int f;

	if (dwarf_tag(die) == DW_TAG_structure_type)
		visit_struct(die, w->out);
	for (f = 0; f < DW__COUNT; f++)
		if ((w->want & (1u << f)) && !w->out->found[f])
			return false;
	return true;
}

int dwarf_heap_offsets(const char *path, uint32_t want, struct dwarf_offsets *out)
{
	struct heap_walk w = { out, want };
	char question[16];
	int fd, rc;

	memset(out, 0, sizeof(*out));
	fd = open_target_file(path);
	if (fd < 0)
		return fd;
	snprintf(question, sizeof(question), "heap %08x", want);
	if (dwarf_cache_load(fd, question, strlen(question), out, sizeof(*out)) && valid_offsets(out)) {
		close(fd);
		return 0;
	}
	memset(out, 0, sizeof(*out));
	rc = for_each_top_die(fd, visit_heap_die, &w);
	if (!rc)
		dwarf_cache_store(fd, question, strlen(question), out, sizeof(*out));
	close(fd);
	return rc;
}

/* The struct a top-level DIE names, by tag or through a typedef, when it is
 * a definition (a declaration has no members). */
static const char *named_struct(Dwarf_Die *die, Dwarf_Die *st)
{
	const char *name = dwarf_diename(die);
	Dwarf_Die child;
	int tag = dwarf_tag(die);

	if (!name)
		return NULL;
	if (tag == DW_TAG_structure_type)
		*st = *die;
	else if (tag != DW_TAG_typedef || !type_of(die, st) || dwarf_tag(st) != DW_TAG_structure_type)
		return NULL;
	return dwarf_child(st, &child) ? NULL : name;
}

static void answer(Dwarf_Die *st, struct dwarf_query *q)
{
	Dwarf_Die cur = *st, member;
	uint64_t total = 0, off;
	int i, size;

	for (i = 0; i < DWARF_QUERY_DEPTH && q->members[i]; i++) {
		if (!find_member(&cur, q->members[i], &member, &off))
			return;
		total += off;
		/* the next member is looked up in this one's type */
		if (i + 1 < DWARF_QUERY_DEPTH && q->members[i + 1] && !type_of(&member, &cur))
			return;
	}
	if (!i) {
		size = dwarf_bytesize(st);
		if (size < 0)
			return;
		total = size;
	}
	q->value = total;
	q->found = true;
}

static void answer_all(Dwarf_Die *die, struct dwarf_query *q, size_t n)
{
	const char *name;
	Dwarf_Die st;
	size_t i;

	name = named_struct(die, &st);
	for (i = 0; name && i < n; i++)
		if (!q[i].found && !strcmp(name, q[i].type))
			answer(&st, &q[i]);
}

struct query_batch {
	struct dwarf_query *q;
	size_t n;
};

static bool visit_query_die(Dwarf_Die *die, void *arg)
{
	struct query_batch *b = arg;
	size_t i;

	answer_all(die, b->q, b->n);
	for (i = 0; i < b->n; i++)
		if (!b->q[i].found)
			return false;
	return true;
}

/* A cached answer: each query's value and whether it was found. */
struct query_answer {
	uint64_t value;
	uint8_t found;
	uint8_t pad[7];
};

#define MAX_CACHED_QUERIES 128

/* The queries' names, one after the other: what the cache is asked. */
static size_t query_text(const struct dwarf_query *q, size_t n, char *buf, size_t cap)
{
	size_t len = 0, i, j;
	int w;

	for (i = 0; i < n; i++) {
		w = snprintf(buf + len, cap - len, "%s", q[i].type);
		for (j = 0; w >= 0 && (size_t)w < cap - len && j < DWARF_QUERY_DEPTH && q[i].members[j]; j++)
			w += snprintf(buf + len + w, cap - len - w, ".%s", q[i].members[j]);
		if (w < 0 || (size_t)w + 1 >= cap - len)
			return 0;	/* too long to cache: asked of the file */
		len += (size_t)w + 1;	/* the NUL separates */
	}
	return len;
}

static bool load_answers(int fd, const char *text, size_t len, struct dwarf_query *q, size_t n)
{
	struct query_answer a[MAX_CACHED_QUERIES];
	size_t i;

	if (!len || n > MAX_CACHED_QUERIES || !dwarf_cache_load(fd, text, len, a, n * sizeof(a[0])))
		return false;
	for (i = 0; i < n; i++) {
		if (a[i].found > 1)
			return false;
		q[i].value = a[i].value;
		q[i].found = a[i].found;
	}
	return true;
}

static void store_answers(int fd, const char *text, size_t len, const struct dwarf_query *q, size_t n)
{
	struct query_answer a[MAX_CACHED_QUERIES];
	size_t i;

	if (!len || n > MAX_CACHED_QUERIES)
		return;
	memset(a, 0, n * sizeof(a[0]));
	for (i = 0; i < n; i++) {
		a[i].value = q[i].value;
		a[i].found = q[i].found;
	}
	dwarf_cache_store(fd, text, len, a, n * sizeof(a[0]));
}

int dwarf_query_file(const char *path, struct dwarf_query *q, size_t n)
{
	struct query_batch b = { q, n };
	char text[4096];
	size_t i, len;
	int fd, rc;

	for (i = 0; i < n; i++)
		q[i].found = false;
	fd = open_target_file(path);
	if (fd < 0)
		return fd;
	len = query_text(q, n, text, sizeof(text));
	if (load_answers(fd, text, len, q, n)) {
		close(fd);
		return 0;
	}
	rc = for_each_top_die(fd, visit_query_die, &b);
	if (!rc)
		store_answers(fd, text, len, q, n);
	close(fd);
	return rc;
}
