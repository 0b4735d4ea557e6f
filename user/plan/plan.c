// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "layout.h"
#include "plan.h"
#include "stack_layout.h"

const char *coverage_name(enum coverage c)
{
	return c == COV_EXACT ? "exact" : c == COV_PARTIAL ? "partial" : "unavailable";
}

const char *metric_name(enum gc_metric m)
{
	static const char *const names[M__COUNT] = {
		"gc.collections", "gc.collected", "gc.uncollectable", "gc.pause", "alloc.arenas", "alloc.pools",
		"alloc.raw", "alloc.mem", "alloc.obj", "alloc.types", "alloc.weakrefs",
		"alloc.type_allocs", "stacks",
	};
	return m < M__COUNT ? names[m] : "?";
}

const char *role_name(enum gc_role r)
{
	static const char *const names[] = { "begin", "end", "arena+", "arena+ret", "arena-", "pool",
					     "call", "call-ret", "free", "dealloc", "weakref-clear",
					     "type-alloc" };

	return r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}

const char *site_kind_name(enum site_kind k)
{
	return k == SITE_USDT ? "usdt" : k == SITE_URETPROBE ? "uretprobe" : "uprobe";
}

/* The main interpreter's stats from _PyRuntime, whatever thread runs: what
 * a read from outside takes, having no collecting thread (3.9-3.11's current
 * thread state may be none while every thread waits) */
static void chain_to_main_interp(const struct cpython_layout *l, struct gc_site *s)
{
	memset(s, 0, sizeof(*s));
	s->base = GC_BASE_RUNTIME;
	if (l->runtime_gc) {
		s->stats_off = l->runtime_gc + l->gc_generation_stats;
		return;
	}
	s->deref_off[s->nderef++] = l->runtime_interp_main;
	s->stats_off = l->interp_gc + l->gc_generation_stats;
}

/* _PyRuntime -> ... -> &gcstate->generation_stats, found from the probe
 * address. At a collection the thread running it holds the GIL: where the
 * runtime names the current thread state (3.9-3.11), the chain goes through
 * it to the collecting interpreter. */
static void chain_from_runtime(const struct cpython_layout *l, int64_t delta, struct gc_site *s)
{
	chain_to_main_interp(l, s);
	s->runtime_delta = delta;
	if (!l->runtime_gc && l->runtime_tstate_current) {
		s->nderef = 0;
		s->deref_off[s->nderef++] = l->runtime_tstate_current;
		s->deref_off[s->nderef++] = l->tstate_interp;
	}
}

static void chain_from_tstate(const struct cpython_layout *l, struct gc_site *s)
{
	memset(s, 0, sizeof(*s));
	s->base = GC_BASE_ARG0;
	s->deref_off[s->nderef++] = l->tstate_interp;
	s->stats_off = l->interp_gc + l->gc_generation_stats;
}

/* True when the chain reads the main interpreter, not the collecting one. */
static bool main_interp_only(const struct gc_site *s, const struct cpython_layout *l)
{
	return s->base == GC_BASE_RUNTIME && !l->runtime_gc && !l->runtime_tstate_current;
}

/* 3.9+ give each interpreter its own GC state: a begin site compares the
 * collected state with the main interpreter's, found from _PyRuntime. */
static void split_main(const struct cpython_layout *l, int64_t delta, struct gc_site *s)
{
	if (l->runtime_gc)
		return;	/* 3.8: one GC state for the whole runtime */
	s->split_main = 1;
	s->main_runtime_delta = delta;
	s->main_interp_off = l->runtime_interp_main;
	s->main_stats_off = l->interp_gc + l->gc_generation_stats;
}

void plan_add_site(struct probe_plan *p, enum site_kind kind, enum gc_role role, const struct code_site *at,
		   const struct gc_site *cfg)
{
	struct plan_site *s = &p->sites[p->nsites++];

	s->kind = kind;
	s->role = role;
	s->at = *at;
	s->cfg = *cfg;
}

static void plan_usdt(const struct python_binary *pb, const struct cpython_layout *l, struct probe_plan *p)
{
	struct gc_site cfg;

	p->method = "usdt";
	chain_from_runtime(l, (int64_t)(pb->runtime_vaddr - pb->usdt_gc_start.vaddr), &cfg);
	split_main(l, (int64_t)(pb->runtime_vaddr - pb->usdt_gc_start.vaddr), &cfg);
	plan_add_site(p, SITE_USDT, GC_ROLE_BEGIN, &pb->usdt_gc_start, &cfg);
	plan_add_site(p, SITE_USDT, GC_ROLE_END, &pb->usdt_gc_done, &cfg);
}

