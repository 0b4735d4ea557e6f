/* SPDX-License-Identifier: MIT */
/* The engine's state, shared by the engine's own files and the target
 * sources (and nothing else). */
#ifndef MMTRACE_SESSION_IMPL_H
#define MMTRACE_SESSION_IMPL_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "attach.h"
#include "collect.h"
#include "discover.h"
#include "discover_host.h"
#include "export.h"
#include "feature.h"
#include "present.h"
#include "proctable.h"
#include "registry.h"
#include "session.h"
#include "stacks.h"

struct session;

/* Where the targets come from. */
struct target_source {
	const char *name;
	/* probes filtered to each process (else one set per interpreter
	 * file, for every process that maps it) */
	bool per_process;
	/* the one-process tables (else the host table and its summary) */
	bool one_table;
	/* finds the first targets, resolved and planned; MMX_* */
	int (*find)(struct session *s);
	/* --probes: their plans */
	int (*probes)(struct session *s);
	/* before the attach (a command is forked and held); may be NULL */
	int (*prepare)(struct session *s);
	/* attaches and tracks them; MMX_* */
	int (*start)(struct session *s);
	/* tracing is live (a held command runs from here) */
	void (*live)(struct session *s);
	/* an exec of pid makes a row for its new image */
	bool (*follows)(const struct session *s, pid_t pid);
	/* the interpreter an exec runs, < 0 when none (NULL: found from the event) */
	int (*exec_bin)(struct session *s, const struct mm_exec_event *e);
	/* periodic work (a rescan) every tick_ns, when not 0 */
	uint64_t tick_ns;
	void (*tick)(struct session *s);
	/* descriptors it waits on (pidfds), and what they said */
	int (*pollfds)(struct session *s, struct pollfd *fds, int max);
	void (*polled)(struct session *s, const struct pollfd *fds, int n);
	/* nothing left to trace */
	bool (*done)(struct session *s);
	/* after the final report, with the probes still loaded: the exit code */
	int (*finish)(struct session *s);
	void (*close)(struct session *s);
};

extern const struct target_source source_pids, source_command, source_host;

/* A process the -p or -- CMD source follows. */
struct followed {
	pid_t pid;
	char comm[32];
	int bin_id;
	int pidfd;		/* -1 when not open */
	bool gone;		/* the process ended (not an exec) */
	bool exec_seen;		/* a command: its first exec came */
};

/* Probes attached for one process (the per-process sources). */
struct pid_attachment {
	int bin_id;
	pid_t pid;
	uint64_t attach_ns;
};

struct session {
	const struct session_config *c;
	const struct target_source *src;
	struct registry reg;
	struct host_discovery disc;
	struct proctable procs;
	struct attacher att;
	bool loaded;
	struct collector col;
	bool collecting;
	struct exporters ex;
	bool exporting;
	struct stack_table stacks;
	struct feature_ctx fc;
	uint64_t last_report_ns;
	unsigned long long untraceable;	/* CPython processes whose file has no usable probe */
	pid_t scan_pid;		/* the pid whose look drains events, 0 when none */
	uint64_t scan_exec_ns;	/* its newest exec event in that drain */
	struct pid_attachment *pid_att;
	int npid_att, cap_pid_att;
	/* the -p and -- CMD sources */
	struct followed follow[OPT_MAX_PIDS];
	int nfollow;
	struct held_child child;	/* pid 0 unless a command is held or running */
	char exe[PATH_MAX];
	int wait_status;
	bool child_reaped;
	/* the signal that ended the loop */
	int stop_sig;
	bool stop_from_tty;	/* sent by a terminal to the whole process group (^C) */
};

static inline struct interp_file *session_interp(const struct session *s, int bin_id)
{
	return s->reg.bins[bin_id];
}

/* probes.c: which probes serve a process */
/* bin_id's plan, made once; MMX_NO_PROBE (err says why) when it has no GC probe point */
int session_plan(struct session *s, int bin_id);
/* Plans and attaches bin_id's probes (for pid, or for every process when
 * the source is not per-process); MMX_*, with why in its attach_error. */
int session_attach(struct session *s, int bin_id, pid_t pid, uint64_t *attach_ns);

/* rows.c: the process table, fed by the sources */
/* A live row for a CPython process once its probes are live (NULL when
 * not traceable or known). exec_ns: when it exec'd, 0 when unknown. */
struct proc_row *session_track(struct session *s, pid_t pid, int bin_id, const char *comm, pid_t ns_pid,
			       uint64_t exec_ns, uint64_t found_ns);
/* A running process found by a look at /proc, retried across an exec. */
void session_consider(struct session *s, pid_t pid);
/* Fresh counters of the live rows; rows of vanished processes end. */
void session_refresh(struct session *s, uint64_t now);
/* A polled row's counters now (its base at the first read). */
void session_refresh_polled(struct session *s, struct proc_row *row);

/* events.c: BPF's events applied to the table */
/* the handlers of BPF's events, for the collector */
struct collect_handlers session_handlers(struct session *s);
/* An END event applied to the process table: the row it ends, a row for a
 * process that ended unseen, or nothing when that image already ended.
 * True when the process's map entries can go. */
bool session_end_event(struct proctable *t, const struct registry *reg, const struct mm_end_event *e);

/* session.c: probes and events closed (a command keeps running) */
void session_detach(struct session *s);
/* Reads the signalfd: true when SIGINT or SIGTERM came (stop_sig set). */
bool session_drain_signals(struct session *s);

/* source_pids.c, shared with the command source */
/* Adds a resolved process to the followed ones (its pidfd is kept); MMX_*. */
int session_follow(struct session *s, pid_t pid, const struct target *t);
/* Plans every followed process's file: the first failure's MMX_* and err. */
int session_plan_followed(struct session *s);
/* --probes: their plans. */
int session_print_followed_probes(struct session *s);

/* report.c */
void session_report(struct session *s, bool final);
void session_scrape(struct session *s);
/* --probes: one interpreter file's plan, for pid (0: the file alone), with
 * where its offsets came from written into offsets */
struct probe_view session_probe_view(const struct session *s, pid_t pid, const char *comm, int bin_id, char *offsets,
				     size_t len);
void session_print_probes(const struct session *s, const struct probe_view *v, int n);
/* --folded and --pprof at the end; MMX_* */
int session_write_stacks(struct session *s);

#endif /* MMTRACE_SESSION_IMPL_H */
