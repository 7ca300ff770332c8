/*
 * mime_charset.c - text in any charset to valid UTF-8: whole strings
 * (header words, parameters) and streams (bodies, through struct
 * mime_conv).
 *
 * It does not undo transfer encodings (mime_decoder.c, mime_words.c do).
 *
 * Rules:
 * - UTF-8 is checked here rather than by iconv: overlong forms,
 *   surrogates and bytes that start nothing are invalid, and each
 *   invalid byte becomes U+FFFD. An unknown or unusable charset name is
 *   taken as UTF-8 with that repair.
 * - Labels that promise ASCII, or nothing ("us-ascii", "unknown-8bit"),
 *   are guesses: a valid UTF-8 sequence is kept and any other byte is
 *   read as Windows-1252. Latin-1 labels are read as Windows-1252, its
 *   superset, as every browser does; that table is built in.
 * - Every other charset goes through glibc's iconv; a byte iconv
 *   refuses becomes U+FFFD and conversion goes on after it.
 * - A stream is converted in fixed blocks counted from its start, not in
 *   the pieces it was fed in; the start of a multibyte sequence cut by a
 *   block's end (MIME_CONV_PENDING bytes at most) goes in front of the
 *   next block. So the output does not depend on the cuts, even with
 *   iconv's stateful charsets.
 * - Charset names are used only when made of letters, digits and
 *   ".:_+-" (no "//" suffixes reach iconv_open()).
 */
#include "config.h"

#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <facteur/arena.h>

#include "mime_private.h"

#define MIME_CONV_PENDING	16
#define MIME_CONV_WORK		4096
#define MIME_CHARSET_NAME_MAX	64

enum mime_cs {
	MIME_CS_UTF8,			/* checked, invalid bytes repaired */
	MIME_CS_GUESS,			/* UTF-8, else Windows-1252 */
	MIME_CS_CP1252,
	MIME_CS_ICONV,
};

struct mime_conv {
	enum mime_cs cs;
	iconv_t cd;
	/* the start of a sequence left by the last block, then new bytes */
	unsigned char work[MIME_CONV_PENDING + MIME_CONV_WORK];
	size_t npending;
	size_t nnew;
	char obuf[1024];
	size_t olen;
	fc_mime_output_fn *out;
	void *arg;
};

static const struct {
	const char *label;
	enum mime_cs cs;
	const char *iconv_name;
} mime_charset_aliases[] = {
	{ "utf-8", MIME_CS_UTF8, NULL },
	{ "utf8", MIME_CS_UTF8, NULL },
	{ "x-utf8", MIME_CS_UTF8, NULL },
	{ "unicode-1-1-utf-8", MIME_CS_UTF8, NULL },
	{ "us-ascii", MIME_CS_GUESS, NULL },
	{ "ascii", MIME_CS_GUESS, NULL },
	{ "us", MIME_CS_GUESS, NULL },
	{ "ansi_x3.4-1968", MIME_CS_GUESS, NULL },
	{ "iso-646-us", MIME_CS_GUESS, NULL },
	{ "unknown-8bit", MIME_CS_GUESS, NULL },
	{ "unknown", MIME_CS_GUESS, NULL },
	{ "x-unknown", MIME_CS_GUESS, NULL },
	{ "x-user-defined", MIME_CS_GUESS, NULL },
	{ "default", MIME_CS_GUESS, NULL },
	{ "iso-8859-1", MIME_CS_CP1252, NULL },
	{ "iso8859-1", MIME_CS_CP1252, NULL },
	{ "iso_8859-1", MIME_CS_CP1252, NULL },
	{ "iso-ir-100", MIME_CS_CP1252, NULL },
	{ "latin1", MIME_CS_CP1252, NULL },
	{ "latin-1", MIME_CS_CP1252, NULL },
	{ "l1", MIME_CS_CP1252, NULL },
	{ "cp819", MIME_CS_CP1252, NULL },
	{ "windows-1252", MIME_CS_CP1252, NULL },
	{ "cp1252", MIME_CS_CP1252, NULL },
	{ "x-cp1252", MIME_CS_CP1252, NULL },
	/* the supersets mailers really mean */
	{ "ks_c_5601-1987", MIME_CS_ICONV, "CP949" },
	{ "euc-kr", MIME_CS_ICONV, "CP949" },
	{ "gb2312", MIME_CS_ICONV, "GB18030" },
	{ "gbk", MIME_CS_ICONV, "GB18030" },
	{ "x-gbk", MIME_CS_ICONV, "GB18030" },
	{ "euc-cn", MIME_CS_ICONV, "GB18030" },
	{ "shift_jis", MIME_CS_ICONV, "CP932" },
	{ "shift-jis", MIME_CS_ICONV, "CP932" },
	{ "sjis", MIME_CS_ICONV, "CP932" },
	{ "x-sjis", MIME_CS_ICONV, "CP932" },
	{ "windows-31j", MIME_CS_ICONV, "CP932" },
	{ "tis-620", MIME_CS_ICONV, "CP874" },
	{ "iso-8859-8-i", MIME_CS_ICONV, "ISO-8859-8" },
	{ "unicode-1-1-utf-7", MIME_CS_ICONV, "UTF-7" },
};

