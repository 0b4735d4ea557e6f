// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "alloc.h"
#include "attach.h"
#include "discover.h"
#include "exitcodes.h"
#include "alloc.skel.h"
#include "gc.skel.h"

static int libbpf_print_verbose(enum libbpf_print_level level, const char *fmt, va_list args)
{
	(void)level;
	return vfprintf(stderr, fmt, args);
}

static int libbpf_print_silent(enum libbpf_print_level level, const char *fmt, va_list args)
{
	(void)level;
	(void)fmt;
	(void)args;
	return 0;
}

/* MMTRACE_SYSFS points the checks at another sysfs (tests, odd containers). */
static int check_kernel(char *err, size_t errlen)
{
	const char *sys = getenv("MMTRACE_SYSFS");
	char path[PATH_MAX];

	if (!sys || !*sys)
		sys = "/sys";
	snprintf(path, sizeof(path), "%s/kernel/btf/vmlinux", sys);
	if (access(path, R_OK)) {
		snprintf(err, errlen, "kernel without BTF (/sys/kernel/btf/vmlinux): CO-RE programs cannot load");
		return MMX_NO_KERNEL;
	}
	snprintf(path, sizeof(path), "%s/bus/event_source/devices/uprobe/type", sys);
	if (access(path, R_OK)) {
		snprintf(err, errlen, "kernel without uprobes (no uprobe PMU in /sys/bus/event_source/devices)");
		return MMX_NO_KERNEL;
	}
	return MMX_OK;
}

/* Tests make maps overflow: MMTRACE_TEST_MAP_MAX="inflight=1,proc_stats=1"
 * sets those maps' sizes (by name, in either program) before load. */
static void test_map_sizes(struct bpf_object *obj)
{
	const char *v = getenv("MMTRACE_TEST_MAP_MAX");
	struct bpf_map *m;
	unsigned int n;
	char name[64];
	int len;

	while (v && sscanf(v, "%63[^=]=%u%n", name, &n, &len) == 2) {
		m = bpf_object__find_map_by_name(obj, name);
		if (m)
			bpf_map__set_max_entries(m, n);
		v += len;
		if (*v++ != ',')
			break;
	}
}

static int open_gc(struct attacher *a, const struct attach_opts *o)
{
	a->skel = gc_bpf__open();
	if (!a->skel)
		return -1;
	a->skel->rodata->system_wide = o->system_wide;
	a->skel->rodata->min_pause_ns = o->min_pause_ns;
	a->skel->rodata->stack_depth = o->stack_depth;
	if (o->events_bytes)
		bpf_map__set_max_entries(a->skel->maps.events, o->events_bytes);
	else if (o->stack_depth)
		bpf_map__set_max_entries(a->skel->maps.events, 8u << 20);	/* stacks come in bursts */
	test_map_sizes(a->skel->obj);
	return gc_bpf__load(a->skel);
}

static int open_exact(struct attacher *a, const struct attach_opts *o)
{
	if (!o->alloc_exact)
		return 0;
	a->exact = alloc_bpf__open();
	if (!a->exact)
		return -1;
	a->exact->rodata->sample_bytes = o->sample_bytes;
	if (o->stack_depth)
		a->exact->rodata->stack_depth = o->stack_depth;
	a->next_exact_site = 1;
	test_map_sizes(a->exact->obj);
	return alloc_bpf__load(a->exact);
}

