/* SPDX-License-Identifier: MIT */
/*
 * procfs: every reader of /proc/PID/x (but the maps, maps.h, and memory,
 * procmem.h), each bounded and NUL-terminated, each number parsed to its end.
 */
#ifndef MMTRACE_PROCFS_H
#define MMTRACE_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A process's executable as stat(/proc/PID/exe) names it; {0, 0} when
 * unknown. A fork runs its parent's; another one means an exec since. */
struct exe_id {
	uint64_t dev;
	uint64_t ino;
};

uint64_t monotonic_ns(void);
/* /proc/PID/NAME's first len - 1 bytes, NUL-terminated: the count, or -1 */
ssize_t read_proc_text(pid_t pid, const char *name, char *buf, size_t len);
int read_comm(pid_t pid, char *buf, size_t len);
/* false when pid is gone or a zombie (its /proc/PID/root is gone too) */
bool process_alive(pid_t pid);
/* Its start time in clock ticks since boot (/proc/PID/stat field 22), 0 if
 * unknown: with the pid, it names one process even after pid reuse. */
uint64_t process_start_ticks(pid_t pid);
uint64_t parse_stat_starttime(const char *stat);
/* "/proc/PID/root" when pid's root is not mmtrace's own, else "" */
void process_root(pid_t pid, char *buf, size_t len);
/* Calls fn for every process in /proc but mmtrace itself; 0 or -errno. */
int procfs_each_pid(void (*fn)(void *arg, pid_t pid), void *arg);
/* Its executable's identity now; {0, 0} and -errno when it cannot be read. */
int read_exe_id(pid_t pid, struct exe_id *id);
/* Its pid in its own PID namespace (from NSpid), 0 when unknown. */
pid_t read_ns_pid(pid_t pid);
/* The last number of a "NSpid:" line of /proc/PID/status, 0 if none. */
pid_t parse_nspid_line(char *line);
/* A container's id from a /proc/PID/cgroup line: the last 64-hex-digit run
 * of the path (docker, containerd, cri-o, podman). 0 when found. */
int parse_container_id(const char *line, char *out, size_t outlen);
/* The same for a process; out is "" when it is in no container. */
void read_container_id(pid_t pid, char *out, size_t outlen);

#endif /* MMTRACE_PROCFS_H */
