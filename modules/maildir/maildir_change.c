/*
 * maildir_change.c - flag changes, expunges, copies and moves.
 *
 * Each takes the folder's lock, catches up, changes the files (rename
 * for flags, unlink for expunges, hard links for copies) and records the
 * changes in the log. Expunges, copies and moves are durable before they
 * return; flag changes are written at once and made durable within a
 * second, many commands' worth with one fsync (maildir_index_write). A file
 * that vanished meanwhile (another maildir reader expunged it) is
 * recorded as expunged rather than failing the whole command.
 *
 * A copy holds at most one lock at a time (the destination's, then for
 * a move the source's), so two sessions copying between two folders in
 * opposite directions cannot deadlock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/log.h>
#include <facteur/storage.h>

#include "maildir.h"

static int
change_fail_unlock(struct fc_store *st, struct maildir_index *idx)
{
	maildir_index_unlock_discard(st, idx);
	return -1;
}

static int
change_sync_cur(struct fc_store *st, struct maildir_box *box)
{
	char cur[4096];

	if (!box->ms->conf->fsync)
		return 0;
	snprintf(cur, sizeof(cur), "%s/cur", box->idx->path);
	if (maildir_fsync_dir(cur) < 0)
		return fc_store_fail(st, FC_ERR_TEMP, "%s: %s", cur,
		    strerror(errno));
	return 0;
}

/* Keyword names to bits (created when create). -1 on failure. */
static int
change_keyword_bits(struct fc_store *st, struct maildir_index *idx,
    const char *const *keywords, bool create, uint64_t *bits_r)
{
	uint64_t bits = 0;
	int k;

	for (; keywords != NULL && *keywords != NULL; keywords++) {
		k = maildir_keyword_index(st, idx, *keywords, create);
		if (k < 0) {
			if (create)
				return -1;
			continue;	/* removing an unknown one: nothing */
		}
		bits |= 1ULL << k;
	}
	*bits_r = bits;
	return 0;
}

int
maildir_store_flags(struct fc_store *st, void *index, const uint32_t *uids,
    size_t count, enum fc_store_op op, unsigned int flags,
    const char *const *keywords, uint64_t unchangedsince, bool *modified_r)
{
	struct maildir_box *box = index;
	struct maildir_index *idx = box->idx;
	char from[4096], to[4096], info[MAILDIR_INFO_MAX + 1];
	bool renamed = false;
	uint64_t kw;
	size_t i;

	if (maildir_index_lock(st, idx) < 0)
		return -1;
	if (maildir_index_catch_up(st, idx) < 0
	    || change_keyword_bits(st, idx, keywords, op != FC_STORE_REMOVE,
	    &kw) < 0)
		return change_fail_unlock(st, idx);
	for (i = 0; i < count; i++) {
		struct fc_index_record *r;
		struct maildir_msg *m;
		unsigned int nflags;
		uint64_t nkw;

		if ((r = maildir_index_find(idx, uids[i], &m)) == NULL)
			continue;
		if (unchangedsince != 0 && r->modseq > unchangedsince) {
			modified_r[i] = true;
			continue;
		}
		switch (op) {
		case FC_STORE_ADD:
			nflags = r->flags | flags;
			nkw = r->keywords | kw;
			break;
		case FC_STORE_REMOVE:
			nflags = r->flags & ~flags;
			nkw = r->keywords & ~kw;
			break;
		default:
			nflags = flags;
			nkw = kw;
			break;
		}
		if (nflags == r->flags && nkw == r->keywords)
			continue;
		maildir_info_make(info, sizeof(info), m->info, nflags, nkw);
		snprintf(from, sizeof(from), "%s/cur/%s:2,%s", idx->path,
		    m->base, m->info);
		snprintf(to, sizeof(to), "%s/cur/%s:2,%s", idx->path, m->base,
		    info);
		if (rename(from, to) < 0) {
			if (errno == ENOENT) {
				maildir_log_expunge(idx, uids[i],
				    idx->highestmodseq + 1);
				continue;
			}
			fc_store_fail(st, FC_ERR_TEMP, "%s: %s", from,
			    strerror(errno));
			break;
		}
		renamed = true;
		maildir_log_flags(idx, uids[i], idx->highestmodseq + 1, info);
	}
	/* flag changes: the renames and their lines are made durable
	 * soon, together (see maildir_index_write) */
	if (renamed && box->ms->conf->fsync)
		maildir_index_cur_changed(idx);
	if (maildir_index_unlock(st, idx, box->ms->conf->fsync) < 0)
		return -1;
	return i == count ? 0 : -1;
}

