/*
 * maildir_append.c - new messages: written to tmp/, made durable, then
 * renamed into place.
 *
 * Line ends are stored as LF (CR LF pairs lose their CR; a lone CR
 * stays), as other maildir readers expect; the file name carries the
 * size as stored (S=) and as IMAP shows it with CRLF (W=).
 *
 * A commit that wants a UID (IMAP APPEND) takes the folder's lock,
 * renames the file into cur/ with its flags, records it in the log and
 * makes the log durable before it returns the UID. When the log cannot
 * take the line (a full disk), the file leaves cur/ again before the
 * lock is let go: a failed commit leaves nothing another process could
 * find and adopt. A commit that does not (delivery) renames into new/
 * and syncs the folder: two fsyncs, no lock; the file gets its UID when
 * a session next looks at the folder.
 * Either way the message is on stable storage before the caller answers
 * its client, and a crash leaves at most a file in tmp/, never a partial
 * message in cur/ or new/.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/log.h>
#include <facteur/storage.h>

#include "maildir.h"

#define APPEND_BUFFER	65536

struct maildir_append {
	struct maildir_store *ms;
	struct fc_arena *arena;
	char *folder;			/* the folder's path */
	char *tmp_path;
	char base[256];
	int fd;
	unsigned int flags;
	char **keywords;
	time_t internal_date;
	uint64_t size;			/* as stored */
	uint64_t lfs;			/* each becomes CR LF in IMAP */
	bool cr_pending;		/* the last byte given was a CR */
	char buf[APPEND_BUFFER];
	size_t buflen;
};

static void
append_free(struct maildir_append *ap)
{
	if (ap->fd >= 0) {
		close(ap->fd);
		unlink(ap->tmp_path);
	}
	fc_arena_free(&ap->arena);
	free(ap);
}

int
maildir_append_begin(struct fc_store *st, void *store, const char *mailbox,
    unsigned int flags, const char *const *keywords, time_t internal_date,
    void **append_r)
{
	struct maildir_store *ms = store;
	struct maildir_append *ap;
	const char *reason = "bad name";
	size_t n = 0, i;

	ap = fc_calloc(1, sizeof(*ap));
	ap->ms = ms;
	ap->arena = fc_arena_new("maildir-append", 1024);
	ap->fd = -1;
	ap->flags = flags;
	ap->internal_date = internal_date;
	ap->folder = maildir_folder_path(ap->arena, ms, mailbox, &reason);
	if (ap->folder == NULL) {
		append_free(ap);
		return fc_store_fail(st, FC_ERR_BADNAME, "%s", reason);
	}
	if (access(ap->folder, F_OK) < 0) {
		append_free(ap);
		return fc_store_fail(st, FC_ERR_NOTFOUND, "no mailbox %s",
		    mailbox);
	}
	while (keywords != NULL && keywords[n] != NULL)
		n++;
	ap->keywords = fc_arena_alloc(ap->arena, (n + 1) * sizeof(char *));
	for (i = 0; i < n; i++)
		ap->keywords[i] = fc_arena_strdup(ap->arena, keywords[i]);
	maildir_unique_base(ap->base, sizeof(ap->base));
	ap->tmp_path = fc_arena_printf(ap->arena, "%s/tmp/%s", ap->folder,
	    ap->base);
	ap->fd = open(ap->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600);
	if (ap->fd < 0) {
		fc_store_fail(st, FC_ERR_TEMP, "cannot create a file in "
		    "%s/tmp: %s", ap->folder, strerror(errno));
		append_free(ap);
		return -1;
	}
	*append_r = ap;
	return 0;
}

