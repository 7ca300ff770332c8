/*
 * mime_parser.c - the streaming MIME parser: cuts the message into lines,
 * finds where headers end and which lines are boundaries, and builds the
 * tree of parts with their offsets and line counts.
 *
 * It does not interpret header fields (mime_header.c keeps them,
 * mime_content.c reads the Content-* ones) and never holds a body: only
 * the first MIME_LINE_KEEP bytes of a line are kept, and only while the
 * line may still be a boundary or a header line; the rest of a body line
 * is skipped whatever its length.
 *
 * Rules that are easy to get wrong:
 * - The line end before a boundary line belongs to the boundary (RFC
 *   2046 5.1.1): the part before it ends without it. A header cut short
 *   by a boundary ends the same way, so that parts stay nested.
 * - A boundary of any open multipart ends every part inside it; when
 *   nested multiparts share a boundary, the innermost one takes it. A
 *   boundary line is "--" boundary ["--"] and then only white space.
 * - LF and bare-LF counts are kept for the whole message; a part notes
 *   the counts where it starts and its own are differences, so closing
 *   many nested parts at once costs nothing per byte.
 * - The tree must not depend on how the message is cut into feeds:
 *   every decision is taken on a whole line or on MIME_LINE_KEEP bytes.
 * - Past a limit the parser records a problem and goes on; offsets of
 *   the parts it did create stay right.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/log.h>

#include "mime_private.h"

static const struct fc_mime_limits mime_default_limits = {
	.max_depth = 64,
	.max_parts = 10000,
	.max_headers = 1000,
	.max_header_bytes = 256 * 1024,
};

static void
mime_parser_free_buffers(void *arg)
{
	mime_header_free(arg);
}

static struct fc_mime_part *
mime_parser_part_new(struct fc_mime_parser *p, struct fc_mime_part *parent,
    uint64_t offset, uint64_t bare)
{
	struct fc_mime_part *part;

	part = fc_arena_alloc(p->a, sizeof(*part));
	part->parent = parent;
	part->depth = parent != NULL ? parent->depth + 1 : 0;
	part->header_offset = offset;
	part->body_offset = offset;
	part->end_offset = offset;
	part->bare0 = bare;
	part->type = "text";
	part->subtype = "plain";
	if (parent != NULL) {
		if (parent->last_child != NULL)
			parent->last_child->next = part;
		else
			parent->child = part;
		parent->last_child = part;
	}
	p->nparts++;
	mime_header_begin(p);
	return part;
}

struct fc_mime_parser *
fc_mime_parser_new(struct fc_arena *a, const struct fc_mime_limits *limits)
{
	struct fc_mime_parser *p;

	p = fc_arena_alloc(a, sizeof(*p));
	p->a = a;
	p->lim = mime_default_limits;
	if (limits != NULL) {
		/* a zero member keeps its default */
		if (limits->max_depth != 0)
			p->lim.max_depth = limits->max_depth;
		if (limits->max_parts != 0)
			p->lim.max_parts = limits->max_parts;
		if (limits->max_headers != 0)
			p->lim.max_headers = limits->max_headers;
		if (limits->max_header_bytes != 0)
			p->lim.max_header_bytes = limits->max_header_bytes;
	}
	p->root = mime_parser_part_new(p, NULL, 0, 0);
	p->cur = p->root;
	p->mode = MIME_MODE_HEADER;
	p->collecting = true;
	/* the header buffer is on the heap: give it back even when the
	 * caller drops the parser without finishing it */
	fc_arena_on_free(a, mime_parser_free_buffers, p);
	return p;
}

/*
 * The header of the current part is complete: its body starts at `at`,
 * where the message-wide counts are lf and bare. Decides whether the
 * part has children and what is read next.
 */
static void
mime_parser_header_done(struct fc_mime_parser *p, uint64_t at, uint64_t lf,
    uint64_t bare)
{
	struct fc_mime_part *part = p->cur, *child;

	mime_header_end(p, part);
	part->body_offset = at;
	part->header_bare_lf = bare - part->bare0;
	part->lf0 = lf;
	part->bare0 = bare;
	mime_content_parse(p->a, part);
	p->mode = MIME_MODE_BODY;

	if (strcmp(part->type, "multipart") == 0) {
		if (part->boundary == NULL || part->boundary_len == 0 ||
		    part->boundary_len > MIME_BOUNDARY_MAX) {
			p->root->problems |= FC_MIME_NO_BOUNDARY;
			return;
		}
		if (part->depth >= p->lim.max_depth) {
			p->root->problems |= FC_MIME_TOO_DEEP;
			return;
		}
		part->open = true;
		p->active++;
		return;
	}
	if (strcmp(part->type, "message") != 0 ||
	    (strcmp(part->subtype, "rfc822") != 0 &&
	    strcmp(part->subtype, "global") != 0))
		return;
	/* an encoded message is a leaf: its lines are not the message's */
	if (part->encoding != FC_MIME_ENC_7BIT &&
	    part->encoding != FC_MIME_ENC_8BIT &&
	    part->encoding != FC_MIME_ENC_BINARY)
		return;
	if (part->depth >= p->lim.max_depth) {
		p->root->problems |= FC_MIME_TOO_DEEP;
		return;
	}
	if (p->nparts >= p->lim.max_parts) {
		p->root->problems |= FC_MIME_TOO_MANY_PARTS;
		return;
	}
	child = mime_parser_part_new(p, part, at, bare);
	p->cur = child;
	p->mode = MIME_MODE_HEADER;
}

