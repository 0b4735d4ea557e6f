// SPDX-License-Identifier: MIT
/* libFuzzer target: the whole "is this CPython, which version, where are
 * its collectors and USDT notes" pipeline, then the probe plan, over an
 * arbitrary file (given to resolve_python through a memfd path, the way
 * mmtrace meets files of other processes). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include "plan.h"
#include "resolve.h"

static int memfd = -1;
static char path[64];

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
	struct resolve_opts ro = { .debug_dirs = { "/nonexistent-fuzz-debug" }, .ndebug_dirs = 1 };
	static struct python_binary pb;
	static struct probe_plan plan;
	struct plan_opts po = { 0 };

	if (memfd < 0) {
		memfd = memfd_create("fuzz_resolve", MFD_CLOEXEC);
		if (memfd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	}
	if (ftruncate(memfd, 0) || pwrite(memfd, data, size, 0) != (ssize_t)size)
		abort();
	if (!resolve_python(path, &ro, &pb))
		plan_gc(&pb, &po, &plan);
	return 0;
}
