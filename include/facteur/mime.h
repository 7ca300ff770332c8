/*
 * mime.h - the message parser every module shares: RFC 5322 header
 * fields, the MIME tree (RFC 2045-2049), RFC 2047 encoded words, RFC 2231
 * parameters, addresses and dates, and decoders for bodies.
 *
 * IMAP (ENVELOPE, BODYSTRUCTURE, BODY[section], SEARCH), the Lua filter
 * API and local delivery all use this one parser.
 *
 * Streaming: the parser is fed the message in pieces of any size and never
 * holds a body. It keeps, per part, the header fields (up to the limits),
 * the parsed Content-* values, and offsets into the message, so a caller
 * can read any section byte-exactly from the stored file afterwards.
 *
 * Offsets are physical: bytes from the start of the message as fed. A
 * message may be stored with LF line ends and shown to IMAP clients with
 * CRLF; the *_crlf sizes are what the client sees (each LF not preceded
 * by CR counts two bytes).
 *
 * Bounds: nesting depth, number of parts, header fields per part and
 * header bytes per part are limited (fc_mime_limits). Past a limit the
 * parser stops descending or drops the surplus fields, records a problem
 * flag, and goes on: every message gives a tree, however broken.
 *
 * Everything returned is allocated in the arena given to the parser and
 * lives as long as it. Strings are NUL-terminated; header values are as
 * in the message (folding kept) unless a function says it decodes.
 */
#ifndef FACTEUR_MIME_H
#define FACTEUR_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct fc_arena;
struct fc_mime_parser;
struct fc_mime_part;

struct fc_mime_limits {
	unsigned int max_depth;		/* multipart/message nesting: 64 */
	unsigned int max_parts;		/* parts in the message: 10000 */
	unsigned int max_headers;	/* fields per part header: 1000 */
	size_t max_header_bytes;	/* bytes kept per part header: 256k */
};

/* Problems found while parsing (fc_mime_problems()), as bits. */
#define FC_MIME_TOO_DEEP		0x0001	/* nesting cut at max_depth */
#define FC_MIME_TOO_MANY_PARTS		0x0002	/* parts cut at max_parts */
#define FC_MIME_TOO_MANY_HEADERS	0x0004	/* fields dropped */
#define FC_MIME_HEADER_TOO_LONG		0x0008	/* header bytes dropped */
#define FC_MIME_NO_BOUNDARY		0x0010	/* multipart without one */
#define FC_MIME_UNCLOSED		0x0020	/* no closing boundary */
#define FC_MIME_8BIT_HEADER		0x0040	/* raw 8-bit bytes in a header */
#define FC_MIME_NUL			0x0080	/* NUL bytes anywhere */
#define FC_MIME_BAD_HEADER_LINE		0x0100	/* a header line without ':' */

enum fc_mime_encoding {
	FC_MIME_ENC_7BIT = 0,		/* also when absent */
	FC_MIME_ENC_8BIT,
	FC_MIME_ENC_BINARY,
	FC_MIME_ENC_BASE64,
	FC_MIME_ENC_QP,
	FC_MIME_ENC_OTHER,		/* unknown: the raw value tells */
};

/* ------------------------------------------------------------------ */
/* Parsing */

/* limits NULL: the defaults above; so is a member left at zero. */
struct fc_mime_parser *fc_mime_parser_new(struct fc_arena *a,
    const struct fc_mime_limits *limits);
void fc_mime_parser_feed(struct fc_mime_parser *p, const void *data,
    size_t len);
/* The root part (the message); never NULL. The parser is spent. */
struct fc_mime_part *fc_mime_parser_finish(struct fc_mime_parser *p);

/* Parses what fd holds from offset 0 (pread: the file offset does not
 * move). NULL with errno set when reading fails. */
struct fc_mime_part *fc_mime_parse_fd(struct fc_arena *a, int fd,
    const struct fc_mime_limits *limits);

/* The problem bits of the whole message (only on the root). */
unsigned int fc_mime_problems(const struct fc_mime_part *root);

/* ------------------------------------------------------------------ */
/* The tree */

/*
 * The first child: the first part of a multipart, or the message inside
 * a message/rfc822 (or message/global) part. NULL for a leaf.
 */
const struct fc_mime_part *fc_mime_part_child(const struct fc_mime_part *p);
const struct fc_mime_part *fc_mime_part_next(const struct fc_mime_part *p);
const struct fc_mime_part *fc_mime_part_parent(const struct fc_mime_part *p);
/* The part numbered as in IMAP ("1.2.3"; "" for the root's text), or
 * NULL when there is no such part. */
const struct fc_mime_part *fc_mime_part_find(const struct fc_mime_part *root,
    const char *section);
/* True when the part was parsed as one, with children: false for a
 * multipart without a boundary or without any part, an encoded message,
 * or one cut by the limits (those are leaves). */
bool fc_mime_part_is_multipart(const struct fc_mime_part *p);
bool fc_mime_part_is_message(const struct fc_mime_part *p); /* rfc822/global */