static void
mime_parser_part_end(struct fc_mime_part *part, uint64_t at, uint64_t lf,
    uint64_t bare, bool ends_lf)
{
	part->end_offset = at;
	part->body_bare_lf = bare - part->bare0;
	part->body_lines = lf - part->lf0;
	/* a last line without a line end is a line too */
	if (at > part->body_offset && !ends_lf)
		part->body_lines++;
}

/*
 * Ends every part inside `upto` (every part when it is NULL), at the
 * start of the current line less its line end when at_boundary, else
 * at the end of the input.
 */
static void
mime_parser_close_to(struct fc_mime_parser *p, struct fc_mime_part *upto,
    bool at_boundary)
{
	struct fc_mime_part *part;
	uint64_t at, lf, bare, min;
	bool ends_lf;

	if (at_boundary) {
		part = p->cur;
		min = p->mode == MIME_MODE_HEADER ? part->header_offset :
		    part->body_offset;
		if (p->prev_eol > 0 && p->line_start - p->prev_eol >= min) {
			at = p->line_start - p->prev_eol;
			lf = p->line_lf - 1;
			bare = p->line_bare - (p->prev_eol == 1 ? 1 : 0);
			ends_lf = p->prev_empty;
		} else {
			/* the line end was the header's or a boundary's */
			at = p->line_start;
			lf = p->line_lf;
			bare = p->line_bare;
			ends_lf = true;
		}
	} else {
		at = p->offset;
		lf = p->lf;
		bare = p->bare_lf;
		ends_lf = p->last == '\n';
	}

	/* a header cut short ends here; an embedded message it declares
	 * gets an empty header of its own, at the same place */
	while (p->mode == MIME_MODE_HEADER)
		mime_parser_header_done(p, at, lf, bare);

	while (p->cur != upto) {
		part = p->cur;
		mime_parser_part_end(part, at, lf, bare, ends_lf);
		if (part->open) {
			p->root->problems |= FC_MIME_UNCLOSED;
			part->open = false;
			p->active--;
		}
		p->cur = part->parent;
	}
	p->mode = MIME_MODE_BODY;
}

/*
 * Is the collected line (content_len bytes before its line end) a
 * boundary of an open multipart? Returns the innermost such part, with
 * *close_r telling a close delimiter, or NULL.
 */
static struct fc_mime_part *
mime_parser_boundary_find(struct fc_mime_parser *p, size_t content_len,
    bool *close_r)
{
	const char *s = p->lbuf + 2;
	size_t n = content_len - 2;
	struct fc_mime_part *part;
	unsigned int seen = 0;

	/* transport padding; a stray CR is tolerated with it */
	while (n > 0 && (mime_is_wsp((unsigned char)s[n - 1]) ||
	    s[n - 1] == '\r'))
		n--;
	for (part = p->cur; part != NULL && seen < p->active;
	    part = part->parent) {
		if (!part->open)
			continue;
		seen++;
		if (n < part->boundary_len ||
		    memcmp(s, part->boundary, part->boundary_len) != 0)
			continue;
		if (n == part->boundary_len) {
			*close_r = false;
			return part;
		}
		if (n == part->boundary_len + 2 &&
		    s[part->boundary_len] == '-' &&
		    s[part->boundary_len + 1] == '-') {
			*close_r = true;
			return part;
		}
	}
	return NULL;
}

/* A boundary line of m: the parts inside m end, and a new one begins
 * after the line unless it closes m. */
static void
mime_parser_boundary(struct fc_mime_parser *p, struct fc_mime_part *m,
    bool close)
{
	mime_parser_close_to(p, m, true);
	if (close) {
		m->open = false;
		p->active--;
		return;		/* the epilogue: body of m, not a part */
	}
	if (p->nparts >= p->lim.max_parts) {
		p->root->problems |= FC_MIME_TOO_MANY_PARTS;
		p->mode = MIME_MODE_SKIP;
		return;
	}
	/* the new part starts after this line (the input so far) */
	p->cur = mime_parser_part_new(p, m, p->offset, p->bare_lf);
	p->mode = MIME_MODE_HEADER;
}

/* A line held whole in lbuf: content_len bytes before its line end (if
 * it has one; the counts already include it). */
static void
mime_parser_line(struct fc_mime_parser *p, size_t content_len, bool eol)
{
	struct fc_mime_part *m;
	bool close = false;

	if (p->active > 0 && content_len >= 2 && p->lbuf[0] == '-' &&
	    p->lbuf[1] == '-') {
		m = mime_parser_boundary_find(p, content_len, &close);
		if (m != NULL) {
			mime_parser_boundary(p, m, close);
			return;
		}
	}
	if (p->mode != MIME_MODE_HEADER)
		return;
	if (content_len == 0 && eol) {
		mime_parser_header_done(p, p->offset, p->lf, p->bare_lf);
		return;
	}
	mime_header_line_start(p, (unsigned char)p->lbuf[0]);
	mime_header_add(p, p->lbuf, p->lbuf_len);
}

