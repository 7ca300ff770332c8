/*
 * mime_words.c - header text for people: unfolding, RFC 2047 encoded
 * words, raw 8-bit bytes, all to UTF-8.
 *
 * It does not split structured fields (addresses, parameters): callers
 * hand it the text to decode.
 *
 * Rules:
 * - An encoded word is =?charset?B|Q?text?= with no white space or '?'
 *   in its text; anything else that starts with "=?" is left as it is.
 *   Words are decoded wherever they are, even glued to other text or
 *   inside quotes, as mail readers do.
 * - White space between two encoded words is dropped (RFC 2047 6.2).
 *   Adjacent words in the same charset are converted together, since
 *   mailers split multibyte characters between words.
 * - A "*language" suffix on the charset (RFC 2231 5) is ignored.
 * - Raw 8-bit text is UTF-8 when the whole value is valid UTF-8, else
 *   Windows-1252, so one value does not mix two guesses.
 * - The result is valid UTF-8 without NUL bytes (an encoded NUL becomes
 *   U+FFFD): it is a C string.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <facteur/arena.h>

#include "mime_private.h"

#define MIME_WORD_CHARSET_MAX	64

struct mime_word {
	const char *charset;
	size_t charset_len;
	char encoding;			/* 'B' or 'Q' */
	const char *text;
	size_t text_len;
	size_t len;			/* of the whole word */
};

/* Is s[0..n) the start of an encoded word? Fills w when it is. */
static bool
mime_words_parse(const char *s, size_t n, struct mime_word *w)
{
	size_t i = 2;

	if (n < 8 || s[0] != '=' || s[1] != '?')
		return false;
	w->charset = s + 2;
	while (i < n && s[i] != '?' && (unsigned char)s[i] > ' ' &&
	    (unsigned char)s[i] < 127)
		i++;
	w->charset_len = i - 2;
	if (w->charset_len == 0 || w->charset_len > MIME_WORD_CHARSET_MAX ||
	    i + 2 >= n || s[i] != '?')
		return false;
	w->encoding = (char)(s[i + 1] & ~0x20);
	if ((w->encoding != 'B' && w->encoding != 'Q') || s[i + 2] != '?')
		return false;
	i += 3;
	w->text = s + i;
	while (i < n && s[i] != '?' && (unsigned char)s[i] > ' ' &&
	    (unsigned char)s[i] < 127)
		i++;
	if (i + 1 >= n || s[i] != '?' || s[i + 1] != '=')
		return false;
	w->text_len = (size_t)(s + i - w->text);
	w->len = i + 2;
	return true;
}

static int
mime_words_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
mime_words_b64(int c)
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
mime_words_decode_text(struct mime_buf *b, const struct mime_word *w)
{
	const char *t = w->text;
	size_t i, n = w->text_len;
	unsigned int acc = 0, bits = 0;
	int v, lo;

	if (w->encoding == 'B') {
		for (i = 0; i < n && t[i] != '='; i++) {
			if ((v = mime_words_b64((unsigned char)t[i])) < 0)
				continue;
			acc = (acc << 6 | (unsigned int)v) & 0xffffff;
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				mime_buf_addc(b, (unsigned char)(acc >> bits));
			}
		}
		return;
	}
	for (i = 0; i < n; i++) {
		if (t[i] == '_')
			mime_buf_addc(b, ' ');
		else if (t[i] == '=' && i + 2 < n &&
		    (v = mime_words_hex((unsigned char)t[i + 1])) >= 0 &&
		    (lo = mime_words_hex((unsigned char)t[i + 2])) >= 0) {
			mime_buf_addc(b, (unsigned char)(v << 4 | lo));
			i += 2;
		} else
			mime_buf_addc(b, (unsigned char)t[i]);
	}
}

/* Appends s[0..n), already UTF-8, with NULs replaced. */
static void
mime_words_put(struct mime_buf *out, const char *s, size_t n)
{
	const char *nul;

	if (n == 0)
		return;
	while ((nul = memchr(s, '\0', n)) != NULL) {
		mime_buf_add(out, s, (size_t)(nul - s));
		mime_buf_add(out, "\xef\xbf\xbd", 3);
		n -= (size_t)(nul - s) + 1;
		s = nul + 1;
	}
	mime_buf_add(out, s, n);
}

