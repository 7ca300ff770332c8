/*
 * imap_select.c - the selected mailbox: SELECT, EXAMINE, CLOSE,
 * UNSELECT (RFC 3691), EXPUNGE and UID EXPUNGE (RFC 4315), STORE,
 * COPY and MOVE (RFC 6851) with COPYUID, APPEND and MULTIAPPEND (RFC
 * 3502) with APPENDUID, IDLE (RFC 2177), and the untagged news of what
 * other sessions changed. After ENABLE IMAP4rev2, SELECT says no RECENT
 * or UNSEEN and sends the mailbox's LIST line (RFC 9051 6.3.2). "$" in a
 * set is the saved search result (RFC 5182), which every SELECT empties.
 *
 * Sequence numbers never shift under a command: the storage view moves
 * only in fc_mailbox_sync(), which imap_news() calls before a tagged
 * answer, holding expunges back after FETCH, STORE and SEARCH (RFC 3501
 * 7.4.1) so the client learns of them at its next NOOP, CHECK, IDLE or
 * other command.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <facteur/arena.h>
#include <facteur/log.h>
#include <facteur/session.h>
#include <facteur/storage.h>

#include "imap.h"

static const struct {
	unsigned int bit;
	const char *name;
} imap_system_flags[] = {
	{ FC_FLAG_ANSWERED, "\\Answered" },
	{ FC_FLAG_FLAGGED, "\\Flagged" },
	{ FC_FLAG_DELETED, "\\Deleted" },
	{ FC_FLAG_SEEN, "\\Seen" },
	{ FC_FLAG_DRAFT, "\\Draft" },
};
#define NSYSTEM	(sizeof(imap_system_flags) / sizeof(imap_system_flags[0]))

void
imap_flags_write(struct imap_session *is, uint32_t seq)
{
	unsigned int flags = fc_msg_flags(is->box, seq);
	uint64_t kw = fc_msg_keywords(is->box, seq);
	size_t i, n = fc_mailbox_keyword_count(is->box);
	bool first = true;

	imap_str_addc(&is->out, '(');
	for (i = 0; i < NSYSTEM; i++)
		if (flags & imap_system_flags[i].bit) {
			if (!first)
				imap_str_addc(&is->out, ' ');
			imap_str_adds(&is->out, imap_system_flags[i].name);
			first = false;
		}
	for (i = 0; i < n && i < 64; i++)
		if (kw & (1ULL << i)) {
			if (!first)
				imap_str_addc(&is->out, ' ');
			imap_str_adds(&is->out, fc_mailbox_keyword(is->box, i));
			first = false;
		}
	imap_str_addc(&is->out, ')');
}

/* A keyword as RFC 3501 allows: atom characters, no "]" or wildcards. */
static bool
imap_keyword_ok(const char *k)
{
	const unsigned char *p;

	if (*k == '\0')
		return false;
	for (p = (const unsigned char *)k; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f
		    || strchr("(){%*\"\\]", *p) != NULL)
			return false;
	return true;
}

int
imap_flags_parse(struct imap_session *is, const struct imap_arg *arg,
    unsigned int *flags_r, const char ***keywords_r)
{
	const struct imap_arg *items = arg;
	size_t n = 1, i, k, nk = 0;
	const char **kws;

	if (arg->type == IMAP_ARG_LIST) {
		items = arg->list;
		n = arg->count;
	}
	kws = fc_arena_alloc(is->arena, (n + 1) * sizeof(*kws));
	*flags_r = 0;
	for (i = 0; i < n; i++) {
		const char *f = items[i].str;

		if (items[i].type != IMAP_ARG_ATOM)
			return -1;
		if (*f == '\\') {
			for (k = 0; k < NSYSTEM; k++)
				if (strcasecmp(f, imap_system_flags[k].name)
				    == 0)
					break;
			if (k == NSYSTEM)
				return -1;	/* \Recent, \*, or unknown */
			*flags_r |= imap_system_flags[k].bit;
			continue;
		}
		if (!imap_keyword_ok(f))
			return -1;
		kws[nk++] = f;
	}
	kws[nk] = NULL;
	*keywords_r = kws;
	return 0;
}

/* "* FLAGS" and PERMANENTFLAGS: at SELECT, and again whenever a new
 * keyword appears in the mailbox (RFC 3501 7.2.6). */
