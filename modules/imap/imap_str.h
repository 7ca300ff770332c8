/*
 * imap_str.h - a growing byte string for building IMAP responses.
 *
 * IMAP answers are mostly small nested lists (ENVELOPE, BODYSTRUCTURE,
 * LIST, STATUS) whose strings must be written as atoms, quoted strings,
 * literals or NIL depending on what they hold. Every writer of the module
 * goes through these calls so that the quoting rules live in one place.
 * The string is on the heap and grows as needed; no call fails (the
 * allocator aborts on exhaustion, as everywhere in facteur).
 */
#ifndef FACTEUR_IMAP_STR_H
#define FACTEUR_IMAP_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct imap_str {
	char *data;		/* not NUL-terminated unless imap_str_cstr() */
	size_t len;
	size_t size;
};

void imap_str_init(struct imap_str *s);
void imap_str_free(struct imap_str *s);
/* Keeps the memory for the next response. */
void imap_str_reset(struct imap_str *s);
/* data, NUL-terminated (the NUL is not counted in len) */
const char *imap_str_cstr(struct imap_str *s);

void imap_str_add(struct imap_str *s, const void *p, size_t n);
void imap_str_adds(struct imap_str *s, const char *str);
void imap_str_addc(struct imap_str *s, char c);
void imap_str_printf(struct imap_str *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Strict UTF-8: no overlong forms, surrogates or code points past
 * U+10FFFF. */
bool imap_str_utf8_valid(const unsigned char *s, size_t n);

/*
 * An IMAP "string": quoted when every byte may appear in a quoted string
 * (no CR, LF or NUL, 7-bit unless utf8 is true and the bytes are valid
 * UTF-8, at most 1024 bytes),
 * otherwise a synchronising literal {n}\r\n followed by the bytes.
 * utf8: the client enabled UTF8=ACCEPT or IMAP4rev2, where quoted
 * strings may hold UTF-8.
 */
void imap_str_add_string(struct imap_str *s, const void *p, size_t n,
    bool utf8);
/* nstring: NIL for NULL, otherwise as imap_str_add_string() */
void imap_str_add_nstring(struct imap_str *s, const char *str, bool utf8);
/* astring: an atom when the bytes are all ATOM-CHARs (and not empty),
 * otherwise a string */
void imap_str_add_astring(struct imap_str *s, const char *str, bool utf8);

#endif
