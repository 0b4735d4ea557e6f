// SPDX-License-Identifier: MIT
/* libFuzzer target: the parsers of text that other processes control:
 * /proc/PID/maps lines (file names are anyone's) for discovery and for
 * memory reads, smaps_rollup, NSpid lines of
 * /proc/PID/status, /proc/PID/cgroup lines, "#!" lines of scripts, listen
 * addresses, and mmtrace's number parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "discover.h"
#include "discover_host.h"
#include "export.h"
#include "heap_run.h"
#include "procmem.h"
#include "parse.h"

static char *cstring(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s) {
		memcpy(s, data, size);
		s[size] = '\0';
	}
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char id[72], host[64];
	struct maps_line ml;
	struct mem_region mr;
	const char *prog;
	int port;
	bool via_env;
	double d;
	long v;
	char *s;

	if (!(s = cstring(data, size)))
		return 0;
	if (parse_maps_line(s, &ml) && strlen(ml.path) > size)
		abort();	/* the path must lie inside the line */
	free(s);
	if (!(s = cstring(data, size)))
		return 0;
	if (!parse_mem_region(s, &mr) && (mr.end <= mr.start || (mr.path && (mr.path < s || mr.path > s + size))))
		abort();
	parse_rss_rollup(s);
	free(s);
	if (!(s = cstring(data, size)))
		return 0;
	parse_nspid_line(s);
	parse_stat_starttime(s);
	free(s);
	if (!(s = cstring(data, size)))
		return 0;
	prog = parse_shebang(s, &via_env);
	if (prog && (prog < s || prog > s + size))
		abort();
	free(s);
	if (!(s = cstring(data, size)))
		return 0;
	parse_long(s, -5, 5, &v);
	parse_double(s, 0.01, 86400, &d);
	if (!parse_container_id(s, id, sizeof(id)) && strlen(id) != 64)
		abort();
	if (!parse_listen_address(s, host, sizeof(host), &port) && (port < 1 || port > 65535))
		abort();
	free(s);
	return 0;
}
