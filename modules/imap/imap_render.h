/*
 * imap_render.h - what FETCH returns for a stored message: ENVELOPE,
 * BODY and BODYSTRUCTURE from the MIME tree (include/facteur/mime.h), and
 * the bytes of BODY[section]<partial>, BINARY[section] and BINARY.SIZE.
 *
 * No network I/O here: the writers append to an imap_str, and a section
 * reader streams the answer from the message's file descriptor, so a
 * 50 MB message never sits in memory: a reader holds a few 16 KiB
 * buffers, whatever the section (HEADER.FIELDS and decoded BINARY are
 * run twice over the file, once to count and once to give the bytes).
 *
 * Wire form: a message stored with LF line ends (crlf false, see
 * fc_msg_open()) is shown with CRLF; every size announced here is the
 * size of what the reader then produces, in that form.
 */
#ifndef FACTEUR_IMAP_RENDER_H
#define FACTEUR_IMAP_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct fc_arena;
struct fc_mime_part;
struct imap_str;

/*
 * The ENVELOPE list of a message: root is the message (the root of the
 * tree, or the child of a message/rfc822 part). Strings are the header
 * values unfolded, not RFC 2047-decoded (as RFC 3501 and Dovecot show
 * them); addresses are (name adl mailbox host) lists with RFC 3501's
 * group markers. utf8: the client enabled UTF8=ACCEPT or IMAP4rev2, so
 * 8-bit text may be quoted; otherwise it is sent as a literal.
 */
void imap_envelope_write(struct imap_str *out, const struct fc_mime_part *root,
    bool utf8);

/*
 * BODY (extended false) or BODYSTRUCTURE (extended true, with the
 * extension data: MD5 (Content-MD5 or NIL), disposition, language,
 * location) of the message root. A message/rfc822 part carries its inner
 * ENVELOPE, BODY and line count (all-NIL and empty when its content is
 * encoded); message/global too with utf8 (IMAP4rev2's grammar); text
 * parts their line count. Sizes and line counts are those of the CRLF
 * form. The rules are at the top of imap_bodystructure.c.
 */
void imap_bodystructure_write(struct imap_str *out,
    const struct fc_mime_part *root, bool extended, bool utf8);

/* ------------------------------------------------------------------ */
/* Sections */

struct imap_section;

/*
 * Parses the text between [ and ] of BODY[...] or BINARY[...]: "" (the
 * whole message), "1.2", "HEADER", "HEADER.FIELDS (A B)",
 * "HEADER.FIELDS.NOT (A B)", "TEXT", "MIME", "1.2.HEADER", ...; with
 * binary, part numbers only. Field names may be atoms, quoted strings or
 * literals ({n}\r\n followed by the bytes, as the command parser leaves
 * them in text). Returns 0, or -1 with a message for a BAD response in
 * *error_r. Everything is allocated in a.
 */
int imap_section_parse(struct fc_arena *a, const char *text, size_t len,
    bool binary, struct imap_section **sec_r, const char **error_r);

/*
 * The item name of the response in canonical form: item is "BODY",
 * "BINARY" or "BINARY.SIZE", then [section] (field names upper-cased,
 * written as atoms or quoted strings), then <origin> unless origin is
 * UINT64_MAX (no partial), e.g. BODY[HEADER.FIELDS (FROM TO)]<0>.
 */
void imap_section_name_write(struct imap_str *out, const char *item,
    const struct imap_section *sec, uint64_t origin);

/* True for a section made of header bytes only (HEADER, HEADER.FIELDS,
 * HEADER.FIELDS.NOT, MIME). */
bool imap_section_is_header(const struct imap_section *sec);
/* True for a section of the message's own header (HEADER, HEADER.FIELDS,
 * HEADER.FIELDS.NOT without a part number): a file holding the header
 * alone (fc_msg_open_header()) gives the same bytes. */
bool imap_section_is_top_header(const struct imap_section *sec);

struct imap_section_reader;

/* imap_section_open() results other than 0 */
#define IMAP_SECTION_ERR_IO		(-1)	/* errno set */
#define IMAP_SECTION_ERR_UNKNOWN_CTE	(-2)	/* BINARY: NO [UNKNOWN-CTE] */

/*
 * Opens the bytes the client gets for sec in the message root parsed
 * from fd (crlf: the file already uses CRLF line ends; otherwise every
 * bare LF becomes CRLF). partial_len UINT64_MAX: no partial; otherwise
 * the <partial_offset.partial_len> range, cut to what exists (an offset
 * past the end gives no bytes). *size_r is the exact number of bytes
 * imap_section_read() then produces: the literal's {n}. A part number
 * that does not exist gives an empty string.
 *
 * For BINARY sections (parsed with binary true), the content is decoded
 * from base64 or quoted-printable; an encoding that cannot be decoded
 * gives IMAP_SECTION_ERR_UNKNOWN_CTE with *error_r set. For BINARY.SIZE
 * open with partial_len UINT64_MAX and use *size_r alone.
 *
 * Returns 0, or IMAP_SECTION_ERR_* with *error_r set. The reader lives
 * in a (about 40 KiB at most, and a cleanup): use an arena per message,
 * reset once its sections are sent. It does not own fd. crlf is only a
 * hint: the parser's counts tell which LFs need a CR, so a file stored
 * either way gives the same bytes.
 */
int imap_section_open(struct fc_arena *a, const struct imap_section *sec,
    const struct fc_mime_part *root, int fd, bool crlf,
    uint64_t partial_offset, uint64_t partial_len,
    struct imap_section_reader **r_r, uint64_t *size_r,
    const char **error_r);

/* Up to size bytes of the answer into buf: the count, 0 at the end, or
 * -1 with errno set when the file cannot be read (the file changed or
 * shrank under us gives EIO). */
ssize_t imap_section_read(struct imap_section_reader *r, void *buf,
    size_t size);

#endif
