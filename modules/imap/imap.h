/*
 * imap.h - what the files of the IMAP module share.
 *
 *	imap.c		descriptor, directives, the CAPABILITY built once
 *	imap_parse.c	command text and sequence sets (no I/O: unit-tested,
 *			fuzzed)
 *	imap_str.c	responses: atoms, quoted strings, literals
 *	imap_session.c	greeting, gathering a command (lines and literals),
 *			dispatch by state, tagged and untagged responses
 *	imap_auth.c	CAPABILITY, NOOP, LOGOUT, STARTTLS, LOGIN,
 *			AUTHENTICATE, ENABLE, ID, NAMESPACE
 *	imap_compress.c	COMPRESS (the stream itself is the core's)
 *	imap_mailbox.c	LIST, LSUB, CREATE, DELETE, RENAME, SUBSCRIBE,
 *			UNSUBSCRIBE, STATUS
 *	imap_select.c	SELECT, EXAMINE, CLOSE, UNSELECT, EXPUNGE, CHECK,
 *			APPEND, STORE, COPY, MOVE, IDLE, the untagged news
 *	imap_fetch.c	FETCH, produced as the socket drains
 *	imap_qresync.c	QRESYNC: VANISHED, SELECT's resynchronisation
 *	imap_search.c	SEARCH
 *	imap_sort.c	SORT, THREAD (imap_subject.c, imap_thread.c: the
 *			parts without I/O, see imap_sort.h)
 */
#ifndef FACTEUR_IMAP_H
#define FACTEUR_IMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <facteur/session.h>

#include "imap_parse.h"
#include "imap_str.h"

struct fc_sasl;
struct fc_store;
struct fc_mailbox;
struct fc_timer;
struct fc_append;

/* ------------------------------------------------------------------ */
/* Configuration */

struct imap_conf {
	char *greeting;
	uint64_t max_literal;		/* a literal inside a command */
	uint64_t max_command;		/* a whole command, literals included */
	uint64_t max_message;		/* an APPEND's messages together */
	unsigned int max_append_messages; /* messages in one APPEND */
	uint64_t login_timeout;		/* ms before login */
	uint64_t idle_timeout;		/* ms after login (autologout) */

	/* built in init() */
	char *capability;		/* after login, without the leading word */
};

/* ------------------------------------------------------------------ */
/* A session */

enum imap_state {
	IMAP_ST_NOTAUTH = 0,
	IMAP_ST_AUTH,
	IMAP_ST_SELECTED,
	IMAP_ST_LOGOUT,
};

/* What the input is, besides command lines. */
enum imap_input {
	IMAP_IN_COMMAND = 0,
	IMAP_IN_LITERAL,		/* a literal into the command buffer */
	IMAP_IN_APPEND,			/* an APPEND message into a spool */
	IMAP_IN_SASL,			/* AUTHENTICATE responses */
	IMAP_IN_IDLE,			/* waiting for DONE */
};

/*
 * An APPEND in progress. With MULTIAPPEND (RFC 3502) the messages that
 * came whole wait in held, uncommitted, until the command's last line:
 * then all are committed, or none stays.
 */
struct imap_append {
	char *tag;
	char *mailbox;			/* UTF-8 */
	unsigned int flags;
	const char **keywords;
	struct fc_append *ap;		/* the message goes straight in */
	struct fc_append **held;	/* the earlier messages, whole */
	size_t nheld;
	uint64_t total;			/* bytes announced so far */
	bool spooled;			/* all its bytes have arrived */
	bool utf8_data;			/* UTF8 (~{n}...): ")" follows it */
	int header_state;		/* where the scan of its header is */
	bool header_8bit;		/* an 8-bit byte in its header */
	bool failed;			/* a write error: refused at the end */
	const char *error;		/* refused before the message came */
};

struct imap_fetch;

struct imap_session {
	struct fc_session *s;
	const struct imap_conf *conf;
	enum imap_state state;
	enum imap_input input;
	/* what one command needs: emptied when the next one starts */
	struct fc_arena *arena;

	/* the command being gathered: lines and literals in wire form */
	struct imap_str cmd;
	uint64_t cmd_literals;		/* bytes of literals so far */

	/* responses are built here, then written */
	struct imap_str out;

