// SPDX-License-Identifier: MIT
/*
 * BPF's events applied to the process table, for every source: a fork
 * copies its parent's image, an exec ends one image and starts the next
 * (so -p follows a re-exec as the host does), an exit ends it; pauses and
 * stacks go to the exporters and the stacks feature.
 */
#include <stdlib.h>
#include <string.h>
#include "present.h"
#include "session_impl.h"

static void on_exec(void *ctx, const struct mm_exec_event *e)
{
	struct session *s = ctx;
	struct proc_row *row = proctable_live(&s->procs, (pid_t)e->pid);
	enum exec_action act = proctable_exec_action(row, e->ts_ns);
	char comm[MMTRACE_COMM_LEN + 1];
	int bin;

	if ((pid_t)e->pid == s->scan_pid && e->ts_ns > s->scan_exec_ns)
		s->scan_exec_ns = e->ts_ns;
	if (act == EXEC_SEEN)
		return;		/* the scan already saw the new image */
	if (act == EXEC_UNFORK) {	/* the scan saw this image, not the parent's copy */
		proctable_unfork(row, e->ts_ns, session_interp(s, row->bin_id)->attach_ns);
		return;
	}
	if (act == EXEC_END_OLD)	/* its end event was lost: the old image ends here */
		proctable_end(&s->procs, row, e->ts_ns);
	if (!s->src->follows(s, (pid_t)e->pid))
		return;
	bin = s->src->exec_bin ? s->src->exec_bin(s, e) : discover_host_exec(&s->disc, e);
	if (bin < 0)
		return;
	snprintf(comm, sizeof(comm), "%.*s", MMTRACE_COMM_LEN, e->comm);
	session_track(s, (pid_t)e->pid, bin, comm, (pid_t)e->ns_pid, e->ts_ns, e->ts_ns);
}

/* An ended row of the image an END event names, if any. */
static bool ended_image(const struct proctable *t, const struct mm_end_event *e)
{
	int i;

	for (i = t->n - 1; i >= 0; i--)
		if (t->rows[i].pid == (pid_t)e->pid && t->rows[i].ended && t->rows[i].end_identified &&
		    t->rows[i].end_start_ns == e->start_ns && t->rows[i].end_exec_id == e->exec_id)
			return true;
	return false;
}

static void end_as(struct proctable *t, struct proc_row *row, const struct mm_end_event *e)
{
	row->end_identified = true;
	row->end_start_ns = e->start_ns;
	row->end_exec_id = e->exec_id;
	proctable_end(t, row, e->ts_ns);
}

static bool attached_bin(const struct registry *reg, int bin)
{
	return bin >= 0 && bin < reg->nbins && reg->bins[bin]->attached;
}

/* Counters of a process that ended before mmtrace learned of it. */
static void adopt_ended(struct proctable *t, const struct registry *reg, const struct mm_end_event *e)
{
	struct proc_row *row;
	int bin = (int)e->stats.bin_id;

	if (!e->has_stats || !attached_bin(reg, bin))
		return;
	row = proctable_add(t, (pid_t)e->pid);
	if (!row)
		return;
	row->bin_id = bin;
	snprintf(row->comm, sizeof(row->comm), "?");
	row->start_ns = reg->bins[bin]->attach_ns;
	row->found_ns = e->ts_ns;
	row->now = e->stats;
	end_as(t, row, e);
}

static void on_fork(void *ctx, const struct mm_fork_event *e)
{
	struct session *s = ctx;
	struct proc_row *parent = proctable_live(&s->procs, (pid_t)e->parent_pid), *row;
	char parent_comm[MMTRACE_COMM_LEN];
	struct gc_inherited from_parent;
	struct exe_id parent_exe;
	enum fork_action act;
	bool absolute;
	int g, bin_id;

	if (!parent)
		return;
	/* copied out: ending or adding rows below may move them */
	bin_id = parent->bin_id;
	absolute = parent->absolute;
	snprintf(parent_comm, sizeof(parent_comm), "%s", parent->comm);
	parent_exe = parent->exe;
	from_parent = parent->inherited;
	for (g = 0; e->has_stats && g < MMTRACE_GENERATIONS; g++) {
		from_parent.collections[g] += e->parent_collections[g];
		from_parent.collected[g] += e->parent_collected[g];
		from_parent.uncollectable[g] += e->parent_uncollectable[g];
	}
	row = proctable_live(&s->procs, (pid_t)e->pid);
	act = proctable_fork_action(row, parent, e->ts_ns);
	if (act == FORK_KEEP)	/* the scan found it after it exec'd: not its parent's image */
		return;
	if (act == FORK_END_STALE)	/* a stale row of a reused pid */
		proctable_end(&s->procs, row, e->ts_ns);
	else if (act == FORK_ADOPT)	/* the scan found the child first: it is this one */
		goto forked;
	row = proctable_add(&s->procs, (pid_t)e->pid);
	if (!row)
		return;
	snprintf(row->comm, sizeof(row->comm), "%s", parent_comm);
	row->exe = parent_exe;
	row->ns_pid = read_ns_pid(row->pid);
	row->start_ticks = process_start_ticks(row->pid);
	row->found_ns = e->ts_ns;	/* its end, however soon, is its own */
forked:
	row->bin_id = bin_id;
	row->parent_pid = (pid_t)e->parent_pid;
	row->forked = true;
	row->from_exec = false;
	row->absolute = absolute;
	row->inherited = from_parent;
	row->start_ns = e->ts_ns;
}

