/*
 * pgsql_store.c - the storage API on PostgreSQL.
 *
 * A user's store is a row of `stores` (keyed by the user's name), made
 * with INBOX, Sent, Drafts, Trash, Junk and Archive the first time the
 * user is seen. Every change is one call of a function of the schema
 * (pgsql_schema.c), so it is one transaction that takes the mailbox's
 * row FOR UPDATE: UIDs and modseqs are given in order whoever writes,
 * and a change is committed (durable) before the call returns.
 *
 * An open mailbox's index holds every message's record; it catches up
 * with one statement that reads, in one snapshot, the mailbox's row,
 * its keyword names, the messages changed since the last modseq seen
 * and the tombstones of those expunged since (table expunged), so a
 * sync costs what changed, not the mailbox's size.
 *
 * Messages are stored with LF line ends, like the maildir module does,
 * once per content (bodies, by SHA-256); copies share their body.
 * fc_msg_open() gives a sealed memfd holding the message;
 * fc_msg_open_header() one holding its header alone, and the message
 * cache (fc_msg_cache_get/put) lives beside the body, shared by copies.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libpq-fe.h>

#include <facteur/arena.h>
#include <facteur/auth.h>
#include <facteur/log.h>
#include <facteur/storage.h>

#include "pgsql.h"

#define PG_MAX_KEYWORDS	64

struct pg_store {
	int64_t id;
	char idbuf[24];
	uint64_t quota_bytes, quota_messages;
	char qbytes[24], qcount[24];
};

struct pg_index {
	struct pg_store *ps;
	int64_t mailbox_id;
	char idbuf[24];
	struct fc_index_record *recs;	/* sorted by uid */
	size_t count, alloc;
	uint32_t uidvalidity, uidnext;
	uint64_t highestmodseq;
	bool loaded;
	char **keywords;		/* NULL-terminated */
	size_t nkeywords;
	struct pgsql_watcher watcher;
	bool watching;
	/* message cache entries read ahead (pg_index_cache_get) */
	PGresult *ahead;
	int ahead_next;			/* row to look at first */
	uint32_t ahead_uid;		/* the last UID asked for */
	int ahead_size;			/* rows to read next time */
};

struct pg_append {
	struct pg_store *ps;
	struct fc_arena *arena;
	char *mailbox;
	unsigned int flags;
	char *keywords;			/* an array literal */
	time_t internal_date;
	char *buf;
	size_t len, alloc;
	uint64_t lfs;
	bool cr_pending;
};

static const char *
pg_name(const char *name)
{
	return fc_mailbox_is_inbox(name) ? "INBOX" : name;
}