/* Windows-1252 0x80-0x9f; the five holes keep their C1 code points, as
 * the WHATWG encoding standard has it. */
static const uint16_t mime_cp1252_high[32] = {
	0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008d, 0x017d, 0x008f,
	0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178,
};

static const char mime_replacement[] = "\xef\xbf\xbd";	/* U+FFFD */

/*
 * The UTF-8 sequence at s: its length when valid, 0 when the n bytes
 * there are a valid start of one but too few, -1 when s[0] is invalid.
 */
static int
mime_utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	int len, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (c == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;	/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	} else
		return -1;
	for (i = 1; i < len; i++) {
		if ((size_t)i >= n)
			return 0;
		if (s[i] < (i == 1 ? lo : 0x80) || s[i] > (i == 1 ? hi : 0xbf))
			return -1;
	}
	return len;
}

bool
mime_utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;
	int n;

	while (i < len) {
		n = mime_utf8_seq(s + i, len - i);
		if (n <= 0)
			return false;
		i += (size_t)n;
	}
	return true;
}

static size_t
mime_utf8_put(char *out, unsigned int cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	out[0] = (char)(0xe0 | cp >> 12);
	out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[2] = (char)(0x80 | (cp & 0x3f));
	return 3;
}

/* One byte read as Windows-1252, in UTF-8; returns its length. */
static size_t
mime_cp1252_put(char *out, unsigned char c)
{
	if (c >= 0x80 && c < 0xa0)
		return mime_utf8_put(out, mime_cp1252_high[c - 0x80]);
	return mime_utf8_put(out, c);
}

void
mime_raw_to_utf8(struct mime_buf *out, const unsigned char *s, size_t len)
{
	char u[3];
	size_t i;

	if (mime_utf8_valid(s, len)) {
		mime_buf_add(out, s, len);
		return;
	}
	for (i = 0; i < len; i++)
		mime_buf_add(out, u, mime_cp1252_put(u, s[i]));
}

/* Which converter a charset name asks for; iconv_name gets what to give
 * iconv_open() for MIME_CS_ICONV. */
static enum mime_cs
mime_charset_kind(const char *charset, char *iconv_name, size_t size)
{
	char name[MIME_CHARSET_NAME_MAX + 1];
	size_t i, n = 0, k;

	if (charset == NULL)
		return MIME_CS_GUESS;
	while (mime_is_wsp((unsigned char)*charset) || *charset == '"')
		charset++;
	for (i = 0; charset[i] != '\0' && charset[i] != '*' &&
	    charset[i] != '"' && !mime_is_wsp((unsigned char)charset[i]);
	    i++) {
		unsigned char c = (unsigned char)charset[i];

		if (n == MIME_CHARSET_NAME_MAX)
			return MIME_CS_UTF8;
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    strchr(".:_+-", c) != NULL))
			return MIME_CS_UTF8;
		name[n++] = (char)c;
	}
	name[n] = '\0';
	if (n == 0)
		return MIME_CS_GUESS;
	for (k = 0; k < sizeof(mime_charset_aliases) /
	    sizeof(mime_charset_aliases[0]); k++)
		if (strcmp(name, mime_charset_aliases[k].label) == 0) {
			snprintf(iconv_name, size, "%s",
			    mime_charset_aliases[k].iconv_name != NULL ?
			    mime_charset_aliases[k].iconv_name : name);
			return mime_charset_aliases[k].cs;
		}
	snprintf(iconv_name, size, "%s", name);
	return MIME_CS_ICONV;
}

static void
mime_conv_init(struct mime_conv *c, const char *charset)
{
	char name[MIME_CHARSET_NAME_MAX + 1];

	c->npending = 0;
	c->nnew = 0;
	c->olen = 0;
	c->cd = (iconv_t)-1;
	c->cs = mime_charset_kind(charset, name, sizeof(name));
	if (c->cs == MIME_CS_ICONV) {
		c->cd = iconv_open("UTF-8", name);
		if (c->cd == (iconv_t)-1)
			c->cs = MIME_CS_UTF8;
	}
}

static void
mime_conv_close(void *arg)
{
	struct mime_conv *c = arg;

	if (c->cd != (iconv_t)-1)
		iconv_close(c->cd);
	c->cd = (iconv_t)-1;
}

static void
mime_conv_flush(struct mime_conv *c)
{
	if (c->olen > 0)
		c->out(c->arg, c->obuf, c->olen);
	c->olen = 0;
}

static void
mime_conv_put(struct mime_conv *c, const void *p, size_t n)
{
	const char *s = p;
	size_t k;

	while (n > 0) {
		if (c->olen == sizeof(c->obuf))
			mime_conv_flush(c);
		k = sizeof(c->obuf) - c->olen;
		if (k > n)
			k = n;
		memcpy(c->obuf + c->olen, s, k);
		c->olen += k;
		s += k;
		n -= k;
	}
}

/* Converts s[0..n) with the built-in converters; returns the bytes used
 * (all but an incomplete sequence at the end, unless final). */
