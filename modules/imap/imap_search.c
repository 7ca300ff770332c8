/*
 * imap_search.c - SEARCH and UID SEARCH (RFC 3501 6.4.4).
 *
 * The keys are parsed into a tree first (a BAD for any mistake before
 * any message is looked at), then every message of the view is tested.
 * Keys on flags, sizes, dates and sets use the view alone; keys on the
 * message's text (FROM, SUBJECT, HEADER, BODY, TEXT, SENT*) read its
 * file, once per message, only when such a key is reached, and all of
 * them in that one reading (imap_search_text.c: decoded text, Unicode
 * case folding, bounded memory); when no key is on the body (BODY,
 * TEXT), the header alone (fc_msg_open_header(): on pgsql the body
 * stays in the database). CHARSET may be UTF-8 or US-ASCII;
 * others get NO [BADCHARSET]. RETURN (MIN MAX COUNT ALL) answers with
 * ESEARCH (RFC 4731), as does every SEARCH once IMAP4rev2 is enabled.
 * RETURN (SAVE) keeps the result for "$" (RFC 5182), as UIDs so that
 * expunges leave it right.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/log.h>
#include <facteur/session.h>
#include <facteur/storage.h>

#include "imap.h"
#include "imap_search_text.h"

enum key {
	K_ALL = 0, K_FLAG, K_UNFLAG, K_KEYWORD, K_UNKEYWORD, K_NONE,
	K_LARGER, K_SMALLER, K_BEFORE, K_ON, K_SINCE, K_SENTBEFORE, K_SENTON,
	K_SENTSINCE, K_SEQ, K_UID, K_NOT, K_OR, K_AND, K_HEADER, K_BODY,
	K_TEXT, K_MODSEQ, K_SAVED,
};

struct skey {
	enum key key;
	unsigned int flag;
	const char *str;		/* keyword, header name, text */
	const char *str2;
	uint64_t num;
	time_t date;
	struct imap_seqset set;
	struct skey *a, *b;		/* NOT: a; OR: a b; AND: list in a */
	struct skey *next;		/* in an AND list */
	struct imap_text_key text;	/* HEADER, BODY, TEXT */
};

struct sparse {
	struct imap_session *is;
	const struct imap_arg *args;
	size_t n, i;
	const char *error;
	bool needs_text;
	bool has_modseq;
	int depth;
};

static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May",
	"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* date: "d-Mon-yyyy" as the start of that day, UTC */
static int
search_date(const char *s, time_t *r)
{
	struct tm tm;
	char mon[4];
	int day, year, n = 0, i;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%2d-%3s-%4d%n", &day, mon, &year, &n) != 3
	    || s[n] != '\0')
		return -1;
	for (i = 0; i < 12; i++)
		if (strcasecmp(mon, months[i]) == 0)
			break;
	if (i == 12 || day < 1 || day > 31 || year < 1900)
		return -1;
	tm.tm_mday = day;
	tm.tm_mon = i;
	tm.tm_year = year - 1900;
	*r = timegm(&tm);
	return 0;
}

static const struct imap_arg *
search_next(struct sparse *sp)
{
	if (sp->i >= sp->n) {
		sp->error = "Missing search argument";
		return NULL;
	}
	return &sp->args[sp->i++];
}

static const char *
search_string(struct sparse *sp)
{
	const struct imap_arg *a = search_next(sp);

	if (a == NULL)
		return NULL;
	if (!imap_arg_is_string(a)) {
		sp->error = "String expected";
		return NULL;
	}
	return a->str;
}

static struct skey *search_key(struct sparse *sp);

static struct skey *
search_and(struct sparse *sp, const struct imap_arg *args, size_t n)
{
	struct sparse inner = *sp;
	struct skey *k = fc_arena_alloc(sp->is->arena, sizeof(*k)), **tail;

	memset(k, 0, sizeof(*k));
	k->key = K_AND;
	inner.args = args;
	inner.n = n;
	inner.i = 0;
	inner.depth = sp->depth + 1;
	tail = &k->a;
	while (inner.i < inner.n) {
		struct skey *e = search_key(&inner);

		if (e == NULL) {
			sp->error = inner.error;
			return NULL;
		}
		*tail = e;
		tail = &e->next;
	}
	sp->needs_text = sp->needs_text || inner.needs_text;
	sp->has_modseq = sp->has_modseq || inner.has_modseq;
	return k;
}

