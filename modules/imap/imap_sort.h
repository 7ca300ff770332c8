/*
 * imap_sort.h - SORT and THREAD (RFC 5256): the keys of a message, base
 * subjects, comparisons and the threading algorithms. No I/O here
 * (imap_subject.c, imap_thread.c: unit-tested); imap_sort.c reads the
 * messages and answers the commands.
 */
#ifndef FACTEUR_IMAP_SORT_H
#define FACTEUR_IMAP_SORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "imap_str.h"

struct fc_arena;

/* What SORT and THREAD keep of one message. */
struct imap_sortmsg {
	uint32_t seq;
	uint32_t uid;
	uint64_t size;			/* RFC822.SIZE */
	time_t arrival;			/* internal date */
	time_t sent;			/* Date:, or the internal date */
	const char *subject;		/* base subject (RFC 5256 2.1) */
	bool reply;			/* Re:, Fwd: or the like was removed */
	const char *from, *to, *cc;	/* first mailbox's local part, or "" */
	const char *msgid;		/* Message-ID, or NULL */
	const char **refs;		/* References (or In-Reply-To) */
	size_t nrefs;
};

enum imap_sortkey {
	IMAP_SORT_ARRIVAL = 0,
	IMAP_SORT_CC,
	IMAP_SORT_DATE,
	IMAP_SORT_FROM,
	IMAP_SORT_SIZE,
	IMAP_SORT_SUBJECT,
	IMAP_SORT_TO,
};

#define IMAP_SORT_KEYS_MAX	16

struct imap_sortspec {
	enum imap_sortkey key[IMAP_SORT_KEYS_MAX];
	bool reverse[IMAP_SORT_KEYS_MAX];
	size_t n;
};

/* imap_subject.c */

/* The base subject of a Subject field value (NULL: none): RFC 2047
 * words decoded to UTF-8, white space collapsed, and the leaders and
 * trailers of replies and forwards removed. *reply_r tells whether any
 * was. */
const char *imap_base_subject(struct fc_arena *a, const char *raw,
    bool *reply_r);
/* Comparison of sort strings: ASCII letters without case, other bytes
 * as they are. */
int imap_sort_strcmp(const char *x, const char *y);
/* The message ids of a References or In-Reply-To value ("<a@b>" each,
 * brackets kept), in order; *n_r counts them. */
const char **imap_msgids_parse(struct fc_arena *a, const char *value,
    size_t *n_r);

/* imap_thread.c */

/* The sort keys by name ("SUBJECT", ...): -1 for an unknown one. */
int imap_sortkey_parse(const char *name, enum imap_sortkey *key_r);
int imap_sort_compare(const struct imap_sortspec *spec,
    const struct imap_sortmsg *x, const struct imap_sortmsg *y);
/* Sorts the array of pointers; ties by sequence number. */
void imap_sort_msgs(const struct imap_sortspec *spec,
    struct imap_sortmsg **msgs, size_t n);
/* The THREAD response's data (after "* THREAD"), uids or sequence
 * numbers, into out. */
void imap_thread_orderedsubject(struct fc_arena *a, struct imap_sortmsg **msgs,
    size_t n, bool uid, struct imap_str *out);
void imap_thread_references(struct fc_arena *a, struct imap_sortmsg **msgs,
    size_t n, bool uid, struct imap_str *out);

#endif
