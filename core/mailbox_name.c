/*
 * mailbox_name.c - what a mailbox name may be, and IMAP's modified UTF-7.
 *
 * Every store takes names through fc_mailbox_name_check() first, so no
 * back end sees a name that could climb out of the user's tree or hide
 * a control character: empty levels ("a//b", a leading or trailing '/'),
 * "." and ".." levels, bytes below 0x20 and 0x7f, invalid or overlong
 * UTF-8, and names longer than FC_MAILBOX_NAME_MAX are refused.
 *
 * Modified UTF-7 (RFC 3501 section 5.1.3): printable ASCII stands for
 * itself except '&', written "&-"; other characters are UTF-16 in a
 * modified base64 ('/' is ','), between '&' and '-'. The decoder refuses
 * what the RFC forbids: printable ASCII or an empty run inside a shift,
 * bits left over, unpaired surrogates, a shift that is not closed.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <facteur/arena.h>
#include <facteur/storage.h>

static const char mutf7_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

bool
fc_mailbox_is_inbox(const char *name)
{
	return strcasecmp(name, "INBOX") == 0;
}

/* Length of the UTF-8 sequence at p (valid, shortest form, not a
 * surrogate, at most U+10FFFF), or 0. */
static size_t
name_utf8_len(const unsigned char *p)
{
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		return (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (p[0] >= 0xe0 && p[0] <= 0xef) {
		if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if (p[0] == 0xe0 && p[1] < 0xa0)
			return 0;	/* overlong */
		if (p[0] == 0xed && p[1] >= 0xa0)
			return 0;	/* surrogate */
		return 3;
	}
	if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80
		    || (p[3] & 0xc0) != 0x80)
			return 0;
		if (p[0] == 0xf0 && p[1] < 0x90)
			return 0;	/* overlong */
		if (p[0] == 0xf4 && p[1] >= 0x90)
			return 0;	/* above U+10FFFF */
		return 4;
	}
	return 0;
}

int
fc_mailbox_name_check(const char *name, const char **reason_r)
{
	const unsigned char *p = (const unsigned char *)name, *level = p;
	size_t n;

	if (*p == '\0') {
		*reason_r = "empty name";
		return -1;
	}
	if (strlen(name) > FC_MAILBOX_NAME_MAX) {
		*reason_r = "name too long";
		return -1;
	}
	for (;;) {
		if (*p == '/' || *p == '\0') {
			size_t len = (size_t)(p - level);

			if (len == 0) {
				*reason_r = "empty level in name";
				return -1;
			}
			if ((len == 1 && level[0] == '.')
			    || (len == 2 && level[0] == '.' && level[1] == '.')) {
				*reason_r = "\".\" and \"..\" are not names";
				return -1;
			}
			if (*p == '\0')
				return 0;
			level = ++p;
			continue;
		}
		if (*p < 0x20 || *p == 0x7f) {
			*reason_r = "control character in name";
			return -1;
		}
		if ((n = name_utf8_len(p)) == 0) {
			*reason_r = "name is not valid UTF-8";
			return -1;
		}
		p += n;
	}
}

/* ------------------------------------------------------------------ */
/* Modified UTF-7 */

static int
mutf7_value(char c)
{
	const char *p = strchr(mutf7_alphabet, c);

	return c != '\0' && p != NULL ? (int)(p - mutf7_alphabet) : -1;
}

/* Appends code point cp as UTF-8. */
static size_t
mutf7_put_utf8(char *out, uint32_t cp)
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
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

