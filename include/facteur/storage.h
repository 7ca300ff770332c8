/*
 * storage.h - users' mail: mailboxes, messages, appends, and the change
 * watch. One interface for IMAP, POP3, delivery and the tools; storage
 * modules (maildir, pgsql) implement the back-end half at the end of this
 * file.
 *
 * Names. Mailbox names are UTF-8, with '/' between hierarchy levels;
 * "INBOX" in any case is the inbox. fc_mailbox_name_check() refuses what
 * no store accepts: empty levels, "." and "..", control characters, bad
 * UTF-8, more than FC_MAILBOX_NAME_MAX bytes. Protocol modules convert
 * from their wire form (IMAP's modified UTF-7: fc_mutf7_*) first.
 *
 * Errors. Functions return 0 on success and -1 on failure, and the store
 * remembers why: fc_store_error() gives a code protocol modules map to
 * their replies (NO [TRYCREATE], 452, [SYS/TEMP]...) and a text for logs.
 *
 * Views. An open mailbox is this session's view of it: messages numbered
 * 1..n in UID order (IMAP's sequence numbers). The view changes only in
 * fc_mailbox_sync(), which reports what changed since the last sync:
 * messages expunged (by their number at that moment), messages whose
 * flags changed, the new count. A sync may hold expunges back (IMAP must
 * not send EXPUNGE during FETCH, STORE or SEARCH); a held-back message
 * keeps its number and its last known flags, keywords and modseq, and
 * opening it fails with FC_ERR_EXPUNGED. Several sessions and processes
 * may have the same mailbox open; each sees the others' changes at its
 * next sync.
 *
 * Durability. fc_append_commit(), fc_mailbox_expunge() and
 * fc_mailbox_copy() return once their change is on stable storage: an
 * acknowledged message, the UID it was given and an expunge reported to
 * a client survive a power loss. fc_mailbox_store() returns once its
 * flag change is seen by every session and survives the crash of any
 * process; a store may make it durable against a power loss up to a
 * second later, so that one disk flush serves many commands instead of
 * holding up every session of the worker for each (maildir does; pgsql
 * commits at once). A power loss then loses at most the flag changes
 * of that last second: never a message, and never a UID, which are
 * never reused under one UIDVALIDITY.
 */
#ifndef FACTEUR_STORAGE_H
#define FACTEUR_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct fc_arena;
struct fc_core;
struct fc_user;
struct fc_store;
struct fc_mailbox;
struct fc_append;

#define FC_MAILBOX_NAME_MAX	512	/* bytes of UTF-8 */

enum fc_error {
	FC_ERR_NONE = 0,
	FC_ERR_TEMP,		/* try again later: I/O, disk full, database */
	FC_ERR_NOTFOUND,	/* no such mailbox */
	FC_ERR_EXISTS,		/* the mailbox exists already */
	FC_ERR_BADNAME,		/* a name no store accepts, or this one not */
	FC_ERR_NOQUOTA,		/* over the user's quota */
	FC_ERR_PERM,		/* not allowed: delete INBOX, write read-only */
	FC_ERR_EXPUNGED,	/* the message is gone */
	FC_ERR_LIMIT,		/* too many keywords, message too large */
};

/* System flags of a message. */
#define FC_FLAG_SEEN		0x01
#define FC_FLAG_ANSWERED	0x02
#define FC_FLAG_FLAGGED		0x04
#define FC_FLAG_DELETED		0x08
#define FC_FLAG_DRAFT		0x10
#define FC_FLAGS_ALL		0x1f

