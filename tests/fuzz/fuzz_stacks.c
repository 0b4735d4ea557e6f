// SPDX-License-Identifier: MIT
/* libFuzzer target: what turns a BPF stack into text. The input holds a
 * stack event and a memory image of the "process": the symboliser reads code
 * objects, strings and line tables (three formats) from it, and the folding
 * joins the frames. Nothing it reads may be trusted. */
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"
#include <zlib.h>
#include "linetable.h"
#include "pprof.h"
#include "profile.pb-c.h"
#include "stacks.h"
#include "symbolize.h"

#define IMAGE_BASE 0x20000000ull

struct image {
	const uint8_t *data;
	size_t size;
};

static int read_image(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct image *im = ctx;

	if (addr < IMAGE_BASE || addr - IMAGE_BASE > im->size || len > im->size - (addr - IMAGE_BASE))
		return -EFAULT;
	memcpy(buf, im->data + (addr - IMAGE_BASE), len);
	return 0;
}

/* whatever the memory held, the folded text is well-formed UTF-8 */
static void folded_is_utf8(const struct stack_table *t)
{
	char *text = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&text, &len);
	int m, n;

	if (!f)
		return;
	for (m = 0; m < FOLD__COUNT; m++)
		stacks_write_folded(t, (enum folded_metric)m, f);
	fclose(f);
	for (i = 0; i < len; i += (size_t)n)
		if (!(n = utf8_sequence_len((const unsigned char *)text + i)))
			abort();
	free(text);
}

static void check_utf8(const char *s)
{
	int n;

	for (; *s; s += n)
		if (!(n = utf8_sequence_len((const unsigned char *)s)))
			abort();
}

static uint8_t *gunzip(const uint8_t *in, size_t len, size_t *outlen)
{
	size_t cap = 1 << 16;
	uint8_t *out = malloc(cap);
	z_stream z = { 0 };
	int rc;

	if (!out || inflateInit2(&z, 15 + 16) != Z_OK)
		abort();
	z.next_in = (Bytef *)in, z.avail_in = (uInt)len;
	for (;;) {
		z.next_out = out + z.total_out, z.avail_out = (uInt)(cap - z.total_out);
		rc = inflate(&z, Z_NO_FLUSH);
		if (rc == Z_STREAM_END)
			break;
		if (rc != Z_OK && rc != Z_BUF_ERROR)
			abort();
		out = realloc(out, cap *= 2);
		if (!out)
			abort();
	}
	*outlen = z.total_out;
	inflateEnd(&z);
	return out;
}

/* whatever the memory held, the profile decodes, its strings are UTF-8 and
 * its samples point at locations and functions it has */
static void pprof_is_valid(const struct stack_table *t, bool growth, uint64_t sample_bytes)
{
	struct pprof_process proc = { 0, "fuzz\xff" };
	struct pprof_run r = { &proc, 1, growth, sample_bytes, 1, 1 };
	Perftools__Profiles__Profile *p;
	uint8_t *gz, *raw;
	size_t len, rawlen, i, j, k;

	if (pprof_encode(t, &r, &gz, &len))
		abort();
	raw = gunzip(gz, len, &rawlen);
	p = perftools__profiles__profile__unpack(NULL, rawlen, raw);
	if (!p || !p->n_string_table || p->string_table[0][0])
		abort();
	for (i = 0; i < p->n_string_table; i++)
		check_utf8(p->string_table[i]);
	for (i = 0; i < p->n_sample; i++) {
		if (p->sample[i]->n_value != p->n_sample_type)
			abort();
		for (j = 0; j < p->sample[i]->n_location_id; j++)
			if (!p->sample[i]->location_id[j] || p->sample[i]->location_id[j] > p->n_location)
				abort();
		for (j = 0; j < p->sample[i]->n_label; j++)
			if ((size_t)p->sample[i]->label[j]->str >= p->n_string_table)
				abort();
	}
	for (i = 0; i < p->n_location; i++)
		for (k = 0; k < p->location[i]->n_line; k++)
			if (p->location[i]->id != i + 1 || !p->location[i]->line[k]->function_id ||
			    p->location[i]->line[k]->function_id > p->n_function)
				abort();
	for (i = 0; i < p->n_function; i++)
		if ((size_t)p->function[i]->name >= p->n_string_table ||
		    (size_t)p->function[i]->filename >= p->n_string_table)
			abort();
	perftools__profiles__profile__free_unpacked(p, NULL);
	free(raw);
	free(gz);
}

/* The writer on raw text too: frames it splits need not come from the symboliser. */
static void pprof_of_text(const uint8_t *data, size_t size)
{
	struct stack_entry slot = { 0 };
	struct stack_table t;

	stacks_init(&t);
	slot.frames = strndup((const char *)data, size);
	slot.metric = (enum stack_metric)(1 + data[0] % 4);
	slot.pid = slot.tid = data[1];
	slot.weight = slot.count = slot.pause_ns = 1;
	t.slots = &slot, t.cap = t.n = 1;
	t.growth_from_pools = data[0] & 16;
	if (slot.frames)
		pprof_is_valid(&t, true, 4096);
	free(slot.frames);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int versions[][2] = { { 3, 8 }, { 3, 10 }, { 3, 12 } };
	struct mm_stack_event e;
	struct image im;
	struct symbolizer sym;
	struct stack_table t;
	const int *v;
	size_t head;
	uint32_t i;

	if (size < 2)
		return 0;
	/* the line decoders alone, over the whole input */
	code_line(LINES_LNOTAB, data, size, 1, data[0]);
	code_line(LINES_LINETABLE, data, size, 1, data[0]);
	code_line(LINES_LOCATIONS, data, size, 1, (uint64_t)data[0] * 2);
	v = versions[data[0] % 3];
	head = 1 + (data[1] % 8) * sizeof(struct py_frame);
	if (size < head + 1)
		return 0;
	memset(&e, 0, sizeof(e));
	e.kind = MM_EV_STACK;
	e.metric = 1 + data[1] % 3;
	e.depth = data[1] % 8;
	e.flags = (data[1] >> 3) & 7;
	memcpy(e.frames, data + 2, head - 1 <= size - 2 ? head - 1 : 0);
	for (i = 0; i < e.depth; i++)	/* frames point into the image */
		e.frames[i].code = IMAGE_BASE + (e.frames[i].code % (size + 1));
	im = (struct image){ data, size };
	symbolizer_open_reader(&sym, code_layout_for(v[0], v[1]), 0, (struct mem_reader){ read_image, NULL, &im });
	stacks_init(&t);
	stacks_add(&t, &sym, &e);
	stacks_add(&t, &sym, &e);	/* the second time from the cache */
	if (t.n != 1 || t.slots == NULL)
		abort();
	folded_is_utf8(&t);
	pprof_is_valid(&t, data[0] & 1, data[0] & 2 ? 65536 : 0);
	pprof_of_text(data, size);
	stacks_free(&t);
	symbolizer_close(&sym);
	return 0;
}
