/*
 * imap_mailbox.c - mailboxes as a whole: LIST and LSUB (with the
 * CHILDREN and SPECIAL-USE attributes, RFC 3348 and 6154, the
 * LIST-EXTENDED options of RFC 5258 and LIST-STATUS, RFC 5819), CREATE,
 * DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE and STATUS (with SIZE, RFC
 * 8438).
 *
 * Names travel in modified UTF-7 (RFC 3501 5.1.3), or as UTF-8 once the
 * client enabled UTF8=ACCEPT or IMAP4rev2, and are UTF-8 inside; the
 * hierarchy separator is "/". Every name from a client goes through
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
		/* \NonExistent implies \Noselect (RFC 5258 3.4); LSUB
		 * predates it and says \Noselect */
		if (!lsub && names[i].bit == FC_MBOX_NOSELECT
		    && (attrs & FC_MBOX_NONEXISTENT))
			continue;
		if (lsub && names[i].bit == FC_MBOX_NONEXISTENT)
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
		return imap_str_utf8_valid((const unsigned char *)arg->str,
		    arg->len) ? arg->str : NULL;
	return fc_mutf7_decode(is->arena, arg->str, &reason);
}

void
imap_list_selected(struct imap_session *is, const char *name)
{
	const struct fc_mailbox_info *list;
	unsigned int attrs = 0;
	size_t count, i;

	/* the attributes LIST would give; none when the list fails, which
	 * the SELECT that just opened the mailbox does not need */
	if (fc_store_list(is->store, is->arena, &list, &count) == 0)
		for (i = 0; i < count; i++)
			if (strcmp(list[i].name, name) == 0) {
				attrs = list[i].attrs;
				break;
			}
	imap_str_adds(&is->out, "* LIST ");
	imap_attrs_write(is, attrs & ~FC_MBOX_NONEXISTENT, false);
	imap_str_adds(&is->out, " \"/\" ");
	imap_name_write(is, name);
	imap_str_adds(&is->out, "\r\n");
	imap_write_str(is);
}

/* STATUS items: 0, or -1 for an unknown one. */
static int
imap_status_items_check(const struct imap_arg *items)
{
	static const char *const known[] = { "MESSAGES", "RECENT", "UIDNEXT",
		"UIDVALIDITY", "UNSEEN", "SIZE", "DELETED", "HIGHESTMODSEQ",
		"DELETED-STORAGE" };
	size_t i, k;

	if (items->type != IMAP_ARG_LIST || items->count == 0)
		return -1;
	for (i = 0; i < items->count; i++) {
		for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (imap_arg_is_atom(&items->list[i], known[k]))
				break;
		if (k == sizeof(known) / sizeof(known[0]))
			return -1;
	}
	return 0;
}

/* The bytes of the messages with \Deleted in a mailbox (0 when it
 * cannot be opened: STATUS has already found it). */
static uint64_t
imap_deleted_bytes(struct imap_session *is, const char *name)
{
	struct fc_mailbox *box;
	uint64_t total = 0;
	uint32_t seq, n;

	if (fc_mailbox_open(is->store, name, FC_OPEN_READONLY, &box) < 0)
		return 0;
	n = fc_mailbox_count(box);
	for (seq = 1; seq <= n; seq++)
		if (fc_msg_flags(box, seq) & FC_FLAG_DELETED)
			total += fc_msg_size(box, seq, true);
	fc_mailbox_close(&box);
	return total;
}

/* "* STATUS name (...)" for a checked item list; -1 on a store error. */
static int
imap_status_write(struct imap_session *is, const char *name,
    const struct imap_arg *items)
{
	const struct fc_mailbox_status *st;
	size_t i;

	if (fc_store_status(is->store, name, is->arena, &st) < 0)
		return -1;
	imap_str_adds(&is->out, "* STATUS ");
	imap_name_write(is, name);
	imap_str_adds(&is->out, " (");
	for (i = 0; i < items->count; i++) {
		const struct imap_arg *it = &items->list[i];
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
		else if (imap_arg_is_atom(it, "HIGHESTMODSEQ"))
			v = st->highestmodseq, nm = "HIGHESTMODSEQ";
		else if (imap_arg_is_atom(it, "DELETED-STORAGE")) {
			/* RFC 9208 4.2.2: KiB held by \Deleted messages */
			v = (imap_deleted_bytes(is, name) + 1023) / 1024;
			nm = "DELETED-STORAGE";
		}
		else
			v = st->deleted, nm = "DELETED";
		imap_str_printf(&is->out, "%s%s %llu", i > 0 ? " " : "", nm,
		    v);
	}
	imap_str_adds(&is->out, ")\r\n");
	imap_write_str(is);
	return 0;
}

