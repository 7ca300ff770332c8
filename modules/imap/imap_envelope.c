/*
 * imap_envelope.c - the ENVELOPE of a message (RFC 3501 7.4.2, RFC 9051
 * 7.5.2).
 *
 * Rules:
 * - Date, Subject, In-Reply-To and Message-ID are the first field of
 *   that name, unfolded (line ends removed, the white space after them
 *   kept) and trimmed; not RFC 2047-decoded: clients decode. A field
 *   present but empty gives "", an absent one NIL.
 * - Addresses are parsed here rather than with fc_mime_address_parse(),
 *   which decodes display names: ENVELOPE shows them as written (quotes
 *   and comments removed, encoded words kept). Without a display name a
 *   comment after the address is the name, as most readers do.
 * - Sender and Reply-To are From when absent or holding no address.
 * - A mailbox without a domain gets "MISSING_DOMAIN" and an address
 *   without a local part "MISSING_MAILBOX" (a NIL host would read as a
 *   group marker), as Dovecot writes them.
 * - Groups: (NIL NIL "name" NIL) ... (NIL NIL NIL NIL).
 */
#include "config.h"

#include <string.h>

#include <facteur/arena.h>
#include <facteur/mime.h>

#include "imap_render.h"
#include "imap_str.h"

#define MISSING_MAILBOX	"MISSING_MAILBOX"
#define MISSING_DOMAIN	"MISSING_DOMAIN"

/* One address as IMAP shows it; mailbox NULL and host NULL: group end;
 * host NULL: group start with mailbox the group's name. */
struct env_addr {
	struct imap_str name;
	struct imap_str route;
	struct imap_str mailbox;
	struct imap_str host;
	bool has_name;
	bool has_route;
	bool is_group_start;
	bool is_group_end;
};

/* Scratch strings, kept for all the address fields of one ENVELOPE. */
struct env_scratch {
	struct imap_str comment, phrase, route, mailbox, host;
};

struct env_parser {
	const char *s;
	size_t i;
	struct imap_str *out;
	bool utf8;
	bool any;			/* an entry was written */
	struct imap_str *comment;	/* the last comment, unwrapped */
	bool has_comment;
};

static bool
env_is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
env_is_special(unsigned char c)
{
	switch (c) {
	case '(': case ')': case '<': case '>': case '[': case ']':
	case ':': case ';': case '@': case '\\': case ',': case '.':
	case '"':
		return true;
	default:
		return false;
	}
}

/* A comment, the '(' already at i: its text, nested comments kept. */
static void
env_comment(struct env_parser *ep)
{
	int depth = 0;

	imap_str_reset(ep->comment);
	while (ep->s[ep->i] != '\0') {
		unsigned char c = (unsigned char)ep->s[ep->i++];

		if (c == '\\' && ep->s[ep->i] != '\0') {
			imap_str_addc(ep->comment, ep->s[ep->i++]);
			continue;
		}
		if (c == '(') {
			if (depth++ == 0)
				continue;
		} else if (c == ')') {
			if (--depth == 0)
				break;
		} else if (c == '\r' || c == '\n')
			continue;
		imap_str_addc(ep->comment, (char)c);
	}
	ep->has_comment = true;
}

static void
env_skip_cfws(struct env_parser *ep)
{
	for (;;) {
		while (env_is_wsp((unsigned char)ep->s[ep->i]))
			ep->i++;
		if (ep->s[ep->i] != '(')
			return;
		env_comment(ep);
	}
}

/* A quoted string, the '"' at i, appended unquoted to b. */
static void
env_quoted(struct env_parser *ep, struct imap_str *b)
{
	ep->i++;
	while (ep->s[ep->i] != '\0' && ep->s[ep->i] != '"') {
		if (ep->s[ep->i] == '\\' && ep->s[ep->i + 1] != '\0')
			ep->i++;
		if (ep->s[ep->i] != '\r' && ep->s[ep->i] != '\n')
			imap_str_addc(b, ep->s[ep->i]);
		ep->i++;
	}
	if (ep->s[ep->i] == '"')
		ep->i++;
}

