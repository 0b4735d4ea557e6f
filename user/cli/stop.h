/* SPDX-License-Identifier: MIT */
/*
 * stop: when mmtrace must stop early. SIGINT and SIGTERM are caught by a
 * handler installed without SA_RESTART (so a blocking open or read returns
 * EINTR) that stores the signal in a flag the stages check; once a loop
 * polls its signalfd, stop_take_over() blocks them and they queue there.
 */
#ifndef MMTRACE_STOP_H
#define MMTRACE_STOP_H

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <unistd.h>

/* The flag: 0, or the signal that asked to stop. */
typedef volatile sig_atomic_t stop_flag;

/* SIGINT or SIGTERM caught, or waiting on the signalfd (a long loop that
 * runs after the take-over, such as a rescan of /proc, still notices). */
static inline bool stop_pending(const stop_flag *stop)
{
	sigset_t pending;

	if (stop && *stop)
		return true;
	return !sigpending(&pending) && (sigismember(&pending, SIGINT) == 1 || sigismember(&pending, SIGTERM) == 1);
}

/* From here on SIGINT and SIGTERM wait on the loop's signalfd. Returns the
 * signal caught before, or 0. */
static inline int stop_take_over(const stop_flag *stop)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	return stop ? *stop : 0;
}

/* Reads what waits on the signalfd (SIGCHLD only wakes a loop): the
 * SIGINT or SIGTERM that asks to stop, else 0; *from_tty (may be NULL) when
 * a terminal sent it to the whole process group (^C). */
static inline int stop_drain(int sigfd, bool *from_tty)
{
	struct signalfd_siginfo si;
	int sig = 0;

	while (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo != SIGINT && si.ssi_signo != SIGTERM)
			continue;
		sig = (int)si.ssi_signo;
		if (from_tty)
			*from_tty = si.ssi_code == SI_KERNEL;
	}
	return sig;
}

/* The reader of the reports went away (mmtrace ... | head): SIGPIPE is
 * ignored, so a write failed (EPIPE), and tracing stops quietly. errno is
 * long gone when the presenter flushed: the pipe or socket itself says so. */
static inline bool reader_gone(FILE *out)
{
	struct pollfd p = { .fd = fileno(out), .events = POLLOUT };

	fflush(out);
	return ferror(out) && poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP));
}

#endif /* MMTRACE_STOP_H */
