/*
 * maildir.h - the maildir storage module's own declarations.
 *
 * On disk (Maildir++): the store's root is INBOX, with cur/ new/ tmp/;
 * every other mailbox is a folder ".Level1.Level2" in the root, its name
 * levels in IMAP's modified UTF-7 ('.' inside a level written "&AC4-").
 * Each folder also holds:
 *   facteur-uidlist   the index as of its last compaction
 *   facteur-log       changes since then, one line each, appended
 *   facteur-keywords  keyword names, "<index> <name>" per line
 *   facteur-lock      flock()ed while the folder changes
 * and the root holds `subscriptions`, `facteur-special-use`,
 * `facteur-uidvalidity` (the last UIDVALIDITY given, so a folder made
 * again never gets an old one) and Maildir++'s `maildirsize` (quota,
 * kept only for users who have limits). Messages are files named
 * "<base>,S=<size>,W=<crlf size>:2,<flags>" with the standard flag
 * letters (D F R S T, keywords as a..z), so other maildir readers see
 * the same mailbox; their line ends are LF.
 */
#ifndef FACTEUR_MAILDIR_H
#define FACTEUR_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include <facteur/storage.h>

#define MAILDIR_UIDLIST		"facteur-uidlist"
#define MAILDIR_LOG		"facteur-log"
#define MAILDIR_KEYWORDS	"facteur-keywords"
#define MAILDIR_LOCK		"facteur-lock"
#define MAILDIR_SUBSCRIPTIONS	"subscriptions"
#define MAILDIR_SPECIAL_USE	"facteur-special-use"
#define MAILDIR_QUOTA		"maildirsize"
#define MAILDIR_UIDVALIDITY	"facteur-uidvalidity"
#define MAILDIR_LIST_LOCK	"facteur-list-lock"
#define MAILDIR_MAX_KEYWORDS	26
#define MAILDIR_INFO_MAX	64	/* letters after ":2," */

struct fc_arena;
struct fc_store;
struct fc_user;

struct maildir_conf {
	char *location;
	bool autocreate;
	bool fsync;
	uint64_t max_message_size;
};

/* A user's maildir. */
struct maildir_store {
	const struct maildir_conf *conf;
	char *root;
	uint64_t quota_bytes;
	uint64_t quota_messages;
	bool quota_dropped;	/* no limits: maildirsize removed once */
};

/* What the index knows of a message beyond fc_index_record. */
struct maildir_msg {
	char *base;		/* file name before ":2," */
	char *info;		/* letters after ":2," as on disk */
};

struct maildir_watcher {
	void (*fn)(void *arg);
	void *arg;
	struct maildir_watcher *next;
};

/*
 * What the index knows of its folder's cur/ and new/: their mtimes when
 * it last agreed with them. A time is "dirty" when a change in the same
 * clock tick could have left it as it was (it was read too close to the
 * change, or we changed the folder ourselves, which may have hidden
 * another program's change): it is then checked again later.
 */
struct maildir_dirs {
	struct timespec cur, new;
	bool cur_dirty, new_dirty;
};

/*
 * A folder's index, shared by the sessions of one worker that have the
 * folder open (maildir_index.c keeps them by path).
 */
struct maildir_index {
	char *path;
	char *root;			/* the store's, for UIDVALIDITY */
	unsigned int refs;
	struct maildir_index *next;	/* in the worker's list */

	struct fc_arena *arena;		/* names; renewed on full reloads */
	struct fc_index_record *recs;	/* sorted by uid */
	struct maildir_msg *msgs;	/* parallel to recs */
	size_t count, alloc;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	char *keywords[MAILDIR_MAX_KEYWORDS + 1];
	struct timespec keywords_mtime;

	/* what was read of the files */
	uint64_t gen;
	ino_t log_ino;
	off_t log_offset;
	bool log_stale;			/* the log of the last snapshot */
	struct maildir_dirs dirs;	/* as the last C record left them */
	bool loaded;

	int lock_fd;			/* open while locked */
	struct maildir_dirs next_dirs;	/* the C record to write at unlock */
	bool force_cur_scan;		/* a file of ours vanished: look */
	char *pending;			/* log lines to write at unlock */
	size_t npending, pendalloc;
	bool pending_durable;		/* a pending line adds or expunges */
	bool unsynced_log;		/* flag lines not fdatasync'd yet */
	bool unsynced_cur;		/* renames in cur/ not fsync'd yet */

	struct maildir_watcher *watchers;
	int wd[3];			/* inotify: folder, new, cur */
};

/* What the core holds as an open index: a session's handle on the
 * shared index, with the store it came through. */
struct maildir_box {
	struct maildir_store *ms;
	struct maildir_index *idx;
	char *name;
	struct maildir_watcher watcher;
	bool watching;
};

/* maildir.c */
extern const struct fc_storage_ops maildir_ops;
/* a failure handled here: the store shows none; returns 0 */
int maildir_clear_error(struct fc_store *st);

/* maildir_name.c: API names <-> folder names; NULL with *reason_r */
char *maildir_name_to_disk(struct fc_arena *a, const char *name,
    const char **reason_r);
char *maildir_name_from_disk(struct fc_arena *a, const char *folder);
/* the folder's path: root for INBOX, root/.Folder for others */
char *maildir_folder_path(struct fc_arena *a, const struct maildir_store *ms,
    const char *name, const char **reason_r);

