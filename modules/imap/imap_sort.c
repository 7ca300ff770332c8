/*
 * imap_sort.c - SORT, UID SORT, THREAD and UID THREAD (RFC 5256).
 *
 * The search keys select the messages (imap_search_run()); each one is
 * then parsed with the MIME parser in an arena emptied after every
 * message, and only its sort keys are kept (struct imap_sortmsg). The
 * sorting and threading themselves are in imap_thread.c, the base
 * subject in imap_subject.c.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/mime.h>
#include <facteur/session.h>
#include <facteur/storage.h>

#include "imap.h"
#include "imap_sort.h"

/* The first mailbox's local part of an address field, or "". */
static const char *
address_key(struct fc_arena *keep, struct fc_arena *tmp,
    const struct fc_mime_part *root, const char *name)
{
	const char *v = fc_mime_part_header(root, name, 0);
	const struct fc_mime_address *ad;

	if (v == NULL)
		return "";
	for (ad = fc_mime_address_parse(tmp, v); ad != NULL; ad = ad->next)
		if (ad->mailbox != NULL && ad->domain != NULL)
			return fc_arena_strdup(keep, ad->mailbox);
	return "";
}

/* What of a message is needed besides its flags and sizes. */
enum need {
	NEED_NONE = 0,
	NEED_HEADER,			/* subject, date, addresses */
	NEED_REFS,			/* and Message-ID, References */
};

/* The keys of message seq, as much as need says. */
static void
sortmsg_load(struct imap_session *is, struct fc_arena *tmp, uint32_t seq,
    enum need need, struct imap_sortmsg *m)
{
	struct fc_arena *keep = is->arena;
	const struct fc_mime_part *root;
	const char *v;
	size_t i;
	int fd, zone;
	bool reply;

	memset(m, 0, sizeof(*m));
	m->seq = seq;
	m->uid = fc_msg_uid(is->box, seq);
	m->size = fc_msg_size(is->box, seq, true);
	m->arrival = fc_msg_internal_date(is->box, seq);
	m->sent = m->arrival;
	m->subject = m->from = m->to = m->cc = "";
	if (need == NEED_NONE)
		return;
	/* every key is a header field: the body may stay where it is */
	fd = fc_msg_open_header(is->box, seq, NULL);
	if (fd < 0)
		return;
	root = fc_mime_parse_fd(tmp, fd, NULL);
	close(fd);
	if (root == NULL)
		return;
	v = fc_mime_part_header(root, "Date", 0);
	if (v != NULL && fc_mime_date_parse(v, &m->sent, &zone) < 0)
		m->sent = m->arrival;
	m->subject = fc_arena_strdup(keep, imap_base_subject(tmp,
	    fc_mime_part_header(root, "Subject", 0), &reply));
	m->reply = reply;
	m->from = address_key(keep, tmp, root, "From");
	m->to = address_key(keep, tmp, root, "To");
	m->cc = address_key(keep, tmp, root, "Cc");
	if (need != NEED_REFS)
		return;
	if ((v = fc_mime_part_header(root, "Message-ID", 0)) != NULL) {
		const char **ids;
		size_t n;

		ids = imap_msgids_parse(tmp, v, &n);
		if (n > 0)
			m->msgid = fc_arena_strdup(keep, ids[0]);
	}
	v = fc_mime_part_header(root, "References", 0);
	m->refs = imap_msgids_parse(tmp, v, &m->nrefs);
	if (m->nrefs == 0) {
		/* the first id of In-Reply-To */
		v = fc_mime_part_header(root, "In-Reply-To", 0);
		m->refs = imap_msgids_parse(tmp, v, &m->nrefs);
		if (m->nrefs > 1)
			m->nrefs = 1;
	}
	if (m->nrefs > 0) {
		const char **r = fc_arena_alloc(keep, m->nrefs * sizeof(*r));

		for (i = 0; i < m->nrefs; i++)
			r[i] = fc_arena_strdup(keep, m->refs[i]);
		m->refs = r;
	}
}

/* CHARSET, the search keys, the messages and their keys; NULL after a
 * tagged response */
static struct imap_sortmsg **
sort_select(struct imap_session *is, struct imap_command *c,
    const struct imap_arg *args, size_t n, enum need need, size_t *n_r,
    enum fc_next *next_r)
{
	struct imap_sortmsg **msgs;
	struct fc_arena *tmp;
	const char *error = NULL;
	uint32_t *seqs;
	size_t nseqs, i;

