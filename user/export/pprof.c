// SPDX-License-Identifier: MIT
/*
 * The entries' frames are the folded text "qualname (file:line)", split
 * here: a qualname holds no " (" (the compiler makes none), a file may, so
 * the name ends at the first " (" and the line is the last ":digits" before
 * the closing parenthesis. A marker ("[deeper frames]", ...) is a function
 * without file. Every string is well-formed UTF-8 (proto3 `string`): bytes
 * that are not become U+FFFD, as in the folded files.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "json.h"
#include "pprof.h"
#include "profile.pb-c.h"

typedef Perftools__Profiles__Profile Profile;
typedef Perftools__Profiles__ValueType ValueType;
typedef Perftools__Profiles__Sample Sample;
typedef Perftools__Profiles__Label Label;
typedef Perftools__Profiles__Location Location;
typedef Perftools__Profiles__Line Line;
typedef Perftools__Profiles__Function Function;
typedef Perftools__Profiles__Mapping Mapping;

/* Byte strings -> 1, 2, ... in order of arrival; order[i] is the key of i + 1. */
struct intern {
	struct islot {
		char *key;	/* NUL-terminated copy; NULL: free */
		size_t len;
		uint64_t id;
	} *slots;
	size_t cap, n;
	char **order;
};

static void intern_free(struct intern *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		free(m->order[i]);
	free(m->slots);
	free(m->order);
	memset(m, 0, sizeof(*m));
}

static uint64_t hash_bytes(const void *p, size_t len)
{
	const unsigned char *b = p;
	uint64_t h = 1469598103934665603ull;

	while (len--)
		h = (h ^ *b++) * 1099511628211ull;
	return h;
}

static int intern_grow(struct intern *m)
{
	size_t cap = m->cap ? 2 * m->cap : 256, i, j;
	struct islot *slots = calloc(cap, sizeof(*slots));
	char **order = realloc(m->order, cap / 2 * sizeof(*order));

	if (order)
		m->order = order;
	if (!slots || !order) {
		free(slots);
		return -ENOMEM;
	}
	for (i = 0; i < m->cap; i++) {
		if (!m->slots[i].key)
			continue;
		for (j = hash_bytes(m->slots[i].key, m->slots[i].len) & (cap - 1); slots[j].key; j = (j + 1) & (cap - 1))
			;
		slots[j] = m->slots[i];
	}
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	return 0;
}

/* The id of key, added when new; 0 when out of memory. */
static uint64_t intern(struct intern *m, const void *key, size_t len)
{
	struct islot *s;
	size_t i;

	if ((m->n + 1) * 2 > m->cap && intern_grow(m))
		return 0;
	for (i = hash_bytes(key, len) & (m->cap - 1); m->slots[i].key; i = (i + 1) & (m->cap - 1)) {
		s = &m->slots[i];
		if (s->len == len && !memcmp(s->key, key, len))
			return s->id;
	}
	s = &m->slots[i];
	s->key = malloc(len + 1);
	if (!s->key)
		return 0;
	memcpy(s->key, key, len);
	s->key[len] = '\0';
	s->len = len;
	s->id = ++m->n;
	m->order[m->n - 1] = s->key;
	return s->id;
}

/* What a function and a location are keyed by. */
struct pair {
	int64_t a, b;
};

struct builder {
	struct intern strings;		/* id - 1 is the string table index */
	struct intern functions;	/* (name, file) string indices */
	struct intern locations;	/* (function id, line) */
	bool failed;
};

/* A string table index; text of len bytes made well-formed UTF-8. */
static int64_t str_index(struct builder *b, const char *text, size_t len)
{
	static const char replacement[] = "\xef\xbf\xbd";
	char *clean = malloc(len * 3 + 1);
	size_t i = 0, o = 0;
	uint64_t id;
	int n;

	if (!clean) {
		b->failed = true;
		return 0;
	}
	while (i < len) {
		/* text is NUL-terminated: a sequence never reads past it */
		n = utf8_sequence_len((const unsigned char *)text + i);
		if (n && i + (size_t)n <= len) {
			memcpy(clean + o, text + i, (size_t)n);
			o += (size_t)n, i += (size_t)n;
		} else {
			memcpy(clean + o, replacement, 3);
			o += 3, i++;
		}
	}
	id = intern(&b->strings, clean, o);
	free(clean);
	b->failed |= !id;
	return id ? (int64_t)id - 1 : 0;
}

static int64_t str_of(struct builder *b, const char *s)
{
	return str_index(b, s, strlen(s));
}

