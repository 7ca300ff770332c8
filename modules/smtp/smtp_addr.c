/*
 * smtp_addr.c - paths and parameters of MAIL and RCPT (RFC 5321 4.1.2).
 *
 *	FROM:<local@domain> KEY=VALUE ...
 *	FROM:<>				the null reverse-path
 *	TO:<Postmaster>			postmaster without a domain
 *	TO:<@relay1,@relay2:local@dom>	a source route: ignored
 *
 * Strict where it keeps mail safe: the angle brackets are required, the
 * local part is a dot-string or a quoted string, the domain is a host
 * name or an address literal, and the lengths of RFC 5321 4.5.3.1 hold
 * (local part 64, domain 255, path 256). One lenient habit of real
 * clients is accepted: a space after the colon. Non-ASCII in the path
 * must be well-formed UTF-8 (RFC 6531 3.3, RFC 6532 3.1: RFC 3629, so no
 * overlong forms, surrogates or stray bytes); whether SMTPUTF8 was given
 * is the caller's check (path->utf8). An address literal must be one:
 * IPv4, "IPv6:" and an IPv6 address, or a standardized tag and its
 * content (RFC 5321 4.1.3), so "[mail]" is refused.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <facteur/arena.h>

#include "smtp.h"

#define SMTP_LOCAL_MAX	64
#define SMTP_DOMAIN_MAX	255
#define SMTP_PATH_MAX	256

/*
 * The length of the well-formed UTF-8 sequence at p (RFC 3629 4), or 0.
 * The second byte's range shuts out overlong forms (C0, C1, E0 80-9F,
 * F0 80-8F), surrogates (ED A0-BF) and code points past U+10FFFF.
 */