/* Offsets and sizes. The header runs from header_offset to body_offset
 * (the blank line included); the body from body_offset to end_offset. */
uint64_t fc_mime_part_header_offset(const struct fc_mime_part *p);
uint64_t fc_mime_part_body_offset(const struct fc_mime_part *p);
uint64_t fc_mime_part_end_offset(const struct fc_mime_part *p);
uint64_t fc_mime_part_header_size(const struct fc_mime_part *p, bool crlf);
uint64_t fc_mime_part_body_size(const struct fc_mime_part *p, bool crlf);
/* Lines in the body, as IMAP BODYSTRUCTURE counts them. */
uint64_t fc_mime_part_body_lines(const struct fc_mime_part *p);

/* ------------------------------------------------------------------ */
/* Content-* fields, parsed */

/* Lower case. Without a Content-Type: text/plain, or message/rfc822
 * inside multipart/digest. */
const char *fc_mime_part_type(const struct fc_mime_part *p);
const char *fc_mime_part_subtype(const struct fc_mime_part *p);
/* Content-Type parameters, names in lower case, values unquoted and
 * RFC 2231 continuations joined and decoded to UTF-8 (but the boundary
 * as written). idx from 0; false when there are no more. */
bool fc_mime_part_param_at(const struct fc_mime_part *p, size_t idx,
    const char **name_r, const char **value_r);
const char *fc_mime_part_param(const struct fc_mime_part *p,
    const char *name);
/* Content-Disposition: its value in lower case, or NULL, and its
 * parameters as above. */
const char *fc_mime_part_disposition(const struct fc_mime_part *p);
bool fc_mime_part_disposition_param_at(const struct fc_mime_part *p,
    size_t idx, const char **name_r, const char **value_r);
const char *fc_mime_part_disposition_param(const struct fc_mime_part *p,
    const char *name);
enum fc_mime_encoding fc_mime_part_encoding(const struct fc_mime_part *p);
/* The Content-Transfer-Encoding value as written (trimmed), or NULL. */
const char *fc_mime_part_encoding_raw(const struct fc_mime_part *p);

/* ------------------------------------------------------------------ */
/* Header fields */

size_t fc_mime_part_header_count(const struct fc_mime_part *p);
/* The idx-th field: its name as written, its value after the colon as
 * written (folding kept, CR LF removed at the end). */
bool fc_mime_part_header_at(const struct fc_mime_part *p, size_t idx,
    const char **name_r, const char **value_r);
/* The n-th field of that name (no case), from 0, or NULL. */
const char *fc_mime_part_header(const struct fc_mime_part *p,
    const char *name, size_t n);

/* Folding removed, leading and trailing white space trimmed. */
char *fc_mime_header_unfold(struct fc_arena *a, const char *value);
/* Unfolded, RFC 2047 encoded words decoded and every charset converted
 * to UTF-8 (invalid bytes become U+FFFD). Never fails. */
char *fc_mime_header_decode(struct fc_arena *a, const char *value);

/* ------------------------------------------------------------------ */
/* Addresses and dates */

/*
 * One RFC 5322 address, or a group marker, in the order of the field.
 * A group starts with an entry whose mailbox is the group's name and
 * domain is NULL, and ends with an entry whose mailbox and domain are
 * both NULL (as IMAP's ENVELOPE shows groups). A mailbox written without
 * a domain has "" as its domain. Allocated by the core;
 * members may be added at the end in a minor ABI version.
 */
struct fc_mime_address {
	const char *name;		/* display name, decoded, or NULL */
	const char *route;		/* obsolete source route, or NULL */
	const char *mailbox;		/* local part, or NULL */
	const char *domain;		/* or NULL */
	struct fc_mime_address *next;
};

/* Parses an address-list field value; NULL when it holds none. Lenient
 * with real-world mistakes; never fails. */
struct fc_mime_address *fc_mime_address_parse(struct fc_arena *a,
    const char *value);

/* An RFC 5322 date (and the obsolete forms): 0 with the time and the
 * zone's offset from UTC in minutes, -1 when it is not a date. */
int fc_mime_date_parse(const char *value, time_t *t_r, int *zone_r);

/* ------------------------------------------------------------------ */
/* Decoding bodies */

/*
 * A streaming decoder for one part's body: undoes the transfer encoding,
 * and with to_utf8 converts text from the part's charset to UTF-8
 * (invalid bytes become U+FFFD; an unknown charset is taken as UTF-8
 * with the same repair). Feed it the body bytes (from the part's
 * body_offset to end_offset) in pieces of any size; it calls out() with
 * decoded pieces.
 */
struct fc_mime_decoder;
typedef void fc_mime_output_fn(void *arg, const void *data, size_t len);

struct fc_mime_decoder *fc_mime_decoder_new(struct fc_arena *a,
    const struct fc_mime_part *p, bool to_utf8, fc_mime_output_fn *out,
    void *arg);
void fc_mime_decoder_feed(struct fc_mime_decoder *d, const void *data,
    size_t len);
void fc_mime_decoder_finish(struct fc_mime_decoder *d);

#endif