/* LIST-EXTENDED (RFC 5258) options, and LIST-STATUS (RFC 5819). */
struct list_opts {
	bool lsub;
	bool sel_subscribed, recursive, sel_special;
	bool ret_subscribed, ret_children, ret_special;
	const struct imap_arg *status;	/* RETURN (STATUS (...)) */
	const char **patterns;
	size_t npatterns;
};

static bool
imap_list_any_match(const struct list_opts *o, const char *name, bool *row)
{
	size_t i;

	for (i = 0; i < o->npatterns; i++) {
		const char *p = o->patterns[i];
		size_t m = strlen(p);

		if (fc_mailbox_is_inbox(name) && (imap_list_match(p, m,
		    "INBOX", row) || fc_mailbox_is_inbox(p)))
			return true;
		if (imap_list_match(p, m, name, row))
			return true;
	}
	return false;
}

/* A subscribed mailbox below name in the listing. */
static bool
imap_list_subscribed_child(const struct fc_mailbox_info *list, size_t count,
    const char *name)
{
	size_t n = strlen(name), i;

	for (i = 0; i < count; i++)
		if ((list[i].attrs & FC_MBOX_SUBSCRIBED)
		    && strncmp(list[i].name, name, n) == 0
		    && list[i].name[n] == '/')
			return true;
	return false;
}

static enum fc_next
imap_list_run(struct imap_session *is, struct imap_command *c,
    struct list_opts *o)
{
	const struct fc_mailbox_info *list;
	size_t count, i, longest = 0;
	const char *what = o->lsub ? "LSUB" : "LIST";
	bool *row;

	for (i = 0; i < o->npatterns; i++)
		if (strlen(o->patterns[i]) > longest)
			longest = strlen(o->patterns[i]);
	if (fc_store_list(is->store, is->arena, &list, &count) < 0)
		return imap_store_no(is, c->tag, what);
	row = fc_arena_alloc(is->arena, longest + 1);
	for (i = 0; i < count; i++) {
		const char *name = list[i].name;
		unsigned int attrs = list[i].attrs;
		bool subscribed = (attrs & FC_MBOX_SUBSCRIBED) != 0;
		bool childinfo = false;

		if (!imap_list_any_match(o, name, row))
			continue;
		if (o->sel_special && !(attrs & FC_MBOX_SPECIAL_USE))
			continue;
		if (o->lsub || o->sel_subscribed) {
			if (!subscribed) {
				if (!o->recursive && !o->lsub)
					continue;
				if (!imap_list_subscribed_child(list, count,
				    name))
					continue;
				/* RFC 3501 6.3.9 and RFC 5258 3.5 */
				if (o->lsub)
					attrs |= FC_MBOX_NOSELECT;
				else
					childinfo = true;
			}
		} else if (attrs & FC_MBOX_NONEXISTENT)
			continue;
		if (!o->lsub && !(o->sel_subscribed || o->ret_subscribed))
			subscribed = false;
		imap_str_printf(&is->out, "* %s ", what);
		if (childinfo && !subscribed)
			attrs &= ~FC_MBOX_SUBSCRIBED;
		imap_attrs_write(is, attrs, o->lsub);
		if (!o->lsub && subscribed && (attrs & FC_MBOX_SUBSCRIBED)) {
			/* "(...)" gets \Subscribed inside */
			is->out.len--;
			imap_str_adds(&is->out, is->out.data[is->out.len - 1]
			    == '(' ? "\\Subscribed)" : " \\Subscribed)");
		}
		imap_str_adds(&is->out, " \"/\" ");
		imap_name_write(is, name);
		if (childinfo)
			imap_str_adds(&is->out, " (\"CHILDINFO\" "
			    "(\"SUBSCRIBED\"))");
		imap_str_adds(&is->out, "\r\n");
		imap_write_str(is);
		if (o->status != NULL && !(attrs & (FC_MBOX_NOSELECT
		    | FC_MBOX_NONEXISTENT)))
			imap_status_write(is, name, o->status);
	}
	return imap_ok(is, c->tag, "%s completed", what);
}

