/*
 * test_line.c - line framing over a libevent buffer (line.c).
 *
 * Each row is fed to the framer three ways: in the chunks the row gives
 * (split at '|'), all at once, and one byte at a time; the three must
 * give the same lines. What the framer reports is written as [line] for
 * a line and ! for an over-long one, with CR and NUL shown as \r and \0.
 * The caller loop below is the one the session code runs: call, use,
 * drain, and stop when there is nothing to drain and no line.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "line.h"
#include "tap.h"

#define NELEMS(a)	(sizeof(a) / sizeof((a)[0]))

struct events {
	char buf[4096];
	size_t len;
	bool bad;		/* a promise of line.h was broken */
	size_t peak;		/* largest buffer seen before a call */
	size_t kept;		/* largest buffer left after framing */
};

static void
events_add(struct events *ev, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && ev->len + 3 < sizeof(ev->buf); i++) {
		if (s[i] == '\r') {
			ev->buf[ev->len++] = '\\';
			ev->buf[ev->len++] = 'r';
		} else if (s[i] == '\0') {
			ev->buf[ev->len++] = '\\';
			ev->buf[ev->len++] = '0';
		} else
			ev->buf[ev->len++] = s[i];
	}
	ev->buf[ev->len] = '\0';
}

/* Runs the framer over what the buffer holds, as session.c does. */
static void
frame(struct fc_line_framer *f, struct evbuffer *in, struct events *ev)
{
	for (;;) {
		enum fc_line_status st;
		size_t len = 0, drain = 0, avail;
		char *line = NULL;

		avail = evbuffer_get_length(in);
		if (avail > ev->peak)
			ev->peak = avail;
		st = fc_line_next(f, in, &line, &len, &drain);
		if (drain > avail)
			ev->bad = true;
		if (st == FC_LINE_OK) {
			if (line == NULL || len > f->max || line[len] != '\0'
			    || memchr(line, '\n', len) != NULL
			    || drain < len + 1)
				ev->bad = true;
			else {
				events_add(ev, "[", 1);
				events_add(ev, line, len);
				events_add(ev, "]", 1);
			}
		} else if (st == FC_LINE_TOO_LONG)
			events_add(ev, "!", 1);
		evbuffer_drain(in, drain);
		if (st == FC_LINE_NONE && drain == 0)
			break;
	}
	if (evbuffer_get_length(in) > ev->kept)
		ev->kept = evbuffer_get_length(in);
}

static void
feed(struct fc_line_framer *f, struct evbuffer *in, struct events *ev,
    const char *data, size_t n)
{
	evbuffer_add(in, data, n);
	frame(f, in, ev);
}

/* chunking: 0 as the row says, 1 all at once, 2 a byte at a time */
static void
run(const char *input, size_t max, int chunking, struct events *ev)
{
	struct fc_line_framer f = { .max = max, .skipping = false };
	struct evbuffer *in = evbuffer_new();
	const char *p = input, *bar;

	memset(ev, 0, sizeof(*ev));
	if (chunking == 0) {
		while ((bar = strchr(p, '|')) != NULL) {
			feed(&f, in, ev, p, (size_t)(bar - p));
			p = bar + 1;
		}
		feed(&f, in, ev, p, strlen(p));
	} else {
		char whole[1024];
		size_t n = 0, i;

		for (; *p != '\0' && n < sizeof(whole); p++)
			if (*p != '|')
				whole[n++] = *p;
		if (chunking == 1)
			feed(&f, in, ev, whole, n);
		else
			for (i = 0; i < n; i++)
				feed(&f, in, ev, whole + i, 1);
	}
	evbuffer_free(in);
}

