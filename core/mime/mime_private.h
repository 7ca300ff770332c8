/*
 * mime_private.h - what the files of core/mime/ share and nobody else
 * sees: the part record, the parser's state, a growable byte buffer and
 * the helpers each file lends the others.
 *
 *	mime_parser.c	lines, header ends, boundaries, the tree
 *	mime_header.c	header fields kept per part, their lookups
 *	mime_content.c	Content-Type, -Disposition, -Transfer-Encoding,
 *			RFC 2231 parameters
 *	mime_part.c	walking the tree, section numbers, sizes
 *	mime_words.c	RFC 2047 encoded words, unfolding
 *	mime_charset.c	charsets to UTF-8 (iconv), UTF-8 checks
 *	mime_address.c	RFC 5322 address lists
 *	mime_date.c	RFC 5322 dates
 *	mime_decoder.c	base64 and quoted-printable bodies
 *	mime_buf.c	the growable buffer
 */
#ifndef FACTEUR_CORE_MIME_PRIVATE_H
#define FACTEUR_CORE_MIME_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <facteur/mime.h>

struct fc_arena;

/* Bytes kept at the start of each line to recognise a boundary line:
 * "--", a boundary (70 bytes in RFC 2046, up to MIME_BOUNDARY_MAX
 * tolerated), "--" and some transport padding. */
#define MIME_BOUNDARY_MAX	200
#define MIME_LINE_KEEP		256

/* ------------------------------------------------------------------ */
/* mime_buf.c: bytes on the heap, for results copied to an arena later */

struct mime_buf {
	char *data;
	size_t len;
	size_t cap;
};

void mime_buf_add(struct mime_buf *b, const void *p, size_t n);
void mime_buf_addc(struct mime_buf *b, unsigned char c);
/* Its bytes NUL-terminated in the arena; the buffer is emptied. */
char *mime_buf_arena(struct fc_arena *a, struct mime_buf *b);
void mime_buf_free(struct mime_buf *b);

/* ------------------------------------------------------------------ */
/* The tree */

struct mime_field {
	const char *name;
	const char *value;
};

struct mime_param {
	const char *name;
	const char *value;
};

struct fc_mime_part {
	struct fc_mime_part *parent;
	struct fc_mime_part *child;
	struct fc_mime_part *last_child;
	struct fc_mime_part *next;
	unsigned int depth;		/* the root is 0 */
	unsigned int problems;		/* FC_MIME_*, on the root only */

	uint64_t header_offset;
	uint64_t body_offset;
	uint64_t end_offset;
	uint64_t header_bare_lf;	/* LFs without a CR before them */
	uint64_t body_bare_lf;
	uint64_t body_lines;

	struct mime_field *fields;
	size_t nfields;

	const char *type;		/* lower case, never NULL */
	const char *subtype;
	struct mime_param *params;
	size_t nparams;
	const char *disposition;	/* lower case, or NULL */
	struct mime_param *dparams;
	size_t ndparams;
	enum fc_mime_encoding encoding;
	const char *encoding_raw;

	/* While parsing. boundary is the parameter's bytes as written
	 * (unquoted), for matching; open means its boundary lines are
	 * looked for (a multipart before its close delimiter). */
	const char *boundary;
	size_t boundary_len;
	bool open;
	/* message-wide LF counts where the header (bare0 only) and then
	 * the body start; a part's counts are differences */
	uint64_t lf0;
	uint64_t bare0;
};

/* ------------------------------------------------------------------ */
/* The parser (mime_parser.c), and the header it is reading */

struct mime_field_node {
	struct mime_field field;
	struct mime_field_node *next;
};

struct mime_header {
	struct mime_buf field;		/* the field being read, raw */
	bool in_field;			/* field holds the start of one */
	bool drop_field;		/* the field is not kept */
	bool drop_rest;			/* byte limit hit: keep nothing more */
	size_t kept;			/* bytes kept for this header */
	size_t count;
	struct mime_field_node *head;
	struct mime_field_node **tail;
};

enum mime_mode {
	MIME_MODE_HEADER,		/* reading cur's header */
	MIME_MODE_BODY,			/* in cur's body */
	MIME_MODE_SKIP,			/* in a part of cur not created */
};

struct fc_mime_parser {
	struct fc_arena *a;
	struct fc_mime_limits lim;
	struct fc_mime_part *root;
	struct fc_mime_part *cur;	/* the innermost open part */
	enum mime_mode mode;
	unsigned int nparts;
	unsigned int active;		/* open parts with a boundary */
	bool finished;

	uint64_t offset;		/* bytes fed so far */
	uint64_t lf;			/* LFs fed so far */
	uint64_t bare_lf;		/* of which without a CR before */

	/* the current line */
	uint64_t line_start;
	uint64_t line_lf;		/* lf and bare_lf at its start */
	uint64_t line_bare;
	char lbuf[MIME_LINE_KEEP];	/* its first bytes, while collecting */
	size_t lbuf_len;
	bool collecting;
	unsigned char last;		/* the last byte fed */
	unsigned char before_last;	/* and the one before it */

	/* the line before the current one */
	unsigned int prev_eol;		/* 0: none, 1: LF, 2: CR LF */
	bool prev_empty;		/* nothing before its line end */

	struct mime_header hdr;
};

/* mime_header.c */
void mime_header_begin(struct fc_mime_parser *p);
void mime_header_line_start(struct fc_mime_parser *p, unsigned char c);
void mime_header_add(struct fc_mime_parser *p, const char *data, size_t n);
void mime_header_end(struct fc_mime_parser *p, struct fc_mime_part *part);
void mime_header_free(struct fc_mime_parser *p);

/* mime_content.c: fills type, parameters, disposition, encoding and
 * the raw boundary of a part whose header fields are known. */
void mime_content_parse(struct fc_arena *a, struct fc_mime_part *part);

/* ------------------------------------------------------------------ */
/* Text helpers */

static inline bool
mime_is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/* mime_words.c: appends the decoded text of s (RFC 2047 words, raw
 * 8-bit taken as UTF-8 or else Windows-1252) to out. */
void mime_words_decode(struct mime_buf *out, const char *s, size_t len);

/* mime_charset.c */
bool mime_utf8_valid(const unsigned char *s, size_t len);
/* Raw bytes: as they are when valid UTF-8, else as Windows-1252. */
void mime_raw_to_utf8(struct mime_buf *out, const unsigned char *s,
    size_t len);
/* From the named charset: NULL or an ASCII label as mime_raw_to_utf8(),
 * an unknown one as UTF-8 with invalid bytes replaced. */
void mime_charset_to_utf8(struct mime_buf *out, const char *charset,
    const unsigned char *s, size_t len);

/* A streaming converter to UTF-8: bytes of a multibyte sequence cut
 * between two feeds are kept until the next one. */
struct mime_conv;
struct mime_conv *mime_conv_new(struct fc_arena *a, const char *charset);
void mime_conv_feed(struct mime_conv *c, const unsigned char *s, size_t len,
    fc_mime_output_fn *out, void *arg);
void mime_conv_finish(struct mime_conv *c, fc_mime_output_fn *out,
    void *arg);

#endif
