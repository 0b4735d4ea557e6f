/* SPDX-License-Identifier: MIT */
/*
 * ABI shared by gc.bpf.c and user space: probe-site configuration written by
 * the planner, and per-process GC counters read by the collector.
 */
#ifndef MMTRACE_GC_H
#define MMTRACE_GC_H

#ifndef __bpf__
#include <linux/types.h>	/* BPF side gets these from vmlinux.h */
#endif

#define MMTRACE_GENERATIONS 3
/* log2 buckets of pause in ns: slot i holds [2^i, 2^(i+1)); 2^39 ns ~ 9 min */
#define MMTRACE_HIST_SLOTS 40
/* sites of all attached binaries: 2 for USDT, 2 per collector clone */
#define MMTRACE_MAX_SITES 1024
/* processes tracked at once; entries go when a process exits or execs */
#define MMTRACE_MAX_PROCS 8192
#define MMTRACE_CHAIN_MAX 3
/* pymalloc size classes: 512 bytes / 16-byte alignment = 32; room for 8-byte alignment */
#define MMTRACE_SIZE_CLASSES 64

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

/* Where the pointer chain that leads to generation_stats starts. */
enum gc_base {
	/* First argument of the probed function (the collector's tstate). */
	GC_BASE_ARG0 = 0,
	/* _PyRuntime, found as probe address + runtime_delta. */
	GC_BASE_RUNTIME = 1,
};

/* What a probe site does when it fires. */
enum gc_role {
	GC_ROLE_BEGIN = 0,
	GC_ROLE_END = 1,
	/* allocator growth: pymalloc's slow paths */
	ROLE_ARENA_ALLOC = 2,		/* entry of the arena allocator: remembers the size */
	ROLE_ARENA_ALLOC_RET = 3,	/* its return: an arena when not NULL */
	ROLE_ARENA_FREE = 4,
	ROLE_POOL_NEW = 5,		/* a pool taken for a size class */
	/* --alloc=exact (alloc.bpf.c; the cookie says domain and call) */
	ROLE_ALLOC_ENTER = 6,
	ROLE_ALLOC_RETURN = 7,
	ROLE_ALLOC_FREE = 8,
	ROLE_DEALLOC = 9,		/* an object's deallocation: counted per type */
	ROLE_WEAKREF_CLEAR = 10,
	ROLE_TYPE_ALLOC = 11,		/* an allocation whose first argument is the type */
};

/*
 * One attached probe site, indexed by the BPF cookie of its link.
 * stats = deref(...deref(base + deref_off[0]) ... + deref_off[n-1]) + stats_off
 */
struct gc_site {
	__u32 base;	/* enum gc_base */
	__u32 nderef;	/* number of pointer hops, <= MMTRACE_CHAIN_MAX */
	__u32 bin_id;	/* user space's index of the interpreter file */
	/* begin sites of 3.9+: tell the main interpreter's collections from
	 * subinterpreters' (each has its own GC state and gc.get_stats()) */
	__u32 split_main;
	__s64 runtime_delta;
	__u64 deref_off[MMTRACE_CHAIN_MAX];
	__u64 stats_off;
	__s64 main_runtime_delta;	/* probe address -> &_PyRuntime */
	__u64 main_interp_off;		/* _PyRuntime.interpreters.main */
	__u64 main_stats_off;		/* PyInterpreterState -> generation_stats */
	/* allocator sites: which argument holds the size (or size class), and
	 * ARENA_SIZE, the only size that is an arena (3.11+ also route
	 * interpreter data-stack chunks through the arena allocator) */
	__u32 arg_index;
	__u32 main_stats_deref;	/* 3.15: main_stats_off holds a pointer to the stats */
	__u64 arena_size;
	/* stacks: probe address -> &_PyRuntime (0: no stacks at this site) */
	__s64 stack_runtime_delta;
	__u64 pool_size;
	struct py_stack_layout stack;
	/* 3.15: the address is a struct gc_stats, one ring of cumulative
	 * records per generation; the newest is items[index] (ring = 0: three
	 * struct gc_gen_counts in a row, 3.8-3.14) */
	__u32 ring;
	__u32 ring_len[MMTRACE_GENERATIONS];	/* items per buffer */
	__u64 ring_buf[MMTRACE_GENERATIONS];	/* buffer offsets in struct gc_stats */
	__u64 ring_index[MMTRACE_GENERATIONS];	/* int8_t index, within its buffer */
	__u64 ring_rec;				/* sizeof(struct gc_generation_stats) */
	__u64 ring_counts;			/* its collections, collected, uncollectable, candidates */
};

/* pymalloc's growth, per process */
struct alloc_growth {
	__u64 arenas_allocated;
	__u64 arenas_freed;
	__u64 arena_alloc_failed;	/* the arena allocator returned NULL */
	__u64 pools_acquired[MMTRACE_SIZE_CLASSES];
};

/* CPython's struct gc_generation_stats (Py_ssize_t fields), 3.8 to 3.13. */
struct gc_gen_counts {
	__s64 collections;
	__s64 collected;
	__s64 uncollectable;
};

/* Per-process GC counters, cumulative since attach. */
struct gc_proc_stats {
	__u64 collections[MMTRACE_GENERATIONS];
	__u64 collected[MMTRACE_GENERATIONS];
	__u64 uncollectable[MMTRACE_GENERATIONS];
	__u64 pause_ns_total[MMTRACE_GENERATIONS];
	__u64 pause_ns_max[MMTRACE_GENERATIONS];
	__u64 pause_hist[MMTRACE_GENERATIONS][MMTRACE_HIST_SLOTS];
	/* collector calls whose interpreter state could not be read */
	__u64 read_errors;
	/* collector calls that returned without collecting (3.13 early exits) */
	__u64 empty_calls;
	/* ends seen without a begin (attached in the middle of a collection) */
	__u64 unmatched_ends;
	/* the interpreter file whose probes counted this process (gc_site.bin_id) */
	__u32 bin_id;
	/* begins that found inflight full, already counted as dropped: their
	 * ends find no begin and are not counted again as unmatched */
	__u32 begins_unrecorded;
	/* Collections of subinterpreters, kept apart so that the fields above
	 * are the main interpreter's, which its gc.get_stats() reports. */
	__u64 sub_collections[MMTRACE_GENERATIONS];
	__u64 sub_collected[MMTRACE_GENERATIONS];
	__u64 sub_uncollectable[MMTRACE_GENERATIONS];
	__u64 sub_pause_ns_total;
	/* 3.15+: the objects the collections examined (gc.get_stats()'s
	 * "candidates"), from the ring records; 0 before 3.15 */
	__u64 candidates[MMTRACE_GENERATIONS];
	struct alloc_growth growth;
};

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

#endif /* MMTRACE_GC_H */