static void
mime_parser_line_end(struct fc_mime_parser *p)
{
	uint64_t line_len = p->offset - p->line_start;
	bool cr = line_len >= 2 && p->before_last == '\r';
	uint64_t content_len = line_len - 1 - (cr ? 1 : 0);

	p->lf++;
	if (!cr)
		p->bare_lf++;
	if (p->collecting)
		mime_parser_line(p, (size_t)content_len, true);
	p->prev_eol = cr ? 2 : 1;
	p->prev_empty = content_len == 0;
	p->line_start = p->offset;
	p->line_lf = p->lf;
	p->line_bare = p->bare_lf;
	p->lbuf_len = 0;
	p->collecting = true;
}

/* The line being collected cannot be a boundary nor a header's end:
 * the header gets what was kept, and the rest streams past. */
static void
mime_parser_spill(struct fc_mime_parser *p)
{
	p->collecting = false;
	if (p->mode == MIME_MODE_HEADER) {
		mime_header_line_start(p, (unsigned char)p->lbuf[0]);
		mime_header_add(p, p->lbuf, p->lbuf_len);
	}
}

static bool
mime_parser_keep_collecting(const struct fc_mime_parser *p)
{
	if (p->lbuf_len == MIME_LINE_KEEP)
		return false;
	/* "\r" may yet be the empty line that ends a header */
	if (p->mode == MIME_MODE_HEADER && p->lbuf_len == 1 &&
	    p->lbuf[0] == '\r')
		return true;
	if (p->active == 0 || p->lbuf[0] != '-')
		return false;
	return p->lbuf_len < 2 || p->lbuf[1] == '-';
}

static void
mime_parser_advance(struct fc_mime_parser *p, const char *d, size_t n)
{
	p->offset += n;
	p->before_last = n >= 2 ? (unsigned char)d[n - 2] : p->last;
	p->last = (unsigned char)d[n - 1];
}

void
fc_mime_parser_feed(struct fc_mime_parser *p, const void *data, size_t len)
{
	const char *d = data, *lf;
	size_t take, room;

	fc_assert(!p->finished);
	if (len > 0 && memchr(d, '\0', len) != NULL)
		p->root->problems |= FC_MIME_NUL;
	while (len > 0) {
		if (p->collecting && p->lbuf_len == 0 &&
		    p->mode != MIME_MODE_HEADER &&
		    (p->active == 0 || d[0] != '-'))
			p->collecting = false;	/* a plain body line */
		if (p->collecting) {
			room = MIME_LINE_KEEP - p->lbuf_len;
			take = len < room ? len : room;
			lf = memchr(d, '\n', take);
			if (lf != NULL)
				take = (size_t)(lf - d) + 1;
			memcpy(p->lbuf + p->lbuf_len, d, take);
			p->lbuf_len += take;
			mime_parser_advance(p, d, take);
			d += take;
			len -= take;
			if (lf != NULL)
				mime_parser_line_end(p);
			else if (!mime_parser_keep_collecting(p))
				mime_parser_spill(p);
			continue;
		}
		lf = memchr(d, '\n', len);
		take = lf != NULL ? (size_t)(lf - d) + 1 : len;
		if (p->mode == MIME_MODE_HEADER)
			mime_header_add(p, d, take);
		mime_parser_advance(p, d, take);
		d += take;
		len -= take;
		if (lf != NULL)
			mime_parser_line_end(p);
	}
}

struct fc_mime_part *
fc_mime_parser_finish(struct fc_mime_parser *p)
{
	fc_assert(!p->finished);
	/* a last line without a line end: a streamed one is already in
	 * the header if it belonged there */
	if (p->offset > p->line_start && p->collecting)
		mime_parser_line(p, p->lbuf_len, false);
	mime_parser_close_to(p, NULL, false);
	mime_header_free(p);
	p->finished = true;
	return p->root;
}

struct fc_mime_part *
fc_mime_parse_fd(struct fc_arena *a, int fd,
    const struct fc_mime_limits *limits)
{
	struct fc_mime_parser *p;
	char *buf;
	size_t size = 64 * 1024;
	off_t off = 0;
	ssize_t n;
	int saved;

	p = fc_mime_parser_new(a, limits);
	buf = fc_malloc(size);
	for (;;) {
		n = pread(fd, buf, size, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			saved = errno;
			free(buf);
			mime_header_free(p);
			errno = saved;
			return NULL;
		}
		if (n == 0)
			break;
		fc_mime_parser_feed(p, buf, (size_t)n);
		off += n;
	}
	free(buf);
	return fc_mime_parser_finish(p);
}

unsigned int
fc_mime_problems(const struct fc_mime_part *root)
{
	return root->problems;
}
