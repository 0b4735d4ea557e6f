// SPDX-License-Identifier: MIT
/*
 * plan_exact: the sites of --alloc=exact and how exact each figure is.
 *
 * The exported allocator functions exist in every build, but a build with
 * link-time optimisation inlines them into their callers: there, the
 * exported entry sees only the calls that were left out of line (~0.1% on
 * Debian's python3.11). Such counts are partial, and the plan says so.
 */
#include <stdio.h>
#include <string.h>
#include "alloc.h"
#include "plan.h"
#include "stack_layout.h"

static const enum gc_metric domain_metric[ALLOC_DOMAINS] = { M_ALLOC_RAW, M_ALLOC_MEM, M_ALLOC_OBJ };

/* Whether the exported functions see every call, and if not, why. */
static enum coverage inlining_verdict(const struct python_binary *pb, char *why, size_t len)
{
	if (pb->lto) {
		snprintf(why, len, "LTO build (.lto_priv clones in its %s): inlined into their callers, the "
			 "exported functions see only the calls left out of line (probing inline sites from DWARF "
			 "is not implemented)", sym_source_name(pb->sym_source));
		return COV_PARTIAL;
	}
	if (pb->stripped && pb->sym_source != SYM_BUILD_ID && pb->sym_source != SYM_DEBUGLINK) {
		snprintf(why, len, "stripped build: inlined copies cannot be ruled out without symbols (Debian's "
			 "python%d.%d is built with LTO, which inlines the allocator at most call sites); "
			 "install python%d.%d-dbg to tell", pb->major, pb->minor, pb->major, pb->minor);
		return COV_PARTIAL;
	}
	snprintf(why, len, "non-LTO build with symbols: callers in other units call the exported functions");
	return COV_EXACT;
}

static bool domain_complete(const struct python_binary *pb, int domain, char *why, size_t len)
{
	int call;

	for (call = 0; call < ALLOC_CALLS; call++)
		if (!pb->has_api[domain * ALLOC_CALLS + call]) {
			snprintf(why, len, "no exported %s in %s", api_name(domain * ALLOC_CALLS + call), pb->path);
			return false;
		}
	return true;
}

static void add_api_site(struct probe_plan *p, const struct python_binary *pb, enum api_fn f,
			 enum site_kind kind, enum gc_role role, __u64 cookie)
{
	struct gc_site cfg;

	if (p->nsites >= PLAN_MAX_SITES)
		return;
	memset(&cfg, 0, sizeof(cfg));
	plan_add_site(p, kind, role, &pb->api[f], &cfg);
	p->sites[p->nsites - 1].cookie = cookie;
}

/* Returns before entries: a return probe attached after its entry fired
 * would leave a call on the thread's stack that never returns. And obj and
 * mem before raw: a raw fallback seen before its outer call's probe would be
 * counted as raw. */
static void plan_domains(const struct python_binary *pb, struct probe_plan *p, const bool *ok)
{
	int d, c;

	for (d = ALLOC_DOMAINS - 1; d >= 0; d--)
		for (c = CALL_MALLOC; ok[d] && c <= CALL_REALLOC; c++)
			add_api_site(p, pb, d * ALLOC_CALLS + c, SITE_URETPROBE, ROLE_ALLOC_RETURN, ALLOC_COOKIE(d, c));
	for (d = ALLOC_DOMAINS - 1; d >= 0; d--)
		for (c = CALL_MALLOC; ok[d] && c < ALLOC_CALLS; c++)
			add_api_site(p, pb, d * ALLOC_CALLS + c, SITE_UPROBE,
				     c == CALL_FREE ? ROLE_ALLOC_FREE : ROLE_ALLOC_ENTER, ALLOC_COOKIE(d, c));
}

static void plan_allocators(const struct python_binary *pb, struct probe_plan *p)
{
	static const char *const prefix[ALLOC_DOMAINS] = { "PyMem_Raw", "PyMem_", "PyObject_" };
	char why[384], verdict[300];
	enum coverage cov = inlining_verdict(pb, verdict, sizeof(verdict));
	bool ok[ALLOC_DOMAINS];
	int d;

	for (d = 0; d < ALLOC_DOMAINS; d++) {
		ok[d] = domain_complete(pb, d, why, sizeof(why));
		if (ok[d])
			snprintf(why, sizeof(why), "every %sMalloc/Calloc/Realloc/Free call, entry and return; %s",
				 prefix[d], verdict);
		plan_set_metric(p, domain_metric[d], ok[d] ? cov : COV_UNAVAILABLE, why);
	}
	plan_domains(pb, p, ok);
}