int
maildir_expunge(struct fc_store *st, void *index, const uint32_t *uids,
    size_t count)
{
	struct maildir_box *box = index;
	struct maildir_index *idx = box->idx;
	uint32_t *gone;
	uint64_t *sizes;
	size_t n = 0, i;
	char path[4096];
	int64_t freed = 0;
	bool failed = false;

	if (maildir_index_lock(st, idx) < 0)
		return -1;
	if (maildir_index_catch_up(st, idx) < 0)
		return change_fail_unlock(st, idx);
	/* pick first: expunging moves the records */
	gone = fc_calloc(idx->count + 1, sizeof(*gone));
	sizes = fc_calloc(idx->count + 1, sizeof(*sizes));
	for (i = 0; i < idx->count; i++) {
		const struct fc_index_record *r = &idx->recs[i];
		bool wanted = uids == NULL;
		size_t k;

		for (k = 0; !wanted && k < count; k++)
			wanted = uids[k] == r->uid;
		if (!wanted || !(r->flags & FC_FLAG_DELETED))
			continue;
		snprintf(path, sizeof(path), "%s/cur/%s:2,%s", idx->path,
		    idx->msgs[i].base, idx->msgs[i].info);
		if (unlink(path) < 0 && errno != ENOENT) {
			fc_store_fail(st, FC_ERR_TEMP, "%s: %s", path,
			    strerror(errno));
			failed = true;
			break;
		}
		sizes[n] = r->size;
		gone[n++] = r->uid;
	}
	for (i = 0; i < n; i++) {
		maildir_log_expunge(idx, gone[i], idx->highestmodseq + 1);
		freed += (int64_t)sizes[i];
	}
	free(gone);
	free(sizes);
	if (n > 0 && change_sync_cur(st, box) < 0)
		return change_fail_unlock(st, idx);
	if (maildir_index_unlock(st, idx, box->ms->conf->fsync) < 0)
		return -1;
	if (n > 0)
		maildir_quota_add(box->ms, -freed, -(int64_t)n);
	return failed ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* Copies */

struct copy_item {
	char tmp[4096];		/* in the destination's tmp/ */
	char base[512];
	unsigned int flags;
	uint64_t size, crlf;
	int64_t date;
	const char *keywords[MAILDIR_MAX_KEYWORDS + 1];
	bool linked;
};

/* Copies a file's data when a hard link cannot be made. */
static int
copy_file(const char *from, const char *to, bool sync)
{
	char buf[65536];
	ssize_t n;
	int in, out, ret = -1;

	if ((in = open(from, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			goto done;
	if (n == 0 && (!sync || fsync(out) == 0))
		ret = 0;
done:
	close(in);
	if (close(out) < 0)
		ret = -1;
	if (ret < 0)
		unlink(to);
	return ret;
}

/* Puts the messages in the source folder beside the destination's tmp/. */
static int
copy_prepare(struct fc_store *st, struct maildir_box *box,
    const char *dest_path, const uint32_t *uids, size_t count,
    struct copy_item *items)
{
	struct maildir_index *idx = box->idx;
	char from[4096], unique[256];
	size_t i, k, nk;

	for (i = 0; i < count; i++) {
		struct copy_item *it = &items[i];
		struct fc_index_record *r;
		struct maildir_msg *m;

		if ((r = maildir_index_find(idx, uids[i], &m)) == NULL)
			return fc_store_fail(st, FC_ERR_EXPUNGED, "message %u "
			    "was expunged", uids[i]);
		snprintf(from, sizeof(from), "%s/cur/%s:2,%s", idx->path,
		    m->base, m->info);
		snprintf(it->base, sizeof(it->base), "%s,S=%llu,W=%llu",
		    maildir_unique_base(unique, sizeof(unique)),
		    (unsigned long long)r->size,
		    (unsigned long long)r->size_crlf);
		snprintf(it->tmp, sizeof(it->tmp), "%s/tmp/%s", dest_path,
		    it->base);
		if (link(from, it->tmp) < 0 && (errno == ENOENT
		    || copy_file(from, it->tmp, box->ms->conf->fsync) < 0))
			return fc_store_fail(st, errno == ENOENT ?
			    FC_ERR_EXPUNGED : FC_ERR_TEMP, "copying message "
			    "%u: %s", uids[i], strerror(errno));
		it->linked = true;
		it->flags = r->flags;
		it->size = r->size;
		it->crlf = r->size_crlf;
		it->date = r->internal_date;
		/* keywords go by name: the destination numbers them its way */
		for (k = 0, nk = 0; k < MAILDIR_MAX_KEYWORDS; k++)
			if ((r->keywords & (1ULL << k))
			    && idx->keywords[k] != NULL
			    && idx->keywords[k][0] != '\0')
				it->keywords[nk++] = idx->keywords[k];
		it->keywords[nk] = NULL;
	}
	return 0;
}

static int
copy_commit(struct fc_store *st, struct maildir_box *box,
    struct maildir_index *dst, struct copy_item *items, size_t count,
    uint32_t *uids_r)
{
	char to[4096], info[MAILDIR_INFO_MAX + 1];
	uint64_t kw;
	size_t i;

	if (maildir_index_lock(st, dst) < 0)
		return -1;
	if (maildir_index_catch_up(st, dst) < 0)
		return change_fail_unlock(st, dst);
	for (i = 0; i < count; i++) {
		struct copy_item *it = &items[i];

		if (change_keyword_bits(st, dst, it->keywords, true, &kw) < 0)
			return change_fail_unlock(st, dst);
		maildir_info_make(info, sizeof(info), NULL, it->flags, kw);
		snprintf(to, sizeof(to), "%s/cur/%s:2,%s", dst->path, it->base,
		    info);
		if (rename(it->tmp, to) < 0) {
			fc_store_fail(st, FC_ERR_TEMP, "%s: %s", to,
			    strerror(errno));
			return change_fail_unlock(st, dst);
		}
		it->linked = false;
		uids_r[i] = dst->uidnext;
		maildir_log_add(dst, dst->uidnext, dst->highestmodseq + 1,
		    it->date, it->size, it->crlf, info, it->base);
	}
	if (box->ms->conf->fsync) {
		snprintf(to, sizeof(to), "%s/cur", dst->path);
		if (maildir_fsync_dir(to) < 0) {
			fc_store_fail(st, FC_ERR_TEMP, "%s: %s", to,
			    strerror(errno));
			return change_fail_unlock(st, dst);
		}
	}
	return maildir_index_unlock(st, dst, box->ms->conf->fsync);
}

/* For a move: the copied messages leave the source. */
static int
copy_remove_sources(struct fc_store *st, struct maildir_box *box,
    const uint32_t *uids, size_t count)
{
	struct maildir_index *idx = box->idx;
	char path[4096];
	int64_t freed = 0;
	size_t i;

	if (maildir_index_lock(st, idx) < 0)
		return -1;
	if (maildir_index_catch_up(st, idx) < 0)
		return change_fail_unlock(st, idx);
	for (i = 0; i < count; i++) {
		struct fc_index_record *r;
		struct maildir_msg *m;

		if ((r = maildir_index_find(idx, uids[i], &m)) == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/cur/%s:2,%s", idx->path,
		    m->base, m->info);
		if (unlink(path) < 0 && errno != ENOENT)
			continue;
		freed += (int64_t)r->size;
		maildir_log_expunge(idx, uids[i], idx->highestmodseq + 1);
	}
	if (change_sync_cur(st, box) < 0)
		return change_fail_unlock(st, idx);
	if (maildir_index_unlock(st, idx, box->ms->conf->fsync) < 0)
		return -1;
	maildir_quota_add(box->ms, -freed, -(int64_t)count);
	return 0;
}

int
maildir_copy(struct fc_store *st, void *index, const uint32_t *uids,
    size_t count, const char *dest, bool move, uint32_t *uidvalidity_r,
    uint32_t *dest_uids_r)
{
	struct maildir_box *box = index;
	struct maildir_index *dst = NULL;
	struct fc_arena *a = fc_arena_new("maildir-copy", 1024);
	struct copy_item *items;
	uint64_t used, limit, msgs, msglimit, total = 0;
	const char *reason = "bad name";
	char *dest_path;
	size_t i;
	int ret = -1;

	items = fc_calloc(count + 1, sizeof(*items));
	dest_path = maildir_folder_path(a, box->ms, dest, &reason);
	if (dest_path == NULL) {
		fc_store_fail(st, FC_ERR_BADNAME, "%s", reason);
		goto out;
	}
	if (access(dest_path, F_OK) < 0) {
		fc_store_fail(st, FC_ERR_NOTFOUND, "no mailbox %s", dest);
		goto out;
	}
	if (maildir_index_catch_up(st, box->idx) < 0)
		goto out;
	for (i = 0; i < count; i++) {
		struct fc_index_record *r = maildir_index_find(box->idx,
		    uids[i], NULL);

		if (r != NULL)
			total += r->size;
	}
	/* a move adds nothing; a copy adds what it copies */
	if (!move && maildir_quota_limited(box->ms)) {
		if (maildir_quota_get(st, box->ms, &used, &limit, &msgs,
		    &msglimit) < 0)
			goto out;
		if ((limit != 0 && used + total > limit)
		    || (msglimit != 0 && msgs + count > msglimit)) {
			fc_store_fail(st, FC_ERR_NOQUOTA, "over quota");
			goto out;
		}
	}
	if (copy_prepare(st, box, dest_path, uids, count, items) < 0)
		goto out;
	if (maildir_index_get(st, box->ms, dest_path, &dst) < 0)
		goto out;
	if (copy_commit(st, box, dst, items, count, dest_uids_r) < 0)
		goto out;
	if (uidvalidity_r != NULL)
		*uidvalidity_r = dst->uidvalidity;
	maildir_quota_add(box->ms, (int64_t)total, (int64_t)count);
	if (move && copy_remove_sources(st, box, uids, count) < 0)
		goto out;
	ret = 0;
out:
	for (i = 0; i < count; i++)
		if (items[i].linked)
			unlink(items[i].tmp);
	if (dst != NULL)
		maildir_index_put(dst);
	free(items);
	fc_arena_free(&a);
	return ret;
}