static int64_t
pg_int(const PGresult *r, int row, int col)
{
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* A text[] literal: {"a","b"}; NULL for none. */
static char *
pg_text_array(struct fc_arena *a, const char *const *items)
{
	size_t len = 3, i;
	const char *p;
	char *out, *o;

	if (items == NULL || items[0] == NULL)
		return NULL;
	for (i = 0; items[i] != NULL; i++)
		len += 3 + 2 * strlen(items[i]);
	out = o = fc_arena_alloc(a, len);
	*o++ = '{';
	for (i = 0; items[i] != NULL; i++) {
		if (i > 0)
			*o++ = ',';
		*o++ = '"';
		for (p = items[i]; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				*o++ = '\\';
			*o++ = *p;
		}
		*o++ = '"';
	}
	*o++ = '}';
	*o = '\0';
	return out;
}

/* A bigint[] literal of UIDs; NULL for uids NULL. */
static char *
pg_uid_array(struct fc_arena *a, const uint32_t *uids, size_t count)
{
	size_t i, o = 0, size = 3 + count * 11;
	char *out;

	if (uids == NULL)
		return NULL;
	out = fc_arena_alloc(a, size);
	out[o++] = '{';
	for (i = 0; i < count; i++)
		o += (size_t)snprintf(out + o, size - o, "%s%" PRIu32,
		    i > 0 ? "," : "", uids[i]);
	out[o++] = '}';
	out[o] = '\0';
	return out;
}

/* Reads "{1,2,3}" into up to max numbers; the count. */
static size_t
pg_parse_uids(const char *s, uint32_t *out, size_t max)
{
	size_t n = 0;
	char *end;

	if (*s == '{')
		s++;
	while (*s != '\0' && *s != '}') {
		unsigned long long v = strtoull(s, &end, 10);

		if (end == s)
			break;
		if (n < max && out != NULL)
			out[n] = (uint32_t)v;
		n++;
		s = end;
		if (*s == ',')
			s++;
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* Stores */

static int
pg_store_open(struct fc_store *st, void *ctx, const struct fc_user *u,
    const char *location, void **store_r)
{
	const struct pgsql_conf *conf = ctx;
	const char *v[1] = { fc_user_name(u) };
	struct pg_store *ps;
	PGresult *r;

	(void)location;
	r = pgsql_st_exec(st, conf->autocreate ? PS_STORE_MAKE : PS_STORE_GET,
	    1, v, NULL, NULL, 0);
	if (r == NULL)
		return -1;
	if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
		PQclear(r);
		return fc_store_fail(st, FC_ERR_NOTFOUND, "no mail store for "
		    "%s", fc_user_name(u));
	}
	ps = fc_calloc(1, sizeof(*ps));
	ps->id = pg_int(r, 0, 0);
	PQclear(r);
	snprintf(ps->idbuf, sizeof(ps->idbuf), "%" PRId64, ps->id);
	ps->quota_bytes = fc_user_quota_bytes(u);
	ps->quota_messages = fc_user_quota_messages(u);
	snprintf(ps->qbytes, sizeof(ps->qbytes), "%" PRIu64,
	    ps->quota_bytes);
	snprintf(ps->qcount, sizeof(ps->qcount), "%" PRIu64,
	    ps->quota_messages);
	*store_r = ps;
	return 0;
}

static void
pg_store_close(void *store)
{
	free(store);
}

struct pg_box_name {
	const char *name;
	unsigned int attrs;
	bool real;
};

static int
pg_box_cmp(const void *a, const void *b)
{
	const struct pg_box_name *x = a, *y = b;

	if (strcmp(x->name, "INBOX") == 0)
		return strcmp(y->name, "INBOX") == 0 ? 0 : -1;
	if (strcmp(y->name, "INBOX") == 0)
		return 1;
	return strcmp(x->name, y->name);
}

static struct pg_box_name *
pg_box_find(struct pg_box_name *boxes, size_t n, const char *name)
{
	struct pg_box_name key = { .name = name };

	return bsearch(&key, boxes, n, sizeof(*boxes), pg_box_cmp);
}

static int
pg_list(struct fc_store *st, void *store, struct fc_arena *a,
    const struct fc_mailbox_info **list_r, size_t *count_r)
{
	struct pg_store *ps = store;
	const char *v[1] = { ps->idbuf };
	struct pg_box_name *boxes, *subs;
	struct fc_mailbox_info *out;
	size_t nb = 0, ns = 0, real, i, k, alloc;
	PGresult *r;
	int rows;

	r = pgsql_st_exec(st, PS_LIST, 1, v, NULL, NULL, 0);
	if (r == NULL)
		return -1;
	rows = PQntuples(r);
	/* every level above a mailbox may need a \Noselect entry */
	alloc = 1;
	for (i = 0; i < (size_t)rows; i++) {
		const char *p;

		alloc++;
		for (p = PQgetvalue(r, (int)i, 0); *p != '\0'; p++)
			alloc += *p == '/';
	}
	boxes = fc_calloc(alloc, sizeof(*boxes));
	subs = fc_calloc((size_t)rows + 1, sizeof(*subs));
	for (i = 0; i < (size_t)rows; i++) {
		const char *name = fc_arena_strdup(a, PQgetvalue(r, (int)i,
		    0));

		if (pg_int(r, (int)i, 2) == 1) {
			subs[ns++].name = name;
			continue;
		}
		boxes[nb].name = name;
		boxes[nb].attrs = (unsigned int)pg_int(r, (int)i, 1)
		    & FC_MBOX_SPECIAL_USE;
		boxes[nb++].real = true;
	}
	PQclear(r);
	qsort(boxes, nb, sizeof(*boxes), pg_box_cmp);
	qsort(subs, ns, sizeof(*subs), pg_box_cmp);
	real = nb;
	/* levels that have children but no mailbox: \Noselect */
	for (i = 0; i < real; i++) {
		char *p, *copy = fc_arena_strdup(a, boxes[i].name);

		while ((p = strrchr(copy, '/')) != NULL) {
			*p = '\0';
			if (pg_box_find(boxes, real, copy) != NULL)
				continue;
			for (k = real; k < nb; k++)
				if (strcmp(boxes[k].name, copy) == 0)
					break;
			if (k < nb)
				continue;
			boxes[nb].name = fc_arena_strdup(a, copy);
			boxes[nb++].attrs = FC_MBOX_NOSELECT;
		}
	}
	qsort(boxes, nb, sizeof(*boxes), pg_box_cmp);
	real = nb;
	out = fc_arena_alloc(a, (nb + ns + 1) * sizeof(*out));
	for (i = 0; i < ns; i++)
		if (pg_box_find(boxes, real, subs[i].name) == NULL) {
			boxes[nb].name = subs[i].name;
			boxes[nb++].attrs = FC_MBOX_NONEXISTENT
			    | FC_MBOX_NOSELECT;
		}
	for (i = 0; i < nb; i++) {
		const char *name = boxes[i].name;
		size_t n = strlen(name);
		unsigned int attrs = boxes[i].attrs;
		bool children = false;

		for (k = 0; k < real && !children; k++)
			children = strncmp(boxes[k].name, name, n) == 0
			    && boxes[k].name[n] == '/';
		if (!(attrs & FC_MBOX_NONEXISTENT))
			attrs |= children ? FC_MBOX_HASCHILDREN :
			    FC_MBOX_HASNOCHILDREN;
		if (pg_box_find(subs, ns, name) != NULL)
			attrs |= FC_MBOX_SUBSCRIBED;
		out[i].name = name;
		out[i].attrs = attrs;
	}
	free(boxes);
	free(subs);
	if (nb > 1)
		qsort(out, nb, sizeof(*out), pg_box_cmp);
	*list_r = out;
	*count_r = nb;
	return 0;
}

static int
pg_simple(struct fc_store *st, enum pgsql_stmt id, int n,
    const char *const *v)
{
	PGresult *r = pgsql_st_exec(st, id, n, v, NULL, NULL, 0);

	if (r == NULL)
		return -1;
	PQclear(r);
	return 0;
}

static int
pg_create(struct fc_store *st, void *store, const char *name,
    unsigned int special_use)
{
	struct pg_store *ps = store;
	char su[16];
	const char *v[3] = { ps->idbuf, pg_name(name), su };

	snprintf(su, sizeof(su), "%u", special_use);
	return pg_simple(st, PS_CREATE, 3, v);
}

/*
 * Removes the bodies (hashes: a bytea[] as the schema's functions give
 * it) that no message uses any more, after the removal committed. A
 * body that a concurrent append or copy is taking stays (its row lock
 * or the foreign key makes this statement fail, and that is all).
 */
static void
pg_body_gc(const char *hashes)
{
	const char *v[1] = { hashes };
	enum fc_error code;
	const char *err;
	PGresult *r;

	if (hashes == NULL || strcmp(hashes, "{}") == 0)
		return;
	r = pgsql_exec(PS_BODY_GC, 1, v, NULL, NULL, 0, &code, &err);
	if (r != NULL)
		PQclear(r);
}

static int
pg_delete(struct fc_store *st, void *store, const char *name)
{
	struct pg_store *ps = store;
	const char *v[2] = { ps->idbuf, pg_name(name) };
	PGresult *r;

	r = pgsql_st_exec(st, PS_DELETE, 2, v, NULL, NULL, 0);
	if (r == NULL)
		return -1;
	pg_body_gc(PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

static int
pg_rename(struct fc_store *st, void *store, const char *from,
    const char *to)
{
	struct pg_store *ps = store;
	const char *v[3] = { ps->idbuf, pg_name(from), to };

	return pg_simple(st, PS_RENAME, 3, v);
}

static int
pg_subscribe(struct fc_store *st, void *store, const char *name, bool on)
{
	struct pg_store *ps = store;
	const char *v[2] = { ps->idbuf, pg_name(name) };

	return pg_simple(st, on ? PS_SUBSCRIBE : PS_UNSUBSCRIBE, 2, v);
}

static int
pg_quota(struct fc_store *st, void *store, uint64_t *bytes_r,
    uint64_t *bytes_limit_r, uint64_t *messages_r,
    uint64_t *messages_limit_r)
{
	struct pg_store *ps = store;
	const char *v[1] = { ps->idbuf };
	PGresult *r;

	r = pgsql_st_exec(st, PS_QUOTA, 1, v, NULL, NULL, 0);
	if (r == NULL)
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return fc_store_fail(st, FC_ERR_TEMP, "the store is gone");
	}
	if (bytes_r != NULL)
		*bytes_r = (uint64_t)pg_int(r, 0, 0);
	if (messages_r != NULL)
		*messages_r = (uint64_t)pg_int(r, 0, 1);
	if (bytes_limit_r != NULL)
		*bytes_limit_r = ps->quota_bytes;
	if (messages_limit_r != NULL)
		*messages_limit_r = ps->quota_messages;
	PQclear(r);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Appends */

static int
pg_append_begin(struct fc_store *st, void *store, const char *mailbox,
    unsigned int flags, const char *const *keywords, time_t internal_date,
    void **append_r)
{
	struct pg_store *ps = store;
	struct pg_append *ap;
	const char *v[2] = { ps->idbuf, pg_name(mailbox) };
	PGresult *r;

	/* a missing mailbox fails here, before the message is read */
	r = pgsql_st_exec(st, PS_MAILBOX_ID, 2, v, NULL, NULL, 0);
	if (r == NULL)
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return fc_store_fail(st, FC_ERR_NOTFOUND, "no mailbox %s",
		    mailbox);
	}
	PQclear(r);
	ap = fc_calloc(1, sizeof(*ap));
	ap->ps = ps;
	ap->arena = fc_arena_new("pgsql-append", 512);
	ap->mailbox = fc_arena_strdup(ap->arena, pg_name(mailbox));
	ap->flags = flags;
	ap->keywords = pg_text_array(ap->arena, keywords);
	ap->internal_date = internal_date != 0 ? internal_date : time(NULL);
	*append_r = ap;
	return 0;
}

static void
pg_append_byte(struct pg_append *ap, char c)
{
	if (ap->len == ap->alloc) {
		ap->alloc = ap->alloc == 0 ? 16384 : ap->alloc * 2;
		ap->buf = fc_realloc(ap->buf, ap->alloc);
	}
	ap->buf[ap->len++] = c;
	if (c == '\n')
		ap->lfs++;
}

static int
pg_append_write(struct fc_store *st, void *append, const void *data,
    size_t len)
{
	struct pg_append *ap = append;
	uint64_t max = pgsql_conf->max_message_size;
	const char *p = data;
	size_t i;

	for (i = 0; i < len; i++) {
		if (ap->cr_pending) {
			ap->cr_pending = false;
			/* CR LF is stored as LF; a lone CR as it is */
			if (p[i] != '\n')
				pg_append_byte(ap, '\r');
		}
		if (p[i] == '\r') {
			ap->cr_pending = true;
			continue;
		}
		pg_append_byte(ap, p[i]);
	}
	if (max != 0 && ap->len > max)
		return fc_store_fail(st, FC_ERR_LIMIT, "message larger than "
		    "%llu bytes", (unsigned long long)max);
	return 0;
}

static void
pg_append_free(struct pg_append *ap)
{
	free(ap->buf);
	fc_arena_free(&ap->arena);
	free(ap);
}

static int
pg_append_commit(struct fc_store *st, void *append, uint32_t *uidvalidity_r,
    uint32_t *uid_r)
{
	struct pg_append *ap = append;
	struct pg_store *ps = ap->ps;
	char flags[16], date[24], size[24], crlf[24];
	const char *v[10] = { ps->idbuf, ap->mailbox, flags, ap->keywords,
	    date, size, crlf, NULL, ps->qbytes, ps->qcount };
	int lengths[10] = { 0 }, formats[10] = { 0 };
	PGresult *r;

	if (ap->cr_pending) {
		ap->cr_pending = false;
		pg_append_byte(ap, '\r');
	}
	if (ap->len == 0)
		pg_append_byte(ap, '\0');	/* bytea needs a pointer */
	snprintf(flags, sizeof(flags), "%u", ap->flags);
	snprintf(date, sizeof(date), "%lld", (long long)ap->internal_date);
	snprintf(size, sizeof(size), "%zu", ap->len);
	snprintf(crlf, sizeof(crlf), "%llu",
	    (unsigned long long)(ap->len + ap->lfs));
	v[7] = ap->buf;
	lengths[7] = (int)ap->len;
	formats[7] = 1;
	if (ap->len > 0x7fffffff) {
		pg_append_free(ap);
		return fc_store_fail(st, FC_ERR_LIMIT, "message too large");
	}
	r = pgsql_st_exec(st, PS_APPEND, 10, v, lengths, formats, 0);
	pg_append_free(ap);
	if (r == NULL)
		return -1;
	if (uidvalidity_r != NULL)
		*uidvalidity_r = (uint32_t)pg_int(r, 0, 0);
	if (uid_r != NULL)
		*uid_r = (uint32_t)pg_int(r, 0, 1);
	PQclear(r);
	return 0;
}

static void
pg_append_abort(void *append)
{
	pg_append_free(append);
}

/* ------------------------------------------------------------------ */
/* Indexes */

static void
pg_index_clear(struct pg_index *ix)
{
	size_t i;

	for (i = 0; i < ix->count; i++)
		free((char *)ix->recs[i].guid);
	ix->count = 0;
	ix->loaded = false;
	ix->highestmodseq = 0;
}

static void
pg_keywords_free(struct pg_index *ix)
{
	size_t i;

	for (i = 0; i < ix->nkeywords; i++)
		free(ix->keywords[i]);
	free(ix->keywords);
	ix->keywords = NULL;
	ix->nkeywords = 0;
}

static int
pg_index_open(struct fc_store *st, void *store, const char *name,
    void **index_r)
{
	struct pg_store *ps = store;
	const char *v[2] = { ps->idbuf, pg_name(name) };
	struct pg_index *ix;
	PGresult *r;

	r = pgsql_st_exec(st, PS_MAILBOX_ID, 2, v, NULL, NULL, 0);
	if (r == NULL)
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return fc_store_fail(st, FC_ERR_NOTFOUND, "no mailbox %s",
		    name);
	}
	ix = fc_calloc(1, sizeof(*ix));
	ix->ps = ps;
	ix->mailbox_id = pg_int(r, 0, 0);
	PQclear(r);
	snprintf(ix->idbuf, sizeof(ix->idbuf), "%" PRId64, ix->mailbox_id);
	ix->keywords = fc_calloc(1, sizeof(char *));
	*index_r = ix;
	return 0;
}

static void
pg_index_close(void *index)
{
	struct pg_index *ix = index;

	if (ix->watching)
		pgsql_watch_remove(&ix->watcher);
	PQclear(ix->ahead);
	pg_index_clear(ix);
	pg_keywords_free(ix);
	free(ix->recs);
	free(ix);
}

/* The record of uid, or where it would go. */
static size_t
pg_find(const struct pg_index *ix, uint32_t uid)
{
	size_t lo = 0, hi = ix->count;

	if (ix->count > 0 && ix->recs[ix->count - 1].uid < uid)
		return ix->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ix->recs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void
pg_merge_row(struct pg_index *ix, const PGresult *r, int row)
{
	uint32_t uid = (uint32_t)pg_int(r, row, 1);
	size_t at = pg_find(ix, uid);
	struct fc_index_record *rec;

	if (at == ix->count || ix->recs[at].uid != uid) {
		if (ix->count == ix->alloc) {
			ix->alloc = ix->alloc == 0 ? 64 : ix->alloc * 2;
			ix->recs = fc_realloc(ix->recs, ix->alloc *
			    sizeof(*ix->recs));
		}
		memmove(ix->recs + at + 1, ix->recs + at,
		    (ix->count - at) * sizeof(*ix->recs));
		ix->count++;
		rec = &ix->recs[at];
		memset(rec, 0, sizeof(*rec));
		rec->uid = uid;
		rec->guid = fc_strdup(PQgetvalue(r, row, 8));
	} else
		rec = &ix->recs[at];
	rec->flags = (uint32_t)pg_int(r, row, 2);
	rec->keywords = (uint64_t)pg_int(r, row, 3);
	rec->modseq = (uint64_t)pg_int(r, row, 4);
	rec->internal_date = pg_int(r, row, 5);
	rec->size = (uint64_t)pg_int(r, row, 6);
	rec->size_crlf = (uint64_t)pg_int(r, row, 7);
}

static void
pg_remove_uid(struct pg_index *ix, uint32_t uid)
{
	size_t at = pg_find(ix, uid);

	if (at == ix->count || ix->recs[at].uid != uid)
		return;
	free((char *)ix->recs[at].guid);
	memmove(ix->recs + at, ix->recs + at + 1,
	    (ix->count - at - 1) * sizeof(*ix->recs));
	ix->count--;
}

static int
pg_index_refresh(struct fc_store *st, void *index)
{
	struct pg_index *ix = index;
	char since[24];
	const char *v[2] = { ix->idbuf, since };
	PGresult *r;
	int rows, i, nk = 0;

	snprintf(since, sizeof(since), "%" PRIu64, ix->loaded ?
	    ix->highestmodseq : 0);
	r = pgsql_st_exec(st, PS_REFRESH, 2, v, NULL, NULL, 0);
	if (r == NULL)
		return -1;
	rows = PQntuples(r);
	if (rows == 0 || PQgetvalue(r, 0, 0)[0] != '0') {
		PQclear(r);
		return fc_store_fail(st, FC_ERR_NOTFOUND, "the mailbox was "
		    "deleted");
	}
	for (i = 1; i < rows && PQgetvalue(r, i, 0)[0] == '1'; i++)
		nk++;
	if (ix->loaded && (uint32_t)pg_int(r, 0, 1) != ix->uidvalidity) {
		/* a new mailbox of that id cannot be: start again */
		pg_index_clear(ix);
		PQclear(r);
		return pg_index_refresh(st, index);
	}
	ix->uidvalidity = (uint32_t)pg_int(r, 0, 1);
	ix->uidnext = (uint32_t)pg_int(r, 0, 2);
	ix->highestmodseq = (uint64_t)pg_int(r, 0, 3);
	if ((size_t)nk != ix->nkeywords) {
		pg_keywords_free(ix);
		ix->keywords = fc_calloc((size_t)nk + 1, sizeof(char *));
		for (i = 0; i < nk; i++)
			ix->keywords[i] = fc_strdup(PQgetvalue(r, 1 + i, 8));
		ix->nkeywords = (size_t)nk;
	}
	for (i = 1 + nk; i < rows; i++) {
		if (PQgetvalue(r, i, 0)[0] == '2')
			pg_merge_row(ix, r, i);
		else
			pg_remove_uid(ix, (uint32_t)pg_int(r, i, 1));
	}
	ix->loaded = true;
	PQclear(r);
	return 0;
}

static void
pg_index_state(void *index, struct fc_index_state *state_r)
{
	struct pg_index *ix = index;

	memset(state_r, 0, sizeof(*state_r));
	state_r->records = ix->recs;
	state_r->count = ix->count;
	state_r->uidvalidity = ix->uidvalidity;
	state_r->uidnext = ix->uidnext;
	state_r->highestmodseq = ix->highestmodseq;
	state_r->keywords = (const char *const *)ix->keywords;
	state_r->keywords_full = ix->nkeywords >= PG_MAX_KEYWORDS;
}

static int
pg_index_store(struct fc_store *st, void *index, const uint32_t *uids,
    size_t count, enum fc_store_op op, unsigned int flags,
    const char *const *keywords, uint64_t unchangedsince, bool *modified_r)
{
	struct pg_index *ix = index;
	struct fc_arena *a = fc_arena_new("pgsql-store", 1024);
	char opbuf[8], fl[16], since[24];
	const char *v[6] = { ix->idbuf, pg_uid_array(a, uids, count), opbuf,
	    fl, pg_text_array(a, keywords), since };
	PGresult *r;
	uint32_t *kept;
	size_t n, i, k;

	if (count == 0) {
		fc_arena_free(&a);
		return 0;
	}
	snprintf(opbuf, sizeof(opbuf), "%d", (int)op);
	snprintf(fl, sizeof(fl), "%u", flags);
	snprintf(since, sizeof(since), "%" PRIu64, unchangedsince);
	if (op == FC_STORE_REPLACE && v[4] == NULL)
		v[4] = "{}";
	r = pgsql_st_exec(st, PS_STORE_FLAGS, 6, v, NULL, NULL, 0);
	fc_arena_free(&a);
	if (r == NULL)
		return -1;
	n = pg_parse_uids(PQgetvalue(r, 0, 0), NULL, 0);
	if (n > 0 && modified_r != NULL) {
		kept = fc_calloc(n, sizeof(*kept));
		pg_parse_uids(PQgetvalue(r, 0, 0), kept, n);
		for (i = 0; i < count; i++)
			for (k = 0; k < n; k++)
				if (uids[i] == kept[k])
					modified_r[i] = true;
		free(kept);
	}
	PQclear(r);
	return 0;
}

static int
pg_index_expunge(struct fc_store *st, void *index, const uint32_t *uids,
    size_t count)
{
	struct pg_index *ix = index;
	struct fc_arena *a = fc_arena_new("pgsql-expunge", 1024);
	const char *v[3] = { ix->ps->idbuf, ix->idbuf,
	    pg_uid_array(a, uids, count) };
	PGresult *r;

	if (uids != NULL && count == 0) {
		fc_arena_free(&a);
		return 0;
	}
	r = pgsql_st_exec(st, PS_EXPUNGE, 3, v, NULL, NULL, 0);
	fc_arena_free(&a);
	if (r == NULL)
		return -1;
	pg_body_gc(PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

static int
pg_index_copy(struct fc_store *st, void *index, const uint32_t *uids,
    size_t count, const char *dest, bool move, uint32_t *uidvalidity_r,
    uint32_t *dest_uids_r)
{
	struct pg_index *ix = index;
	struct pg_store *ps = ix->ps;
	struct fc_arena *a = fc_arena_new("pgsql-copy", 1024);
	const char *v[7] = { ps->idbuf, ix->idbuf, pg_uid_array(a, uids,
	    count), pg_name(dest), move ? "t" : "f", ps->qbytes, ps->qcount };
	PGresult *r;

	if (count == 0) {
		fc_arena_free(&a);
		return 0;
	}
	r = pgsql_st_exec(st, PS_COPY, 7, v, NULL, NULL, 0);
	fc_arena_free(&a);
	if (r == NULL)
		return -1;
	if (uidvalidity_r != NULL)
		*uidvalidity_r = (uint32_t)pg_int(r, 0, 0);
	if (dest_uids_r != NULL)
		pg_parse_uids(PQgetvalue(r, 0, 1), dest_uids_r, count);
	PQclear(r);
	return 0;
}

static int
pg_write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * A body comes in pieces of at most PG_BODY_PIECE bytes: libpq keeps
 * its input buffer as large as the largest row it has read, for as long
 * as the connection lives, so one 50 MB row would stay in the worker's
 * memory. A piece is an eighth of the body when that is larger (fewer
 * statements; a compressed body is read from its start for each piece),
 * never more than PG_BODY_PIECE_MAX.
 */
#define PG_BODY_PIECE		(1024 * 1024)
#define PG_BODY_PIECE_MAX	(4 * 1024 * 1024)

/*
 * The end of reading a message (or its header) into a memfd: on a write
 * error e, or a failed rewind, the copy goes and the store says why;
 * else it is sealed, so the reader holds bytes nobody can change.
 */
static int
pg_memfd_done(struct fc_store *st, int fd, int e, uint32_t uid,
    bool *crlf_r)
{
	if (e == 0 && lseek(fd, 0, SEEK_SET) < 0)
		e = errno;
	if (e != 0) {
		close(fd);
		return fc_store_fail(st, FC_ERR_TEMP, "a copy of message %"
		    PRIu32 ": %s", uid, strerror(e));
	}
	(void)fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW |
	    F_SEAL_SHRINK | F_SEAL_SEAL);
	if (crlf_r != NULL)
		*crlf_r = false;
	return fd;
}

static int
pg_index_open_message(struct fc_store *st, void *index, uint32_t uid,
    bool *crlf_r)
{
	struct pg_index *ix = index;
	char uidbuf[16], frombuf[24], lenbuf[24];
	const char *v[4] = { ix->idbuf, uidbuf, frombuf, lenbuf };
	uint64_t from = 1, total = 0, piece = PG_BODY_PIECE;
	PGresult *r;
	int fd, e = 0;

	snprintf(uidbuf, sizeof(uidbuf), "%" PRIu32, uid);
	fd = memfd_create("facteur-message", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return fc_store_fail(st, FC_ERR_TEMP, "a copy of message %"
		    PRIu32 ": %s", uid, strerror(errno));
	do {
		snprintf(frombuf, sizeof(frombuf), "%" PRIu64, from);
		snprintf(lenbuf, sizeof(lenbuf), "%" PRIu64, piece);
		r = pgsql_st_exec(st, PS_BODY, 4, v, NULL, NULL, 1);
		if (r == NULL) {
			close(fd);
			return -1;
		}
		if (PQntuples(r) != 1) {
			/* gone, before the first piece or between two */
			PQclear(r);
			close(fd);
			return fc_store_fail(st, FC_ERR_EXPUNGED, "message %"
			    PRIu32 " was expunged", uid);
		}
		if (from == 1) {
			total = (uint64_t)pg_int(r, 0, 1);
			if (total / 8 > piece)
				piece = total / 8 < PG_BODY_PIECE_MAX ?
				    total / 8 + 1 : PG_BODY_PIECE_MAX;
		}
		if (pg_write_all(fd, PQgetvalue(r, 0, 0),
		    (size_t)PQgetlength(r, 0, 0)) < 0)
			e = errno;
		else if (PQgetlength(r, 0, 0) == 0 && from <= total)
			e = EIO;	/* shorter than its length said */
		from += (uint64_t)PQgetlength(r, 0, 0);
		PQclear(r);
	} while (e == 0 && from <= total);
	return pg_memfd_done(st, fd, e, uid, crlf_r);
}

/*
 * The header alone, from the length the append recorded (or computed
 * in the database for a body stored before schema 3): SEARCH and SORT
 * on header fields need not bring the body over. A header larger than
 * a piece (rare, and hostile when it is) is read with the body.
 */
static int
pg_index_open_header(struct fc_store *st, void *index, uint32_t uid,
    bool *crlf_r)
{
	struct pg_index *ix = index;
	char uidbuf[16], maxbuf[24];
	const char *v[3] = { ix->idbuf, uidbuf, maxbuf };
	PGresult *r;
	int fd, e = 0;

	snprintf(uidbuf, sizeof(uidbuf), "%" PRIu32, uid);
	snprintf(maxbuf, sizeof(maxbuf), "%d", PG_BODY_PIECE);
	r = pgsql_st_exec(st, PS_HEADER, 3, v, NULL, NULL, 1);
	if (r == NULL)
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return fc_store_fail(st, FC_ERR_EXPUNGED, "message %"
		    PRIu32 " was expunged", uid);
	}
	if (pg_int(r, 0, 1) > PG_BODY_PIECE) {
		PQclear(r);
		return pg_index_open_message(st, index, uid, crlf_r);
	}
	fd = memfd_create("facteur-header", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		PQclear(r);
		return fc_store_fail(st, FC_ERR_TEMP, "a copy of message %"
		    PRIu32 ": %s", uid, strerror(errno));
	}
	if (pg_write_all(fd, PQgetvalue(r, 0, 0),
	    (size_t)PQgetlength(r, 0, 0)) < 0)
		e = errno;
	PQclear(r);
	return pg_memfd_done(st, fd, e, uid, crlf_r);
}

/*
 * The cache of a message, from the rows read ahead when the UIDs asked
 * for go up (FETCH 1:* asks for them in order): the first miss reads 8
 * rows, the next 16, up to PG_AHEAD_MAX, so a FETCH of 5,000 messages
 * costs 20-odd statements instead of 5,000 and a FETCH of one message
 * reads little more than it. An entry larger than PG_AHEAD_ENTRY is
 * read alone (it is left out of the rows, which stay small). A UID
 * lower than the last one asked for starts again: rows read for an
 * earlier command may have missed what that command wrote since.
 */
#define PG_AHEAD_FIRST	8
#define PG_AHEAD_MAX	256
#define PG_AHEAD_ENTRY	8192

/* 1 with the entry, 0 when there is none, -1 when the rows do not say */
static int
pg_ahead_find(struct pg_index *ix, uint32_t uid, struct fc_arena *a,
    const char **data_r, size_t *len_r)
{
	int row, n = ix->ahead != NULL ? PQntuples(ix->ahead) : 0;
	char *data;
	size_t len;

	for (row = ix->ahead_next; row < n; row++) {
		uint32_t u = (uint32_t)pg_int(ix->ahead, row, 0);

		if (u < uid)
			continue;
		if (u > uid)
			return -1;
		ix->ahead_next = row + 1;
		if (PQgetisnull(ix->ahead, row, 2))
			return 0;
		if (PQgetisnull(ix->ahead, row, 1))
			return -1;	/* too large for the rows */
		len = (size_t)PQgetlength(ix->ahead, row, 1);
		data = fc_arena_alloc(a, len + 1);
		memcpy(data, PQgetvalue(ix->ahead, row, 1), len);
		*data_r = data;
		*len_r = len;
		return 1;
	}
	return -1;
}

static int
pg_index_cache_get(struct fc_store *st, void *index, uint32_t uid,
    struct fc_arena *a, const char **data_r, size_t *len_r)
{
	struct pg_index *ix = index;
	char uidbuf[16], limbuf[16], maxbuf[16];
	const char *v[4] = { ix->idbuf, uidbuf, limbuf, maxbuf };
	bool up = ix->ahead_uid != 0 && uid > ix->ahead_uid;
	PGresult *r;
	char *data;
	size_t len;
	int found;

	ix->ahead_uid = uid;
	if (!up) {
		PQclear(ix->ahead);
		ix->ahead = NULL;
		ix->ahead_size = PG_AHEAD_FIRST;
	}
	if ((found = pg_ahead_find(ix, uid, a, data_r, len_r)) >= 0)
		return found;
	PQclear(ix->ahead);
	ix->ahead = NULL;
	ix->ahead_next = 0;
	snprintf(uidbuf, sizeof(uidbuf), "%" PRIu32, uid);
	snprintf(limbuf, sizeof(limbuf), "%d", ix->ahead_size);
	snprintf(maxbuf, sizeof(maxbuf), "%d", PG_AHEAD_ENTRY);
	if (ix->ahead_size < PG_AHEAD_MAX)
		ix->ahead_size *= 2;
	r = pgsql_st_exec(st, PS_CACHE_AHEAD, 4, v, NULL, NULL, 1);
	if (r == NULL)
		return -1;
	ix->ahead = r;
	if ((found = pg_ahead_find(ix, uid, a, data_r, len_r)) >= 0)
		return found;
	if (PQntuples(r) == 0 || (uint32_t)pg_int(r, 0, 0) != uid)
		return fc_store_fail(st, FC_ERR_EXPUNGED, "message %"
		    PRIu32 " was expunged", uid);

	/* too large for the rows: alone */
	r = pgsql_st_exec(st, PS_CACHE_GET, 2, v, NULL, NULL, 1);
	if (r == NULL)
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return fc_store_fail(st, FC_ERR_EXPUNGED, "message %"
		    PRIu32 " was expunged", uid);
	}
	if (PQgetisnull(r, 0, 0)) {
		PQclear(r);
		return 0;
	}
	len = (size_t)PQgetlength(r, 0, 0);
	data = fc_arena_alloc(a, len + 1);
	memcpy(data, PQgetvalue(r, 0, 0), len);
	PQclear(r);
	*data_r = data;
	*len_r = len;
	return 1;
}

static int
pg_index_cache_put(struct fc_store *st, void *index, uint32_t uid,
    const void *data, size_t len)
{
	struct pg_index *ix = index;
	char uidbuf[16];
	const char *v[3] = { ix->idbuf, uidbuf, data };
	int lengths[3] = { 0, 0, (int)len }, formats[3] = { 0, 0, 1 };
	PGresult *r;

	if (len > PG_BODY_PIECE)
		return fc_store_fail(st, FC_ERR_LIMIT, "a cache entry of %zu "
		    "bytes", len);
	if (len == 0)
		v[2] = "";		/* bytea needs a pointer */
	snprintf(uidbuf, sizeof(uidbuf), "%" PRIu32, uid);
	r = pgsql_st_exec(st, PS_CACHE_PUT, 3, v, lengths, formats, 0);
	if (r == NULL)
		return -1;
	PQclear(r);
	return 0;
}

static int
pg_index_watch(struct fc_store *st, void *index, void (*fn)(void *arg),
    void *arg)
{
	struct pg_index *ix = index;
	const char *err;

	if (fn == NULL) {
		if (ix->watching)
			pgsql_watch_remove(&ix->watcher);
		ix->watching = false;
		return 0;
	}
	ix->watcher.mailbox_id = ix->mailbox_id;
	ix->watcher.fn = fn;
	ix->watcher.arg = arg;
	if (ix->watching)
		return 0;
	if (pgsql_watch_add(&ix->watcher, &err) < 0)
		return fc_store_fail(st, FC_ERR_TEMP, "%s", err);
	ix->watching = true;
	return 0;
}

const struct fc_storage_ops pgsql_storage_ops = {
	.size = sizeof(struct fc_storage_ops),
	.store_open = pg_store_open,
	.store_close = pg_store_close,
	.list = pg_list,
	.create = pg_create,
	.delete = pg_delete,
	.rename = pg_rename,
	.subscribe = pg_subscribe,
	.quota = pg_quota,
	.append_begin = pg_append_begin,
	.append_write = pg_append_write,
	.append_commit = pg_append_commit,
	.append_abort = pg_append_abort,
	.index_open = pg_index_open,
	.index_close = pg_index_close,
	.index_refresh = pg_index_refresh,
	.index_state = pg_index_state,
	.index_store = pg_index_store,
	.index_expunge = pg_index_expunge,
	.index_copy = pg_index_copy,
	.index_open_message = pg_index_open_message,
	.index_watch = pg_index_watch,
	.index_open_header = pg_index_open_header,
	.index_cache_get = pg_index_cache_get,
	.index_cache_put = pg_index_cache_put,
};
