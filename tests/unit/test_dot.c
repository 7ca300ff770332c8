/*
 * test_dot.c - the SMTP DATA body decoder (dot.c).
 *
 * The rows hold what a client sends after DATA and what must reach the
 * spool file. The end of the body is CRLF "." CRLF and nothing else:
 * rows with a "." line ended or preceded by a bare LF (or CR) are the
 * SMTP smuggling shapes, and must stay content. Every row is also fed in
 * all two-way splits and a byte at a time; the output, the end and the
 * counts must not depend on where the input was cut.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dot.h"
#include "tap.h"

#define NELEMS(a)	(sizeof(a) / sizeof((a)[0]))
#define CANARY		0x5a

static const struct {
	const char *name;
	enum fc_eol eol;
	const char *in;
	size_t inlen;		/* 0: strlen(in) */
	const char *out;
	size_t outlen;		/* 0: strlen(out) */
	bool done;
	size_t used;		/* 0: all of in */
	unsigned int bare_lf, bare_cr, nul, longest;
} cases[] = {
	{ "plain body", FC_EOL_KEEP, "Hello\r\nWorld\r\n.\r\n", 0,
	  "Hello\r\nWorld\r\n", 0, true, 0, 0, 0, 0, 5 },
	{ "empty body", FC_EOL_KEEP, ".\r\n", 0, "", 0, true, 0, 0, 0, 0, 0 },
	{ "no end yet", FC_EOL_KEEP, "abc\r\n", 0, "abc\r\n", 0, false, 0,
	  0, 0, 0, 3 },
	{ "half an end", FC_EOL_KEEP, "abc\r\n.\r", 0, "abc\r\n", 0, false,
	  0, 0, 0, 0, 3 },
	{ "stuffed dot", FC_EOL_KEEP, "..a\r\n.\r\n", 0, ".a\r\n", 0, true,
	  0, 0, 0, 0, 2 },
	{ "stuffed lone dot", FC_EOL_KEEP, "..\r\n.\r\n", 0, ".\r\n", 0,
	  true, 0, 0, 0, 0, 1 },
	{ "stuffed dot, not first line", FC_EOL_KEEP, "a\r\n..b\r\n.\r\n", 0,
	  "a\r\n.b\r\n", 0, true, 0, 0, 0, 0, 2 },
	{ "dot inside a line kept", FC_EOL_KEEP, "a.b.\r\n.\r\n", 0,
	  "a.b.\r\n", 0, true, 0, 0, 0, 0, 4 },
	{ "dot and space is a line", FC_EOL_KEEP, ". \r\n.\r\n", 0, " \r\n",
	  0, true, 0, 0, 0, 0, 1 },
	{ "bytes after the end", FC_EOL_KEEP, "a\r\n.\r\nQUIT\r\n", 0,
	  "a\r\n", 0, true, 6, 0, 0, 0, 1 },
	{ "LF . LF is content", FC_EOL_KEEP, "a\n.\n", 0, "a\n.\n", 0,
	  false, 0, 2, 0, 0, 1 },
	{ "CRLF . LF is content", FC_EOL_KEEP, "a\r\n.\nb\r\n.\r\n", 0,
	  "a\r\n.\nb\r\n", 0, true, 0, 1, 0, 0, 1 },
	{ "LF . CRLF is content", FC_EOL_KEEP, "a\n.\r\nb\r\n.\r\n", 0,
	  "a\n.\r\nb\r\n", 0, true, 0, 1, 0, 0, 1 },
	{ "first line LF . CRLF", FC_EOL_KEEP, ".\n.\r\n", 0, ".\n.\r\n", 0,
	  false, 0, 1, 0, 0, 1 },
	{ "CRLF CR . CRLF is content", FC_EOL_KEEP,
	  "a\r\n\r.\r\nb\r\n.\r\n", 0, "a\r\n\r.\r\nb\r\n", 0, true, 0,
	  0, 1, 0, 2 },
	{ "CR before a stuffed-looking dot", FC_EOL_KEEP,
	  "\r.x\r\n.\r\n", 0, "\r.x\r\n", 0, true, 0, 0, 1, 0, 3 },
	{ "CR before . LF", FC_EOL_KEEP, "\r.\nz\r\n.\r\n", 0,
	  "\r.\nz\r\n", 0, true, 0, 1, 1, 0, 2 },
	{ ". CR x", FC_EOL_KEEP, ".\rx\r\n.\r\n", 0, "\rx\r\n", 0, true, 0,
	  0, 1, 0, 2 },
	{ "bare CR", FC_EOL_KEEP, "a\rb\r\n.\r\n", 0, "a\rb\r\n", 0, true, 0,
	  0, 1, 0, 3 },
	{ "CR CR LF", FC_EOL_KEEP, "a\r\r\n.\r\n", 0, "a\r\r\n", 0, true, 0,
	  0, 1, 0, 2 },
	{ "NUL", FC_EOL_KEEP, "a\0b\r\n.\r\n", 8, "a\0b\r\n", 5, true, 0,
	  0, 0, 1, 3 },
	{ "longest line", FC_EOL_KEEP, "abc\r\nabcdef\r\n\r\n.\r\n", 0,
	  "abc\r\nabcdef\r\n\r\n", 0, true, 0, 0, 0, 0, 6 },
	{ "eol CRLF fixes bare LF", FC_EOL_CRLF, "a\nb\r\n.\r\n", 0,
	  "a\r\nb\r\n", 0, true, 0, 1, 0, 0, 1 },
	{ "eol CRLF, LF . LF", FC_EOL_CRLF, "a\n.\n", 0, "a\r\n.\r\n", 0,
	  false, 0, 2, 0, 0, 1 },
	{ "eol CRLF keeps bare CR", FC_EOL_CRLF, "a\rb\n.\r\n", 0,
	  "a\rb\r\n.\r\n", 0, false, 0, 1, 1, 0, 3 },
	{ "eol LF", FC_EOL_LF, "a\r\nb\r\n.\r\n", 0, "a\nb\n", 0, true, 0,
	  0, 0, 0, 1 },
	{ "eol LF, bare LF", FC_EOL_LF, "a\nb\r\n.\r\n", 0, "a\nb\n", 0,
	  true, 0, 1, 0, 0, 1 },
	{ "eol LF keeps bare CR", FC_EOL_LF, "a\rb\r\n.\r\n", 0, "a\rb\n", 0,
	  true, 0, 0, 1, 0, 3 },
	{ "eol LF, stuffed dot", FC_EOL_LF, "..\r\n.\r\n", 0, ".\n", 0, true,
	  0, 0, 0, 0, 1 },
};