	if (n < 2 || !imap_arg_is_string(&args[0])) {
		*next_r = imap_bad(is, c->tag, "Charset and search keys "
		    "expected");
		return NULL;
	}
	if (strcasecmp(args[0].str, "UTF-8") != 0
	    && strcasecmp(args[0].str, "US-ASCII") != 0) {
		*next_r = imap_no(is, c->tag, "[BADCHARSET (UTF-8 US-ASCII)] "
		    "Unsupported charset");
		return NULL;
	}
	seqs = imap_search_run(is, args + 1, n - 1, &nseqs, &error);
	if (seqs == NULL) {
		*next_r = imap_bad(is, c->tag, "%s", error);
		return NULL;
	}
	msgs = fc_arena_alloc(is->arena, (nseqs + 1) * sizeof(*msgs));
	tmp = fc_arena_new("imap-sort", 16384);
	for (i = 0; i < nseqs; i++) {
		msgs[i] = fc_arena_alloc(is->arena, sizeof(*msgs[i]));
		sortmsg_load(is, tmp, seqs[i], need, msgs[i]);
		fc_arena_reset(tmp);
	}
	fc_arena_free(&tmp);
	*n_r = nseqs;
	return msgs;
}

enum fc_next
imap_cmd_sort(struct imap_session *is, struct imap_command *c,
    const struct imap_arg *args, size_t n, bool uid)
{
	struct imap_sortspec spec;
	struct imap_sortmsg **msgs;
	enum fc_next next;
	bool reverse = false;
	enum need need = NEED_NONE;
	size_t i, nmsgs;

	memset(&spec, 0, sizeof(spec));
	if (n < 1 || args[0].type != IMAP_ARG_LIST || args[0].count == 0)
		return imap_bad(is, c->tag, "SORT (keys) charset search");
	for (i = 0; i < args[0].count; i++) {
		const struct imap_arg *k = &args[0].list[i];

		if (k->type != IMAP_ARG_ATOM)
			return imap_bad(is, c->tag, "Sort key expected");
		if (strcasecmp(k->str, "REVERSE") == 0 && !reverse) {
			reverse = true;
			continue;
		}
		if (spec.n == IMAP_SORT_KEYS_MAX)
			return imap_bad(is, c->tag, "Too many sort keys");
		if (imap_sortkey_parse(k->str, &spec.key[spec.n]) < 0)
			return imap_bad(is, c->tag, "Unknown sort key");
		if (spec.key[spec.n] != IMAP_SORT_ARRIVAL
		    && spec.key[spec.n] != IMAP_SORT_SIZE)
			need = NEED_HEADER;
		spec.reverse[spec.n++] = reverse;
		reverse = false;
	}
	if (reverse)
		return imap_bad(is, c->tag, "REVERSE needs a sort key");
	msgs = sort_select(is, c, args + 1, n - 1, need, &nmsgs, &next);
	if (msgs == NULL)
		return next;
	imap_sort_msgs(&spec, msgs, nmsgs);
	imap_str_adds(&is->out, "* SORT");
	for (i = 0; i < nmsgs; i++) {
		imap_str_printf(&is->out, " %u", uid ? msgs[i]->uid :
		    msgs[i]->seq);
		if (is->out.len > 65536) {
			fc_session_write(is->s, is->out.data, is->out.len);
			imap_str_reset(&is->out);
		}
	}
	imap_str_adds(&is->out, "\r\n");
	imap_write_str(is);
	imap_news(is, uid);
	return imap_ok(is, c->tag, "SORT completed");
}

enum fc_next
imap_cmd_thread(struct imap_session *is, struct imap_command *c,
    const struct imap_arg *args, size_t n, bool uid)
{
	struct imap_sortmsg **msgs;
	enum fc_next next;
	size_t nmsgs;
	bool refs;

	if (n < 1 || args[0].type != IMAP_ARG_ATOM)
		return imap_bad(is, c->tag, "THREAD algorithm charset search");
	if (strcasecmp(args[0].str, "REFERENCES") == 0)
		refs = true;
	else if (strcasecmp(args[0].str, "ORDEREDSUBJECT") == 0)
		refs = false;
	else
		return imap_bad(is, c->tag, "Unknown threading algorithm");
	msgs = sort_select(is, c, args + 1, n - 1, refs ? NEED_REFS :
	    NEED_HEADER, &nmsgs, &next);
	if (msgs == NULL)
		return next;
	imap_str_adds(&is->out, "* THREAD ");
	if (refs)
		imap_thread_references(is->arena, msgs, nmsgs, uid, &is->out);
	else
		imap_thread_orderedsubject(is->arena, msgs, nmsgs, uid,
		    &is->out);
	if (nmsgs == 0)
		is->out.len--;		/* "* THREAD" alone */
	imap_str_adds(&is->out, "\r\n");
	imap_write_str(is);
	imap_news(is, uid);
	return imap_ok(is, c->tag, "THREAD completed");
}
