/*
 * imap_search_text.c - SEARCH's text keys on decoded, case-folded text.
 *
 * A message's header is parsed first with the core's MIME parser and
 * the keys matched on its fields; only if some BODY or TEXT key is
 * still unmatched is the whole message parsed (the tree, the parts'
 * headers, the offsets), and then the bodies of the text parts read
 * again, a piece at a time, through the MIME decoder (transfer
 * encoding, charset to UTF-8), the case folder and a KMP matcher per
 * key. Memory stays bounded whatever the size of the message: the
 * parser keeps no body, and each stage holds a few bytes across
 * pieces.
 *
 * TEXT covers every header of the message, the MIME headers of its
 * parts (with their parameters decoded: an attachment's name is found
 * whether it is written in RFC 2047 words or RFC 2231 form) and the text
 * bodies; BODY only the text bodies. Parts that are not text
 * (images, archives, PDF) are not searched.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/mime.h>

#include "imap_casefold.h"
#include "imap_search_text.h"

#define SCAN_CHUNK	(64 * 1024)

/* ------------------------------------------------------------------ */
/* Folding into memory */

struct fold_buf {
	struct fc_arena *a;
	char *data;
	size_t len, alloc;
};

static void
fold_buf_out(void *arg, const char *data, size_t len)
{
	struct fold_buf *b = arg;

	if (b->len + len + 1 > b->alloc) {
		size_t alloc = (b->len + len + 1) * 2;
		char *n = fc_arena_alloc(b->a, alloc);

		if (b->len > 0)
			memcpy(n, b->data, b->len);
		b->data = n;
		b->alloc = alloc;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

/* s folded, NUL-terminated, in a. */
static char *
fold_string(struct fc_arena *a, const char *s, size_t len, size_t *len_r)
{
	struct fold_buf b = { .a = a };
	struct imap_casefold cf;

	fold_buf_out(&b, "", 0);
	imap_casefold_init(&cf, fold_buf_out, &b);
	imap_casefold_feed(&cf, s, len);
	imap_casefold_finish(&cf);
	*len_r = b.len;
	return b.data;
}

void
imap_text_key_init(struct imap_text_key *k, struct fc_arena *a,
    enum imap_text_where where, const char *field, const char *string)
{
	size_t i, q = 0;

	memset(k, 0, sizeof(*k));
	k->where = where;
	k->field = field;
	k->needle = fold_string(a, string, strlen(string), &k->len);
	k->fail = fc_arena_alloc(a, (k->len + 1) * sizeof(*k->fail));
	for (i = 1; i < k->len; i++) {
		while (q > 0 && k->needle[i] != k->needle[q])
			q = k->fail[q - 1];
		if (k->needle[i] == k->needle[q])
			q++;
		k->fail[i] = q;
	}
}

/* ------------------------------------------------------------------ */
/* Matching */

struct scan {
	struct fc_arena *tmp;
	struct imap_text_key *const *keys;
	size_t n;
	size_t open;			/* keys not matched yet */
	struct imap_casefold cf;	/* body text, to the body keys */
};

static void
scan_matched(struct scan *sc, struct imap_text_key *k)
{
	k->matched = true;
	sc->open--;
}

/* A header field's text (folded) against the keys it concerns. */
static void
scan_field(struct scan *sc, const char *name, const char *value,
    bool root)
{
	char *text, *folded = NULL, *line = NULL;
	size_t i, flen = 0, llen = 0;

	text = fc_mime_header_decode(sc->tmp, value);
	for (i = 0; i < sc->n; i++) {
		struct imap_text_key *k = sc->keys[i];

		if (k->matched)
			continue;
		if (k->where == IMAP_TEXT_FIELD && root
		    && strcasecmp(k->field, name) == 0) {
			if (folded == NULL)
				folded = fold_string(sc->tmp, text,
				    strlen(text), &flen);
			if (k->len == 0 || memmem(folded, flen, k->needle,
			    k->len) != NULL)
				scan_matched(sc, k);
		} else if (k->where == IMAP_TEXT_ALL) {
			if (line == NULL) {
				const char *l = fc_arena_printf(sc->tmp,
				    "%s: %s", name, text);

				line = fold_string(sc->tmp, l, strlen(l),
				    &llen);
			}
			if (memmem(line, llen, k->needle, k->len) != NULL)
				scan_matched(sc, k);
		}
	}
}

/* A Content-Type or Content-Disposition parameter: TEXT only. */
static void
scan_param(struct scan *sc, const char *value)
{
	char *folded = NULL;
	size_t i, flen = 0;

	for (i = 0; i < sc->n; i++) {
		struct imap_text_key *k = sc->keys[i];

		if (k->matched || k->where != IMAP_TEXT_ALL)
			continue;
		if (folded == NULL) {
			/* RFC 2047 words inside a quoted name are wrong but
			 * common: decode them too */
			const char *d = fc_mime_header_decode(sc->tmp, value);

			folded = fold_string(sc->tmp, d, strlen(d), &flen);
		}
		if (memmem(folded, flen, k->needle, k->len) != NULL)
			scan_matched(sc, k);
	}
}

static void
scan_headers(struct scan *sc, const struct fc_mime_part *p, bool root)
{
	const char *name, *value;
	size_t i;

	for (i = 0; sc->open > 0 && fc_mime_part_header_at(p, i, &name,
	    &value); i++)
		scan_field(sc, name, value, root);
	for (i = 0; sc->open > 0 && fc_mime_part_param_at(p, i, &name,
	    &value); i++)
		scan_param(sc, value);
	for (i = 0; sc->open > 0 && fc_mime_part_disposition_param_at(p, i,
	    &name, &value); i++)
		scan_param(sc, value);
}

/* Folded body text to the body keys; a KMP step per byte. */
static void
scan_body_out(void *arg, const char *data, size_t len)
{
	struct scan *sc = arg;
	size_t i, j;

	for (j = 0; j < sc->n; j++) {
		struct imap_text_key *k = sc->keys[j];
		size_t q = k->state;

		if (k->matched || k->where == IMAP_TEXT_FIELD)
			continue;
		for (i = 0; i < len; i++) {
			while (q > 0 && k->needle[q] != data[i])
				q = k->fail[q - 1];
			if (k->needle[q] == data[i])
				q++;
			if (q == k->len) {
				scan_matched(sc, k);
				break;
			}
		}
		k->state = q;
	}
}

static void
scan_decoded_out(void *arg, const void *data, size_t len)
{
	struct scan *sc = arg;

	if (sc->open > 0)
		imap_casefold_feed(&sc->cf, data, len);
}

/* One text part's body, decoded. -1 when reading fails. */
static int
scan_body(struct scan *sc, int fd, const struct fc_mime_part *p, char *buf)
{
	uint64_t off = fc_mime_part_body_offset(p);
	uint64_t end = fc_mime_part_end_offset(p);
	struct fc_mime_decoder *d;
	size_t i;
	ssize_t r;

	/* a match never runs from one part into the next */
	for (i = 0; i < sc->n; i++)
		sc->keys[i]->state = 0;
	imap_casefold_init(&sc->cf, scan_body_out, sc);
	d = fc_mime_decoder_new(sc->tmp, p, true, scan_decoded_out, sc);
	while (off < end && sc->open > 0) {
		size_t want = end - off < SCAN_CHUNK ? (size_t)(end - off) :
		    SCAN_CHUNK;

		r = pread(fd, buf, want, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		fc_mime_decoder_feed(d, buf, (size_t)r);
		off += (uint64_t)r;
	}
	if (sc->open > 0) {
		fc_mime_decoder_finish(d);
		imap_casefold_finish(&sc->cf);
	}
	return 0;
}

/* The next part in depth-first order, or NULL. */
static const struct fc_mime_part *
scan_next_part(const struct fc_mime_part *p)
{
	const struct fc_mime_part *c = fc_mime_part_child(p);

	if (c != NULL)
		return c;
	while (p != NULL) {
		if (fc_mime_part_next(p) != NULL)
			return fc_mime_part_next(p);
		p = fc_mime_part_parent(p);
	}
	return NULL;
}

/* Parses only the header: up to the first empty line. */
static struct fc_mime_part *
scan_parse_header(struct fc_arena *tmp, int fd, char *buf)
{
	struct fc_mime_parser *p = fc_mime_parser_new(tmp, NULL);
	bool at_line_start = true, done = false;
	off_t off = 0;
	ssize_t r, i;

	while (!done) {
		r = pread(fd, buf, SCAN_CHUNK, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fc_mime_parser_finish(p);
			return NULL;
		}
		if (r == 0)
			break;
		for (i = 0; i < r && !done; i++) {
			if (buf[i] == '\n') {
				done = at_line_start;
				at_line_start = true;
			} else if (buf[i] != '\r')
				at_line_start = false;
		}
		fc_mime_parser_feed(p, buf, (size_t)i);
		off += i;
	}
	return fc_mime_parser_finish(p);
}

static void
scan_sent_day(const struct fc_mime_part *root, time_t *day_r,
    bool *has_r)
{
	const char *v = fc_mime_part_header(root, "Date", 0);
	time_t t;
	int zone;

	*has_r = false;
	if (v == NULL || fc_mime_date_parse(v, &t, &zone) < 0)
		return;
	/* the day as written there: back from UTC into the field's zone */
	t += (time_t)zone * 60;
	t -= ((t % 86400) + 86400) % 86400;
	*day_r = t;
	*has_r = true;
}

int
imap_text_scan(int fd, struct fc_arena *tmp, struct imap_text_key
    *const *keys, size_t n, time_t *sent_day_r, bool *has_sent_r)
{
	struct scan sc = { .tmp = tmp, .keys = keys, .n = n };
	const struct fc_mime_part *root, *p;
	bool bodies = false;
	char *buf;
	size_t i;

	for (i = 0; i < n; i++) {
		keys[i]->matched = false;
		keys[i]->state = 0;
		if (keys[i]->where != IMAP_TEXT_FIELD) {
			bodies = true;
			if (keys[i]->len == 0) {
				/* the empty string is in every text */
				keys[i]->matched = true;
				continue;
			}
		}
		sc.open++;
	}
	/* the header first: a key found there spares reading the rest */
	buf = fc_arena_alloc(tmp, SCAN_CHUNK);
	root = scan_parse_header(tmp, fd, buf);
	if (root == NULL)
		return -1;
	if (sent_day_r != NULL)
		scan_sent_day(root, sent_day_r, has_sent_r);
	scan_headers(&sc, root, true);
	if (!bodies || sc.open == 0)
		return 0;
	root = fc_mime_parse_fd(tmp, fd, NULL);
	if (root == NULL)
		return -1;
	/* the parts' MIME headers, and an attached message's own */
	for (p = scan_next_part(root); p != NULL && sc.open > 0;
	    p = scan_next_part(p))
		scan_headers(&sc, p, false);
	for (p = root; p != NULL && sc.open > 0; p = scan_next_part(p)) {
		if (fc_mime_part_child(p) != NULL
		    || strcmp(fc_mime_part_type(p), "text") != 0)
			continue;
		if (scan_body(&sc, fd, p, buf) < 0)
			return -1;
	}
	return 0;
}
