/*
 * imap_casefold.c - Unicode simple case folding over UTF-8, in pieces.
 *
 * The decoding is strict (no overlong forms, no surrogates, nothing past
 * U+10FFFF): anything else is one U+FFFD per bad byte, as the MIME
 * decoders repair text, so the needle and the text are repaired alike.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "imap_casefold.h"

uint32_t
imap_casefold_cp(uint32_t cp)
{
	size_t lo = 0, hi = imap_casefold_table_len;

	if (cp < 0x80)
		return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct imap_casefold_range *r = &imap_casefold_table[mid];

		if (cp < r->first)
			hi = mid;
		else if (cp > r->last)
			lo = mid + 1;
		else
			return (cp - r->first) % r->step == 0 ?
			    (uint32_t)((int32_t)cp + r->delta) : cp;
	}
	return cp;
}

/* Bytes a sequence starting with b has, or 0 when b cannot start one. */
static size_t
imap_utf8_len(unsigned char b)
{
	if (b < 0x80)
		return 1;
	if (b >= 0xc2 && b <= 0xdf)
		return 2;
	if (b >= 0xe0 && b <= 0xef)
		return 3;
	if (b >= 0xf0 && b <= 0xf4)
		return 4;
	return 0;
}

/* Decodes the n bytes of a sequence whose length imap_utf8_len() gave;
 * false when it is not valid UTF-8. */
static bool
imap_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp_r)
{
	uint32_t cp;
	size_t i;

	if (n == 1) {
		*cp_r = s[0];
		return true;
	}
	cp = s[0] & (0x7f >> n);
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return false;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)
	    || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return false;
	*cp_r = cp;
	return true;
}

static size_t
imap_utf8_encode(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Are these the continuation bytes of a sequence? */
static bool
imap_utf8_tail(const unsigned char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return false;
	return true;
}

void
imap_casefold_init(struct imap_casefold *cf, imap_casefold_out_fn *out,
    void *arg)
{
	memset(cf, 0, sizeof(*cf));
	cf->out = out;
	cf->arg = arg;
}

/* The output goes out in pieces of at most this many bytes. */
#define FOLD_CHUNK	4096

void
imap_casefold_feed(struct imap_casefold *cf, const char *data, size_t len)
{
	const unsigned char *s = (const unsigned char *)data;
	char buf[FOLD_CHUNK + 16];
	size_t o = 0, i = 0, n;
	uint32_t cp;

	while (i < len || cf->plen > 0) {
		if (cf->plen > 0) {
			/* complete the character held from the last piece */
			n = imap_utf8_len(cf->part[0]);
			while (cf->plen < n && i < len
			    && (s[i] & 0xc0) == 0x80)
				cf->part[cf->plen++] = s[i++];
			if (cf->plen < n && i == len)
				break;	/* still incomplete: wait */
			if (cf->plen == n && imap_utf8_decode(cf->part, n,
			    &cp))
				o += imap_utf8_encode(imap_casefold_cp(cp),
				    buf + o);
			else
				/* one per byte, as when the piece is whole */
				while (cf->plen-- > 0)
					o += imap_utf8_encode(0xfffd, buf + o);
			cf->plen = 0;
		} else if (s[i] < 0x80) {
			/* the common case, a byte at a time */
			buf[o++] = s[i] >= 'A' && s[i] <= 'Z' ?
			    (char)(s[i] + 32) : (char)s[i];
			i++;
		} else {
			n = imap_utf8_len(s[i]);
			if (n == 0) {
				o += imap_utf8_encode(0xfffd, buf + o);
				i++;
			} else if (i + n > len && imap_utf8_tail(s + i + 1,
			    len - i - 1)) {
				/* cut by the end of the piece: keep it */
				cf->plen = 0;
				while (i < len)
					cf->part[cf->plen++] = s[i++];
			} else if (i + n > len) {
				o += imap_utf8_encode(0xfffd, buf + o);
				i++;
			} else if (imap_utf8_decode(s + i, n, &cp)) {
				o += imap_utf8_encode(imap_casefold_cp(cp),
				    buf + o);
				i += n;
			} else {
				o += imap_utf8_encode(0xfffd, buf + o);
				i++;
			}
		}
		if (o >= FOLD_CHUNK) {
			cf->out(cf->arg, buf, o);
			o = 0;
		}
	}
	if (o > 0)
		cf->out(cf->arg, buf, o);
}

void
imap_casefold_finish(struct imap_casefold *cf)
{
	char buf[4];
	size_t n;

	if (cf->plen == 0)
		return;
	cf->plen = 0;
	n = imap_utf8_encode(0xfffd, buf);
	cf->out(cf->arg, buf, n);
}
