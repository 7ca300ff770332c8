/*
 * test_session_deflate.c - raw deflate on a session's stream
 * (core/session_deflate.c): the stream functions alone, then the
 * bufferevent filter over a socket pair.
 *
 * A "peer" is a second fc_deflate standing for the client: what one
 * side deflates, the other inflates. Every row goes through whole, then
 * with the compressed bytes split at every position, then one byte at a
 * time; the output must not depend on how the input was cut.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "session_deflate.h"
#include "tap.h"

#define NELEMS(a)	(sizeof(a) / sizeof((a)[0]))
/* the session's input high-water mark with the default settings */
#define LIMIT		65536

/* Compresses text as the server does, with a sync flush at the end. */
static struct evbuffer *
squeeze(struct fc_deflate *d, const void *text, size_t len)
{
	struct evbuffer *src = evbuffer_new(), *wire = evbuffer_new();

	evbuffer_add(src, text, len);
	if (fc_deflate_deflate(d, src, wire, SIZE_MAX, true) < 0)
		diag("deflate failed");
	evbuffer_free(src);
	return wire;
}

/*
 * Inflates the bytes in pieces: the first at most `first` bytes (at
 * least one), then
 * `step` at a time (0: all the rest). Returns the inflated text
 * (NUL-terminated, its length in *len_r) or NULL on a stream error.
 */
static char *
unsqueeze(const unsigned char *wire, size_t wlen, size_t first, size_t step,
    size_t *len_r)
{
	struct fc_deflate *d = fc_deflate_new();
	struct evbuffer *src = evbuffer_new(), *dst = evbuffer_new();
	size_t pos = 0, n;
	const char *why;
	char *out = NULL;
	bool failed = false;

	while (pos < wlen && !failed) {
		n = pos == 0 ? first : step == 0 ? wlen - pos : step;
		if (n == 0)
			n = 1;
		if (n > wlen - pos)
			n = wlen - pos;
		evbuffer_add(src, wire + pos, n);
		pos += n;
		do {
			if (fc_deflate_inflate(d, src, dst, LIMIT, &why) < 0)
				failed = true;
		} while (!failed && fc_deflate_inflate_pending(d));
		if (!failed && evbuffer_get_length(src) != 0) {
			diag("input left after inflate");
			failed = true;
		}
	}
	if (!failed) {
		*len_r = evbuffer_get_length(dst);
		out = malloc(*len_r + 1);
		evbuffer_remove(dst, out, *len_r);
		out[*len_r] = '\0';
	}
	evbuffer_free(src);
	evbuffer_free(dst);
	fc_deflate_free(&d);
	return out;
}

static char *
make_headers(unsigned int count, size_t *len_r)
{
	size_t cap = (size_t)count * 400 + 1, len = 0;
	char *p = malloc(cap);
	unsigned int i;

	for (i = 1; i <= count; i++)
		len += (size_t)snprintf(p + len, cap - len,
		    "* %u FETCH (UID %u BODY[HEADER] {200}\r\n"
		    "From: Sender <sender@example.net>\r\n"
		    "To: <someone@example.org>\r\nSubject: message %u\r\n"
		    "Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
		    "Message-ID: <%u.%u@example.net>\r\n\r\n)\r\n",
		    i, i + 1000, i, i * 7919, i);
	*len_r = len;
	return p;
}

static char *
make_random(size_t len)
{
	char *p = malloc(len);
	uint32_t x = 2463534242u;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (char)(x >> 24);
	}
	return p;
}