/* maildir_file.c: small file helpers */
int maildir_mkdir_folder(const char *path);
int maildir_fsync_dir(const char *path);
/* the next UIDVALIDITY of a store, above every one given before */
int maildir_uidvalidity_next(const char *root, uint32_t *uidvalidity_r);
int maildir_write_file(const char *path, const char *data, size_t len,
    bool sync);
char *maildir_read_file(const char *path, size_t max, size_t *len_r);
char *maildir_unique_base(char *buf, size_t size);
bool maildir_timespec_eq(struct timespec a, struct timespec b);

/* maildir_flags.c: flags <-> info letters */
unsigned int maildir_info_flags(const char *info);
uint64_t maildir_info_keywords(const char *info);
void maildir_info_make(char *out, size_t size, const char *old_info,
    unsigned int flags, uint64_t keywords);
void maildir_parse_filename(const char *name, char *base, size_t basesize,
    char *info, size_t infosize);
bool maildir_base_sizes(const char *base, uint64_t *size_r,
    uint64_t *crlf_r);

/* maildir_index.c */
int maildir_index_get(struct fc_store *st, const struct maildir_store *ms,
    const char *path, struct maildir_index **idx_r);
void maildir_index_put(struct maildir_index *idx);
int maildir_index_lock(struct fc_store *st, struct maildir_index *idx);
/* writes the pending lines, staying locked; on failure none of them is
 * in the log (unless only fdatasync() failed). With sync, lines that add
 * or expunge messages are on stable storage when it returns; flag
 * changes alone are written at once and fdatasync'd within a second
 * (at once outside a worker's event loop) */
int maildir_index_write(struct fc_store *st, struct maildir_index *idx,
    bool sync);
/* maildir_index_write(), then unlocks whatever happened */
int maildir_index_unlock(struct fc_store *st, struct maildir_index *idx,
    bool sync);
/* renames in cur/ (flag changes) made durable with the log's lines,
 * now or soon (see maildir_index_write) */
void maildir_index_cur_changed(struct maildir_index *idx);
/* drops the pending lines (the index is read again) and unlocks */
void maildir_index_unlock_discard(struct fc_store *st,
    struct maildir_index *idx);
/* reads what others wrote; under the lock also looks at new/ and cur/ */
int maildir_index_catch_up(struct fc_store *st, struct maildir_index *idx);
struct fc_index_record *maildir_index_find(struct maildir_index *idx,
    uint32_t uid, struct maildir_msg **msg_r);
/* under the lock: record changes (applied to the index at once) */
void maildir_log_add(struct maildir_index *idx, uint32_t uid,
    uint64_t modseq, int64_t idate, uint64_t size, uint64_t crlf,
    const char *info, const char *base);
void maildir_log_flags(struct maildir_index *idx, uint32_t uid,
    uint64_t modseq, const char *info);
void maildir_log_expunge(struct maildir_index *idx, uint32_t uid,
    uint64_t modseq);
int maildir_keyword_index(struct fc_store *st, struct maildir_index *idx,
    const char *name, bool create);
void maildir_index_state(struct maildir_index *idx,
    struct fc_index_state *state_r);
char *maildir_msg_path(struct fc_arena *a, const struct maildir_index *idx,
    const struct maildir_msg *m);

/* maildir_list.c */
int maildir_list(struct fc_store *st, void *store, struct fc_arena *a,
    const struct fc_mailbox_info **list_r, size_t *count_r);
int maildir_create(struct fc_store *st, void *store, const char *name,
    unsigned int special_use);
int maildir_delete(struct fc_store *st, void *store, const char *name);
int maildir_rename(struct fc_store *st, void *store, const char *from,
    const char *to);
int maildir_subscribe(struct fc_store *st, void *store, const char *name,
    bool on);
int maildir_create_defaults(struct fc_store *st, struct maildir_store *ms);

/* maildir_append.c */
int maildir_append_begin(struct fc_store *st, void *store,
    const char *mailbox, unsigned int flags, const char *const *keywords,
    time_t internal_date, void **append_r);
int maildir_append_write(struct fc_store *st, void *append,
    const void *data, size_t len);
int maildir_append_commit(struct fc_store *st, void *append,
    uint32_t *uidvalidity_r, uint32_t *uid_r);
void maildir_append_abort(void *append);

/* maildir_change.c */
int maildir_store_flags(struct fc_store *st, void *index,
    const uint32_t *uids, size_t count, enum fc_store_op op,
    unsigned int flags, const char *const *keywords,
    uint64_t unchangedsince, bool *modified_r);
int maildir_expunge(struct fc_store *st, void *index, const uint32_t *uids,
    size_t count);
int maildir_copy(struct fc_store *st, void *index, const uint32_t *uids,
    size_t count, const char *dest, bool move, uint32_t *uidvalidity_r,
    uint32_t *dest_uids_r);

/* maildir_quota.c */
int maildir_quota_get(struct fc_store *st, void *store, uint64_t *bytes_r,
    uint64_t *bytes_limit_r, uint64_t *messages_r,
    uint64_t *messages_limit_r);
/* false: the user has no limits, and no quota work is done */
bool maildir_quota_limited(const struct maildir_store *ms);
void maildir_quota_add(struct maildir_store *ms, int64_t bytes,
    int64_t messages);

/* maildir_watch.c */
int maildir_watch(struct fc_store *st, void *index, void (*fn)(void *arg),
    void *arg);
void maildir_watch_drop(struct maildir_index *idx);

#endif