/* An atom at i appended to b; false when there is none. */
static bool
env_atom(struct env_parser *ep, struct imap_str *b)
{
	size_t start = ep->i;

	while (ep->s[ep->i] != '\0' &&
	    !env_is_wsp((unsigned char)ep->s[ep->i]) &&
	    !env_is_special((unsigned char)ep->s[ep->i]))
		ep->i++;
	imap_str_add(b, ep->s + start, ep->i - start);
	return ep->i > start;
}

/* A phrase (display name): words and dots, joined by one space as
 * written; stops before any other special. *last_r is where its last
 * word starts when white space (not a dot) comes before it, else where
 * the phrase starts; *name_len_r the length of b before that word. */
static void
env_phrase(struct env_parser *ep, struct imap_str *b, bool *any_r,
    size_t *last_r, size_t *name_len_r)
{
	bool space = false, dot = true;

	*any_r = false;
	*last_r = ep->i;
	*name_len_r = 0;
	for (;;) {
		env_skip_cfws(ep);
		if (ep->s[ep->i] == '"' || ep->s[ep->i] == '.' ||
		    (ep->s[ep->i] != '\0' &&
		    !env_is_special((unsigned char)ep->s[ep->i]))) {
			size_t before = ep->i;
			bool is_dot = ep->s[ep->i] == '.';

			if (space && !dot && !is_dot) {
				*last_r = ep->i;
				*name_len_r = b->len;
			}
			if (space && b->len > 0)
				imap_str_addc(b, ' ');
			if (ep->s[ep->i] == '"')
				env_quoted(ep, b);
			else if (is_dot)
				imap_str_addc(b, ep->s[ep->i++]);
			else
				env_atom(ep, b);
			*any_r = true;
			dot = is_dot;
			space = env_is_wsp((unsigned char)ep->s[ep->i]) ||
			    ep->s[ep->i] == '(';
			if (ep->i == before)
				ep->i++;
			continue;
		}
		return;
	}
}

/* A local part or domain: atoms, quoted strings, dots and domain
 * literals, glued (white space and comments between them dropped). */
static void
env_glued(struct env_parser *ep, struct imap_str *b, bool domain)
{
	for (;;) {
		env_skip_cfws(ep);
		if (ep->s[ep->i] == '"') {
			if (domain)
				imap_str_addc(b, '"');
			env_quoted(ep, b);
			if (domain)
				imap_str_addc(b, '"');
		} else if (ep->s[ep->i] == '.') {
			imap_str_addc(b, ep->s[ep->i++]);
		} else if (domain && ep->s[ep->i] == '[') {
			while (ep->s[ep->i] != '\0' && ep->s[ep->i] != ']') {
				if (!env_is_wsp((unsigned char)ep->s[ep->i]))
					imap_str_addc(b, ep->s[ep->i]);
				ep->i++;
			}
			if (ep->s[ep->i] == ']')
				imap_str_addc(b, ep->s[ep->i++]);
		} else if (!env_atom(ep, b))
			return;
	}
}

static void
env_write_part(struct env_parser *ep, const struct imap_str *v, bool has)
{
	if (!has)
		imap_str_adds(ep->out, "NIL");
	else
		imap_str_add_string(ep->out, v->data, v->len, ep->utf8);
}

static void
env_emit(struct env_parser *ep, struct imap_str *name, bool has_name,
    struct imap_str *route, struct imap_str *mailbox, struct imap_str *host)
{
	if (!ep->any)
		imap_str_addc(ep->out, '(');
	ep->any = true;
	imap_str_addc(ep->out, '(');
	env_write_part(ep, name, has_name);
	imap_str_addc(ep->out, ' ');
	env_write_part(ep, route, route->len > 0);
	imap_str_addc(ep->out, ' ');
	if (mailbox->len == 0)
		imap_str_adds(ep->out, "\"" MISSING_MAILBOX "\"");
	else
		env_write_part(ep, mailbox, true);
	imap_str_addc(ep->out, ' ');
	if (host->len == 0)
		imap_str_adds(ep->out, "\"" MISSING_DOMAIN "\"");
	else
		env_write_part(ep, host, true);
	imap_str_addc(ep->out, ')');
}

