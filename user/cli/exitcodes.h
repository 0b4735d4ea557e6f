/* SPDX-License-Identifier: MIT */
/* mmtrace's exit codes; README.md documents each. */
#ifndef MMTRACE_EXITCODES_H
#define MMTRACE_EXITCODES_H

enum mmtrace_exit {
	MMX_OK = 0,
	MMX_INTERNAL = 1,	/* unexpected failure (BPF load, out of memory, ...) */
	MMX_USAGE = 2,		/* bad options or arguments */
	MMX_NO_PROCESS = 3,	/* the PID does not exist */
	MMX_NOT_PYTHON = 4,	/* not a CPython process, kernel thread, or CMD not CPython */
	MMX_NO_PROBE = 5,	/* CPython, but no GC probe point could be resolved */
	MMX_NO_PERMISSION = 6,	/* not root, or the kernel refused BPF */
	MMX_NO_KERNEL = 7,	/* kernel without BTF or uprobes */
	MMX_BINARY_GONE = 8,	/* the target's interpreter file was deleted or is unreadable */
	MMX_BAD_IMAGE = 9,	/* --heap: the process's memory does not match CPython's layout */
	MMX_CMD_NOT_FOUND = 127, /* -- CMD could not be found or executed, as env(1) */
};

#endif /* MMTRACE_EXITCODES_H */