/* Converts the decoded bytes of a run of words in one charset. */
static void
mime_words_flush(struct mime_buf *out, struct mime_buf *bytes,
    const char *charset, size_t charset_len)
{
	char name[MIME_WORD_CHARSET_MAX + 1];
	struct mime_buf tmp = { 0 };

	memcpy(name, charset, charset_len);
	name[charset_len] = '\0';
	mime_charset_to_utf8(&tmp, name, (const unsigned char *)bytes->data,
	    bytes->len);
	mime_words_put(out, tmp.data, tmp.len);
	mime_buf_free(&tmp);
	bytes->len = 0;
}

static void
mime_words_plain(struct mime_buf *out, const char *s, size_t n, bool utf8)
{
	struct mime_buf tmp = { 0 };

	if (utf8) {
		mime_words_put(out, s, n);
		return;
	}
	mime_raw_to_utf8(&tmp, (const unsigned char *)s, n);
	mime_words_put(out, tmp.data, tmp.len);
	mime_buf_free(&tmp);
}

void
mime_words_decode(struct mime_buf *out, const char *s, size_t len)
{
	struct mime_buf bytes = { 0 };
	struct mime_word w;
	const char *charset = NULL, *next;
	size_t charset_len = 0, i = 0, j, start;
	bool utf8 = mime_utf8_valid((const unsigned char *)s, len);
	bool in_words = false;

	while (i < len) {
		if (mime_words_parse(s + i, len - i, &w)) {
			if (in_words && (w.charset_len != charset_len ||
			    strncasecmp(w.charset, charset, charset_len) != 0))
				mime_words_flush(out, &bytes, charset,
				    charset_len);
			charset = w.charset;
			charset_len = w.charset_len;
			mime_words_decode_text(&bytes, &w);
			in_words = true;
			i += w.len;
			continue;
		}
		if (in_words) {
			/* white space up to the next word is dropped */
			for (j = i; j < len && (mime_is_wsp((unsigned char)s[j])
			    || s[j] == '\r' || s[j] == '\n'); j++)
				;
			if (j > i && j < len &&
			    mime_words_parse(s + j, len - j, &w)) {
				i = j;
				continue;
			}
			mime_words_flush(out, &bytes, charset, charset_len);
			in_words = false;
		}
		/* plain text up to the next "=?" */
		start = i;
		i++;
		next = memchr(s + i, '=', len - i);
		while (next != NULL && (size_t)(next - s) + 1 < len &&
		    next[1] != '?')
			next = memchr(next + 1, '=',
			    len - (size_t)(next + 1 - s));
		i = next != NULL ? (size_t)(next - s) : len;
		mime_words_plain(out, s + start, i - start, utf8);
	}
	if (in_words)
		mime_words_flush(out, &bytes, charset, charset_len);
	mime_buf_free(&bytes);
}

char *
fc_mime_header_unfold(struct fc_arena *a, const char *value)
{
	size_t i, start, end;
	char *r;
	size_t n = 0;

	start = 0;
	while (value[start] != '\0' && (mime_is_wsp((unsigned char)value[start])
	    || value[start] == '\r' || value[start] == '\n'))
		start++;
	end = start + strlen(value + start);
	while (end > start && (mime_is_wsp((unsigned char)value[end - 1]) ||
	    value[end - 1] == '\r' || value[end - 1] == '\n'))
		end--;
	r = fc_arena_alloc(a, end - start + 1);
	for (i = start; i < end; i++)
		if (value[i] != '\r' && value[i] != '\n')
			r[n++] = value[i];
	r[n] = '\0';
	return r;
}

char *
fc_mime_header_decode(struct fc_arena *a, const char *value)
{
	struct mime_buf out = { 0 };
	const char *s;
	char *r;

	s = fc_mime_header_unfold(a, value);
	mime_words_decode(&out, s, strlen(s));
	r = mime_buf_arena(a, &out);
	mime_buf_free(&out);
	return r;
}
