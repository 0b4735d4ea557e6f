/* SPDX-License-Identifier: MIT */
/* attach: load the BPF skeleton and attach each planned site. */
#ifndef MMTRACE_ATTACH_H
#define MMTRACE_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include "discover.h"

#define ATTACH_MAX_LINKS 256

struct gc_bpf;
struct bpf_link;

struct attacher {
	struct gc_bpf *skel;
	struct bpf_link *links[ATTACH_MAX_LINKS];
	int nlinks;
	unsigned int next_site;
};

/* Checks the kernel and loads the programs. Returns an exit code (MMX_*). */
int attacher_open(struct attacher *a, bool verbose, char *err, size_t errlen);
/* Attaches the target's plan, filtered to its pid. Returns an exit code. */
int attacher_attach(struct attacher *a, struct target *t, char *err, size_t errlen);
int attacher_stats_fd(const struct attacher *a);
void attacher_close(struct attacher *a);

#endif /* MMTRACE_ATTACH_H */
