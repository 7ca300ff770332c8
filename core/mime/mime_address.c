/*
 * mime_address.c - RFC 5322 address lists (From, To, Cc, Reply-To...)
 * into struct fc_mime_address entries, groups as IMAP's ENVELOPE shows
 * them (a start entry with the group's name as mailbox and no domain, an
 * end entry with neither).
 *
 * It does not check that an address can receive mail; it only says what
 * the field holds, and never fails.
 *
 * Rules, beyond the grammar:
 * - Display names and group names are decoded (encoded words, even in
 *   quotes; raw 8-bit). Without a display name, a comment in the
 *   address is used as the name, as most readers do.
 * - Local parts are unquoted; quoted local parts and domains keep their
 *   text otherwise. A mailbox without a domain gets "" as its domain (a
 *   NULL domain would mean a group), one without a local part "".
 * - Real-world mistakes: a missing '<' or '>', words before a bare
 *   addr-spec ("Jo Doe jo@example.org": the last word is the local
 *   part, the others the name), a lone word (a local part), several
 *   words and no address (a name), unbalanced quotes, comments or
 *   brackets (they run to the end of the value), a group never closed
 *   (closed at the end), junk after an address (skipped up to the next
 *   ',' or ';'). "<>" alone gives no entry.
 * - The value is a C string; every scan stops at its NUL.
 */
#include "config.h"

#include <string.h>

#include <facteur/arena.h>

#include "mime_private.h"

struct mime_addr_parser {
	struct fc_arena *a;
	const char *s;
	size_t i;
	struct fc_mime_address *head;
	struct fc_mime_address **tail;
	struct mime_buf comment;	/* the last comment, unwrapped */
	bool have_comment;
	bool in_group;
};

/* Characters that end an atom. Dots stay in atoms: dot-atoms, and the
 * "J. Doe" of obsolete phrases, read as one word. */
static bool
mime_address_is_atext(unsigned char c)
{
	return c > ' ' && c != 127 && strchr("()<>[]:;@\\,\"", c) == NULL;
}

static void
mime_address_skip_ws(struct mime_addr_parser *ap)
{
	while (ap->s[ap->i] == ' ' || ap->s[ap->i] == '\t' ||
	    ap->s[ap->i] == '\r' || ap->s[ap->i] == '\n')
		ap->i++;
}

/* A comment at s[i] == '(': kept (without its outer parentheses) as the
 * last comment seen. */
static void
mime_address_comment(struct mime_addr_parser *ap)
{
	const char *s = ap->s;
	int depth = 1;

	ap->comment.len = 0;
	ap->have_comment = true;
	ap->i++;
	while (s[ap->i] != '\0') {
		if (s[ap->i] == '\\' && s[ap->i + 1] != '\0')
			ap->i++;
		else if (s[ap->i] == '(')
			depth++;
		else if (s[ap->i] == ')' && --depth == 0) {
			ap->i++;
			return;
		}
		mime_buf_addc(&ap->comment, (unsigned char)s[ap->i]);
		ap->i++;
	}
}

static void
mime_address_skip_cfws(struct mime_addr_parser *ap)
{
	for (;;) {
		mime_address_skip_ws(ap);
		if (ap->s[ap->i] != '(')
			return;
		mime_address_comment(ap);
	}
}

/* A quoted string at s[i] == '"': its content, quoted pairs undone,
 * appended to b. */
static void
mime_address_quoted(struct mime_addr_parser *ap, struct mime_buf *b)
{
	const char *s = ap->s;

	ap->i++;
	while (s[ap->i] != '\0' && s[ap->i] != '"') {
		if (s[ap->i] == '\\' && s[ap->i + 1] != '\0')
			ap->i++;
		mime_buf_addc(b, (unsigned char)s[ap->i]);
		ap->i++;
	}
	if (s[ap->i] == '"')
		ap->i++;
}

static void
mime_address_atom(struct mime_addr_parser *ap, struct mime_buf *b)
{
	size_t start = ap->i;

	while (mime_address_is_atext((unsigned char)ap->s[ap->i]))
		ap->i++;
	mime_buf_add(b, ap->s + start, ap->i - start);
}

