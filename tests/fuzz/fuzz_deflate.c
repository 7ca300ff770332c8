/*
 * fuzz_deflate.c - libFuzzer target for the compressed session stream
 * (core/session_deflate.c), the client's side of IMAP COMPRESS.
 *
 * Input: byte 0 picks the inflate limit (low four bits: 1 byte to 32
 * KiB) and seeds how the rest is cut into pieces (the other four); the
 * rest is what a client sends after COMPRESS DEFLATE. It is inflated
 * whole and in pieces, never more than the limit per call and at most
 * FUZZ_OUT_MAX bytes in all (a bomb is cut short, not fully expanded):
 * both runs must agree on whether the stream is corrupt and, when it
 * is not, on every byte. Then the input itself goes through our
 * deflate and back, and must come out unchanged.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "session_deflate.h"

#define FUZZ_OUT_MAX	(64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_deflate_check(bool cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_deflate: %s\n", what);
		abort();
	}
}

/* Inflates in[0..len) in pieces drawn from seed (0: whole); the output
 * goes to out. Returns false on a stream error. */
static bool
fuzz_deflate_inflate(const uint8_t *in, size_t len, size_t limit,
    unsigned int seed, struct evbuffer *out)
{
	struct fc_deflate *d = fc_deflate_new();
	struct evbuffer *src = evbuffer_new(), *dst = evbuffer_new();
	size_t pos = 0, n, before;
	const char *why;
	bool good = true;
	ssize_t r;

	fuzz_deflate_check(d != NULL, "no memory for zlib");
	while (good && pos < len && evbuffer_get_length(out) < FUZZ_OUT_MAX) {
		n = len - pos;
		if (seed != 0) {
			seed = seed * 1103515245 + 12345;
			if (n > 1 + (seed >> 16) % 64)
				n = 1 + (seed >> 16) % 64;
		}
		evbuffer_add(src, in + pos, n);
		pos += n;
		do {
			before = evbuffer_get_length(src);
			r = fc_deflate_inflate(d, src, dst, limit, &why);
			if (r < 0) {
				good = false;
				break;
			}
			fuzz_deflate_check((size_t)r <= limit,
			    "more than the limit");
			fuzz_deflate_check(evbuffer_get_length(dst) ==
			    (size_t)r, "output not what was returned");
			fuzz_deflate_check(evbuffer_get_length(src) <= before,
			    "input grew");
			evbuffer_add_buffer(out, dst);
		} while ((r > 0 || fc_deflate_inflate_pending(d)) &&
		    evbuffer_get_length(out) < FUZZ_OUT_MAX);
	}
	evbuffer_free(src);
	evbuffer_free(dst);
	fc_deflate_free(&d);
	return good;
}

static void
fuzz_deflate_round_trip(const uint8_t *data, size_t size)
{
	struct fc_deflate *d = fc_deflate_new();
	struct evbuffer *src = evbuffer_new(), *wire = evbuffer_new();
	struct evbuffer *back = evbuffer_new();
	size_t wlen;

	evbuffer_add(src, data, size);
	fuzz_deflate_check(fc_deflate_deflate(d, src, wire, 1, true) >= 0,
	    "deflate failed");
	fuzz_deflate_check(evbuffer_get_length(src) == 0,
	    "a flush left input behind");
	wlen = evbuffer_get_length(wire);
	fuzz_deflate_check(fuzz_deflate_inflate(evbuffer_pullup(wire, -1),
	    wlen, 4096, 0, back), "our own output does not inflate");
	fuzz_deflate_check(evbuffer_get_length(back) == size &&
	    (size == 0 || memcmp(evbuffer_pullup(back, -1), data, size) == 0),
	    "round trip changed the bytes");
	evbuffer_free(src);
	evbuffer_free(wire);
	evbuffer_free(back);
	fc_deflate_free(&d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evbuffer *whole, *cut;
	size_t limit;
	unsigned int seed;
	bool good_whole, good_cut;

	if (size < 1)
		return 0;
	limit = (size_t)1 << (data[0] & 15);
	seed = (unsigned int)(data[0] >> 4) + 1;
	data++;
	size--;

	whole = evbuffer_new();
	cut = evbuffer_new();
	good_whole = fuzz_deflate_inflate(data, size, limit, 0, whole);
	good_cut = fuzz_deflate_inflate(data, size, limit, seed, cut);
	/* a run cut short by FUZZ_OUT_MAX may not have reached the error */
	if (evbuffer_get_length(whole) < FUZZ_OUT_MAX &&
	    evbuffer_get_length(cut) < FUZZ_OUT_MAX) {
		fuzz_deflate_check(good_whole == good_cut,
		    "corrupt in one run only");
		fuzz_deflate_check(!good_whole || (evbuffer_get_length(whole)
		    == evbuffer_get_length(cut) && (evbuffer_get_length(whole)
		    == 0 || memcmp(evbuffer_pullup(whole, -1),
		    evbuffer_pullup(cut, -1), evbuffer_get_length(whole))
		    == 0)), "output depends on how the input was cut");
	}
	evbuffer_free(whole);
	evbuffer_free(cut);
	fuzz_deflate_round_trip(data, size);
	return 0;
}
