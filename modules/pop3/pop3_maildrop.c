/*
 * pop3_maildrop.c - the messages a POP3 session works on: the user's
 * INBOX as it was at login.
 *
 * Numbers and sizes are taken once, at login, and never change during
 * the session (RFC 1939 4: the numbers stay fixed), even when mail
 * arrives or an IMAP session expunges meanwhile: the storage view is
 * not synced again, and a message gone from under us answers -ERR when
 * it is retrieved. With deleted_flag set, messages carrying that keyword
 * are left out: DELE hid them in an earlier session.
 *
 * UPDATE (QUIT) is the only place messages go: the DELE'd ones get
 * \Deleted and are expunged by UID (so a message another client marked
 * \Deleted is left to that client), or get the deleted_flag keyword.
 * \Seen for messages RETR'd in full is set there too, or when the
 * session ends another way: reading is not a change the client asked to
 * undo.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/auth.h>
#include <facteur/log.h>
#include <facteur/session.h>
#include <facteur/storage.h>

#include "pop3.h"

/* The index of the deleted_flag keyword in the mailbox, or -1. */
static int
pop3_hidden_keyword(struct pop3_session *ps)
{
	size_t i, n;

	if (ps->conf->deleted_flag == NULL)
		return -1;
	n = fc_mailbox_keyword_count(ps->box);
	for (i = 0; i < n && i < 64; i++)
		if (strcasecmp(fc_mailbox_keyword(ps->box, i),
		    ps->conf->deleted_flag) == 0)
			return (int)i;
	return -1;
}

static int
pop3_store_failed(struct pop3_session *ps, const char *what,
    const char **code_r, const char **why_r)
{
	const char *text = "";
	enum fc_error e = ps->store != NULL ?
	    fc_store_error(ps->store, &text) : FC_ERR_TEMP;

	fc_log_session(ps->s, FC_LOG_WARNING, "event=error op=%s reason=\"%s\"",
	    what, fc_log_quote(fc_session_arena(ps->s), text, 200));
	*code_r = e == FC_ERR_TEMP || e == FC_ERR_NOQUOTA ? "SYS/TEMP" :
	    "SYS/PERM";
	*why_r = "Cannot open the mailbox";
	return -1;
}

int
pop3_maildrop_open(struct pop3_session *ps, const char **code_r,
    const char **why_r)
{
	struct fc_arena *a = fc_session_arena(ps->s);
	const char *err = "cannot open the store";
	uint32_t n, seq;
	int hidden;

	if (fc_store_open(fc_session_core(ps->s), fc_session_user(ps->s),
	    &ps->store, &err) < 0) {
		fc_log_session(ps->s, FC_LOG_WARNING, "event=error op=store "
		    "reason=\"%s\"", fc_log_quote(a, err, 200));
		*code_r = "SYS/TEMP";
		*why_r = "Cannot open the mailbox";
		return -1;
	}
	if (fc_mailbox_open(ps->store, "INBOX", 0, &ps->box) < 0)
		return pop3_store_failed(ps, "open", code_r, why_r);
	n = fc_mailbox_count(ps->box);
	ps->uidvalidity = fc_mailbox_uidvalidity(ps->box);
	ps->msgs = fc_arena_alloc(a, (n + 1) * sizeof(*ps->msgs));
	ps->deleted = fc_arena_alloc(a, n + 1);
	ps->seen = fc_arena_alloc(a, n + 1);
	hidden = pop3_hidden_keyword(ps);
	for (seq = 1; seq <= n; seq++) {
		struct pop3_msg *m;

		if (hidden >= 0 && (fc_msg_keywords(ps->box, seq) &
		    (1ULL << hidden)) != 0)
			continue;
		m = &ps->msgs[ps->count++];
		m->seq = seq;
		m->uid = fc_msg_uid(ps->box, seq);
		m->size = fc_msg_size(ps->box, seq, true);
		if (ps->conf->uidl_format == POP3_UIDL_GUID)
			m->guid = fc_arena_strdup(a, fc_msg_guid(ps->box,
			    seq));
		ps->total_size += m->size;
	}
	return 0;
}

