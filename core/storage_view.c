/*
 * storage_view.c - open mailboxes: each session's view of a back end's
 * index, and the sync that brings a view up to date.
 *
 * A view is the list of UIDs the session knows, in order: sequence
 * number n is uids[n - 1]. Everything else about a message is read from
 * the index the back end keeps (shared by the views of one worker).
 * Since another view may move the index's memory, its state is asked for
 * afresh at every use, never kept. The view only keeps, beside each UID,
 * the flags, keywords and modseq it last saw (21 bytes a message in
 * all): the index forgets an expunged message at once, even while this
 * view still shows it.
 *
 * A sync refreshes the index and compares: UIDs of the view missing from
 * the index were expunged (reported, or kept as "ghosts" when expunges
 * are held back: they keep their number and their last known flags,
 * keywords and modseq, read as empty otherwise, and cannot be opened;
 * a CONDSTORE client is shown that modseq, not 0, which no message
 * has); UIDs past
 * the view's last one are new; messages whose modseq passed the view's
 * high-water mark changed. A session's own STORE is
 * not reported back to it: fc_mailbox_store() remembers the (UID,
 * modseq) pairs it made.
 */
#include "config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <facteur/arena.h>
#include <facteur/log.h>
#include <facteur/storage.h>

#include "core.h"
#include "storage_int.h"

struct own_change {
	uint32_t uid;
	uint64_t modseq;
};

struct fc_mailbox {
	struct fc_store *st;
	char *name;
	void *index;
	bool readonly;
	uint32_t *uids;			/* the view */
	uint8_t *flags;			/* as last seen, for ghosts */
	uint64_t *keywords;
	uint64_t *modseqs;
	size_t count, alloc;
	struct fc_index_record ghost;	/* what view_record() gives for one */
	uint64_t seen_modseq;		/* changes up to here are known */
	struct own_change *own;		/* our own STOREs since last sync */
	size_t nown, ownalloc;
	fc_mailbox_changed_fn *watch_fn;
	void *watch_arg;
};

static int
view_refresh(struct fc_mailbox *box)
{
	struct fc_store *st = box->st;

	return st->be->ops->index_refresh(st, box->index);
}

/* The index as it is now (see the top of the file). */
static void
view_state(struct fc_mailbox *box, struct fc_index_state *s)
{
	box->st->be->ops->index_state(box->index, s);
}