static size_t
mime_conv_builtin(struct mime_conv *c, const unsigned char *s, size_t n,
    bool final)
{
	size_t i = 0, start;
	char u[3];
	int len;

	while (i < n) {
		/* runs of ASCII go out in one piece */
		start = i;
		while (i < n && s[i] < 0x80)
			i++;
		if (i > start)
			mime_conv_put(c, s + start, i - start);
		if (i == n)
			break;
		if (c->cs == MIME_CS_CP1252) {
			mime_conv_put(c, u, mime_cp1252_put(u, s[i]));
			i++;
			continue;
		}
		len = mime_utf8_seq(s + i, n - i);
		if (len == 0 && !final)
			return i;
		if (len > 0) {
			mime_conv_put(c, s + i, (size_t)len);
			i += (size_t)len;
		} else if (c->cs == MIME_CS_GUESS) {
			mime_conv_put(c, u, mime_cp1252_put(u, s[i]));
			i++;
		} else {
			mime_conv_put(c, mime_replacement, 3);
			i++;
		}
	}
	return n;
}

static size_t
mime_conv_iconv(struct mime_conv *c, unsigned char *s, size_t n, bool final)
{
	char *in = (char *)s, *outp;
	size_t inleft = n, outleft, r;

	while (inleft > 0) {
		outp = c->obuf + c->olen;
		outleft = sizeof(c->obuf) - c->olen;
		r = iconv(c->cd, &in, &inleft, &outp, &outleft);
		c->olen = (size_t)(outp - c->obuf);
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG) {
			mime_conv_flush(c);
			continue;
		}
		if (errno == EINVAL && !final && inleft < MIME_CONV_PENDING)
			break;		/* the rest comes with the next feed */
		/* EILSEQ, or an incomplete sequence at the very end */
		mime_conv_put(c, mime_replacement, 3);
		in++;
		inleft--;
	}
	if (final && inleft == 0) {
		/* back to the initial shift state */
		outp = c->obuf + c->olen;
		outleft = sizeof(c->obuf) - c->olen;
		if (outleft < 16) {
			mime_conv_flush(c);
			outp = c->obuf;
			outleft = sizeof(c->obuf);
		}
		iconv(c->cd, NULL, NULL, &outp, &outleft);
		c->olen = (size_t)(outp - c->obuf);
	}
	return n - inleft;
}

/* Converts what the work buffer holds; what is left of it (the start of
 * a sequence cut by the block's end) moves to its front. */
static void
mime_conv_block(struct mime_conv *c, bool final)
{
	size_t n = c->npending + c->nnew, used;

	if (c->cs == MIME_CS_ICONV)
		used = mime_conv_iconv(c, c->work, n, final);
	else
		used = mime_conv_builtin(c, c->work, n, final);
	c->npending = n - used;
	memmove(c->work, c->work + used, c->npending);
	c->nnew = 0;
	mime_conv_flush(c);
}

/*
 * Input is converted in blocks of MIME_CONV_WORK bytes counted from the
 * start of the stream, never in the caller's pieces: iconv then sees the
 * same calls however the input was cut, which matters for stateful
 * charsets (UTF-7, ISO-2022) whose errors depend on where a call ends.
 */
static void
mime_conv_run(struct mime_conv *c, const unsigned char *s, size_t len)
{
	size_t take;

	while (len > 0) {
		take = MIME_CONV_WORK - c->nnew;
		if (take > len)
			take = len;
		memcpy(c->work + c->npending + c->nnew, s, take);
		c->nnew += take;
		s += take;
		len -= take;
		if (c->nnew == MIME_CONV_WORK)
			mime_conv_block(c, false);
	}
}

struct mime_conv *
mime_conv_new(struct fc_arena *a, const char *charset)
{
	struct mime_conv *c;

	c = fc_arena_alloc(a, sizeof(*c));
	mime_conv_init(c, charset);
	if (c->cd != (iconv_t)-1)
		fc_arena_on_free(a, mime_conv_close, c);
	return c;
}

void
mime_conv_feed(struct mime_conv *c, const unsigned char *s, size_t len,
    fc_mime_output_fn *out, void *arg)
{
	c->out = out;
	c->arg = arg;
	mime_conv_run(c, s, len);
}

void
mime_conv_finish(struct mime_conv *c, fc_mime_output_fn *out, void *arg)
{
	c->out = out;
	c->arg = arg;
	mime_conv_block(c, true);
	mime_conv_close(c);
}

static void
mime_charset_append(void *arg, const void *data, size_t len)
{
	mime_buf_add(arg, data, len);
}

void
mime_charset_to_utf8(struct mime_buf *out, const char *charset,
    const unsigned char *s, size_t len)
{
	struct mime_conv *c;

	c = fc_malloc(sizeof(*c));
	mime_conv_init(c, charset);
	if (c->cs == MIME_CS_GUESS) {
		/* a whole string: one guess for all of it */
		mime_raw_to_utf8(out, s, len);
	} else {
		mime_conv_feed(c, s, len, mime_charset_append, out);
		mime_conv_finish(c, mime_charset_append, out);
	}
	mime_conv_close(c);
	free(c);
}