static void
test_round_trips(void)
{
	static const struct {
		const char *name;
		const char *text;
	} rows[] = {
		{ "one byte", "a" },
		{ "a tagged line", "a1 OK LOGIN completed\r\n" },
		{ "pipelined commands", "a SELECT INBOX\r\n"
		  "b FETCH 1:* FLAGS\r\nc IDLE\r\nDONE\r\n" },
		{ "a literal", "a LOGIN {5}\r\nuser1 {3}\r\npw!\r\n" },
	};
	size_t i, len, wlen;
	char *big, *out;
	struct fc_deflate *d;
	struct evbuffer *wire;
	unsigned char *w;

	for (i = 0; i < NELEMS(rows); i++) {
		d = fc_deflate_new();
		wire = squeeze(d, rows[i].text, strlen(rows[i].text));
		wlen = evbuffer_get_length(wire);
		w = evbuffer_pullup(wire, -1);
		out = unsqueeze(w, wlen, wlen, 0, &len);
		ok(out != NULL && len == strlen(rows[i].text) &&
		    memcmp(out, rows[i].text, len) == 0, "%s: round trip",
		    rows[i].name);
		/* a sync flush ends with an empty stored block */
		ok(wlen >= 4 && memcmp(w + wlen - 4, "\0\0\377\377", 4) == 0,
		    "%s: ends in a sync flush", rows[i].name);
		free(out);
		evbuffer_free(wire);
		fc_deflate_free(&d);
	}

	/* 300 FETCH header answers: compress well, survive exactly */
	big = make_headers(300, &len);
	d = fc_deflate_new();
	wire = squeeze(d, big, len);
	wlen = evbuffer_get_length(wire);
	out = unsqueeze(evbuffer_pullup(wire, -1), wlen, wlen, 0, &i);
	ok(out != NULL && i == len && memcmp(out, big, len) == 0,
	    "300 headers: round trip");
	ok(wlen * 4 < len, "300 headers: %zu bytes to %zu", len, wlen);
	diag("300 FETCH headers: %zu bytes, %zu compressed (%.1f%%); zlib "
	    "holds %zu bytes after deflate", len, wlen, 100.0 * (double)wlen /
	    (double)len, fc_deflate_memory(d));
	free(out);
	free(big);
	evbuffer_free(wire);
	fc_deflate_free(&d);

	/* incompressible bytes take more than a chunk of output */
	big = make_random(200000);
	d = fc_deflate_new();
	wire = squeeze(d, big, 200000);
	wlen = evbuffer_get_length(wire);
	out = unsqueeze(evbuffer_pullup(wire, -1), wlen, wlen, 0, &i);
	ok(out != NULL && i == 200000 && memcmp(out, big, i) == 0,
	    "200 kB of random bytes: round trip (%zu on the wire)", wlen);
	free(out);
	free(big);
	evbuffer_free(wire);
	fc_deflate_free(&d);
}

/* The compressed bytes split at every position, and byte by byte. */
static void
test_splits(void)
{
	struct fc_deflate *d = fc_deflate_new();
	struct evbuffer *src = evbuffer_new(), *wire = evbuffer_new();
	size_t len, wlen, k, got, bad = 0;
	char *text = make_headers(12, &len), *out;
	unsigned char *w;
	unsigned int piece;

	/* several flushes in one stream, as a session writes its answers */
	for (piece = 0; piece < 4; piece++) {
		evbuffer_add(src, text + piece * len / 4,
		    (piece + 1) * len / 4 - piece * len / 4);
		fc_deflate_deflate(d, src, wire, SIZE_MAX, true);
	}
	ok(!fc_deflate_unflushed(d), "nothing left unflushed");
	wlen = evbuffer_get_length(wire);
	w = evbuffer_pullup(wire, -1);
	for (k = 1; k < wlen; k++) {
		out = unsqueeze(w, wlen, k, 0, &got);
		if (out == NULL || got != len || memcmp(out, text, len) != 0)
			bad++;
		free(out);
	}
	is_int((long long)bad, 0, "split at each of %zu positions", wlen - 1);
	out = unsqueeze(w, wlen, 1, 1, &got);
	ok(out != NULL && got == len && memcmp(out, text, len) == 0,
	    "one byte at a time");
	free(out);
	free(text);
	evbuffer_free(src);
	evbuffer_free(wire);
	fc_deflate_free(&d);
}

/* Output is limited while deflating without a flush, and complete with
 * one. */
