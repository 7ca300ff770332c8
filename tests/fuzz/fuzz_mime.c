/*
 * fuzz_mime.c - libFuzzer target for the MIME parser (core/mime/).
 *
 * Input: byte 0 seeds how the rest is cut into pieces (low six bits) and
 * picks the limits (high two: the defaults, or small ones that the input
 * can reach); the rest is the message. It is parsed whole, in pieces,
 * and one byte at a time when short: the dumps of the trees (see
 * tests/unit/mime_dump.c) must be the same. Then every header field
 * goes through fc_mime_header_decode(), fc_mime_address_parse() and
 * fc_mime_date_parse(), and every leaf body through its decoder, whole
 * and in pieces, with and without charset conversion: decoded text must
 * be valid UTF-8, and the pieces must not change the output. Parts must
 * nest, sit inside the input, and be found again by their sections.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <facteur/arena.h>
#include <facteur/mime.h>

#include "mime_dump.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_mime_check(bool cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_mime: %s\n", what);
		abort();
	}
}

/* Strict UTF-8, as the decoders promise it. */
static bool
fuzz_mime_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0, len, k;
	unsigned char c, lo, hi;

	while (i < n) {
		c = s[i];
		lo = 0x80;
		hi = 0xbf;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2;
		else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			if (c == 0xe0)
				lo = 0xa0;
			if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			if (c == 0xf0)
				lo = 0x90;
			if (c == 0xf4)
				hi = 0x8f;
		} else
			return false;
		if (i + len > n)
			return false;
		for (k = 1; k < len; k++)
			if (s[i + k] < (k == 1 ? lo : 0x80) ||
			    s[i + k] > (k == 1 ? hi : 0xbf))
				return false;
		i += len;
	}
	return true;
}

static bool
fuzz_mime_utf8_str(const char *s)
{
	return s == NULL || fuzz_mime_utf8((const unsigned char *)s, strlen(s));
}

static unsigned int
fuzz_mime_next(unsigned int *seed, size_t max)
{
	*seed = *seed * 1103515245 + 12345;
	return 1 + (unsigned int)((*seed >> 16) % max);
}

static char *
fuzz_mime_parse(const uint8_t *data, size_t size, unsigned int seed,
    const struct fc_mime_limits *lim)
{
	struct fc_arena *a = fc_arena_new("fuzz", 4096);
	struct fc_mime_parser *p = fc_mime_parser_new(a, lim);
	size_t pos = 0, n;
	char *dump;

	while (pos < size) {
		n = size - pos;
		if (seed == 1)
			n = 1;
		else if (seed > 1 && n > 1) {
			unsigned int k = fuzz_mime_next(&seed, 64);

			if (n > k)
				n = k;
		}
		fc_mime_parser_feed(p, data + pos, n);
		pos += n;
	}
	dump = mime_dump(fc_mime_parser_finish(p));
	fc_arena_free(&a);
	return dump;
}

struct fuzz_mime_out {
	char *data;
	size_t len, cap;
};

static void
fuzz_mime_collect(void *arg, const void *data, size_t len)
{
	struct fuzz_mime_out *o = arg;

	fuzz_mime_check(len > 0, "decoder gave an empty piece");
	if (o->cap - o->len < len) {
		while (o->cap - o->len < len)
			o->cap = o->cap == 0 ? 1024 : o->cap * 2;
		o->data = realloc(o->data, o->cap);
		fuzz_mime_check(o->data != NULL, "out of memory");
	}
	memcpy(o->data + o->len, data, len);
	o->len += len;
}

static void
fuzz_mime_decode(struct fc_arena *a, const struct fc_mime_part *part,
    const uint8_t *body, size_t len, bool to_utf8, unsigned int seed,
    struct fuzz_mime_out *o)
{
	struct fc_mime_decoder *d;
	size_t pos = 0, n;

	d = fc_mime_decoder_new(a, part, to_utf8, fuzz_mime_collect, o);
	while (pos < len) {
		n = len - pos;
		if (seed != 0 && n > 1) {
			unsigned int k = fuzz_mime_next(&seed, 16);

			if (n > k)
				n = k;
		}
		fc_mime_decoder_feed(d, body + pos, n);
		pos += n;
	}
	fc_mime_decoder_finish(d);
}

static void
fuzz_mime_fields(struct fc_arena *a, const struct fc_mime_part *part)
{
	const struct fc_mime_address *addr;
	const char *name, *value;
	time_t t;
	size_t i;
	int zone;

	for (i = 0; fc_mime_part_header_at(part, i, &name, &value); i++) {
		fuzz_mime_check(fc_mime_part_header(part, name, 0) != NULL,
		    "a field is not found by its name");
		fuzz_mime_check(fuzz_mime_utf8_str(
		    fc_mime_header_decode(a, value)),
		    "decoded header is not UTF-8");
		fc_mime_header_unfold(a, value);
		for (addr = fc_mime_address_parse(a, value); addr != NULL;
		    addr = addr->next)
			fuzz_mime_check(fuzz_mime_utf8_str(addr->name),
			    "address name is not UTF-8");
		if (fc_mime_date_parse(value, &t, &zone) == 0)
			fuzz_mime_check(zone > -6000 && zone < 6000,
			    "date zone out of range");
	}
	for (i = 0; fc_mime_part_param_at(part, i, &name, &value); i++)
		if (strcmp(name, "boundary") != 0)
			fuzz_mime_check(fuzz_mime_utf8_str(value),
			    "parameter is not UTF-8");
	for (i = 0; fc_mime_part_disposition_param_at(part, i, &name,
	    &value); i++)
		fuzz_mime_check(fuzz_mime_utf8_str(value),
		    "disposition parameter is not UTF-8");
}

