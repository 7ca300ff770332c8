/*
 * fuzz_pop3_cmd.c - libFuzzer target for the POP3 module's command
 * parser and message conversion (modules/pop3/pop3_parse.c,
 * pop3_stream.c).
 *
 * The input is parsed as a command line both ways (split and whole),
 * and its arguments as numbers; what comes back must hang together:
 * arguments are non-empty words without spaces inside the line, rest
 * points inside it, a number is digits only and fits 32 bits. Then the
 * input is sent as a stored message, cut where its first byte says:
 * undoing the stuffing and the line ends of the output must give back
 * the input (with CRLF for every line end), the output must end in
 * CRLF "." CRLF and hold no other line that is "." alone; TOP must give
 * a prefix of RETR.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_check(bool cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_pop3_cmd: %s\n", what);
		abort();
	}
}

static void
fuzz_parse(const uint8_t *data, size_t size, bool split)
{
	struct pop3_cmdline c;
	char *line = malloc(size + 1);
	unsigned int i;
	uint32_t n;

	memcpy(line, data, size);
	line[size] = '\0';
	if (pop3_parse_line(line, size, split, &c) == 0) {
		fuzz_check(strlen(line) <= size && c.rest >= line
		    && c.rest <= line + size, "rest outside the line");
		fuzz_check(split || c.argc == 0, "whole rest was split");
		for (i = 0; i < c.argc; i++) {
			fuzz_check(*c.argv[i] != '\0' && strchr(c.argv[i], ' ')
			    == NULL, "bad argument");
			if (pop3_parse_number(c.argv[i], &n) == 0)
				fuzz_check(strspn(c.argv[i], "0123456789")
				    == strlen(c.argv[i]), "number with junk");
		}
	} else
		fuzz_check(size == 0 || memchr(data, '\0', size) != NULL,
		    "a line without NUL refused");
	free(line);
}

/* The output of one conversion; *len_r its length. */
static char *
fuzz_convert(const uint8_t *data, size_t size, size_t step, bool top,
    uint64_t lines, size_t *len_r)
{
	struct pop3_stream st;
	char *out = malloc(2 * size + 8);
	size_t i = 0, o = 0, n, used;

	pop3_stream_init(&st, top, lines);
	while (i < size && !st.done) {
		size_t piece = size - i < step ? size - i : step;

		used = pop3_stream_convert(&st, (const char *)data + i, piece,
		    out + o, &n);
		fuzz_check(n <= 2 * piece, "output over twice the input");
		o += n;
		i += used;
	}
	o += pop3_stream_finish(&st, out + o);
	*len_r = o;
	return out;
}

static void
fuzz_stream(const uint8_t *data, size_t size)
{
	size_t step = size > 0 ? (size_t)data[0] % 17 + 1 : 1;
	size_t len, tlen, i, o = 0, start;
	char *out, *top, *back, *want;
	size_t wlen = 0;

	out = fuzz_convert(data, size, step, false, 0, &len);
	fuzz_check(len >= 3 && memcmp(out + len - 3, ".\r\n", 3) == 0
	    && (len == 3 || (len >= 5 && out[len - 5] == '\r'
	    && out[len - 4] == '\n')), "no end marker");
	/* undo: lines of the output, a leading "." dropped */
	back = malloc(len + 1);
	for (start = 0; start < len - 3; ) {
		const char *nl = memchr(out + start, '\n', len - 3 - start);
		size_t end = (size_t)(nl - out) + 1;

		fuzz_check(nl != NULL && nl > out + start && nl[-1] == '\r',
		    "a line not ended by CRLF");
		fuzz_check(!(end - start == 3 && out[start] == '.'),
		    "a lone \".\" inside the message");
		if (out[start] == '.') {
			fuzz_check(end - start > 3 && out[start + 1] == '.',
			    "a line starting with one \".\"");
			start++;
		}
		memcpy(back + o, out + start, end - start);
		o += end - start;
		start = end;
	}
	/* the input with CRLF line ends, and an end added if missing */
	want = malloc(2 * size + 3);
	for (i = 0; i < size; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			want[wlen++] = '\r';
		want[wlen++] = (char)data[i];
	}
	if (size > 0 && data[size - 1] != '\n') {
		if (data[size - 1] != '\r')
			want[wlen++] = '\r';
		want[wlen++] = '\n';
	}
	fuzz_check(o == wlen && memcmp(back, want, o) == 0,
	    "the output does not give the input back");
	top = fuzz_convert(data, size, step, true, size > 1 ? data[1] % 5 : 0,
	    &tlen);
	fuzz_check(tlen <= len && memcmp(top, out, tlen - 3) == 0,
	    "TOP is not a prefix of RETR");
	free(out);
	free(top);
	free(back);
	free(want);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	fuzz_parse(data, size, true);
	fuzz_parse(data, size, false);
	fuzz_stream(data, size);
	return 0;
}
