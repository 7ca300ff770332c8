/*
 * imap_parse.h - IMAP command text (RFC 3501 section 9, RFC 9051
 * section 9) turned into a tree of arguments, and sequence sets. No I/O:
 * unit-tested and fuzzed on its own.
 *
 * The session gathers a whole command before parsing it: its lines
 * joined without their CRLF, and each literal kept in wire form
 * ("{n}\r\n" or "{n+}\r\n" then the n bytes), so the parser sees exactly
 * what a client sent. Every string of the tree is a NUL-terminated copy
 * in the arena (literals may hold NULs: trust len).
 *
 * A binary literal ("~{n}", RFC 3516 literal8) is accepted only where
 * the grammar has one: as the last argument of APPEND, its message.
 * Anywhere else the command is refused.
 */
#ifndef FACTEUR_IMAP_PARSE_H
#define FACTEUR_IMAP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fc_arena;

/* Parenthesised lists nest at most this deep: SEARCH and FETCH never
 * need more than a few levels; a client sending 10,000 gets BAD. */
#define IMAP_DEPTH_MAX		64
#define IMAP_TAG_MAX		64

enum imap_arg_type {
	IMAP_ARG_ATOM = 1,	/* includes \Flags, BODY[...]<n.m>, NIL */
	IMAP_ARG_QUOTED,
	IMAP_ARG_LITERAL,
	IMAP_ARG_LIST,
	IMAP_ARG_LITERAL8,	/* ~{n}: only as APPEND's message */
};

struct imap_arg {
	enum imap_arg_type type;
	const char *str;		/* not LIST: the bytes, NUL added */
	size_t len;
	struct imap_arg *list;		/* LIST: its members */
	size_t count;
};

struct imap_command {
	const char *tag;
	const char *name;		/* upper-cased */
	struct imap_arg *args;
	size_t count;
};

/*
 * Parses one command. 0, or -1 with *error_r; a tag that could be read
 * is set even on failure (*tag_r, else NULL), so the answer can be
 * tagged BAD.
 */
int imap_parse_command(const char *buf, size_t len, struct fc_arena *a,
    struct imap_command *cmd, const char **error_r);

/*
 * A line of a command as the session receives it: does it end with a
 * literal's announcement? 1 with its size and whether it is
 * non-synchronising ({n+}), 0 when not, -1 for a malformed or too large
 * number ("{99999999999999999999}").
 */
int imap_literal_marker(const char *line, size_t len, uint64_t *size_r,
    bool *nonsync_r, size_t *marker_len_r);

/*
 * Whether the literal announced at the end of line (marker_len bytes,
 * from imap_literal_marker()) is a literal8: "~" before its "{", the
 * "~" at the line's start or after a space or "(" (APPEND's "UTF8
 * (~{n}", RFC 6855).
 */
bool imap_literal_marker_binary(const char *line, size_t len,
    size_t marker_len);

/* An atom or string argument (not a list): astring. */
bool imap_arg_is_string(const struct imap_arg *arg);
/* An atom equal to word, ignoring case. */
bool imap_arg_is_atom(const struct imap_arg *arg, const char *word);
/* A number: digits only, at most max. 0 or -1. */
int imap_parse_number(const char *s, uint64_t max, uint64_t *r);

/*
 * Sequence sets: "1,3:5,7:*". A value 0 stands for "*" (the largest
 * number in use). Ranges keep their order and direction as given: 5:1
 * is 1:5. "$" alone is the saved search result (RFC 5182 SEARCHRES):
 * saved is set and there are no ranges; the session knows what it
 * holds. "$" mixed with numbers ("1,$") is refused, as Dovecot does:
 * no client sends it, and it would mean two kinds of set in one.
 */
struct imap_range {
	uint32_t lo, hi;		/* 0: "*" */
};

struct imap_seqset {
	struct imap_range *ranges;
	size_t count;
	bool saved;			/* "$" */
};

int imap_seqset_parse(const char *s, struct fc_arena *a,
    struct imap_seqset *set);
/* Whether n is in the set, with "*" meaning max (max 0: empty); never
 * for "$", which only the session can resolve. */
bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n,
    uint32_t max);

/*
 * The parameters of SELECT and EXAMINE after the mailbox name (RFC 4466
 * select-params): "(CONDSTORE)" (RFC 7162 3.1.8) and "(QRESYNC
 * (uidvalidity modseq [known-uids] [(seq-match uid-match)]))" (RFC 7162
 * 3.2.5). Only the syntax is checked here: the two match sets must have
 * as many numbers each, and no "*", since a number pairs with the one
 * at the same place in the other set. 0, or -1 with *error_r.
 */
struct imap_select_params {
	bool condstore;
	bool qresync;
	uint32_t uidvalidity;
	uint64_t modseq;
	struct imap_seqset known_uids;	/* count 0: not given */
	struct imap_seqset seq_match;	/* count 0: not given */
	struct imap_seqset uid_match;
};

int imap_select_params_parse(const struct imap_arg *list, struct fc_arena *a,
    struct imap_select_params *p, const char **error_r);

#endif
