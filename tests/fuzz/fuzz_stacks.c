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
#include "linetable.h"
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
	stacks_free(&t);
	symbolizer_close(&sym);
	return 0;
}