/* The index record of a UID, or NULL (expunged). */
static const struct fc_index_record *
view_find(const struct fc_index_state *s, uint32_t uid)
{
	size_t lo = 0, hi = s->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->records[mid].uid == uid)
			return &s->records[mid];
		if (s->records[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The message at seq: its index record, or for a ghost (expunged, held
 * back) its last known flags, keywords and modseq, the rest empty. */
static const struct fc_index_record *
view_record(struct fc_mailbox *box, uint32_t seq)
{
	const struct fc_index_record *r;
	struct fc_index_state s;

	fc_assert(seq >= 1 && seq <= box->count);
	view_state(box, &s);
	r = view_find(&s, box->uids[seq - 1]);
	if (r != NULL)
		return r;
	memset(&box->ghost, 0, sizeof(box->ghost));
	box->ghost.uid = box->uids[seq - 1];
	box->ghost.flags = box->flags[seq - 1];
	box->ghost.keywords = box->keywords[seq - 1];
	box->ghost.modseq = box->modseqs[seq - 1];
	return &box->ghost;
}

static void
view_grow(struct fc_mailbox *box, size_t need)
{
	if (need <= box->alloc)
		return;
	box->alloc = box->alloc == 0 ? 64 : box->alloc;
	while (box->alloc < need)
		box->alloc *= 2;
	box->uids = fc_realloc(box->uids, box->alloc * sizeof(*box->uids));
	box->flags = fc_realloc(box->flags, box->alloc * sizeof(*box->flags));
	box->keywords = fc_realloc(box->keywords, box->alloc *
	    sizeof(*box->keywords));
	box->modseqs = fc_realloc(box->modseqs, box->alloc *
	    sizeof(*box->modseqs));
}

/* What a ghost of the message at position i will show. */
static void
view_remember(struct fc_mailbox *box, size_t i,
    const struct fc_index_record *r)
{
	box->flags[i] = (uint8_t)(r->flags & FC_FLAGS_ALL);
	box->keywords[i] = r->keywords;
	box->modseqs[i] = r->modseq;
}

/* Puts a message at position i of the view, as the index shows it. */
static void
view_set(struct fc_mailbox *box, size_t i, const struct fc_index_record *r)
{
	box->uids[i] = r->uid;
	view_remember(box, i, r);
}

int
fc_mailbox_open(struct fc_store *st, const char *name, unsigned int flags,
    struct fc_mailbox **box_r)
{
	struct fc_mailbox *box;
	struct fc_index_state s;
	size_t i;

	if (fc_store_check_name(st, name) < 0)
		return -1;
	box = fc_calloc(1, sizeof(*box));
	box->st = st;
	box->name = fc_strdup(fc_mailbox_is_inbox(name) ? "INBOX" : name);
	box->readonly = (flags & FC_OPEN_READONLY) != 0;
	if (st->be->ops->index_open(st, st->bstore, name, &box->index) < 0) {
		free(box->name);
		free(box);
		return -1;
	}
	if (view_refresh(box) < 0) {
		fc_mailbox_close(&box);
		return -1;
	}
	view_state(box, &s);
	view_grow(box, s.count);
	for (i = 0; i < s.count; i++)
		view_set(box, i, &s.records[i]);
	box->count = s.count;
	box->seen_modseq = s.highestmodseq;
	*box_r = box;
	return 0;
}

void
fc_mailbox_close(struct fc_mailbox **boxp)
{
	struct fc_mailbox *box = *boxp;

	if (box == NULL)
		return;
	*boxp = NULL;
	if (box->watch_fn != NULL)
		box->st->be->ops->index_watch(box->st, box->index, NULL, NULL);
	box->st->be->ops->index_close(box->index);
	free(box->uids);
	free(box->flags);
	free(box->keywords);
	free(box->modseqs);
	free(box->own);
	free(box->name);
	free(box);
}

const char *
fc_mailbox_name(struct fc_mailbox *box)
{
	return box->name;
}

bool
fc_mailbox_readonly(struct fc_mailbox *box)
{
	return box->readonly;
}

uint32_t
fc_mailbox_uidvalidity(struct fc_mailbox *box)
{
	struct fc_index_state s;

	view_state(box, &s);
	return s.uidvalidity;
}

uint32_t
fc_mailbox_uidnext(struct fc_mailbox *box)
{
	struct fc_index_state s;

	view_state(box, &s);
	return s.uidnext;
}

uint64_t
fc_mailbox_highestmodseq(struct fc_mailbox *box)
{
	struct fc_index_state s;

	view_state(box, &s);
	return s.highestmodseq;
}

size_t
fc_mailbox_keyword_count(struct fc_mailbox *box)
{
	struct fc_index_state s;
	size_t n = 0;

	view_state(box, &s);
	while (s.keywords != NULL && s.keywords[n] != NULL)
		n++;
	return n;
}

const char *
fc_mailbox_keyword(struct fc_mailbox *box, size_t idx)
{
	struct fc_index_state s;

	if (idx >= fc_mailbox_keyword_count(box))
		return NULL;
	view_state(box, &s);
	return s.keywords[idx];
}

bool
fc_mailbox_keywords_full(struct fc_mailbox *box)
{
	struct fc_index_state s;

	view_state(box, &s);
	return s.keywords_full;
}

/* ------------------------------------------------------------------ */
/* Sync */

static bool
view_is_own(const struct fc_mailbox *box, const struct fc_index_record *r)
{
	size_t i;

	for (i = 0; i < box->nown; i++)
		if (box->own[i].uid == r->uid && box->own[i].modseq == r->modseq)
			return true;
	return false;
}

int
fc_mailbox_sync(struct fc_mailbox *box, unsigned int flags,
    const struct fc_sync_ops *ops, void *arg)
{
	bool keep = (flags & FC_SYNC_KEEP_EXPUNGED) != 0;
	struct fc_index_state state, *s = &state;
	size_t i, o, k, old_count;
	uint32_t last_uid;

	fc_store_reset_error(box->st);
	if (view_refresh(box) < 0)
		return -1;
	/* the callbacks must not call into the store: s stays valid */
	view_state(box, s);

	/* expunges: walk the view and the index together, both sorted */
	for (i = 0, o = 0, k = 0; i < box->count; i++) {
		uint32_t uid = box->uids[i];

		while (k < s->count && s->records[k].uid < uid)
			k++;
		if (k < s->count && s->records[k].uid == uid) {
			box->uids[o] = uid;
			view_remember(box, o++, &s->records[k]);
			continue;
		}
		if (keep) {
			/* a ghost: what was last seen of it stays */
			box->uids[o] = uid;
			box->flags[o] = box->flags[i];
			box->keywords[o] = box->keywords[i];
			box->modseqs[o] = box->modseqs[i];
			o++;
			continue;
		}
		/* the message was number o + 1 once the earlier ones
		 * went: that is the number the client knows it by now */
		if (ops != NULL && ops->expunged != NULL)
			ops->expunged(arg, (uint32_t)(o + 1), uid);
	}
	box->count = o;

	/* changes of messages already in the view */
	if (s->highestmodseq > box->seen_modseq && ops != NULL
	    && ops->changed != NULL) {
		for (i = 0, k = 0; i < box->count; i++) {
			const struct fc_index_record *r;

			while (k < s->count
			    && s->records[k].uid < box->uids[i])
				k++;
			if (k == s->count || s->records[k].uid != box->uids[i])
				continue;	/* a ghost */
			r = &s->records[k];
			if (r->modseq > box->seen_modseq && !view_is_own(box, r))
				ops->changed(arg, (uint32_t)(i + 1));
		}
	}
	box->nown = 0;
	box->seen_modseq = s->highestmodseq;

	/* new messages: past the view's last UID */
	old_count = box->count;
	last_uid = box->count > 0 ? box->uids[box->count - 1] : 0;
	for (k = 0; k < s->count; k++) {
		if (s->records[k].uid <= last_uid)
			continue;
		view_grow(box, box->count + 1);
		view_set(box, box->count++, &s->records[k]);
	}
	if (box->count != old_count && ops != NULL && ops->exists != NULL)
		ops->exists(arg, (uint32_t)box->count);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Messages of the view */

uint32_t
fc_mailbox_count(struct fc_mailbox *box)
{
	return (uint32_t)box->count;
}

uint32_t
fc_mailbox_seq(struct fc_mailbox *box, uint32_t uid)
{
	size_t lo = 0, hi = box->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (box->uids[mid] == uid)
			return (uint32_t)(mid + 1);
		if (box->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

uint32_t
fc_msg_uid(struct fc_mailbox *box, uint32_t seq)
{
	fc_assert(seq >= 1 && seq <= box->count);
	return box->uids[seq - 1];
}

unsigned int
fc_msg_flags(struct fc_mailbox *box, uint32_t seq)
{
	return view_record(box, seq)->flags;
}

uint64_t
fc_msg_keywords(struct fc_mailbox *box, uint32_t seq)
{
	return view_record(box, seq)->keywords;
}

uint64_t
fc_msg_modseq(struct fc_mailbox *box, uint32_t seq)
{
	return view_record(box, seq)->modseq;
}

uint64_t
fc_msg_size(struct fc_mailbox *box, uint32_t seq, bool crlf)
{
	const struct fc_index_record *r = view_record(box, seq);

	return crlf ? r->size_crlf : r->size;
}

time_t
fc_msg_internal_date(struct fc_mailbox *box, uint32_t seq)
{
	return (time_t)view_record(box, seq)->internal_date;
}

const char *
fc_msg_guid(struct fc_mailbox *box, uint32_t seq)
{
	const char *g = view_record(box, seq)->guid;

	return g != NULL ? g : "";
}

int
fc_msg_open(struct fc_mailbox *box, uint32_t seq, bool *crlf_r)
{
	struct fc_store *st = box->st;
	uint32_t uid = fc_msg_uid(box, seq);
	struct fc_index_state s;

	fc_store_reset_error(st);
	view_state(box, &s);
	if (view_find(&s, uid) == NULL) {
		fc_store_fail(st, FC_ERR_EXPUNGED, "message %u was expunged",
		    uid);
		return -1;
	}
	return st->be->ops->index_open_message(st, box->index, uid, crlf_r);
}

/* Whether the back end's ops reach member m (added in a minor ABI). */
#define VIEW_HAS_OP(ops, m) \
	((ops)->size >= offsetof(struct fc_storage_ops, m) + \
	sizeof((ops)->m) && (ops)->m != NULL)

int
fc_msg_open_header(struct fc_mailbox *box, uint32_t seq, bool *crlf_r)
{
	const struct fc_storage_ops *ops = box->st->be->ops;
	struct fc_store *st = box->st;
	uint32_t uid = fc_msg_uid(box, seq);
	struct fc_index_state s;

	if (!VIEW_HAS_OP(ops, index_open_header))
		return fc_msg_open(box, seq, crlf_r);
	fc_store_reset_error(st);
	view_state(box, &s);
	if (view_find(&s, uid) == NULL) {
		fc_store_fail(st, FC_ERR_EXPUNGED, "message %u was expunged",
		    uid);
		return -1;
	}
	return ops->index_open_header(st, box->index, uid, crlf_r);
}

bool
fc_mailbox_can_cache(struct fc_mailbox *box)
{
	const struct fc_storage_ops *ops = box->st->be->ops;

	return VIEW_HAS_OP(ops, index_cache_get) &&
	    VIEW_HAS_OP(ops, index_cache_put);
}

/*
 * What both cache calls check first: 1 and *uid_r when the store keeps
 * a cache and the message is still there, 0 when the store keeps none,
 * -1 (FC_ERR_EXPUNGED) when the message is gone.
 */
static int
view_cache_uid(struct fc_mailbox *box, uint32_t seq, uint32_t *uid_r)
{
	struct fc_store *st = box->st;
	struct fc_index_state s;

	*uid_r = fc_msg_uid(box, seq);
	fc_store_reset_error(st);
	if (!fc_mailbox_can_cache(box))
		return 0;
	view_state(box, &s);
	if (view_find(&s, *uid_r) == NULL) {
		fc_store_fail(st, FC_ERR_EXPUNGED, "message %u was expunged",
		    *uid_r);
		return -1;
	}
	return 1;
}

int
fc_msg_cache_get(struct fc_mailbox *box, uint32_t seq, struct fc_arena *a,
    const char **data_r, size_t *len_r)
{
	struct fc_store *st = box->st;
	uint32_t uid;
	int r = view_cache_uid(box, seq, &uid);

	if (r <= 0)
		return r;
	return st->be->ops->index_cache_get(st, box->index, uid, a, data_r,
	    len_r);
}

int
fc_msg_cache_put(struct fc_mailbox *box, uint32_t seq, const void *data,
    size_t len)
{
	struct fc_store *st = box->st;
	uint32_t uid;
	int r = view_cache_uid(box, seq, &uid);

	if (r <= 0)
		return r;
	return st->be->ops->index_cache_put(st, box->index, uid, data, len);
}

/* ------------------------------------------------------------------ */
/* Changes */

/* UIDs of the seqs given, ghosts left out. */
static uint32_t *
view_uids(struct fc_mailbox *box, const uint32_t *seqs, size_t count,
    size_t *n_r)
{
	uint32_t *uids = fc_calloc(count + 1, sizeof(*uids));
	struct fc_index_state s;
	size_t i, n = 0;

	view_state(box, &s);
	for (i = 0; i < count; i++) {
		uint32_t uid;

		if (seqs[i] < 1 || seqs[i] > box->count)
			continue;
		uid = box->uids[seqs[i] - 1];
		if (view_find(&s, uid) != NULL)
			uids[n++] = uid;
	}
	*n_r = n;
	return uids;
}

int
fc_mailbox_store(struct fc_mailbox *box, const uint32_t *seqs, size_t count,
    enum fc_store_op op, unsigned int flags, const char *const *keywords,
    uint64_t unchangedsince, struct fc_arena *a, uint32_t **failed_r,
    size_t *nfailed_r)
{
	struct fc_store *st = box->st;
	bool *modified;
	uint32_t *uids;
	size_t n, i, nfailed = 0;
	int ret;

	fc_store_reset_error(st);
	if (failed_r != NULL)
		*failed_r = NULL;
	if (nfailed_r != NULL)
		*nfailed_r = 0;
	if (box->readonly)
		return fc_store_fail(st, FC_ERR_PERM, "the mailbox is "
		    "read-only");
	uids = view_uids(box, seqs, count, &n);
	modified = fc_calloc(n + 1, sizeof(*modified));
	ret = st->be->ops->index_store(st, box->index, uids, n, op,
	    flags & FC_FLAGS_ALL, keywords, unchangedsince, modified);
	if (ret == 0)
		ret = view_refresh(box);
	if (ret == 0) {
		struct fc_index_state s;

		/* remember what we did, so the next sync does not report it
		 * back to us; and hand back what UNCHANGEDSINCE refused */
		view_state(box, &s);
		for (i = 0; i < n; i++) {
			const struct fc_index_record *r;

			if (modified[i]) {
				if (failed_r != NULL) {
					if (*failed_r == NULL)
						*failed_r = fc_arena_alloc(a,
						    n * sizeof(uint32_t));
					(*failed_r)[nfailed] =
					    fc_mailbox_seq(box, uids[i]);
				}
				nfailed++;
				continue;
			}
			if ((r = view_find(&s, uids[i])) == NULL)
				continue;
			view_remember(box, fc_mailbox_seq(box, uids[i]) - 1,
			    r);
			if (box->nown == box->ownalloc) {
				box->ownalloc = box->ownalloc == 0 ? 16 :
				    box->ownalloc * 2;
				box->own = fc_realloc(box->own,
				    box->ownalloc * sizeof(*box->own));
			}
			box->own[box->nown].uid = r->uid;
			box->own[box->nown].modseq = r->modseq;
			box->nown++;
		}
		if (nfailed_r != NULL)
			*nfailed_r = nfailed;
	}
	free(uids);
	free(modified);
	return ret;
}

int
fc_mailbox_expunge(struct fc_mailbox *box, const uint32_t *uids,
    size_t count)
{
	struct fc_store *st = box->st;

	fc_store_reset_error(st);
	if (box->readonly)
		return fc_store_fail(st, FC_ERR_PERM, "the mailbox is "
		    "read-only");
	return st->be->ops->index_expunge(st, box->index, uids, count);
}

int
fc_mailbox_copy(struct fc_mailbox *box, const uint32_t *seqs, size_t count,
    const char *dest, bool move, uint32_t *uidvalidity_r,
    uint32_t *dest_uids_r)
{
	struct fc_store *st = box->st;
	uint32_t *uids;
	size_t n;
	int ret;

	if (fc_store_check_name(st, dest) < 0)
		return -1;
	if (move && box->readonly)
		return fc_store_fail(st, FC_ERR_PERM, "the mailbox is "
		    "read-only");
	uids = view_uids(box, seqs, count, &n);
	if (n != count) {
		free(uids);
		return fc_store_fail(st, FC_ERR_EXPUNGED, "some of the "
		    "messages were expunged");
	}
	ret = st->be->ops->index_copy(st, box->index, uids, n, dest, move,
	    uidvalidity_r, dest_uids_r);
	free(uids);
	return ret;
}

static void
view_changed(void *arg)
{
	struct fc_mailbox *box = arg;

	if (box->watch_fn != NULL)
		box->watch_fn(box, box->watch_arg);
}

int
fc_mailbox_watch(struct fc_mailbox *box, fc_mailbox_changed_fn *fn,
    void *arg)
{
	struct fc_store *st = box->st;

	fc_store_reset_error(st);
	box->watch_fn = fn;
	box->watch_arg = arg;
	return st->be->ops->index_watch(st, box->index,
	    fn != NULL ? view_changed : NULL, box);
}

/* ------------------------------------------------------------------ */
/* STATUS: the same index, without a view */

int
fc_store_status(struct fc_store *st, const char *name, struct fc_arena *a,
    const struct fc_mailbox_status **status_r)
{
	struct fc_index_state s;
	struct fc_mailbox_status *out;
	void *index;
	size_t i;

	if (fc_store_check_name(st, name) < 0)
		return -1;
	if (st->be->ops->index_open(st, st->bstore, name, &index) < 0)
		return -1;
	if (st->be->ops->index_refresh(st, index) < 0) {
		st->be->ops->index_close(index);
		return -1;
	}
	st->be->ops->index_state(index, &s);
	out = fc_arena_alloc(a, sizeof(*out));
	out->messages = (uint32_t)s.count;
	out->uidnext = s.uidnext;
	out->uidvalidity = s.uidvalidity;
	out->highestmodseq = s.highestmodseq;
	for (i = 0; i < s.count; i++) {
		if (!(s.records[i].flags & FC_FLAG_SEEN))
			out->unseen++;
		if (s.records[i].flags & FC_FLAG_DELETED)
			out->deleted++;
		out->size += s.records[i].size_crlf;
	}
	st->be->ops->index_close(index);
	*status_r = out;
	return 0;
}
