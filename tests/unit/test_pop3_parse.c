/*
 * test_pop3_parse.c - POP3 command lines, numbers, and the conversion of
 * stored messages for RETR and TOP (modules/pop3/pop3_parse.c and
 * pop3_stream.c, compiled into this test).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop3.h"
#include "tap.h"

#define NELEMS(a)	(sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *line;
	bool split;
	int ret;
	enum pop3_verb verb;
	unsigned int argc;
	const char *arg0, *arg1, *rest;
	bool too_many;
} lines[] = {
	{ "STAT", true, 0, POP3_V_STAT, 0, NULL, NULL, "", false },
	{ "stat", true, 0, POP3_V_STAT, 0, NULL, NULL, "", false },
	{ "RETR 1", true, 0, POP3_V_RETR, 1, "1", NULL, "1", false },
	{ "TOP 1 10", true, 0, POP3_V_TOP, 2, "1", "10", "1", false },
	{ "list   2  ", true, 0, POP3_V_LIST, 1, "2", NULL, "  2", false },
	{ "RETR 1 2 3", true, 0, POP3_V_RETR, 2, "1", "2", "1", true },
	{ "PASS  a b ", false, 0, POP3_V_PASS, 0, NULL, NULL, " a b ", false },
	{ "AUTH PLAIN AGFsaWNl", false, 0, POP3_V_AUTH, 0, NULL, NULL,
	  "PLAIN AGFsaWNl", false },
	{ "RETRX 1", true, 0, POP3_V_UNKNOWN, 1, "1", NULL, "1", false },
	{ "RET", true, 0, POP3_V_UNKNOWN, 0, NULL, NULL, "", false },
	{ "\tSTAT", true, 0, POP3_V_UNKNOWN, 0, NULL, NULL, "", false },
	{ " STAT", true, 0, POP3_V_UNKNOWN, 1, "STAT", NULL, "STAT", false },
	{ "", true, -1, POP3_V_UNKNOWN, 0, NULL, NULL, NULL, false },
};

static const struct {
	const char *s;
	int ret;
	uint32_t n;
} numbers[] = {
	{ "1", 0, 1 }, { "0", 0, 0 }, { "007", 0, 7 },
	{ "4294967295", 0, 4294967295u }, { "4294967296", -1, 0 },
	{ "99999999999999999999999", -1, 0 }, { "", -1, 0 }, { "-1", -1, 0 },
	{ "+1", -1, 0 }, { "1a", -1, 0 }, { " 1", -1, 0 }, { "0x10", -1, 0 },
};

/* stored message, TOP lines (-1: RETR), what goes on the wire; lengths
 * when the text holds a NUL */
static const struct {
	const char *name, *in;
	long top;
	const char *out;
	size_t inlen, outlen;
} streams[] = {
	{ "LF to CRLF", "a\nb\n", -1, "a\r\nb\r\n.\r\n", 0, 0 },
	{ "CRLF kept", "a\r\nb\r\n", -1, "a\r\nb\r\n.\r\n", 0, 0 },
	{ "dots stuffed", ".\n..\n.x\nx.\n", -1,
	  "..\r\n...\r\n..x\r\nx.\r\n.\r\n", 0, 0 },
	{ "no final line end", "a\nlast", -1, "a\r\nlast\r\n.\r\n", 0, 0 },
	{ "final bare CR", "a\r", -1, "a\r\n.\r\n", 0, 0 },
	{ "bare CR inside", "a\rb\n", -1, "a\rb\r\n.\r\n", 0, 0 },
	{ "empty message", "", -1, ".\r\n", 0, 0 },
	{ "NUL and 8-bit", "\0\xff\n", -1, "\0\xff\r\n.\r\n", 3, 7 },
	{ "TOP 0", "H: 1\n\nb1\nb2\n", 0, "H: 1\r\n\r\n.\r\n", 0, 0 },
	{ "TOP 1", "H: 1\n\nb1\nb2\n", 1, "H: 1\r\n\r\nb1\r\n.\r\n", 0, 0 },
	{ "TOP past the end", "H: 1\n\nb1\n", 5,
	  "H: 1\r\n\r\nb1\r\n.\r\n", 0, 0 },
	{ "TOP stuffs", "H: 1\n\n.b1\nb2\n", 1,
	  "H: 1\r\n\r\n..b1\r\n.\r\n", 0, 0 },
	{ "TOP CRLF blank line", "H: 1\r\n\r\nb1\r\nb2\r\n", 1,
	  "H: 1\r\n\r\nb1\r\n.\r\n", 0, 0 },
	{ "TOP all header", "H: 1\nH: 2\n", 0,
	  "H: 1\r\nH: 2\r\n.\r\n", 0, 0 },
};

/* Converts in, cut into pieces of step bytes, to out; its length. */
static size_t
convert(const char *in, size_t len, long top, size_t step, char *out)
{
	struct pop3_stream st;
	size_t i = 0, o = 0, n, used;

	pop3_stream_init(&st, top >= 0, top >= 0 ? (uint64_t)top : 0);
	while (i < len && !st.done) {
		size_t piece = len - i < step ? len - i : step;

		used = pop3_stream_convert(&st, in + i, piece, out + o, &n);
		o += n;
		i += used;
	}
	o += pop3_stream_finish(&st, out + o);
	return o;
}

int
main(void)
{
	struct pop3_cmdline c;
	char buf[256], out[256];
	static const size_t steps[] = { 1, 3, 1024 };
	size_t i, k;

	plan((int)(NELEMS(lines) * 2 + NELEMS(numbers) + NELEMS(streams) * 3
	    + 2));

	for (i = 0; i < NELEMS(lines); i++) {
		int r;

		snprintf(buf, sizeof(buf), "%s", lines[i].line);
		r = pop3_parse_line(buf, strlen(lines[i].line), lines[i].split,
		    &c);
		is_int(r, lines[i].ret, "%s: result", lines[i].line);
		if (r < 0) {
			ok(true, "%s: refused", lines[i].line);
			continue;
		}
		ok(c.verb == lines[i].verb && c.argc == lines[i].argc
		    && c.too_many == lines[i].too_many
		    && (lines[i].arg0 == NULL
		    || strcmp(c.argv[0], lines[i].arg0) == 0)
		    && (lines[i].arg1 == NULL
		    || strcmp(c.argv[1], lines[i].arg1) == 0)
		    && strcmp(c.rest, lines[i].rest) == 0,
		    "%s: verb, arguments, rest", lines[i].line);
	}
	memcpy(buf, "NO\0OP", 6);
	is_int(pop3_parse_line(buf, 5, true, &c), -1, "a NUL refuses the line");
	is_int(pop3_verb_lookup("top", 3), POP3_V_TOP, "verbs in any case");

	for (i = 0; i < NELEMS(numbers); i++) {
		uint32_t n = 12345;
		int r = pop3_parse_number(numbers[i].s, &n);

		ok(r == numbers[i].ret && (r < 0 || n == numbers[i].n),
		    "number \"%s\"", numbers[i].s);
	}

	for (i = 0; i < NELEMS(streams); i++) {
		size_t len = streams[i].inlen != 0 ? streams[i].inlen :
		    strlen(streams[i].in);
		size_t wlen = streams[i].outlen != 0 ? streams[i].outlen :
		    strlen(streams[i].out);

		for (k = 0; k < NELEMS(steps); k++) {
			size_t n = convert(streams[i].in, len, streams[i].top,
			    steps[k], out);

			ok(n == wlen && memcmp(out, streams[i].out, n) == 0,
			    "%s, pieces of %zu", streams[i].name, steps[k]);
		}
	}
	return done();
}
