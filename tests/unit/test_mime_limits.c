/*
 * test_mime_limits.c - hostile shapes: 10,000 nested multiparts, a
 * 10 MB header (one field, many fields, one folded field), a 10 MB body
 * line, a million lines that look like boundaries, and each limit of
 * struct fc_mime_limits on its own. Each must parse quickly, in memory
 * bounded by the limits (the arena's use is measured), and give a tree
 * whose offsets are still right.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <facteur/arena.h>
#include <facteur/mime.h>

#include "mime_dump.h"
#include "tap.h"

/* Generous: valgrind runs these too. */
#define MAX_SECONDS	20.0

struct text {
	char *data;
	size_t len, cap;
};

static void
add(struct text *t, const char *s, size_t n)
{
	if (t->cap - t->len < n + 1) {
		while (t->cap - t->len < n + 1)
			t->cap = t->cap == 0 ? 4096 : t->cap * 2;
		t->data = realloc(t->data, t->cap);
		if (t->data == NULL)
			abort();
	}
	memcpy(t->data + t->len, s, n);
	t->len += n;
	t->data[t->len] = '\0';
}

static void
adds(struct text *t, const char *s)
{
	add(t, s, strlen(s));
}

static void
addrep(struct text *t, char c, size_t n)
{
	char buf[4096];
	size_t k;

	memset(buf, c, sizeof(buf));
	while (n > 0) {
		k = n < sizeof(buf) ? n : sizeof(buf);
		add(t, buf, k);
		n -= k;
	}
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct run {
	const struct fc_mime_part *root;
	size_t arena;
	double seconds;
};

/* Parses t in pieces of `piece` bytes into a, timing it. */
static void
parse(struct fc_arena *a, const struct text *t, size_t piece,
    const struct fc_mime_limits *lim, struct run *r)
{
	struct fc_mime_parser *p;
	size_t pos, n;
	double start = now();

	p = fc_mime_parser_new(a, lim);
	for (pos = 0; pos < t->len; pos += n) {
		n = t->len - pos < piece ? t->len - pos : piece;
		fc_mime_parser_feed(p, t->data + pos, n);
	}
	r->root = fc_mime_parser_finish(p);
	r->seconds = now() - start;
	r->arena = fc_arena_used(a);
}

static unsigned int
depth_of_deepest(const struct fc_mime_part *p)
{
	unsigned int d = 0;

	while (fc_mime_part_child(p) != NULL) {
		p = fc_mime_part_child(p);
		d++;
	}
	return d;
}

static size_t
count_parts(const struct fc_mime_part *p)
{
	size_t n = 0;

	while (p != NULL) {
		n++;
		if (fc_mime_part_child(p) != NULL) {
			p = fc_mime_part_child(p);
			continue;
		}
		while (p != NULL && fc_mime_part_next(p) == NULL)
			p = fc_mime_part_parent(p);
		if (p != NULL)
			p = fc_mime_part_next(p);
	}
	return n;
}

static void
test_nested(void)
{
	struct fc_mime_limits deep = {
		.max_depth = 20000, .max_parts = 20000,
	};
	struct text t = { 0 };
	struct fc_arena *a;
	struct run r, bytes;
	char line[128];
	char *d1, *d2;
	int i, n = 10000;

	for (i = 0; i < n; i++) {
		snprintf(line, sizeof(line),
		    "Content-Type: multipart/mixed; boundary=\"b%d\"\n\n"
		    "--b%d\n", i, i);
		adds(&t, line);
	}
	adds(&t, "Content-Type: text/plain\n\nhello\n");
	for (i = n - 1; i >= 0; i--) {
		snprintf(line, sizeof(line), "--b%d--\n", i);
		adds(&t, line);
	}

	a = fc_arena_new("test", 4096);
	parse(a, &t, 65536, NULL, &r);
	diag("10,000 nested multiparts (%zu bytes), default limits: "
	    "%.3f s, arena %zu bytes", t.len, r.seconds, r.arena);
	is_int(depth_of_deepest(r.root), 64, "nested: cut at depth 64");
	is_int((long long)count_parts(r.root), 65, "nested: 65 parts");
	is_int(fc_mime_problems(r.root), FC_MIME_TOO_DEEP,
	    "nested: only too-deep flagged (outer boundaries all found)");
	is_int((long long)fc_mime_part_end_offset(r.root), (long long)t.len,
	    "nested: the root ends at the end");
	ok(r.arena < 256 * 1024, "nested: arena below 256 KiB (%zu)",
	    r.arena);
	ok(r.seconds < MAX_SECONDS, "nested: parsed in %.3f s", r.seconds);
	d1 = mime_dump(r.root);
	fc_arena_free(&a);

	a = fc_arena_new("test", 4096);
	parse(a, &t, 1, NULL, &bytes);
	d2 = mime_dump(bytes.root);
	ok(strcmp(d1, d2) == 0, "nested: byte by byte, the same tree "
	    "(%.3f s)", bytes.seconds);
	free(d1);
	free(d2);
	fc_arena_free(&a);

	/* with the limits raised, every level is a part: memory grows
	 * with the parts, no more */
	a = fc_arena_new("test", 4096);
	parse(a, &t, 65536, &deep, &r);
	diag("10,000 nested multiparts, max_depth 20000: %.3f s, "
	    "arena %zu bytes", r.seconds, r.arena);
	is_int(depth_of_deepest(r.root), n, "nested, deep limits: all "
	    "levels");
	is_int(fc_mime_problems(r.root), 0, "nested, deep limits: no "
	    "problem");
	ok(r.arena < (size_t)n * 1024, "nested, deep limits: under 1 KiB "
	    "of arena per part (%zu)", r.arena);
	ok(r.seconds < MAX_SECONDS, "nested, deep limits: parsed in %.3f s",
	    r.seconds);
	fc_arena_free(&a);
	free(t.data);
}

static void
test_big_headers(void)
{
	static const struct {
		const char *name;
		unsigned int flags;
	} shapes[] = {
		{ "one 10 MB field", FC_MIME_HEADER_TOO_LONG },
		{ "10 MB of short fields", FC_MIME_TOO_MANY_HEADERS },
		{ "one 10 MB folded field", FC_MIME_HEADER_TOO_LONG },
		{ "10 MB of lines without a colon", FC_MIME_BAD_HEADER_LINE },
	};
	size_t s, i, body_at, nfields;
	struct fc_arena *a;
	struct run r;
	const char *v;

	for (s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		struct text t = { 0 };

		adds(&t, "From: a@example.org\n");
		switch (s) {
		case 0:
			adds(&t, "X-Big: ");
			addrep(&t, 'x', 10 * 1024 * 1024);
			adds(&t, "\n");
			break;
		case 1:
			for (i = 0; t.len < 10 * 1024 * 1024; i++)
				adds(&t, "X-Field: some value of a field\n");
			break;
		case 2:
			adds(&t, "X-Folded: start\n");
			for (i = 0; t.len < 10 * 1024 * 1024; i++)
				adds(&t, " a continuation line of the field\n");
			break;
		case 3:
			for (i = 0; t.len < 10 * 1024 * 1024; i++)
				adds(&t, "no colon on this line at all\n");
			break;
		}
		adds(&t, "Subject: after\n\n");
		body_at = t.len;
		adds(&t, "body\n");

		a = fc_arena_new("test", 4096);
		parse(a, &t, 65536, NULL, &r);
		diag("%s: %.3f s, arena %zu bytes", shapes[s].name, r.seconds,
		    r.arena);
		is_int(fc_mime_problems(r.root), shapes[s].flags, "%s: flags",
		    shapes[s].name);
		is_int((long long)fc_mime_part_body_offset(r.root),
		    (long long)body_at, "%s: the header's end is found",
		    shapes[s].name);
		is_int((long long)fc_mime_part_body_size(r.root, false), 5,
		    "%s: the body is right", shapes[s].name);
		ok(r.arena < 1024 * 1024, "%s: arena below 1 MiB (%zu)",
		    shapes[s].name, r.arena);
		ok(r.seconds < MAX_SECONDS, "%s: parsed in %.3f s",
		    shapes[s].name, r.seconds);
		is_str(fc_mime_part_header(r.root, "From", 0),
		    " a@example.org", "%s: the first field is kept",
		    shapes[s].name);
		nfields = fc_mime_part_header_count(r.root);
		v = fc_mime_part_header(r.root, "Subject", 0);
		if (s == 3)
			ok(v != NULL && nfields == 2,
			    "%s: the fields around are kept", shapes[s].name);
		else
			ok(v == NULL, "%s: fields past the limit dropped "
			    "(%zu kept)", shapes[s].name, nfields);
		fc_arena_free(&a);

		if (s == 0) {
			char *d1, *d2;

			a = fc_arena_new("test", 4096);
			parse(a, &t, 65536, NULL, &r);
			d1 = mime_dump(r.root);
			fc_arena_free(&a);
			a = fc_arena_new("test", 4096);
			parse(a, &t, 7, NULL, &r);
			d2 = mime_dump(r.root);
			ok(strcmp(d1, d2) == 0, "%s: in 7-byte pieces, the "
			    "same tree", shapes[s].name);
			free(d1);
			free(d2);
			fc_arena_free(&a);
		}
		free(t.data);
	}
}

static void
test_long_body(void)
{
	struct text t = { 0 };
	struct fc_arena *a;
	struct run r;
	size_t i;

	adds(&t, "Content-Type: multipart/mixed; boundary=x\n\n--x\n\n");
	addrep(&t, 'y', 10 * 1024 * 1024);
	adds(&t, "\n");
	for (i = 0; i < 1000000; i++)
		adds(&t, "--x-\n");
	addrep(&t, '-', 10 * 1024 * 1024);
	adds(&t, "\n--x--\n");
	a = fc_arena_new("test", 4096);
	parse(a, &t, 65536, NULL, &r);
	diag("a 10 MB body line and a million boundary-like lines: %.3f s, "
	    "arena %zu bytes", r.seconds, r.arena);
	is_int((long long)count_parts(r.root), 2, "long lines: one part");
	is_int(fc_mime_problems(r.root), 0, "long lines: no problem");
	is_int((long long)fc_mime_part_body_lines(fc_mime_part_child(r.root)),
	    1000002, "long lines: lines counted");
	ok(r.arena < 64 * 1024, "long lines: arena below 64 KiB (%zu)",
	    r.arena);
	ok(r.seconds < MAX_SECONDS, "long lines: parsed in %.3f s",
	    r.seconds);
	fc_arena_free(&a);
	free(t.data);
}

static void
test_limits(void)
{
	struct fc_mime_limits parts = { .max_parts = 4 };
	struct fc_mime_limits headers = { .max_headers = 2 };
	struct fc_mime_limits bytes = { .max_header_bytes = 40 };
	struct fc_mime_limits depth = { .max_depth = 1 };
	struct fc_mime_limits zero = { 0 };
	struct text t = { 0 };
	struct fc_arena *a;
	const struct fc_mime_part *c;
	struct run r;
	char line[64];
	int i;

	adds(&t, "Content-Type: multipart/mixed; boundary=p\n\npreamble\n");
	for (i = 1; i <= 6; i++) {
		snprintf(line, sizeof(line), "--p\n\npart %d\n", i);
		adds(&t, line);
	}
	adds(&t, "--p--\nepilogue\n");

	a = fc_arena_new("test", 4096);
	parse(a, &t, 3, &parts, &r);
	is_int((long long)count_parts(r.root), 4, "max_parts 4: 4 parts");
	is_int(fc_mime_problems(r.root), FC_MIME_TOO_MANY_PARTS,
	    "max_parts: flagged, and the multipart is closed");
	c = fc_mime_part_find(r.root, "3");
	ok(c != NULL && fc_mime_part_body_size(c, false) == 6 &&
	    fc_mime_part_find(r.root, "4") == NULL,
	    "max_parts: the last part kept is whole");
	is_int((long long)fc_mime_part_end_offset(r.root), (long long)t.len,
	    "max_parts: the root ends at the end");
	fc_arena_free(&a);

	a = fc_arena_new("test", 4096);
	parse(a, &t, 5, &depth, &r);
	is_int((long long)count_parts(r.root), 7, "max_depth 1: the parts "
	    "of the root");
	fc_arena_free(&a);

	a = fc_arena_new("test", 4096);
	parse(a, &t, 5, &zero, &r);
	is_int((long long)count_parts(r.root), 7, "zero limits are the "
	    "defaults");
	fc_arena_free(&a);
	free(t.data);

	t.data = NULL;
	t.len = t.cap = 0;
	adds(&t, "Content-Type: message/rfc822\n\n"
	    "Content-Type: multipart/mixed; boundary=q\n\n--q\n\nx\n--q--\n");
	a = fc_arena_new("test", 4096);
	parse(a, &t, 5, &depth, &r);
	ok(fc_mime_part_is_message(r.root) &&
	    !fc_mime_part_is_multipart(fc_mime_part_child(r.root)) &&
	    fc_mime_problems(r.root) == FC_MIME_TOO_DEEP,
	    "max_depth 1: a message in a message part is a leaf there");
	fc_arena_free(&a);
	a = fc_arena_new("test", 4096);
	parts.max_parts = 1;
	parse(a, &t, 5, &parts, &r);
	ok(!fc_mime_part_is_message(r.root) &&
	    fc_mime_problems(r.root) == FC_MIME_TOO_MANY_PARTS,
	    "max_parts 1: a message part without its message");
	fc_arena_free(&a);
	free(t.data);

	t.data = NULL;
	t.len = t.cap = 0;
	adds(&t, "A: 1\nB: 2\nC: 3\nD: 4\n\nbody\n");
	a = fc_arena_new("test", 4096);
	parse(a, &t, 2, &headers, &r);
	ok(fc_mime_part_header_count(r.root) == 2 &&
	    fc_mime_problems(r.root) == FC_MIME_TOO_MANY_HEADERS &&
	    fc_mime_part_body_offset(r.root) == 21,
	    "max_headers 2: two fields, the header's end found");
	fc_arena_free(&a);
	free(t.data);

	t.data = NULL;
	t.len = t.cap = 0;
	adds(&t, "A: 12345678901234567890\nB: 1234567890123456789\n"
	    "C: 3\n\nbody\n");
	a = fc_arena_new("test", 4096);
	parse(a, &t, 1, &bytes, &r);
	ok(fc_mime_part_header_count(r.root) == 1 &&
	    fc_mime_problems(r.root) == FC_MIME_HEADER_TOO_LONG &&
	    fc_mime_part_header(r.root, "C", 0) == NULL,
	    "max_header_bytes 40: the field past it and the rest dropped");
	fc_arena_free(&a);
	free(t.data);
}

int
main(void)
{
	test_nested();
	test_big_headers();
	test_long_body();
	test_limits();
	return done();
}
