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
 * clients is accepted: a space after the colon. UTF-8 in the path is
 * allowed only when the caller says SMTPUTF8 was given (RFC 6531).
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <facteur/arena.h>

#include "smtp.h"

#define SMTP_LOCAL_MAX	64
#define SMTP_DOMAIN_MAX	255
#define SMTP_PATH_MAX	256

static bool
addr_atext(unsigned char c, bool utf8)
{
	if (c >= 0x80)
		return utf8;
	return isalnum(c) || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* A dot-string: atoms joined by single dots. Returns its end or NULL. */
static const char *
addr_dot_string(const char *p, bool utf8)
{
	const char *start = p;

	for (;;) {
		const char *atom = p;

		while (*p != '\0' && addr_atext((unsigned char)*p, utf8))
			p++;
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
		/* qtextSMTP: %d32-33 / %d35-91 / %d93-126 */
		if ((c < 32 || c == 127) || (c >= 0x80 && !utf8))
			return NULL;
		p++;
	}
	return p + 1;
}

/* A domain: LDH labels joined by dots, or [address literal]. */
static const char *
addr_domain(const char *p, bool utf8)
{
	const char *start = p;

	if (*p == '[') {
		p++;
		while (*p != '\0' && *p != ']' && *p != '['
		    && (isalnum((unsigned char)*p) || strchr(".:-", *p)))
			p++;
		return *p == ']' && p - start > 1 ? p + 1 : NULL;
	}
	for (;;) {
		const char *label = p;

		while (*p != '\0' && (isalnum((unsigned char)*p) || *p == '-'
		    || ((unsigned char)*p >= 0x80 && utf8)))
			p++;
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