static void
fuzz_mime_part(struct fc_arena *a, const struct fc_mime_part *root,
    const struct fc_mime_part *part, const uint8_t *data, size_t size,
    unsigned int seed)
{
	const struct fc_mime_part *c, *prev = NULL, *want = part;
	uint64_t h = fc_mime_part_header_offset(part);
	uint64_t b = fc_mime_part_body_offset(part);
	uint64_t e = fc_mime_part_end_offset(part);
	struct fuzz_mime_out whole = { 0 }, cut = { 0 };
	char label[1024], *dot;
	bool utf8;

	fuzz_mime_check(h <= b && b <= e && e <= size, "offsets out of order");
	fuzz_mime_check(fc_mime_part_header_size(part, true) >=
	    fc_mime_part_header_size(part, false) &&
	    fc_mime_part_body_size(part, true) >=
	    fc_mime_part_body_size(part, false), "CRLF size below size");
	fuzz_mime_check(fc_mime_part_body_lines(part) <= e - b,
	    "more lines than bytes");
	mime_dump_label(part, label, sizeof(label));
	if (strcmp(label, "TEXT") == 0)
		label[0] = '\0';
	else if ((dot = strstr(label, ".TEXT")) != NULL) {
		*dot = '\0';
		want = fc_mime_part_parent(part);
	}
	fuzz_mime_check(fc_mime_part_find(root, label) == want,
	    "a section does not lead back to its part");

	fuzz_mime_fields(a, part);
	for (c = fc_mime_part_child(part); c != NULL;
	    c = fc_mime_part_next(c)) {
		fuzz_mime_check(fc_mime_part_parent(c) == part, "wrong parent");
		fuzz_mime_check(fc_mime_part_header_offset(c) >= b &&
		    fc_mime_part_end_offset(c) <= e,
		    "child outside its parent");
		fuzz_mime_check(prev == NULL || fc_mime_part_header_offset(c) >=
		    fc_mime_part_end_offset(prev), "siblings overlap");
		fuzz_mime_part(a, root, c, data, size, seed);
		prev = c;
	}
	if (fc_mime_part_child(part) != NULL)
		return;

	utf8 = strcmp(fc_mime_part_type(part), "text") == 0;
	/* named first: if a check below fails, the log says on what */
	if (getenv("FUZZ_MIME_VERBOSE") != NULL)
		fprintf(stderr, "fuzz_mime: leaf %s %s/%s charset=%s "
		    "encoding=%s body %llu-%llu\n", label,
		    fc_mime_part_type(part), fc_mime_part_subtype(part),
		    fc_mime_part_param(part, "charset") ?
		    fc_mime_part_param(part, "charset") : "-",
		    fc_mime_part_encoding_raw(part) ?
		    fc_mime_part_encoding_raw(part) : "-",
		    (unsigned long long)b, (unsigned long long)e);
	fuzz_mime_decode(a, part, data + b, (size_t)(e - b), true, 0, &whole);
	fuzz_mime_decode(a, part, data + b, (size_t)(e - b), true, seed | 1,
	    &cut);
	fuzz_mime_check(whole.len == cut.len &&
	    (whole.len == 0 || memcmp(whole.data, cut.data, whole.len) == 0),
	    "decoded text depends on the pieces");
	if (utf8)
		fuzz_mime_check(fuzz_mime_utf8((unsigned char *)whole.data,
		    whole.len), "decoded text is not UTF-8");
	whole.len = cut.len = 0;
	fuzz_mime_decode(a, part, data + b, (size_t)(e - b), false, 0, &whole);
	fuzz_mime_decode(a, part, data + b, (size_t)(e - b), false, seed | 1,
	    &cut);
	fuzz_mime_check(whole.len == cut.len &&
	    (whole.len == 0 || memcmp(whole.data, cut.data, whole.len) == 0),
	    "decoded body depends on the pieces");
	free(whole.data);
	free(cut.data);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct fc_mime_limits small = {
		.max_depth = 3,
		.max_parts = 8,
		.max_headers = 6,
		.max_header_bytes = 300,
	};
	const struct fc_mime_limits *lim;
	const struct fc_mime_part *root;
	struct fc_mime_parser *p;
	struct fc_arena *a;
	unsigned int seed;
	char *whole, *cut;

	if (size < 1)
		return 0;
	seed = (unsigned int)(data[0] & 0x3f) + 2;
	lim = (data[0] & 0xc0) == 0xc0 ? &small : NULL;
	data++;
	size--;

	whole = fuzz_mime_parse(data, size, 0, lim);
	cut = fuzz_mime_parse(data, size, seed, lim);
	fuzz_mime_check(strcmp(whole, cut) == 0,
	    "the tree depends on the pieces");
	free(cut);
	if (size <= 4096) {
		cut = fuzz_mime_parse(data, size, 1, lim);
		fuzz_mime_check(strcmp(whole, cut) == 0,
		    "the tree fed byte by byte differs");
		free(cut);
	}
	free(whole);

	a = fc_arena_new("fuzz", 4096);
	p = fc_mime_parser_new(a, lim);
	fc_mime_parser_feed(p, data, size);
	root = fc_mime_parser_finish(p);
	fuzz_mime_check(fc_mime_part_end_offset(root) == size,
	    "the root does not end at the end");
	fuzz_mime_part(a, root, root, data, size, seed);
	fc_arena_free(&a);
	return 0;
}
