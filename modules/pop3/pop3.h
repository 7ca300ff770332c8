/*
 * pop3.h - what the files of the POP3 module share.
 *
 *	pop3.c		descriptor, directives, the CAPA lines built once
 *	pop3_parse.c	command lines and numbers (no I/O: unit-tested, fuzzed)
 *	pop3_stream.c	a stored message as POP3 sends it: CRLF, dot-stuffing,
 *			TOP's cut (no I/O: unit-tested, fuzzed)
 *	pop3_session.c	greeting, dispatch by state, replies, the edges
 *	pop3_auth.c	USER/PASS, AUTH, STLS, CAPA
 *	pop3_lock.c	the maildrop lock and LOGIN-DELAY
 *	pop3_maildrop.c	the session's messages: open, numbers, UPDATE
 *	pop3_cmd.c	STAT, LIST, UIDL, RETR, TOP, DELE, RSET, NOOP, QUIT
 */
#ifndef FACTEUR_POP3_H
#define FACTEUR_POP3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <facteur/session.h>

struct fc_sasl;
struct fc_store;
struct fc_mailbox;

/* ------------------------------------------------------------------ */
/* Configuration */

enum pop3_uidl_format {
	POP3_UIDL_UID_VALIDITY = 0,	/* %08X%08X of UID, UIDVALIDITY */
	POP3_UIDL_GUID,			/* the store's message GUID */
};

struct pop3_conf {
	char *greeting;
	char *deleted_flag;		/* NULL: DELE expunges */
	bool seen_on_retr;
	bool lock_maildrop;
	unsigned int uidl_format;	/* enum pop3_uidl_format */
	char *expire;			/* "NEVER", days, or NULL */
	uint64_t login_delay;		/* ms; 0: none */
	char *lock_dir;			/* default STATE_DIR/pop3-locks */

	/* built in init() */
	char *capa;			/* the lines every session shows */
};

/* ------------------------------------------------------------------ */
/* Command lines (pop3_parse.c) */

#define POP3_ARGS_MAX	2

enum pop3_verb {
	POP3_V_UNKNOWN = 0,
	POP3_V_USER, POP3_V_PASS, POP3_V_AUTH, POP3_V_STLS, POP3_V_CAPA,
	POP3_V_QUIT, POP3_V_STAT, POP3_V_LIST, POP3_V_RETR, POP3_V_DELE,
	POP3_V_NOOP, POP3_V_RSET, POP3_V_TOP, POP3_V_UIDL, POP3_V_APOP,
};

struct pop3_cmdline {
	enum pop3_verb verb;
	char *rest;			/* all after the verb and one space */
	char *argv[POP3_ARGS_MAX];	/* words of rest (split in place) */
	unsigned int argc;
	bool too_many;			/* more words than POP3_ARGS_MAX */
};

/*
 * Splits a command line in place. -1 when the line holds a NUL (len
 * says more than strlen) or is empty. rest keeps its spaces (PASS takes
 * the whole of it: passwords may hold spaces) and is split only when
 * split_args is true.
 */
int pop3_parse_line(char *line, size_t len, bool split_args,
    struct pop3_cmdline *c);
enum pop3_verb pop3_verb_lookup(const char *word, size_t len);
/* A message number or count: decimal digits only, no sign, fits in
 * 32 bits. 0 or -1. */
int pop3_parse_number(const char *s, uint32_t *r);

/* ------------------------------------------------------------------ */
/* Messages on the wire (pop3_stream.c) */

struct pop3_stream {
	bool line_start;		/* the next byte starts a line */
	bool cr;			/* the last byte sent was a CR */
	bool blank;			/* the current line is empty so far */
	bool in_body;			/* past the empty line after headers */
	bool limited;			/* TOP: stop after lines_left */
	bool done;			/* TOP has sent all it must */
	uint64_t lines_left;
};

void pop3_stream_init(struct pop3_stream *st, bool limited,
    uint64_t body_lines);
/*
 * Converts up to len bytes of a stored message into POP3's form: every
 * line end CRLF, a "." starting a line doubled. out must hold 2 * len
 * bytes. Returns the bytes consumed: all, or fewer once TOP is done
 * (st->done), after which the rest of the message is not wanted.
 */