static void
imap_flags_announce(struct imap_session *is)
{
	size_t i, nk = fc_mailbox_keyword_count(is->box);

	if (nk > 64)
		nk = 64;
	imap_str_adds(&is->out, "* FLAGS (\\Answered \\Flagged \\Deleted "
	    "\\Seen \\Draft");
	for (i = 0; i < nk; i++)
		imap_str_printf(&is->out, " %s", fc_mailbox_keyword(is->box, i));
	imap_str_adds(&is->out, ")\r\n* OK [PERMANENTFLAGS (");
	if (!is->readonly) {
		imap_str_adds(&is->out, "\\Answered \\Flagged \\Deleted \\Seen "
		    "\\Draft");
		for (i = 0; i < nk; i++)
			imap_str_printf(&is->out, " %s",
			    fc_mailbox_keyword(is->box, i));
		if (!fc_mailbox_keywords_full(is->box))
			imap_str_adds(&is->out, " \\*");
	}
	imap_str_adds(&is->out, ")] Flags permitted\r\n");
	is->keywords_sent = nk;
}

/* ------------------------------------------------------------------ */
/* News */

struct imap_news_ctx {
	struct imap_session *is;
	uint32_t *changed;
	size_t nchanged, size;
	uint32_t *gone;			/* QRESYNC: UIDs for VANISHED */
	size_t ngone, gonesize;
};

static void
imap_news_expunged(void *arg, uint32_t seq, uint32_t uid)
{
	struct imap_news_ctx *nc = arg;

	nc->is->exists--;
	if (!nc->is->qresync) {
		fc_session_printf(nc->is->s, "* %u EXPUNGE\r\n", seq);
		return;
	}
	/* RFC 7162 3.2.10: one VANISHED for them all, after the sync */
	if (nc->ngone == nc->gonesize) {
		nc->gonesize = nc->gonesize == 0 ? 16 : nc->gonesize * 2;
		nc->gone = fc_realloc(nc->gone,
		    nc->gonesize * sizeof(*nc->gone));
	}
	nc->gone[nc->ngone++] = uid;
}

static void
imap_news_changed(void *arg, uint32_t seq)
{
	struct imap_news_ctx *nc = arg;

	if (nc->nchanged == nc->size) {
		nc->size = nc->size == 0 ? 16 : nc->size * 2;
		nc->changed = fc_realloc(nc->changed,
		    nc->size * sizeof(*nc->changed));
	}
	nc->changed[nc->nchanged++] = seq;
}

static const struct fc_sync_ops imap_news_ops = {
	.expunged = imap_news_expunged,
	.changed = imap_news_changed,
};

void
imap_news(struct imap_session *is, bool expunges)
{
	struct imap_news_ctx nc = { .is = is };
	uint32_t count;
	size_t i;

	if (is->box == NULL)
		return;
	if (fc_mailbox_sync(is->box, expunges ? 0 : FC_SYNC_KEEP_EXPUNGED,
	    &imap_news_ops, &nc) < 0) {
		const char *text = "";

		fc_store_error(is->store, &text);
		fc_log_session(is->s, FC_LOG_WARNING, "event=error op=sync "
		    "reason=\"%s\"", fc_log_quote(is->arena, text, 200));
		free(nc.changed);
		free(nc.gone);
		return;
	}
	if (nc.ngone > 0)
		imap_vanished_uids(is, nc.gone, nc.ngone);
	free(nc.gone);
	count = fc_mailbox_count(is->box);
	if (fc_mailbox_keyword_count(is->box) > is->keywords_sent
	    && is->keywords_sent < 64) {
		imap_flags_announce(is);
		imap_write_str(is);
	}
	for (i = 0; i < nc.nchanged; i++) {
		uint32_t seq = nc.changed[i];

		if (seq > count)
			continue;
		imap_str_printf(&is->out, "* %u FETCH (UID %u FLAGS ", seq,
		    fc_msg_uid(is->box, seq));
		imap_flags_write(is, seq);
		if (is->condstore)
			imap_str_printf(&is->out, " MODSEQ (%llu)",
			    (unsigned long long)fc_msg_modseq(is->box, seq));
		imap_str_adds(&is->out, ")\r\n");
		imap_write_str(is);
	}
	free(nc.changed);
	if (count != is->exists) {
		is->exists = count;
		fc_session_printf(is->s, "* %u EXISTS\r\n", count);
	}
}

/* ------------------------------------------------------------------ */
/* Sets */

