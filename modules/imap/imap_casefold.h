/*
 * imap_casefold.h - Unicode simple case folding of UTF-8 text, for the
 * text keys of SEARCH (i;unicode-casemap without its decomposition):
 * "ÉTÉ", "été" and "Été" fold to the same bytes.
 *
 * No locale is consulted: the table is ours (imap_casefold_table.c,
 * generated from the Unicode data by imap_casefold_gen.py), so a search
 * gives the same answer on every machine.
 */
#ifndef IMAP_CASEFOLD_H
#define IMAP_CASEFOLD_H

#include <stddef.h>
#include <stdint.h>

struct imap_casefold_range {
	uint32_t first, last;
	uint32_t step;			/* 1: each one; 2: every other */
	int32_t delta;
};

extern const struct imap_casefold_range imap_casefold_table[];
extern const size_t imap_casefold_table_len;

/* The simple case folding of one code point. */
uint32_t imap_casefold_cp(uint32_t cp);

/*
 * Folds UTF-8 text given in pieces of any size: a character cut between
 * two pieces is kept until the next. Bytes that are not UTF-8 become
 * U+FFFD. out() gets the folded text, in pieces.
 */
typedef void imap_casefold_out_fn(void *arg, const char *data, size_t len);

struct imap_casefold {
	unsigned char part[4];		/* a character not yet complete */
	size_t plen;
	imap_casefold_out_fn *out;
	void *arg;
};

void imap_casefold_init(struct imap_casefold *cf, imap_casefold_out_fn *out,
    void *arg);
void imap_casefold_feed(struct imap_casefold *cf, const char *data,
    size_t len);
/* Ends the text: a character left incomplete becomes U+FFFD. */
void imap_casefold_finish(struct imap_casefold *cf);

#endif