struct result {
	char *out;
	size_t outlen, used;
	bool done;
	bool bounded;		/* every call within 2 * len + 2 */
	struct fc_spool_result counts;
};

/*
 * Decodes in, cut at the given points (cuts[0..ncuts-1], increasing),
 * the way the session feeds it: stop at the end marker.
 */
static void
decode(enum fc_eol eol, const char *in, size_t len, const size_t *cuts,
    size_t ncuts, struct result *r)
{
	struct fc_dot_decoder d;
	size_t start = 0, k;

	memset(r, 0, sizeof(*r));
	r->out = malloc(2 * len + 2 + 1);
	r->bounded = true;
	fc_dot_init(&d, eol);
	for (k = 0; k <= ncuts && !r->done; k++) {
		size_t end = k < ncuts ? cuts[k] : len, n = end - start;
		size_t outlen = 0, used, i;
		char *buf = malloc(2 * n + 2 + 16);
		bool done = false;

		memset(buf, CANARY, 2 * n + 2 + 16);
		used = fc_dot_decode(&d, in + start, n, buf, &outlen, &done);
		if (outlen > 2 * n + 2)
			r->bounded = false;
		for (i = 2 * n + 2; i < 2 * n + 2 + 16; i++)
			if ((unsigned char)buf[i] != CANARY)
				r->bounded = false;
		if (outlen <= 2 * n + 2 && r->outlen + outlen <= 2 * len + 2) {
			memcpy(r->out + r->outlen, buf, outlen);
			r->outlen += outlen;
		} else
			r->bounded = false;
		free(buf);
		r->used += used;
		r->done = done;
		if (!done && used != n)
			r->bounded = false;	/* all must go while not done */
		start = end;
	}
	r->counts = d.counts;
}

static bool
same(const struct result *a, const struct result *b)
{
	return a->outlen == b->outlen && memcmp(a->out, b->out, a->outlen)
	    == 0 && a->done == b->done && a->used == b->used
	    && a->counts.bare_lf == b->counts.bare_lf
	    && a->counts.bare_cr == b->counts.bare_cr
	    && a->counts.nul == b->counts.nul
	    && a->counts.longest_line == b->counts.longest_line
	    && a->counts.received == b->counts.received;
}

