// SPDX-License-Identifier: MIT
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "collect_exact.h"
#include "procfs.h"
#include "exitcodes.h"
#include "export.h"
#include "heap_run.h"	/* parse_rss_rollup */
#include "json.h"
#include "parse.h"

int parse_listen_address(const char *s, char *host, size_t hostlen, int *port)
{
	const char *colon, *p = s;
	size_t n;
	long v;

	if (s[0] == '[') {		/* [::1]:9464 */
		colon = strchr(s, ']');
		if (!colon || colon[1] != ':')
			return -EINVAL;
		n = (size_t)(colon - s - 1);
		p = colon + 2;
		s++;
	} else {
		colon = strrchr(s, ':');
		n = colon ? (size_t)(colon - s) : 0;
		p = colon ? colon + 1 : s;
	}
	if (n >= hostlen || parse_long(p, 1, 65535, &v))
		return -EINVAL;
	if (n)
		snprintf(host, hostlen, "%.*s", (int)n, s);
	else
		snprintf(host, hostlen, "127.0.0.1");
	*port = (int)v;
	return 0;
}

static int listen_on(const char *spec, char *err, size_t errlen)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	char host[64];
	int port, fd, one = 1;
	socklen_t len;

	if (parse_listen_address(spec, host, sizeof(host), &port)) {
		snprintf(err, errlen, "invalid --openmetrics '%s': [ADDR:]PORT, e.g. 9464 or 0.0.0.0:9464 or [::1]:9464",
			 spec);
		return -MMX_USAGE;
	}
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		len = sizeof(*in4);
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		len = sizeof(*in6);
	} else {
		snprintf(err, errlen, "invalid --openmetrics address '%s': a numeric IPv4 or IPv6 address", host);
		return -MMX_USAGE;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 16)) {
		snprintf(err, errlen, "cannot serve metrics on %s port %d: %s", host, port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -MMX_USAGE;
	}
	return fd;
}

/* The file is written next to itself and renamed, so a reader never sees
 * half of it; both names are checked now, before any probe. */
static int check_metrics_file(struct exporters *x, const char *path, char *err, size_t errlen)
{
	int fd;

	snprintf(x->metrics_path, sizeof(x->metrics_path), "%s", path);
	snprintf(x->metrics_tmp, sizeof(x->metrics_tmp), "%s.tmp", path);
	fd = open(x->metrics_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || close(fd) || rename(x->metrics_tmp, x->metrics_path)) {
		snprintf(err, errlen, "cannot write --openmetrics-file %s: %s", path, strerror(errno));
		return MMX_USAGE;
	}
	return MMX_OK;
}

int exporters_open(struct exporters *x, const struct export_opts *o, char *err, size_t errlen)
{
	int rc;

	memset(x, 0, sizeof(*x));
	x->listen_fd = -1;
	x->names = o->names;
	if (o->listen) {
		x->listen_fd = listen_on(o->listen, err, errlen);
		if (x->listen_fd < 0)
			return -x->listen_fd;
	}
	if (o->metrics_file && (rc = check_metrics_file(x, o->metrics_file, err, errlen)))
		return rc;
	if (o->trace_file) {
		x->trace = fopen(o->trace_file, "we");
		if (!x->trace) {
			snprintf(err, errlen, "cannot write --trace %s: %s", o->trace_file, strerror(errno));
			return MMX_USAGE;
		}
		/* the JSON Array Format of the Trace Event Format, closed on exit */
		fputs("[\n", x->trace);
		x->trace_first = true;
	}
	return MMX_OK;
}

int exporters_listen_fd(const struct exporters *x)
{
	return x->listen_fd;
}

bool exporters_want_ticks(const struct exporters *x)
{
	return x->metrics_path[0] != '\0';
}

bool exporters_want_pauses(const struct exporters *x)
{
	return x->trace != NULL;
}

/* A scrape is served inside mmtrace's loop, so a client may hold it only
 * briefly: its request must arrive within HTTP_READ_MS of the accept (a
 * scraper sends it with the handshake's last ACK) and the answer must be
 * taken within HTTP_WRITE_MS. A client that does neither is dropped and
 * counted (mmtrace_http_dropped_total). */
#define HTTP_READ_MS 50
#define HTTP_WRITE_MS 200

static int ms_left(uint64_t deadline)
{
	uint64_t now = monotonic_ns();

	return now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
}

