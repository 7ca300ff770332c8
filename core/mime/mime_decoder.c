/*
 * mime_decoder.c - streaming decoders for a part's body: base64 and
 * quoted-printable undone, then, for text parts when asked, the charset
 * converted to UTF-8 (mime_charset.c).
 *
 * It does not read the message: the caller feeds the body bytes, from
 * the part's body offset to its end offset, in pieces of any size.
 *
 * Rules:
 * - base64 (RFC 2045 6.8): characters outside the alphabet are ignored
 *   (line breaks, junk); the first '=' ends the data, and what follows
 *   it is ignored. A last incomplete group gives the bytes it holds.
 * - quoted-printable (RFC 2045 6.7): "=" and a line end is a soft line
 *   break, also with white space between them (added in transport);
 *   "=XX" in either case is a byte; any other "=" is kept as it is.
 *   White space at the end of a line is removed (rule 3), but only up
 *   to QP_WSP_MAX bytes are held back to decide it: a longer run is not
 *   trailing white space anyone wrote. Line ends are kept as they are;
 *   an "=" at the very end of the body is a soft break.
 * - 7bit, 8bit, binary and unknown encodings pass through.
 * - Every decision depends on the bytes, never on where the feeds cut
 *   them: each decoder keeps the few bytes it has not decided yet.
 */
#include "config.h"

#include <string.h>

#include <facteur/arena.h>

#include "mime_private.h"

#define QP_WSP_MAX	256

enum mime_qp_state {
	QP_TEXT,
	QP_EQ,				/* "=" */
	QP_EQ_HEX,			/* "=X", X a hex digit */
	QP_EQ_WSP,			/* "=" and white space */
	QP_EQ_CR,			/* "=" [white space] CR */
	QP_CR,				/* a CR, maybe a line end */
};

struct fc_mime_decoder {
	enum fc_mime_encoding enc;
	struct mime_conv *conv;		/* NULL: no charset conversion */
	fc_mime_output_fn *out;
	void *arg;
	bool finished;

	/* base64 */
	uint32_t b64_acc;
	unsigned int b64_count;		/* sextets in b64_acc */
	bool b64_done;

	/* quoted-printable */
	enum mime_qp_state qp;
	unsigned char qp_hex;
	char qp_wsp[QP_WSP_MAX];	/* white space held back */
	size_t qp_wsp_len;

	char obuf[4096];
	size_t olen;
};

static void
mime_decoder_flush(struct fc_mime_decoder *d)
{
	if (d->olen == 0)
		return;
	if (d->conv != NULL)
		mime_conv_feed(d->conv, (const unsigned char *)d->obuf, d->olen,
		    d->out, d->arg);
	else
		d->out(d->arg, d->obuf, d->olen);
	d->olen = 0;
}

static void
mime_decoder_put(struct fc_mime_decoder *d, const void *p, size_t n)
{
	const char *s = p;
	size_t k;

	while (n > 0) {
		if (d->olen == sizeof(d->obuf))
			mime_decoder_flush(d);
		k = sizeof(d->obuf) - d->olen;
		if (k > n)
			k = n;
		memcpy(d->obuf + d->olen, s, k);
		d->olen += k;
		s += k;
		n -= k;
	}
}

static void
mime_decoder_putc(struct fc_mime_decoder *d, unsigned char c)
{
	if (d->olen == sizeof(d->obuf))
		mime_decoder_flush(d);
	d->obuf[d->olen++] = (char)c;
}

struct fc_mime_decoder *
fc_mime_decoder_new(struct fc_arena *a, const struct fc_mime_part *p,
    bool to_utf8, fc_mime_output_fn *out, void *arg)
{
	struct fc_mime_decoder *d;

	d = fc_arena_alloc(a, sizeof(*d));
	d->enc = fc_mime_part_encoding(p);
	d->out = out;
	d->arg = arg;
	d->qp = QP_TEXT;
	if (to_utf8 && strcmp(fc_mime_part_type(p), "text") == 0)
		d->conv = mime_conv_new(a, fc_mime_part_param(p, "charset"));
	return d;
}

/* ------------------------------------------------------------------ */
/* base64 */

static int
mime_b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static void
mime_b64_feed(struct fc_mime_decoder *d, const unsigned char *s, size_t n)
{
	size_t i;
	int v;

	for (i = 0; i < n && !d->b64_done; i++) {
		if (s[i] == '=') {
			d->b64_done = true;
			break;
		}
		if ((v = mime_b64_value(s[i])) < 0)
			continue;
		d->b64_acc = d->b64_acc << 6 | (uint32_t)v;
		if (++d->b64_count == 4) {
			mime_decoder_putc(d, (unsigned char)(d->b64_acc >> 16));
			mime_decoder_putc(d, (unsigned char)(d->b64_acc >> 8));
			mime_decoder_putc(d, (unsigned char)d->b64_acc);
			d->b64_acc = 0;
			d->b64_count = 0;
		}
	}
}

static void
mime_b64_finish(struct fc_mime_decoder *d)
{
	/* two sextets hold one byte, three hold two; one holds none */
	if (d->b64_count == 2)
		mime_decoder_putc(d, (unsigned char)(d->b64_acc >> 4));
	else if (d->b64_count == 3) {
		mime_decoder_putc(d, (unsigned char)(d->b64_acc >> 10));
		mime_decoder_putc(d, (unsigned char)(d->b64_acc >> 2));
	}
	d->b64_count = 0;
}

/* ------------------------------------------------------------------ */
/* quoted-printable */

