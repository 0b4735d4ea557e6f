/* SPDX-License-Identifier: MIT */
/* attach: load the BPF skeleton and attach each planned site. */
#ifndef MMTRACE_ATTACH_H
#define MMTRACE_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>
#include "events.h"
#include "gc.h"
#include "plan.h"
#include "resolve.h"

#define ATTACH_MAX_LINKS (MMTRACE_MAX_SITES + 3)

struct gc_bpf;
struct alloc_bpf;
struct bpf_link;

struct attach_opts {
	bool verbose;		/* libbpf's log on stderr */
	bool system_wide;	/* events for every exec, and forks of tracked processes */
	__u64 min_pause_ns;	/* 0: no per-collection events */
	__u32 events_bytes;	/* ring buffer size, 0 = the built-in 1 MiB */
	bool alloc_exact;	/* also load the exact allocation level's programs */
	__u32 stack_depth;	/* Python frames per stack, 0: no stacks */
	__u64 sample_bytes;	/* --alloc=exact: a stack per this many bytes, 0: none */
};

struct attacher {
	struct gc_bpf *skel;
	struct alloc_bpf *exact;	/* NULL unless --alloc=exact */
	struct bpf_link *links[ATTACH_MAX_LINKS];
	int nlinks;
	unsigned int next_site;
	unsigned int next_exact_site;	/* exact_sites slot; 0 is "no stacks" */
	bool mmap_attached;		/* the system-call programs of attacher_mmap_arenas */
};

/* Checks the kernel, loads the programs and attaches the exec and exit
 * tracepoints. Returns an exit code (MMX_*). */
int attacher_open(struct attacher *a, const struct attach_opts *o, char *err, size_t errlen);
/* Attaches a plan to the interpreter file: for one process (pid > 0) or for
 * every process that maps the file (pid == -1). Counters carry bin_id. */
int attacher_attach(struct attacher *a, const struct python_binary *bin, const struct probe_plan *plan,
		    pid_t pid, __u32 bin_id, char *err, size_t errlen);
int attacher_stats_fd(const struct attacher *a);
int attacher_watched_fd(const struct attacher *a);
int attacher_events_fd(const struct attacher *a);
/* A polled process: read its counters once more as it exits (an
 * MM_EV_POLL_FINAL event), through cfg's chain from runtime (its first hop
 * main_static when that reads NULL, unless 0). Again: updated. 0 or -errno. */
int attacher_poll_at_exit(struct attacher *a, pid_t pid, uint64_t runtime, uint64_t main_static,
			  const struct gc_site *cfg);
void attacher_poll_forget(struct attacher *a, pid_t pid);
/* Counts pid's arenas at its mmap/munmap of arena_size (plan.mmap_arena_size),
 * into its counters under bin_id; held: a command not yet exec'd. The
 * system-call programs are attached at the first call. MMX_*. */
int attacher_mmap_arenas(struct attacher *a, pid_t pid, __u32 bin_id, __u64 arena_size, bool held,
			 char *err, size_t errlen);
/* --alloc=exact maps: per-process figures and per-type counts, -1 if not loaded */
int attacher_exact_fd(const struct attacher *a);
int attacher_types_fd(const struct attacher *a);
/* --sample-bytes stacks: their ring buffer (-1 if none), and what it dropped */
int attacher_samples_fd(const struct attacher *a);
__u64 attacher_lost_samples(const struct attacher *a);
/* ring buffer records dropped because it was full */
__u64 attacher_lost_events(const struct attacher *a);
/* everything not counted, by cause (enum mm_drop), both programs added */
void attacher_drops(const struct attacher *a, __u64 out[MM_DROPS]);
void attacher_close(struct attacher *a);

#endif /* MMTRACE_ATTACH_H */