static const struct {
	const char *name, *input;
	size_t max;
	const char *want;
} cases[] = {
	{ "CRLF",			"abc\r\n",		5, "[abc]" },
	{ "LF",				"abc\n",		5, "[abc]" },
	{ "empty lines",		"\r\n\n",		5, "[][]" },
	{ "no end of line yet",		"abc",			5, "" },
	{ "CR without LF yet",		"abc\r",		5, "" },
	{ "split in three",		"ab|c\r|\n",		5, "[abc]" },
	{ "split between CR and LF",	"abc\r|\ndef\n",	5,
	  "[abc][def]" },
	{ "several in one chunk",	"a\nb\r\nc",		5, "[a][b]" },
	{ "rest completed later",	"a\nb|c\n",		5, "[a][bc]" },
	{ "bare CR kept",		"a\rb\n",		5, "[a\\rb]" },
	{ "only the last CR goes",	"ab\r\r\n",		5, "[ab\\r]" },
	{ "exactly max, CRLF",		"12345\r\n",		5, "[12345]" },
	{ "exactly max, LF",		"12345\n",		5, "[12345]" },
	{ "exactly max, CR then LF",	"12345\r|\n",		5, "[12345]" },
	{ "exactly max, LF late",	"12345|\n",		5, "[12345]" },
	{ "max+1, LF in buffer",	"123456\nok\n",		5, "![ok]" },
	{ "max+1, CRLF in buffer",	"123456\r\nok\r\n",	5, "![ok]" },
	{ "max+1, LF later",		"123456|\n|ok\n",	5, "![ok]" },
	{ "max+1 with CR, LF later",	"123456\r|\nok\n",	5, "![ok]" },
	{ "max+2 without LF",		"1234567|\nok\n",	5, "![ok]" },
	{ "CR in place of a byte",	"12345\r|x\nok\n",	5, "![ok]" },
	{ "long, LF in pieces later",	"1234567|89|0|\r\nok\n", 5, "![ok]" },
	{ "long, LF much later",	"1234567890abc|def|ghi|\n|ok\n", 5,
	  "![ok]" },
	{ "long, rest and next line",	"1234567890|abc\nok\n",	5, "![ok]" },
	{ "two long lines",		"1234567890\n1234567890\nz\n", 5,
	  "!![z]" },
	{ "long, then short, then long", "1234567\na\n12345678\nb\n", 5,
	  "![a]![b]" },
	{ "long line, nothing after",	"1234567890",		5, "!" },
	{ "max 0: empty line",		"\r\n\n",		0, "[][]" },
	{ "max 0: one byte",		"a\nb\r\n\n",		0, "!![]" },
	{ "max 1",			"a\nbc\nd\r\n",		1, "[a]![d]" },
};

static void
test_cases(void)
{
	static const char *const how[] = {
		"as given", "at once", "byte by byte"
	};
	size_t i;
	int c;

	for (i = 0; i < NELEMS(cases); i++) {
		for (c = 0; c < 3; c++) {
			struct events ev;

			run(cases[i].input, cases[i].max, c, &ev);
			ok(!ev.bad, "%s, %s: framer kept its promises",
			    cases[i].name, how[c]);
			is_str(ev.buf, cases[i].want, "%s, %s", cases[i].name,
			    how[c]);
			/* between chunks only the start of a line that
			 * may still fit stays buffered */
			ok(ev.kept <= cases[i].max + 1,
			    "%s, %s: at most max + 1 bytes kept (%zu)",
			    cases[i].name, how[c], ev.kept);
		}
	}
}

/* A 1 MB line in 4 KB pieces: skipped whole, memory stays bounded. */
static void
test_huge_line(void)
{
	struct fc_line_framer f = { .max = 1000, .skipping = false };
	struct evbuffer *in = evbuffer_new();
	struct events ev;
	char chunk[4096];
	size_t fed;

	memset(&ev, 0, sizeof(ev));
	memset(chunk, 'x', sizeof(chunk));
	feed(&f, in, &ev, "first\r\n", 7);
	for (fed = 0; fed < 1024 * 1024; fed += sizeof(chunk)) {
		feed(&f, in, &ev, chunk, sizeof(chunk));
	}
	feed(&f, in, &ev, "\r\nnext\r\n", 8);
	ok(ev.kept <= f.max + 1,
	    "1 MB line: at most max + 1 bytes kept between chunks (%zu)",
	    ev.kept);
	ok(ev.peak <= f.max + 2 + sizeof(chunk),
	    "1 MB line: buffer never above max + 2 + chunk (%zu)", ev.peak);
	ok(!ev.bad, "1 MB line: framer kept its promises");
	is_str(ev.buf, "[first]![next]", "1 MB line: reported once, skipped");
	is_int((long long)evbuffer_get_length(in), 0, "1 MB line: all used");
	evbuffer_free(in);
}

/* A line may hold NULs: the length tells, not strlen. */
static void
test_nul(void)
{
	struct fc_line_framer f = { .max = 10, .skipping = false };
	struct evbuffer *in = evbuffer_new();
	enum fc_line_status st;
	size_t len = 0, drain = 0;
	char *line = NULL;

	evbuffer_add(in, "a\0b\0\r\nz", 7);
	st = fc_line_next(&f, in, &line, &len, &drain);
	is_int(st, FC_LINE_OK, "NUL: a line");
	is_int((long long)len, 4, "NUL: length counts the NULs");
	ok(line != NULL && memcmp(line, "a\0b\0", 5) == 0,
	    "NUL: bytes kept, then NUL-terminated");
	is_int((long long)drain, 6, "NUL: drain covers the CRLF");
	evbuffer_drain(in, drain);
	st = fc_line_next(&f, in, &line, &len, &drain);
	is_int(st, FC_LINE_NONE, "NUL: then nothing yet");
	is_int((long long)drain, 0, "NUL: and nothing to drain");
	evbuffer_free(in);
}

int
main(void)
{
	test_cases();
	test_huge_line();
	test_nul();
	return done();
}