/* waits for fd to be ready for events until deadline: false when it is not */
static bool wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int left;

	while ((left = ms_left(deadline)) > 0) {
		if (poll(&p, 1, left) > 0)
			return true;
		if (errno != EINTR)
			break;
	}
	return false;
}

/* The request head, up to its blank line or len - 1 bytes; -1 when the
 * client sent nothing usable in time. */
static int read_request(int fd, char *req, size_t len)
{
	uint64_t deadline = monotonic_ns() + HTTP_READ_MS * 1000000ull;
	size_t got = 0;
	ssize_t n;

	req[0] = '\0';
	while (got < len - 1 && !strstr(req, "\r\n\r\n") && !strstr(req, "\n\n")) {
		n = read(fd, req + got, len - 1 - got);
		if (n > 0) {
			got += (size_t)n;
			req[got] = '\0';
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR) || !wait_fd(fd, POLLIN, deadline)) {
			break;
		}
	}
	return strchr(req, '\n') ? 0 : -1;
}

static int write_all(int fd, const char *p, size_t len, uint64_t deadline)
{
	ssize_t w;

	while (len > 0) {
		w = write(fd, p, len);
		if (w > 0) {
			p += w;
			len -= (size_t)w;
		} else if ((w < 0 && errno != EAGAIN && errno != EINTR) || !wait_fd(fd, POLLOUT, deadline)) {
			return -1;
		}
	}
	return 0;
}

static int respond(int fd, const char *status, const char *type, const char *body, size_t len)
{
	uint64_t deadline = monotonic_ns() + HTTP_WRITE_MS * 1000000ull;
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			 status, type, len);

	return write_all(fd, head, (size_t)n, deadline) || write_all(fd, body, len, deadline) ? -1 : 0;
}

static void http_metrics(struct exporters *x, FILE *f, const struct report *r)
{
	present_metrics(f, r, x->names);
	fprintf(f, "# HELP mmtrace_http_dropped_total Scrape connections dropped: no request within %d ms, "
		"or the answer not taken within %d ms.\n# TYPE mmtrace_http_dropped_total counter\n"
		"mmtrace_http_dropped_total %llu\n", HTTP_READ_MS, HTTP_WRITE_MS, x->http_dropped);
}

