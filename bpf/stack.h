/* SPDX-License-Identifier: MIT */
/*
 * ABI of Python stacks (--stacks, --folded, sampled allocations), shared by
 * the BPF programs and user space: how to walk one interpreter's frames,
 * and the stack record both rings carry.
 */
#ifndef MMTRACE_STACK_H
#define MMTRACE_STACK_H

#ifndef __bpf__
#include <linux/types.h>	/* BPF side gets these from vmlinux.h */
#endif

/* Python stacks (--stacks, --folded): how to walk one interpreter's frames. */
#define MMTRACE_STACK_MAX 128

enum py_stack_kind {
	STACK_NONE = 0,
	STACK_FRAME_OBJECTS = 1,	/* 3.8-3.10: tstate->frame, PyFrameObject.f_back */
	STACK_CFRAME = 2,		/* 3.11-3.12: tstate->cframe->current_frame */
	STACK_CURRENT_FRAME = 3,	/* 3.13+: tstate->current_frame */
};

struct py_stack_layout {
	__u32 kind;		/* enum py_stack_kind */
	__u32 tstate_via_gil;	/* 3.12+: the GIL's last holder, not _PyRuntime's tstate_current */
	__u64 tstate_current;	/* _PyRuntime -> PyThreadState * (3.8-3.11) */
	__u64 interp_main;	/* _PyRuntime -> main PyInterpreterState * */
	__u64 interp_gil;	/* PyInterpreterState -> struct _gil_runtime_state * */
	__u64 gil_last_holder;
	__u64 tstate_frame;	/* ->frame, ->cframe or ->current_frame */
	__u64 cframe_current;	/* _PyCFrame.current_frame (3.11-3.12) */
	__u64 frame_back;	/* f_back or previous */
	__u64 frame_code;	/* f_code or f_executable */
	__u64 frame_instr;	/* f_lasti (int, 3.8-3.10), prev_instr or instr_ptr */
	__u64 frame_owner;	/* owner (char), 0 when the version has none */
	__u64 code_adaptive;	/* PyCodeObject.co_code_adaptive (3.11+) */
	/* 3.14+: f_executable is a _PyStackRef whose low bits are tags (3 in
	 * GIL builds); 0 when it is a plain PyObject * */
	__u64 code_tag_bits;
};

struct py_frame {
	__u64 code;		/* PyCodeObject * in the target */
	__u64 lasti;		/* 3.8-3.9 byte offset, 3.10 instruction index, 3.11+ byte offset */
};

enum stack_metric {
	STACK_GC = 1,		/* a collection: weight 1, pause_ns set */
	STACK_POOL = 2,		/* a pool taken: weight POOL_SIZE bytes */
	STACK_ARENA = 3,	/* an arena requested: weight ARENA_SIZE bytes */
	STACK_SAMPLE = 4,	/* --alloc=exact: the bytes a thread requested since its last sample */
};

enum stack_flags {
	STACK_TRUNCATED = 1,	/* deeper than the depth limit */
	STACK_BROKEN = 2,	/* a read failed on the chain: the rest is missing */
	STACK_NO_THREAD = 4,	/* no current thread state */
};

/* Only the first depth frames are sent: the record's size varies. */
struct mm_stack_event {
	__u32 kind;
	__u32 pid;
	__u32 tid;
	__u32 metric;		/* enum stack_metric */
	__u32 generation;	/* STACK_GC */
	__u32 depth;
	__u32 flags;		/* enum stack_flags */
	__u32 bin_id;
	__u64 weight;
	__u64 pause_ns;		/* STACK_GC */
	struct py_frame frames[MMTRACE_STACK_MAX];
};

#define MM_STACK_EVENT_HEAD ((unsigned long)&((struct mm_stack_event *)0)->frames)

#endif /* MMTRACE_STACK_H */