static void
env_group_marker(struct env_parser *ep, const struct imap_str *name)
{
	if (!ep->any)
		imap_str_addc(ep->out, '(');
	ep->any = true;
	imap_str_adds(ep->out, "(NIL NIL ");
	if (name == NULL)
		imap_str_adds(ep->out, "NIL");
	else
		imap_str_add_string(ep->out, name->data, name->len, ep->utf8);
	imap_str_adds(ep->out, " NIL)");
}

/* Skips to the next ',' or ';' (not consumed) after junk. */
static void
env_skip_junk(struct env_parser *ep)
{
	for (;;) {
		env_skip_cfws(ep);
		switch (ep->s[ep->i]) {
		case '\0': case ',': case ';':
			return;
		case '"': {
			struct imap_str tmp;

			imap_str_init(&tmp);
			env_quoted(ep, &tmp);
			imap_str_free(&tmp);
			break;
		}
		default:
			ep->i++;
		}
	}
}

/* Writes the address list of value, or NIL; false when it held none. */
static bool
env_address_list(struct imap_str *out, const char *value, bool utf8,
    struct env_scratch *sc)
{
	struct env_parser ep = { .s = value, .out = out, .utf8 = utf8,
	    .comment = &sc->comment };
	struct imap_str *phrase = &sc->phrase, *route = &sc->route;
	struct imap_str *mailbox = &sc->mailbox, *host = &sc->host;
	bool in_group = false;
	size_t mark = out->len;

	while (ep.s[ep.i] != '\0') {
		bool any;
		size_t start = ep.i, last, name_len;

		imap_str_reset(phrase);
		imap_str_reset(route);
		imap_str_reset(mailbox);
		imap_str_reset(host);
		ep.has_comment = false;
		env_phrase(&ep, phrase, &any, &last, &name_len);
		switch (ep.s[ep.i]) {
		case ':':
			ep.i++;
			if (in_group)
				env_group_marker(&ep, NULL);
			env_group_marker(&ep, phrase);
			in_group = true;
			continue;
		case '<':
			ep.i++;
			env_skip_cfws(&ep);
			if (ep.s[ep.i] == '@') {
				/* obs-route: @a,@b: */
				while (ep.s[ep.i] != '\0' && ep.s[ep.i] != ':' &&
				    ep.s[ep.i] != '>') {
					if (!env_is_wsp((unsigned char)ep.s[ep.i]))
						imap_str_addc(route, ep.s[ep.i]);
					ep.i++;
				}
				if (ep.s[ep.i] == ':')
					ep.i++;
			}
			env_glued(&ep, mailbox, false);
			if (ep.s[ep.i] == '@') {
				ep.i++;
				env_glued(&ep, host, true);
			}
			while (ep.s[ep.i] != '\0' && ep.s[ep.i] != '>')
				ep.i++;
			if (ep.s[ep.i] == '>')
				ep.i++;
			if (mailbox->len == 0 && host->len == 0 && route->len == 0) {
				/* "<>": no address */
				env_skip_junk(&ep);
				break;
			}
			env_emit(&ep, phrase, any, route, mailbox, host);
			env_skip_junk(&ep);
			break;
		case '@':
			/* addr-spec: the phrase was the local part; words
			 * before it, apart, are a name ("Jo Doe jo@x") */
			ep.i = last;
			ep.has_comment = false;
			env_glued(&ep, mailbox, false);
			if (ep.s[ep.i] == '@') {
				ep.i++;
				env_glued(&ep, host, true);
			}
			env_skip_cfws(&ep);
			phrase->len = name_len;
			if (name_len == 0 && ep.has_comment)
				imap_str_add(phrase, ep.comment->data,
				    ep.comment->len);
			env_emit(&ep, phrase, phrase->len > 0, route,
			    mailbox, host);
			env_skip_junk(&ep);
			break;
		default:
			if (any) {
				/* words and no address: a local part alone */
				ep.i = start;
				env_glued(&ep, mailbox, false);
				env_emit(&ep, phrase, false, route, mailbox,
				    host);
			}
			env_skip_junk(&ep);
			break;
		}
		if (ep.s[ep.i] == ';') {
			ep.i++;
			if (in_group)
				env_group_marker(&ep, NULL);
			in_group = false;
		} else if (ep.s[ep.i] == ',')
			ep.i++;
		else if (ep.s[ep.i] != '\0' && ep.i == start)
			ep.i++;		/* no progress: skip one byte */
	}
	if (in_group)
		env_group_marker(&ep, NULL);
	if (!ep.any) {
		out->len = mark;
		imap_str_adds(out, "NIL");
		return false;
	}
	imap_str_addc(out, ')');
	return true;
}

