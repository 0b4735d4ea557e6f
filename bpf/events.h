/* SPDX-License-Identifier: MIT */
/*
 * ABI of the events ring buffer (exec, end, fork, pause, stack, the polled
 * exit read) and of what was not counted, shared by the BPF programs and
 * user space.
 */
#ifndef MMTRACE_EVENTS_H
#define MMTRACE_EVENTS_H

#include "gc.h"
#include "stack.h"

/* Why something was not counted. Each loss is counted once, under one
 * cause, in the BPF programs' drops[] (.bss); user space adds the two
 * programs' arrays. */
enum mm_drop {
	DROP_TABLE_FULL = 0,	/* a count lost: no room for the process's counters */
	DROP_INFLIGHT_FULL = 1,	/* a collection (or arena request) whose begin could not be kept */
	DROP_WATCH_FULL = 2,	/* a process that could not be watched: not counted, its end unreported */
	DROP_STACK_FULL = 3,	/* a collection's stack that could not be kept until its end */
	DROP_READ_ERROR = 4,	/* a collection whose interpreter state could not be read */
	DROP_UNMATCHED_END = 5,	/* an end without its begin (attached mid-collection) */
	DROP_EVENTS_LOST = 6,	/* a record the events ring buffer had no room for */
	DROP_SAMPLES_LOST = 7,	/* a sampled stack the samples ring buffer had no room for */
	MM_DROPS = 8,
};

/* Ring buffer records; each starts with enum mm_event_kind. */
enum mm_event_kind {
	MM_EV_EXEC = 1,		/* a process exec'd (system-wide discovery) */
	MM_EV_END = 2,		/* a tracked process exited or exec'd: its final counters */
	MM_EV_PAUSE = 3,	/* one collection at least min_pause_ns long */
	MM_EV_FORK = 4,		/* a tracked process forked a new process */
	MM_EV_STACK = 5,	/* the Python stack of a collection or of heap growth */
	MM_EV_POLL_FINAL = 6,	/* a polled process's counters, read as its last thread exits */
};

enum mm_end_reason {
	MM_END_EXIT = 1,
	MM_END_EXEC = 2,
};

#define MMTRACE_COMM_LEN 16
#define MMTRACE_FILENAME_LEN 256

struct mm_exec_event {
	__u32 kind;
	__u32 pid;		/* host tgid */
	__u32 ns_pid;		/* tgid in the process's own PID namespace */
	__u32 mnt_ns;		/* mount namespace inode number */
	__u64 ts_ns;		/* CLOCK_MONOTONIC */
	__u64 ino;		/* the executable: inode and s_dev (kernel encoding) */
	__u32 dev;
	__u32 pad;
	char comm[MMTRACE_COMM_LEN];
	char filename[MMTRACE_FILENAME_LEN];	/* as passed to execve */
};

struct mm_end_event {
	__u32 kind;
	__u32 pid;
	__u32 reason;		/* enum mm_end_reason */
	__u32 has_stats;	/* 0: the process never reached a GC probe */
	__u64 ts_ns;
	/* which image ended: the process's start (boot-time ns, kept across
	 * exec) and the execs it had made before it; a repeated END of the
	 * same image is recognised by these */
	__u64 start_ns;
	__u64 exec_id;
	struct gc_proc_stats stats;
};

/* A process whose arenas are seen by their mmap and munmap (its build hides
 * the arena allocator's symbols): pymalloc maps each arena alone, anonymous
 * and private, of exactly arena_size bytes */
struct mmap_watch {
	__u32 bin_id;
	__u32 keep_exec;	/* a command held before its exec: meant for the image it execs */
	__u64 arena_size;
};

/* A polled process (no probe point): where its counters are, so that its
 * exit reads them once more, from its still-mapped memory (the exit
 * tracepoint fires before the address space goes, from Linux 6.16) */
struct poll_target {
	__u64 runtime;		/* &_PyRuntime in the process */
	/* the main interpreter where it is static storage inside _PyRuntime
	 * (3.12+), 0 otherwise: the chain's first hop when Py_Finalize has
	 * cleared interpreters.main, so an exit after it is read too */
	__u64 main_static;
	struct gc_site site;	/* the chain from it: base GC_BASE_RUNTIME */
};

struct mm_poll_final_event {
	__u32 kind;
	__u32 pid;
	__s32 err;		/* 0, or the failed read's -errno: the counters are then 0 */
	__u32 pad;
	__u64 ts_ns;
	struct gc_gen_counts counts[MMTRACE_GENERATIONS];
	__s64 candidates[MMTRACE_GENERATIONS];	/* 3.15 rings, else 0 */
	__u64 duration_bits[MMTRACE_GENERATIONS];	/* 3.15 rings: a double's bits, else 0 */
};

/* The child of a fork starts with a copy of its parent's interpreter, GC
 * statistics included; parent_* are the parent's counters at that moment. */
struct mm_fork_event {
	__u32 kind;
	__u32 parent_pid;
	__u32 pid;
	__u32 has_stats;	/* 0: the parent had not collected yet */
	__u64 ts_ns;
	__u64 parent_collections[MMTRACE_GENERATIONS];
	__u64 parent_collected[MMTRACE_GENERATIONS];
	__u64 parent_uncollectable[MMTRACE_GENERATIONS];
};

struct mm_pause_event {
	__u32 kind;
	__u32 pid;
	__u32 tid;
	__u32 generation;
	__u64 ts_ns;		/* CLOCK_MONOTONIC at the end of the collection */
	__u64 pause_ns;
	__u64 collected;
	__u64 uncollectable;
	char comm[MMTRACE_COMM_LEN];
};

#endif /* MMTRACE_EVENTS_H */
