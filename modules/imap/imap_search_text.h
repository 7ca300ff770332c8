/*
 * imap_search_text.h - the text keys of SEARCH (BODY, TEXT, SUBJECT,
 * FROM, TO, CC, BCC, HEADER) matched on decoded text, and the sent date
 * of SENTBEFORE, SENTON and SENTSINCE.
 *
 * A key's string and the message's text are both case-folded
 * (imap_casefold.h) before a substring match. Header values are matched
 * with their RFC 2047 words decoded; bodies of text parts with their
 * transfer encoding undone and their charset converted to UTF-8. A key
 * never matches across two fields or two parts.
 *
 * Nothing here knows about sessions or mailboxes: the scan reads a file
 * descriptor, so the unit tests drive it on files of their own.
 */
#ifndef IMAP_SEARCH_TEXT_H
#define IMAP_SEARCH_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct fc_arena;

enum imap_text_where {
	IMAP_TEXT_FIELD,	/* HEADER, FROM, SUBJECT...: one field */
	IMAP_TEXT_BODY,		/* BODY: the bodies of the text parts */
	IMAP_TEXT_ALL,		/* TEXT: all headers and text bodies */
};

struct imap_text_key {
	enum imap_text_where where;
	const char *field;	/* IMAP_TEXT_FIELD: the field's name */
	const char *needle;	/* the string, case-folded */
	size_t len;
	size_t *fail;		/* KMP: longest border of needle[0..i] */
	size_t state;		/* bytes of needle matched so far */
	bool matched;		/* in the message last scanned */
};

/* Fills k for a search string given as UTF-8 (invalid bytes are
 * U+FFFD); allocations in a. */
void imap_text_key_init(struct imap_text_key *k, struct fc_arena *a,
    enum imap_text_where where, const char *field, const char *string);

/*
 * Reads the message in fd and sets each key's matched. With sent_day_r,
 * also gives the day of the Date field as written in its own zone (the
 * time and zone disregarded, RFC 3501 6.4.4), as the time_t of that
 * day's midnight UTC; *has_sent_r false when the field is missing or
 * not a date. The header is read first; the whole file only when a
 * BODY or TEXT key is still unmatched, once to parse it and once more
 * for the text parts, in bounded pieces, stopping once every key has
 * matched. tmp holds the parse (reset it between messages). -1 when fd
 * cannot be read.
 */
int imap_text_scan(int fd, struct fc_arena *tmp, struct imap_text_key
    *const *keys, size_t n, time_t *sent_day_r, bool *has_sent_r);

#endif