static int
append_flush(struct fc_store *st, struct maildir_append *ap)
{
	size_t done = 0;
	ssize_t n;

	while (done < ap->buflen) {
		n = write(ap->fd, ap->buf + done, ap->buflen - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			/* a full disk is a temporary failure too */
			return fc_store_fail(st, FC_ERR_TEMP, "writing %s: %s",
			    ap->tmp_path, strerror(errno));
		done += (size_t)n;
	}
	ap->buflen = 0;
	return 0;
}

static int
append_byte(struct fc_store *st, struct maildir_append *ap, char c)
{
	if (ap->buflen == sizeof(ap->buf) && append_flush(st, ap) < 0)
		return -1;
	ap->buf[ap->buflen++] = c;
	ap->size++;
	if (c == '\n')
		ap->lfs++;
	return 0;
}

int
maildir_append_write(struct fc_store *st, void *append, const void *data,
    size_t len)
{
	struct maildir_append *ap = append;
	const char *p = data;
	uint64_t max = ap->ms->conf->max_message_size;
	size_t i;

	for (i = 0; i < len; i++) {
		if (ap->cr_pending) {
			ap->cr_pending = false;
			/* CR LF is stored as LF; a lone CR as it is */
			if (p[i] != '\n' && append_byte(st, ap, '\r') < 0)
				return -1;
		}
		if (p[i] == '\r') {
			ap->cr_pending = true;
			continue;
		}
		if (append_byte(st, ap, p[i]) < 0)
			return -1;
	}
	if (max != 0 && ap->size > max)
		return fc_store_fail(st, FC_ERR_LIMIT, "message larger than "
		    "%llu bytes", (unsigned long long)max);
	return 0;
}

/* The letters for the file name; keywords get indexes (under the lock). */
static int
append_info(struct fc_store *st, struct maildir_append *ap,
    struct maildir_index *idx, char *info, size_t size)
{
	uint64_t kw = 0;
	size_t i;
	int k;

	for (i = 0; ap->keywords[i] != NULL; i++) {
		k = maildir_keyword_index(st, idx, ap->keywords[i], true);
		if (k < 0)
			return -1;
		kw |= 1ULL << k;
	}
	maildir_info_make(info, size, NULL, ap->flags, kw);
	return 0;
}

/* Into cur/ with a UID, under the folder's lock. */
static int
append_commit_uid(struct fc_store *st, struct maildir_append *ap,
    const char *base, uint32_t *uidvalidity_r, uint32_t *uid_r)
{
	struct maildir_index *idx;
	char info[MAILDIR_INFO_MAX + 1], *to, *cur;
	uint32_t uid;
	int ret;

	if (maildir_index_get(st, ap->ms, ap->folder, &idx) < 0)
		return -1;
	if (maildir_index_lock(st, idx) < 0) {
		maildir_index_put(idx);
		return -1;
	}
	if (maildir_index_catch_up(st, idx) < 0
	    || append_info(st, ap, idx, info, sizeof(info)) < 0)
		goto fail;
	uid = idx->uidnext;
	to = fc_arena_printf(ap->arena, "%s/cur/%s:2,%s", ap->folder, base,
	    info);
	if (rename(ap->tmp_path, to) < 0) {
		fc_store_fail(st, FC_ERR_TEMP, "%s: %s", to, strerror(errno));
		goto fail;
	}
	cur = fc_arena_printf(ap->arena, "%s/cur", ap->folder);
	if (ap->ms->conf->fsync && maildir_fsync_dir(cur) < 0) {
		fc_store_fail(st, FC_ERR_TEMP, "%s: %s", cur, strerror(errno));
		unlink(to);
		goto fail;
	}
	maildir_log_add(idx, uid, idx->highestmodseq + 1,
	    (int64_t)ap->internal_date, ap->size, ap->size + ap->lfs, info,
	    base);
	if (maildir_index_write(st, idx, ap->ms->conf->fsync) < 0) {
		/* still locked: nobody has seen the file in cur/ */
		unlink(to);
		if (ap->ms->conf->fsync)
			maildir_fsync_dir(cur);
		goto fail;
	}
	ret = maildir_index_unlock(st, idx, false);
	if (ret == 0) {
		if (uidvalidity_r != NULL)
			*uidvalidity_r = idx->uidvalidity;
		if (uid_r != NULL)
			*uid_r = uid;
	}
	maildir_index_put(idx);
	return ret;
fail:
	maildir_index_unlock_discard(st, idx);
	maildir_index_put(idx);
	return -1;
}

int
maildir_append_commit(struct fc_store *st, void *append,
    uint32_t *uidvalidity_r, uint32_t *uid_r)
{
	struct maildir_append *ap = append;
	struct timespec times[2];
	uint64_t used, limit, msgs, msglimit;
	char *base, *to, *new;
	int ret = -1;

	if (ap->cr_pending) {
		ap->cr_pending = false;
		if (append_byte(st, ap, '\r') < 0)
			goto out;
	}
	if (append_flush(st, ap) < 0)
		goto out;
	if (ap->internal_date == 0)
		ap->internal_date = time(NULL);
	times[0].tv_sec = times[1].tv_sec = ap->internal_date;
	times[0].tv_nsec = times[1].tv_nsec = 0;
	futimens(ap->fd, times);
	if (ap->ms->conf->fsync && fsync(ap->fd) < 0) {
		fc_store_fail(st, FC_ERR_TEMP, "%s: %s", ap->tmp_path,
		    strerror(errno));
		goto out;
	}
	if (close(ap->fd) < 0) {
		ap->fd = -1;
		unlink(ap->tmp_path);
		fc_store_fail(st, FC_ERR_TEMP, "%s: %s", ap->tmp_path,
		    strerror(errno));
		goto out;
	}
	ap->fd = -1;

	if (maildir_quota_limited(ap->ms)) {
		if (maildir_quota_get(st, ap->ms, &used, &limit, &msgs,
		    &msglimit) < 0)
			goto unlink_out;
		if ((limit != 0 && used + ap->size > limit)
		    || (msglimit != 0 && msgs + 1 > msglimit)) {
			fc_store_fail(st, FC_ERR_NOQUOTA, "over quota");
			goto unlink_out;
		}
	}

	base = fc_arena_printf(ap->arena, "%s,S=%llu,W=%llu", ap->base,
	    (unsigned long long)ap->size,
	    (unsigned long long)(ap->size + ap->lfs));
	if (uid_r != NULL || uidvalidity_r != NULL || ap->flags != 0
	    || ap->keywords[0] != NULL) {
		if (append_commit_uid(st, ap, base, uidvalidity_r, uid_r) < 0)
			goto unlink_out;
	} else {
		to = fc_arena_printf(ap->arena, "%s/new/%s", ap->folder, base);
		new = fc_arena_printf(ap->arena, "%s/new", ap->folder);
		if (rename(ap->tmp_path, to) < 0) {
			fc_store_fail(st, FC_ERR_TEMP, "%s: %s", to,
			    strerror(errno));
			goto unlink_out;
		}
		if (ap->ms->conf->fsync && maildir_fsync_dir(new) < 0) {
			fc_store_fail(st, FC_ERR_TEMP, "%s: %s", new,
			    strerror(errno));
			unlink(to);
			goto out;
		}
	}
	maildir_quota_add(ap->ms, (int64_t)ap->size, 1);
	ret = 0;
	goto out;
unlink_out:
	unlink(ap->tmp_path);
out:
	append_free(ap);
	return ret;
}

void
maildir_append_abort(void *append)
{
	append_free(append);
}
