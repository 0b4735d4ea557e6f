/* SPDX-License-Identifier: MIT */
/* dwarf_cache: what a DWARF walk found, kept per file across runs. Opening
 * a compressed debug file costs libdw 0.15-0.3 s here (it inflates every
 * section); the answers are a few hundred bytes. */
#ifndef MMTRACE_DWARF_CACHE_H
#define MMTRACE_DWARF_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where the records live: /var/cache/mmtrace/dwarf (systemd's
 * CacheDirectory=mmtrace), used only by root and only when the directory is
 * root's and writable by no one else; MMTRACE_CACHE_DIR overrides it (the
 * same checks apply; empty: no cache). */
#define DWARF_CACHE_DIR "/var/cache/mmtrace/dwarf"

/* The record for the file open as fd (identified by device, inode, size
 * and modification time) and the question asked of it (question: bytes
 * that name it, such as the queries' names; at most 4096). true with
 * len bytes in out when a record of exactly that length matches. */
bool dwarf_cache_load(int fd, const void *question, size_t qlen, void *out, size_t len);

/* Keeps answer (len bytes, at most 65536) for that file and question;
 * failures are silent: the cache only saves time. */
void dwarf_cache_store(int fd, const void *question, size_t qlen, const void *answer, size_t len);

#endif /* MMTRACE_DWARF_CACHE_H */