/* Mailbox attributes, in listings. */
#define FC_MBOX_NOSELECT	0x0001	/* a level with children, no mail */
#define FC_MBOX_HASCHILDREN	0x0002
#define FC_MBOX_HASNOCHILDREN	0x0004
#define FC_MBOX_SUBSCRIBED	0x0008
#define FC_MBOX_NONEXISTENT	0x0010	/* subscribed, but not there */
/* special use (RFC 6154) */
#define FC_MBOX_SENT		0x0100
#define FC_MBOX_DRAFTS		0x0200
#define FC_MBOX_TRASH		0x0400
#define FC_MBOX_JUNK		0x0800
#define FC_MBOX_ARCHIVE		0x1000
#define FC_MBOX_SPECIAL_USE	0x1f00

/* One mailbox in a listing. Allocated by the core; members may be added
 * at the end in a minor ABI version. */
struct fc_mailbox_info {
	const char *name;
	unsigned int attrs;
};

/* STATUS of a mailbox, allocated by the core (members may be added at
 * the end in a minor ABI version). */
struct fc_mailbox_status {
	uint32_t messages;
	uint32_t unseen;
	uint32_t uidnext;
	uint32_t uidvalidity;
	uint64_t highestmodseq;
	uint64_t size;			/* bytes, as IMAP counts them (CRLF) */
	uint32_t deleted;		/* messages with \Deleted */
};

/* ------------------------------------------------------------------ */
/* Names */

/* 0, or -1 with a reason ("empty level", ...). */
int fc_mailbox_name_check(const char *name, const char **reason_r);
bool fc_mailbox_is_inbox(const char *name);
/* IMAP modified UTF-7 (RFC 3501 5.1.3) to and from UTF-8. Decoding
 * refuses what the RFC forbids (NULL with *reason_r). */
char *fc_mutf7_decode(struct fc_arena *a, const char *mutf7,
    const char **reason_r);
char *fc_mutf7_encode(struct fc_arena *a, const char *utf8);

/* ------------------------------------------------------------------ */
/* Stores */

/*
 * Opens a user's mail. The storage module comes from the user's mail
 * location ("maildir:~/Maildir", "pgsql:"), else from the `storage`
 * directive. A new user's store is created with INBOX and the
 * special-use mailboxes.
 */
int fc_store_open(struct fc_core *core, const struct fc_user *user,
    struct fc_store **store_r, const char **error_r);
void fc_store_close(struct fc_store **store);
/* Why the last call on this store (or one of its mailboxes) failed. */
enum fc_error fc_store_error(struct fc_store *store, const char **text_r);
const struct fc_user *fc_store_user(struct fc_store *store);

/* Every mailbox, and subscribed names that do not exist, in name order. */
int fc_store_list(struct fc_store *store, struct fc_arena *a,
    const struct fc_mailbox_info **list_r, size_t *count_r);
/* special_use: 0 or one FC_MBOX_ special-use bit. */
int fc_store_create(struct fc_store *store, const char *name,
    unsigned int special_use);
/* Deletes a mailbox and its messages; its children stay. */
int fc_store_delete(struct fc_store *store, const char *name);
/* Renames a mailbox and its children. */
int fc_store_rename(struct fc_store *store, const char *from,
    const char *to);
int fc_store_subscribe(struct fc_store *store, const char *name, bool on);
int fc_store_status(struct fc_store *store, const char *name,
    struct fc_arena *a, const struct fc_mailbox_status **status_r);
/* Use and limits over all mailboxes; a limit of 0 is none. */
int fc_store_quota(struct fc_store *store, uint64_t *bytes_r,
    uint64_t *bytes_limit_r, uint64_t *messages_r,
    uint64_t *messages_limit_r);

/* ------------------------------------------------------------------ */
/* Appending */

/*
 * Starts a message in a mailbox. keywords: NULL-terminated, or NULL.
 * internal_date: 0 for now. The message may have CRLF or LF line ends;
 * stores keep them as they choose and show CRLF sizes.
 */
int fc_append_begin(struct fc_store *store, const char *mailbox,
    unsigned int flags, const char *const *keywords, time_t internal_date,
    struct fc_append **append_r);