/* "name (file:line)", "name (file)" or a marker, as symbolize.c writes them. */
static void split_frame(const char *f, size_t len, size_t *name_len, const char **file, size_t *file_len,
			int64_t *line)
{
	const char *open = memmem(f, len, " (", 2), *colon;
	size_t digits = 0;

	*name_len = len, *file = f + len, *file_len = 0, *line = 0;
	if (f[0] == '[' || !open || f[len - 1] != ')')
		return;
	*name_len = (size_t)(open - f);
	*file = open + 2;
	*file_len = (size_t)(f + len - 1 - *file);
	for (colon = *file + *file_len; colon > *file && colon[-1] >= '0' && colon[-1] <= '9'; colon--)
		digits++;
	if (digits && digits < 10 && colon > *file && colon[-1] == ':') {
		*line = strtoll(colon, NULL, 10);
		*file_len = (size_t)(colon - 1 - *file);
	}
}

static uint64_t location_of(struct builder *b, const char *f, size_t len)
{
	struct pair fn, loc;
	const char *file;
	size_t name_len, file_len;

	split_frame(f, len, &name_len, &file, &file_len, &loc.b);
	fn.a = str_index(b, f, name_len);
	fn.b = str_index(b, file, file_len);
	loc.a = (int64_t)intern(&b->functions, &fn, sizeof(fn));
	b->failed |= !loc.a;
	return intern(&b->locations, &loc, sizeof(loc));
}

/* Leaf first, as pprof wants; the frames are outermost first. */
static uint64_t *stack_locations(struct builder *b, const char *frames, size_t *n)
{
	size_t count = 1, k;
	const char *p, *end = frames + strlen(frames);
	uint64_t *ids;

	for (p = frames; *p; p++)
		count += *p == ';';
	ids = calloc(count, sizeof(*ids));
	if (!ids) {
		b->failed = true;
		return NULL;
	}
	for (k = 0; end > frames && k < count; k++) {
		for (p = end; p > frames && p[-1] != ';'; p--)
			;
		ids[k] = end > p ? location_of(b, p, (size_t)(end - p)) : location_of(b, "[empty frame]", 13);
		b->failed |= !ids[k];
		end = p > frames ? p - 1 : frames;
	}
	*n = k;
	return ids;
}

/* One sample type: a figure of one folded metric. */
struct kind {
	enum folded_metric metric;
	bool count;		/* the entry's count, else its weight */
	const char *type, *unit;
};

