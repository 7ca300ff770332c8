/*
 * smtp_7bit.c - 8-bit mail made 7-bit for a next hop that does not
 * announce 8BITMIME (RFC 6152 3: convert, or return the message).
 *
 * The message is parsed with the core's MIME parser and copied byte for
 * byte, except for the leaf parts whose bodies hold 8-bit bytes: each of
 * those gets its header again without its Content-Transfer-Encoding
 * field and with a new one last, then its body encoded (text as
 * quoted-printable, so it stays readable; anything else as base64). A
 * multipart or message/rfc822 part marked 8bit or binary is marked 7bit
 * (RFC 2045 6.4: a composite part is never encoded; once its contents
 * are 7-bit, so is it).
 *
 * What cannot be converted, and makes the caller return the message with
 * 5.6.3: 8-bit bytes in any header (RFC 2047 encoding would need to know
 * the charset), in a preamble or an epilogue, in a multipart or message
 * body that the parser could not open up (those must not be encoded), in
 * a body that already claims base64 or quoted-printable, a message
 * without MIME-Version (without MIME nothing says how to read the
 * encoded body), and a message past the parser's limits (parts not
 * parsed cannot be converted safely). Each of these is checked where
 * the bytes are copied, so no 8-bit byte can get through unseen.
 *
 * A quoted-printable line is at most 76 bytes; a '-' or a '.' that would
 * start a line is encoded, so no line of the result can be taken for a
 * boundary, and the dot-stuffing is never needed for it.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <facteur/arena.h>
#include <facteur/mime.h>

#include "smtp_7bit.h"

#define CONV_BUF	8192
#define QP_LINE_MAX	76
#define B64_LINE	76	/* characters: 57 bytes */

struct conv {
	const char *msg;
	size_t len;
	size_t pos;			/* copied (or replaced) up to here */
	smtp_7bit_out_fn *out;
	void *arg;
	enum smtp_7bit_result result;	/* set by the first failure */
	const char *why;
	size_t n;
	char buf[CONV_BUF];
};

static bool
conv_has_8bit(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80)
			return true;
	return false;
}

static bool
conv_failed(const struct conv *c)
{
	return c->result != SMTP_7BIT_CONVERTED;
}

static void
conv_cannot(struct conv *c, const char *why)
{
	if (conv_failed(c))
		return;
	c->result = SMTP_7BIT_CANNOT;
	c->why = why;
}

static void
conv_flush(struct conv *c)
{
	if (c->n > 0 && !conv_failed(c) && c->out(c->arg, c->buf, c->n) < 0) {
		c->result = SMTP_7BIT_ERROR;
		c->why = "cannot write the converted message";
	}
	c->n = 0;
}

static void
conv_put(struct conv *c, const char *p, size_t n)
{
	while (n > 0 && !conv_failed(c)) {
		size_t k = sizeof(c->buf) - c->n;

		if (k > n)
			k = n;
		memcpy(c->buf + c->n, p, k);
		c->n += k;
		p += k;
		n -= k;
		if (c->n == sizeof(c->buf))
			conv_flush(c);
	}
}

static void
conv_putc(struct conv *c, char ch)
{
	if (c->n == sizeof(c->buf))
		conv_flush(c);
	if (!conv_failed(c))
		c->buf[c->n++] = ch;
}

/* Copies the message up to end as it is, which must be 7-bit. */
static void
conv_copy_to(struct conv *c, size_t end, const char *why)
{
	if (end <= c->pos)
		return;
	if (conv_has_8bit(c->msg + c->pos, end - c->pos)) {
		conv_cannot(c, why);
		return;
	}
	conv_put(c, c->msg + c->pos, end - c->pos);
	c->pos = end;
}

/* The field at p (up to its colon) is Content-Transfer-Encoding. */
static bool
conv_is_cte(const char *p, size_t n)
{
	static const char name[] = "Content-Transfer-Encoding";
	size_t k = sizeof(name) - 1;

	if (n <= k || strncasecmp(p, name, k) != 0)
		return false;
	for (; k < n && (p[k] == ' ' || p[k] == '\t'); k++)
		;
	return k < n && p[k] == ':';
}

/*
 * A part's header from start to end (the blank line included), without
 * its Content-Transfer-Encoding fields and with one saying cte added
 * before the blank line.
 */
static void
conv_header(struct conv *c, size_t start, size_t end, const char *cte)
{
	const char *m = c->msg;
	size_t p = start, eol;
	bool skip = false;

	conv_copy_to(c, start, "8-bit data outside the parts");
	if (conv_failed(c))
		return;
	if (conv_has_8bit(m + start, end - start)) {
		conv_cannot(c, "8-bit data in a header");
		return;
	}
	while (p < end) {
		const char *nl = memchr(m + p, '\n', end - p);

		eol = nl != NULL ? (size_t)(nl - m) + 1 : end;
		if (m[p] == '\n' || (m[p] == '\r' && p + 1 < end
		    && m[p + 1] == '\n')) {
			/* the blank line: ours goes before it */
			conv_put(c, "Content-Transfer-Encoding: ", 27);
			conv_put(c, cte, strlen(cte));
			conv_put(c, "\r\n", 2);
			conv_put(c, m + p, end - p);
			c->pos = end;
			return;
		}
		if (m[p] != ' ' && m[p] != '\t')
			skip = conv_is_cte(m + p, eol - p);
		if (!skip)
			conv_put(c, m + p, eol - p);
		p = eol;
	}
	conv_cannot(c, "a part's header does not end");
}