/* The first field of that name, unfolded and trimmed, or NULL. */
static void
env_nstring(struct imap_str *out, const struct fc_mime_part *root,
    const char *name, bool utf8)
{
	const char *v = fc_mime_part_header(root, name, 0);
	size_t start = 0, end, i;
	struct imap_str tmp;

	if (v == NULL) {
		imap_str_adds(out, "NIL");
		return;
	}
	while (env_is_wsp((unsigned char)v[start]))
		start++;
	end = start + strlen(v + start);
	while (end > start && env_is_wsp((unsigned char)v[end - 1]))
		end--;
	if (memchr(v + start, '\n', end - start) == NULL &&
	    memchr(v + start, '\r', end - start) == NULL) {
		imap_str_add_string(out, v + start, end - start, utf8);
		return;
	}
	imap_str_init(&tmp);
	for (i = start; i < end; i++)
		if (v[i] != '\r' && v[i] != '\n')
			imap_str_addc(&tmp, v[i]);
	imap_str_add_string(out, tmp.data, tmp.len, utf8);
	imap_str_free(&tmp);
}

/* An address field; for Sender and Reply-To, From when it holds none. */
static void
env_addresses(struct imap_str *out, const struct fc_mime_part *root,
    const char *name, bool utf8, bool from_default, struct env_scratch *sc)
{
	const char *v = fc_mime_part_header(root, name, 0);
	size_t mark = out->len;

	if (v != NULL && env_address_list(out, v, utf8, sc))
		return;
	out->len = mark;
	v = from_default ? fc_mime_part_header(root, "From", 0) : NULL;
	if (v == NULL || !env_address_list(out, v, utf8, sc)) {
		out->len = mark;
		imap_str_adds(out, "NIL");
	}
}

void
imap_envelope_write(struct imap_str *out, const struct fc_mime_part *root,
    bool utf8)
{
	struct env_scratch sc;

	imap_str_init(&sc.comment);
	imap_str_init(&sc.phrase);
	imap_str_init(&sc.route);
	imap_str_init(&sc.mailbox);
	imap_str_init(&sc.host);
	imap_str_addc(out, '(');
	env_nstring(out, root, "Date", utf8);
	imap_str_addc(out, ' ');
	env_nstring(out, root, "Subject", utf8);
	imap_str_addc(out, ' ');
	env_addresses(out, root, "From", utf8, false, &sc);
	imap_str_addc(out, ' ');
	env_addresses(out, root, "Sender", utf8, true, &sc);
	imap_str_addc(out, ' ');
	env_addresses(out, root, "Reply-To", utf8, true, &sc);
	imap_str_addc(out, ' ');
	env_addresses(out, root, "To", utf8, false, &sc);
	imap_str_addc(out, ' ');
	env_addresses(out, root, "Cc", utf8, false, &sc);
	imap_str_addc(out, ' ');
	env_addresses(out, root, "Bcc", utf8, false, &sc);
	imap_str_addc(out, ' ');
	env_nstring(out, root, "In-Reply-To", utf8);
	imap_str_addc(out, ' ');
	env_nstring(out, root, "Message-ID", utf8);
	imap_str_addc(out, ')');
	imap_str_free(&sc.comment);
	imap_str_free(&sc.phrase);
	imap_str_free(&sc.route);
	imap_str_free(&sc.mailbox);
	imap_str_free(&sc.host);
}