enum fc_next
imap_cmd_list(struct imap_session *is, struct imap_command *c, bool lsub)
{
	struct list_opts o = { .lsub = lsub };
	const struct imap_arg *args = c->args, *pats;
	const char *ref, *pat;
	size_t n = c->count, i, k, total = 0;

	if (!lsub && n > 0 && args[0].type == IMAP_ARG_LIST) {
		/* selection options */
		for (i = 0; i < args[0].count; i++) {
			const struct imap_arg *a = &args[0].list[i];

			if (imap_arg_is_atom(a, "SUBSCRIBED"))
				o.sel_subscribed = true;
			else if (imap_arg_is_atom(a, "RECURSIVEMATCH"))
				o.recursive = true;
			else if (imap_arg_is_atom(a, "REMOTE"))
				;
			else if (imap_arg_is_atom(a, "SPECIAL-USE"))
				o.sel_special = true;
			else
				return imap_bad(is, c->tag, "Unknown LIST "
				    "selection option");
		}
		if (o.recursive && !o.sel_subscribed)
			return imap_bad(is, c->tag, "RECURSIVEMATCH needs "
			    "another selection option");
		args++;
		n--;
	}
	if (!lsub && n == 4 && imap_arg_is_atom(&args[2], "RETURN")) {
		const struct imap_arg *r = &args[3];

		if (r->type != IMAP_ARG_LIST)
			return imap_bad(is, c->tag, "RETURN (options)");
		for (i = 0; i < r->count; i++) {
			const struct imap_arg *a = &r->list[i];

			if (imap_arg_is_atom(a, "SUBSCRIBED"))
				o.ret_subscribed = true;
			else if (imap_arg_is_atom(a, "CHILDREN"))
				o.ret_children = true;
			else if (imap_arg_is_atom(a, "SPECIAL-USE"))
				o.ret_special = true;
			else if (imap_arg_is_atom(a, "STATUS") && i + 1 <
			    r->count && imap_status_items_check(&r->list[i + 1])
			    == 0)
				o.status = &r->list[++i];
			else
				return imap_bad(is, c->tag, "Unknown LIST "
				    "return option");
		}
		n = 2;
	}
	if (n != 2)
		return imap_bad(is, c->tag, "%s reference pattern",
		    lsub ? "LSUB" : "LIST");
	ref = imap_pattern_arg(is, &args[0]);
	if (ref == NULL)
		return imap_bad(is, c->tag, "Invalid reference");
	pats = &args[1];
	k = pats->type == IMAP_ARG_LIST ? pats->count : 1;
	if (lsub && pats->type == IMAP_ARG_LIST)
		return imap_bad(is, c->tag, "LSUB takes one pattern");
	if (k == 0)
		return imap_bad(is, c->tag, "Empty pattern list");
	o.patterns = fc_arena_alloc(is->arena, k * sizeof(*o.patterns));
	for (i = 0; i < k; i++) {
		const struct imap_arg *p = pats->type == IMAP_ARG_LIST ?
		    &pats->list[i] : pats;

		if ((pat = imap_pattern_arg(is, p)) == NULL)
			return imap_bad(is, c->tag, "Invalid pattern");
		if (*pat == '\0' && !lsub && k == 1 && !o.sel_subscribed
		    && o.status == NULL) {
			/* RFC 3501 6.3.8: the separator and the root */
			imap_untagged(is, "LIST (\\Noselect) \"/\" \"\"");
			return imap_ok(is, c->tag, "LIST completed");
		}
		/* a pattern starting at the root ignores the reference */
		o.patterns[o.npatterns] = *pat == '/' ? pat :
		    fc_arena_printf(is->arena, "%s%s", ref, pat);
		/* all patterns together: matching costs their length
		 * times each name's */
		total += strlen(o.patterns[o.npatterns]);
		if (total > IMAP_PATTERN_MAX)
			return imap_bad(is, c->tag, "Patterns too long");
		o.npatterns++;
	}
	return imap_list_run(is, c, &o);
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

/* Whether a mailbox has names below it. */
static bool
imap_has_children(struct imap_session *is, const char *name)
{
	const struct fc_mailbox_info *list;
	size_t count, i, n = strlen(name);

	if (fc_store_list(is->store, is->arena, &list, &count) < 0)
		return false;
	for (i = 0; i < count; i++)
		if (strncmp(list[i].name, name, n) == 0
		    && list[i].name[n] == '/')
			return true;
	return false;
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
	if (fc_store_delete(is->store, name) < 0) {
		if (!is->rev2 || fc_store_error(is->store, NULL)
		    != FC_ERR_NOTFOUND)
			return imap_store_no(is, c->tag, "DELETE");
		/* RFC 9051 6.3.5: a \Noselect level with names below it
		 * (the listing forgets the store's error: answer here) */
		if (imap_has_children(is, name))
			return imap_no(is, c->tag, "[HASCHILDREN] Delete "
			    "the mailboxes below it first");
		return imap_no(is, c->tag, "[NONEXISTENT] No such mailbox");
	}
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
	enum fc_next next;
	const char *name;

	if (c->count != 2 || imap_status_items_check(&c->args[1]) < 0)
		return imap_bad(is, c->tag, "STATUS mailbox (items)");
	if ((name = imap_mailbox_arg(is, c->tag, &c->args[0], &next)) == NULL)
		return next;
	if (imap_status_write(is, name, &c->args[1]) < 0)
		return imap_store_no(is, c->tag, "STATUS");
	return imap_ok(is, c->tag, "STATUS completed");
}

/* ------------------------------------------------------------------ */
/* QUOTA (RFC 9208): one quota root, "", over the whole store */

/* "* QUOTA "" (...)", or nothing when the user has no limits. */
static int
imap_quota_write(struct imap_session *is, bool *any_r)
{
	uint64_t bytes, bytes_limit, msgs, msgs_limit;

	*any_r = false;
	if (fc_store_quota(is->store, &bytes, &bytes_limit, &msgs,
	    &msgs_limit) < 0)
		return -1;
	if (bytes_limit == 0 && msgs_limit == 0)
		return 0;
	*any_r = true;
	imap_str_adds(&is->out, "* QUOTA \"\" (");
	if (bytes_limit > 0)
		imap_str_printf(&is->out, "STORAGE %llu %llu",
		    (unsigned long long)((bytes + 1023) / 1024),
		    (unsigned long long)(bytes_limit / 1024));
	if (msgs_limit > 0)
		imap_str_printf(&is->out, "%sMESSAGE %llu %llu",
		    bytes_limit > 0 ? " " : "", (unsigned long long)msgs,
		    (unsigned long long)msgs_limit);
	imap_str_adds(&is->out, ")\r\n");
	return 0;
}

enum fc_next
imap_cmd_quota(struct imap_session *is, struct imap_command *c)
{
	enum fc_next next;
	const char *name;
	bool any;

	if (strcmp(c->name, "SETQUOTA") == 0)
		return imap_no(is, c->tag, "[NOPERM] Quotas are set by the "
		    "administrator");
	if (c->count != 1 || !imap_arg_is_string(&c->args[0]))
		return imap_bad(is, c->tag, "%s %s", c->name,
		    strcmp(c->name, "GETQUOTA") == 0 ? "root" : "mailbox");
	if (strcmp(c->name, "GETQUOTA") == 0) {
		if (c->args[0].len != 0)
			return imap_no(is, c->tag, "[NONEXISTENT] No such quota "
			    "root");
		if (imap_quota_write(is, &any) < 0)
			return imap_store_no(is, c->tag, "GETQUOTA");
		if (!any)
			return imap_no(is, c->tag, "[NONEXISTENT] No quota");
		imap_write_str(is);
		return imap_ok(is, c->tag, "GETQUOTA completed");
	}
	/* GETQUOTAROOT mailbox */
	if ((name = imap_mailbox_arg(is, c->tag, &c->args[0], &next)) == NULL)
		return next;
	{
		const struct fc_mailbox_status *st;

		if (fc_store_status(is->store, name, is->arena, &st) < 0)
			return imap_store_no(is, c->tag, "GETQUOTAROOT");
	}
	if (imap_quota_write(is, &any) < 0)
		return imap_store_no(is, c->tag, "GETQUOTAROOT");
	{
		struct imap_str quota = is->out;

		imap_str_init(&is->out);
		imap_str_adds(&is->out, "* QUOTAROOT ");
		imap_name_write(is, name);
		imap_str_adds(&is->out, any ? " \"\"\r\n" : "\r\n");
		imap_write_str(is);
		imap_str_free(&is->out);
		is->out = quota;
	}
	imap_write_str(is);
	return imap_ok(is, c->tag, "GETQUOTAROOT completed");
}
