/*
 * imap_mailbox.c - mailboxes as a whole: LIST and LSUB (with the
 * CHILDREN and SPECIAL-USE attributes, RFC 3348 and 6154), CREATE,
 * DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE and STATUS (with SIZE, RFC
 * 8438).
 *
 * Names travel in modified UTF-7 (RFC 3501 5.1.3) and are UTF-8 inside;
 * the hierarchy separator is "/". Every name from a client goes through
 * imap_mailbox_arg(), which refuses what could leave the user's tree.
 * LIST patterns are matched without backtracking (one row of states per
 * name), so no pattern of stars costs more than its length times the
 * name's.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <facteur/arena.h>
#include <facteur/log.h>
#include <facteur/session.h>
#include <facteur/storage.h>

#include "imap.h"

#define IMAP_PATTERN_MAX	(2 * FC_MAILBOX_NAME_MAX)

/* RFC 3501 6.3.8: "*" matches anything, "%" anything but the separator. */
static bool
imap_list_match(const char *pat, size_t m, const char *name, bool *row)
{
	size_t n = strlen(name), i, j;
	bool prev, cur;

	/* row[j]: pat[0..j) matches name[0..i) */
	row[0] = true;
	for (j = 1; j <= m; j++)
		row[j] = row[j - 1] && (pat[j - 1] == '*' || pat[j - 1] == '%');
	for (i = 1; i <= n; i++) {
		char ch = name[i - 1];

		prev = row[0];
		row[0] = false;
		for (j = 1; j <= m; j++) {
			char p = pat[j - 1];

			cur = row[j];
			if (p == '*')
				row[j] = row[j - 1] || cur;
			else if (p == '%')
				row[j] = row[j - 1] || (cur && ch != '/');
			else
				row[j] = prev && p == ch;
			prev = cur;
		}
	}
	return row[m];
}

static void
imap_name_write(struct imap_session *is, const char *name)
{
	if (is->utf8)
		imap_str_add_string(&is->out, name, strlen(name), true);
	else {
		const char *w = fc_mutf7_encode(is->arena, name);

		imap_str_add_string(&is->out, w, strlen(w), false);
	}
}

static void
imap_attrs_write(struct imap_session *is, unsigned int attrs, bool lsub)
{
	static const struct {
		unsigned int bit;
		const char *name;
	} names[] = {
		{ FC_MBOX_NOSELECT, "\\Noselect" },
		{ FC_MBOX_NONEXISTENT, "\\NonExistent" },
		{ FC_MBOX_HASCHILDREN, "\\HasChildren" },
		{ FC_MBOX_HASNOCHILDREN, "\\HasNoChildren" },
		{ FC_MBOX_SENT, "\\Sent" },
		{ FC_MBOX_DRAFTS, "\\Drafts" },
		{ FC_MBOX_TRASH, "\\Trash" },
		{ FC_MBOX_JUNK, "\\Junk" },
		{ FC_MBOX_ARCHIVE, "\\Archive" },
	};
	bool first = true;
	size_t i;

	imap_str_addc(&is->out, '(');
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(attrs & names[i].bit))
			continue;
		/* LSUB shows no children attributes (RFC 3348 4) */
		if (lsub && (names[i].bit & (FC_MBOX_HASCHILDREN
		    | FC_MBOX_HASNOCHILDREN)))
			continue;
		if (!first)
			imap_str_addc(&is->out, ' ');
		imap_str_adds(&is->out, names[i].name);
		first = false;
	}
	imap_str_addc(&is->out, ')');
}

/* A pattern or reference argument as UTF-8, or NULL. */
static const char *
imap_pattern_arg(struct imap_session *is, const struct imap_arg *arg)
{
	const char *reason;

	if (!imap_arg_is_string(arg) || strlen(arg->str) != arg->len)
		return NULL;
	if (is->utf8)
		return arg->str;
	return fc_mutf7_decode(is->arena, arg->str, &reason);
}