void
pop3_maildrop_close(struct pop3_session *ps)
{
	fc_mailbox_close(&ps->box);
	if (ps->store != NULL)
		fc_store_close(&ps->store);
	pop3_unlock(ps);
}

/* The seqs of the messages whose flag byte is set, in a new array. */
static uint32_t *
pop3_marked(struct pop3_session *ps, const uint8_t *marks, size_t *n_r)
{
	uint32_t *seqs, i;
	size_t n = 0;

	seqs = fc_calloc((size_t)ps->count + 1, sizeof(*seqs));
	for (i = 0; i < ps->count; i++)
		if (marks[i])
			seqs[n++] = ps->msgs[i].seq;
	*n_r = n;
	return seqs;
}

void
pop3_maildrop_mark_seen(struct pop3_session *ps)
{
	uint32_t *seqs;
	size_t n;

	if (ps->box == NULL || !ps->conf->seen_on_retr)
		return;
	seqs = pop3_marked(ps, ps->seen, &n);
	if (n > 0 && fc_mailbox_store(ps->box, seqs, n, FC_STORE_ADD,
	    FC_FLAG_SEEN, NULL, 0, NULL, NULL, NULL) < 0) {
		const char *text = "";

		fc_store_error(ps->store, &text);
		fc_log_session(ps->s, FC_LOG_WARNING, "event=error op=seen "
		    "reason=\"%s\"", fc_log_quote(fc_session_arena(ps->s),
		    text, 200));
	}
	memset(ps->seen, 0, ps->count);
	free(seqs);
}

int
pop3_maildrop_update(struct pop3_session *ps)
{
	const char *keywords[2] = { ps->conf->deleted_flag, NULL };
	uint32_t *seqs, *uids;
	const char *text = "";
	size_t n, i;
	int ret = 0;

	/* messages deleted need no \Seen */
	for (i = 0; i < ps->count; i++)
		if (ps->deleted[i])
			ps->seen[i] = 0;
	pop3_maildrop_mark_seen(ps);
	if (ps->ndeleted == 0)
		return 0;
	seqs = pop3_marked(ps, ps->deleted, &n);
	if (ps->conf->deleted_flag != NULL) {
		ret = fc_mailbox_store(ps->box, seqs, n, FC_STORE_ADD, 0,
		    keywords, 0, NULL, NULL, NULL);
	} else {
		uids = fc_calloc(n + 1, sizeof(*uids));
		for (i = 0; i < n; i++)
			uids[i] = fc_msg_uid(ps->box, seqs[i]);
		ret = fc_mailbox_store(ps->box, seqs, n, FC_STORE_ADD,
		    FC_FLAG_DELETED, NULL, 0, NULL, NULL, NULL);
		if (ret == 0)
			ret = fc_mailbox_expunge(ps->box, uids, n);
		free(uids);
	}
	free(seqs);
	if (ret < 0) {
		fc_store_error(ps->store, &text);
		fc_log_session(ps->s, FC_LOG_WARNING, "event=error op=update "
		    "reason=\"%s\"", fc_log_quote(fc_session_arena(ps->s),
		    text, 200));
	}
	return ret;
}

const char *
pop3_uidl(struct pop3_session *ps, uint32_t idx, char *buf, size_t size)
{
	const struct pop3_msg *m = &ps->msgs[idx];
	const char *guid = m->guid;

	if (guid != NULL) {
		/* RFC 1939 7: 1 to 70 characters from 0x21 to 0x7e */
		if (*guid != '\0' && strlen(guid) <= 70
		    && strspn(guid, "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFG"
		    "HIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~")
		    == strlen(guid))
			return guid;
	}
	/* Dovecot's default %08Xu%08Xv */
	snprintf(buf, size, "%08X%08X", m->uid, ps->uidvalidity);
	return buf;
}
