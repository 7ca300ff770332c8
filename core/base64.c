/*
 * base64.c - RFC 4648 base64, strict: the decoder refuses characters
 * outside the alphabet, whitespace, and misplaced or missing padding
 * (SASL responses must be exact, RFC 4422 section 3).
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
fc_base64_encoded_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

void
fc_base64_encode(const void *in, size_t n, char *out)
{
	const unsigned char *p = in;
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 |
		    p[i + 2];

		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
}

static int
b64_value(char c)
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

int
fc_base64_decode(const char *in, size_t n, unsigned char *out,
    size_t *outlen_r)
{
	size_t i, o = 0;

	if (n % 4 != 0)
		return -1;
	for (i = 0; i < n; i += 4) {
		int a = b64_value(in[i]), b = b64_value(in[i + 1]);
		int c = b64_value(in[i + 2]), d = b64_value(in[i + 3]);
		bool last = i + 4 == n;

		if (a < 0 || b < 0)
			return -1;
		if (c < 0) {
			/* "xx==" only at the end, with no stray bits */
			if (!last || in[i + 2] != '=' || in[i + 3] != '='
			    || (b & 15) != 0)
				return -1;
			out[o++] = (unsigned char)(a << 2 | b >> 4);
			break;
		}
		if (d < 0) {
			if (!last || in[i + 3] != '=' || (c & 3) != 0)
				return -1;
			out[o++] = (unsigned char)(a << 2 | b >> 4);
			out[o++] = (unsigned char)((b & 15) << 4 | c >> 2);
			break;
		}
		out[o++] = (unsigned char)(a << 2 | b >> 4);
		out[o++] = (unsigned char)((b & 15) << 4 | c >> 2);
		out[o++] = (unsigned char)((c & 3) << 6 | d);
	}
	*outlen_r = o;
	return 0;
}