	/* enabled extensions */
	bool utf8;			/* UTF8=ACCEPT or IMAP4rev2 */
	bool rev2;
	bool condstore;			/* CONDSTORE enabled (RFC 7162) */
	bool qresync;			/* QRESYNC enabled: VANISHED */

	/* the search result variable (RFC 5182), as UIDs, ascending:
	 * empty at each SELECT */
	uint32_t *saved;
	size_t nsaved;

	/* AUTHENTICATE */
	struct fc_sasl *sasl;
	char *sasl_tag;

	/* the store after login, the mailbox in SELECTED */
	struct fc_store *store;
	struct fc_mailbox *box;
	bool readonly;
	uint32_t exists;		/* the count the client was told */
	size_t keywords_sent;		/* keywords the last FLAGS listed */
	/* per message: flags changed by others, FETCH FLAGS owed */
	uint8_t *changed;
	uint32_t changed_size;
	bool any_changed;

	/* IDLE */
	char *idle_tag;
	bool watching;

	struct imap_append append;

	/* a FETCH produced as the socket drains */
	struct imap_fetch *fetch;
};

/* imap_session.c */
void imap_write_str(struct imap_session *is);
void imap_untagged(struct imap_session *is, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
enum fc_next imap_ok(struct imap_session *is, const char *tag,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
enum fc_next imap_no(struct imap_session *is, const char *tag,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
enum fc_next imap_bad(struct imap_session *is, const char *tag,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A store error as a tagged NO with its response code. */
enum fc_next imap_store_no(struct imap_session *is, const char *tag,
    const char *what);
/* The mailbox name argument as UTF-8, or NULL after a BAD/NO. */
const char *imap_mailbox_arg(struct imap_session *is, const char *tag,
    const struct imap_arg *arg, enum fc_next *next_r);
enum fc_next imap_start(struct fc_session *s);
enum fc_next imap_line(struct fc_session *s, char *line, size_t len);
enum fc_next imap_line_too_long(struct fc_session *s);
enum fc_next imap_bytes(struct fc_session *s, const char *data, size_t len,
    bool last);
enum fc_next imap_drained(struct fc_session *s);
void imap_timeout(struct fc_session *s);
void imap_stop(struct fc_session *s);
void imap_end(struct fc_session *s);

/* imap_auth.c */
enum fc_next imap_cmd_capability(struct imap_session *is,
    struct imap_command *c);
enum fc_next imap_cmd_starttls(struct imap_session *is,
    struct imap_command *c);
enum fc_next imap_cmd_login(struct imap_session *is, struct imap_command *c);
enum fc_next imap_cmd_authenticate(struct imap_session *is,
    struct imap_command *c);
enum fc_next imap_sasl_line(struct imap_session *is, char *line, size_t len);
enum fc_next imap_cmd_enable(struct imap_session *is, struct imap_command *c);
enum fc_next imap_cmd_id(struct imap_session *is, struct imap_command *c);
enum fc_next imap_cmd_namespace(struct imap_session *is,
    struct imap_command *c);
/* the CAPABILITY list for this session's state, into is->out */
void imap_capability_list(struct imap_session *is);

/* imap_compress.c */
enum fc_next imap_cmd_compress(struct imap_session *is,
    struct imap_command *c);

/* imap_mailbox.c */
enum fc_next imap_cmd_list(struct imap_session *is, struct imap_command *c,
    bool lsub);
enum fc_next imap_cmd_create(struct imap_session *is, struct imap_command *c);
enum fc_next imap_cmd_delete(struct imap_session *is, struct imap_command *c);
enum fc_next imap_cmd_rename(struct imap_session *is, struct imap_command *c);
enum fc_next imap_cmd_subscribe(struct imap_session *is,
    struct imap_command *c, bool on);
enum fc_next imap_cmd_status(struct imap_session *is, struct imap_command *c);
/* GETQUOTA, GETQUOTAROOT, SETQUOTA */
enum fc_next imap_cmd_quota(struct imap_session *is, struct imap_command *c);
/* "* LIST (attributes) "/" name" for the mailbox SELECT opened (IMAP4rev2) */
void imap_list_selected(struct imap_session *is, const char *name);

/* imap_select.c */
enum fc_next imap_cmd_select(struct imap_session *is, struct imap_command *c,
    bool readonly);
enum fc_next imap_cmd_close(struct imap_session *is, struct imap_command *c,
    bool expunge);
enum fc_next imap_cmd_expunge(struct imap_session *is,
    struct imap_command *c, const struct imap_arg *uids);
enum fc_next imap_cmd_store(struct imap_session *is, struct imap_command *c,
    const struct imap_arg *args, size_t n, bool uid);
enum fc_next imap_cmd_copy(struct imap_session *is, struct imap_command *c,
    const struct imap_arg *args, size_t n, bool uid, bool move);
enum fc_next imap_cmd_idle(struct imap_session *is, struct imap_command *c);
enum fc_next imap_idle_line(struct imap_session *is, char *line, size_t len);
/* APPEND: the part of the command before its message literal */
int imap_append_prepare(struct imap_session *is, struct imap_command *c,
    uint64_t size, const char **error_r);
/* MULTIAPPEND: the options of the next message, the line after the last
 * one parsed as "x APPEND [(flags)] [date]" */
int imap_append_next(struct imap_session *is, struct imap_command *c,
    uint64_t size, const char **error_r);
/* The command's last line has come: commit every message, or none. */
enum fc_next imap_append_finish(struct imap_session *is);
/* APPEND's message as it arrives: is there an 8-bit byte in its header
 * (RFC 6855 4)? */
void imap_append_scan(struct imap_append *ap, const char *data, size_t len);
void imap_append_abort(struct imap_session *is);
/* Untagged EXISTS, EXPUNGE and FETCH FLAGS for what others changed;
 * expunges only when allowed. */
void imap_news(struct imap_session *is, bool expunges);
void imap_close_mailbox(struct imap_session *is);
/* A message's flags as "(\Seen $Junk)" into is->out */
void imap_flags_write(struct imap_session *is, uint32_t seq);
/* the seqs of a sequence set or UID set, in order; NULL after a BAD;
 * "$" is the saved search result */
uint32_t *imap_seqs(struct imap_session *is, const char *set, bool uid,
    size_t *n_r);
/* The first seq whose UID is at least uid (count + 1 if none). */
uint32_t imap_uid_lower(struct fc_mailbox *box, uint32_t count,
    uint32_t uid);
/* ascending numbers as a sequence set ("1:3,7") */
void imap_uidset_write(struct imap_str *out, const uint32_t *uids, size_t n);
/* flag list to FC_FLAG_ bits and keywords; -1 for a bad flag */
int imap_flags_parse(struct imap_session *is, const struct imap_arg *arg,
    unsigned int *flags_r, const char ***keywords_r);

/* imap_fetch.c */
enum fc_next imap_cmd_fetch(struct imap_session *is, struct imap_command *c,
    const struct imap_arg *args, size_t n, bool uid);
enum fc_next imap_fetch_more(struct imap_session *is);
void imap_fetch_abort(struct imap_session *is);

/* imap_qresync.c */
/* "* VANISHED uids" for ascending UIDs just expunged */
void imap_vanished_uids(struct imap_session *is, const uint32_t *uids,
    size_t n);
/* "* VANISHED (EARLIER)" for the UIDs of set above "above" that are
 * not in the mailbox (below UIDNEXT); nothing when there are none */
void imap_vanished_earlier(struct imap_session *is,
    const struct imap_seqset *set, uint32_t above);
/* After SELECT's untagged answers: VANISHED (EARLIER) and the FETCH of
 * what changed since the client's modseq */
void imap_qresync_select(struct imap_session *is,
    const struct imap_select_params *p);

/* imap_search.c */
enum fc_next imap_cmd_search(struct imap_session *is, struct imap_command *c,
    const struct imap_arg *args, size_t n, bool uid);
/* The sequence numbers of the messages matching the search keys (after
 * any CHARSET), ascending, in is->arena; NULL with an error text for a
 * BAD. */
uint32_t *imap_search_run(struct imap_session *is, const struct imap_arg *args,
    size_t n, size_t *n_r, const char **error_r);

/* imap_sort.c */
enum fc_next imap_cmd_sort(struct imap_session *is, struct imap_command *c,
    const struct imap_arg *args, size_t n, bool uid);
enum fc_next imap_cmd_thread(struct imap_session *is, struct imap_command *c,
    const struct imap_arg *args, size_t n, bool uid);

#endif
