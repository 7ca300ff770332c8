/*
 * fuzz_dot.c - libFuzzer target for the DATA body decoder (core/dot.c).
 *
 * Input: byte 0 picks the line-end mode (low two bits) and seeds how the
 * rest is cut into chunks (the other six); the rest is the body as a
 * client sends it. The body is decoded whole and in chunks, each call
 * given an output buffer of exactly 2 * len + 2 bytes (so ASan sees an
 * overrun). Both runs must write the same bytes, find the end at the
 * same place and count the same things.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_dot_run {
	char *out;
	size_t outlen, used;
	bool done;
	struct fc_spool_result counts;
};

static void
fuzz_dot_check(bool cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_dot: %s\n", what);
		abort();
	}
}

/* Decodes in[0..len) in pieces of sizes drawn from seed (0: whole). */
static void
fuzz_dot_run(enum fc_eol eol, const char *in, size_t len, unsigned int seed,
    struct fuzz_dot_run *r)
{
	struct fc_dot_decoder d;
	size_t pos = 0;

	memset(r, 0, sizeof(*r));
	r->out = malloc(2 * len + 2);
	fc_dot_init(&d, eol);
	while (!r->done && (pos < len || len == 0)) {
		size_t n = len - pos, outlen = 0, used;
		char *buf;
		bool done = false;

		if (seed != 0) {
			seed = seed * 1103515245 + 12345;
			if (n > 1 + (seed >> 16) % 32)
				n = 1 + (seed >> 16) % 32;
		}
		buf = malloc(2 * n + 2);
		used = fc_dot_decode(&d, in + pos, n, buf, &outlen, &done);
		fuzz_dot_check(outlen <= 2 * n + 2, "output above 2 * len + 2");
		fuzz_dot_check(used <= n, "consumed more than given");
		fuzz_dot_check(done || used == n, "stopped before the end");
		fuzz_dot_check(r->outlen + outlen <= 2 * len + 2,
		    "total output above 2 * len + 2");
		memcpy(r->out + r->outlen, buf, outlen);
		free(buf);
		r->outlen += outlen;
		r->used += used;
		r->done = done;
		pos += n;
		if (len == 0)
			break;
	}
	r->counts = d.counts;
	fuzz_dot_check(r->counts.received == r->used,
	    "received is not what was consumed");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum fc_eol modes[] = {
		FC_EOL_KEEP, FC_EOL_CRLF, FC_EOL_LF, FC_EOL_KEEP
	};
	struct fuzz_dot_run whole, cut;
	enum fc_eol eol;
	unsigned int seed;

	if (size < 1)
		return 0;
	eol = modes[data[0] & 3];
	seed = (unsigned int)(data[0] >> 2) + 1;
	data++;
	size--;

	fuzz_dot_run(eol, (const char *)data, size, 0, &whole);
	fuzz_dot_run(eol, (const char *)data, size, seed, &cut);
	fuzz_dot_check(whole.done == cut.done, "end found in one run only");
	fuzz_dot_check(whole.used == cut.used, "end found at another place");
	fuzz_dot_check(whole.outlen == cut.outlen &&
	    memcmp(whole.out, cut.out, whole.outlen) == 0,
	    "output depends on how the input was cut");
	fuzz_dot_check(whole.counts.bare_lf == cut.counts.bare_lf &&
	    whole.counts.bare_cr == cut.counts.bare_cr &&
	    whole.counts.nul == cut.counts.nul &&
	    whole.counts.longest_line == cut.counts.longest_line,
	    "counts depend on how the input was cut");
	/* the end marker is CRLF . CRLF, or . CRLF at the very start */
	if (whole.done)
		fuzz_dot_check(whole.used >= 3 &&
		    memcmp(data + whole.used - 3, ".\r\n", 3) == 0 &&
		    (whole.used == 3 ||
		    (whole.used >= 5 && data[whole.used - 5] == '\r' &&
		    data[whole.used - 4] == '\n')),
		    "body ended without CRLF . CRLF");
	free(whole.out);
	free(cut.out);
	return 0;
}