int fc_append_write(struct fc_append *ap, const void *data, size_t len);
/* Copies fd from offset 0 to its end (fd's offset does not move). */
int fc_append_write_fd(struct fc_append *ap, int fd);
/* On stable storage on return. uidvalidity_r, uid_r may be NULL: a store
 * may then deliver more cheaply and give the UID at the next sync. On
 * failure the append is gone as if aborted. */
int fc_append_commit(struct fc_append **ap, uint32_t *uidvalidity_r,
    uint32_t *uid_r);
void fc_append_abort(struct fc_append **ap);

/* ------------------------------------------------------------------ */
/* Open mailboxes */

#define FC_OPEN_READONLY	0x01	/* EXAMINE: no flag changes */

int fc_mailbox_open(struct fc_store *store, const char *name,
    unsigned int flags, struct fc_mailbox **box_r);
void fc_mailbox_close(struct fc_mailbox **box);
const char *fc_mailbox_name(struct fc_mailbox *box);
bool fc_mailbox_readonly(struct fc_mailbox *box);
uint32_t fc_mailbox_uidvalidity(struct fc_mailbox *box);
/* The next UID the store will give, as of the last sync. */
uint32_t fc_mailbox_uidnext(struct fc_mailbox *box);
uint64_t fc_mailbox_highestmodseq(struct fc_mailbox *box);
/* Keywords known in the mailbox, and whether new ones may be added. */
size_t fc_mailbox_keyword_count(struct fc_mailbox *box);
const char *fc_mailbox_keyword(struct fc_mailbox *box, size_t idx);
bool fc_mailbox_keywords_full(struct fc_mailbox *box);

/* What a sync reports; any member may be NULL. */
struct fc_sync_ops {
	/* seq is the message's number before its removal from the view */
	void (*expunged)(void *arg, uint32_t seq, uint32_t uid);
	/* flags, keywords or modseq changed by someone else */
	void (*changed)(void *arg, uint32_t seq);
	/* the view now has count messages (called when it grew) */
	void (*exists)(void *arg, uint32_t count);
};

#define FC_SYNC_KEEP_EXPUNGED	0x01	/* hold expunges back */

int fc_mailbox_sync(struct fc_mailbox *box, unsigned int flags,
    const struct fc_sync_ops *ops, void *arg);

/* The view. seq runs from 1 to fc_mailbox_count(). */
uint32_t fc_mailbox_count(struct fc_mailbox *box);
/* The seq of a UID in the view, or 0. */
uint32_t fc_mailbox_seq(struct fc_mailbox *box, uint32_t uid);
uint32_t fc_msg_uid(struct fc_mailbox *box, uint32_t seq);
unsigned int fc_msg_flags(struct fc_mailbox *box, uint32_t seq);
/* Bit i set: keyword i of fc_mailbox_keyword(). */
uint64_t fc_msg_keywords(struct fc_mailbox *box, uint32_t seq);
uint64_t fc_msg_modseq(struct fc_mailbox *box, uint32_t seq);
/* Bytes as stored, or with CRLF line ends (what IMAP shows). */
uint64_t fc_msg_size(struct fc_mailbox *box, uint32_t seq, bool crlf);
time_t fc_msg_internal_date(struct fc_mailbox *box, uint32_t seq);
/* A stable identifier: the same for the same message in every store and
 * session (POP3 UIDL). */
const char *fc_msg_guid(struct fc_mailbox *box, uint32_t seq);
/* A read-only descriptor of the message as stored (close it), or -1;
 * FC_ERR_EXPUNGED when the message is gone. *crlf_r tells whether the
 * stored line ends are CRLF. */
int fc_msg_open(struct fc_mailbox *box, uint32_t seq, bool *crlf_r);
/* Like fc_msg_open(), but the descriptor may hold only the message's
 * header, up to and with the empty line that ends it: for readers of
 * header fields (SEARCH, SORT), on stores where reading the body costs
 * (pgsql). Stores that cannot tell give the whole message. Since ABI
 * 1.1. */
