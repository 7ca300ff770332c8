/*
 * mime_part.c - walking the tree the parser built: children, IMAP
 * section numbers, offsets and sizes.
 *
 * It only reads parts; nothing here parses the message.
 *
 * Rules:
 * - A part has children when it was parsed as a container: a multipart
 *   with a boundary and at least one part, or a message/rfc822 (or
 *   message/global) part whose embedded message was parsed. A multipart
 *   whose body held no boundary line is a leaf, so is an encoded
 *   message, and so is a container cut by the limits.
 * - Section numbers follow RFC 3501 6.4.5 (see fc_mime_part_find()).
 * - *_crlf sizes add one byte per LF that has no CR before it.
 */
#include "config.h"

#include <string.h>

#include "mime_private.h"

const struct fc_mime_part *
fc_mime_part_child(const struct fc_mime_part *p)
{
	return p->child;
}

const struct fc_mime_part *
fc_mime_part_next(const struct fc_mime_part *p)
{
	return p->next;
}

const struct fc_mime_part *
fc_mime_part_parent(const struct fc_mime_part *p)
{
	return p->parent;
}

bool
fc_mime_part_is_multipart(const struct fc_mime_part *p)
{
	return p->child != NULL && strcmp(p->type, "multipart") == 0;
}

bool
fc_mime_part_is_message(const struct fc_mime_part *p)
{
	return p->child != NULL && strcmp(p->type, "message") == 0;
}

static const struct fc_mime_part *
mime_part_nth_child(const struct fc_mime_part *p, unsigned long n)
{
	const struct fc_mime_part *c;

	for (c = p->child; c != NULL && n > 1; c = c->next)
		n--;
	return c;
}

/* Part n of a message (the root, or one embedded in a message part):
 * its n-th part when it is a multipart, else for 1 its own body. */
static const struct fc_mime_part *
mime_part_of_message(const struct fc_mime_part *msg, unsigned long n)
{
	if (fc_mime_part_is_multipart(msg))
		return mime_part_nth_child(msg, n);
	return n == 1 ? msg : NULL;
}

/*
 * RFC 3501 6.4.5. The root is a message: its part 1 is its body when it
 * is not a multipart. A multipart's parts are numbered from 1. The parts
 * of a message/rfc822 part are those of the message inside it, so "2.1"
 * is the first part of that message when it is a multipart, else its
 * body; when the embedded message is returned for "2.1", its body is
 * what the section means.
 */
const struct fc_mime_part *
fc_mime_part_find(const struct fc_mime_part *root, const char *section)
{
	const struct fc_mime_part *cur = root;
	unsigned long n;
	bool first = true;
	const char *s = section;

	if (*s == '\0')
		return root;
	while (*s != '\0') {
		if (*s < '1' || *s > '9')
			return NULL;	/* no number, or a leading zero */
		n = 0;
		while (*s >= '0' && *s <= '9') {
			if (n > 1000000000UL)
				return NULL;
			n = n * 10 + (unsigned long)(*s - '0');
			s++;
		}
		if (*s == '.') {
			s++;
			if (*s == '\0')
				return NULL;
		} else if (*s != '\0')
			return NULL;

		if (first)
			cur = mime_part_of_message(cur, n);
		else if (fc_mime_part_is_multipart(cur))
			cur = mime_part_nth_child(cur, n);
		else if (fc_mime_part_is_message(cur))
			cur = mime_part_of_message(cur->child, n);
		else
			cur = NULL;
		if (cur == NULL)
			return NULL;
		first = false;
	}
	return cur;
}

uint64_t
fc_mime_part_header_offset(const struct fc_mime_part *p)
{
	return p->header_offset;
}

uint64_t
fc_mime_part_body_offset(const struct fc_mime_part *p)
{
	return p->body_offset;
}

uint64_t
fc_mime_part_end_offset(const struct fc_mime_part *p)
{
	return p->end_offset;
}

uint64_t
fc_mime_part_header_size(const struct fc_mime_part *p, bool crlf)
{
	return p->body_offset - p->header_offset +
	    (crlf ? p->header_bare_lf : 0);
}

uint64_t
fc_mime_part_body_size(const struct fc_mime_part *p, bool crlf)
{
	return p->end_offset - p->body_offset + (crlf ? p->body_bare_lf : 0);
}

uint64_t
fc_mime_part_body_lines(const struct fc_mime_part *p)
{
	return p->body_lines;
}