char *
fc_mutf7_decode(struct fc_arena *a, const char *in, const char **reason_r)
{
	/* each input byte gives at most 4 bytes of UTF-8 (ASCII: 1; a
	 * shifted run of 8 base64 characters, 6 bytes of UTF-16: <= 8) */
	char *out = fc_arena_alloc(a, strlen(in) * 4 + 1);
	size_t o = 0;
	const char *p = in;

	while (*p != '\0') {
		uint32_t bits = 0, high = 0;
		unsigned int nbits = 0, units = 0;

		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) {
			*reason_r = "not printable ASCII";
			return NULL;
		}
		if (*p != '&') {
			out[o++] = *p++;
			continue;
		}
		p++;
		if (*p == '-') {
			out[o++] = '&';
			p++;
			continue;
		}
		for (; *p != '-'; p++) {
			int v = mutf7_value(*p);

			if (v < 0) {
				*reason_r = *p == '\0' ? "unterminated &-shift" :
				    "bad character in &-shift";
				return NULL;
			}
			bits = bits << 6 | (uint32_t)v;
			nbits += 6;
			if (nbits < 16)
				continue;
			nbits -= 16;
			{
				uint32_t u = (bits >> nbits) & 0xffff;

				units++;
				if (high != 0) {
					if (u < 0xdc00 || u > 0xdfff) {
						*reason_r = "unpaired surrogate";
						return NULL;
					}
					o += mutf7_put_utf8(out + o, 0x10000 +
					    ((high - 0xd800) << 10) +
					    (u - 0xdc00));
					high = 0;
				} else if (u >= 0xd800 && u <= 0xdbff) {
					high = u;
				} else if (u >= 0xdc00 && u <= 0xdfff) {
					*reason_r = "unpaired surrogate";
					return NULL;
				} else if (u >= 0x20 && u <= 0x7e) {
					*reason_r = "printable ASCII in &-shift";
					return NULL;
				} else
					o += mutf7_put_utf8(out + o, u);
			}
		}
		p++;	/* the '-' */
		if (units == 0 || high != 0 || nbits >= 6
		    || (bits & ((1u << nbits) - 1)) != 0) {
			*reason_r = "malformed &-shift";
			return NULL;
		}
	}
	out[o] = '\0';
	return out;
}

/* Reads one code point from valid UTF-8; advances *pp. */
static uint32_t
mutf7_get_utf8(const unsigned char **pp)
{
	const unsigned char *p = *pp;
	size_t n = name_utf8_len(p);
	uint32_t cp;

	switch (n) {
	case 2:
		cp = (uint32_t)(p[0] & 0x1f) << 6 | (p[1] & 0x3f);
		break;
	case 3:
		cp = (uint32_t)(p[0] & 0x0f) << 12 |
		    (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
		break;
	case 4:
		cp = (uint32_t)(p[0] & 0x07) << 18 |
		    (uint32_t)(p[1] & 0x3f) << 12 |
		    (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
		break;
	default:
		/* not UTF-8: take the byte as Latin-1 rather than fail */
		cp = p[0];
		n = 1;
		break;
	}
	*pp = p + n;
	return cp;
}

char *
fc_mutf7_encode(struct fc_arena *a, const char *utf8)
{
	const unsigned char *p = (const unsigned char *)utf8;
	/* worst case: each byte a character needing 8/3 base64 chars, plus
	 * shift markers; 4x is a safe bound */
	char *out = fc_arena_alloc(a, strlen(utf8) * 4 + 4);
	size_t o = 0;

	while (*p != '\0') {
		uint32_t bits = 0;
		unsigned int nbits = 0;

		if (*p >= 0x20 && *p <= 0x7e) {
			out[o++] = (char)*p;
			if (*p++ == '&')
				out[o++] = '-';
			continue;
		}
		out[o++] = '&';
		while (*p != '\0' && !(*p >= 0x20 && *p <= 0x7e)) {
			uint32_t cp = mutf7_get_utf8(&p), units[2];
			size_t n = 1, i;

			if (cp >= 0x10000) {
				units[0] = 0xd800 + ((cp - 0x10000) >> 10);
				units[1] = 0xdc00 + ((cp - 0x10000) & 0x3ff);
				n = 2;
			} else
				units[0] = cp;
			for (i = 0; i < n; i++) {
				bits = bits << 16 | units[i];
				nbits += 16;
				while (nbits >= 6) {
					nbits -= 6;
					out[o++] = mutf7_alphabet[(bits >> nbits)
					    & 0x3f];
				}
			}
		}
		if (nbits > 0)
			out[o++] = mutf7_alphabet[(bits << (6 - nbits)) & 0x3f];
		out[o++] = '-';
	}
	out[o] = '\0';
	return out;
}