/* Whether byte ch may stand for itself at column col of a QP line. */
static bool
conv_qp_literal(const char *p, size_t i, size_t n, size_t col)
{
	unsigned char ch = (unsigned char)p[i];

	if (ch == ' ' || ch == '\t')
		return i + 1 < n && p[i + 1] != '\r' && p[i + 1] != '\n';
	if (col == 0 && (ch == '-' || ch == '.'))
		return false;
	return ch >= 33 && ch <= 126 && ch != '=';
}

static void
conv_qp(struct conv *c, const char *p, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0, i;

	for (i = 0; i < n && !conv_failed(c); i++) {
		unsigned char ch = (unsigned char)p[i];
		bool lit;

		if (ch == '\r' && i + 1 < n && p[i + 1] == '\n') {
			conv_put(c, "\r\n", 2);	/* a line break stays one */
			i++;
			col = 0;
			continue;
		}
		lit = conv_qp_literal(p, i, n, col);
		/* "=" ends a soft line break: the line with it fits 76 */
		if (col + (lit ? 1 : 3) > QP_LINE_MAX - 1) {
			conv_put(c, "=\r\n", 3);
			col = 0;
			lit = conv_qp_literal(p, i, n, col);
		}
		if (lit) {
			conv_putc(c, (char)ch);
			col++;
		} else {
			conv_putc(c, '=');
			conv_putc(c, hex[ch >> 4]);
			conv_putc(c, hex[ch & 0x0f]);
			col += 3;
		}
	}
}

static void
conv_base64(struct conv *c, const unsigned char *p, size_t n)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, col = 0;

	for (i = 0; i < n && !conv_failed(c); i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		char q[4];

		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		q[0] = b64[(v >> 18) & 63];
		q[1] = b64[(v >> 12) & 63];
		q[2] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? b64[v & 63] : '=';
		if (col == B64_LINE) {
			conv_put(c, "\r\n", 2);
			col = 0;
		}
		conv_put(c, q, 4);
		col += 4;
	}
}

static void
conv_part(struct conv *c, const struct fc_mime_part *p)
{
	size_t h = (size_t)fc_mime_part_header_offset(p);
	size_t b = (size_t)fc_mime_part_body_offset(p);
	size_t e = (size_t)fc_mime_part_end_offset(p);
	enum fc_mime_encoding enc = fc_mime_part_encoding(p);
	const struct fc_mime_part *ch;
	const char *type;

	if (conv_failed(c) || b < h || e < b || e > c->len || h < c->pos) {
		conv_cannot(c, "a MIME structure not understood");
		return;
	}
	if (conv_has_8bit(c->msg + h, b - h)) {
		conv_cannot(c, "8-bit data in a header");
		return;
	}
	if (fc_mime_part_is_multipart(p) || fc_mime_part_is_message(p)) {
		if (enc == FC_MIME_ENC_8BIT || enc == FC_MIME_ENC_BINARY)
			conv_header(c, h, b, "7bit");
		for (ch = fc_mime_part_child(p); ch != NULL;
		    ch = fc_mime_part_next(ch))
			conv_part(c, ch);
		return;
	}
	if (!conv_has_8bit(c->msg + b, e - b))
		return;		/* copied as it is with what follows */
	type = fc_mime_part_type(p);
	if (strcmp(type, "multipart") == 0 || strcmp(type, "message") == 0) {
		conv_cannot(c, "8-bit data in a multipart or message part, "
		    "which must not be encoded");
		return;
	}
	if (enc != FC_MIME_ENC_7BIT && enc != FC_MIME_ENC_8BIT
	    && enc != FC_MIME_ENC_BINARY) {
		conv_cannot(c, "8-bit data in a body already encoded");
		return;
	}
	if (strcmp(type, "text") == 0) {
		conv_header(c, h, b, "quoted-printable");
		conv_qp(c, c->msg + b, e - b);
	} else {
		conv_header(c, h, b, "base64");
		conv_base64(c, (const unsigned char *)c->msg + b, e - b);
	}
	c->pos = e;
}

enum smtp_7bit_result
smtp_7bit_convert(const char *msg, size_t len, smtp_7bit_out_fn *out,
    void *arg, const char **why_r)
{
	const unsigned int limits = FC_MIME_TOO_DEEP | FC_MIME_TOO_MANY_PARTS |
	    FC_MIME_TOO_MANY_HEADERS | FC_MIME_HEADER_TOO_LONG;
	struct fc_arena *a;
	struct fc_mime_parser *parser;
	struct fc_mime_part *root;
	struct conv *c;
	enum smtp_7bit_result result;

	*why_r = NULL;
	if (!conv_has_8bit(msg, len))
		return SMTP_7BIT_ASIS;
	a = fc_arena_new("smtp-7bit", 16384);
	c = fc_arena_alloc(a, sizeof(*c));
	memset(c, 0, sizeof(*c));
	c->msg = msg;
	c->len = len;
	c->out = out;
	c->arg = arg;
	c->result = SMTP_7BIT_CONVERTED;
	parser = fc_mime_parser_new(a, NULL);
	fc_mime_parser_feed(parser, msg, len);
	root = fc_mime_parser_finish(parser);
	if (fc_mime_part_header(root, "MIME-Version", 0) == NULL)
		conv_cannot(c, "8-bit data in a message that is not MIME");
	else if ((fc_mime_problems(root) & limits) != 0)
		conv_cannot(c, "a MIME structure past the parser's limits");
	else {
		conv_part(c, root);
		conv_copy_to(c, len, "8-bit data outside the parts");
		conv_flush(c);
	}
	result = c->result;
	*why_r = c->why;
	fc_arena_free(&a);
	return result;
}
