/* SPDX-License-Identifier: MIT */
/*
 * export: what other tools read. Prometheus text exposition over HTTP
 * (--openmetrics) or in a file for node_exporter's textfile collector
 * (--openmetrics-file), and a Chrome Trace Event file of GC pauses for
 * Perfetto and chrome://tracing (--trace). Everything that can fail on bad
 * input (address, port, path) fails in exporters_open, before any probe.
 */
#ifndef MMTRACE_EXPORT_H
#define MMTRACE_EXPORT_H

#include <stdbool.h>
#include <stdio.h>
#include "events.h"
#include "gc.h"
#include "present.h"

/* --metric-names: whose names the GC series carry (present_metrics.c) */
enum metric_scheme {
	METRICS_PROMETHEUS = 0,	/* prometheus_client's python_gc_* */
	METRICS_OTEL,		/* OpenTelemetry's cpython.gc.*, mapped to Prometheus */
};

struct export_opts {
	const char *listen;		/* --openmetrics [ADDR:]PORT, NULL = off */
	const char *metrics_file;	/* --openmetrics-file PATH, NULL = off */
	const char *trace_file;		/* --trace FILE, NULL = off */
	enum metric_scheme names;	/* --metric-names */
};

/* collections whose slice waits for its Python stack (--stacks) */
#define TRACE_PENDING 64

struct exporters {
	int listen_fd;			/* -1 when off */
	char metrics_path[4096];
	char metrics_tmp[4096 + 8];
	FILE *trace;
	bool trace_first;		/* no event written yet */
	bool trace_stacks;		/* slices carry their stack: written when it comes */
	struct mm_pause_event pending[TRACE_PENDING];
	int npending;
	unsigned long long http_dropped;	/* scrape clients too slow to serve */
	enum metric_scheme names;
};

/* Returns an exit code (MMX_*) with err set. */
int exporters_open(struct exporters *x, const struct export_opts *o, char *err, size_t errlen);
/* pollable descriptor for scrapes, -1 when off */
int exporters_listen_fd(const struct exporters *x);
bool exporters_want_pauses(const struct exporters *x);
bool exporters_want_ticks(const struct exporters *x);	/* --openmetrics-file */
/* Answers one waiting HTTP request with the metrics of r. */
void exporters_serve(struct exporters *x, const struct report *r);
/* Rewrites the metrics file (atomically) from r. */
void exporters_tick(struct exporters *x, const struct report *r);
/* One collection, for the trace file. named: the process's "track named"
 * flag (its first event names the track), NULL when the process is unknown. */
void exporters_pause(struct exporters *x, const struct mm_pause_event *e, const char *comm, const char *version,
		     bool *named);
/* The Python stack of the collection that just ended (STACK_GC), folded
 * outermost first, NULL when it could not be named: its slice is written. */
void exporters_gc_stack(struct exporters *x, const struct mm_stack_event *e, const char *frames);
/* Counter tracks of each row at a report (CLOCK_MONOTONIC ns): RSS, pymalloc
 * arena bytes (--heap=live), net arenas (--alloc=growth), live bytes (--alloc=exact). */
void exporters_counters(struct exporters *x, const struct report *r, uint64_t mono_ns);
void exporters_close(struct exporters *x);

/* The Prometheus text exposition of r (present_metrics.c). */
void present_metrics(FILE *f, const struct report *r, enum metric_scheme scheme);
/* "prometheus" or "otel": 0, else -EINVAL */
int metric_scheme_parse(const char *s, enum metric_scheme *out);
/* ns as seconds, exactly, without trailing zeros ("1.073741823") */
void metrics_exact_seconds(char *buf, size_t len, unsigned long long ns);
/* 0 when s is "PORT", "ADDR:PORT" or "[ADDR6]:PORT" (port 1-65535);
 * the address defaults to 127.0.0.1. */
int parse_listen_address(const char *s, char *host, size_t hostlen, int *port);

#endif /* MMTRACE_EXPORT_H */
