/*
 * imap_bodystructure.c - BODY and BODYSTRUCTURE (RFC 3501 7.4.2, RFC
 * 9051 7.5.2) from the MIME tree.
 *
 * Rules:
 * - Type, subtype and parameter names are in lower case (the parser's
 *   form); clients compare them without case. Without a Content-Type
 *   field a part is text/plain (RFC 2045 5.2), or message/rfc822 in a
 *   digest, as the parser says. A text part without a charset parameter
 *   shows charset us-ascii, its default (RFC 2046 4.1.2), as Dovecot
 *   does.
 * - Parameter values are the parser's: RFC 2231 continuations joined and
 *   decoded to UTF-8. A value that is not ASCII goes to a client without
 *   UTF-8 as name*="utf-8''..." (RFC 2231 again), which clients decode;
 *   with UTF-8 enabled it is sent as it is.
 * - A multipart with no part (no boundary found) shows one empty
 *   text/plain part, as Dovecot does: the grammar needs at least one.
 * - message/rfc822 always carries an ENVELOPE, a body and a line count,
 *   as the grammar wants: when its content is encoded (or past the
 *   parser's limits) they are an all-NIL envelope and an empty text/plain
 *   body, as Dovecot writes them. message/global (RFC 6532) gets the
 *   same form only for clients with UTF-8 (IMAP4rev2's grammar); an
 *   IMAP4rev1 client sees it as a basic part.
 * - Sizes and line counts are those of the CRLF form the client sees.
 * - The encoding is the Content-Transfer-Encoding as written, "7bit"
 *   when absent. MD5 is Content-MD5 when present.
 */
#include "config.h"

#include <string.h>

#include <facteur/mime.h>

#include "imap_render.h"
#include "imap_str.h"

static const char empty_part[] =
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)";
static const char empty_part_ext[] =
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0"
    " NIL NIL NIL NIL)";

static const char empty_envelope[] =
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)";

static bool
bs_is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

static void
bs_param(struct imap_str *out, const char *name, const char *value,
    bool utf8)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *v;

	if (utf8 || bs_is_ascii(value)) {
		imap_str_add_string(out, name, strlen(name), utf8);
		imap_str_addc(out, ' ');
		imap_str_add_string(out, value, strlen(value), utf8);
		return;
	}
	/* RFC 2231: name*=utf-8''%XX... */
	imap_str_addc(out, '"');
	imap_str_adds(out, name);
	imap_str_adds(out, "*\" \"utf-8''");
	for (v = (const unsigned char *)value; *v != '\0'; v++) {
		if ((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') ||
		    (*v >= '0' && *v <= '9') || strchr("!#$&+-.^_`|~", *v))
			imap_str_addc(out, (char)*v);
		else {
			imap_str_addc(out, '%');
			imap_str_addc(out, hex[*v >> 4]);
			imap_str_addc(out, hex[*v & 15]);
		}
	}
	imap_str_addc(out, '"');
}

static void
bs_params(struct imap_str *out, const struct fc_mime_part *p,
    bool disposition, bool utf8)
{
	const char *name, *value;
	bool any = false, has_charset = false;
	size_t i;

	for (i = 0; disposition ?
	    fc_mime_part_disposition_param_at(p, i, &name, &value) :
	    fc_mime_part_param_at(p, i, &name, &value); i++) {
		imap_str_addc(out, any ? ' ' : '(');
		any = true;
		bs_param(out, name, value, utf8);
		if (strcmp(name, "charset") == 0)
			has_charset = true;
	}
	if (!disposition && !has_charset &&
	    strcmp(fc_mime_part_type(p), "text") == 0) {
		imap_str_adds(out, any ? " " : "(");
		imap_str_adds(out, "\"charset\" \"us-ascii\"");
		any = true;
	}
	imap_str_adds(out, any ? ")" : "NIL");
}

/* A header field's value unfolded and trimmed as an nstring. */
static void
bs_field(struct imap_str *out, const struct fc_mime_part *p,
    const char *name, bool utf8)
{
	const char *v = fc_mime_part_header(p, name, 0);
	size_t start = 0, end, i, mark;

	if (v == NULL) {
		imap_str_adds(out, "NIL");
		return;
	}
	while (v[start] == ' ' || v[start] == '\t' || v[start] == '\r' ||
	    v[start] == '\n')
		start++;
	end = start + strlen(v + start);
	while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t' ||
	    v[end - 1] == '\r' || v[end - 1] == '\n'))
		end--;
	/* the common case needs no copy: no line end inside */
	if (memchr(v + start, '\n', end - start) == NULL &&
	    memchr(v + start, '\r', end - start) == NULL) {
		imap_str_add_string(out, v + start, end - start, utf8);
		return;
	}
	/* unfold in place at the end of out, then quote from a copy */
	mark = out->len;
	for (i = start; i < end; i++)
		if (v[i] != '\r' && v[i] != '\n')
			imap_str_addc(out, v[i]);
	{
		struct imap_str tmp;

		imap_str_init(&tmp);
		imap_str_add(&tmp, out->data + mark, out->len - mark);
		out->len = mark;
		imap_str_add_string(out, tmp.data, tmp.len, utf8);
		imap_str_free(&tmp);
	}
}