static const struct kind kinds[] = {
	{ FOLD_GC_COUNT, true, "gc_collections", "count" },
	{ FOLD_GC_PAUSE, false, "gc_pause", "nanoseconds" },
	{ FOLD_ARENA, true, "arena_events", "count" },
	{ FOLD_ARENA, false, "arena_space", "bytes" },
	{ FOLD_GROWTH, true, "growth_events", "count" },
	{ FOLD_GROWTH, false, "growth_space", "bytes" },
	{ FOLD_ALLOC, true, "alloc_objects", "count" },
	{ FOLD_ALLOC, false, "alloc_space", "bytes" },
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

/* Only the figures the run recorded: a consumer shows every sample type,
 * and one that is zero throughout reads as a measured zero. Arenas are a
 * type of their own only where growth counts pools. The last is the
 * default view (pprof's rule), the most specific figure. */
static size_t kinds_of(const struct stack_table *t, const struct pprof_run *r, const struct kind **out)
{
	size_t i, n = 0;

	for (i = 0; i < NKINDS; i++) {
		if ((kinds[i].metric == FOLD_ARENA && !(r->growth && t->growth_from_pools)) ||
		    (kinds[i].metric == FOLD_GROWTH && !r->growth) || (kinds[i].metric == FOLD_ALLOC && !r->sample_bytes))
			continue;
		out[n++] = &kinds[i];
	}
	return n;
}

static const char *comm_of(const struct pprof_run *r, pid_t pid)
{
	int i;

	for (i = 0; i < r->nprocs; i++)
		if (r->procs[i].pid == pid)
			return r->procs[i].comm;
	return NULL;
}

struct labels {
	Label l[4];
	Label *p[4];
};

/* String labels only: Pyroscope and Parca keep those, and pprof drops a
 * numeric one of value 0 (generation 0) as unset. */
static void add_label(struct builder *b, struct labels *out, size_t *n, const char *key, const char *value)
{
	out->l[*n] = (Label)PERFTOOLS__PROFILES__LABEL__INIT;
	out->l[*n].key = str_of(b, key);
	out->l[*n].str = str_of(b, value);
	out->p[*n] = &out->l[*n];
	(*n)++;
}

static size_t sample_labels(struct builder *b, const struct pprof_run *r, const struct stack_entry *e,
			    struct labels *out)
{
	const char *comm = comm_of(r, e->pid);
	char num[24];
	size_t n = 0;

	snprintf(num, sizeof(num), "%d", e->pid);
	add_label(b, out, &n, "pid", num);
	if (comm)
		add_label(b, out, &n, "comm", comm);
	if (e->tid) {	/* 0: [other stacks], of every thread */
		snprintf(num, sizeof(num), "%d", e->tid);
		add_label(b, out, &n, "tid", num);
	}
	if (e->metric == STACK_GC) {
		snprintf(num, sizeof(num), "%u", e->generation);
		add_label(b, out, &n, "gc_generation", num);
	}
	return n;
}

/* The samples: one per entry of a recorded metric (entries differ by thread). */
struct samples {
	Sample *s;
	Sample **p;
	struct labels *labels;
	int64_t *values;
	size_t n;
};

static void samples_free(struct samples *ss)
{
	size_t i;

	for (i = 0; i < ss->n; i++)
		free(ss->s[i].location_id);
	free(ss->s), free(ss->p), free(ss->labels), free(ss->values);
}

static bool fill_values(const struct stack_entry *e, const struct kind **k, size_t nk, bool pools, int64_t *v)
{
	bool any = false;
	size_t i;

	for (i = 0; i < nk; i++) {
		v[i] = !stack_in_metric(e, k[i]->metric, pools) ? 0 :
		       (int64_t)(k[i]->count ? e->count : stack_weight(e, k[i]->metric));
		any |= v[i] != 0;
	}
	return any;
}

static int build_samples(struct builder *b, const struct stack_table *t, const struct pprof_run *r,
			 const struct kind **k, size_t nk, struct samples *ss)
{
	size_t i, cap = t->n ? t->n : 1;
	Sample *s;

	memset(ss, 0, sizeof(*ss));
	ss->s = calloc(cap, sizeof(*ss->s));
	ss->p = calloc(cap, sizeof(*ss->p));
	ss->labels = calloc(cap, sizeof(*ss->labels));
	ss->values = calloc(cap * (nk ? nk : 1), sizeof(*ss->values));
	if (!ss->s || !ss->p || !ss->labels || !ss->values)
		return -ENOMEM;
	for (i = 0; i < t->cap && ss->n < cap; i++) {
		const struct stack_entry *e = &t->slots[i];
		int64_t *v = ss->values + ss->n * nk;

		if (!e->frames || !fill_values(e, k, nk, t->growth_from_pools, v))
			continue;
		s = &ss->s[ss->n];
		*s = (Sample)PERFTOOLS__PROFILES__SAMPLE__INIT;
		s->value = v, s->n_value = nk;
		s->location_id = stack_locations(b, e->frames, &s->n_location_id);
		s->n_label = sample_labels(b, r, e, &ss->labels[ss->n]);
		s->label = ss->labels[ss->n].p;
		ss->p[ss->n++] = s;
	}
	return b->failed ? -ENOMEM : 0;
}

/* Functions and locations, from the keys interned while the samples were built. */
struct tables {
	Function *f;
	Function **fp;
	Location *l;
	Location **lp;
	Line *line;
	Line **linep;
};

static void tables_free(struct tables *tb)
{
	free(tb->f), free(tb->fp), free(tb->l), free(tb->lp), free(tb->line), free(tb->linep);
}

static int build_tables(const struct builder *b, struct tables *tb)
{
	size_t nf = b->functions.n ? b->functions.n : 1, nl = b->locations.n ? b->locations.n : 1, i;
	struct pair key;

	tb->f = calloc(nf, sizeof(*tb->f)), tb->fp = calloc(nf, sizeof(*tb->fp));
	tb->l = calloc(nl, sizeof(*tb->l)), tb->lp = calloc(nl, sizeof(*tb->lp));
	tb->line = calloc(nl, sizeof(*tb->line)), tb->linep = calloc(nl, sizeof(*tb->linep));
	if (!tb->f || !tb->fp || !tb->l || !tb->lp || !tb->line || !tb->linep)
		return -ENOMEM;
	for (i = 0; i < b->functions.n; i++) {
		memcpy(&key, b->functions.order[i], sizeof(key));
		tb->f[i] = (Function)PERFTOOLS__PROFILES__FUNCTION__INIT;
		tb->f[i].id = i + 1;
		/* no system_name: pprof would "demangle" a name equal to it, and cut
		 * <module> and <lambda> as C++ template arguments */
		tb->f[i].name = key.a;
		tb->f[i].filename = key.b;
		tb->fp[i] = &tb->f[i];
	}
	for (i = 0; i < b->locations.n; i++) {
		memcpy(&key, b->locations.order[i], sizeof(key));
		tb->line[i] = (Line)PERFTOOLS__PROFILES__LINE__INIT;
		tb->line[i].function_id = (uint64_t)key.a;
		tb->line[i].line = key.b;
		tb->linep[i] = &tb->line[i];
		tb->l[i] = (Location)PERFTOOLS__PROFILES__LOCATION__INIT;
		tb->l[i].id = i + 1;
		tb->l[i].mapping_id = 1;
		tb->l[i].n_line = 1;
		tb->l[i].line = &tb->linep[i];
		tb->lp[i] = &tb->l[i];
	}
	return 0;
}

static int gzip_bytes(const uint8_t *in, size_t len, uint8_t **out, size_t *outlen)
{
	z_stream z = { 0 };
	uLong bound;

	/* windowBits 15 + 16: a gzip header and trailer, as pprof reads */
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	bound = deflateBound(&z, len) + 32;
	*out = malloc(bound);
	z.next_in = (Bytef *)in, z.avail_in = (uInt)len;
	z.next_out = *out, z.avail_out = (uInt)bound;
	if (!*out || deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		free(*out);
		*out = NULL;
		return -ENOMEM;
	}
	*outlen = z.total_out;
	deflateEnd(&z);
	return 0;
}

static int pack_gzip(Profile *p, uint8_t **out, size_t *len)
{
	size_t size = protobuf_c_message_get_packed_size(&p->base);
	uint8_t *raw = malloc(size ? size : 1);
	int rc;

	if (!raw)
		return -ENOMEM;
	protobuf_c_message_pack(&p->base, raw);
	rc = gzip_bytes(raw, size, out, len);
	free(raw);
	return rc;
}

static void profile_header(struct builder *b, const struct pprof_run *r, const struct kind **k, size_t nk,
			   ValueType *vt, ValueType **vtp, ValueType *period, Profile *p)
{
	size_t i;

	for (i = 0; i < nk; i++) {
		vt[i] = (ValueType)PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
		vt[i].type = str_of(b, k[i]->type), vt[i].unit = str_of(b, k[i]->unit);
		vtp[i] = &vt[i];
	}
	p->sample_type = vtp, p->n_sample_type = nk;
	p->time_nanos = r->time_ns, p->duration_nanos = r->duration_ns;
	if (r->sample_bytes) {	/* a stack per sample_bytes requested */
		*period = (ValueType)PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
		period->type = str_of(b, "alloc_space"), period->unit = str_of(b, "bytes");
		p->period_type = period, p->period = (int64_t)r->sample_bytes;
	}
	if (nk)
		p->default_sample_type = vt[nk - 1].type;
}

/* One mapping that says every location is already symbolised: no consumer
 * looks for a binary to name them (pprof warns about a missing one). */
static void python_mapping(struct builder *b, Mapping *m, Mapping **mp, Profile *p)
{
	*m = (Mapping)PERFTOOLS__PROFILES__MAPPING__INIT;
	m->id = 1;
	m->filename = str_of(b, "python");
	m->has_functions = m->has_filenames = m->has_line_numbers = 1;
	*mp = m;
	p->mapping = mp, p->n_mapping = 1;
}

int pprof_encode(const struct stack_table *t, const struct pprof_run *r, uint8_t **out, size_t *len)
{
	const struct kind *k[NKINDS];
	ValueType vt[NKINDS], *vtp[NKINDS], period;
	Mapping map, *mapp;
	Profile p = PERFTOOLS__PROFILES__PROFILE__INIT;
	struct builder b = { 0 };
	struct samples ss = { 0 };
	struct tables tb = { 0 };
	size_t nk = kinds_of(t, r, k);
	int rc;

	*out = NULL, *len = 0;
	str_of(&b, "");		/* index 0 is the empty string */
	profile_header(&b, r, k, nk, vt, vtp, &period, &p);
	python_mapping(&b, &map, &mapp, &p);
	rc = build_samples(&b, t, r, k, nk, &ss);
	if (!rc)
		rc = build_tables(&b, &tb);
	if (!rc && !b.failed) {
		p.sample = ss.p, p.n_sample = ss.n;
		p.function = tb.fp, p.n_function = b.functions.n;
		p.location = tb.lp, p.n_location = b.locations.n;
		p.string_table = b.strings.order, p.n_string_table = b.strings.n;
		rc = pack_gzip(&p, out, len);
	}
	tables_free(&tb);
	samples_free(&ss);
	intern_free(&b.strings), intern_free(&b.functions), intern_free(&b.locations);
	return rc ? rc : b.failed ? -ENOMEM : 0;
}

int pprof_write(const struct stack_table *t, const struct pprof_run *r, const char *path, char *err,
		size_t errlen)
{
	uint8_t *data;
	size_t len;
	FILE *f;
	int bad;

	if (pprof_encode(t, r, &data, &len)) {
		snprintf(err, errlen, "cannot write %s: out of memory", path);
		return -1;
	}
	f = fopen(path, "we");
	if (!f) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		free(data);
		return -1;
	}
	bad = fwrite(data, 1, len, f) != len;
	free(data);
	if (fclose(f) || bad) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno ? errno : EIO));
		return -1;
	}
	return 0;
}