/* Clones that may have dropped or reordered arguments (constprop, isra). */
static bool args_intact(const char *sym, const char *base)
{
	const char *rest = sym + strlen(base);

	return *rest == '\0' || !strncmp(rest, ".lto_priv.", 10);
}

static void plan_uprobes(const struct python_binary *pb, const struct cpython_layout *l, struct probe_plan *p)
{
	const struct code_site *c;
	struct gc_site cfg;
	int i;

	p->method = "uprobe";
	for (i = 0; i < pb->ncollectors && p->nsites + 2 <= PLAN_MAX_SITES; i++) {
		c = &pb->collectors[i];
		if (l->collector_takes_tstate && args_intact(c->name, l->collector))
			chain_from_tstate(l, &cfg);
		else
			chain_from_runtime(l, (int64_t)(pb->runtime_vaddr - c->vaddr), &cfg);
		split_main(l, (int64_t)(pb->runtime_vaddr - c->vaddr), &cfg);
		plan_add_site(p, SITE_UPROBE, GC_ROLE_BEGIN, c, &cfg);
		plan_add_site(p, SITE_URETPROBE, GC_ROLE_END, c, &cfg);
	}
}

static void set_all(struct probe_plan *p, enum coverage cov, const char *reason)
{
	int m;

	for (m = M_COLLECTIONS; m <= M_PAUSE; m++) {
		p->metrics[m].cov = cov;
		snprintf(p->metrics[m].reason, sizeof(p->metrics[m].reason), "%s", reason);
	}
}

static void explain_exact(const struct python_binary *pb, const struct cpython_layout *l, struct probe_plan *p)
{
	bool usdt = !strcmp(p->method, "usdt");
	int m;

	set_all(p, COV_EXACT, "difference of the interpreter's generation_stats across each collection");
	snprintf(p->metrics[M_PAUSE].reason, sizeof(p->metrics[M_PAUSE].reason), "%s",
		 usdt ? "gc__start to gc__done, inside the collector; excludes gc.callbacks" :
		 pb->minor >= 13 ? "collector entry to return; includes gc.callbacks, which 3.13 runs inside it" :
				   "collector entry to return; excludes gc.callbacks");
	if (!main_interp_only(&p->sites[0].cfg, l))
		return;
	for (m = M_COLLECTIONS; m <= M_UNCOLLECTABLE; m++) {
		p->metrics[m].cov = COV_PARTIAL;
		snprintf(p->metrics[m].reason, sizeof(p->metrics[m].reason),
			 "read from the main interpreter's generation_stats: collections in subinterpreters are missed");
	}
}

static void explain_missing(const struct python_binary *pb, const struct cpython_layout *l,
			    const struct plan_opts *o, struct probe_plan *p)
{
	char why[256];

	if (!pb->stripped || pb->sym_source == SYM_BUILD_ID || pb->sym_source == SYM_DEBUGLINK)
		snprintf(why, sizeof(why), "no symbol %s in %s%s", l->collector, sym_source_name(pb->sym_source),
			 pb->has_gc_usdt ? "" : " and no python:gc__start/gc__done USDT notes");
	else
		snprintf(why, sizeof(why),
			 "stripped build%s: install its debug symbols (Debian: python%d.%d-dbg) for %s",
			 pb->has_gc_usdt && o->no_usdt ? " and --no-usdt" : " without GC USDT notes",
			 pb->major, pb->minor, l->collector);
	set_all(p, COV_UNAVAILABLE, why);
}

/*
 * Neither USDT nor a collector symbol (slim container images, stripped
 * standalone builds): the counters the interpreter keeps for gc.get_stats()
 * are read from its memory by user space, found from _PyRuntime (.dynsym).
 * Cumulative counters read twice give exact differences; what happened
 * between two reads is one sum, so nothing per collection is seen.
 */
