// SPDX-License-Identifier: MIT
/*
 * --heap: nothing is attached and nothing runs in the target; each snapshot
 * is a set of bounded reads of its memory (see procmem.h and heap.h).
 */
#include <errno.h>
#include <signal.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "discover.h"
#include "exitcodes.h"
#include "heap_layout.h"
#include "heap_run.h"
#include "stop.h"
#include "parse.h"
#include "present_heap.h"

struct heap_target {
	struct target t;
	struct heap_reading r;
};

unsigned long long parse_rss_rollup(const char *text)
{
	const char *line = text;
	long kib;
	char num[32];
	size_t n;

	while (line && *line) {
		if (!strncmp(line, "Rss:", 4)) {
			line += 4;
			line += strspn(line, " \t");
			n = strspn(line, "0123456789");
			if (!n || n >= sizeof(num))
				return 0;
			memcpy(num, line, n);
			num[n] = '\0';
			return parse_long(num, 0, LONG_MAX / 1024, &kib) ? 0 : (unsigned long long)kib * 1024;
		}
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	return 0;
}

static unsigned long long read_rss(pid_t pid)
{
	char buf[4096];

	return read_proc_text(pid, "smaps_rollup", buf, sizeof(buf)) > 0 ? parse_rss_rollup(buf) : 0;
}

/* A first read of the interpreter's code tells a refusal from a bad layout. */
static int check_access(struct procmem *pm, pid_t pid, const struct python_binary *bin, char *err, size_t len)
{
	struct mem_reader r = procmem_reader(pm);
	uint64_t word, addr;

	if (procmem_file_addr(pm, bin->path, bin->anchor_offset, &addr))
		return MMX_OK;	/* heap_layout_for says why */
	switch (r.read(r.ctx, addr, &word, sizeof(word))) {
	case 0:
		return MMX_OK;
	case -EPERM:
	case -EACCES:
		snprintf(err, len, "cannot read the memory of PID %d: needs root, or CAP_SYS_PTRACE", pid);
		return MMX_NO_PERMISSION;
	case -ESRCH:
		snprintf(err, len, "PID %d exited", pid);
		return MMX_NO_PROCESS;
	default:
		snprintf(err, len, "cannot read the memory of PID %d", pid);
		return MMX_BAD_IMAGE;
	}
}

void heap_read_process(pid_t pid, const struct python_binary *bin, struct heap_reading *h)
{
	struct dwarf_cache dwarf = h->dwarf;
	struct procmem pm;
	struct mem_reader r;
	int err;

	memset(h, 0, sizeof(*h));
	h->dwarf = dwarf;
	err = procmem_open(&pm, pid);
	if (err) {
		snprintf(h->error, sizeof(h->error), "cannot read /proc/%d/maps: %s", pid, strerror(-err));
		h->rc = err == -ENOENT ? MMX_NO_PROCESS : MMX_NO_PERMISSION;
		return;
	}
	h->rc = check_access(&pm, pid, bin, h->error, sizeof(h->error));
	if (!h->rc && heap_layout_for(bin, &pm, &h->dwarf, &h->layout, h->error, sizeof(h->error)))
		h->rc = MMX_BAD_IMAGE;
	if (!h->rc) {
		r = procmem_reader(&pm);
		heap_snapshot(&r, &h->layout, &h->snap);
		/* nothing readable where CPython's state must be: not this layout */
		if (!h->snap.gc_ok && !h->snap.pymalloc_ok) {
			snprintf(h->error, sizeof(h->error), "memory does not match CPython %s's layout: %s",
				 bin->version, h->snap.why);
			h->rc = MMX_BAD_IMAGE;
		}
	}
	procmem_close(&pm);
	if (!h->rc)
		h->rss_bytes = read_rss(pid);
}

struct heap_view heap_view_of(pid_t pid, const char *comm, const struct python_binary *bin,
			      const struct heap_reading *r)
{
	return (struct heap_view){ pid, comm, bin, &r->layout, &r->snap, r->rss_bytes, r->rc ? r->error : NULL };
}

static int snapshot_all(const struct heap_config *c, struct heap_target *hs, int n)
{
	struct heap_view v[OPT_MAX_PIDS];
	struct timespec wall;
	int i, rc = MMX_OK;

	clock_gettime(CLOCK_REALTIME, &wall);
	for (i = 0; i < n; i++) {
		heap_read_process(hs[i].t.pid, &hs[i].t.bin, &hs[i].r);
		v[i] = heap_view_of(hs[i].t.pid, hs[i].t.comm, &hs[i].t.bin, &hs[i].r);
		if (hs[i].r.rc && rc == MMX_OK) {
			rc = hs[i].r.rc;
			snprintf(c->err, c->errlen, "%s", hs[i].r.error);
		}
	}
	(c->opt->json ? present_heap_json : present_heap_text)(c->out, v, n, &wall);
	return rc;
}

/* Waits one interval; false when a signal asks to stop. */
static bool wait_interval(const struct heap_config *c)
{
	struct pollfd p = { .fd = c->sigfd, .events = POLLIN };

	return poll(&p, 1, (int)(c->opt->interval_s * 1000)) <= 0 || !stop_drain(c->sigfd, NULL);
}

int heap_run(const struct heap_config *c)
{
	const struct options *o = c->opt;
	struct heap_target *hs = calloc((size_t)o->npids, sizeof(*hs));
	long round, rounds = o->count ? o->count : o->interval_given ? 0 : 1;
	int i, rc = MMX_OK;

	if (!hs) {
		snprintf(c->err, c->errlen, "out of memory");
		return MMX_INTERNAL;
	}
	for (i = 0; i < o->npids; i++)
		hs[i].t.pidfd = -1;
	for (i = 0; i < o->npids && !rc && !stop_pending(c->ro->stop); i++)
		rc = discover_pid(o->pids[i], c->ro, &hs[i].t, c->err, c->errlen);
	/* a signal that came before is handled by main(): nothing was read */
	if (!rc && stop_take_over(c->ro->stop))
		rounds = -1;
	for (round = 0; !rc && (!rounds || round < rounds); round++) {
		if (round && !wait_interval(c))
			break;
		rc = snapshot_all(c, hs, o->npids);
		if (reader_gone(c->out))
			break;
	}
	for (i = 0; i < o->npids; i++)
		if (hs[i].t.pidfd >= 0)
			close(hs[i].t.pidfd);
	free(hs);
	return rc;
}