enum fc_next
imap_cmd_list(struct imap_session *is, struct imap_command *c, bool lsub)
{
	const struct fc_mailbox_info *list;
	const char *ref, *pat, *full;
	size_t count, i, m;
	bool *row;

	if (c->count != 2)
		return imap_bad(is, c->tag, "%s reference pattern",
		    lsub ? "LSUB" : "LIST");
	ref = imap_pattern_arg(is, &c->args[0]);
	pat = imap_pattern_arg(is, &c->args[1]);
	if (ref == NULL || pat == NULL)
		return imap_bad(is, c->tag, "Invalid reference or pattern");
	if (*pat == '\0' && !lsub) {
		/* RFC 3501 6.3.8: the separator and the root */
		imap_untagged(is, "LIST (\\Noselect) \"/\" \"\"");
		return imap_ok(is, c->tag, "LIST completed");
	}
	/* a pattern starting at the root ignores the reference */
	full = *pat == '/' ? pat : fc_arena_printf(is->arena, "%s%s", ref,
	    pat);
	m = strlen(full);
	if (m > IMAP_PATTERN_MAX)
		return imap_bad(is, c->tag, "Pattern too long");
	if (fc_store_list(is->store, is->arena, &list, &count) < 0)
		return imap_store_no(is, c->tag, "LIST");
	row = fc_arena_alloc(is->arena, m + 1);
	for (i = 0; i < count; i++) {
		const char *name = list[i].name;
		unsigned int attrs = list[i].attrs;

		if (lsub ? !(attrs & FC_MBOX_SUBSCRIBED) :
		    (attrs & FC_MBOX_NONEXISTENT) != 0)
			continue;
		if (!(fc_mailbox_is_inbox(name) && imap_list_match(full, m,
		    "INBOX", row)) && !(fc_mailbox_is_inbox(full)
		    && fc_mailbox_is_inbox(name))
		    && !imap_list_match(full, m, name, row))
			continue;
		imap_str_printf(&is->out, "* %s ", lsub ? "LSUB" : "LIST");
		imap_attrs_write(is, attrs, lsub);
		imap_str_adds(&is->out, " \"/\" ");
		imap_name_write(is, name);
		imap_str_adds(&is->out, "\r\n");
		imap_write_str(is);
	}
	return imap_ok(is, c->tag, "%s completed", lsub ? "LSUB" : "LIST");
}

enum fc_next
imap_cmd_create(struct imap_session *is, struct imap_command *c)
{
	const struct imap_arg *a = c->count >= 1 ? &c->args[0] : NULL;
	enum fc_next next;
	const char *name;
	char *trimmed;
	size_t n;

	if (c->count < 1 || c->count > 2)
		return imap_bad(is, c->tag, "CREATE mailbox");
	/* RFC 3501 6.3.3: a trailing separator only says children may
	 * follow */
	if (imap_arg_is_string(a) && a->len > 1 && a->str[a->len - 1] == '/') {
		struct imap_arg *copy = fc_arena_alloc(is->arena,
		    sizeof(*copy));

		*copy = *a;
		n = a->len - 1;
		trimmed = fc_arena_strndup(is->arena, a->str, n);
		copy->str = trimmed;
		copy->len = n;
		a = copy;
	}
	if ((name = imap_mailbox_arg(is, c->tag, a, &next)) == NULL)
		return next;
	if (fc_mailbox_is_inbox(name))
		return imap_no(is, c->tag, "[ALREADYEXISTS] INBOX exists");
	if (fc_store_create(is->store, name, 0) < 0)
		return imap_store_no(is, c->tag, "CREATE");
	return imap_ok(is, c->tag, "CREATE completed");
}

enum fc_next
imap_cmd_delete(struct imap_session *is, struct imap_command *c)
{
	enum fc_next next;
	const char *name;

	if (c->count != 1)
		return imap_bad(is, c->tag, "DELETE mailbox");
	if ((name = imap_mailbox_arg(is, c->tag, &c->args[0], &next)) == NULL)
		return next;
	if (fc_mailbox_is_inbox(name))
		return imap_no(is, c->tag, "[CANNOT] INBOX cannot be deleted");
	if (is->box != NULL && strcmp(fc_mailbox_name(is->box), name) == 0)
		return imap_no(is, c->tag, "[INUSE] Unselect the mailbox "
		    "first");
	if (fc_store_delete(is->store, name) < 0)
		return imap_store_no(is, c->tag, "DELETE");
	return imap_ok(is, c->tag, "DELETE completed");
}