int fc_msg_open_header(struct fc_mailbox *box, uint32_t seq, bool *crlf_r);

/*
 * A store may keep, beside each message, a few bytes that a protocol
 * module derived from it (IMAP keeps its ENVELOPE and BODYSTRUCTURE),
 * so that the next session need not read and parse the message again.
 * A message's bytes never change, so what was derived from them stays
 * true; copies of a message may share it. The bytes are the caller's
 * own format: it should tag them with a version and ignore what it
 * does not recognise. Since ABI 1.1.
 *
 * fc_mailbox_can_cache(): whether the store keeps such bytes at all
 * (pgsql does, maildir does not).
 * fc_msg_cache_get(): 1 with *data_r (in a, NUL-terminated, not
 * counted in *len_r), 0 when nothing is kept, -1 on failure
 * (FC_ERR_EXPUNGED, FC_ERR_TEMP).
 * fc_msg_cache_put(): replaces what is kept; 0, or -1 on failure
 * (which a reader may ignore: the cache is only a cache).
 */
bool fc_mailbox_can_cache(struct fc_mailbox *box);
int fc_msg_cache_get(struct fc_mailbox *box, uint32_t seq,
    struct fc_arena *a, const char **data_r, size_t *len_r);
int fc_msg_cache_put(struct fc_mailbox *box, uint32_t seq,
    const void *data, size_t len);

enum fc_store_op {
	FC_STORE_ADD = 0,
	FC_STORE_REMOVE,
	FC_STORE_REPLACE,
};

/*
 * Changes the flags and keywords of the messages (by seq). With
 * unchangedsince (not 0), messages whose modseq is above it are left
 * alone and their seqs returned in *failed_r (in a), as CONDSTORE's
 * MODIFIED. The view shows the new values at once.
 */
int fc_mailbox_store(struct fc_mailbox *box, const uint32_t *seqs,
    size_t count, enum fc_store_op op, unsigned int flags,
    const char *const *keywords, uint64_t unchangedsince,
    struct fc_arena *a, uint32_t **failed_r, size_t *nfailed_r);

/*
 * Expunges the messages with \Deleted: all of them (uids NULL), or those
 * among the UIDs given. The view shows it at the next sync.
 */
int fc_mailbox_expunge(struct fc_mailbox *box, const uint32_t *uids,
    size_t count);

/*
 * Copies (or moves) messages by seq into another mailbox of the same
 * store, keeping flags, keywords and internal dates. dest_uids_r gets
 * count UIDs, in the order given; uidvalidity_r the destination's.
 */
int fc_mailbox_copy(struct fc_mailbox *box, const uint32_t *seqs,
    size_t count, const char *dest, bool move, uint32_t *uidvalidity_r,
    uint32_t *dest_uids_r);

/* Calls fn from the event loop when the mailbox may have changed (any
 * process, any node); fn NULL stops. Only in workers. */
typedef void fc_mailbox_changed_fn(struct fc_mailbox *box, void *arg);
int fc_mailbox_watch(struct fc_mailbox *box, fc_mailbox_changed_fn *fn,
    void *arg);

/* ------------------------------------------------------------------ */
/* For storage modules */

/*
 * The back end keeps, per open mailbox, an index: every message's
 * record, sorted by UID. The core builds the sessions' views on it, so
 * sequence numbers, held-back expunges and change reports work the same
 * on every back end. Several views may share one index.
 */
struct fc_index_record {
	uint32_t uid;
	uint32_t flags;			/* FC_FLAG_ */
	uint64_t keywords;		/* bit i: keyword i */
	uint64_t modseq;
	uint64_t size;			/* as stored */
	uint64_t size_crlf;		/* with CRLF line ends */
	int64_t internal_date;		/* time_t */
	const char *guid;
};