static void
test_deflate_limit(void)
{
	struct fc_deflate *d = fc_deflate_new();
	struct evbuffer *src = evbuffer_new(), *wire = evbuffer_new();
	char *rnd = make_random(100000), *out;
	ssize_t n;
	size_t got;

	evbuffer_add(src, rnd, 100000);
	n = fc_deflate_deflate(d, src, wire, 1000, false);
	ok(n >= 0 && n <= 1000, "no flush: at most the limit (%zd)", n);
	ok(evbuffer_get_length(src) > 0, "no flush: the rest waits");
	ok(fc_deflate_unflushed(d), "no flush: unflushed");
	fc_deflate_deflate(d, src, wire, 1000, true);
	is_int((long long)evbuffer_get_length(src), 0, "flush: all taken");
	out = unsqueeze(evbuffer_pullup(wire, -1), evbuffer_get_length(wire),
	    evbuffer_get_length(wire), 0, &got);
	ok(out != NULL && got == 100000 && memcmp(out, rnd, got) == 0,
	    "flush: all of it inflates");
	free(out);
	free(rnd);
	evbuffer_free(src);
	evbuffer_free(wire);
	fc_deflate_free(&d);
}

/* 64 MiB of zeros in ~64 KiB of input: inflate never passes its limit. */
static void
test_bomb(void)
{
	const size_t total = 64u << 20, limit = 4096;
	struct fc_deflate *in = fc_deflate_new();
	struct evbuffer *src, *dst = evbuffer_new();
	unsigned char *zeros = calloc(1, 1 << 20);
	unsigned char *wire;
	z_stream z;
	size_t wlen, sum = 0, most = 0, i, calls = 0;
	const char *why;
	ssize_t n;
	bool bad = false;

	/* a client compressing with everything zlib has: level 9 */
	memset(&z, 0, sizeof(z));
	deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY);
	wlen = deflateBound(&z, total);
	wire = malloc(wlen);
	z.next_out = wire;
	z.avail_out = (uInt)wlen;
	for (i = 0; i < 64; i++) {
		z.next_in = zeros;
		z.avail_in = 1 << 20;
		deflate(&z, i == 63 ? Z_SYNC_FLUSH : Z_NO_FLUSH);
	}
	wlen = z.total_out;
	deflateEnd(&z);

	src = evbuffer_new();
	evbuffer_add(src, wire, wlen);
	do {
		n = fc_deflate_inflate(in, src, dst, limit, &why);
		if (n < 0 || (size_t)n > limit ||
		    evbuffer_get_length(dst) > limit)
			bad = true;
		if (evbuffer_get_length(dst) > most)
			most = evbuffer_get_length(dst);
		sum += evbuffer_get_length(dst);
		evbuffer_drain(dst, evbuffer_get_length(dst));
		calls++;
	} while (!bad && n > 0);
	ok(!bad, "bomb: no call passed the %zu byte limit", limit);
	is_int((long long)sum, (long long)total, "bomb: %zu bytes from %zu "
	    "in %zu calls", total, wlen, calls);
	/* both directions: the inflate window is the client's 32 KiB,
	 * our deflate side is sized in session_deflate.c */
	ok(fc_deflate_memory_peak(in) < 80 * 1024,
	    "bomb: zlib's memory for both directions peaks at %zu bytes",
	    fc_deflate_memory_peak(in));
	evbuffer_free(src);
	evbuffer_free(dst);
	free(wire);
	free(zeros);
	fc_deflate_free(&in);
}

static void
test_corrupt(void)
{
	static const struct {
		const char *name;
		const char *bytes;
		size_t len;
		bool error;
	} rows[] = {
		/* block type 3 does not exist */
		{ "reserved block type", "\xff\xff\xff\xff", 4, true },
		{ "stored length mismatch", "\x00\x05\x00\x00\x00", 5, true },
		/* a whole stream with its final block: nothing may follow */
		{ "final block", "\x03\x00", 2, true },
		{ "a partial block is no error", "\x00\x05\x00", 3, false },
		{ "nothing", "", 0, false },
	};
	struct fc_deflate *d;
	struct evbuffer *src, *dst;
	const char *why = NULL;
	ssize_t n, again;
	size_t i;

	for (i = 0; i < NELEMS(rows); i++) {
		d = fc_deflate_new();
		src = evbuffer_new();
		dst = evbuffer_new();
		evbuffer_add(src, rows[i].bytes, rows[i].len);
		n = fc_deflate_inflate(d, src, dst, LIMIT, &why);
		ok((n < 0) == rows[i].error, "%s: %s", rows[i].name,
		    n < 0 ? why : "no error");
		if (rows[i].error) {
			evbuffer_add(src, "a", 1);
			again = fc_deflate_inflate(d, src, dst, LIMIT, &why);
			ok(again < 0, "%s: and stays an error", rows[i].name);
		}
		evbuffer_free(src);
		evbuffer_free(dst);
		fc_deflate_free(&d);
	}
}