bool session_end_event(struct proctable *t, const struct registry *reg, const struct mm_end_event *e)
{
	struct proc_row *row;

	/* an image ends once: a second END of it (BPF hands each end over once,
	 * but user space may have watched the dying process again) is no news */
	if (ended_image(t, e))
		return false;
	row = proctable_live(t, (pid_t)e->pid);
	if (!row || row->found_ns > e->ts_ns) {
		adopt_ended(t, reg, e);
		return false;
	}
	/* No counters at its end: the image counted nothing in BPF. What a
	 * report read under its pid may be the next image's already (read
	 * after the exec, before its events were drained): not this one's. */
	if (row->forked && e->reason == MM_END_EXEC && !e->has_stats) {
		proctable_discard(t, row);	/* fork + exec: the child's new image is what counts */
		return false;
	}
	if (attached_bin(reg, row->bin_id) && reg->bins[row->bin_id]->plan.polled) {
		/* a polled process's GC counters come from its memory: BPF counted its arenas only */
		if (e->has_stats)
			row->now.growth = e->stats.growth;
	} else {
		row->now = e->has_stats ? e->stats : (struct gc_proc_stats){ .bin_id = e->stats.bin_id };
	}
	end_as(t, row, e);
	/* user space may have watched it again after BPF let it go (exec and
	 * exit drained together): no live row is left to need the entries */
	return e->reason == MM_END_EXIT && !proctable_live(t, (pid_t)e->pid);
}

static void on_end(void *ctx, const struct mm_end_event *e)
{
	struct session *s = ctx;

	if (session_end_event(&s->procs, &s->reg, e))
		collect_forget(&s->col, (pid_t)e->pid);
}

/* What BPF read as a polled process exited (before its END, in the same
 * ring): the row's counts then include the collections after the last read.
 * A row never read has no base, unless it counts from its exec (zero). */
static void on_poll_final(void *ctx, const struct mm_poll_final_event *e)
{
	struct session *s = ctx;
	struct proc_row *row = proctable_live(&s->procs, (pid_t)e->pid);
	const struct interp_file *f;
	struct gc_poll_read now;

	if (!row || row->ended)
		return;
	f = session_interp(s, row->bin_id);
	if (!f->plan.polled || (!row->poll_based && !row->from_exec))
		return;
	if (!row->poll_based) {
		memset(&row->poll_base, 0, sizeof(row->poll_base));
		row->poll_based = true;
	}
	if (!gc_poll_from_event(&f->plan, e, &now) || !gc_poll_delta(&f->plan, &now, &row->poll_base, &row->now))
		row->now.read_errors++;
	row->poll_final = true;
}

static void on_pause(void *ctx, const struct mm_pause_event *e)
{
	struct session *s = ctx;
	const struct options *o = s->c->opt;
	struct proc_row *row;

	/* BPF reports every collection when --trace is on: print the slow ones */
	if (o->min_pause_ms && e->pause_ns >= (__u64)(o->min_pause_ms * 1e6))
		present_pause_event(s->c->out, e, o->json);
	if (!exporters_want_pauses(&s->ex))
		return;
	row = proctable_live(&s->procs, (pid_t)e->pid);
	exporters_pause(&s->ex, e, row ? row->comm : NULL, row ? session_interp(s, row->bin_id)->bin.version : NULL,
			row ? &row->trace_named : NULL);
}

static void on_stack(void *ctx, const struct mm_stack_event *e)
{
	struct session *s = ctx;
	struct proc_row *row = proctable_live(&s->procs, (pid_t)e->pid);

	if (!row) {
		s->stacks.dropped++;	/* no live image to name its frames */
		return;
	}
	feature_stacks_event(&s->fc, row, &session_interp(s, row->bin_id)->bin, e);
}

struct collect_handlers session_handlers(struct session *s)
{
	return (struct collect_handlers){ .ctx = s, .on_exec = on_exec, .on_end = on_end, .on_pause = on_pause,
					  .on_fork = on_fork, .on_stack = on_stack, .on_poll_final = on_poll_final };
}

/* Still the process of this row: alive, and not a new one under a reused
 * pid (its end event lost). */
