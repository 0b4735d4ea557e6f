// SPDX-License-Identifier: MIT
#include <argp.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "exitcodes.h"
#include "options.h"
#include "parse.h"
#include "stacks.h"

const char *argp_program_version = "mmtrace 0.1";
const char *argp_program_bug_address = "the mmtrace issue tracker";

static const char doc[] =
"mmtrace: watch CPython's garbage collector from outside, with eBPF.\n"
"\n"
"USAGE: mmtrace [OPTIONS] [-a] [INTERVAL [COUNT]]\n"
"       mmtrace [OPTIONS] -p PID [INTERVAL [COUNT]]\n"
"       mmtrace [OPTIONS] [INTERVAL [COUNT]] -- CMD [ARGS...]\n"
"\n"
"Attaches to the interpreter's GC (USDT python:gc__start/gc__done where the\n"
"build has them, else uprobes on the collector) without restarting, pausing\n"
"or injecting anything. Counts are cumulative since attach. With no target,\n"
"watches every CPython process on the host, including ones that start later\n"
"and ones in containers, with one set of probes per interpreter file.\n"
"\n"
"EXAMPLES:\n"
"    mmtrace                       # every CPython process on the host, every second\n"
"    mmtrace -s pause -n 10 5      # the 10 with the longest pauses, every 5 s\n"
"    mmtrace --min-pause 50        # also a line per collection of 50 ms or more\n"
"    mmtrace -H --merge 10 1       # one host-wide pause histogram per generation\n"
"    mmtrace --openmetrics 9464    # Prometheus scrapes http://127.0.0.1:9464/metrics\n"
"    mmtrace --openmetrics-file /var/lib/node_exporter/mmtrace.prom   # textfile collector\n"
"    mmtrace --trace gc.json 10 1  # 10 s of GC pauses for Perfetto / chrome://tracing\n"
"    mmtrace -p 1234               # live GC table for PID 1234, every second\n"
"    mmtrace -p 1234 -p 5678 5 3   # two processes, every 5 s, 3 reports\n"
"    mmtrace --alloc=growth -p 1234  # also pymalloc arenas and pools taken\n"
"    mmtrace --alloc=exact -H -p 1234  # every allocator call (slow), per type\n"
"    mmtrace --heap -p 1234        # pymalloc pools per size class and GC state, no probes\n"
"    mmtrace --heap=live -p 1234   # the live GC table with a heap section each interval\n"
"    mmtrace --alloc=growth --stacks -p 1234   # who triggers collections, who grows the heap\n"
"    mmtrace --alloc=growth --folded out -- python3 app.py   # out.growth-bytes.folded, ...\n"
"    mmtrace -H -p 1234            # add log2 histograms of GC pauses\n"
"    mmtrace --json -p 1234        # one JSON object per line per interval\n"
"    mmtrace --probes -p 1234      # show the probe plan and exit\n"
"    mmtrace --poll -p 1234        # no probe in the target: its own GC counters, read each second\n"
"    mmtrace -- python3.12 app.py  # trace a command from its first instruction\n"
"    mmtrace -c 'python3 app.py'   # the same, words split on spaces, no shell\n"
"\n"
"OPTIONS:";

enum { OPT_PROBES = 1000, OPT_NO_USDT, OPT_DEBUG_DIR, OPT_MIN_PAUSE, OPT_MERGE, OPT_EVENTS_KIB, OPT_OPENMETRICS,
       OPT_OPENMETRICS_FILE, OPT_METRICS_GRACE, OPT_TRACE, OPT_ALLOC, OPT_HEAP, OPT_STACKS, OPT_FOLDED,
       OPT_FOLDED_METRIC, OPT_STACK_DEPTH, OPT_SAMPLE_BYTES, OPT_PPROF, OPT_METRIC_NAMES, OPT_POLL, OPT_AT_ENTRY };