static void
test_cases(void)
{
	size_t i;

	for (i = 0; i < NELEMS(cases); i++) {
		size_t len = cases[i].inlen ? cases[i].inlen :
		    strlen(cases[i].in);
		size_t outlen = cases[i].outlen ? cases[i].outlen :
		    strlen(cases[i].out);
		size_t used = cases[i].used ? cases[i].used : len;
		struct result whole, part;
		size_t cut, *cuts, k;
		bool splits_same = true, bounded;

		decode(cases[i].eol, cases[i].in, len, NULL, 0, &whole);
		is_int(whole.done, cases[i].done, "%s: end found or not",
		    cases[i].name);
		if (!ok(whole.outlen == outlen &&
		    memcmp(whole.out, cases[i].out, outlen) == 0,
		    "%s: output", cases[i].name))
			diag("got %zu bytes, want %zu", whole.outlen, outlen);
		is_int((long long)whole.used, (long long)used,
		    "%s: bytes consumed", cases[i].name);
		is_int((long long)whole.counts.received, (long long)used,
		    "%s: received counts them", cases[i].name);
		is_int((long long)whole.counts.bare_lf, cases[i].bare_lf,
		    "%s: bare LF count", cases[i].name);
		is_int((long long)whole.counts.bare_cr, cases[i].bare_cr,
		    "%s: bare CR count", cases[i].name);
		is_int((long long)whole.counts.nul, cases[i].nul,
		    "%s: NUL count", cases[i].name);
		is_int((long long)whole.counts.longest_line, cases[i].longest,
		    "%s: longest line", cases[i].name);
		bounded = whole.bounded;

		/* all two-way splits */
		for (cut = 0; cut <= len; cut++) {
			decode(cases[i].eol, cases[i].in, len, &cut, 1, &part);
			if (!same(&whole, &part)) {
				if (splits_same)
					diag("differs when cut at %zu", cut);
				splits_same = false;
			}
			bounded = bounded && part.bounded;
			free(part.out);
		}
		/* a byte at a time */
		cuts = malloc((len + 1) * sizeof(*cuts));
		for (k = 0; k < len; k++)
			cuts[k] = k + 1;
		decode(cases[i].eol, cases[i].in, len, cuts, len, &part);
		if (!same(&whole, &part)) {
			diag("differs when fed a byte at a time");
			splits_same = false;
		}
		bounded = bounded && part.bounded;
		free(part.out);
		free(cuts);
		ok(splits_same, "%s: same result however it is cut",
		    cases[i].name);
		ok(bounded, "%s: output within 2 * len + 2 on every call",
		    cases[i].name);
		free(whole.out);
	}
}

/*
 * The worst cases for the output bound: one byte in that completes a
 * ". CR" or "." line after a bare LF writes ". CR LF", three bytes.
 */
static void
test_bound(void)
{
	static const struct {
		const char *name;
		enum fc_eol eol;
		const char *before, *last, *want;
	} rows[] = {
		{ "LF after . CR", FC_EOL_KEEP, "a\n.\r", "\n", ".\r\n" },
		{ "LF after .", FC_EOL_CRLF, "a\n.", "\n", ".\r\n" },
		{ "bare LF to CRLF", FC_EOL_CRLF, "a", "\n", "\r\n" },
		{ "x after . CR", FC_EOL_KEEP, ".\r", "x", "\rx" },
	};
	size_t i;

	for (i = 0; i < NELEMS(rows); i++) {
		struct fc_dot_decoder d;
		char out[64];
		size_t outlen;
		bool done;

		fc_dot_init(&d, rows[i].eol);
		fc_dot_decode(&d, rows[i].before, strlen(rows[i].before), out,
		    &outlen, &done);
		memset(out, CANARY, sizeof(out));
		fc_dot_decode(&d, rows[i].last, 1, out, &outlen, &done);
		ok(outlen <= 4 && outlen == strlen(rows[i].want) &&
		    memcmp(out, rows[i].want, outlen) == 0,
		    "bound: %s: one byte in, %zu out", rows[i].name, outlen);
	}
}

/* After the end marker the decoder takes nothing more. */
static void
test_after_end(void)
{
	struct fc_dot_decoder d;
	char out[64];
	size_t outlen, used;
	bool done;

	fc_dot_init(&d, FC_EOL_KEEP);
	used = fc_dot_decode(&d, ".\r\n", 3, out, &outlen, &done);
	ok(done && used == 3, "after end: marker consumed");
	used = fc_dot_decode(&d, "MAIL\r\n", 6, out, &outlen, &done);
	is_int((long long)used, 0, "after end: later bytes not consumed");
	is_int((long long)outlen, 0, "after end: nothing written");
	ok(done, "after end: still done");
}

int
main(void)
{
	test_cases();
	test_bound();
	test_after_end();
	return done();
}