static int load_programs(struct attacher *a, const struct attach_opts *o, char *err, size_t errlen)
{
	int rc;

	/* the stack walker runs in bpf_loop (Linux 5.17); without stacks the
	 * verifier never reaches it, so older kernels still trace */
	if (o->stack_depth && libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE, BPF_FUNC_loop, NULL) != 1) {
		snprintf(err, errlen, "Python stacks need the bpf_loop helper (Linux 5.17 or later); "
			 "this kernel lacks it");
		return MMX_NO_KERNEL;
	}
	if (!open_gc(a, o) && !open_exact(a, o))
		return MMX_OK;
	rc = errno;
	if (rc == ENOMEM) {
		/* the maps take memory per entry made; the rings are whole */
		snprintf(err, errlen, "out of memory loading the BPF maps (~2 MiB of kernel memory, plus %u MiB "
			 "of event ring%s; is mmtrace in a memory-limited cgroup?)",
			 (unsigned int)((o->events_bytes ? o->events_bytes : 1u << 20) >> 20),
			 o->alloc_exact ? " and ~24 MiB for the exact level" : "");
		return MMX_INTERNAL;
	}
	/* as root, EACCES is the verifier's verdict, not a missing privilege */
	if (rc == EACCES && geteuid() == 0) {
		snprintf(err, errlen, "the kernel's verifier rejected mmtrace's BPF programs%s",
			 o->verbose ? "" : " (-v shows its log)");
		return MMX_INTERNAL;
	}
	snprintf(err, errlen, "cannot load BPF programs: %s%s", strerror(rc), o->verbose ? "" : " (-v shows why)");
	return rc == EPERM || rc == EACCES ? MMX_NO_PERMISSION : MMX_INTERNAL;
}

static int attach_tracepoint(struct attacher *a, struct bpf_program *prog, char *err, size_t errlen)
{
	struct bpf_link *link = bpf_program__attach(prog);

	if (!link) {
		snprintf(err, errlen, "cannot attach %s: %s", bpf_program__name(prog), strerror(errno));
		return MMX_NO_KERNEL;
	}
	a->links[a->nlinks++] = link;
	return MMX_OK;
}

int attacher_open(struct attacher *a, const struct attach_opts *o, char *err, size_t errlen)
{
	int rc;

	memset(a, 0, sizeof(*a));
	libbpf_set_print(o->verbose ? libbpf_print_verbose : libbpf_print_silent);
	rc = check_kernel(err, errlen);
	if (!rc)
		rc = load_programs(a, o, err, errlen);
	if (!rc)
		rc = attach_tracepoint(a, a->skel->progs.mm_exit, err, errlen);
	if (!rc)
		rc = attach_tracepoint(a, a->skel->progs.mm_exec, err, errlen);
	if (!rc)
		rc = attach_tracepoint(a, a->skel->progs.mm_fork, err, errlen);
	return rc;
}

static struct bpf_program *program_for(struct attacher *a, enum gc_role role)
{
	if (role >= ROLE_ALLOC_ENTER && !a->exact)
		return NULL;
	switch (role) {
	case GC_ROLE_BEGIN: return a->skel->progs.gc_begin;
	case GC_ROLE_END: return a->skel->progs.gc_end;
	case ROLE_ARENA_ALLOC: return a->skel->progs.arena_alloc;
	case ROLE_ARENA_ALLOC_RET: return a->skel->progs.arena_alloc_ret;
	case ROLE_ARENA_FREE: return a->skel->progs.arena_free;
	case ROLE_POOL_NEW: return a->skel->progs.pool_new;
	case ROLE_ALLOC_ENTER: return a->exact->progs.alloc_enter;
	case ROLE_ALLOC_RETURN: return a->exact->progs.alloc_return;
	case ROLE_ALLOC_FREE: return a->exact->progs.alloc_free;
	case ROLE_DEALLOC: return a->exact->progs.obj_dealloc;
	case ROLE_TYPE_ALLOC: return a->exact->progs.type_alloc;
	default: return a->exact->progs.weakref_clear;
	}
}

struct attach_req {
	const struct python_binary *bin;
	pid_t pid;
	__u32 bin_id;
};

/* Exact-level sites: the cookie says the function; one that walks sampled
 * stacks also names its slot of exact_sites. */
