// SPDX-License-Identifier: MIT
/*
 * Which probes serve a process: its file's plan, made once, and its
 * attachment, once per file for every process (the host) or once per file
 * and process (-p, -- CMD: filtered to the processes named).
 */
#include <stdlib.h>
#include "exitcodes.h"
#include "session_impl.h"

static struct pid_attachment *find_pid_attachment(const struct session *s, int bin_id, pid_t pid)
{
	int i;

	for (i = 0; i < s->npid_att; i++)
		if (s->pid_att[i].bin_id == bin_id && s->pid_att[i].pid == pid)
			return &s->pid_att[i];
	return NULL;
}

static struct pid_attachment *add_pid_attachment(struct session *s, int bin_id, pid_t pid)
{
	struct pid_attachment *a;
	int cap;

	if (s->npid_att == s->cap_pid_att) {
		cap = s->cap_pid_att ? s->cap_pid_att * 2 : 8;
		a = realloc(s->pid_att, (size_t)cap * sizeof(*a));
		if (!a)
			return NULL;
		s->pid_att = a;
		s->cap_pid_att = cap;
	}
	a = &s->pid_att[s->npid_att++];
	*a = (struct pid_attachment){ bin_id, pid, 0 };
	return a;
}

int session_plan(struct session *s, int bin_id)
{
	struct interp_file *f = session_interp(s, bin_id);

	if (!f->planned) {
		f->planned = true;
		f->no_probe = plan_file(&f->bin, s->c->po, &f->plan) != 0;
		if (f->no_probe)
			snprintf(f->attach_error, sizeof(f->attach_error), "no GC probe point: %s",
				 f->plan.metrics[M_COLLECTIONS].reason);
	}
	if (!f->no_probe)
		return MMX_OK;
	snprintf(s->c->err, s->c->errlen, "no GC probe point for %s (CPython %s): %s", f->bin.path, f->bin.version,
		 f->plan.metrics[M_COLLECTIONS].reason);
	return MMX_NO_PROBE;
}

/* The probes of one file for every process that maps it: once. */
static int attach_file(struct session *s, int bin_id, uint64_t *attach_ns)
{
	struct interp_file *f = session_interp(s, bin_id);
	int rc = MMX_OK;

	if (!f->attached && !f->attach_error[0]) {
		/* a polled file has nothing to attach: its rows are read at each report */
		if (!f->plan.polled)
			rc = attacher_attach(&s->att, &f->bin, &f->plan, -1, (__u32)bin_id, f->attach_error,
					     sizeof(f->attach_error));
		f->attached = !rc;
		f->attach_ns = monotonic_ns();
	}
	if (f->attached) {
		*attach_ns = f->attach_ns;
		return MMX_OK;
	}
	if (!f->refusal_said)	/* once per file, not per process */
		fprintf(stderr, "mmtrace: not tracing CPython %s at %s: %s\n", f->bin.version, f->bin.path,
			f->attach_error);
	f->refusal_said = true;
	return rc ? rc : MMX_NO_PROBE;
}

/* The probes of one file for one process: once per process and file. */
static int attach_for_pid(struct session *s, int bin_id, pid_t pid, uint64_t *attach_ns)
{
	struct interp_file *f = session_interp(s, bin_id);
	struct pid_attachment *a = find_pid_attachment(s, bin_id, pid);
	int rc = MMX_OK;

	if (!a) {
		if (!f->plan.polled)
			rc = attacher_attach(&s->att, &f->bin, &f->plan, pid, (__u32)bin_id, s->c->err, s->c->errlen);
		if (!rc && f->plan.mmap_arena_size)
			rc = attacher_mmap_arenas(&s->att, pid, (__u32)bin_id, f->plan.mmap_arena_size,
						  s->child.pid == pid && !s->child_reaped && s->child.gate_fd >= 0,
						  s->c->err, s->c->errlen);
		if (rc)
			return rc;
		a = add_pid_attachment(s, bin_id, pid);
		if (!a) {
			snprintf(s->c->err, s->c->errlen, "out of memory");
			return MMX_INTERNAL;
		}
		a->attach_ns = monotonic_ns();
		f->attached = true;
	}
	*attach_ns = a->attach_ns;
	return MMX_OK;
}

int session_attach(struct session *s, int bin_id, pid_t pid, uint64_t *attach_ns)
{
	int rc = session_plan(s, bin_id);

	if (rc && !s->src->per_process)	/* said once per file, as its attach failure is */
		return attach_file(s, bin_id, attach_ns);
	if (rc)
		return rc;
	return s->src->per_process ? attach_for_pid(s, bin_id, pid, attach_ns) : attach_file(s, bin_id, attach_ns);
}
