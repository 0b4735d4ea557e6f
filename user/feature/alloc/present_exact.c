// SPDX-License-Identifier: MIT
/* --alloc=exact: per-domain calls and bytes, per-type deallocations, and
 * their histograms, as text and JSON. */
#include "collect_exact.h"
#include "json.h"
#include "present.h"
#include "present_exact.h"

static const char *const domain_names[ALLOC_DOMAINS] = { "raw", "mem", "obj" };
static const enum gc_metric domain_metric[ALLOC_DOMAINS] = { M_ALLOC_RAW, M_ALLOC_MEM, M_ALLOC_OBJ };

#define TYPES_SHOWN 10

/* mem and obj are both pymalloc: sys.getallocatedblocks() counts their blocks */
static long long pymalloc_net_blocks(const struct alloc_exact_stats *s)
{
	return exact_net_blocks(&s->d[DOMAIN_MEM]) + exact_net_blocks(&s->d[DOMAIN_OBJ]);
}

static void domain_row(FILE *f, const struct report_row *row, int d)
{
	const struct alloc_domain_stats *s = &row->exact->d[d];

	fprintf(f, "%-3s %-7s %11llu %9llu %9llu %11llu %13llu %+11lld %12lld %6llu %9llu\n", domain_names[d],
		coverage_name(row->plan->metrics[domain_metric[d]].cov), (unsigned long long)s->calls[CALL_MALLOC],
		(unsigned long long)s->calls[CALL_CALLOC], (unsigned long long)s->calls[CALL_REALLOC],
		(unsigned long long)s->calls[CALL_FREE], (unsigned long long)s->bytes_requested,
		exact_net_blocks(s), (long long)s->live_bytes, (unsigned long long)s->failed,
		(unsigned long long)s->fallback_calls);
}

static void types_table(FILE *f, const struct report_row *row)
{
	const struct metric_plan *m = &row->plan->metrics[M_TYPES];
	char head[40];
	int i;

	if (m->cov == COV_UNAVAILABLE) {
		fprintf(f, "    types: n/a (%s)\n", m->reason);
		return;
	}
	snprintf(head, sizeof(head), "TYPE (%s)", coverage_name(m->cov));
	fprintf(f, "%-30s %12s %12s %14s\n", head, "DEALLOCS", "ALLOCS", "WEAKREF_CLEARS");
	for (i = 0; i < row->ntypes && i < TYPES_SHOWN; i++)
		fprintf(f, "%-30.30s %12llu %12llu %14llu\n", row->types[i].c.name[0] ? row->types[i].c.name : "?",
			(unsigned long long)row->types[i].c.deallocs, (unsigned long long)row->types[i].c.allocs,
			(unsigned long long)row->types[i].c.weakref_clears);
	fprintf(f, "%-30s %12llu %12llu %14llu\n", "all types", (unsigned long long)row->exact->deallocs,
		(unsigned long long)row->exact->type_allocs, (unsigned long long)row->exact->weakref_clears);
}

static void present_exact_table(FILE *f, const struct report_row *row)
{
	const struct alloc_exact_stats *s = row->exact;
	int d;

	fprintf(f, "DOM COVER   %11s %9s %9s %11s %13s %11s %12s %6s %9s\n", "MALLOC", "CALLOC", "REALLOC", "FREE",
		"REQ_BYTES", "NET_BLOCKS", "LIVE_BYTES", "FAILED", "FALLBACK");
	for (d = 0; d < ALLOC_DOMAINS; d++)
		domain_row(f, row, d);
	fprintf(f, "    pymalloc blocks (mem+obj, as sys.getallocatedblocks() counts them): %+lld since attach\n",
		pymalloc_net_blocks(s));
	for (d = 0; d < ALLOC_DOMAINS; d++)
		if (row->plan->metrics[domain_metric[d]].cov != COV_EXACT)
			fprintf(f, "    %s: %s (%s)\n", domain_names[d], coverage_name(row->plan->metrics[domain_metric[d]].cov),
				row->plan->metrics[domain_metric[d]].reason);
	if (s->untracked || s->unmatched || s->types_dropped)
		fprintf(f, "    lost: %llu blocks untracked (map full), %llu returns unmatched, %llu types dropped\n",
			(unsigned long long)s->untracked, (unsigned long long)s->unmatched,
			(unsigned long long)s->types_dropped);
	types_table(f, row);
}

