/*
 * dot.c - the SMTP DATA body decoder (RFC 5321 sections 4.1.1.4, 4.5.2).
 *
 * The body ends at CRLF "." CRLF only: a "." line ended by a bare LF, or
 * following a line ended by a bare LF, is content. Accepting other
 * endings is what makes SMTP smuggling possible (a server behind us
 * seeing a different end of message than we do). A leading "." on any
 * other line is removed. Bare LFs, bare CRs and NULs are counted, so the
 * protocol module can refuse or accept them by its own policy; line ends
 * are rewritten as the caller asked.
 */
#include "config.h"

#include <string.h>

#include "dot.h"

enum {
	DOT_BOL = 0,	/* at the beginning of a line */
	DOT_LINE,	/* inside a line */
	DOT_DOT,	/* "." at the beginning of a line */
	DOT_DOT_CR,	/* ".\r" at the beginning of a line */
	DOT_DONE,
};

void
fc_dot_init(struct fc_dot_decoder *d, enum fc_eol eol)
{
	memset(d, 0, sizeof(*d));
	d->eol = eol;
	d->state = DOT_BOL;
	d->last_crlf = true;	/* the DATA command line ended in CRLF */
}

static void
dot_line_end(struct fc_dot_decoder *d, bool crlf, char *out, size_t *o)
{
	bool write_cr;

	write_cr = d->eol == FC_EOL_CRLF ||
	    (d->eol == FC_EOL_KEEP && crlf);
	if (write_cr)
		out[(*o)++] = '\r';
	out[(*o)++] = '\n';
	if (!crlf)
		d->counts.bare_lf++;
	if (d->line_len > d->counts.longest_line)
		d->counts.longest_line = d->line_len;
	d->line_len = 0;
	d->last_crlf = crlf;
	d->state = DOT_BOL;
}

static void
dot_byte(struct fc_dot_decoder *d, char c, char *out, size_t *o)
{
	if (d->cr_pending) {
		d->cr_pending = false;
		if (c == '\n') {
			dot_line_end(d, true, out, o);
			return;
		}
		/* a CR alone stays in the line */
		d->counts.bare_cr++;
		out[(*o)++] = '\r';
		d->line_len++;
	}
	switch (c) {
	case '\r':
		/* the line has begun: a "." after it is content */
		d->cr_pending = true;
		d->state = DOT_LINE;
		return;
	case '\n':
		dot_line_end(d, false, out, o);
		return;
	case '\0':
		d->counts.nul++;
		break;
	default:
		break;
	}
	out[(*o)++] = c;
	d->line_len++;
	d->state = DOT_LINE;
}

size_t
fc_dot_decode(struct fc_dot_decoder *d, const char *in, size_t len,
    char *out, size_t *outlen_r, bool *done_r)
{
	size_t i, o = 0;

	*done_r = false;
	for (i = 0; i < len && d->state != DOT_DONE; i++) {
		char c = in[i];

		switch (d->state) {
		case DOT_BOL:
			if (c == '.') {
				d->state = DOT_DOT;
				break;
			}
			dot_byte(d, c, out, &o);
			break;
		case DOT_DOT:
			if (c == '\r') {
				d->state = DOT_DOT_CR;
				break;
			}
			if (c == '\n') {
				/* "." then a bare LF: content, not the end */
				out[o++] = '.';
				d->line_len = 1;
				dot_line_end(d, false, out, &o);
				break;
			}
			/* a stuffed dot: drop it */
			d->state = DOT_LINE;
			d->line_len = 0;
			dot_byte(d, c, out, &o);
			break;
		case DOT_DOT_CR:
			if (c == '\n' && d->last_crlf) {
				d->state = DOT_DONE;
				break;
			}
			if (c == '\n') {
				/* after a bare-LF line: content */
				out[o++] = '.';
				d->line_len = 1;
				dot_line_end(d, true, out, &o);
				break;
			}
			/* ".\r" and more: a stuffed dot, then a CR */
			d->state = DOT_LINE;
			d->cr_pending = true;
			dot_byte(d, c, out, &o);
			break;
		default:
			dot_byte(d, c, out, &o);
			break;
		}
	}
	d->counts.received += i;
	*outlen_r = o;
	*done_r = d->state == DOT_DONE;
	return i;
}