/* A domain literal at s[i] == '[', brackets kept. */
static void
mime_address_literal(struct mime_addr_parser *ap, struct mime_buf *b)
{
	size_t start = ap->i;

	ap->i++;
	while (ap->s[ap->i] != '\0' && ap->s[ap->i] != ']') {
		if (ap->s[ap->i] == '\\' && ap->s[ap->i + 1] != '\0')
			ap->i++;
		ap->i++;
	}
	if (ap->s[ap->i] == ']')
		ap->i++;
	mime_buf_add(b, ap->s + start, ap->i - start);
}

/* Atoms, quoted strings and literals glued together (comments and white
 * space between them dropped), up to the first other character. */
static char *
mime_address_glued(struct mime_addr_parser *ap, bool *any_r)
{
	struct mime_buf b = { 0 };
	unsigned char c;
	char *r;

	*any_r = false;
	for (;;) {
		mime_address_skip_cfws(ap);
		c = (unsigned char)ap->s[ap->i];
		if (c == '"')
			mime_address_quoted(ap, &b);
		else if (c == '[')
			mime_address_literal(ap, &b);
		else if (mime_address_is_atext(c))
			mime_address_atom(ap, &b);
		else
			break;
		*any_r = true;
	}
	r = mime_buf_arena(ap->a, &b);
	mime_buf_free(&b);
	return r;
}

static const char *
mime_address_decode(struct mime_addr_parser *ap, const char *s, size_t n)
{
	struct mime_buf out = { 0 };
	const char *r;

	mime_words_decode(&out, s, n);
	r = mime_buf_arena(ap->a, &out);
	mime_buf_free(&out);
	return r;
}

static void
mime_address_emit(struct mime_addr_parser *ap, const char *name,
    const char *route, const char *mailbox, const char *domain)
{
	struct fc_mime_address *addr;

	addr = fc_arena_alloc(ap->a, sizeof(*addr));
	addr->name = name;
	addr->route = route;
	addr->mailbox = mailbox;
	addr->domain = domain;
	*ap->tail = addr;
	ap->tail = &addr->next;
}

/* The name an address gets from a comment, when it has no other. */
static const char *
mime_address_comment_name(struct mime_addr_parser *ap)
{
	char *text;

	if (!ap->have_comment)
		return NULL;
	text = fc_arena_strndup(ap->a, ap->comment.len > 0 ?
	    ap->comment.data : "", ap->comment.len);
	text = fc_mime_header_unfold(ap->a, text);
	if (*text == '\0')
		return NULL;
	return mime_address_decode(ap, text, strlen(text));
}

/* Skips what follows an address up to the next ',' or ';'. */
static void
mime_address_skip_junk(struct mime_addr_parser *ap)
{
	struct mime_buf ignored = { 0 };
	char c;

	while ((c = ap->s[ap->i]) != '\0' && c != ',' && c != ';') {
		if (c == '(')
			mime_address_comment(ap);
		else if (c == '"')
			mime_address_quoted(ap, &ignored);
		else
			ap->i++;
		ignored.len = 0;
	}
	mime_buf_free(&ignored);
}

/*
 * The angle address after '<': [route ":"] local-part ["@" domain] ">".
 * Missing pieces are "" (mailbox, domain) or NULL (route).
 */
static void
mime_address_angle(struct mime_addr_parser *ap, const char *name)
{
	struct mime_buf route = { 0 };
	const char *mailbox = "", *domain = "", *first_domain = NULL;
	const char *route_r = NULL;
	char *d;
	bool any, empty;

	ap->i++;
	mime_address_skip_cfws(ap);
	if (ap->s[ap->i] == '@') {
		/* obs-route: "@a,@b:" */
		while (ap->s[ap->i] == '@') {
			ap->i++;
			d = mime_address_glued(ap, &any);
			if (first_domain == NULL)
				first_domain = d;
			if (route.len > 0)
				mime_buf_addc(&route, ',');
			mime_buf_addc(&route, '@');
			mime_buf_add(&route, d, strlen(d));
			mime_address_skip_cfws(ap);
			while (ap->s[ap->i] == ',') {
				ap->i++;
				mime_address_skip_cfws(ap);
			}
		}
		if (ap->s[ap->i] == ':') {
			ap->i++;
			route_r = mime_buf_arena(ap->a, &route);
		} else {
			/* "<@domain>": no local part */
			domain = first_domain;
			goto close;
		}
	}
	mailbox = mime_address_glued(ap, &any);
	mime_address_skip_cfws(ap);
	if (ap->s[ap->i] == '@') {
		ap->i++;
		domain = mime_address_glued(ap, &any);
	}
close:
	mime_buf_free(&route);
	mime_address_skip_cfws(ap);
	if (ap->s[ap->i] == '>')
		ap->i++;
	empty = *mailbox == '\0' && *domain == '\0' && route_r == NULL;
	mime_address_skip_cfws(ap);
	if (name == NULL)
		name = mime_address_comment_name(ap);
	if (empty && name == NULL)
		return;			/* "<>" */
	mime_address_emit(ap, name, route_r, mailbox, domain);
}