static void plan_types(const struct python_binary *pb, struct probe_plan *p)
{
	struct gc_site none;
	char why[256];
	int i;

	memset(&none, 0, sizeof(none));
	if (!pb->lto && !(pb->stripped && pb->sym_source == SYM_DYNSYM) && pb->has_api[API_DEALLOC]) {
		add_api_site(p, pb, API_DEALLOC, SITE_UPROBE, ROLE_DEALLOC, 0);
		if (pb->minor >= 11)
			plan_set_metric(p, M_TYPES, COV_PARTIAL, "every _Py_Dealloc call; from 3.11 the eval loop "
					"frees float, int and str through specialized paths that bypass it: lower "
					"bounds for those three, exact for every other type");
		else
			plan_set_metric(p, M_TYPES, COV_EXACT, "every _Py_Dealloc call: each object's deallocation");
		return;
	}
	for (i = 0; i < pb->nsubtype_dealloc && p->nsites < PLAN_MAX_SITES; i++)
		plan_add_site(p, SITE_UPROBE, ROLE_DEALLOC, &pb->subtype_dealloc[i], &none);
	if (pb->nsubtype_dealloc) {
		snprintf(why, sizeof(why), "Python classes only, from subtype_dealloc in %s: LTO inlined "
			 "_Py_Dealloc, so built-in types are not counted", sym_source_name(pb->sym_source));
		plan_set_metric(p, M_TYPES, COV_PARTIAL, why);
		return;
	}
	snprintf(why, sizeof(why), "%s: _Py_Dealloc is inlined almost everywhere; install python%d.%d-dbg "
		 "for Python classes (subtype_dealloc)", pb->lto ? "LTO build" : "stripped build", pb->major,
		 pb->minor);
	plan_set_metric(p, M_TYPES, COV_UNAVAILABLE, why);
}

static void plan_weakrefs(const struct python_binary *pb, struct probe_plan *p)
{
	char why[384], verdict[300];
	enum coverage cov;

	if (!pb->has_api[API_CLEAR_WEAKREFS]) {
		plan_set_metric(p, M_WEAKREFS, COV_UNAVAILABLE, "no exported PyObject_ClearWeakRefs");
		return;
	}
	cov = inlining_verdict(pb, verdict, sizeof(verdict));
	add_api_site(p, pb, API_CLEAR_WEAKREFS, SITE_UPROBE, ROLE_WEAKREF_CLEAR, 0);
	snprintf(why, sizeof(why), "every PyObject_ClearWeakRefs call, per type of the dying object; %s", verdict);
	plan_set_metric(p, M_WEAKREFS, cov, why);
}

/* Allocations per type, where the allocation function is told the type. */
static void plan_type_allocs(const struct python_binary *pb, struct probe_plan *p)
{
	char why[384], verdict[300];
	enum coverage cov = inlining_verdict(pb, verdict, sizeof(verdict));
	int f, n = 0;

	for (f = API_TYPE_GENERIC_ALLOC; f <= API_GC_NEWVAR; f++)
		if (pb->has_api[f]) {
			add_api_site(p, pb, f, SITE_UPROBE, ROLE_TYPE_ALLOC, 0);
			n++;
		}
	if (!n) {
		plan_set_metric(p, M_TYPE_ALLOCS, COV_UNAVAILABLE, "no exported type-aware allocation function");
		return;
	}
	snprintf(why, sizeof(why), "objects made by PyType_GenericAlloc (every Python class), _PyObject_New(Var) "
		 "and _PyObject_GC_New(Var); types with allocators of their own (float, int, str, tuple, ...) are "
		 "not counted%s%s", cov == COV_EXACT ? "" : "; ", cov == COV_EXACT ? "" : verdict);
	plan_set_metric(p, M_TYPE_ALLOCS, COV_PARTIAL, why);
}

/* Sampled stacks (--sample-bytes): walked at the allocators' entries. */
static void plan_samples(const struct python_binary *pb, const struct plan_opts *o, struct probe_plan *p)
{
	struct py_stack_layout sl;
	int i;

	if (!o->stacks || !o->sample_bytes || stack_layouts_of(pb, &sl, NULL) == OFF_NONE)
		return;
	for (i = 0; i < p->nsites; i++) {
		if (p->sites[i].role != ROLE_ALLOC_ENTER)
			continue;
		p->sites[i].cfg.stack = sl;
		p->sites[i].cfg.stack_runtime_delta = (int64_t)(pb->runtime_vaddr - p->sites[i].at.vaddr);
	}
}

void plan_exact(const struct python_binary *pb, const struct plan_opts *o, struct probe_plan *p)
{
	enum gc_metric m;

	if (!o->alloc_exact) {
		for (m = M_ALLOC_RAW; m <= M_TYPE_ALLOCS; m++)
			plan_set_metric(p, m, COV_UNAVAILABLE, "not requested (--alloc=exact)");
		return;
	}
	plan_allocators(pb, p);
	plan_types(pb, p);
	plan_weakrefs(pb, p);
	plan_type_allocs(pb, p);
	plan_samples(pb, o, p);
}