size_t pop3_stream_convert(struct pop3_stream *st, const char *in,
    size_t len, char *out, size_t *outlen_r);
/* The end of the answer: CRLF if the message did not end with one, then
 * ".\r\n". Writes at most 5 bytes; returns how many. */
size_t pop3_stream_finish(struct pop3_stream *st, char *out);

/* ------------------------------------------------------------------ */
/* A session */

enum pop3_state {
	POP3_ST_AUTHORIZATION = 0,
	POP3_ST_TRANSACTION,
	POP3_ST_UPDATE,
};

/* One message as the session numbers it (number = index + 1). */
struct pop3_msg {
	uint32_t seq;			/* in the storage view */
	uint32_t uid;
	uint64_t size;			/* octets with CRLF line ends */
	const char *guid;		/* uidl_format guid: taken at login */
};

enum pop3_output {
	POP3_OUT_NONE = 0,
	POP3_OUT_MESSAGE,		/* RETR, TOP */
	POP3_OUT_LIST,
	POP3_OUT_UIDL,
};

struct pop3_session {
	struct fc_session *s;
	const struct pop3_conf *conf;
	enum pop3_state state;

	/* AUTHORIZATION */
	char *user;			/* from USER */
	struct fc_sasl *sasl;		/* during AUTH */

	/* the maildrop, from the login to the end */
	int lock_fd;
	struct fc_store *store;
	struct fc_mailbox *box;
	struct pop3_msg *msgs;
	uint32_t count;
	uint32_t uidvalidity;
	uint8_t *deleted;		/* per message: DELE'd this session */
	uint8_t *seen;			/* per message: RETR'd, \Seen pending */
	uint32_t ndeleted;
	uint64_t deleted_size;
	uint64_t total_size;

	/* a long answer produced as the socket drains */
	enum pop3_output out;
	uint32_t out_next;		/* LIST, UIDL: next message index */
	uint32_t out_msg;		/* RETR, TOP: the message index */
	bool out_retr;			/* RETR (marks \Seen), not TOP */
	int msg_fd;
	struct pop3_stream stream;
};

/* pop3_session.c */
void pop3_reply(struct pop3_session *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
enum fc_next pop3_error(struct pop3_session *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
enum fc_next pop3_start(struct fc_session *s);
enum fc_next pop3_line(struct fc_session *s, char *line, size_t len);
enum fc_next pop3_line_too_long(struct fc_session *s);
enum fc_next pop3_drained(struct fc_session *s);
void pop3_timeout(struct fc_session *s);
void pop3_stop(struct fc_session *s);
void pop3_end(struct fc_session *s);

/* pop3_auth.c */
enum fc_next pop3_cmd_capa(struct pop3_session *ps);
enum fc_next pop3_cmd_stls(struct pop3_session *ps);
enum fc_next pop3_cmd_user(struct pop3_session *ps, struct pop3_cmdline *c);
enum fc_next pop3_cmd_pass(struct pop3_session *ps, struct pop3_cmdline *c);
enum fc_next pop3_cmd_auth(struct pop3_session *ps, struct pop3_cmdline *c);
enum fc_next pop3_sasl_line(struct pop3_session *ps, char *line, size_t len);

/* pop3_lock.c: 0, or -1 with *code_r the response code for the reply
 * ("IN-USE", "LOGIN-DELAY", "SYS/TEMP") */
int pop3_lock(struct pop3_session *ps, const char **code_r,
    const char **why_r);
void pop3_unlock(struct pop3_session *ps);

/* pop3_maildrop.c */
int pop3_maildrop_open(struct pop3_session *ps, const char **code_r,
    const char **why_r);
void pop3_maildrop_close(struct pop3_session *ps);
/* UPDATE: deletions, then \Seen; 0 or -1 */
int pop3_maildrop_update(struct pop3_session *ps);
/* \Seen for the messages RETR'd in full */
void pop3_maildrop_mark_seen(struct pop3_session *ps);
const char *pop3_uidl(struct pop3_session *ps, uint32_t idx, char *buf,
    size_t size);

/* pop3_cmd.c */
enum fc_next pop3_transaction(struct pop3_session *ps,
    struct pop3_cmdline *c);
enum fc_next pop3_output_more(struct pop3_session *ps);
void pop3_output_abort(struct pop3_session *ps);

#endif
