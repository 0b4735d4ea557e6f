/* SPDX-License-Identifier: MIT */
/*
 * discover_host: find CPython processes on the whole host, at start-up from
 * /proc and afterwards from exec events, identifying interpreters by ELF
 * content and remembering every verdict by device and inode.
 */
#ifndef MMTRACE_DISCOVER_HOST_H
#define MMTRACE_DISCOVER_HOST_H

#include <stdint.h>
#include <sys/types.h>
#include "events.h"
#include "gc.h"
#include "proctable.h"
#include "registry.h"
#include "resolve.h"

struct host_discovery {
	struct registry *reg;
	const struct resolve_opts *ro;
	uint64_t own_mnt_ns;
	uint64_t missed;	/* execs that were gone before they could be classified */
};

void discover_host_init(struct host_discovery *d, struct registry *reg, const struct resolve_opts *ro);
/* The interpreter id of a running process; -ENOEXEC when it runs no CPython,
 * -ESRCH when it is gone, other -errno when /proc cannot be read. */
int discover_host_pid(struct host_discovery *d, pid_t pid);
/* The interpreter id of a process that just exec'd, from its executable
 * (it may have exited already); -ENOEXEC when the executable is no CPython. */
int discover_host_exec(struct host_discovery *d, const struct mm_exec_event *e);
/* The id of an interpreter mmtrace resolved for one process (-p, -- CMD),
 * registered by the file it opens; -errno. */
int discover_host_adopt(struct host_discovery *d, const struct python_binary *pb);

#endif /* MMTRACE_DISCOVER_HOST_H */
