/*
 * imap_str.c - a growing byte string and the IMAP quoting rules
 * (RFC 3501 section 4 and 9, RFC 9051 section 4).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <facteur/arena.h>

#include "imap_str.h"

/* A quoted string longer than this is sent as a literal: some clients
 * have small fixed buffers for quoted strings. */
#define QUOTED_MAX	1024

void
imap_str_init(struct imap_str *s)
{
	s->data = NULL;
	s->len = 0;
	s->size = 0;
}

void
imap_str_free(struct imap_str *s)
{
	free(s->data);
	imap_str_init(s);
}

void
imap_str_reset(struct imap_str *s)
{
	s->len = 0;
}

/* room for n more bytes and a NUL */
static void
imap_str_grow(struct imap_str *s, size_t n)
{
	size_t need = s->len + n + 1;

	if (need <= s->size)
		return;
	if (s->size == 0)
		s->size = 256;
	while (s->size < need)
		s->size *= 2;
	s->data = fc_realloc(s->data, s->size);
}

const char *
imap_str_cstr(struct imap_str *s)
{
	imap_str_grow(s, 0);
	s->data[s->len] = '\0';
	return s->data;
}

void
imap_str_add(struct imap_str *s, const void *p, size_t n)
{
	if (n == 0)
		return;
	imap_str_grow(s, n);
	memcpy(s->data + s->len, p, n);
	s->len += n;
}

void
imap_str_adds(struct imap_str *s, const char *str)
{
	imap_str_add(s, str, strlen(str));
}

void
imap_str_addc(struct imap_str *s, char c)
{
	imap_str_grow(s, 1);
	s->data[s->len++] = c;
}

void
imap_str_printf(struct imap_str *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	imap_str_grow(s, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(s->data + s->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	s->len += (size_t)n;
}

/* Strict UTF-8: no overlong forms, surrogates or code points past
 * U+10FFFF. */
bool
imap_str_utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0, len, k;
	unsigned char c, lo, hi;

	while (i < n) {
		c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		lo = 0x80;
		hi = 0xbf;
		if (c >= 0xc2 && c <= 0xdf)
			len = 2;
		else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else
			return false;
		if (n - i < len || s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (k = 2; k < len; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return false;
		i += len;
	}
	return true;
}

static bool
quotable(const unsigned char *p, size_t n, bool utf8)
{
	size_t i;

	if (n > QUOTED_MAX)
		return false;
	for (i = 0; i < n; i++) {
		if (p[i] == '\0' || p[i] == '\r' || p[i] == '\n')
			return false;
		if (p[i] >= 0x80 && !utf8)
			return false;
	}
	/* 8-bit text in another charset would reach a UTF-8 client as
	 * invalid UTF-8: a literal may hold any byte */
	return !utf8 || imap_str_utf8_valid(p, n);
}

void
imap_str_add_string(struct imap_str *s, const void *p, size_t n, bool utf8)
{
	const unsigned char *b = p;
	size_t i;

	if (!quotable(b, n, utf8)) {
		imap_str_printf(s, "{%zu}\r\n", n);
		imap_str_add(s, b, n);
		return;
	}
	imap_str_addc(s, '"');
	for (i = 0; i < n; i++) {
		if (b[i] == '"' || b[i] == '\\')
			imap_str_addc(s, '\\');
		imap_str_addc(s, (char)b[i]);
	}
	imap_str_addc(s, '"');
}

void
imap_str_add_nstring(struct imap_str *s, const char *str, bool utf8)
{
	if (str == NULL)
		imap_str_adds(s, "NIL");
	else
		imap_str_add_string(s, str, strlen(str), utf8);
}

/* ATOM-CHAR of RFC 3501 plus "]", which ASTRING-CHAR allows */
static bool
astring_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\", c) == NULL;
}

void
imap_str_add_astring(struct imap_str *s, const char *str, bool utf8)
{
	size_t i, n = strlen(str);

	for (i = 0; i < n; i++)
		if (!astring_char((unsigned char)str[i]))
			break;
	/* "NIL" as an atom would read as nil where a string is meant */
	if (n > 0 && i == n && strcasecmp(str, "NIL") != 0)
		imap_str_add(s, str, n);
	else
		imap_str_add_string(s, str, n, utf8);
}
