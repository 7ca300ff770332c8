/*
 * mime_dump.c - a parsed MIME tree as text, for comparing with the
 * expected trees of tests/mime/ and between runs of the fuzz target.
 *
 * One line per part, in tree order, indented two spaces per level:
 *
 *   <label> <type>/<subtype>[(<name>="<value>" ...)]
 *     [disp=<disposition>[(<name>="<value>" ...)]] enc=<raw value or ->
 *     hdr=<offset>+<size>/<size with CRLF> body=<offset>+<size>/<...>
 *     lines=<body lines>
 *
 * (all on one line), then "problems=" and the problem flags by name, or
 * "none". Values escape '"' and '\' with '\', bytes below 0x20 and 0x7f
 * as \xHH; other bytes (UTF-8) are written as they are.
 *
 * Labels are IMAP section numbers (RFC 3501 6.4.5): the parts of a
 * multipart 1, 2, ... after their parent's number; a message that is
 * not a multipart has its body as part 1 ("1" for the root, "2.1" for
 * the message inside part 2); a multipart message has no number of its
 * own and shows as "TEXT" (the root) or "2.TEXT".
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <facteur/mime.h>

#include "mime_dump.h"

static bool
mime_dump_is_message_node(const struct fc_mime_part *p)
{
	const struct fc_mime_part *parent = fc_mime_part_parent(p);

	return parent == NULL || fc_mime_part_is_message(parent);
}

static unsigned long
mime_dump_index(const struct fc_mime_part *p)
{
	const struct fc_mime_part *c;
	unsigned long i = 1;

	for (c = fc_mime_part_child(fc_mime_part_parent(p)); c != p;
	    c = fc_mime_part_next(c))
		i++;
	return i;
}

/* Appends the number that finds p (a part that is not a multipart
 * message) to buf at *len. */
static void
mime_dump_number(const struct fc_mime_part *p, char *buf, size_t size,
    size_t *len)
{
	const struct fc_mime_part *parent = fc_mime_part_parent(p);
	const struct fc_mime_part *msg;

	if (*len >= size)
		return;
	if (parent == NULL) {
		/* the root's body as a part */
		*len += (size_t)snprintf(buf + *len, size - *len, "1");
		return;
	}
	if (mime_dump_is_message_node(p)) {
		/* a message's body is its message part's part 1 */
		mime_dump_number(parent, buf, size, len);
		if (*len < size)
			*len += (size_t)snprintf(buf + *len, size - *len, ".1");
		return;
	}
	/* a part of a multipart: after the multipart's number, or after
	 * the number of the message part holding a multipart message */
	msg = parent;
	if (mime_dump_is_message_node(parent)) {
		msg = fc_mime_part_parent(parent);
		if (msg == NULL) {
			*len += (size_t)snprintf(buf + *len, size - *len,
			    "%lu", mime_dump_index(p));
			return;
		}
	}
	mime_dump_number(msg, buf, size, len);
	if (*len < size)
		*len += (size_t)snprintf(buf + *len, size - *len, ".%lu",
		    mime_dump_index(p));
}

void
mime_dump_label(const struct fc_mime_part *part, char *buf, size_t size)
{
	const struct fc_mime_part *parent = fc_mime_part_parent(part);
	size_t len = 0;

	buf[0] = '\0';
	if (mime_dump_is_message_node(part) &&
	    fc_mime_part_is_multipart(part)) {
		if (parent == NULL) {
			snprintf(buf, size, "TEXT");
			return;
		}
		mime_dump_number(parent, buf, size, &len);
		if (len < size)
			snprintf(buf + len, size - len, ".TEXT");
		return;
	}
	mime_dump_number(part, buf, size, &len);
}

static void
mime_dump_value(FILE *f, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	fputc('"', f);
	for (; *u != '\0'; u++) {
		if (*u == '"' || *u == '\\')
			fprintf(f, "\\%c", *u);
		else if (*u < 0x20 || *u == 0x7f)
			fprintf(f, "\\x%02x", *u);
		else
			fputc(*u, f);
	}
	fputc('"', f);
}