void exporters_serve(struct exporters *x, const struct report *r)
{
	char req[2048], *body = NULL;
	size_t len = 0;
	FILE *f;
	int fd, rc = -1;

	fd = accept4(x->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	if (read_request(fd, req, sizeof(req))) {
		rc = -1;
	} else if (strncmp(req, "GET /metrics ", 13) && strncmp(req, "GET /metrics?", 13)) {
		rc = respond(fd, "404 Not Found", "text/plain", "mmtrace serves /metrics\n", 24);
	} else if ((f = open_memstream(&body, &len))) {
		http_metrics(x, f, r);
		fclose(f);
		rc = respond(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", body, len);
		free(body);
	}
	x->http_dropped += rc != 0;
	close(fd);
}

void exporters_tick(struct exporters *x, const struct report *r)
{
	FILE *f;

	if (!x->metrics_path[0] || !(f = fopen(x->metrics_tmp, "we")))
		return;
	present_metrics(f, r, x->names);
	if (fclose(f) == 0)
		rename(x->metrics_tmp, x->metrics_path);
}

/* The track of a process is named once: "comm pid (CPython version)". */
static void name_track(struct exporters *x, __u32 pid, const char *comm, const char *version)
{
	char label[96];

	snprintf(label, sizeof(label), "%s %u (CPython %s)", comm, pid, version);
	fprintf(x->trace, "%s{\"name\":\"process_name\",\"ph\":\"M\",\"ts\":0,\"pid\":%u,\"tid\":%u,"
		"\"args\":{\"name\":", x->trace_first ? "" : ",\n", pid, pid);
	json_string(x->trace, label);	/* a comm can hold any bytes */
	fputs("}}", x->trace);
	x->trace_first = false;
}

static void write_slice(struct exporters *x, const struct mm_pause_event *e, const char *frames)
{
	double end_us = (double)e->ts_ns / 1e3, dur_us = (double)e->pause_ns / 1e3;

	fprintf(x->trace, "%s{\"name\":\"gc gen%u\",\"cat\":\"gc\",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,"
		"\"pid\":%u,\"tid\":%u,\"args\":{\"generation\":%u,\"collected\":%llu,\"uncollectable\":%llu,"
		"\"pause_ns\":%llu", x->trace_first ? "" : ",\n", e->generation, end_us - dur_us, dur_us, e->pid, e->tid,
		e->generation, (unsigned long long)e->collected, (unsigned long long)e->uncollectable,
		(unsigned long long)e->pause_ns);
	if (frames) {
		fputs(",\"stack\":", x->trace);
		json_string(x->trace, frames);
	}
	fputs("}}", x->trace);
	x->trace_first = false;
}

/* Writes the pending slice i (with frames, or without) and forgets it. */
static void flush_pending(struct exporters *x, int i, const char *frames)
{
	write_slice(x, &x->pending[i], frames);
	memmove(&x->pending[i], &x->pending[i + 1], (size_t)(x->npending - i - 1) * sizeof(x->pending[0]));
	x->npending--;
}

void exporters_pause(struct exporters *x, const struct mm_pause_event *e, const char *comm, const char *version,
		     bool *named)
{
	if (!x->trace)
		return;
	if (named && !*named) {
		name_track(x, e->pid, comm, version);
		*named = true;
	}
	if (!x->trace_stacks) {
		write_slice(x, e, NULL);
		return;
	}
	/* its stack follows it in the ring buffer; the oldest waits no more */
	if (x->npending == TRACE_PENDING)
		flush_pending(x, 0, NULL);
	x->pending[x->npending++] = *e;
}

void exporters_gc_stack(struct exporters *x, const struct mm_stack_event *e, const char *frames)
{
	int i = 0;

	if (!x->trace)
		return;
	while (i < x->npending) {
		const struct mm_pause_event *p = &x->pending[i];

		if (p->pid != e->pid || p->tid != e->tid) {
			i++;
		} else if (p->generation == e->generation && p->pause_ns == e->pause_ns) {
			flush_pending(x, i, frames);
			return;
		} else {
			flush_pending(x, i, NULL);	/* an earlier one of this thread: its stack was lost */
		}
	}
}

static void counter(struct exporters *x, const struct report_row *row, const char *name, double ts_us,
		    long long value)
{
	fprintf(x->trace, "%s{\"name\":\"%s\",\"cat\":\"memory\",\"ph\":\"C\",\"ts\":%.3f,\"pid\":%d,"
		"\"tid\":%d,\"args\":{\"value\":%lld}}", x->trace_first ? "" : ",\n", name, ts_us, row->pid, row->pid,
		value);
	x->trace_first = false;
}

void exporters_counters(struct exporters *x, const struct report *r, uint64_t mono_ns)
{
	double ts_us = (double)mono_ns / 1e3;
	char buf[4096];
	unsigned long long rss;
	long long live;
	int i, d;

	if (!x->trace)
		return;
	for (i = 0; i < r->n; i++) {
		const struct report_row *row = &r->rows[i];
		const struct heap_view *h = row->heap && !row->heap->error ? row->heap : NULL;

		if (row->exited)
			continue;
		/* the snapshot's own RSS, else read the same way (smaps_rollup) */
		rss = h ? h->rss_bytes :
		      read_proc_text(row->pid, "smaps_rollup", buf, sizeof(buf)) > 0 ? parse_rss_rollup(buf) : 0;
		if (rss)
			counter(x, row, "rss_bytes", ts_us, (long long)rss);
		if (h && h->snap->pymalloc_ok)
			counter(x, row, "pymalloc_arena_bytes", ts_us, (long long)h->snap->bytes_in_arenas);
		if (r->growth && row->plan->metrics[M_ARENAS].cov != COV_UNAVAILABLE)
			counter(x, row, "pymalloc_arenas_net", ts_us,
				(long long)(row->gc.growth.arenas_allocated - row->gc.growth.arenas_freed));
		if (row->exact) {
			for (live = 0, d = 0; d < ALLOC_DOMAINS; d++)
				live += row->exact->d[d].live_bytes;
			counter(x, row, "exact_live_bytes", ts_us, live);
		}
	}
}

void exporters_close(struct exporters *x)
{
	if (x->listen_fd >= 0)
		close(x->listen_fd);
	x->listen_fd = -1;
	if (x->trace) {
		while (x->npending)
			flush_pending(x, 0, NULL);
		fputs("\n]\n", x->trace);
		fclose(x->trace);
		x->trace = NULL;
	}
}