/* One address, or a group's start. */
static void
mime_address_one(struct mime_addr_parser *ap)
{
	struct mime_buf phrase = { 0 };
	size_t words = 0, last_start = 0, last_end = 0;
	const char *name = NULL, *mailbox, *domain;
	unsigned char c;
	bool any;

	ap->have_comment = false;
	mime_buf_addc(&phrase, '\0');	/* so that data is never NULL */
	phrase.len = 0;
	for (;;) {
		mime_address_skip_cfws(ap);
		c = (unsigned char)ap->s[ap->i];
		if (c == '\0' || strchr("<:@,;", c) != NULL)
			break;
		if (c != '"' && c != '[' && !mime_address_is_atext(c)) {
			ap->i++;	/* a stray '>', ')', ']' or '\' */
			continue;
		}
		if (words > 0)
			mime_buf_addc(&phrase, ' ');
		last_start = phrase.len;
		if (c == '"')
			mime_address_quoted(ap, &phrase);
		else if (c == '[')
			mime_address_literal(ap, &phrase);
		else
			mime_address_atom(ap, &phrase);
		last_end = phrase.len;
		words++;
	}

	if (c == ':') {
		ap->i++;
		if (ap->in_group)
			mime_address_emit(ap, NULL, NULL, NULL, NULL);
		mime_address_emit(ap, NULL, NULL,
		    mime_address_decode(ap, phrase.data, phrase.len), NULL);
		ap->in_group = true;
	} else if (c == '<') {
		if (words > 0)
			name = mime_address_decode(ap, phrase.data, phrase.len);
		mime_address_angle(ap, name);
		mime_address_skip_junk(ap);
	} else if (c == '@') {
		/* words before the local part are a name without brackets */
		if (words > 1)
			name = mime_address_decode(ap, phrase.data,
			    last_start - 1);
		mailbox = fc_arena_strndup(ap->a, phrase.data + last_start,
		    last_end - last_start);
		ap->i++;
		domain = mime_address_glued(ap, &any);
		mime_address_skip_cfws(ap);
		if (name == NULL)
			name = mime_address_comment_name(ap);
		mime_address_emit(ap, name, NULL, mailbox, domain);
		mime_address_skip_junk(ap);
	} else if (words == 1) {
		mime_address_emit(ap, mime_address_comment_name(ap), NULL,
		    fc_arena_strndup(ap->a, phrase.data, phrase.len), "");
	} else if (words > 1) {
		mime_address_emit(ap, mime_address_decode(ap, phrase.data,
		    phrase.len), NULL, "", "");
	}
	mime_buf_free(&phrase);
}

struct fc_mime_address *
fc_mime_address_parse(struct fc_arena *a, const char *value)
{
	struct mime_addr_parser ap;

	memset(&ap, 0, sizeof(ap));
	ap.a = a;
	ap.s = value;
	ap.tail = &ap.head;
	for (;;) {
		mime_address_skip_cfws(&ap);
		if (ap.s[ap.i] == '\0')
			break;
		if (ap.s[ap.i] == ',') {
			ap.i++;
			continue;
		}
		if (ap.s[ap.i] == ';') {
			if (ap.in_group)
				mime_address_emit(&ap, NULL, NULL, NULL, NULL);
			ap.in_group = false;
			ap.i++;
			continue;
		}
		mime_address_one(&ap);
	}
	if (ap.in_group)
		mime_address_emit(&ap, NULL, NULL, NULL, NULL);
	mime_buf_free(&ap.comment);
	return ap.head;
}