static int
mime_qp_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The held white space was not at the end of a line after all. */
static void
mime_qp_release(struct fc_mime_decoder *d)
{
	mime_decoder_put(d, d->qp_wsp, d->qp_wsp_len);
	d->qp_wsp_len = 0;
}

static void
mime_qp_hold(struct fc_mime_decoder *d, unsigned char c)
{
	if (d->qp_wsp_len == QP_WSP_MAX)
		mime_qp_release(d);
	d->qp_wsp[d->qp_wsp_len++] = (char)c;
}

/* One byte in state QP_TEXT (also where other states give back a byte
 * they could not use). */
static void
mime_qp_text(struct fc_mime_decoder *d, unsigned char c)
{
	switch (c) {
	case ' ':
	case '\t':
		mime_qp_hold(d, c);
		return;
	case '\r':
		d->qp = QP_CR;		/* held white space waits with it */
		return;
	case '\n':
		d->qp_wsp_len = 0;	/* trailing: removed */
		mime_decoder_putc(d, '\n');
		return;
	case '=':
		mime_qp_release(d);
		d->qp = QP_EQ;
		return;
	default:
		mime_qp_release(d);
		mime_decoder_putc(d, c);
		return;
	}
}

static void
mime_qp_byte(struct fc_mime_decoder *d, unsigned char c)
{
	int hi, lo;

	switch (d->qp) {
	case QP_TEXT:
		mime_qp_text(d, c);
		return;
	case QP_CR:
		d->qp = QP_TEXT;
		if (c == '\n') {
			d->qp_wsp_len = 0;
			mime_decoder_put(d, "\r\n", 2);
			return;
		}
		/* a CR alone is text, and so was the white space */
		mime_qp_release(d);
		mime_decoder_putc(d, '\r');
		mime_qp_text(d, c);
		return;
	case QP_EQ:
		if (mime_qp_hex(c) >= 0) {
			d->qp_hex = c;
			d->qp = QP_EQ_HEX;
		} else if (c == '\n') {
			d->qp = QP_TEXT;	/* soft line break */
		} else if (c == '\r') {
			d->qp = QP_EQ_CR;
		} else if (mime_is_wsp(c)) {
			d->qp = QP_EQ_WSP;
			mime_qp_hold(d, c);
		} else {
			mime_decoder_putc(d, '=');
			d->qp = QP_TEXT;
			mime_qp_text(d, c);
		}
		return;
	case QP_EQ_HEX:
		d->qp = QP_TEXT;
		hi = mime_qp_hex(d->qp_hex);
		if ((lo = mime_qp_hex(c)) >= 0) {
			mime_decoder_putc(d, (unsigned char)(hi << 4 | lo));
			return;
		}
		mime_decoder_putc(d, '=');
		mime_decoder_putc(d, d->qp_hex);
		mime_qp_text(d, c);
		return;
	case QP_EQ_WSP:
		if (mime_is_wsp(c)) {
			if (d->qp_wsp_len < QP_WSP_MAX) {
				d->qp_wsp[d->qp_wsp_len++] = (char)c;
				return;
			}
		} else if (c == '\n') {
			d->qp_wsp_len = 0;
			d->qp = QP_TEXT;
			return;
		} else if (c == '\r') {
			d->qp = QP_EQ_CR;
			return;
		}
		/* "=" and white space, then text: all of it is text */
		mime_decoder_putc(d, '=');
		mime_qp_release(d);
		d->qp = QP_TEXT;
		mime_qp_text(d, c);
		return;
	case QP_EQ_CR:
		if (c == '\n') {
			d->qp_wsp_len = 0;
			d->qp = QP_TEXT;
			return;
		}
		mime_decoder_putc(d, '=');
		mime_qp_release(d);
		mime_decoder_putc(d, '\r');
		d->qp = QP_TEXT;
		mime_qp_text(d, c);
		return;
	}
}

static void
mime_qp_finish(struct fc_mime_decoder *d)
{
	switch (d->qp) {
	case QP_TEXT:
	case QP_EQ:
	case QP_EQ_WSP:
		/* trailing white space, or a soft break at the very end */
		break;
	case QP_CR:
		mime_qp_release(d);
		mime_decoder_putc(d, '\r');
		break;
	case QP_EQ_HEX:
		mime_decoder_putc(d, '=');
		mime_decoder_putc(d, d->qp_hex);
		break;
	case QP_EQ_CR:
		/* "=" and a CR at the end: a soft break with a stray CR */
		break;
	}
	d->qp_wsp_len = 0;
	d->qp = QP_TEXT;
}

/* ------------------------------------------------------------------ */

void
fc_mime_decoder_feed(struct fc_mime_decoder *d, const void *data,
    size_t len)
{
	const unsigned char *s = data;
	size_t i;

	if (len == 0 || d->finished)
		return;
	switch (d->enc) {
	case FC_MIME_ENC_BASE64:
		mime_b64_feed(d, s, len);
		break;
	case FC_MIME_ENC_QP:
		for (i = 0; i < len; i++)
			mime_qp_byte(d, s[i]);
		break;
	default:
		mime_decoder_put(d, s, len);
		break;
	}
	mime_decoder_flush(d);
}

void
fc_mime_decoder_finish(struct fc_mime_decoder *d)
{
	if (d->finished)
		return;
	d->finished = true;
	if (d->enc == FC_MIME_ENC_BASE64)
		mime_b64_finish(d);
	else if (d->enc == FC_MIME_ENC_QP)
		mime_qp_finish(d);
	mime_decoder_flush(d);
	if (d->conv != NULL)
		mime_conv_finish(d->conv, d->out, d->arg);
}