static void present_exact_histograms(FILE *f, const struct report_row *row)
{
	int d;

	for (d = 0; d < ALLOC_DOMAINS; d++) {
		fprintf(f, "PID %d (%s) %s domain, requested size:\n", row->pid, row->comm, domain_names[d]);
		log2_hist_of(f, row->exact->d[d].size_hist, MMTRACE_HIST_SLOTS, "bytes", "(no requests)");
	}
	fprintf(f, "PID %d (%s) obj domain, lifetime of blocks allocated while traced:\n", row->pid, row->comm);
	log2_hist_of(f, row->exact->lifetime_hist, MMTRACE_HIST_SLOTS, "nsecs", "(no block freed)");
}

static void json_domain(FILE *f, const struct report_row *row, int d)
{
	const struct alloc_domain_stats *s = &row->exact->d[d];
	const struct metric_plan *m = &row->plan->metrics[domain_metric[d]];
	int first = 1;

	fputc('{', f);
	json_key(f, "coverage", &first), json_string(f, coverage_name(m->cov));
	json_u64(f, "malloc", s->calls[CALL_MALLOC], &first);
	json_u64(f, "calloc", s->calls[CALL_CALLOC], &first);
	json_u64(f, "realloc", s->calls[CALL_REALLOC], &first);
	json_u64(f, "free", s->calls[CALL_FREE], &first);
	json_u64(f, "bytes_requested", s->bytes_requested, &first);
	json_u64(f, "blocks_allocated", s->blocks_allocated, &first);
	json_u64(f, "blocks_freed", s->blocks_freed, &first);
	json_u64(f, "bytes_freed", s->bytes_freed, &first);
	json_u64(f, "freed_unknown_size", s->freed_unknown, &first);
	json_key(f, "net_blocks", &first), fprintf(f, "%lld", exact_net_blocks(s));
	json_key(f, "live_bytes", &first), fprintf(f, "%lld", (long long)s->live_bytes);
	json_u64(f, "failed", s->failed, &first);
	json_u64(f, "fallback_calls", s->fallback_calls, &first);
	json_u64(f, "fallback_bytes", s->fallback_bytes, &first);
	json_key(f, "size_hist_log2_bytes", &first), json_u64_array(f, s->size_hist, MMTRACE_HIST_SLOTS);
	json_key(f, "size_class_requests", &first), json_u64_array(f, s->small_class, MMTRACE_SMALL_CLASSES);
	fputc('}', f);
}

static void json_types(FILE *f, const struct report_row *row)
{
	int i, first;

	fputc('[', f);
	for (i = 0; i < row->ntypes; i++) {
		first = 1;
		fputs(i ? ",{" : "{", f);
		json_key(f, "name", &first), json_string(f, row->types[i].c.name);
		json_u64(f, "type", row->types[i].type, &first);
		json_u64(f, "deallocs", row->types[i].c.deallocs, &first);
		json_u64(f, "allocs", row->types[i].c.allocs, &first);
		json_u64(f, "weakref_clears", row->types[i].c.weakref_clears, &first);
		fputc('}', f);
	}
	fputc(']', f);
}

static void present_exact_json(FILE *f, const struct report_row *row)
{
	const struct alloc_exact_stats *s = row->exact;
	int first = 1, d, df = 1;

	fputc('{', f);
	json_key(f, "domains", &first);
	fputc('{', f);
	for (d = 0; d < ALLOC_DOMAINS; d++) {
		json_key(f, domain_names[d], &df);
		json_domain(f, row, d);
	}
	fputc('}', f);
	json_key(f, "pymalloc_net_blocks", &first), fprintf(f, "%lld", pymalloc_net_blocks(s));
	json_key(f, "lifetime_hist_log2_ns", &first), json_u64_array(f, s->lifetime_hist, MMTRACE_HIST_SLOTS);
	json_u64(f, "untracked", s->untracked, &first);
	json_u64(f, "unmatched", s->unmatched, &first);
	json_u64(f, "deallocs", s->deallocs, &first);
	json_u64(f, "type_allocs", s->type_allocs, &first);
	json_u64(f, "weakref_clears", s->weakref_clears, &first);
	json_u64(f, "types_dropped", s->types_dropped, &first);
	json_key(f, "types_coverage", &first), json_string(f, coverage_name(row->plan->metrics[M_TYPES].cov));
	json_key(f, "types", &first), json_types(f, row);
	fputc('}', f);
}

static void exact_json_field(FILE *f, const struct report_row *row, int *first)
{
	json_key(f, "alloc_exact", first);
	present_exact_json(f, row);
}

const struct row_part present_exact_part = { present_exact_table, present_exact_histograms, exact_json_field };