struct fc_index_state {
	const struct fc_index_record *records;	/* sorted by uid */
	size_t count;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	const char *const *keywords;	/* names, NULL-terminated */
	bool keywords_full;
};

struct fc_storage_ops {
	size_t size;			/* sizeof(struct fc_storage_ops) */

	/* a user's store; *store_r is the back end's own object */
	int (*store_open)(struct fc_store *st, void *ctx,
	    const struct fc_user *user, const char *location,
	    void **store_r);
	void (*store_close)(void *store);
	int (*list)(struct fc_store *st, void *store, struct fc_arena *a,
	    const struct fc_mailbox_info **list_r, size_t *count_r);
	int (*create)(struct fc_store *st, void *store, const char *name,
	    unsigned int special_use);
	int (*delete)(struct fc_store *st, void *store, const char *name);
	int (*rename)(struct fc_store *st, void *store, const char *from,
	    const char *to);
	int (*subscribe)(struct fc_store *st, void *store, const char *name,
	    bool on);
	int (*quota)(struct fc_store *st, void *store, uint64_t *bytes_r,
	    uint64_t *bytes_limit_r, uint64_t *messages_r,
	    uint64_t *messages_limit_r);

	/* appends: the back end's own object per message */
	int (*append_begin)(struct fc_store *st, void *store,
	    const char *mailbox, unsigned int flags,
	    const char *const *keywords, time_t internal_date,
	    void **append_r);
	int (*append_write)(struct fc_store *st, void *append,
	    const void *data, size_t len);
	int (*append_commit)(struct fc_store *st, void *append,
	    uint32_t *uidvalidity_r, uint32_t *uid_r);
	void (*append_abort)(void *append);

	/* a mailbox's index */
	int (*index_open)(struct fc_store *st, void *store, const char *name,
	    void **index_r);
	void (*index_close)(void *index);
	/* catches up with changes by anyone */
	int (*index_refresh)(struct fc_store *st, void *index);
	/* the index as it is now; the pointers stay valid until the next
	 * call into the back end (any view may move them) */
	void (*index_state)(void *index, struct fc_index_state *state_r);
	int (*index_store)(struct fc_store *st, void *index,
	    const uint32_t *uids, size_t count, enum fc_store_op op,
	    unsigned int flags, const char *const *keywords,
	    uint64_t unchangedsince, bool *modified_r);
	int (*index_expunge)(struct fc_store *st, void *index,
	    const uint32_t *uids, size_t count);
	int (*index_copy)(struct fc_store *st, void *index,
	    const uint32_t *uids, size_t count, const char *dest, bool move,
	    uint32_t *uidvalidity_r, uint32_t *dest_uids_r);
	int (*index_open_message)(struct fc_store *st, void *index,
	    uint32_t uid, bool *crlf_r);
	/* fn(arg) when the index may have changed; fn NULL stops */
	int (*index_watch)(struct fc_store *st, void *index,
	    void (*fn)(void *arg), void *arg);

	/* Since ABI 1.1; the core looks at them only when size covers
	 * them, and each may be NULL. */
	/* the header (with its empty line) or the whole message */
	int (*index_open_header)(struct fc_store *st, void *index,
	    uint32_t uid, bool *crlf_r);
	/* fc_msg_cache_get(): 1, 0 or -1 */
	int (*index_cache_get)(struct fc_store *st, void *index,
	    uint32_t uid, struct fc_arena *a, const char **data_r,
	    size_t *len_r);
	int (*index_cache_put)(struct fc_store *st, void *index,
	    uint32_t uid, const void *data, size_t len);
};

/* In init(): makes a storage back end known by name. */
int fc_storage_register(struct fc_core *core, const char *name,
    const struct fc_storage_ops *ops, void *ctx, const char **error_r);

/* For back ends: records why a call failed (printf-like), returns -1. */
int fc_store_fail(struct fc_store *st, enum fc_error code,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