/* ------------------------------------------------------------------ */
/* The filter over a socket pair */

struct pair_test {
	struct event_base *base;
	struct bufferevent *top;	/* the filter, the server's side */
	struct bufferevent *peer;	/* the client's side, raw */
	struct evbuffer *got;		/* the client's inflated input */
	struct fc_deflate *client;
	const char *error;
	unsigned int errors;
};

static void
pair_error(void *arg, const char *why)
{
	struct pair_test *t = arg;

	t->error = why;
	t->errors++;
	event_base_loopbreak(t->base);
}

static void
pair_run(struct pair_test *t)
{
	struct timeval tv = { 0, 200000 };

	event_base_loopexit(t->base, &tv);
	event_base_dispatch(t->base);
}

static void
pair_setup(struct pair_test *t)
{
	struct bufferevent *pair[2];
	struct fc_deflate *d = fc_deflate_new();

	memset(t, 0, sizeof(*t));
	t->base = event_base_new();
	bufferevent_pair_new(t->base, BEV_OPT_CLOSE_ON_FREE, pair);
	t->top = fc_deflate_filter_new(t->base, pair[0], d, pair_error, t);
	t->peer = pair[1];
	t->got = evbuffer_new();
	t->client = fc_deflate_new();
	bufferevent_enable(t->top, EV_READ | EV_WRITE);
	bufferevent_enable(t->peer, EV_READ | EV_WRITE);
	bufferevent_setwatermark(t->top, EV_READ, 0, LIMIT);
}

static void
pair_free(struct pair_test *t)
{
	bufferevent_free(t->top);
	bufferevent_free(t->peer);
	evbuffer_free(t->got);
	fc_deflate_free(&t->client);
	event_base_free(t->base);
}

static void
test_filter(void)
{
	struct pair_test t;
	struct evbuffer *wire, *in;
	const char *why;
	char *text, line[64];
	size_t len, i;

	/* many small writes in one loop turn come out flushed */
	pair_setup(&t);
	text = make_headers(300, &len);
	for (i = 0; i < len; i += 37)
		bufferevent_write(t.top, text + i, len - i < 37 ? len - i : 37);
	pair_run(&t);
	in = bufferevent_get_input(t.peer);
	i = evbuffer_get_length(in);
	while (fc_deflate_inflate(t.client, in, t.got, SIZE_MAX, &why) > 0)
		;
	ok(evbuffer_get_length(t.got) == len && memcmp(evbuffer_pullup(
	    t.got, -1), text, len) == 0, "filter: %zu bytes written in "
	    "pieces arrive flushed (%zu on the wire)", len, i);

	/* input is inflated up to the read high-water mark */
	wire = squeeze(t.client, "a NOOP\r\n", 8);
	bufferevent_write_buffer(t.peer, wire);
	evbuffer_free(wire);
	pair_run(&t);
	in = bufferevent_get_input(t.top);
	len = evbuffer_get_length(in);
	if (len < sizeof(line)) {
		evbuffer_copyout(in, line, len);
		line[len] = '\0';
	} else
		line[0] = '\0';
	is_str(line, "a NOOP\r\n", "filter: input inflated");
	evbuffer_drain(in, len);

	/* a corrupt stream is reported from the loop, once */
	bufferevent_write(t.peer, "\xff\xff\xff\xff", 4);
	pair_run(&t);
	is_int(t.errors, 1, "filter: a corrupt stream is reported (%s)",
	    t.error != NULL ? t.error : "nothing");
	bufferevent_write(t.peer, "more", 4);
	pair_run(&t);
	is_int(t.errors, 1, "filter: reported once");
	free(text);
	pair_free(&t);
}

int
main(void)
{
	plan(34);
	test_round_trips();
	test_splits();
	test_deflate_limit();
	test_bomb();
	test_corrupt();
	test_filter();
	return done();
}