static const struct argp_option opts[] = {
	{ "pid", 'p', "PID", 0, "Trace this process (repeatable)", 0 },
	{ "command", 'c', "CMD", 0, "Run and trace CMD (split on spaces, no shell)", 0 },
	{ "all", 'a', NULL, 0, "Every CPython process on the host (the default with no target)", 0 },
	{ "sort", 's', "KEY", 0, "System-wide table order: time (GC share, default), pause, gc, pid", 0 },
	{ "top", 'n', "N", 0, "System-wide table: show the first N processes", 0 },
	{ "min-pause", OPT_MIN_PAUSE, "MS", 0, "Print a line for every collection of at least MS milliseconds", 0 },
	{ "merge", OPT_MERGE, NULL, 0, "System-wide -H: one histogram per generation for the host", 0 },
	{ "openmetrics", OPT_OPENMETRICS, "[ADDR:]PORT", 0, "Serve Prometheus metrics on /metrics (ADDR default 127.0.0.1)", 0 },
	{ "openmetrics-file", OPT_OPENMETRICS_FILE, "PATH", 0, "Write the metrics to PATH each interval (atomically)", 0 },
	{ "metric-names", OPT_METRIC_NAMES, "NAMES", 0, "GC series names: prometheus (prometheus_client's python_gc_*, default) or otel (cpython_gc_*)", 0 },
	{ "metrics-grace", OPT_METRICS_GRACE, "SEC", 0, "Keep an ended process's series this long (default 60)", 0 },
	{ "trace", OPT_TRACE, "FILE", 0, "Write GC pauses as Chrome Trace Event JSON (Perfetto)", 0 },
	{ "events-kib", OPT_EVENTS_KIB, "KIB", 0, "Ring buffer for exec/exit/slow-GC events (power of 2, default 1024)", 0 },
	{ "alloc", OPT_ALLOC, "LEVEL", 0, "Allocator tracing: growth (pymalloc arenas and pools; cheap) or exact (every call, per-type deallocations; slow, one process)", 0 },
	{ "heap", OPT_HEAP, "live", OPTION_ARG_OPTIONAL, "Read pymalloc's arenas, pools and size classes and the GC's state from outside: alone, no probes (-p only); =live, a heap section in the live table", 0 },
	{ "stacks", OPT_STACKS, NULL, 0, "Python stacks of collections and heap growth: the top ones in the live table", 0 },
	{ "folded", OPT_FOLDED, "PATH", 0, "Write collapsed stacks at the end: PATH.METRIC.folded per metric (flamegraph.pl, speedscope)", 0 },
	{ "folded-metric", OPT_FOLDED_METRIC, "METRIC", 0, "Only this metric, into PATH itself: gc-count, gc-pause-ns, growth-bytes, arena-bytes, alloc-bytes", 0 },
	{ "pprof", OPT_PPROF, "FILE", 0, "With --stacks: write them at the end as a gzipped pprof profile (go tool pprof, Pyroscope, Parca)", 0 },
	{ "stack-depth", OPT_STACK_DEPTH, "N", 0, "Python frames per stack (default 64, at most 127)", 0 },
	{ "sample-bytes", OPT_SAMPLE_BYTES, "N", 0, "With --alloc=exact and stacks: a stack per N bytes a thread requests (default 524288)", 0 },
	{ "histogram", 'H', NULL, 0, "Print log2 histograms of GC pause per generation", 0 },
	{ "json", 'j', NULL, 0, "One JSON object per line per interval, then a final one", 0 },
	{ "probes", OPT_PROBES, NULL, 0, "Print the probe plan (with --json: as JSON) and exit", 0 },
	{ "poll", OPT_POLL, NULL, 0, "No probe in any target: read the interpreter's own GC counters at each report (exact counts; 3.15: pause totals; no per-collection pauses)", 0 },
	{ "at-entry", OPT_AT_ENTRY, NULL, 0, "Probe each function at its first byte, even where the next instruction costs a hit less (to measure the difference)", 0 },
	{ "no-usdt", OPT_NO_USDT, NULL, 0, "Probe the collector's symbols even where USDT exists", 0 },
	{ "debug-dir", OPT_DEBUG_DIR, "DIR", 0, "Debug file root (default /usr/lib/debug; repeatable)", 0 },
	{ "output", 'o', "FILE", 0, "Write reports to FILE instead of stdout", 0 },
	{ "verbose", 'v', NULL, 0, "Show libbpf's log", 0 },
	{ NULL, 'h', NULL, OPTION_HIDDEN, "Show this help", 0 },
	{ 0 },
};

