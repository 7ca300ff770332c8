/*
 * imap_fetch.c - FETCH and UID FETCH (RFC 3501 6.4.5, RFC 3516 BINARY).
 *
 * The answer is produced as the socket drains: one message at a time
 * while the core's output buffer has room, and the bytes of a body
 * section in chunks from the section reader (imap_render.h), whose
 * size is known before its first byte so the literal's {n} comes first.
 * Neither 100,000 messages nor a 50 MB body ever sits in memory; what a
 * message needs (its file, its MIME tree) lives in an arena emptied for
 * the next one.
 *
 * A message another session expunged (held back, so its number stays)
 * cannot be read any more: its body items are left out and the command
 * ends with NO [EXPUNGEISSUED] (RFC 2180 4.1.2). One the store cannot
 * give for now (its database is down) is left out the same way, and
 * the command ends with NO [UNAVAILABLE] (RFC 5530).
 *
 * ENVELOPE, BODY and BODYSTRUCTURE come from the store's message cache
 * when it has one (imap_cache.h) and no body section is asked for: the
 * message is then neither read nor parsed. When the only sections are
 * of the message's header (HEADER.FIELDS, as clients list mail) and
 * neither BODY nor BODYSTRUCTURE is asked for, the header is all that
 * is read (fc_msg_open_header()).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/log.h>
#include <facteur/mime.h>
#include <facteur/session.h>
#include <facteur/storage.h>

#include "imap.h"
#include "imap_cache.h"
#include "imap_render.h"

#define IMAP_CHUNK	(32 * 1024)

enum imap_fetch_kind {
	F_UID = 0,
	F_FLAGS,
	F_INTERNALDATE,
	F_SIZE,
	F_ENVELOPE,
	F_BODY,			/* BODY without a section */
	F_BODYSTRUCTURE,
	F_SECTION,		/* BODY[...], BINARY[...], RFC822* */
	F_BINARY_SIZE,
	F_MODSEQ,
};

struct imap_fetch_item {
	enum imap_fetch_kind kind;
	const char *name;		/* F_SECTION: "BODY", "BINARY", ... */
	struct imap_section *sec;
	bool binary;
	bool peek;
	uint64_t offset, length;	/* length UINT64_MAX: no partial */
};

struct imap_fetch {
	const char *tag;
	bool uid;
	struct imap_fetch_item *items;
	size_t nitems;
	bool need_mime;
	bool need_body;			/* a section: the file and tree */
	bool header_only;		/* ... of the header alone */
	bool sets_seen;
	uint32_t *seqs;
	size_t nseqs, next;

	/* the message being written */
	struct fc_arena *msg_arena;
	uint32_t seq;
	int fd;
	bool crlf;
	struct fc_mime_part *root;
	struct imap_cached cached;
	bool have_cached;
	size_t item;			/* next item of the message */
	struct imap_section_reader *reader;
	uint64_t left;			/* bytes of the reader still owed */
	bool expunged;			/* some message could not be read */
	bool unknown_cte;		/* some BINARY could not be decoded */
	bool unavailable;		/* the store failed for some message */
};

static char imap_chunk[IMAP_CHUNK];

static struct imap_fetch_item *
imap_fetch_add(struct imap_fetch *f, struct fc_arena *a, size_t *size)
{
	if (f->nitems == *size) {
		struct imap_fetch_item *grown;

		*size = *size == 0 ? 8 : *size * 2;
		grown = fc_arena_alloc(a, *size * sizeof(*grown));
		if (f->nitems > 0)
			memcpy(grown, f->items, f->nitems * sizeof(*grown));
		f->items = grown;
	}
	memset(&f->items[f->nitems], 0, sizeof(f->items[0]));
	f->items[f->nitems].length = UINT64_MAX;
	return &f->items[f->nitems++];
}

/*
 * Whether the size bytes reader gives hold a NUL: RFC 3516 4.3 sends
 * such content as a literal8 (~{n}), any other as a plain literal. The
 * literal's form comes before its bytes, so they are read once for this
 * and the section opened again to send them. 1, 0, or -1 with errno.
 */
