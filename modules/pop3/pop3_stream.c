/*
 * pop3_stream.c - a stored message as RETR and TOP send it (RFC 1939
 * section 3): every line ends in CRLF, a line that starts with "." gets
 * one more, and the answer ends with ".\r\n".
 *
 * Stores keep line ends as they like (maildir: LF), so a LF not after a
 * CR becomes CRLF and a CRLF stays as it is; a CR alone inside a line
 * is left alone. Every other byte passes unchanged, NULs and 8-bit
 * included: a client checking sizes or signatures must see what was
 * delivered. The converter works on pieces of any size and keeps its
 * state between them, so a message of any size is sent in small chunks
 * read from its file and never sits whole in memory.
 *
 * TOP n sends the header, the empty line after it, and n lines of the
 * body; a message without an empty line is all header.
 */
#include "config.h"

#include <string.h>

#include "pop3.h"

void
pop3_stream_init(struct pop3_stream *st, bool limited, uint64_t body_lines)
{
	st->line_start = true;
	st->cr = false;
	st->blank = true;
	st->in_body = false;
	st->limited = limited;
	st->done = false;
	st->lines_left = body_lines;
}

/* A line has ended; true when TOP has sent what it must. */
static bool
pop3_stream_eol(struct pop3_stream *st)
{
	bool was_blank = st->blank;

	st->line_start = true;
	st->blank = true;
	if (!st->in_body) {
		if (was_blank)
			st->in_body = true;
		return st->in_body && st->limited && st->lines_left == 0;
	}
	if (!st->limited)
		return false;
	if (st->lines_left > 0)
		st->lines_left--;
	return st->lines_left == 0;
}

size_t
pop3_stream_convert(struct pop3_stream *st, const char *in, size_t len,
    char *out, size_t *outlen_r)
{
	size_t i = 0, o = 0;

	while (i < len && !st->done) {
		char c = in[i];

		if (c == '\n') {
			if (!st->cr)
				out[o++] = '\r';
			out[o++] = '\n';
			st->cr = false;
			st->done = pop3_stream_eol(st);
			i++;
			continue;
		}
		if (st->line_start) {
			if (c == '.')
				out[o++] = '.';
			out[o++] = c;
			st->line_start = false;
			st->cr = c == '\r';
			if (c != '\r')
				st->blank = false;
			i++;
			continue;
		}
		/* inside a line: copy up to its end in one go (this is
		 * where a large message spends its time) */
		{
			const char *nl = memchr(in + i, '\n', len - i);
			size_t n = (nl != NULL ? (size_t)(nl - in) : len) - i;
			size_t k;

			memcpy(out + o, in + i, n);
			if (st->blank)
				for (k = 0; k < n && st->blank; k++)
					if (in[i + k] != '\r')
						st->blank = false;
			st->cr = in[i + n - 1] == '\r';
			o += n;
			i += n;
		}
	}
	*outlen_r = o;
	return i;
}

size_t
pop3_stream_finish(struct pop3_stream *st, char *out)
{
	size_t o = 0;

	if (!st->line_start) {
		/* a CR already sent only needs its LF */
		if (!st->cr)
			out[o++] = '\r';
		out[o++] = '\n';
		st->line_start = true;
		st->cr = false;
	}
	out[o++] = '.';
	out[o++] = '\r';
	out[o++] = '\n';
	return o;
}