enum fc_next
imap_cmd_rename(struct imap_session *is, struct imap_command *c)
{
	enum fc_next next;
	const char *from, *to;

	if (c->count != 2)
		return imap_bad(is, c->tag, "RENAME from to");
	if ((from = imap_mailbox_arg(is, c->tag, &c->args[0], &next)) == NULL
	    || (to = imap_mailbox_arg(is, c->tag, &c->args[1], &next))
	    == NULL)
		return next;
	if (fc_mailbox_is_inbox(to))
		return imap_no(is, c->tag, "[ALREADYEXISTS] INBOX exists");
	if (fc_store_rename(is->store, from, to) < 0)
		return imap_store_no(is, c->tag, "RENAME");
	return imap_ok(is, c->tag, "RENAME completed");
}

enum fc_next
imap_cmd_subscribe(struct imap_session *is, struct imap_command *c, bool on)
{
	const char *what = on ? "SUBSCRIBE" : "UNSUBSCRIBE";
	enum fc_next next;
	const char *name;

	if (c->count != 1)
		return imap_bad(is, c->tag, "%s mailbox", what);
	if ((name = imap_mailbox_arg(is, c->tag, &c->args[0], &next)) == NULL)
		return next;
	if (fc_store_subscribe(is->store, name, on) < 0)
		return imap_store_no(is, c->tag, what);
	return imap_ok(is, c->tag, "%s completed", what);
}

enum fc_next
imap_cmd_status(struct imap_session *is, struct imap_command *c)
{
	const struct fc_mailbox_status *st;
	const struct imap_arg *items;
	enum fc_next next;
	const char *name;
	size_t i;

	if (c->count != 2 || c->args[1].type != IMAP_ARG_LIST
	    || c->args[1].count == 0)
		return imap_bad(is, c->tag, "STATUS mailbox (items)");
	items = c->args[1].list;
	for (i = 0; i < c->args[1].count; i++) {
		const struct imap_arg *it = &items[i];

		if (!imap_arg_is_atom(it, "MESSAGES")
		    && !imap_arg_is_atom(it, "RECENT")
		    && !imap_arg_is_atom(it, "UIDNEXT")
		    && !imap_arg_is_atom(it, "UIDVALIDITY")
		    && !imap_arg_is_atom(it, "UNSEEN")
		    && !imap_arg_is_atom(it, "SIZE")
		    && !imap_arg_is_atom(it, "DELETED"))
			return imap_bad(is, c->tag, "Unknown STATUS item");
	}
	if ((name = imap_mailbox_arg(is, c->tag, &c->args[0], &next)) == NULL)
		return next;
	if (fc_store_status(is->store, name, is->arena, &st) < 0)
		return imap_store_no(is, c->tag, "STATUS");
	imap_str_adds(&is->out, "* STATUS ");
	imap_name_write(is, name);
	imap_str_adds(&is->out, " (");
	for (i = 0; i < c->args[1].count; i++) {
		const struct imap_arg *it = &items[i];
		unsigned long long v;
		const char *nm;

		if (imap_arg_is_atom(it, "MESSAGES"))
			v = st->messages, nm = "MESSAGES";
		else if (imap_arg_is_atom(it, "RECENT"))
			v = 0, nm = "RECENT";
		else if (imap_arg_is_atom(it, "UIDNEXT"))
			v = st->uidnext, nm = "UIDNEXT";
		else if (imap_arg_is_atom(it, "UIDVALIDITY"))
			v = st->uidvalidity, nm = "UIDVALIDITY";
		else if (imap_arg_is_atom(it, "UNSEEN"))
			v = st->unseen, nm = "UNSEEN";
		else if (imap_arg_is_atom(it, "SIZE"))
			v = st->size, nm = "SIZE";
		else
			v = st->deleted, nm = "DELETED";
		imap_str_printf(&is->out, "%s%s %llu", i > 0 ? " " : "", nm,
		    v);
	}
	imap_str_adds(&is->out, ")\r\n");
	imap_write_str(is);
	return imap_ok(is, c->tag, "STATUS completed");
}
