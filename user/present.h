/* SPDX-License-Identifier: MIT */
/* present: the live table, log2 histograms, JSON lines and the probe plan. */
#ifndef MMTRACE_PRESENT_H
#define MMTRACE_PRESENT_H

#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include "discover.h"
#include "gc.h"

struct report_row {
	const struct target *t;
	struct gc_proc_stats gc;
	uint64_t traced_ns;	/* wall time the process was traced */
};

struct report {
	const struct report_row *rows;
	int n;
	struct timespec wall;	/* CLOCK_REALTIME of this report */
	bool final;
};

void present_table(FILE *f, const struct report *r, bool tty);
void present_histograms(FILE *f, const struct report *r);
void present_json(FILE *f, const struct report *r);
void present_probes_text(FILE *f, const struct target *ts, int n);
void present_probes_json(FILE *f, const struct target *ts, int n);

#endif /* MMTRACE_PRESENT_H */