static int
imap_section_has_nul(struct imap_section_reader *reader, uint64_t size)
{
	ssize_t n;

	while (size > 0) {
		n = imap_section_read(reader, imap_chunk, size < IMAP_CHUNK ?
		    (size_t)size : IMAP_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		if (memchr(imap_chunk, '\0', (size_t)n) != NULL)
			return 1;
		size -= (uint64_t)n;
	}
	return 0;
}

/* "BODY[...]<o.l>" and friends; -1 with *error_r. */
static int
imap_fetch_section(struct imap_session *is, struct imap_fetch_item *it,
    const char *atom, const char **error_r)
{
	const char *lb = strchr(atom, '['), *rb, *p;
	size_t nlen = (size_t)(lb - atom);
	uint64_t o, l;

	if (nlen == 4 && strncasecmp(atom, "BODY", 4) == 0)
		it->name = "BODY";
	else if (nlen == 9 && strncasecmp(atom, "BODY.PEEK", 9) == 0) {
		it->name = "BODY";
		it->peek = true;
	} else if (nlen == 6 && strncasecmp(atom, "BINARY", 6) == 0) {
		it->name = "BINARY";
		it->binary = true;
	} else if (nlen == 11 && strncasecmp(atom, "BINARY.PEEK", 11) == 0) {
		it->name = "BINARY";
		it->binary = true;
		it->peek = true;
	} else if (nlen == 11 && strncasecmp(atom, "BINARY.SIZE", 11) == 0) {
		it->name = "BINARY.SIZE";
		it->binary = true;
		it->peek = true;
		it->kind = F_BINARY_SIZE;
	} else {
		*error_r = "Unknown FETCH item";
		return -1;
	}
	if (it->kind != F_BINARY_SIZE)
		it->kind = F_SECTION;
	rb = strrchr(atom, ']');
	if (rb == NULL || rb < lb) {
		*error_r = "Missing ]";
		return -1;
	}
	if (imap_section_parse(is->arena, lb + 1, (size_t)(rb - lb - 1),
	    it->binary, &it->sec, error_r) < 0)
		return -1;
	p = rb + 1;
	if (*p == '\0')
		return 0;
	if (it->kind == F_BINARY_SIZE) {
		*error_r = "BINARY.SIZE takes no partial";
		return -1;
	}
	/* <offset.length> */
	{
		char num[24];
		const char *dot = strchr(p, '.'), *gt = strchr(p, '>');
		size_t n;

		if (*p != '<' || dot == NULL || gt == NULL || dot > gt
		    || gt[1] != '\0') {
			*error_r = "Invalid partial";
			return -1;
		}
		n = (size_t)(dot - p - 1);
		if (n == 0 || n >= sizeof(num))
			goto bad;
		memcpy(num, p + 1, n);
		num[n] = '\0';
		if (imap_parse_number(num, UINT32_MAX, &o) < 0)
			goto bad;
		n = (size_t)(gt - dot - 1);
		if (n == 0 || n >= sizeof(num))
			goto bad;
		memcpy(num, dot + 1, n);
		num[n] = '\0';
		if (imap_parse_number(num, UINT32_MAX, &l) < 0 || l == 0)
			goto bad;
		it->offset = o;
		it->length = l;
	}
	return 0;
bad:
	*error_r = "Invalid partial";
	return -1;
}

static int
imap_fetch_item_parse(struct imap_session *is, struct imap_fetch *f,
    const struct imap_arg *arg, size_t *size, const char **error_r)
{
	static const struct {
		const char *name;
		enum imap_fetch_kind kind;
	} simple[] = {
		{ "UID", F_UID }, { "FLAGS", F_FLAGS },
		{ "INTERNALDATE", F_INTERNALDATE }, { "RFC822.SIZE", F_SIZE },
		{ "ENVELOPE", F_ENVELOPE }, { "BODY", F_BODY },
		{ "BODYSTRUCTURE", F_BODYSTRUCTURE }, { "MODSEQ", F_MODSEQ },
	};
	struct imap_fetch_item *it;
	const char *s;
	size_t i;

	if (arg->type != IMAP_ARG_ATOM) {
		*error_r = "Invalid FETCH item";
		return -1;
	}
	s = arg->str;
	if (strcasecmp(s, "ALL") == 0 || strcasecmp(s, "FAST") == 0
	    || strcasecmp(s, "FULL") == 0) {
		bool all = strcasecmp(s, "FAST") != 0;

		imap_fetch_add(f, is->arena, size)->kind = F_FLAGS;
		imap_fetch_add(f, is->arena, size)->kind = F_INTERNALDATE;
		imap_fetch_add(f, is->arena, size)->kind = F_SIZE;
		if (all)
			imap_fetch_add(f, is->arena, size)->kind = F_ENVELOPE;
		if (strcasecmp(s, "FULL") == 0)
			imap_fetch_add(f, is->arena, size)->kind = F_BODY;
		return 0;
	}
	for (i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
		if (strcasecmp(s, simple[i].name) == 0) {
			imap_fetch_add(f, is->arena, size)->kind =
			    simple[i].kind;
			return 0;
		}
	if (strcasecmp(s, "RFC822") == 0 || strcasecmp(s, "RFC822.HEADER") == 0
	    || strcasecmp(s, "RFC822.TEXT") == 0) {
		const char *sec = s[6] == '\0' ? "" : s[7] == 'H' || s[7] == 'h'
		    ? "HEADER" : "TEXT";

		it = imap_fetch_add(f, is->arena, size);
		it->kind = F_SECTION;
		it->name = s[6] == '\0' ? "RFC822" : s[7] == 'H' || s[7] == 'h'
		    ? "RFC822.HEADER" : "RFC822.TEXT";
		/* RFC822.HEADER is BODY.PEEK[HEADER] */
		it->peek = *sec == 'H';
		return imap_section_parse(is->arena, sec, strlen(sec), false,
		    &it->sec, error_r);
	}
	if (strchr(s, '[') != NULL) {
		it = imap_fetch_add(f, is->arena, size);
		return imap_fetch_section(is, it, s, error_r);
	}
	*error_r = "Unknown FETCH item";
	return -1;
}

enum fc_next
imap_cmd_fetch(struct imap_session *is, struct imap_command *c,
    const struct imap_arg *args, size_t n, bool uid)
{
	struct imap_fetch *f;
	const char *err = "Invalid FETCH item";
	size_t size = 0, i, k;
	bool has_uid = false, has_modseq = false, changed = false;
	bool vanished = false, whole = false;
	uint64_t since = 0;

	if (n == 3) {
		/* RFC 7162 3.1.4: FETCH set items (CHANGEDSINCE modseq);
		 * 3.2.6: UID FETCH set items (CHANGEDSINCE modseq VANISHED) */
		const struct imap_arg *m = &args[2];

		if (m->type != IMAP_ARG_LIST)
			return imap_bad(is, c->tag, "FETCH set items "
			    "(CHANGEDSINCE modseq)");
		for (i = 0; i < m->count; i++) {
			if (imap_arg_is_atom(&m->list[i], "CHANGEDSINCE")
			    && !changed && i + 1 < m->count
			    && m->list[i + 1].type == IMAP_ARG_ATOM
			    && imap_parse_number(m->list[i + 1].str,
			    INT64_MAX, &since) == 0) {
				changed = true;
				i++;
			} else if (imap_arg_is_atom(&m->list[i], "VANISHED")
			    && !vanished)
				vanished = true;
			else
				return imap_bad(is, c->tag, "FETCH set items "
				    "(CHANGEDSINCE modseq [VANISHED])");
		}
		if (!changed)
			return imap_bad(is, c->tag, "FETCH set items "
			    "(CHANGEDSINCE modseq)");
		if (vanished && (!uid || !is->qresync))
			return imap_bad(is, c->tag, "VANISHED needs UID FETCH "
			    "and ENABLE QRESYNC");
		is->condstore = true;
		n = 2;
	}
	if (n != 2 || args[0].type != IMAP_ARG_ATOM)
		return imap_bad(is, c->tag, "FETCH set items");
	f = fc_arena_alloc(is->arena, sizeof(*f));
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	f->uid = uid;
	f->tag = c->tag;
	if (uid) {
		imap_fetch_add(f, is->arena, &size)->kind = F_UID;
		has_uid = true;
	}
	if (args[1].type == IMAP_ARG_LIST) {
		if (args[1].count == 0)
			return imap_bad(is, c->tag, "Empty FETCH item list");
		for (i = 0; i < args[1].count; i++)
			if (imap_fetch_item_parse(is, f, &args[1].list[i],
			    &size, &err) < 0)
				return imap_bad(is, c->tag, "%s", err);
	} else if (imap_fetch_item_parse(is, f, &args[1], &size, &err) < 0)
		return imap_bad(is, c->tag, "%s", err);
	for (i = has_uid ? 1 : 0; i < f->nitems; i++) {
		struct imap_fetch_item *it = &f->items[i];

		if (it->kind == F_UID && has_uid)
			it->kind = F_UID, it->name = "dup";
		if (it->kind == F_MODSEQ) {
			is->condstore = true;
			has_modseq = true;
		}
		if (it->kind >= F_ENVELOPE && it->kind != F_MODSEQ)
			f->need_mime = true;
		if (it->kind == F_SECTION || it->kind == F_BINARY_SIZE)
			f->need_body = true;
		if (it->kind == F_BODY || it->kind == F_BODYSTRUCTURE ||
		    it->kind == F_BINARY_SIZE || (it->kind == F_SECTION &&
		    !imap_section_is_top_header(it->sec)))
			whole = true;
		if (it->kind == F_SECTION && !it->peek && !is->readonly)
			f->sets_seen = true;
	}
	/* RFC 7162 3.1.4.1: with CONDSTORE on, every FETCH answer
	 * carries MODSEQ */
	if (is->condstore && !has_modseq)
		imap_fetch_add(f, is->arena, &size)->kind = F_MODSEQ;
	f->header_only = f->need_body && !whole;
	if ((f->seqs = imap_seqs(is, args[0].str, uid, &f->nseqs)) == NULL)
		return imap_bad(is, c->tag, "Invalid message set");
	if (changed) {
		for (i = 0, k = 0; i < f->nseqs; i++)
			if (fc_msg_modseq(is->box, f->seqs[i]) > since)
				f->seqs[k++] = f->seqs[i];
		f->nseqs = k;
	}
	if (vanished) {
		struct imap_seqset set;

		/* the set parsed above; UIDs gone come before the rest */
		if (imap_seqset_parse(args[0].str, is->arena, &set) == 0)
			imap_vanished_earlier(is, &set, 0);
	}
	f->msg_arena = fc_arena_new("imap-fetch", 16384);
	is->fetch = f;
	return imap_fetch_more(is);
}

static void
imap_fetch_msg_done(struct imap_fetch *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	f->root = NULL;
	f->have_cached = false;
	f->reader = NULL;
	f->item = 0;
	fc_arena_reset(f->msg_arena);
}

void
imap_fetch_abort(struct imap_session *is)
{
	struct imap_fetch *f = is->fetch;

	if (f == NULL)
		return;
	imap_fetch_msg_done(f);
	fc_arena_free(&f->msg_arena);
	is->fetch = NULL;
}

static void
imap_internaldate_write(struct imap_str *out, time_t t)
{
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr",
		"May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	gmtime_r(&t, &tm);
	imap_str_printf(out, "INTERNALDATE \"%02d-%s-%04d %02d:%02d:%02d "
	    "+0000\"", tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/*
 * Opens the message's file and tree if an item needs them, or takes
 * its answers from the store's cache. -1 when the message is gone or
 * the store failed (the caller leaves the body items out).
 */
static int
imap_fetch_open(struct imap_session *is, struct imap_fetch *f)
{
	static const struct fc_mime_limits *limits = NULL;
	bool put = false;
	int r;

	if (f->fd >= 0 || f->have_cached)
		return 0;
	if (!f->need_body) {
		r = imap_cache_load(is->box, f->seq, is->utf8, f->msg_arena,
		    &f->cached, &put);
		if (r < 0)
			return -1;
		if (r > 0) {
			f->have_cached = true;
			return 0;
		}
	}
	f->fd = f->header_only ? fc_msg_open_header(is->box, f->seq,
	    &f->crlf) : fc_msg_open(is->box, f->seq, &f->crlf);
	if (f->fd < 0)
		return -1;
	f->root = fc_mime_parse_fd(f->msg_arena, f->fd, limits);
	if (f->root == NULL) {
		close(f->fd);
		f->fd = -1;
		return -1;
	}
	if (put) {
		imap_cache_fill(is->box, f->seq, is->utf8, f->root,
		    f->msg_arena, true, &f->cached);
		f->have_cached = true;
	}
	return 0;
}

/* The store could not give a message (its database is down, a disk
 * error): logged once per command, the command ends with NO. */
static void
imap_fetch_unavailable(struct imap_session *is, struct imap_fetch *f)
{
	const char *text = "";

	if (f->unavailable)
		return;
	f->unavailable = true;
	(void)fc_store_error(is->store, &text);
	fc_log_session(is->s, FC_LOG_WARNING, "event=error op=fetch seq=%u "
	    "reason=\"%s\"", f->seq, fc_log_quote(is->arena, text, 200));
}

/* Writes items of the current message until one needs streaming.
 * Returns 1 when the message is complete, 0 when a reader is open, -1
 * for a read error (the connection must end). */
static int
imap_fetch_items(struct imap_session *is, struct imap_fetch *f)
{
	while (f->item < f->nitems) {
		struct imap_fetch_item *it = &f->items[f->item++];
		const char *err = "";
		uint64_t size;
		int r, nul;

		if (it->name != NULL && strcmp(it->name, "dup") == 0)
			continue;
		if (f->item > 1)
			imap_str_addc(&is->out, ' ');
		switch (it->kind) {
		case F_UID:
			imap_str_printf(&is->out, "UID %u",
			    fc_msg_uid(is->box, f->seq));
			break;
		case F_FLAGS:
			imap_str_adds(&is->out, "FLAGS ");
			imap_flags_write(is, f->seq);
			break;
		case F_INTERNALDATE:
			imap_internaldate_write(&is->out,
			    fc_msg_internal_date(is->box, f->seq));
			break;
		case F_MODSEQ:
			imap_str_printf(&is->out, "MODSEQ (%llu)",
			    (unsigned long long)fc_msg_modseq(is->box, f->seq));
			break;
		case F_SIZE:
			imap_str_printf(&is->out, "RFC822.SIZE %llu",
			    (unsigned long long)fc_msg_size(is->box, f->seq,
			    true));
			break;
		case F_ENVELOPE:
			imap_str_adds(&is->out, "ENVELOPE ");
			if (f->have_cached)
				imap_str_add(&is->out, f->cached.envelope,
				    f->cached.envelope_len);
			else
				imap_envelope_write(&is->out, f->root,
				    is->utf8);
			break;
		case F_BODY:
			imap_str_adds(&is->out, "BODY ");
			if (f->have_cached)
				imap_str_add(&is->out, f->cached.body,
				    f->cached.body_len);
			else
				imap_bodystructure_write(&is->out, f->root,
				    false, is->utf8);
			break;
		case F_BODYSTRUCTURE:
			imap_str_adds(&is->out, "BODYSTRUCTURE ");
			if (f->have_cached)
				imap_str_add(&is->out, f->cached.bodystructure,
				    f->cached.bodystructure_len);
			else
				imap_bodystructure_write(&is->out, f->root,
				    true, is->utf8);
			break;
		case F_BINARY_SIZE:
		case F_SECTION:
			r = imap_section_open(f->msg_arena, it->sec, f->root,
			    f->fd, f->crlf, it->offset, it->length, &f->reader,
			    &size, &err);
			if (r == IMAP_SECTION_ERR_UNKNOWN_CTE) {
				/* RFC 3516 4.3: NO [UNKNOWN-CTE]; the item
				 * is shown as NIL here and the command ends
				 * with NO */
				imap_section_name_write(&is->out, it->name,
				    it->sec, UINT64_MAX);
				imap_str_adds(&is->out, " NIL");
				f->unknown_cte = true;
				f->reader = NULL;
				break;
			}
			if (r < 0)
				return -1;
			if (it->kind == F_BINARY_SIZE) {
				imap_section_name_write(&is->out,
				    "BINARY.SIZE", it->sec, UINT64_MAX);
				imap_str_printf(&is->out, " %llu",
				    (unsigned long long)size);
				f->reader = NULL;
				break;
			}
			if (strncmp(it->name, "RFC822", 6) == 0)
				imap_str_adds(&is->out, it->name);
			else
				imap_section_name_write(&is->out, it->name,
				    it->sec, it->length == UINT64_MAX ?
				    UINT64_MAX : it->offset);
			nul = 0;
			if (it->binary && size > 0) {
				nul = imap_section_has_nul(f->reader, size);
				if (nul < 0 || imap_section_open(f->msg_arena,
				    it->sec, f->root, f->fd, f->crlf,
				    it->offset, it->length, &f->reader, &size,
				    &err) < 0)
					return -1;
			}
			imap_str_printf(&is->out, " %s{%llu}\r\n",
			    nul > 0 ? "~" : "", (unsigned long long)size);
			f->left = size;
			if (size > 0)
				return 0;
			f->reader = NULL;
			break;
		}
	}
	return 1;
}

/* The tagged end of the command. */
static enum fc_next
imap_fetch_done(struct imap_session *is)
{
	struct imap_fetch *f = is->fetch;
	const char *tag = f->tag;
	bool expunged = f->expunged;
	bool unknown_cte = f->unknown_cte;
	bool unavailable = f->unavailable;
	bool uid = f->uid;

	imap_fetch_abort(is);
	imap_news(is, uid);
	if (unavailable)
		return imap_no(is, tag, "[UNAVAILABLE] Some messages could "
		    "not be read, try again later");
	if (expunged)
		return imap_no(is, tag, "[EXPUNGEISSUED] Some messages could "
		    "not be fetched");
	if (unknown_cte)
		return imap_no(is, tag, "[UNKNOWN-CTE] Cannot decode the "
		    "content transfer encoding");
	return imap_ok(is, tag, "FETCH completed");
}

enum fc_next
imap_fetch_more(struct imap_session *is)
{
	struct imap_fetch *f = is->fetch;
	ssize_t n;
	int r;

	if (f == NULL)
		return FC_NEXT_CONTINUE;
	for (;;) {
		if (fc_session_output_full(is->s))
			return FC_NEXT_MORE;
		if (f->reader != NULL) {
			size_t want = f->left < IMAP_CHUNK ? (size_t)f->left :
			    IMAP_CHUNK;

			n = imap_section_read(f->reader, imap_chunk, want);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				/* the literal's size is promised: nothing
				 * honest can follow it now */
				fc_log_session(is->s, FC_LOG_ERROR, "event=error "
				    "op=fetch seq=%u reason=\"%s\"", f->seq,
				    n < 0 ? strerror(errno) : "short read");
				imap_fetch_abort(is);
				return FC_NEXT_CLOSE;
			}
			fc_session_write(is->s, imap_chunk, (size_t)n);
			f->left -= (uint64_t)n;
			if (f->left > 0)
				continue;
			f->reader = NULL;
		} else if (f->item == 0) {
			/* a new message */
			if (f->next == f->nseqs)
				return imap_fetch_done(is);
			f->seq = f->seqs[f->next++];
			if (f->need_mime && imap_fetch_open(is, f) < 0) {
				if (fc_store_error(is->store, NULL) ==
				    FC_ERR_EXPUNGED)
					f->expunged = true;
				else
					imap_fetch_unavailable(is, f);
				imap_fetch_msg_done(f);
				continue;
			}
			if (f->sets_seen && !(fc_msg_flags(is->box, f->seq)
			    & FC_FLAG_SEEN)) {
				fc_mailbox_store(is->box, &f->seq, 1,
				    FC_STORE_ADD, FC_FLAG_SEEN, NULL, 0, NULL,
				    NULL, NULL);
			}
			imap_str_printf(&is->out, "* %u FETCH (", f->seq);
		}
		r = imap_fetch_items(is, f);
		imap_write_str(is);
		if (r < 0) {
			fc_log_session(is->s, FC_LOG_ERROR, "event=error "
			    "op=fetch seq=%u reason=\"%s\"", f->seq,
			    strerror(errno));
			imap_fetch_abort(is);
			return FC_NEXT_CLOSE;
		}
		if (r == 0)
			continue;	/* stream the section */
		fc_session_puts(is->s, ")\r\n");
		imap_fetch_msg_done(f);
	}
}