uint32_t
imap_uid_lower(struct fc_mailbox *box, uint32_t count, uint32_t uid)
{
	uint32_t lo = 1, hi = count + 1;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (fc_msg_uid(box, mid) < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* "$": the saved messages still in the view, whether the command is a
 * UID one or not (RFC 5182 2.1); an empty result is no error. */
static uint32_t *
imap_saved_seqs(struct imap_session *is, size_t *n_r)
{
	uint32_t count = fc_mailbox_count(is->box), *out, seq;
	size_t i, n = 0;

	out = fc_arena_alloc(is->arena, (is->nsaved + 1) * sizeof(*out));
	for (i = 0; i < is->nsaved; i++) {
		seq = imap_uid_lower(is->box, count, is->saved[i]);
		if (seq <= count && fc_msg_uid(is->box, seq) == is->saved[i])
			out[n++] = seq;
	}
	*n_r = n;
	return out;
}

uint32_t *
imap_seqs(struct imap_session *is, const char *set, bool uid, size_t *n_r)
{
	struct imap_seqset ss;
	uint32_t count = fc_mailbox_count(is->box), *out, i;
	uint32_t maxv = uid ? (count > 0 ? fc_msg_uid(is->box, count) : 0) :
	    count;
	int32_t *diff;
	int32_t depth = 0;
	size_t k, n = 0;

	if (imap_seqset_parse(set, is->arena, &ss) < 0)
		return NULL;
	if (ss.saved)
		return imap_saved_seqs(is, n_r);
	diff = fc_arena_alloc(is->arena, ((size_t)count + 2) * sizeof(*diff));
	memset(diff, 0, ((size_t)count + 2) * sizeof(*diff));
	for (k = 0; k < ss.count; k++) {
		uint32_t lo = ss.ranges[k].lo, hi = ss.ranges[k].hi, t;

		if (lo == 0)
			lo = maxv;
		if (hi == 0)
			hi = maxv;
		if (lo > hi) {
			t = lo;
			lo = hi;
			hi = t;
		}
		if (count == 0) {
			if (!uid)
				return NULL;	/* no message has a number */
			continue;
		}
		if (!uid) {
			if (lo == 0 || hi > count)
				return NULL;	/* no such message */
		} else {
			/* UIDs: the messages within, none is fine */
			lo = imap_uid_lower(is->box, count, lo);
			hi = hi == UINT32_MAX ? count :
			    imap_uid_lower(is->box, count, hi + 1) - 1;
			if (lo > hi)
				continue;
		}
		diff[lo]++;
		diff[hi + 1]--;
	}
	out = fc_arena_alloc(is->arena, ((size_t)count + 1) * sizeof(*out));
	for (i = 1; i <= count; i++) {
		depth += diff[i];
		if (depth > 0)
			out[n++] = i;
	}
	*n_r = n;
	return out;
}

/* ------------------------------------------------------------------ */
/* SELECT and EXAMINE, CLOSE and UNSELECT */

void
imap_close_mailbox(struct imap_session *is)
{
	if (is->box == NULL)
		return;
	if (is->watching)
		fc_mailbox_watch(is->box, NULL, NULL);
	is->watching = false;
	fc_mailbox_close(&is->box);
	is->exists = 0;
	/* RFC 5182 2.1: "$" is empty in the next mailbox */
	free(is->saved);
	is->saved = NULL;
	is->nsaved = 0;
	if (is->state == IMAP_ST_SELECTED)
		is->state = IMAP_ST_AUTH;
}

enum fc_next
imap_cmd_select(struct imap_session *is, struct imap_command *c,
    bool readonly)
{
	const char *what = readonly ? "EXAMINE" : "SELECT";
	struct imap_select_params params;
	enum fc_next next;
	const char *name, *err;
	uint32_t count, seq, unseen = 0;

	memset(&params, 0, sizeof(params));
	if (c->count == 2) {
		/* RFC 7162 3.1.8 (CONDSTORE), 3.2.5 (QRESYNC (...)) */
		if (imap_select_params_parse(&c->args[1], is->arena, &params,
		    &err) < 0)
			return imap_bad(is, c->tag, "%s", err);
		if (params.qresync && !is->qresync)
			return imap_bad(is, c->tag, "QRESYNC is not enabled: "
			    "ENABLE QRESYNC first");
		is->condstore = true;
	} else if (c->count != 1)
		return imap_bad(is, c->tag, "%s mailbox", what);
	if ((name = imap_mailbox_arg(is, c->tag, &c->args[0], &next)) == NULL)
		return next;
	if (is->box != NULL) {
		imap_close_mailbox(is);
		/* RFC 7162 3.2.11: where the old mailbox's responses end;
		 * harmless to clients without QRESYNC */
		imap_untagged(is, "OK [CLOSED] Previous mailbox closed");
	}
	if (fc_mailbox_open(is->store, name, readonly ? FC_OPEN_READONLY : 0,
	    &is->box) < 0)
		return imap_store_no(is, c->tag, what);
	is->state = IMAP_ST_SELECTED;
	is->readonly = fc_mailbox_readonly(is->box);
	count = fc_mailbox_count(is->box);
	is->exists = count;
	imap_flags_announce(is);
	imap_str_printf(&is->out, "* %u EXISTS\r\n", count);
	if (is->rev2) {
		/* RFC 9051 6.3.2: no RECENT, no UNSEEN, but the mailbox's
		 * LIST line (its name as the server spells it) */
		imap_write_str(is);
		imap_list_selected(is, name);
	} else
		imap_str_adds(&is->out, "* 0 RECENT\r\n");
	for (seq = 1; seq <= count && !is->rev2; seq++)
		if (!(fc_msg_flags(is->box, seq) & FC_FLAG_SEEN)) {
			unseen = seq;
			break;
		}
	if (unseen > 0)
		imap_str_printf(&is->out, "* OK [UNSEEN %u] First unseen\r\n",
		    unseen);
	imap_str_printf(&is->out, "* OK [UIDVALIDITY %u] UIDs valid\r\n"
	    "* OK [UIDNEXT %u] Predicted next UID\r\n"
	    "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
	    fc_mailbox_uidvalidity(is->box), fc_mailbox_uidnext(is->box),
	    (unsigned long long)fc_mailbox_highestmodseq(is->box));
	imap_write_str(is);
	if (params.qresync)
		imap_qresync_select(is, &params);
	return imap_ok(is, c->tag, "[%s] %s completed", is->readonly ?
	    "READ-ONLY" : "READ-WRITE", what);
}

enum fc_next
imap_cmd_close(struct imap_session *is, struct imap_command *c,
    bool expunge)
{
	const char *what = expunge ? "CLOSE" : "UNSELECT";

	if (c->count != 0)
		return imap_bad(is, c->tag, "%s takes no arguments", what);
	/* RFC 3501 6.4.2: \Deleted messages go, without EXPUNGE answers */
	if (expunge && !is->readonly && fc_mailbox_expunge(is->box, NULL, 0)
	    < 0) {
		imap_close_mailbox(is);
		return imap_store_no(is, c->tag, what);
	}
	imap_close_mailbox(is);
	return imap_ok(is, c->tag, "%s completed", what);
}

enum fc_next
imap_cmd_expunge(struct imap_session *is, struct imap_command *c,
    const struct imap_arg *uidset)
{
	uint32_t *seqs, *uids = NULL;
	size_t n = 0, i;
	int r;

	if (uidset == NULL && c->count != 0)
		return imap_bad(is, c->tag, "EXPUNGE takes no arguments");
	if (is->readonly)
		return imap_no(is, c->tag, "[READ-ONLY] Mailbox is read-only");
	if (uidset != NULL) {
		if ((seqs = imap_seqs(is, uidset->str, true, &n)) == NULL)
			return imap_bad(is, c->tag, "Invalid UID set");
		uids = fc_arena_alloc(is->arena, (n + 1) * sizeof(*uids));
		for (i = 0; i < n; i++)
			uids[i] = fc_msg_uid(is->box, seqs[i]);
		r = n == 0 ? 0 : fc_mailbox_expunge(is->box, uids, n);
	} else
		r = fc_mailbox_expunge(is->box, NULL, 0);
	if (r < 0)
		return imap_store_no(is, c->tag, "EXPUNGE");
	imap_news(is, true);
	return imap_ok(is, c->tag, "EXPUNGE completed");
}

/* ------------------------------------------------------------------ */
/* STORE */

enum fc_next
imap_cmd_store(struct imap_session *is, struct imap_command *c,
    const struct imap_arg *args, size_t n, bool uid)
{
	enum fc_store_op op;
	const char *item, **keywords;
	unsigned int flags;
	uint32_t *seqs, *failed = NULL;
	size_t count, i, nfailed = 0;
	uint64_t unchangedsince = 0;
	bool silent, conditional = false;
	struct imap_arg *copy;

	if (n == 4 && args[1].type == IMAP_ARG_LIST) {
		/* RFC 7162 3.1.3: STORE set (UNCHANGEDSINCE n) item flags */
		const struct imap_arg *m = &args[1];

		if (m->count != 2 || !imap_arg_is_atom(&m->list[0],
		    "UNCHANGEDSINCE") || m->list[1].type != IMAP_ARG_ATOM
		    || imap_parse_number(m->list[1].str, INT64_MAX,
		    &unchangedsince) < 0)
			return imap_bad(is, c->tag, "STORE set "
			    "(UNCHANGEDSINCE modseq) item flags");
		conditional = true;
		is->condstore = true;
		copy = fc_arena_alloc(is->arena, 3 * sizeof(*copy));
		copy[0] = args[0];
		copy[1] = args[2];
		copy[2] = args[3];
		args = copy;
		n = 3;
	}
	if (n != 3 || args[0].type != IMAP_ARG_ATOM
	    || args[1].type != IMAP_ARG_ATOM)
		return imap_bad(is, c->tag, "STORE set item flags");
	item = args[1].str;
	op = *item == '+' ? FC_STORE_ADD : *item == '-' ? FC_STORE_REMOVE :
	    FC_STORE_REPLACE;
	if (op != FC_STORE_REPLACE)
		item++;
	if (strcasecmp(item, "FLAGS") == 0)
		silent = false;
	else if (strcasecmp(item, "FLAGS.SILENT") == 0)
		silent = true;
	else
		return imap_bad(is, c->tag, "Unknown STORE item");
	if (imap_flags_parse(is, &args[2], &flags, &keywords) < 0)
		return imap_bad(is, c->tag, "Invalid flag");
	if ((seqs = imap_seqs(is, args[0].str, uid, &count)) == NULL)
		return imap_bad(is, c->tag, "Invalid message set");
	if (is->readonly)
		return imap_no(is, c->tag, "[READ-ONLY] Mailbox is read-only");
	if (conditional && unchangedsince == 0) {
		/* every message has a modseq above 0: none may change */
		failed = seqs;
		nfailed = count;
		count = 0;
	}
	if (count > 0 && fc_mailbox_store(is->box, seqs, count, op, flags,
	    keywords, unchangedsince, is->arena, &failed, &nfailed) < 0)
		return imap_store_no(is, c->tag, "STORE");
	if (fc_mailbox_keyword_count(is->box) > is->keywords_sent
	    && is->keywords_sent < 64)
		imap_flags_announce(is);
	for (i = 0; i < count && (!silent || uid || is->condstore); i++) {
		size_t k;

		for (k = 0; k < nfailed && failed != seqs; k++)
			if (failed[k] == seqs[i])
				break;
		if (k < nfailed && failed != seqs)
			continue;	/* not changed: in [MODIFIED] */
		imap_str_printf(&is->out, "* %u FETCH (", seqs[i]);
		if (uid)
			imap_str_printf(&is->out, "UID %u%s",
			    fc_msg_uid(is->box, seqs[i]), silent ? "" : " ");
		if (!silent) {
			imap_str_adds(&is->out, "FLAGS ");
			imap_flags_write(is, seqs[i]);
		}
		if (is->condstore)
			imap_str_printf(&is->out, "%sMODSEQ (%llu)",
			    silent && !uid ? "" : " ", (unsigned long long)
			    fc_msg_modseq(is->box, seqs[i]));
		imap_str_adds(&is->out, ")\r\n");
		if (is->out.len > 16384)
			imap_write_str(is);
	}
	imap_write_str(is);
	imap_news(is, false);
	if (nfailed > 0) {
		uint32_t *ids = fc_arena_alloc(is->arena,
		    nfailed * sizeof(*ids));

		/* [MODIFIED] names UIDs for UID STORE, else numbers */
		for (i = 0; i < nfailed; i++)
			ids[i] = uid ? fc_msg_uid(is->box, failed[i]) :
			    failed[i];
		imap_str_printf(&is->out, "%s OK [MODIFIED ", c->tag);
		imap_uidset_write(&is->out, ids, nfailed);
		imap_str_adds(&is->out, "] Conditional STORE failed\r\n");
		imap_write_str(is);
		return FC_NEXT_CONTINUE;
	}
	return imap_ok(is, c->tag, "STORE completed");
}

/* ------------------------------------------------------------------ */
/* COPY and MOVE */

/* A list of numbers as a sequence set: consecutive runs as ranges. */
void
imap_uidset_write(struct imap_str *out, const uint32_t *uids, size_t n)
{
	size_t i = 0, j;

	while (i < n) {
		for (j = i; j + 1 < n && uids[j + 1] == uids[j] + 1; j++)
			;
		if (i > 0)
			imap_str_addc(out, ',');
		if (j > i)
			imap_str_printf(out, "%u:%u", uids[i], uids[j]);
		else
			imap_str_printf(out, "%u", uids[i]);
		i = j + 1;
	}
}

enum fc_next
imap_cmd_copy(struct imap_session *is, struct imap_command *c,
    const struct imap_arg *args, size_t n, bool uid, bool move)
{
	const char *what = move ? "MOVE" : "COPY";
	uint32_t *seqs, *src, *dst, uidvalidity = 0;
	enum fc_next next;
	const char *dest;
	size_t count, i;

	if (n != 2 || args[0].type != IMAP_ARG_ATOM)
		return imap_bad(is, c->tag, "%s set mailbox", what);
	if ((seqs = imap_seqs(is, args[0].str, uid, &count)) == NULL)
		return imap_bad(is, c->tag, "Invalid message set");
	if ((dest = imap_mailbox_arg(is, c->tag, &args[1], &next)) == NULL)
		return next;
	if (move && is->readonly)
		return imap_no(is, c->tag, "[READ-ONLY] Mailbox is read-only");
	if (count == 0) {
		/* RFC 9051 6.4.7: nothing to copy is not an error */
		return imap_ok(is, c->tag, "%s completed", what);
	}
	src = fc_arena_alloc(is->arena, count * sizeof(*src));
	dst = fc_arena_alloc(is->arena, count * sizeof(*dst));
	for (i = 0; i < count; i++)
		src[i] = fc_msg_uid(is->box, seqs[i]);
	if (fc_mailbox_copy(is->box, seqs, count, dest, move, &uidvalidity,
	    dst) < 0) {
		if (fc_store_error(is->store, NULL) == FC_ERR_NOTFOUND)
			return imap_no(is, c->tag, "[TRYCREATE] No such "
			    "mailbox");
		return imap_store_no(is, c->tag, what);
	}
	imap_str_printf(&is->out, "%s %s [COPYUID %u ", move ? "*" : c->tag,
	    "OK", uidvalidity);
	imap_uidset_write(&is->out, src, count);
	imap_str_addc(&is->out, ' ');
	imap_uidset_write(&is->out, dst, count);
	imap_str_printf(&is->out, "] %s completed\r\n", what);
	if (!move) {
		/* news before the tagged answer */
		struct imap_str done = is->out;

		imap_str_init(&is->out);
		imap_news(is, true);
		imap_str_free(&is->out);
		is->out = done;
		imap_write_str(is);
		return FC_NEXT_CONTINUE;
	}
	imap_write_str(is);
	imap_news(is, true);
	return imap_ok(is, c->tag, "MOVE completed");
}

/* ------------------------------------------------------------------ */
/* APPEND */

static const char *const imap_months[] = { "Jan", "Feb", "Mar", "Apr",
	"May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* "dd-Mon-yyyy hh:mm:ss +zzzz" (day may be " d"); -1 when malformed */
static int
imap_date_time(const char *s, time_t *r)
{
	struct tm tm;
	char mon[4];
	int day, year, hh, mm, ss, zone, n = 0, i;

	memset(&tm, 0, sizeof(tm));
	if (*s == ' ')
		s++;
	if (sscanf(s, "%2d-%3s-%4d %2d:%2d:%2d %5d%n", &day, mon, &year, &hh,
	    &mm, &ss, &zone, &n) != 7 || s[n] != '\0')
		return -1;
	for (i = 0; i < 12; i++)
		if (strcasecmp(mon, imap_months[i]) == 0)
			break;
	if (i == 12 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60
	    || year < 1970 || (s[n - 5] != '+' && s[n - 5] != '-'))
		return -1;
	tm.tm_mday = day;
	tm.tm_mon = i;
	tm.tm_year = year - 1900;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	zone = zone < 0 ? -zone : zone;
	*r = timegm(&tm) - (s[n - 5] == '-' ? -1 : 1) *
	    ((zone / 100) * 3600 + (zone % 100) * 60);
	return 0;
}

/* [(flags)] [date]: the options of one message, then its append. */
static int
imap_append_opts(struct imap_session *is, const struct imap_arg *args,
    size_t n, const char **error_r)
{
	struct imap_append *ap = &is->append;
	const char **keywords = NULL;
	unsigned int flags = 0;
	time_t date = 0;
	size_t i = 0;

	if (i < n && args[i].type == IMAP_ARG_LIST) {
		if (imap_flags_parse(is, &args[i], &flags, &keywords) < 0) {
			*error_r = "[CLIENTBUG] Invalid flag";
			return -1;
		}
		i++;
	}
	if (i < n) {
		if (args[i].type != IMAP_ARG_QUOTED
		    || imap_date_time(args[i].str, &date) < 0) {
			*error_r = "[CLIENTBUG] Invalid date-time";
			return -1;
		}
		i++;
	}
	if (i != n) {
		*error_r = "[CLIENTBUG] APPEND mailbox [(flags)] [date] {size}";
		return -1;
	}
	if (fc_append_begin(is->store, ap->mailbox, flags, keywords, date,
	    &ap->ap) < 0) {
		switch (fc_store_error(is->store, NULL)) {
		case FC_ERR_NOTFOUND:
			*error_r = "[TRYCREATE] No such mailbox";
			break;
		case FC_ERR_NOQUOTA:
			*error_r = "[OVERQUOTA] Quota exceeded";
			break;
		case FC_ERR_BADNAME:
			*error_r = "[CANNOT] Invalid mailbox name";
			break;
		case FC_ERR_TEMP:
			*error_r = "[UNAVAILABLE] Cannot store the message "
			    "now, try again later";
			break;
		default:
			*error_r = "[SERVERBUG] Cannot store the message now";
			break;
		}
		ap->ap = NULL;
		return -1;
	}
	return 0;
}

int
imap_append_prepare(struct imap_session *is, struct imap_command *c,
    uint64_t size, const char **error_r)
{
	struct imap_append *ap = &is->append;
	const char *name;
	const char *reason = "invalid name";

	memset(ap, 0, sizeof(*ap));
	ap->header_state = 1;		/* at the start of a line */
	ap->tag = fc_arena_strdup(is->arena, c->tag);
	ap->total = size;
	ap->held = fc_arena_alloc(is->arena,
	    (size_t)is->conf->max_append_messages * sizeof(*ap->held));
	/* imap_mailbox_arg() answers on its own; here the answer is ours */
	if (!imap_arg_is_string(&c->args[0])) {
		*error_r = "[CLIENTBUG] Mailbox name expected";
		return -1;
	}
	if (fc_mailbox_is_inbox(c->args[0].str))
		name = "INBOX";
	else if (strlen(c->args[0].str) != c->args[0].len)
		name = NULL;
	else if (is->utf8)
		name = c->args[0].str;
	else
		name = fc_mutf7_decode(is->arena, c->args[0].str, &reason);
	if (name == NULL || fc_mailbox_name_check(name, &reason) < 0) {
		*error_r = "[CANNOT] Invalid mailbox name";
		return -1;
	}
	ap->mailbox = fc_arena_strdup(is->arena, name);
	return imap_append_opts(is, c->args + 1, c->count - 1, error_r);
}

int
imap_append_next(struct imap_session *is, struct imap_command *c,
    uint64_t size, const char **error_r)
{
	struct imap_append *ap = &is->append;

	/* the last message is whole: it waits for the others */
	if (ap->ap != NULL)
		ap->held[ap->nheld++] = ap->ap;
	ap->ap = NULL;
	ap->total += size;
	ap->spooled = false;
	ap->utf8_data = false;
	ap->header_state = 1;		/* a new header to scan */
	return imap_append_opts(is, c->args, c->count, error_r);
}

void
imap_append_abort(struct imap_session *is)
{
	struct imap_append *ap = &is->append;

	if (ap->ap != NULL)
		fc_append_abort(&ap->ap);
	ap->ap = NULL;
	while (ap->nheld > 0)
		fc_append_abort(&ap->held[--ap->nheld]);
}

/*
 * The header ends at the first empty line: header_state is 0 inside a
 * line, 1 at the start of one, 2 after a CR there. A message starting
 * with an empty line has no header.
 */
void
imap_append_scan(struct imap_append *ap, const char *data, size_t len)
{
	size_t i;

	if (ap->header_state < 0)
		return;			/* in the body */
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)data[i];

		if (c == '\n') {
			if (ap->header_state != 0) {
				ap->header_state = -1;
				return;
			}
			ap->header_state = 1;
		} else if (c == '\r' && ap->header_state == 1)
			ap->header_state = 2;
		else {
			if (c >= 0x80)
				ap->header_8bit = true;
			if (c != '\r')
				ap->header_state = 0;
		}
	}
}

/*
 * Takes committed messages out again, when a later one of the same
 * APPEND could not be committed: flagged \Deleted and expunged by UID,
 * through a view of our own. Other sessions may have seen them for a
 * moment; none can have changed them in a way that matters here.
 */
static void
imap_append_rollback(struct imap_session *is, const uint32_t *uids,
    size_t n)
{
	struct fc_mailbox *box;
	uint32_t *seqs;
	size_t i, k = 0;

	if (n == 0)
		return;
	if (fc_mailbox_open(is->store, is->append.mailbox, 0, &box) < 0)
		goto fail;
	if (fc_mailbox_sync(box, 0, NULL, NULL) < 0) {
		fc_mailbox_close(&box);
		goto fail;
	}
	seqs = fc_arena_alloc(is->arena, n * sizeof(*seqs));
	for (i = 0; i < n; i++)
		if ((seqs[k] = fc_mailbox_seq(box, uids[i])) != 0)
			k++;
	if (fc_mailbox_store(box, seqs, k, FC_STORE_ADD, FC_FLAG_DELETED,
	    NULL, 0, is->arena, NULL, NULL) < 0
	    || fc_mailbox_expunge(box, uids, n) < 0) {
		fc_mailbox_close(&box);
		goto fail;
	}
	fc_mailbox_close(&box);
	return;
fail:
	fc_log_session(is->s, FC_LOG_ERROR, "event=error op=append "
	    "reason=\"cannot take back %zu messages of a failed "
	    "MULTIAPPEND from %s\"", n, fc_log_quote(is->arena,
	    is->append.mailbox, 200));
}

/* The line after the last message: the end of the command. */
enum fc_next
imap_append_finish(struct imap_session *is)
{
	struct imap_append *ap = &is->append;
	uint32_t uidvalidity = 0, *uids;
	size_t i, n, committed;
	const char *text = "", *why;
	enum fc_error e;

	is->input = IMAP_IN_COMMAND;
	imap_str_reset(&is->cmd);
	if (ap->ap == NULL || ap->failed) {
		/* no error text: the store refused a write */
		bool write_failed = ap->ap != NULL && ap->error == NULL;

		imap_append_abort(is);
		if (write_failed)
			return imap_store_no(is, ap->tag, "APPEND");
		return imap_no(is, ap->tag, "%s", ap->error != NULL ?
		    ap->error : "[TRYCREATE] Cannot append there");
	}
	if (ap->header_8bit && !is->utf8) {
		/* RFC 6855 4: a server offering UTF8=ACCEPT refuses 8-bit
		 * header fields from a client that did not enable it (or
		 * IMAP4rev2, which includes it) */
		imap_append_abort(is);
		return imap_no(is, ap->tag, "8-bit characters in the header: "
		    "ENABLE UTF8=ACCEPT first");
	}
	ap->held[ap->nheld++] = ap->ap;
	ap->ap = NULL;
	n = ap->nheld;
	uids = fc_arena_alloc(is->arena, n * sizeof(*uids));
	for (i = 0; i < n; i++) {
		if (fc_append_commit(&ap->held[i], &uidvalidity, &uids[i])
		    == 0)
			continue;
		/* all or nothing (RFC 3502): what was committed before
		 * this one goes again, and the answer says why this one
		 * failed (the store's error, kept across the rollback) */
		ap->held[i] = NULL;
		committed = i;
		e = fc_store_error(is->store, &text);
		why = fc_arena_strdup(is->arena, text != NULL ? text : "");
		while (++i < n)
			fc_append_abort(&ap->held[i]);
		ap->nheld = 0;
		imap_append_rollback(is, uids, committed);
		fc_store_fail(is->store, e, "%s", why);
		return imap_store_no(is, ap->tag, "APPEND");
	}
	ap->nheld = 0;
	if (is->state == IMAP_ST_SELECTED)
		imap_news(is, true);
	if (n > 0 && uids[0] != 0) {
		imap_str_printf(&is->out, "%s OK [APPENDUID %u ", ap->tag,
		    uidvalidity);
		imap_uidset_write(&is->out, uids, n);
		imap_str_adds(&is->out, "] APPEND completed\r\n");
		imap_write_str(is);
		return FC_NEXT_CONTINUE;
	}
	return imap_ok(is, ap->tag, "APPEND completed");
}

/* ------------------------------------------------------------------ */
/* IDLE */

static void
imap_idle_changed(struct fc_mailbox *box, void *arg)
{
	struct imap_session *is = arg;

	(void)box;
	if (is->input == IMAP_IN_IDLE)
		imap_news(is, true);
}

enum fc_next
imap_cmd_idle(struct imap_session *is, struct imap_command *c)
{
	if (c->count != 0)
		return imap_bad(is, c->tag, "IDLE takes no arguments");
	is->idle_tag = fc_arena_strdup(is->arena, c->tag);
	imap_news(is, true);
	if (is->box != NULL && !is->watching) {
		if (fc_mailbox_watch(is->box, imap_idle_changed, is) == 0)
			is->watching = true;
	}
	is->input = IMAP_IN_IDLE;
	fc_session_puts(is->s, "+ idling\r\n");
	return FC_NEXT_CONTINUE;
}

enum fc_next
imap_idle_line(struct imap_session *is, char *line, size_t len)
{
	is->input = IMAP_IN_COMMAND;
	if (is->watching) {
		fc_mailbox_watch(is->box, NULL, NULL);
		is->watching = false;
	}
	if (len != 4 || strncasecmp(line, "DONE", 4) != 0)
		return imap_bad(is, is->idle_tag, "Expected DONE");
	imap_news(is, true);
	return imap_ok(is, is->idle_tag, "IDLE terminated");
}