static void
mime_dump_params(FILE *f, const struct fc_mime_part *p, bool disposition)
{
	const char *name, *value;
	size_t i;

	for (i = 0; disposition ?
	    fc_mime_part_disposition_param_at(p, i, &name, &value) :
	    fc_mime_part_param_at(p, i, &name, &value); i++) {
		fprintf(f, "%s%s=", i == 0 ? "(" : " ", name);
		mime_dump_value(f, value);
	}
	if (i > 0)
		fputc(')', f);
}

static void
mime_dump_part(FILE *f, const struct fc_mime_part *p, unsigned int depth)
{
	char label[1024];
	const char *enc = fc_mime_part_encoding_raw(p);
	unsigned int i;

	for (i = 0; i < depth; i++)
		fputs("  ", f);
	mime_dump_label(p, label, sizeof(label));
	fprintf(f, "%s %s/%s", label, fc_mime_part_type(p),
	    fc_mime_part_subtype(p));
	mime_dump_params(f, p, false);
	if (fc_mime_part_disposition(p) != NULL) {
		fprintf(f, " disp=%s", fc_mime_part_disposition(p));
		mime_dump_params(f, p, true);
	}
	fputs(" enc=", f);
	if (enc != NULL)
		mime_dump_value(f, enc);
	else
		fputc('-', f);
	fprintf(f, " hdr=%llu+%llu/%llu body=%llu+%llu/%llu lines=%llu\n",
	    (unsigned long long)fc_mime_part_header_offset(p),
	    (unsigned long long)fc_mime_part_header_size(p, false),
	    (unsigned long long)fc_mime_part_header_size(p, true),
	    (unsigned long long)fc_mime_part_body_offset(p),
	    (unsigned long long)fc_mime_part_body_size(p, false),
	    (unsigned long long)fc_mime_part_body_size(p, true),
	    (unsigned long long)fc_mime_part_body_lines(p));
}

char *
mime_dump(const struct fc_mime_part *root)
{
	static const struct {
		unsigned int bit;
		const char *name;
	} flags[] = {
		{ FC_MIME_TOO_DEEP, "too-deep" },
		{ FC_MIME_TOO_MANY_PARTS, "too-many-parts" },
		{ FC_MIME_TOO_MANY_HEADERS, "too-many-headers" },
		{ FC_MIME_HEADER_TOO_LONG, "header-too-long" },
		{ FC_MIME_NO_BOUNDARY, "no-boundary" },
		{ FC_MIME_UNCLOSED, "unclosed" },
		{ FC_MIME_8BIT_HEADER, "8bit-header" },
		{ FC_MIME_NUL, "nul" },
		{ FC_MIME_BAD_HEADER_LINE, "bad-header-line" },
	};
	const struct fc_mime_part *p = root;
	unsigned int depth = 0, problems = fc_mime_problems(root);
	char *text = NULL;
	size_t len = 0, i;
	bool any = false;
	FILE *f;

	f = open_memstream(&text, &len);
	if (f == NULL)
		abort();
	/* pre-order without recursion: trees may be deep */
	while (p != NULL) {
		mime_dump_part(f, p, depth);
		if (fc_mime_part_child(p) != NULL) {
			p = fc_mime_part_child(p);
			depth++;
			continue;
		}
		while (p != NULL && fc_mime_part_next(p) == NULL) {
			p = fc_mime_part_parent(p);
			depth--;
		}
		if (p != NULL)
			p = fc_mime_part_next(p);
	}
	fputs("problems=", f);
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (problems & flags[i].bit) {
			fprintf(f, "%s%s", any ? "," : "", flags[i].name);
			any = true;
		}
	fputs(any ? "\n" : "none\n", f);
	fclose(f);
	return text;
}