static struct skey *
search_key(struct sparse *sp)
{
	static const struct {
		const char *name;
		enum key key;
		unsigned int flag;
	} flagkeys[] = {
		{ "ANSWERED", K_FLAG, FC_FLAG_ANSWERED },
		{ "DELETED", K_FLAG, FC_FLAG_DELETED },
		{ "DRAFT", K_FLAG, FC_FLAG_DRAFT },
		{ "FLAGGED", K_FLAG, FC_FLAG_FLAGGED },
		{ "SEEN", K_FLAG, FC_FLAG_SEEN },
		{ "OLD", K_ALL, 0 }, { "ALL", K_ALL, 0 },
		{ "NEW", K_NONE, 0 }, { "RECENT", K_NONE, 0 },
		{ "UNANSWERED", K_UNFLAG, FC_FLAG_ANSWERED },
		{ "UNDELETED", K_UNFLAG, FC_FLAG_DELETED },
		{ "UNDRAFT", K_UNFLAG, FC_FLAG_DRAFT },
		{ "UNFLAGGED", K_UNFLAG, FC_FLAG_FLAGGED },
		{ "UNSEEN", K_UNFLAG, FC_FLAG_SEEN },
	};
	static const struct {
		const char *name;
		enum key key;
	} datekeys[] = {
		{ "BEFORE", K_BEFORE }, { "ON", K_ON }, { "SINCE", K_SINCE },
		{ "SENTBEFORE", K_SENTBEFORE }, { "SENTON", K_SENTON },
		{ "SENTSINCE", K_SENTSINCE },
	};
	static const char *const hdrkeys[] = { "FROM", "TO", "CC", "BCC",
		"SUBJECT" };
	struct fc_arena *a = sp->is->arena;
	const struct imap_arg *arg = search_next(sp);
	struct skey *k;
	const char *s, *v;
	size_t i;

	if (arg == NULL)
		return NULL;
	if (sp->depth > IMAP_DEPTH_MAX) {
		sp->error = "Search keys nested too deeply";
		return NULL;
	}
	if (arg->type == IMAP_ARG_LIST) {
		if (arg->count == 0) {
			sp->error = "Empty search list";
			return NULL;
		}
		return search_and(sp, arg->list, arg->count);
	}
	k = fc_arena_alloc(a, sizeof(*k));
	memset(k, 0, sizeof(*k));
	if (arg->type != IMAP_ARG_ATOM) {
		sp->error = "Search key expected";
		return NULL;
	}
	s = arg->str;
	for (i = 0; i < sizeof(flagkeys) / sizeof(flagkeys[0]); i++)
		if (strcasecmp(s, flagkeys[i].name) == 0) {
			k->key = flagkeys[i].key;
			k->flag = flagkeys[i].flag;
			return k;
		}
	for (i = 0; i < sizeof(datekeys) / sizeof(datekeys[0]); i++)
		if (strcasecmp(s, datekeys[i].name) == 0) {
			k->key = datekeys[i].key;
			if ((v = search_string(sp)) == NULL)
				return NULL;
			if (search_date(v, &k->date) < 0) {
				sp->error = "Invalid date";
				return NULL;
			}
			if (k->key >= K_SENTBEFORE)
				sp->needs_text = true;
			return k;
		}
	for (i = 0; i < sizeof(hdrkeys) / sizeof(hdrkeys[0]); i++)
		if (strcasecmp(s, hdrkeys[i]) == 0) {
			k->key = K_HEADER;
			k->str = hdrkeys[i];
			if ((k->str2 = search_string(sp)) == NULL)
				return NULL;
			imap_text_key_init(&k->text, a, IMAP_TEXT_FIELD,
			    k->str, k->str2);
			sp->needs_text = true;
			return k;
		}
	if (strcasecmp(s, "KEYWORD") == 0 || strcasecmp(s, "UNKEYWORD") == 0) {
		k->key = toupper((unsigned char)*s) == 'K' ? K_KEYWORD :
		    K_UNKEYWORD;
		if ((k->str = search_string(sp)) == NULL)
			return NULL;
		return k;
	}
	if (strcasecmp(s, "LARGER") == 0 || strcasecmp(s, "SMALLER") == 0) {
		k->key = toupper((unsigned char)*s) == 'L' ? K_LARGER :
		    K_SMALLER;
		if ((v = search_string(sp)) == NULL)
			return NULL;
		if (imap_parse_number(v, UINT32_MAX, &k->num) < 0) {
			sp->error = "Invalid number";
			return NULL;
		}
		return k;
	}
	if (strcasecmp(s, "HEADER") == 0) {
		k->key = K_HEADER;
		if ((k->str = search_string(sp)) == NULL
		    || (k->str2 = search_string(sp)) == NULL)
			return NULL;
		imap_text_key_init(&k->text, a, IMAP_TEXT_FIELD, k->str,
		    k->str2);
		sp->needs_text = true;
		return k;
	}
	if (strcasecmp(s, "BODY") == 0 || strcasecmp(s, "TEXT") == 0) {
		k->key = toupper((unsigned char)*s) == 'B' ? K_BODY : K_TEXT;
		if ((k->str = search_string(sp)) == NULL)
			return NULL;
		imap_text_key_init(&k->text, a, k->key == K_BODY ?
		    IMAP_TEXT_BODY : IMAP_TEXT_ALL, NULL, k->str);
		sp->needs_text = true;
		return k;
	}
	if (strcasecmp(s, "UID") == 0) {
		k->key = K_UID;
		if ((v = search_string(sp)) == NULL)
			return NULL;
		if (imap_seqset_parse(v, a, &k->set) < 0) {
			sp->error = "Invalid UID set";
			return NULL;
		}
		if (k->set.saved)
			k->key = K_SAVED;	/* "UID $" is "$" */
		return k;
	}
	if (strcasecmp(s, "MODSEQ") == 0) {
		/* RFC 7162 3.1.5: MODSEQ [entry-name entry-type] n */
		const struct imap_arg *x;

		k->key = K_MODSEQ;
		sp->is->condstore = true;
		sp->has_modseq = true;
		if ((x = search_next(sp)) == NULL)
			return NULL;
		if (x->type == IMAP_ARG_QUOTED) {
			/* a flag's entry and its type: all ours are shared */
			if ((x = search_next(sp)) == NULL
			    || x->type != IMAP_ARG_ATOM || (strcasecmp(x->str,
			    "priv") != 0 && strcasecmp(x->str, "shared") != 0
			    && strcasecmp(x->str, "all") != 0)
			    || (x = search_next(sp)) == NULL) {
				sp->error = "MODSEQ entry type";
				return NULL;
			}
		}
		if (x->type != IMAP_ARG_ATOM
		    || imap_parse_number(x->str, INT64_MAX, &k->num) < 0) {
			sp->error = "Invalid mod-sequence";
			return NULL;
		}
		return k;
	}
	if (strcasecmp(s, "NOT") == 0) {
		k->key = K_NOT;
		sp->depth++;
		k->a = search_key(sp);
		sp->depth--;
		return k->a == NULL ? NULL : k;
	}
	if (strcasecmp(s, "OR") == 0) {
		k->key = K_OR;
		sp->depth++;
		k->a = search_key(sp);
		k->b = k->a == NULL ? NULL : search_key(sp);
		sp->depth--;
		return k->b == NULL ? NULL : k;
	}
	if (imap_seqset_parse(s, a, &k->set) == 0) {
		k->key = k->set.saved ? K_SAVED : K_SEQ;
		return k;
	}
	sp->error = "Unknown search key";
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Matching */

/* Whether uid is in the search result variable (ascending). */
static bool
search_saved_has(const struct imap_session *is, uint32_t uid)
{
	size_t lo = 0, hi = is->nsaved;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (is->saved[mid] == uid)
			return true;
		if (is->saved[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

struct smsg {
	struct imap_session *is;
	uint32_t seq, count, maxuid;
	struct imap_text_key **texts;	/* every text key of the search */
	size_t ntexts;
	struct fc_arena *tmp;		/* one message's parse */
	time_t sent_day;		/* the Date field's day, as written */
	bool has_sent;
	bool loaded, readable;
	bool needs_body;		/* a BODY or TEXT key */
	bool unavailable;		/* the store failed for a message */
};

/* Gathers the text keys of the tree, to be matched in one reading. */
static void
smsg_collect(struct smsg *m, struct skey *k, size_t *alloc)
{
	struct skey *e;

	switch (k->key) {
	case K_HEADER:
	case K_BODY:
	case K_TEXT:
		if (k->key != K_HEADER)
			m->needs_body = true;
		if (m->ntexts == *alloc) {
			struct imap_text_key **n;

			*alloc = *alloc == 0 ? 8 : *alloc * 2;
			n = fc_arena_alloc(m->is->arena, *alloc * sizeof(*n));
			if (m->ntexts > 0)
				memcpy(n, m->texts, m->ntexts * sizeof(*n));
			m->texts = n;
		}
		m->texts[m->ntexts++] = &k->text;
		break;
	case K_NOT:
		smsg_collect(m, k->a, alloc);
		break;
	case K_OR:
		smsg_collect(m, k->a, alloc);
		smsg_collect(m, k->b, alloc);
		break;
	case K_AND:
		for (e = k->a; e != NULL; e = e->next)
			smsg_collect(m, e, alloc);
		break;
	default:
		break;
	}
}

static void
smsg_begin(struct smsg *m, struct skey *root, bool needs_text)
{
	size_t alloc = 0;

	m->count = fc_mailbox_count(m->is->box);
	m->maxuid = m->count > 0 ? fc_msg_uid(m->is->box, m->count) : 0;
	if (!needs_text)
		return;
	smsg_collect(m, root, &alloc);
	m->tmp = fc_arena_new("imap-search", 16384);
}

static void
smsg_end(struct smsg *m)
{
	if (m->tmp != NULL)
		fc_arena_free(&m->tmp);
}

/* Reads the message once for all its text keys and its sent date. */
static void
smsg_load(struct smsg *m)
{
	int fd;

	m->loaded = true;
	m->readable = false;
	fc_arena_reset(m->tmp);
	fd = m->needs_body ? fc_msg_open(m->is->box, m->seq, NULL) :
	    fc_msg_open_header(m->is->box, m->seq, NULL);
	if (fd < 0) {
		if (fc_store_error(m->is->store, NULL) != FC_ERR_EXPUNGED)
			m->unavailable = true;
		return;
	}
	m->readable = imap_text_scan(fd, m->tmp, m->texts, m->ntexts,
	    &m->sent_day, &m->has_sent) == 0;
	close(fd);
}

static bool
search_match(struct smsg *m, const struct skey *k)
{
	struct fc_mailbox *box = m->is->box;
	time_t day;
	struct skey *e;
	size_t i, nk;

	switch (k->key) {
	case K_ALL:
		return true;
	case K_NONE:
		return false;
	case K_FLAG:
		return (fc_msg_flags(box, m->seq) & k->flag) != 0;
	case K_UNFLAG:
		return (fc_msg_flags(box, m->seq) & k->flag) == 0;
	case K_KEYWORD:
	case K_UNKEYWORD:
		nk = fc_mailbox_keyword_count(box);
		for (i = 0; i < nk && i < 64; i++)
			if (strcasecmp(fc_mailbox_keyword(box, i), k->str) == 0)
				break;
		if (i == nk || i >= 64)
			return k->key == K_UNKEYWORD;
		return ((fc_msg_keywords(box, m->seq) & (1ULL << i)) != 0)
		    == (k->key == K_KEYWORD);
	case K_LARGER:
		return fc_msg_size(box, m->seq, true) > k->num;
	case K_SMALLER:
		return fc_msg_size(box, m->seq, true) < k->num;
	case K_BEFORE:
	case K_ON:
	case K_SINCE:
		day = fc_msg_internal_date(box, m->seq);
		day -= day % 86400;
		return k->key == K_BEFORE ? day < k->date : k->key == K_ON ?
		    day == k->date : day >= k->date;
	case K_SENTBEFORE:
	case K_SENTON:
	case K_SENTSINCE:
		if (!m->loaded)
			smsg_load(m);
		if (!m->readable || !m->has_sent)
			return false;
		day = m->sent_day;
		return k->key == K_SENTBEFORE ? day < k->date :
		    k->key == K_SENTON ? day == k->date : day >= k->date;
	case K_SEQ:
		return imap_seqset_contains(&k->set, m->seq, m->count);
	case K_UID:
		return imap_seqset_contains(&k->set, fc_msg_uid(box, m->seq),
		    m->maxuid);
	case K_MODSEQ:
		return fc_msg_modseq(box, m->seq) >= k->num;
	case K_SAVED:
		return search_saved_has(m->is, fc_msg_uid(box, m->seq));
	case K_NOT:
		return !search_match(m, k->a);
	case K_OR:
		return search_match(m, k->a) || search_match(m, k->b);
	case K_AND:
		for (e = k->a; e != NULL; e = e->next)
			if (!search_match(m, e))
				return false;
		return true;
	case K_HEADER:
	case K_BODY:
	case K_TEXT:
		if (!m->loaded)
			smsg_load(m);
		return m->readable && k->text.matched;
	}
	return false;
}

/* ESEARCH return options (RFC 4731) */
#define R_MIN	0x1
#define R_MAX	0x2
#define R_COUNT	0x4
#define R_ALL	0x8
#define R_SAVE	0x10		/* RFC 5182 SEARCHRES */

/* RETURN (SAVE ...): the search result variable gets the UIDs of the
 * hits, or of the first and last alone when only MIN or MAX came with
 * SAVE (RFC 5182 2.4). */
static void
search_save(struct imap_session *is, unsigned int ret, const uint32_t *seqs,
    size_t n)
{
	size_t i, k = 0;

	free(is->saved);
	is->saved = NULL;
	is->nsaved = 0;
	if (n == 0)
		return;
	is->saved = fc_realloc(NULL, n * sizeof(*is->saved));
	if ((ret & (R_ALL | R_COUNT)) || !(ret & (R_MIN | R_MAX))) {
		for (i = 0; i < n; i++)
			is->saved[k++] = fc_msg_uid(is->box, seqs[i]);
	} else {
		if (ret & R_MIN)
			is->saved[k++] = fc_msg_uid(is->box, seqs[0]);
		if ((ret & R_MAX) && (k == 0 || n > 1))
			is->saved[k++] = fc_msg_uid(is->box, seqs[n - 1]);
	}
	is->nsaved = k;
}

enum fc_next
imap_cmd_search(struct imap_session *is, struct imap_command *c,
    const struct imap_arg *args, size_t n, bool uid)
{
	struct sparse sp = { .is = is, .args = args, .n = n };
	struct skey *root;
	struct smsg m = { .is = is };
	unsigned int ret = 0;
	bool esearch = false;
	uint32_t seq, *hits = NULL;
	size_t nhits = 0, i;
	uint64_t top = 0;

	if (n >= 2 && imap_arg_is_atom(&args[0], "RETURN")) {
		const struct imap_arg *r = &args[1];

		if (r->type != IMAP_ARG_LIST)
			return imap_bad(is, c->tag, "RETURN (options)");
		for (i = 0; i < r->count; i++) {
			if (imap_arg_is_atom(&r->list[i], "MIN"))
				ret |= R_MIN;
			else if (imap_arg_is_atom(&r->list[i], "MAX"))
				ret |= R_MAX;
			else if (imap_arg_is_atom(&r->list[i], "COUNT"))
				ret |= R_COUNT;
			else if (imap_arg_is_atom(&r->list[i], "ALL"))
				ret |= R_ALL;
			else if (imap_arg_is_atom(&r->list[i], "SAVE"))
				ret |= R_SAVE;
			else
				return imap_bad(is, c->tag, "Unknown RETURN "
				    "option");
		}
		/* RFC 4731 3.1: RETURN () is RETURN (ALL) */
		if (ret == 0)
			ret = R_ALL;
		esearch = true;
		sp.i = 2;
	} else if (is->rev2) {
		/* RFC 9051 6.4.4: a rev2 client always gets ESEARCH */
		ret = R_ALL;
		esearch = true;
	}
	if (n >= sp.i + 2 && imap_arg_is_atom(&args[sp.i], "CHARSET")) {
		if (!imap_arg_is_string(&args[sp.i + 1]))
			return imap_bad(is, c->tag, "CHARSET name");
		if (strcasecmp(args[sp.i + 1].str, "UTF-8") != 0
		    && strcasecmp(args[sp.i + 1].str, "US-ASCII") != 0) {
			/* RFC 5182 2.1: a NO empties "$" (a BAD keeps it) */
			if (ret & R_SAVE)
				search_save(is, ret, NULL, 0);
			return imap_no(is, c->tag, "[BADCHARSET (UTF-8 "
			    "US-ASCII)] Unsupported charset");
		}
		sp.i += 2;
	}
	if (sp.i >= n)
		return imap_bad(is, c->tag, "SEARCH keys");
	root = search_and(&sp, args + sp.i, n - sp.i);
	if (root == NULL)
		return imap_bad(is, c->tag, "%s", sp.error != NULL ? sp.error :
		    "Invalid search");
	smsg_begin(&m, root, sp.needs_text);
	if (esearch)
		hits = fc_arena_alloc(is->arena, ((size_t)m.count + 1) *
		    sizeof(*hits));
	else
		imap_str_adds(&is->out, "* SEARCH");
	for (seq = 1; seq <= m.count; seq++) {
		m.seq = seq;
		m.loaded = false;
		if (search_match(&m, root)) {
			if (fc_msg_modseq(is->box, seq) > top)
				top = fc_msg_modseq(is->box, seq);
			if (esearch)
				hits[nhits++] = seq;
			else
				imap_str_printf(&is->out, " %u", uid ?
				    fc_msg_uid(is->box, seq) : seq);
		}
		if (is->out.len > 65536) {
			fc_session_write(is->s, is->out.data, is->out.len);
			imap_str_reset(&is->out);
		}
	}
	smsg_end(&m);
	if (m.unavailable) {
		/* some messages were not searched: "$" is left empty
		 * (RFC 5182 2.1: a failed SEARCH resets it) */
		if (ret & R_SAVE)
			search_save(is, ret, hits, 0);
		if (!esearch) {
			imap_str_adds(&is->out, "\r\n");
			imap_write_str(is);
		}
		imap_news(is, uid);
		return imap_no(is, c->tag, "[UNAVAILABLE] Some messages could "
		    "not be read, try again later");
	}
	if (ret & R_SAVE)
		search_save(is, ret, hits, nhits);
	if (esearch && ret == R_SAVE) {
		/* RFC 5182 2: SAVE alone answers with no ESEARCH */
		imap_news(is, uid);
		return imap_ok(is, c->tag, "SEARCH completed, result saved");
	}
	if (esearch) {
		/* the values: UIDs for UID SEARCH, in place */
		for (i = 0; uid && i < nhits; i++)
			hits[i] = fc_msg_uid(is->box, hits[i]);
		imap_str_adds(&is->out, "* ESEARCH (TAG ");
		imap_str_add_string(&is->out, c->tag, strlen(c->tag), false);
		imap_str_addc(&is->out, ')');
		if (uid)
			imap_str_adds(&is->out, " UID");
		if ((ret & R_MIN) && nhits > 0)
			imap_str_printf(&is->out, " MIN %u", hits[0]);
		if ((ret & R_MAX) && nhits > 0)
			imap_str_printf(&is->out, " MAX %u", hits[nhits - 1]);
		if (ret & R_COUNT)
			imap_str_printf(&is->out, " COUNT %zu", nhits);
		if ((ret & R_ALL) && nhits > 0) {
			imap_str_adds(&is->out, " ALL ");
			imap_uidset_write(&is->out, hits, nhits);
		}
		if (sp.has_modseq && nhits > 0)
			imap_str_printf(&is->out, " MODSEQ %llu",
			    (unsigned long long)top);
	} else if (sp.has_modseq && top > 0)
		imap_str_printf(&is->out, " (MODSEQ %llu)",
		    (unsigned long long)top);
	imap_str_adds(&is->out, "\r\n");
	imap_write_str(is);
	imap_news(is, uid);
	return imap_ok(is, c->tag, "SEARCH completed");
}

uint32_t *
imap_search_run(struct imap_session *is, const struct imap_arg *args,
    size_t n, size_t *n_r, const char **error_r)
{
	struct sparse sp = { .is = is, .args = args, .n = n };
	struct skey *root;
	struct smsg m = { .is = is };
	uint32_t seq, *hits;
	size_t nhits = 0;

	*n_r = 0;
	if (n == 0) {
		*error_r = "Search keys expected";
		return NULL;
	}
	root = search_and(&sp, args, n);
	if (root == NULL) {
		*error_r = sp.error != NULL ? sp.error : "Invalid search";
		return NULL;
	}
	smsg_begin(&m, root, sp.needs_text);
	hits = fc_arena_alloc(is->arena, ((size_t)m.count + 1) *
	    sizeof(*hits));
	for (seq = 1; seq <= m.count; seq++) {
		m.seq = seq;
		m.loaded = false;
		if (search_match(&m, root))
			hits[nhits++] = seq;
	}
	smsg_end(&m);
	*n_r = nhits;
	return hits;
}