static size_t
addr_utf8_len(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (p[0] < 0x80)
		return p[0] != '\0';
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;
		else if (p[0] == 0xed)
			hi = 0x9f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		if (p[0] == 0xf0)
			lo = 0x90;
		else if (p[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* How many bytes of atext start at p (a UTF-8 character is one), or 0. */
static size_t
addr_atext(const char *p, bool utf8)
{
	unsigned char c = (unsigned char)*p;

	if (c >= 0x80)
		return utf8 ? addr_utf8_len(p) : 0;
	return c != '\0' && (isalnum(c)
	    || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* A dot-string: atoms joined by single dots. Returns its end or NULL. */
static const char *
addr_dot_string(const char *p, bool utf8)
{
	const char *start = p;

	for (;;) {
		const char *atom = p;
		size_t n;

		while ((n = addr_atext(p, utf8)) > 0)
			p += n;
		if (p == atom)
			return NULL;	/* empty atom: "..", leading '.' */
		if (*p != '.')
			break;
		p++;
	}
	return p > start ? p : NULL;
}

static const char *
addr_quoted_string(const char *p, bool utf8)
{
	if (*p++ != '"')
		return NULL;
	while (*p != '"') {
		unsigned char c = (unsigned char)*p;

		if (c == '\0')
			return NULL;
		if (c == '\\') {
			/* quoted-pairSMTP: %d92 %d32-126 */
			if ((unsigned char)p[1] < 32 || (unsigned char)p[1] > 126)
				return NULL;
			p += 2;
			continue;
		}
		/* qtextSMTP: %d32-33 / %d35-91 / %d93-126, and UTF-8 */
		if (c >= 0x80) {
			size_t n = utf8 ? addr_utf8_len(p) : 0;

			if (n == 0)
				return NULL;
			p += n;
			continue;
		}
		if (c < 32 || c == 127)
			return NULL;
		p++;
	}
	return p + 1;
}

/*
 * The inside of an address literal (RFC 5321 4.1.3): an IPv4 address,
 * "IPv6:" and an IPv6 address, or a standardized tag (an Ldh-str) with
 * ":" and dcontent (%d33-90 / %d94-126). The addresses are checked with
 * inet_pton(), so "[mail]" or "[1.2.3]" is no literal.
 */
static bool
addr_literal(const char *p, size_t len)
{
	char buf[64];
	const char *colon = memchr(p, ':', len);
	size_t i;

	if (len > 5 && strncasecmp(p, "IPv6:", 5) == 0) {
		struct in6_addr in6;

		if (len - 5 >= sizeof(buf))
			return false;
		memcpy(buf, p + 5, len - 5);
		buf[len - 5] = '\0';
		return inet_pton(AF_INET6, buf, &in6) == 1;
	}
	if (colon == NULL) {
		struct in_addr in;

		if (len >= sizeof(buf))
			return false;
		memcpy(buf, p, len);
		buf[len] = '\0';
		return inet_pton(AF_INET, buf, &in) == 1;
	}
	/* Standardized-tag: Ldh-str, ending in a letter or digit */
	if (colon == p || !isalnum((unsigned char)*p)
	    || !isalnum((unsigned char)colon[-1]))
		return false;
	for (i = 0; p + i < colon; i++)
		if (!isalnum((unsigned char)p[i]) && p[i] != '-')
			return false;
	if (colon + 1 == p + len)
		return false;
	for (i = (size_t)(colon + 1 - p); i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < 33 || c > 126 || c == '[' || c == '\\' || c == ']')
			return false;
	}
	return true;
}

/* A domain: LDH labels joined by dots, or [address literal]. */
static const char *
addr_domain(const char *p, bool utf8)
{
	if (*p == '[') {
		const char *close = strchr(p + 1, ']');

		if (close == NULL || !addr_literal(p + 1,
		    (size_t)(close - p - 1)))
			return NULL;
		return close + 1;
	}
	for (;;) {
		const char *label = p;
		size_t n;

		for (;;) {
			unsigned char c = (unsigned char)*p;

			if (c >= 0x80 && utf8 && (n = addr_utf8_len(p)) > 0)
				p += n;
			else if (isalnum(c) || c == '-')
				p++;
			else
				break;
		}
		if (p == label || *label == '-' || p[-1] == '-')
			return NULL;
		if (*p != '.')
			break;
		p++;
	}
	return p;
}

static bool
addr_has_8bit(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

int
smtp_parse_path(struct fc_arena *a, const char *arg, const char *keyword,
    bool null_ok, struct smtp_path *path, char **params_r,
    const char **error_r)
{
	size_t klen = strlen(keyword);
	const char *p = arg, *open, *local, *at, *end, *close;
	bool utf8 = true;	/* checked below against SMTPUTF8 */

	memset(path, 0, sizeof(*path));
	*params_r = NULL;
	if (strncasecmp(p, keyword, klen) != 0 || p[klen] != ':') {
		*error_r = "501 5.5.4 Syntax: MAIL FROM:<address> or "
		    "RCPT TO:<address>";
		return -1;
	}
	p += klen + 1;
	if (*p == ' ')
		p++;
	if (*p != '<') {
		*error_r = "501 5.1.7 Syntax: the address goes in <angle "
		    "brackets>";
		return -1;
	}
	open = p++;
	if (*p == '>') {
		if (!null_ok) {
			*error_r = "501 5.1.3 Empty address";
			return -1;
		}
		path->address = fc_arena_strdup(a, "");
		close = p;
		goto params;
	}
	/* a source route (@a,@b:) is obsolete: skip it */
	if (*p == '@') {
		const char *colon = strchr(p, ':');

		if (colon == NULL || colon > strchr(p, '>')) {
			*error_r = "501 5.1.7 Syntax error in the source route";
			return -1;
		}
		p = colon + 1;
	}
	local = p;
	end = *p == '"' ? addr_quoted_string(p, utf8) : addr_dot_string(p,
	    utf8);
	if (end == NULL) {
		*error_r = "501 5.1.7 Syntax error in the address";
		return -1;
	}
	if (*end == '>') {
		/* only <postmaster> may go without a domain (RFC 5321 4.5.1) */
		if (end - local != 10 || strncasecmp(local, "postmaster", 10)
		    != 0) {
			*error_r = "501 5.1.3 The address needs a domain";
			return -1;
		}
		path->local = fc_arena_strndup(a, local, 10);
		path->address = fc_arena_strdup(a, "postmaster");
		close = end;
		goto params;
	}
	if (*end != '@') {
		*error_r = "501 5.1.7 Syntax error in the address";
		return -1;
	}
	if (end - local > SMTP_LOCAL_MAX) {
		*error_r = "501 5.1.3 Local part too long";
		return -1;
	}
	at = end;
	end = addr_domain(at + 1, utf8);
	if (end == NULL || *end != '>') {
		*error_r = "501 5.1.2 Syntax error in the domain";
		return -1;
	}
	if (end - (at + 1) > SMTP_DOMAIN_MAX) {
		*error_r = "501 5.1.2 Domain too long";
		return -1;
	}
	path->local = fc_arena_strndup(a, local, (size_t)(at - local));
	path->domain = fc_arena_strndup(a, at + 1, (size_t)(end - at - 1));
	path->address = fc_arena_strndup(a, local, (size_t)(end - local));
	close = end;
params:
	if (close - open + 1 > SMTP_PATH_MAX) {
		*error_r = "501 5.1.7 Address too long";
		return -1;
	}
	path->utf8 = addr_has_8bit(path->address);
	p = close + 1;
	if (*p != '\0' && *p != ' ') {
		*error_r = "501 5.5.4 Syntax error after the address";
		return -1;
	}
	while (*p == ' ')
		p++;
	*params_r = fc_arena_strdup(a, p);
	return 0;
}

/*
 * An esmtp-value (RFC 5321 4.1.2): 1*(%d33-60 / %d62-126), so not empty
 * and without '=', spaces or controls. Well-formed UTF-8 is let through
 * for the parameters RFC 6531 extends; each command checks its own
 * values further.
 */
static bool
addr_param_value(const char *v)
{
	size_t n;

	if (*v == '\0')
		return false;
	while (*v != '\0') {
		unsigned char c = (unsigned char)*v;

		if (c >= 0x80) {
			if ((n = addr_utf8_len(v)) == 0)
				return false;
			v += n;
			continue;
		}
		if (c < 33 || c > 126 || c == '=')
			return false;
		v++;
	}
	return true;
}

/* Splits parameters in place: "SIZE=123 BODY=8BITMIME SMTPUTF8". */
int
smtp_parse_params(struct fc_arena *a, char *params, char **keys,
    char **values, size_t max)
{
	size_t n = 0;
	char *p = params;

	(void)a;
	while (*p != '\0') {
		char *key = p, *eq;

		while (*p != '\0' && *p != ' ')
			p++;
		if (*p == ' ')
			*p++ = '\0';
		while (*p == ' ')
			p++;
		if (n == max)
			return -1;
		eq = strchr(key, '=');
		if (eq != NULL) {
			*eq = '\0';
			values[n] = eq + 1;
			if (!addr_param_value(values[n]))
				return -1;
		} else
			values[n] = NULL;
		/* esmtp-keyword: ALPHA / DIGIT, then also '-' */
		if (*key == '\0' || !isalnum((unsigned char)*key))
			return -1;
		for (eq = key; *eq != '\0'; eq++)
			if (!isalnum((unsigned char)*eq) && *eq != '-')
				return -1;
		keys[n++] = key;
	}
	return (int)n;
}

/* RFC 3461 xtext: "+XX" for the unsafe bytes. */
bool
smtp_xtext_decode(struct fc_arena *a, const char *in, char **out_r)
{
	char *out = fc_arena_alloc(a, strlen(in) + 1);
	size_t o = 0;

	for (; *in != '\0'; in++) {
		unsigned char c = (unsigned char)*in;

		if (c == '+') {
			unsigned int v = 0;
			int i;

			for (i = 1; i <= 2; i++) {
				char h = in[i];

				if (h >= '0' && h <= '9')
					v = v * 16 + (unsigned int)(h - '0');
				else if (h >= 'A' && h <= 'F')
					v = v * 16 + (unsigned int)(h - 'A' + 10);
				else
					return false;
			}
			out[o++] = (char)v;
			in += 2;
			continue;
		}
		if (c < 33 || c > 126 || c == '=')
			return false;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	*out_r = out;
	return true;
}
