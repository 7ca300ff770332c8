/*
 * mime_header.c - the header fields of each part: cut out of the bytes
 * the parser hands over, kept within the limits, and looked up.
 *
 * It does not find where a header ends (mime_parser.c does) nor parse
 * any field's value (mime_content.c, mime_address.c, mime_date.c).
 *
 * Rules:
 * - A field is a line that does not start with white space, plus the
 *   lines that do (folding). Its value is kept as written, folding
 *   included, without the final line end; its name without the white
 *   space some writers put before the colon.
 * - A line without a colon, or whose name is not printable ASCII, is
 *   dropped with FC_MIME_BAD_HEADER_LINE, and so are its continuation
 *   lines; so is a continuation line with no field before it.
 * - Only whole fields are kept. The field that would take the header
 *   past max_header_bytes and every field after it are dropped
 *   (FC_MIME_HEADER_TOO_LONG); fields past max_headers too
 *   (FC_MIME_TOO_MANY_HEADERS). At most max_header_bytes are ever held
 *   for the field being read, however long it is.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include <facteur/arena.h>

#include "mime_private.h"

void
mime_header_begin(struct fc_mime_parser *p)
{
	struct mime_header *h = &p->hdr;

	h->field.len = 0;
	h->in_field = false;
	h->drop_field = false;
	h->drop_rest = false;
	h->kept = 0;
	h->count = 0;
	h->head = NULL;
	h->tail = &h->head;
}

/* The length of the field name at the start of s (before optional
 * white space and the colon), or 0 when the line is no field. */
static size_t
mime_header_name_len(const char *s, size_t n, size_t *colon_r)
{
	size_t i = 0, name_len;

	while (i < n && s[i] != ':' && (unsigned char)s[i] > ' ' &&
	    (unsigned char)s[i] < 127)
		i++;
	name_len = i;
	while (i < n && mime_is_wsp((unsigned char)s[i]))
		i++;
	if (name_len == 0 || i >= n || s[i] != ':')
		return 0;
	*colon_r = i;
	return name_len;
}

/* The field read so far is complete: keep it if it is one. */
static void
mime_header_commit(struct fc_mime_parser *p)
{
	struct mime_header *h = &p->hdr;
	struct mime_field_node *node;
	const char *s = h->field.data;
	size_t n = h->field.len, name_len, colon = 0;

	if (!h->in_field)
		return;
	h->in_field = false;
	if (h->drop_field)
		return;
	name_len = mime_header_name_len(s, n, &colon);
	if (name_len == 0) {
		p->root->problems |= FC_MIME_BAD_HEADER_LINE;
		return;
	}
	if (h->count >= p->lim.max_headers) {
		p->root->problems |= FC_MIME_TOO_MANY_HEADERS;
		return;
	}
	h->kept += n;
	/* the final line end is not the value's */
	if (n > 0 && s[n - 1] == '\n')
		n--;
	if (n > 0 && s[n - 1] == '\r')
		n--;
	node = fc_arena_alloc(p->a, sizeof(*node));
	node->field.name = fc_arena_strndup(p->a, s, name_len);
	node->field.value = fc_arena_strndup(p->a, s + colon + 1,
	    n - colon - 1);
	*h->tail = node;
	h->tail = &node->next;
	h->count++;
}

/* A new header line starts with c (never the empty line). */
void
mime_header_line_start(struct fc_mime_parser *p, unsigned char c)
{
	struct mime_header *h = &p->hdr;

	if (mime_is_wsp(c)) {
		if (h->in_field)
			return;			/* folding */
		/* nothing to continue: drop it as a bad line */
		p->root->problems |= FC_MIME_BAD_HEADER_LINE;
		h->in_field = true;
		h->drop_field = true;
		h->field.len = 0;
		return;
	}
	mime_header_commit(p);
	h->in_field = true;
	h->drop_field = h->drop_rest;
	h->field.len = 0;
}

void
mime_header_add(struct fc_mime_parser *p, const char *data, size_t n)
{
	struct mime_header *h = &p->hdr;
	size_t i;

	if (!(p->root->problems & FC_MIME_8BIT_HEADER))
		for (i = 0; i < n; i++)
			if ((unsigned char)data[i] >= 0x80) {
				p->root->problems |= FC_MIME_8BIT_HEADER;
				break;
			}
	if (h->drop_field)
		return;
	if (h->field.len + n > p->lim.max_header_bytes - h->kept) {
		p->root->problems |= FC_MIME_HEADER_TOO_LONG;
		h->drop_field = true;
		h->drop_rest = true;
		h->field.len = 0;
		return;
	}
	mime_buf_add(&h->field, data, n);
}

void
mime_header_end(struct fc_mime_parser *p, struct fc_mime_part *part)
{
	struct mime_header *h = &p->hdr;
	struct mime_field_node *node;
	size_t i = 0;

	mime_header_commit(p);
	part->nfields = h->count;
	if (h->count > 0)
		part->fields = fc_arena_alloc(p->a,
		    h->count * sizeof(*part->fields));
	for (node = h->head; node != NULL; node = node->next)
		part->fields[i++] = node->field;
	/* a long header's buffer is not kept for the next, short one */
	if (h->field.cap > 64 * 1024)
		mime_buf_free(&h->field);
	mime_header_begin(p);
}

void
mime_header_free(struct fc_mime_parser *p)
{
	mime_buf_free(&p->hdr.field);
}

/* ------------------------------------------------------------------ */
/* Lookups */

size_t
fc_mime_part_header_count(const struct fc_mime_part *p)
{
	return p->nfields;
}

bool
fc_mime_part_header_at(const struct fc_mime_part *p, size_t idx,
    const char **name_r, const char **value_r)
{
	if (idx >= p->nfields)
		return false;
	*name_r = p->fields[idx].name;
	*value_r = p->fields[idx].value;
	return true;
}

const char *
fc_mime_part_header(const struct fc_mime_part *p, const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < p->nfields; i++)
		if (strcasecmp(p->fields[i].name, name) == 0 && n-- == 0)
			return p->fields[i].value;
	return NULL;
}
