// SPDX-License-Identifier: MIT
#include <stdlib.h>
#include <string.h>
#include "proctable.h"

void proctable_init(struct proctable *t)
{
	memset(t, 0, sizeof(*t));
}

void proctable_free(struct proctable *t)
{
	int i;

	for (i = 0; t->release && i < t->n; i++)
		t->release(&t->rows[i], t->release_ctx);
	free(t->rows);
	free(t->live_pids);
	memset(t, 0, sizeof(*t));
}

struct proc_row *proctable_live(struct proctable *t, pid_t pid)
{
	int i;

	/* a scan of 4 bytes a row, not of the rows: it runs for every event */
	for (i = 0; i < t->n; i++)
		if (t->live_pids[i] == pid)
			return &t->rows[i];
	return NULL;
}

struct proc_row *proctable_add(struct proctable *t, pid_t pid)
{
	struct proc_row *rows;
	pid_t *pids;
	int cap;

	if (t->n == t->cap) {
		cap = t->cap ? t->cap * 2 : 64;
		pids = realloc(t->live_pids, (size_t)cap * sizeof(*pids));
		if (!pids)
			return NULL;
		t->live_pids = pids;
		rows = realloc(t->rows, (size_t)cap * sizeof(*rows));
		if (!rows)
			return NULL;
		t->rows = rows;
		t->cap = cap;
	}
	memset(&t->rows[t->n], 0, sizeof(t->rows[0]));
	t->rows[t->n].pid = pid;
	t->live_pids[t->n] = pid;
	t->seen++;
	return &t->rows[t->n++];
}

static void remove_at(struct proctable *t, int i)
{
	if (t->rows[i].ended)
		t->nended--;
	if (t->release)
		t->release(&t->rows[i], t->release_ctx);
	memmove(&t->rows[i], &t->rows[i + 1], (size_t)(t->n - i - 1) * sizeof(t->rows[0]));
	memmove(&t->live_pids[i], &t->live_pids[i + 1], (size_t)(t->n - i - 1) * sizeof(t->live_pids[0]));
	t->n--;
}

void proctable_discard(struct proctable *t, struct proc_row *row)
{
	remove_at(t, (int)(row - t->rows));
	t->seen--;
}

/* Drops the oldest ended row whose end has been reported. */
static void fold_oldest_ended(struct proctable *t)
{
	int i;

	for (i = 0; i < t->n; i++) {
		if (t->rows[i].ended && t->rows[i].reported_end) {
			remove_at(t, i);
			t->folded++;
			return;
		}
	}
}

void proctable_end(struct proctable *t, struct proc_row *row, uint64_t end_ns)
{
	if (row->ended)
		return;
	row->ended = true;
	row->end_ns = end_ns;
	t->live_pids[row - t->rows] = 0;
	t->nended++;
	/* may move rows: the caller's pointer is not used after this */
	if (t->nended > PROCTABLE_MAX_ENDED)
		fold_oldest_ended(t);
}

struct row_key proctable_key(const struct proc_row *row)
{
	return (struct row_key){ row->pid, row->start_ticks, row->found_ns };
}

int proctable_end_gone(struct proctable *t, struct row_key *gone, int n, uint64_t end_ns)
{
	struct proc_row *row;
	int i, ended = 0;

	for (i = 0; i < n; i++) {
		row = proctable_live(t, gone[i].pid);
		/* the old process's end and a new process under its pid may have
		 * been drained since it was found gone: that row is not the one */
		if (!row || row->start_ticks != gone[i].start_ticks || row->found_ns != gone[i].found_ns)
			continue;
		proctable_end(t, row, end_ns);
		gone[ended++] = gone[i];
	}
	return ended;
}

static bool exe_known(struct exe_id e)
{
	return e.dev || e.ino;
}

/* A fork runs its parent's image: a child found running another
 * interpreter or executable has exec'd since. (An exec of the very same
 * file shows only in its exec event: proctable_exec_action.) */
static bool execd_since_fork(const struct proc_row *child, const struct proc_row *parent)
{
	if (child->bin_id != parent->bin_id)
		return true;
	return exe_known(child->exe) && exe_known(parent->exe) &&
	       (child->exe.dev != parent->exe.dev || child->exe.ino != parent->exe.ino);
}

enum fork_action proctable_fork_action(const struct proc_row *child, const struct proc_row *parent,
				       uint64_t fork_ns)
{
	if (!child)
		return FORK_NEW_ROW;
	if (child->found_ns <= fork_ns)
		return FORK_END_STALE;
	return execd_since_fork(child, parent) ? FORK_KEEP : FORK_ADOPT;
}

enum exec_action proctable_exec_action(const struct proc_row *row, uint64_t exec_ns)
{
	if (!row)
		return EXEC_NEW_ROW;
	if (row->found_ns <= exec_ns)
		return EXEC_END_OLD;
	/* a scan row a fork event adopted (found after the fork), and the
	 * child exec'd between the fork and the scan: the scan saw this image */
	if (row->forked && row->start_ns < exec_ns)
		return EXEC_UNFORK;
	return EXEC_SEEN;
}

void proctable_unfork(struct proc_row *row, uint64_t exec_ns, uint64_t attach_ns)
{
	row->forked = false;
	row->parent_pid = 0;
	memset(&row->inherited, 0, sizeof(row->inherited));
	/* BPF counts the new image from its exec when the probes were live */
	row->from_exec = attach_ns <= exec_ns;
	row->absolute = row->from_exec;
	row->start_ns = row->from_exec ? exec_ns : attach_ns;
}

static bool exe_eq(struct exe_id a, struct exe_id b)
{
	return a.dev == b.dev && a.ino == b.ino;
}

enum scan_action proctable_scan_action(const struct scan_facts *f, const struct proc_row *live)
{
	/* an exec or fork event drained during the look knows the image best */
	if (live || f->bin < 0)
		return SCAN_SKIP;
	/* the maps may be the old image's or the new one's: begin_ns would be
	 * older than the exec either way, so the row could take neither */
	if (f->exec_ns >= f->begin_ns || !exe_eq(f->exe_before, f->exe_after) ||
	    f->ticks_before != f->ticks_after)
		return SCAN_RETRY;
	return SCAN_TRACK;
}