static int configure_exact_site(struct attacher *a, const struct plan_site *s, __u64 *cookie, char *err,
				size_t errlen)
{
	struct exact_site es = { s->cfg.stack_runtime_delta, s->cfg.stack };
	__u32 idx = a->next_exact_site;

	*cookie = s->cookie;
	if (!a->exact) {
		snprintf(err, errlen, "internal: an exact-level site without its programs loaded");
		return MMX_INTERNAL;
	}
	if (s->cfg.stack.kind == STACK_NONE || !s->cfg.stack_runtime_delta || idx >= MMTRACE_EXACT_SITES)
		return MMX_OK;
	if (bpf_map__update_elem(a->exact->maps.exact_sites, &idx, sizeof(idx), &es, sizeof(es), BPF_ANY)) {
		snprintf(err, errlen, "cannot configure probe site: %s", strerror(errno));
		return MMX_INTERNAL;
	}
	*cookie |= (__u64)idx << 16;
	a->next_exact_site++;
	return MMX_OK;
}

/* GC and growth sites keep their configuration in the sites map, under the
 * cookie; exact-level sites need only the cookie. */
static int configure_site(struct attacher *a, const struct attach_req *r, const struct plan_site *s,
			  __u64 *cookie, char *err, size_t errlen)
{
	struct gc_site cfg = s->cfg;
	__u32 idx = a->next_site;

	if (a->nlinks >= ATTACH_MAX_LINKS || (s->role < ROLE_ALLOC_ENTER && idx >= MMTRACE_MAX_SITES)) {
		snprintf(err, errlen, "too many probe sites (at most %d)", MMTRACE_MAX_SITES);
		return MMX_INTERNAL;
	}
	if (s->role >= ROLE_ALLOC_ENTER)
		return configure_exact_site(a, s, cookie, err, errlen);
	cfg.bin_id = r->bin_id;
	if (bpf_map__update_elem(a->skel->maps.sites, &idx, sizeof(idx), &cfg, sizeof(cfg), BPF_ANY)) {
		snprintf(err, errlen, "cannot configure probe site: %s", strerror(errno));
		return MMX_INTERNAL;
	}
	*cookie = idx;
	a->next_site++;
	return MMX_OK;
}

static int attach_site(struct attacher *a, const struct attach_req *r, const struct plan_site *s,
		       char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo);
	struct bpf_link *link;
	__u64 cookie = 0;
	int rc;

	rc = configure_site(a, r, s, &cookie, err, errlen);
	if (rc)
		return rc;
	uo.bpf_cookie = cookie;
	uo.retprobe = s->kind == SITE_URETPROBE;
	/* a USDT site with a semaphore: the kernel raises it while attached */
	uo.ref_ctr_offset = s->kind == SITE_USDT ? s->at.sem_offset : 0;
	link = bpf_program__attach_uprobe_opts(program_for(a, s->role), r->pid, r->bin->open_path,
					       s->at.offset, &uo);
	/* gone: the kernel says ESRCH, or its /proc/PID/root path vanished first */
	if (!link && r->pid > 0 && (errno == ESRCH || !process_alive(r->pid))) {
		snprintf(err, errlen, "PID %d exited before its probes were attached", r->pid);
		return MMX_NO_PROCESS;
	}
	if (!link) {
		int e = errno;

		snprintf(err, errlen, "cannot attach %s %s in %s for %s %d: %s", site_kind_name(s->kind),
			 s->at.name, r->bin->path, r->pid > 0 ? "PID" : "all processes, pid", r->pid, strerror(e));
		return e == ESRCH ? MMX_NO_PROCESS : e == EPERM || e == EACCES ? MMX_NO_PERMISSION : MMX_INTERNAL;
	}
	a->links[a->nlinks++] = link;
	return MMX_OK;
}

int attacher_attach(struct attacher *a, const struct python_binary *bin, const struct probe_plan *plan,
		    pid_t pid, __u32 bin_id, char *err, size_t errlen)
{
	struct attach_req r = { bin, pid, bin_id };
	int i, rc, nlinks = a->nlinks;
	unsigned int next_site = a->next_site;

	for (i = 0; i < plan->nsites; i++) {
		rc = attach_site(a, &r, &plan->sites[i], err, errlen);
		if (rc)
			goto rollback;
	}
	return MMX_OK;
rollback:
	/* a begin without its end would only leave state behind: all or nothing */
	while (a->nlinks > nlinks)
		bpf_link__destroy(a->links[--a->nlinks]);
	a->next_site = next_site;
	return rc;
}

