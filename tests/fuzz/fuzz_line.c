/*
 * fuzz_line.c - libFuzzer target for the line framer (core/line.c).
 *
 * Input: byte 0 is the line limit, byte 1 seeds how the rest is cut into
 * chunks, the rest is what a client sends. The framer runs over the
 * stream twice, whole and in chunks, and must give the same lines both
 * times. Always: a line is at most the limit, holds no LF, is
 * NUL-terminated, drains no more than is buffered, and at most limit + 1
 * bytes stay buffered between reads.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "line.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_line_check(bool cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_line: %s\n", what);
		abort();
	}
}

static uint64_t
fuzz_line_hash(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ c[i]) * 1099511628211ULL;
	return h;
}

/* Frames what the buffer holds; folds each result into *h. */
static void
fuzz_line_frame(struct fc_line_framer *f, struct evbuffer *in, uint64_t *h)
{
	for (;;) {
		enum fc_line_status st;
		size_t len = 0, drain = 0, avail = evbuffer_get_length(in);
		char *line = NULL;
		unsigned char tag;

		st = fc_line_next(f, in, &line, &len, &drain);
		fuzz_line_check(drain <= avail, "drains more than buffered");
		if (st == FC_LINE_OK) {
			fuzz_line_check(line != NULL, "line is NULL");
			fuzz_line_check(len <= f->max, "line longer than max");
			fuzz_line_check(memchr(line, '\n', len) == NULL,
			    "LF inside a line");
			fuzz_line_check(line[len] == '\0',
			    "line not NUL-terminated");
			fuzz_line_check(drain >= len + 1 && drain <= len + 2,
			    "drain is not the line and its end");
			tag = 'L';
			*h = fuzz_line_hash(*h, &tag, 1);
			*h = fuzz_line_hash(*h, &len, sizeof(len));
			*h = fuzz_line_hash(*h, line, len);
		} else if (st == FC_LINE_TOO_LONG) {
			tag = '!';
			*h = fuzz_line_hash(*h, &tag, 1);
		}
		evbuffer_drain(in, drain);
		if (st == FC_LINE_NONE && drain == 0)
			break;
	}
	fuzz_line_check(evbuffer_get_length(in) <= f->max + 1,
	    "more than max + 1 bytes left buffered");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fc_line_framer whole, cut;
	struct evbuffer *a, *b;
	uint64_t ha = 1469598103934665603ULL, hb = ha;
	unsigned int seed;
	size_t pos, n;

	if (size < 2)
		return 0;
	memset(&whole, 0, sizeof(whole));
	whole.max = data[0];
	cut = whole;
	seed = data[1];
	data += 2;
	size -= 2;

	a = evbuffer_new();
	evbuffer_add(a, data, size);
	fuzz_line_frame(&whole, a, &ha);

	b = evbuffer_new();
	for (pos = 0; pos < size; pos += n) {
		seed = seed * 1103515245 + 12345;
		n = 1 + (seed >> 16) % 24;
		if (n > size - pos)
			n = size - pos;
		evbuffer_add(b, data + pos, n);
		fuzz_line_frame(&cut, b, &hb);
	}
	fuzz_line_check(ha == hb, "lines depend on how the input was cut");
	fuzz_line_check(evbuffer_get_length(a) == evbuffer_get_length(b),
	    "leftover depends on how the input was cut");
	evbuffer_free(a);
	evbuffer_free(b);
	return 0;
}