static int plan_polled(const struct python_binary *pb, const struct plan_opts *o, const struct gc_site *cfg,
		       bool durations, const char *where, struct probe_plan *p)
{
	char why[640], chosen[128];
	int m;

	p->nsites = 0;
	p->method = "polled";
	p->polled = true;
	p->poll_durations = durations;
	p->poll_cfg = *cfg;
	p->poll_cfg.runtime_delta = 0;
	if (o->force_poll)
		snprintf(chosen, sizeof(chosen), "--poll: no probe in CPython %s", pb->version);
	else
		snprintf(chosen, sizeof(chosen), "CPython %s has no USDT notes and no collector symbol here",
			 pb->version);
	snprintf(why, sizeof(why), "read from the interpreter's memory at each report (%s): the main "
		 "interpreter's stats, %s; exact since attach (a command: since its start), and read once more by "
		 "BPF as the process exits (Linux 6.16+; earlier kernels: up to the last report); subinterpreters "
		 "not seen", chosen, where);
	for (m = M_COLLECTIONS; m <= M_UNCOLLECTABLE; m++)
		plan_set_metric(p, m, COV_PARTIAL, why);
	if (durations)
		plan_set_metric(p, M_PAUSE, COV_PARTIAL, "totals only: the difference of the interpreter's own "
				"cumulative duration per generation (its ring records, read at each report); no "
				"per-collection pauses, maximum or histogram");
	else
		plan_set_metric(p, M_PAUSE, COV_UNAVAILABLE, "read from the interpreter's memory: it keeps no "
				"collection times before 3.15, and without a probe point no collection is seen "
				"(no pauses, histograms, per-collection events or stacks)");
	return 0;
}

/* 3.15's struct gc_stats on x86-64 GIL builds (3.15.2's DWARF): a young
 * ring of 11 records, then two old rings of 3, each {items[], int8_t index} */
#define GC_STATS_SIZE_315 1120
#define GC_RECORD_SIZE 64	/* struct gc_generation_stats */
#define GC_RECORD_COUNTS 16	/* its collections, collected, uncollectable */

static const struct {
	__u32 len;
	__u64 buf, index;
} ring_315[MMTRACE_GENERATIONS] = {
	{ 11, 0, 11 * GC_RECORD_SIZE },		/* young: generation 0 */
	{ 3, 712, 3 * GC_RECORD_SIZE },		/* old[0]: generation 1 */
	{ 3, 912, 3 * GC_RECORD_SIZE },		/* old[1]: generation 2 */
};

/*
 * 3.14.5+ and 3.15 (generational GC again): USDT, else uprobes on
 * gc_collect_main from the symbols; the chain from the interpreter's own
 * _Py_DebugOffsets. 3.14.0-3.14.4 ran an incremental collector: one choke
 * point, _PyGC_Collect, fires the same USDT pair around young (0), increment
 * (1, every automatic collection) and full (2) collections, with the stats
 * at the same offsets. A mark-phase increment fires the pair without
 * touching the stats: the end's stats difference is empty, so it counts no
 * collection and no pause (an empty call), as gc.get_stats() counts none.
 * gc_collect_main does not exist there, so a build without USDT is polled.
 * Written from the 3.14.4 sources: no such build to verify on.
 */
static bool incremental_gc(const struct python_binary *pb)
{
	return pb->major == 3 && pb->minor == 14 && pb->micro < 5;
}

/*
 * gc_collect_main(tstate, ...) of 3.14.5+/3.15 (or its .lto_priv clone, same
 * arguments): the collecting interpreter is the thread state's, so each
 * collection is read from its own interpreter's stats, and the main one's
 * (from _PyRuntime at the probe address) tells subinterpreters apart, as
 * for 3.9-3.13. cfg: the chain through _PyRuntime to the main interpreter's.
 */
static bool chain_from_collector_tstate(const struct python_binary *pb, const struct gc_site *cfg,
					int64_t runtime_delta, struct gc_site *c)
{
	uint64_t tstate_interp;
	__u32 i;

	if (!pyoff_get(&pb->pyoff, PYOFF_THREAD_INTERP, &tstate_interp) || cfg->nderef < 1)
		return false;
	*c = *cfg;
	c->split_main = 1;
	c->main_runtime_delta = runtime_delta;
	c->main_interp_off = cfg->deref_off[0];
	c->main_stats_off = cfg->ring ? cfg->deref_off[1] : cfg->stats_off;
	c->main_stats_deref = cfg->ring;
	/* the same hops, from the thread state's interpreter */
	c->base = GC_BASE_ARG0;
	c->runtime_delta = 0;
	c->deref_off[0] = tstate_interp;
	for (i = 1; i < cfg->nderef && i < MMTRACE_CHAIN_MAX; i++)
		c->deref_off[i] = cfg->deref_off[i];
	return true;
}