int attacher_stats_fd(const struct attacher *a)
{
	return bpf_map__fd(a->skel->maps.proc_stats);
}

int attacher_exact_fd(const struct attacher *a)
{
	return a->exact ? bpf_map__fd(a->exact->maps.exact_stats) : -1;
}

int attacher_types_fd(const struct attacher *a)
{
	return a->exact ? bpf_map__fd(a->exact->maps.types) : -1;
}

int attacher_samples_fd(const struct attacher *a)
{
	return a->exact ? bpf_map__fd(a->exact->maps.samples) : -1;
}

__u64 attacher_lost_samples(const struct attacher *a)
{
	return a->exact ? __atomic_load_n(&a->exact->bss->drops[DROP_SAMPLES_LOST], __ATOMIC_RELAXED) : 0;
}

int attacher_watched_fd(const struct attacher *a)
{
	return bpf_map__fd(a->skel->maps.watched);
}

int attacher_poll_at_exit(struct attacher *a, pid_t pid, uint64_t runtime, uint64_t main_static,
			  const struct gc_site *cfg)
{
	struct poll_target t = { .runtime = runtime, .main_static = main_static, .site = *cfg };
	__u32 key = (__u32)pid;

	return bpf_map_update_elem(bpf_map__fd(a->skel->maps.poll_targets), &key, &t, BPF_ANY) ? -errno : 0;
}

void attacher_poll_forget(struct attacher *a, pid_t pid)
{
	__u32 key = (__u32)pid;

	bpf_map_delete_elem(bpf_map__fd(a->skel->maps.poll_targets), &key);
}

int attacher_mmap_arenas(struct attacher *a, pid_t pid, __u32 bin_id, __u64 arena_size, bool held,
			 char *err, size_t errlen)
{
	struct mmap_watch w = { .bin_id = bin_id, .keep_exec = held, .arena_size = arena_size };
	__u32 key = (__u32)pid;
	int rc;

	if (!a->mmap_attached) {
		rc = attach_tracepoint(a, a->skel->progs.arena_mmap, err, errlen);
		if (!rc)
			rc = attach_tracepoint(a, a->skel->progs.arena_mmap_ret, err, errlen);
		if (rc)
			return rc;
		a->mmap_attached = true;
	}
	if (bpf_map_update_elem(bpf_map__fd(a->skel->maps.mmap_watch), &key, &w, BPF_ANY)) {
		snprintf(err, errlen, "cannot watch the mmap calls of PID %d: %s", pid, strerror(errno));
		return MMX_INTERNAL;
	}
	return MMX_OK;
}

int attacher_events_fd(const struct attacher *a)
{
	return bpf_map__fd(a->skel->maps.events);
}

__u64 attacher_lost_events(const struct attacher *a)
{
	return __atomic_load_n(&a->skel->bss->drops[DROP_EVENTS_LOST], __ATOMIC_RELAXED);
}

void attacher_drops(const struct attacher *a, __u64 out[MM_DROPS])
{
	int i;

	for (i = 0; i < MM_DROPS; i++) {
		out[i] = __atomic_load_n(&a->skel->bss->drops[i], __ATOMIC_RELAXED);
		if (a->exact)
			out[i] += __atomic_load_n(&a->exact->bss->drops[i], __ATOMIC_RELAXED);
	}
}

void attacher_close(struct attacher *a)
{
	while (a->nlinks > 0)
		bpf_link__destroy(a->links[--a->nlinks]);
	gc_bpf__destroy(a->skel);
	alloc_bpf__destroy(a->exact);
	a->skel = NULL;
	a->exact = NULL;
}