/* PID_MAX_LIMIT on 64-bit kernels */
#define MAX_PID 4194304

static int parse_pid(const char *s, pid_t *out)
{
	long v;

	if (parse_long(s, 1, MAX_PID, &v))
		return -EINVAL;
	*out = (pid_t)v;
	return 0;
}

/* The same process twice would be attached, counted and reported twice. */
static bool pid_given(const struct options *o, pid_t pid)
{
	int i;

	for (i = 0; i < o->npids; i++)
		if (o->pids[i] == pid)
			return true;
	return false;
}

static int parse_sort(const char *s, enum sort_key *out)
{
	static const char *const names[] = { [SORT_TIME] = "time", [SORT_PAUSE] = "pause",
					     [SORT_GC] = "gc", [SORT_PID] = "pid" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			*out = (enum sort_key)i;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_top(const char *s, int *out)
{
	long v;

	if (parse_long(s, 1, 1000000, &v))
		return -EINVAL;
	*out = (int)v;
	return 0;
}

/* the kernel wants a power-of-2 number of pages */
static int parse_events_kib(const char *s, unsigned int *out)
{
	long v;

	if (parse_long(s, 4, 1048576, &v) || (v & (v - 1)) || v * 1024 < sysconf(_SC_PAGESIZE))
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

/* above 0, at most an hour */
static int parse_ms(const char *s, double *out)
{
	return parse_double(s, 1e-6, 3600e3, out);
}

static int split_words(struct options *o, const char *s)
{
	char *w, *save = NULL;

	options_free(o);
	o->cmd_buf = strdup(s);
	/* a word takes at least two characters of s, its last one one */
	o->cmd_words = calloc(strlen(s) / 2 + 2, sizeof(*o->cmd_words));
	if (!o->cmd_buf || !o->cmd_words)
		return -ENOMEM;
	o->cmd = o->cmd_words;
	o->cmd_argc = 0;
	for (w = strtok_r(o->cmd_buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
		o->cmd[o->cmd_argc++] = w;
	o->cmd[o->cmd_argc] = NULL;
	return o->cmd_argc ? 0 : -EINVAL;
}

static int parse_positional(struct options *o, const char *arg, int index, struct argp_state *st)
{
	if (index == 0) {
		if (parse_double(arg, 0.01, 86400, &o->interval_s))
			argp_error(st, "invalid INTERVAL '%s': seconds, from 0.01 to 86400", arg);
		o->interval_given = true;
	} else if (index == 1) {
		if (parse_long(arg, 1, LONG_MAX, &o->count))
			argp_error(st, "invalid COUNT '%s': a whole number above 0", arg);
	} else {
		argp_error(st, "unexpected argument '%s'", arg);
	}
	return 0;
}

static error_t parse_opt(int key, char *arg, struct argp_state *st)
{
	struct options *o = st->input;

	switch (key) {
	case 'p':
		if (o->npids >= OPT_MAX_PIDS)
			argp_error(st, "at most %d -p options", OPT_MAX_PIDS);
		if (parse_pid(arg, &o->pids[o->npids]))
			argp_error(st, "invalid PID '%s': a positive whole number", arg);
		if (pid_given(o, o->pids[o->npids]))
			argp_error(st, "PID %d given twice", o->pids[o->npids]);
		o->npids++;
		break;
	case 'c':
		if (split_words(o, arg) == -ENOMEM)
			argp_failure(st, MMX_INTERNAL, ENOMEM, "-c");
		else if (!o->cmd_argc)
			argp_error(st, "empty -c command");
		break;
	case 'a': o->all = true; break;
	case 's':
		if (parse_sort(arg, &o->sort))
			argp_error(st, "invalid sort key '%s': time, pause, gc or pid", arg);
		o->sort_given = true;
		break;
	case 'n':
		if (parse_top(arg, &o->top))
			argp_error(st, "invalid -n '%s': a whole number above 0", arg);
		break;
	case OPT_MIN_PAUSE:
		if (parse_ms(arg, &o->min_pause_ms))
			argp_error(st, "invalid --min-pause '%s': milliseconds above 0", arg);
		break;
	case OPT_MERGE: o->merge = true; o->histograms = true; break;
	case OPT_ALLOC:
		if (strcmp(arg, "growth") && strcmp(arg, "exact"))
			argp_error(st, "invalid --alloc '%s': growth or exact", arg);
		o->alloc_growth = true;	/* exact includes the growth figures */
		o->alloc_exact = !strcmp(arg, "exact");
		break;
	case OPT_STACKS: o->stacks = true; break;
	case OPT_SAMPLE_BYTES: {
		long v;

		if (parse_long(arg, 1, 1L << 40, &v))
			argp_error(st, "invalid --sample-bytes '%s': bytes, from 1 to 2^40", arg);
		o->sample_bytes = (unsigned long long)v;
		break;
	}
	case OPT_FOLDED: o->folded = arg; break;
	case OPT_PPROF: o->pprof = arg; break;
	case OPT_FOLDED_METRIC:
		o->folded_metric = folded_metric_parse(arg);
		if (o->folded_metric < 0)
			argp_error(st, "invalid --folded-metric '%s': gc-count, gc-pause-ns, growth-bytes, arena-bytes or "
				   "alloc-bytes", arg);
		break;
	case OPT_STACK_DEPTH: {
		long v;

		if (parse_long(arg, 1, MMTRACE_STACK_MAX - 1, &v))
			argp_error(st, "invalid --stack-depth '%s': 1 to %d frames", arg, MMTRACE_STACK_MAX - 1);
		o->stack_depth = (unsigned int)v;
		break;
	}
	case OPT_HEAP:
		if (arg && strcmp(arg, "live"))
			argp_error(st, "invalid --heap '%s': --heap alone, or --heap=live", arg);
		o->heap = !arg;
		o->heap_live = arg != NULL;
		break;
	case OPT_OPENMETRICS: o->openmetrics = arg; break;
	case OPT_OPENMETRICS_FILE: o->openmetrics_file = arg; break;
	case OPT_TRACE: o->trace_file = arg; break;
	case OPT_METRIC_NAMES:
		if (metric_scheme_parse(arg, &o->metric_names))
			argp_error(st, "invalid --metric-names '%s': prometheus or otel", arg);
		o->metric_names_given = true;
		break;
	case OPT_METRICS_GRACE:
		if (parse_double(arg, 0, 86400, &o->metrics_grace_s))
			argp_error(st, "invalid --metrics-grace '%s': seconds, from 0 to 86400", arg);
		break;
	case OPT_EVENTS_KIB:
		if (parse_events_kib(arg, &o->events_kib))
			argp_error(st, "invalid --events-kib '%s': a power of 2 from 4 to 1048576", arg);
		break;
	case 'H': o->histograms = true; break;
	case 'j': o->json = true; break;
	case 'v': o->verbose = true; break;
	case 'o': o->output = arg; break;
	case OPT_PROBES: o->probes_only = true; break;
	case OPT_NO_USDT: o->no_usdt = true; break;
	case OPT_POLL: o->poll = true; break;
	case OPT_AT_ENTRY: o->at_entry = true; break;
	case OPT_DEBUG_DIR:
		if (o->ndebug_dirs >= RESOLVE_MAX_DEBUG_DIRS)
			argp_error(st, "at most %d --debug-dir options", RESOLVE_MAX_DEBUG_DIRS);
		o->debug_dirs[o->ndebug_dirs++] = arg;
		break;
	case 'h':
		argp_state_help(st, stdout, ARGP_HELP_STD_HELP);
		break;
	case ARGP_KEY_ARG:
		return parse_positional(o, arg, (int)st->arg_num, st);
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* --poll places no probe: what needs one moment of the target is refused */
static bool poll_excluded(const struct options *o)
{
	const char *what = o->no_usdt ? "--no-usdt" : o->alloc_growth ? "--alloc" :
			   o->stacks || o->folded ? "--stacks and --folded" : o->histograms ? "-H" :
			   o->min_pause_ms > 0 ? "--min-pause" : o->trace_file ? "--trace" : NULL;

	if (what)
		fprintf(stderr, "mmtrace: --poll places no probe, and %s needs one at each collection or call\n", what);
	return what != NULL;
}

static int check_combination(struct options *o)
{
	bool single = o->npids || o->cmd_argc;

	if (o->all && single) {
		fprintf(stderr, "mmtrace: -a (every process) excludes -p and a command\n");
		return MMX_USAGE;
	}
	if (single && (o->sort_given || o->top || o->merge)) {
		fprintf(stderr, "mmtrace: -s, -n and --merge apply to the system-wide mode (no -p, no command)\n");
		return MMX_USAGE;
	}
	if (o->heap && (!o->npids || o->cmd_argc || o->alloc_growth || o->histograms || o->probes_only)) {
		fprintf(stderr, "mmtrace: --heap reads running processes: give -p PID (and no --alloc, -H, --probes "
			"or command)\n");
		return MMX_USAGE;
	}
	o->all = !single;
	if (o->metric_names_given && !o->openmetrics && !o->openmetrics_file) {
		fprintf(stderr, "mmtrace: --metric-names goes with --openmetrics or --openmetrics-file\n");
		return MMX_USAGE;
	}
	if (o->folded_metric >= 0 && !o->folded) {
		fprintf(stderr, "mmtrace: --folded-metric goes with --folded PATH\n");
		return MMX_USAGE;
	}
	if (o->pprof && !o->stacks) {
		fprintf(stderr, "mmtrace: --pprof FILE writes the stacks --stacks records: give --stacks too\n");
		return MMX_USAGE;
	}
	if ((o->stacks || o->folded) && !o->stack_depth)
		o->stack_depth = 64;
	if (o->sample_bytes && !(o->alloc_exact && (o->stacks || o->folded))) {
		fprintf(stderr, "mmtrace: --sample-bytes goes with --alloc=exact and --stacks or --folded\n");
		return MMX_USAGE;
	}
	if (o->alloc_exact && (o->stacks || o->folded) && !o->sample_bytes)
		o->sample_bytes = 512 * 1024;
	if (o->all && o->alloc_exact) {
		fprintf(stderr, "mmtrace: --alloc=exact probes every allocator call: it needs -p PID or a command "
			"(system-wide, use --alloc=growth)\n");
		return MMX_USAGE;
	}
	if (o->poll && poll_excluded(o))
		return MMX_USAGE;
	if (o->npids && o->cmd_argc) {
		fprintf(stderr, "mmtrace: -p and a command exclude each other\n");
		return MMX_USAGE;
	}
	return MMX_OK;
}

int options_parse(int argc, char **argv, struct options *o)
{
	static const struct argp argp = { opts, parse_opt, "[INTERVAL [COUNT]] [-- CMD [ARGS...]]", doc,
					  NULL, NULL, NULL };
	int i, own_argc = argc;

	memset(o, 0, sizeof(*o));
	o->interval_s = 1.0;
	o->folded_metric = -1;
	o->metrics_grace_s = 60;
	argp_err_exit_status = MMX_USAGE;
	/* everything after the first "--" is the command, untouched by argp */
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			own_argc = i;
			break;
		}
	}
	/* argv[argc] is NULL: the words after "--" are CMD's argv as they are */
	if (own_argc < argc) {
		o->cmd = argv + own_argc + 1;
		o->cmd_argc = argc - own_argc - 1;
	}
	if (own_argc < argc && !o->cmd_argc) {
		fprintf(stderr, "mmtrace: '--' must be followed by a command\n");
		return MMX_USAGE;
	}
	if (argp_parse(&argp, own_argc, argv, 0, NULL, o))
		return MMX_USAGE;
	if (o->cmd_buf && own_argc < argc) {
		fprintf(stderr, "mmtrace: give the command once, with -c or after --\n");
		return MMX_USAGE;
	}
	return check_combination(o);
}

void options_free(struct options *o)
{
	free(o->cmd_buf);
	free(o->cmd_words);
	o->cmd_buf = NULL;
	o->cmd_words = NULL;
}