static int plan_gc_debug_offsets(const struct python_binary *pb, const struct plan_opts *o, struct probe_plan *p)
{
	uint64_t head, interp_gc, gs = 0, gs_size = 0;
	char why[384], where[320];
	struct gc_site cfg;
	int g, per_interp = 0;

	if (pb->minor > 15) {
		snprintf(why, sizeof(why), "CPython %d.%d has no verified layout in mmtrace (3.8 to 3.15 have)",
			 pb->major, pb->minor);
		goto refuse;
	}
	if (!pyoff_get(&pb->pyoff, PYOFF_RUNTIME_INTERPRETERS_HEAD, &head) ||
	    !pyoff_get(&pb->pyoff, PYOFF_INTERP_GC, &interp_gc) ||
	    (pb->minor == 15 && (!pyoff_get(&pb->pyoff, PYOFF_GC_GENERATION_STATS, &gs) ||
				 !pyoff_get(&pb->pyoff, PYOFF_GC_GENERATION_STATS_SIZE, &gs_size)))) {
		snprintf(why, sizeof(why), "no usable _Py_DebugOffsets in the file: %s", pb->pyoff_why);
		goto refuse;
	}
	if (pb->minor == 15 && gs_size != GC_STATS_SIZE_315) {
		snprintf(why, sizeof(why), "its struct gc_stats is %llu bytes, not the %d of the verified 3.15 "
			 "(free-threaded or another layout)", (unsigned long long)gs_size, GC_STATS_SIZE_315);
		goto refuse;
	}
	if ((!pb->has_gc_usdt || o->no_usdt) && !pb->ncollectors && !o->allow_poll && !o->force_poll) {
		snprintf(why, sizeof(why), "no python:gc__start/gc__done USDT notes%s and no symbol gc_collect_main "
			 "in %s", pb->has_gc_usdt ? " used (--no-usdt)" : "", sym_source_name(pb->sym_source));
		goto refuse;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.base = GC_BASE_RUNTIME;
	/* struct pyinterpreters {PyMutex mutex; head; main; next_id}: main
	 * follows head (3.13-3.15 DWARF); the debug offsets name only head,
	 * the newest interpreter, and gc.get_stats() is the main one's */
	cfg.deref_off[cfg.nderef++] = head + 8;
	if (pb->minor == 14) {
		cfg.stats_off = interp_gc + pb->gc_stats_off;
		snprintf(where, sizeof(where), "interp->gc +%llu (_Py_DebugOffsets), generation_stats +%llu (%s)",
			 (unsigned long long)interp_gc, (unsigned long long)pb->gc_stats_off, pb->gc_stats_source);
	} else {
		cfg.deref_off[cfg.nderef++] = interp_gc + gs;
		cfg.stats_off = 0;
		cfg.ring = 1;
		cfg.ring_rec = GC_RECORD_SIZE;
		cfg.ring_counts = GC_RECORD_COUNTS;
		for (g = 0; g < MMTRACE_GENERATIONS; g++) {
			cfg.ring_len[g] = ring_315[g].len;
			cfg.ring_buf[g] = ring_315[g].buf;
			cfg.ring_index[g] = ring_315[g].index;
		}
		snprintf(where, sizeof(where), "interp->gc +%llu, ->generation_stats +%llu (_Py_DebugOffsets): "
			 "the newest record of each generation's ring (built-in ring layout)",
			 (unsigned long long)interp_gc, (unsigned long long)gs);
	}
	if (incremental_gc(pb))
		snprintf(where + strlen(where), sizeof(where) - strlen(where), "; generation 1 counts increments "
			 "(3.14.0-3.14.4's incremental collector, from its sources, not verified on a build)");
	if (o->force_poll || ((!pb->has_gc_usdt || o->no_usdt) && !pb->ncollectors))
		return plan_polled(pb, o, &cfg, pb->minor >= 15, where, p);
	if (pb->has_gc_usdt && !o->no_usdt) {
		p->method = "usdt";
		cfg.runtime_delta = (int64_t)(pb->runtime_vaddr - pb->usdt_gc_start.vaddr);
		plan_add_site(p, SITE_USDT, GC_ROLE_BEGIN, &pb->usdt_gc_start, &cfg);
		plan_add_site(p, SITE_USDT, GC_ROLE_END, &pb->usdt_gc_done, &cfg);
	} else {
		/* gc_collect_main (or its .lto_priv clone) of 3.14.5+/3.15, as
		 * for 3.13: a call that returns early (the collection already
		 * running, or no generation due) leaves the stats unchanged and
		 * counts nothing; the stats are read through _PyRuntime, so a
		 * clone's arguments do not matter */
		p->method = "uprobe";
		for (g = 0; g < pb->ncollectors && p->nsites + 2 <= PLAN_MAX_SITES; g++) {
			struct gc_site site;
			int64_t delta = (int64_t)(pb->runtime_vaddr - pb->collectors[g].vaddr);

			cfg.runtime_delta = delta;
			if (args_intact(pb->collectors[g].name, "gc_collect_main") &&
			    chain_from_collector_tstate(pb, &cfg, delta, &site))
				per_interp++;
			else
				site = cfg;
			plan_add_site(p, SITE_UPROBE, GC_ROLE_BEGIN, &pb->collectors[g], &site);
			plan_add_site(p, SITE_URETPROBE, GC_ROLE_END, &pb->collectors[g], &site);
		}
	}
	for (g = M_COLLECTIONS; g <= M_UNCOLLECTABLE; g++) {
		if (per_interp && per_interp * 2 == p->nsites) {
			p->metrics[g].cov = COV_EXACT;
			snprintf(p->metrics[g].reason, sizeof(p->metrics[g].reason), "each collection's own "
				 "interpreter (gc_collect_main's thread state), %s; subinterpreters' apart", where);
			continue;
		}
		p->metrics[g].cov = COV_PARTIAL;
		snprintf(p->metrics[g].reason, sizeof(p->metrics[g].reason),
			 "the main interpreter's stats, %s: collections in subinterpreters are missed", where);
	}
	if (incremental_gc(pb))
		plan_set_metric(p, M_PAUSE, COV_PARTIAL, "gc__start to gc__done of each collection in gc.get_stats(); "
				"the incremental collector of 3.14.0-3.14.4 also runs mark-only increments, which fire "
				"them without a collection: their time is in no pause (counted as empty calls). "
				"Every automatic collection is generation 1 there. From the sources, not verified on a build");
	else
		plan_set_metric(p, M_PAUSE, COV_EXACT, !strcmp(p->method, "usdt") ?
				"gc__start to gc__done, inside the collector; excludes gc.callbacks" :
				"collector entry to return; includes gc.callbacks, which 3.13+ runs inside it");
	return 0;
refuse:
	set_all(p, COV_UNAVAILABLE, why);
	return -ENOENT;
}

int plan_gc(const struct python_binary *pb, const struct plan_opts *o, struct probe_plan *p)
{
	const struct cpython_layout *l = layout_for(pb->major, pb->minor);
	char why[256];

	memset(p, 0, sizeof(*p));
	p->method = "none";
	if (!l && pb->major == 3 && pb->minor >= 14)
		return plan_gc_debug_offsets(pb, o, p);
	if (!l) {
		snprintf(why, sizeof(why), "CPython %d.%d has no verified layout in mmtrace (3.8 to 3.13 have)",
			 pb->major, pb->minor);
		set_all(p, COV_UNAVAILABLE, why);
		return -ENOENT;
	}
	if (!o->force_poll && pb->has_gc_usdt && !o->no_usdt)
		plan_usdt(pb, l, p);
	else if (!o->force_poll && pb->ncollectors)
		plan_uprobes(pb, l, p);
	/* without a probe point the built-in offsets of the stripped builds
	 * verified here (3.12, 3.13); with --poll, every minor's */
	if (!p->nsites && ((o->allow_poll && pb->minor >= 12) || o->force_poll)) {
		struct gc_site cfg;
		uint64_t head, interp_gc;
		const char *src = "built-in layout";
		char where[160];

		chain_to_main_interp(l, &cfg);
		/* 3.13: the file's own _Py_DebugOffsets where they can be read
		 * (interpreters.main follows head, as for 3.14+); the gc state's
		 * generation_stats offset is the same 3.8-3.13 */
		if (pyoff_get(&pb->pyoff, PYOFF_RUNTIME_INTERPRETERS_HEAD, &head) &&
		    pyoff_get(&pb->pyoff, PYOFF_INTERP_GC, &interp_gc)) {
			cfg.deref_off[0] = head + 8;
			cfg.stats_off = interp_gc + l->gc_generation_stats;
			src = "_Py_DebugOffsets; generation_stats built-in";
		}
		snprintf(where, sizeof(where), "_PyRuntime +%llu -> interp, generation_stats +%llu (%s)",
			 (unsigned long long)cfg.deref_off[0], (unsigned long long)cfg.stats_off, src);
		return plan_polled(pb, o, &cfg, false, where, p);
	}
	if (!p->nsites) {
		explain_missing(pb, l, o, p);
		return -ENOENT;
	}
	explain_exact(pb, l, p);
	return 0;
}

void plan_set_metric(struct probe_plan *p, enum gc_metric m, enum coverage cov, const char *reason)
{
	p->metrics[m].cov = cov;
	snprintf(p->metrics[m].reason, sizeof(p->metrics[m].reason), "%s", reason);
}

/* Where a stripped build's symbols would come from, or that there are none. */
static void why_no_symbol(const struct python_binary *pb, const char *fn, char *why, size_t len)
{
	if (pb->stripped && pb->sym_source != SYM_BUILD_ID && pb->sym_source != SYM_DEBUGLINK)
		snprintf(why, len, "stripped build: install its debug symbols (Debian: python%d.%d-dbg) for %s",
			 pb->major, pb->minor, fn);
	else
		snprintf(why, len, "no out-of-line %s in %s (inlined by the compiler)", fn,
			 sym_source_name(pb->sym_source));
}

static void add_alloc_sites(struct probe_plan *p, const struct code_site *at, int n, enum site_kind kind,
			    enum gc_role role, const char *base, __u32 arg, __u64 arena_size)
{
	struct gc_site cfg;
	int i;

	for (i = 0; i < n && p->nsites < PLAN_MAX_SITES; i++) {
		if (!args_intact(at[i].name, base))
			continue;	/* a clone may have dropped the size argument */
		memset(&cfg, 0, sizeof(cfg));
		cfg.arg_index = arg;
		cfg.arena_size = arena_size;
		plan_add_site(p, kind, role, &at[i], &cfg);
	}
}

/* No arena function to probe: pymalloc maps each arena by itself, with
 * mmap(NULL, ARENA_SIZE, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS,
 * -1, 0), and unmaps it whole, in every version 3.8-3.15; the process's own
 * system calls of that shape are its arenas. */
static void plan_mmap_arenas(const struct python_binary *pb, const struct growth_layout *l,
			     struct probe_plan *p)
{
	char why[384], hidden[160];

	why_no_symbol(pb, l->arena_alloc, hidden, sizeof(hidden));
	p->mmap_arena_size = l->arena_size;
	snprintf(why, sizeof(why), "the process's mmap of one anonymous private %llu KiB region, and munmap of "
		 "one, as pymalloc maps and unmaps its arenas (%s); another library mapping exactly that would be "
		 "counted too", (unsigned long long)l->arena_size / 1024, hidden);
	plan_set_metric(p, M_ARENAS, COV_EXACT, why);
}

static void plan_arenas(const struct python_binary *pb, const struct growth_layout *l, const struct plan_opts *o,
			struct probe_plan *p)
{
	char why[256];
	int before = p->nsites;

	if ((!pb->narena_alloc || !pb->narena_free) && o->mmap_arenas) {
		plan_mmap_arenas(pb, l, p);
		return;
	}
	if (!pb->narena_alloc || !pb->narena_free) {
		why_no_symbol(pb, pb->narena_alloc ? l->arena_free : l->arena_alloc, why, sizeof(why));
		plan_set_metric(p, M_ARENAS, COV_UNAVAILABLE, why);
		return;
	}
	add_alloc_sites(p, pb->arena_alloc, pb->narena_alloc, SITE_UPROBE, ROLE_ARENA_ALLOC, l->arena_alloc, 1,
			l->arena_size);
	add_alloc_sites(p, pb->arena_alloc, pb->narena_alloc, SITE_URETPROBE, ROLE_ARENA_ALLOC_RET, l->arena_alloc,
			1, l->arena_size);
	add_alloc_sites(p, pb->arena_free, pb->narena_free, SITE_UPROBE, ROLE_ARENA_FREE, l->arena_free, 2,
			l->arena_size);
	snprintf(why, sizeof(why), "%s returning an arena of %llu KiB, and %s of one: as sys._debugmallocstats() "
		 "counts arenas", l->arena_alloc, (unsigned long long)l->arena_size / 1024, l->arena_free);
	plan_set_metric(p, M_ARENAS, p->nsites > before ? COV_EXACT : COV_UNAVAILABLE,
		   p->nsites > before ? why : "only clones whose arguments may have changed");
}

static void plan_pools(const struct python_binary *pb, const struct growth_layout *l, struct probe_plan *p)
{
	char why[256];
	int before = p->nsites;

	if (!l->pool_new) {
		plan_set_metric(p, M_POOLS, COV_UNAVAILABLE,
			   "CPython 3.8 refills pools inside pymalloc_alloc: no function to probe");
		return;
	}
	if (!pb->npool_new) {
		why_no_symbol(pb, l->pool_new, why, sizeof(why));
		plan_set_metric(p, M_POOLS, COV_UNAVAILABLE, why);
		return;
	}
	add_alloc_sites(p, pb->pool_new, pb->npool_new, SITE_UPROBE, ROLE_POOL_NEW, l->pool_new,
			(__u32)l->pool_size_arg, 0);
	snprintf(why, sizeof(why), "every call of %s: one pool of %llu KiB taken for a size class", l->pool_new,
		 (unsigned long long)l->pool_size / 1024);
	plan_set_metric(p, M_POOLS, p->nsites > before ? COV_EXACT : COV_UNAVAILABLE,
		   p->nsites > before ? why : "only clones whose arguments may have changed");
}

void plan_alloc(const struct python_binary *pb, const struct plan_opts *o, struct probe_plan *p)
{
	const struct growth_layout *l = growth_layout_for(pb->major, pb->minor);

	if (!o->alloc_growth || !l) {
		plan_set_metric(p, M_ARENAS, COV_UNAVAILABLE, l ? "not requested (--alloc=growth)" : "no verified layout");
		plan_set_metric(p, M_POOLS, COV_UNAVAILABLE, l ? "not requested (--alloc=growth)" : "no verified layout");
		return;
	}
	plan_arenas(pb, l, o, p);
	plan_pools(pb, l, p);
}

/* Stacks are walked where a collection begins and where the heap grows:
 * sites whose probe address is the function's (or the USDT note's). */
static void plan_stacks(const struct python_binary *pb, const struct plan_opts *o, struct probe_plan *p)
{
	const struct growth_layout *l = growth_layout_for(pb->major, pb->minor);
	struct py_stack_layout sl;
	enum pyoff_source src = stack_layouts_of(pb, &sl, NULL);
	struct plan_site *s;
	char why[256];
	int i, n = 0;

	if (!o->stacks || src == OFF_NONE) {
		plan_set_metric(p, M_STACKS, COV_UNAVAILABLE,
				o->stacks ? "no verified frame layout for this version" : "not requested (--stacks, --folded)");
		return;
	}
	for (i = 0; i < p->nsites; i++) {
		s = &p->sites[i];
		/* growth sites need the allocator's layout (POOL_SIZE) */
		if (s->role != GC_ROLE_BEGIN && (!l || (s->role != ROLE_ARENA_ALLOC && s->role != ROLE_POOL_NEW)))
			continue;
		s->cfg.stack = sl;
		s->cfg.stack_runtime_delta = (int64_t)(pb->runtime_vaddr - s->at.vaddr);
		s->cfg.pool_size = l ? l->pool_size : 0;
		n++;
	}
	snprintf(why, sizeof(why), "the GIL holder's frames at each collection's start%s; a stack cut short is "
		 "marked as such; frame offsets from %s", l ? " and each pool or arena taken" : "",
		 src == OFF_DEBUG_OFFSETS ? "the interpreter's _Py_DebugOffsets" : "mmtrace's tables");
	plan_set_metric(p, M_STACKS, n ? COV_EXACT : COV_UNAVAILABLE,
			n ? why : "no collection or growth site to walk stacks at");
}

int plan_file(const struct python_binary *pb, const struct plan_opts *o, struct probe_plan *p)
{
	int rc = plan_gc(pb, o, p);

	plan_alloc(pb, o, p);
	plan_exact(pb, o, p);
	plan_stacks(pb, o, p);
	return rc;
}