/* Content-Language: NIL or a list of strings (one string would do for
 * one language; Dovecot writes a list, and so do we). */
static void
bs_language(struct imap_str *out, const struct fc_mime_part *p, bool utf8)
{
	const char *v = fc_mime_part_header(p, "Content-Language", 0);
	const char *tok[64];
	size_t len[64], n = 0, i;

	while (v != NULL && *v != '\0' && n < 64) {
		size_t l;

		while (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n' ||
		    *v == ',')
			v++;
		if (*v == '(') {	/* a comment */
			while (*v != '\0' && *v != ')')
				v++;
			if (*v == ')')
				v++;
			continue;
		}
		l = strcspn(v, " \t\r\n,(");
		if (l > 0) {
			tok[n] = v;
			len[n++] = l;
		}
		v += l;
	}
	if (n == 0) {
		imap_str_adds(out, "NIL");
		return;
	}
	imap_str_addc(out, '(');
	for (i = 0; i < n; i++) {
		if (i > 0)
			imap_str_addc(out, ' ');
		imap_str_add_string(out, tok[i], len[i], utf8);
	}
	imap_str_addc(out, ')');
}

/* disposition, language, location */
static void
bs_ext_common(struct imap_str *out, const struct fc_mime_part *p,
    bool utf8)
{
	const char *d = fc_mime_part_disposition(p);

	imap_str_addc(out, ' ');
	if (d == NULL)
		imap_str_adds(out, "NIL");
	else {
		imap_str_addc(out, '(');
		imap_str_add_string(out, d, strlen(d), utf8);
		imap_str_addc(out, ' ');
		bs_params(out, p, true, utf8);
		imap_str_addc(out, ')');
	}
	imap_str_addc(out, ' ');
	bs_language(out, p, utf8);
	imap_str_addc(out, ' ');
	bs_field(out, p, "Content-Location", utf8);
}

static void
bs_part(struct imap_str *out, const struct fc_mime_part *p, bool ext,
    bool utf8)
{
	const char *type = fc_mime_part_type(p);
	const char *subtype = fc_mime_part_subtype(p);
	const char *enc;
	const struct fc_mime_part *c;

	if (strcmp(type, "multipart") == 0) {
		imap_str_addc(out, '(');
		if (fc_mime_part_is_multipart(p)) {
			for (c = fc_mime_part_child(p); c != NULL;
			    c = fc_mime_part_next(c))
				bs_part(out, c, ext, utf8);
		} else
			imap_str_adds(out, ext ? empty_part_ext : empty_part);
		imap_str_addc(out, ' ');
		imap_str_add_string(out, subtype, strlen(subtype), utf8);
		if (ext) {
			imap_str_addc(out, ' ');
			bs_params(out, p, false, utf8);
			bs_ext_common(out, p, utf8);
		}
		imap_str_addc(out, ')');
		return;
	}

	imap_str_addc(out, '(');
	imap_str_add_string(out, type, strlen(type), utf8);
	imap_str_addc(out, ' ');
	imap_str_add_string(out, subtype, strlen(subtype), utf8);
	imap_str_addc(out, ' ');
	bs_params(out, p, false, utf8);
	imap_str_addc(out, ' ');
	bs_field(out, p, "Content-ID", utf8);
	imap_str_addc(out, ' ');
	bs_field(out, p, "Content-Description", utf8);
	imap_str_addc(out, ' ');
	enc = fc_mime_part_encoding_raw(p);
	if (enc == NULL || *enc == '\0')
		imap_str_adds(out, "\"7bit\"");
	else
		imap_str_add_string(out, enc, strlen(enc), utf8);
	imap_str_printf(out, " %llu",
	    (unsigned long long)fc_mime_part_body_size(p, true));
	if (strcmp(type, "message") == 0 && (strcmp(subtype, "rfc822") == 0 ||
	    (utf8 && strcmp(subtype, "global") == 0))) {
		c = fc_mime_part_child(p);
		imap_str_addc(out, ' ');
		if (c != NULL) {
			imap_envelope_write(out, c, utf8);
			imap_str_addc(out, ' ');
			bs_part(out, c, ext, utf8);
		} else {
			/* encoded, or cut by the parser's limits */
			imap_str_adds(out, empty_envelope);
			imap_str_addc(out, ' ');
			imap_str_adds(out, ext ? empty_part_ext : empty_part);
		}
		imap_str_printf(out, " %llu",
		    (unsigned long long)fc_mime_part_body_lines(p));
	} else if (strcmp(type, "text") == 0)
		imap_str_printf(out, " %llu",
		    (unsigned long long)fc_mime_part_body_lines(p));
	if (ext) {
		imap_str_addc(out, ' ');
		bs_field(out, p, "Content-MD5", utf8);
		bs_ext_common(out, p, utf8);
	}
	imap_str_addc(out, ')');
}

void
imap_bodystructure_write(struct imap_str *out,
    const struct fc_mime_part *root, bool extended, bool utf8)
{
	bs_part(out, root, extended, utf8);
}
