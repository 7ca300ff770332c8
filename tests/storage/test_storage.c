/*
 * test_storage.c - the storage API (include/facteur/storage.h) against
 * the maildir module, one call at a time: listing, creating, deleting,
 * renaming and subscribing mailboxes, STATUS, quota, appends, views and
 * their syncs (several views of one mailbox, held-back expunges), flag
 * stores with CONDSTORE's UNCHANGEDSINCE, expunges, copies and moves,
 * keyword limits, the change watch (another view, another process,
 * another MDA), local delivery, names that must be refused before any
 * file is touched, modified UTF-7, and the on-disk layout that other
 * maildir programs share with us.
 *
 * Every assertion checks what the header (or docs/storage.md) promises,
 * not what the code happens to do; a case that fails names the promise.
 * The store lives in a scratch folder that is removed at the end (kept
 * with STORAGE_TEST_KEEP=1). The in-tree modules are loaded from
 * FACTEUR_MODULE_PATH; without it the test is skipped. With
 * FACTEUR_TEST_STORAGE=pgsql the same checks run against the pgsql
 * module, but for those of maildir's files (ON_DISK).
 */
#define _GNU_SOURCE
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include <facteur/arena.h>
#include <facteur/deliver.h>
#include <facteur/storage.h>

#include "core.h"
#include "storage_env.h"

/* checks of the maildir files themselves */
#define ON_DISK	(!senv_pgsql())
#include "tap.h"

#define NELEMS(a)	(sizeof(a) / sizeof((a)[0]))
#define NOT_LISTED	0xffffffffu

#define ALICE	"alice@example.org"
#define BOB	"bob@example.org"
#define CAROL	"carol@example.org"
#define QUOTA	"quota@example.org"
#define QMSG	"qmsg@example.org"

static const char users[] =
    ALICE ":{PLAIN}secret\n"
    BOB ":{PLAIN}secret\n"
    CAROL ":{PLAIN}secret\n"
    QUOTA ":{PLAIN}secret::::::quota=10k\n"
    QMSG ":{PLAIN}secret::::::quota_messages=3\n";

static struct senv env;
static struct event_base *base;

/* ------------------------------------------------------------------ */
/* Helpers */

static const char *
err_name(enum fc_error e)
{
	static const char *const names[] = {
		"NONE", "TEMP", "NOTFOUND", "EXISTS", "BADNAME", "NOQUOTA",
		"PERM", "EXPUNGED", "LIMIT",
	};

	return (size_t)e < NELEMS(names) ? names[e] : "?";
}

/* ret is a failure with the error code want. */
static bool
fails_with(struct fc_store *st, int ret, enum fc_error want,
    const char *what)
{
	const char *text = "";
	enum fc_error got = fc_store_error(st, &text);
	bool good = ret < 0 && got == want;

	ok(good, "%s: fails with FC_ERR_%s", what, err_name(want));
	if (!good)
		diag("returned %d, error FC_ERR_%s (%s)", ret, err_name(got),
		    text);
	return good;
}

static bool
succeeds(struct fc_store *st, int ret, const char *what)
{
	const char *text = "";

	if (ret >= 0)
		return ok(true, "%s", what);
	fc_store_error(st, &text);
	ok(false, "%s", what);
	diag("failed: %s", text);
	return false;
}

/* A message with a unique id in Subject and Message-ID. */
static char *
msg_text(const char *id, bool crlf)
{
	const char *nl = crlf ? "\r\n" : "\n";

	return fc_arena_printf(env.arena, "From: Test <test@example.org>%s"
	    "To: alice@example.org%sSubject: %s%sMessage-ID: <%s@example.org>"
	    "%s%sThis is message %s.%sSecond line.%s", nl, nl, id, nl, id, nl,
	    nl, id, nl, nl);
}

/* text with every CR LF turned into LF, as maildir stores it */
static char *
lf_of(const char *text)
{
	char *out = fc_arena_strdup(env.arena, text), *o = out;
	const char *p;

	for (p = text; *p != '\0'; p++)
		if (!(p[0] == '\r' && p[1] == '\n'))
			*o++ = *p;
	*o = '\0';
	return out;
}

/* bytes of text once every bare LF is CR LF (what IMAP counts) */
static size_t
crlf_len(const char *text)
{
	size_t n = 0;
	const char *p;

	for (p = text; *p != '\0'; p++) {
		n++;
		if (*p == '\n' && (p == text || p[-1] != '\r'))
			n++;
	}
	return n;
}

static unsigned int
list_attrs(struct fc_store *st, const char *name)
{
	const struct fc_mailbox_info *list;
	size_t n, i;

	if (fc_store_list(st, env.arena, &list, &n) < 0)
		return NOT_LISTED;
	for (i = 0; i < n; i++)
		if (strcmp(list[i].name, name) == 0)
			return list[i].attrs;
	return NOT_LISTED;
}

static const struct fc_mailbox_status *
status_of(struct fc_store *st, const char *name)
{
	const struct fc_mailbox_status *s;

	if (fc_store_status(st, name, env.arena, &s) < 0)
		return NULL;
	return s;
}

/* The keyword names of a message, sorted and joined by spaces. */
static char *
kw_names(struct fc_mailbox *box, uint32_t seq)
{
	uint64_t kw = fc_msg_keywords(box, seq);
	const char *names[64];
	size_t n = 0, i, k, len = 1;
	char *out;

	for (i = 0; i < 64; i++) {
		const char *name;

		if (!(kw & (1ULL << i)))
			continue;
		name = fc_mailbox_keyword(box, i);
		names[n++] = name != NULL ? name : "(null)";
	}
	for (i = 1; i < n; i++)		/* insertion sort: a handful */
		for (k = i; k > 0 && strcmp(names[k - 1], names[k]) > 0; k--) {
			const char *t = names[k];

			names[k] = names[k - 1];
			names[k - 1] = t;
		}
	for (i = 0; i < n; i++)
		len += strlen(names[i]) + 1;
	out = fc_arena_alloc(env.arena, len);
	for (i = 0; i < n; i++) {
		if (i > 0)
			strcat(out, " ");
		strcat(out, names[i]);
	}
	return out;
}

/* The one file of a folder's cur/ whose name starts with base. */
static char *
cur_file(const char *folder, const char *prefix)
{
	char dir[4096], **names, *found = NULL;
	size_t n, i;

	snprintf(dir, sizeof(dir), "%s/cur", folder);
	names = sx_list_dir(dir, &n);
	for (i = 0; i < n; i++)
		if (strncmp(names[i], prefix, strlen(prefix)) == 0)
			found = fc_arena_strdup(env.arena, names[i]);
	sx_free_names(names, n);
	return found;
}

static size_t
dir_count(const char *folder, const char *sub)
{
	char dir[4096], **names;
	size_t n;

	snprintf(dir, sizeof(dir), "%s/%s", folder, sub);
	names = sx_list_dir(dir, &n);
	sx_free_names(names, n);
	return n;
}

/* The file name of the message a view shows at seq, from its GUID (the
 * base name, as the maildir module gives it). */
static char *
msg_file(const char *folder, struct fc_mailbox *box, uint32_t seq)
{
	return cur_file(folder, fc_msg_guid(box, seq));
}

/* Do the reported expunges, applied one by one to the old view, give
 * the new view? (IMAP clients renumber after each EXPUNGE.) */
static bool
expunges_consistent(const uint32_t *before, size_t nbefore,
    const struct sx_synclog *log, struct fc_mailbox *box)
{
	uint32_t *v = calloc(nbefore + 1, sizeof(*v));
	size_t n = nbefore, i;
	bool good = true;

	memcpy(v, before, nbefore * sizeof(*v));
	for (i = 0; i < log->nexp && good; i++) {
		uint32_t seq = log->exp_seq[i];

		if (seq < 1 || seq > n || v[seq - 1] != log->exp_uid[i]) {
			diag("expunge %zu: seq %u uid %u does not match the "
			    "client's view", i, seq, log->exp_uid[i]);
			good = false;
			break;
		}
		memmove(&v[seq - 1], &v[seq], (n - seq) * sizeof(*v));
		n--;
	}
	if (good && n > fc_mailbox_count(box))
		good = false;
	for (i = 0; good && i < n; i++)
		good = v[i] == fc_msg_uid(box, (uint32_t)i + 1);
	free(v);
	return good;
}

static uint32_t *
view_uids(struct fc_mailbox *box, size_t *n_r)
{
	uint32_t n = fc_mailbox_count(box), i;
	uint32_t *v = fc_arena_alloc(env.arena, (n + 1) * sizeof(*v));

	for (i = 0; i < n; i++)
		v[i] = fc_msg_uid(box, i + 1);
	*n_r = n;
	return v;
}

static uint32_t
append_id(struct fc_store *st, const char *box, const char *id)
{
	const char *text = msg_text(id, true);
	uint32_t uid = 0;

	if (sx_append(st, box, 0, NULL, 0, text, strlen(text), NULL, &uid) < 0)
		return 0;
	return uid;
}

/* ------------------------------------------------------------------ */
/* Mailboxes */

static void
test_list_defaults(struct fc_store *st)
{
	static const struct {
		const char *name;
		unsigned int attrs;
	} want[] = {
		{ "INBOX", FC_MBOX_SUBSCRIBED | FC_MBOX_HASNOCHILDREN },
		{ "Archive", FC_MBOX_ARCHIVE | FC_MBOX_SUBSCRIBED |
		  FC_MBOX_HASNOCHILDREN },
		{ "Drafts", FC_MBOX_DRAFTS | FC_MBOX_SUBSCRIBED |
		  FC_MBOX_HASNOCHILDREN },
		{ "Junk", FC_MBOX_JUNK | FC_MBOX_SUBSCRIBED |
		  FC_MBOX_HASNOCHILDREN },
		{ "Sent", FC_MBOX_SENT | FC_MBOX_SUBSCRIBED |
		  FC_MBOX_HASNOCHILDREN },
		{ "Trash", FC_MBOX_TRASH | FC_MBOX_SUBSCRIBED |
		  FC_MBOX_HASNOCHILDREN },
	};
	const struct fc_mailbox_info *list;
	size_t n, i;

	if (!succeeds(st, fc_store_list(st, env.arena, &list, &n),
	    "list: a new store lists"))
		return;
	is_int((long long)n, (long long)NELEMS(want),
	    "list: a new store has INBOX and five special-use mailboxes");
	for (i = 0; i < NELEMS(want) && i < n; i++) {
		is_str(list[i].name, want[i].name, "list: #%zu is %s (INBOX "
		    "first, then name order)", i + 1, want[i].name);
		is_int(list[i].attrs, want[i].attrs, "list: %s has its "
		    "special use, \\Subscribed and \\HasNoChildren",
		    want[i].name);
	}
}

static void
test_create_delete(struct fc_store *st)
{
	const struct fc_mailbox_status *s;
	unsigned int a;

	succeeds(st, fc_store_create(st, "Work/Projects/2024", 0),
	    "create: a name three levels deep");
	is_int(list_attrs(st, "Work"), FC_MBOX_HASCHILDREN,
	    "create: the top level was created too, with \\HasChildren");
	is_int(list_attrs(st, "Work/Projects"), FC_MBOX_HASCHILDREN,
	    "create: the middle level was created too");
	is_int(list_attrs(st, "Work/Projects/2024"), FC_MBOX_HASNOCHILDREN,
	    "create: the new mailbox has \\HasNoChildren, not subscribed");
	ok(status_of(st, "Work") != NULL && status_of(st, "Work/Projects")
	    != NULL, "create: the parents can be selected (STATUS works)");
	fails_with(st, fc_store_create(st, "Work", 0), FC_ERR_EXISTS,
	    "create: an existing mailbox");
	fails_with(st, fc_store_create(st, "inbox", 0), FC_ERR_EXISTS,
	    "create: INBOX in any case");
	succeeds(st, fc_store_create(st, "Reports", FC_MBOX_ARCHIVE),
	    "create: with a special use");
	is_int(list_attrs(st, "Reports"), FC_MBOX_ARCHIVE |
	    FC_MBOX_HASNOCHILDREN, "create: the special use is listed");
	fails_with(st, fc_store_create(st, "Odd", 0x1), FC_ERR_BADNAME,
	    "create: a special use that is not one");
	is_int(list_attrs(st, "Odd"), NOT_LISTED,
	    "create: nothing made for a bad special use");

	ok(append_id(st, "Work/Projects", "child-message") != 0,
	    "delete: a message in the child");
	succeeds(st, fc_store_delete(st, "Work"), "delete: a mailbox with "
	    "children");
	a = list_attrs(st, "Work");
	is_int(a & (FC_MBOX_NOSELECT | FC_MBOX_HASCHILDREN),
	    FC_MBOX_NOSELECT | FC_MBOX_HASCHILDREN, "delete: the level "
	    "stays as \\Noselect \\HasChildren");
	s = status_of(st, "Work/Projects");
	ok(s != NULL && s->messages == 1, "delete: the children stay, with "
	    "their messages");
	ok(fc_store_delete(st, "Work") < 0, "delete: a \\Noselect level "
	    "with children is refused");
	ok(status_of(st, "Work/Projects/2024") != NULL, "delete: the "
	    "grandchild is still there");
	fails_with(st, fc_store_delete(st, "INBOX"), FC_ERR_PERM,
	    "delete: INBOX");
	fails_with(st, fc_store_delete(st, "Inbox"), FC_ERR_PERM,
	    "delete: INBOX in another case");
	fails_with(st, fc_store_delete(st, "Nowhere"), FC_ERR_NOTFOUND,
	    "delete: a mailbox that does not exist");
	fails_with(st, fc_store_status(st, "Work", env.arena, &s),
	    FC_ERR_NOTFOUND, "status: a deleted mailbox");

	succeeds(st, fc_store_delete(st, "Reports"), "delete: a special-use "
	    "mailbox");
	is_int(list_attrs(st, "Reports"), NOT_LISTED, "delete: it is no "
	    "longer listed");
	succeeds(st, fc_store_create(st, "Reports", 0), "delete: the name "
	    "can be made again");
	is_int(list_attrs(st, "Reports"), FC_MBOX_HASNOCHILDREN,
	    "delete: the special use went with the old mailbox");
}

static void
test_rename(struct fc_store *st)
{
	const struct fc_mailbox_status *s;
	uint32_t uidv = 0;

	succeeds(st, fc_store_create(st, "Old/Child", 0),
	    "rename: set up Old/Child");
	ok(append_id(st, "Old", "old-parent") != 0 && append_id(st,
	    "Old/Child", "old-child") != 0, "rename: a message in each");
	s = status_of(st, "Old");
	if (s != NULL)
		uidv = s->uidvalidity;
	succeeds(st, fc_store_create(st, "Oldish", 0),
	    "rename: a sibling whose name starts the same");
	succeeds(st, fc_store_rename(st, "Old", "New/Place"),
	    "rename: a mailbox with a child, to a new level");
	is_int(list_attrs(st, "Old"), NOT_LISTED, "rename: the old name is "
	    "gone");
	is_int(list_attrs(st, "Old/Child"), NOT_LISTED, "rename: the old "
	    "child is gone");
	ok(list_attrs(st, "Oldish") != NOT_LISTED && list_attrs(st,
	    "New/Placeish") == NOT_LISTED, "rename: the sibling is not "
	    "taken along");
	ok(list_attrs(st, "New") != NOT_LISTED, "rename: the new parent "
	    "level exists");
	is_int(list_attrs(st, "New/Place"), FC_MBOX_HASCHILDREN,
	    "rename: the new name has its child");
	s = status_of(st, "New/Place");
	ok(s != NULL && s->messages == 1 && s->uidvalidity == uidv,
	    "rename: the messages and UIDVALIDITY moved with it");
	s = status_of(st, "New/Place/Child");
	ok(s != NULL && s->messages == 1, "rename: the child moved with "
	    "its message");
	fails_with(st, fc_store_rename(st, "New/Place", "Oldish"),
	    FC_ERR_EXISTS, "rename: onto an existing mailbox");
	fails_with(st, fc_store_rename(st, "Nowhere", "Somewhere"),
	    FC_ERR_NOTFOUND, "rename: a mailbox that does not exist");
	fails_with(st, fc_store_rename(st, "New/Place", "New/Place/Below"),
	    FC_ERR_BADNAME, "rename: below itself");
	fails_with(st, fc_store_rename(st, "Oldish", "inbox"),
	    FC_ERR_EXISTS, "rename: to INBOX");

	succeeds(st, fc_store_create(st, "Bin", FC_MBOX_TRASH),
	    "rename: a special-use mailbox");
	succeeds(st, fc_store_rename(st, "Bin", "Papierkorb"),
	    "rename: it to another name");
	is_int(list_attrs(st, "Papierkorb"), FC_MBOX_TRASH |
	    FC_MBOX_HASNOCHILDREN, "rename: the special use follows the "
	    "mailbox");
}

/* Renaming INBOX moves its messages into a new mailbox (RFC 3501 6.3.5). */
static void
test_rename_inbox(struct fc_store *st)
{
	static const char *const kw_work[] = { "$Work", NULL };
	const struct fc_mailbox_status *s;
	struct fc_mailbox *box;
	struct fc_append *ap;
	const char *m1 = msg_text("inbox-1", true), *m2 = msg_text("inbox-2",
	    false), *m3 = msg_text("inbox-3", true);
	uint32_t uidnext = 0, uid = 0, seq, n;
	bool seen1 = false, seen2 = false, seen3 = false;

	ok(sx_append(st, "INBOX", FC_FLAG_SEEN, kw_work, 1600000000, m1,
	    strlen(m1), NULL, NULL) == 0 && sx_append(st, "INBOX",
	    FC_FLAG_FLAGGED, NULL, 1600000100, m2, strlen(m2), NULL, NULL)
	    == 0, "rename INBOX: two messages with flags");
	/* a third, delivered: it waits in new/ */
	ok(fc_append_begin(st, "INBOX", 0, NULL, 1600000200, &ap) == 0
	    && fc_append_write(ap, m3, strlen(m3)) == 0
	    && fc_append_commit(&ap, NULL, NULL) == 0,
	    "rename INBOX: one delivered into new/");
	s = status_of(st, "INBOX");
	if (s != NULL)
		uidnext = s->uidnext;
	succeeds(st, fc_store_rename(st, "INBOX", "Saved"),
	    "rename INBOX: to Saved");
	s = status_of(st, "INBOX");
	ok(s != NULL && s->messages == 0, "rename INBOX: INBOX is left "
	    "empty");
	ok(s != NULL && s->uidnext >= uidnext, "rename INBOX: INBOX's "
	    "UIDNEXT does not go back");
	ok(list_attrs(st, "INBOX") != NOT_LISTED && list_attrs(st, "Saved")
	    != NOT_LISTED, "rename INBOX: both are listed");
	if (!succeeds(st, fc_mailbox_open(st, "Saved", FC_OPEN_READONLY,
	    &box), "rename INBOX: Saved opens"))
		return;
	n = fc_mailbox_count(box);
	is_int(n, 3, "rename INBOX: Saved has the three messages");
	for (seq = 1; seq <= n; seq++) {
		char *text = sx_read_msg(box, seq, NULL);

		if (text == NULL)
			continue;
		if (strcmp(text, lf_of(m1)) == 0) {
			seen1 = true;
			is_int(fc_msg_flags(box, seq), FC_FLAG_SEEN,
			    "rename INBOX: the first keeps \\Seen");
			is_str(kw_names(box, seq), "$Work", "rename INBOX: "
			    "the first keeps its keyword");
			is_int(fc_msg_internal_date(box, seq), 1600000000,
			    "rename INBOX: the first keeps its date");
		} else if (strcmp(text, lf_of(m2)) == 0) {
			seen2 = true;
			is_int(fc_msg_flags(box, seq), FC_FLAG_FLAGGED,
			    "rename INBOX: the second keeps \\Flagged");
			is_int(fc_msg_internal_date(box, seq), 1600000100,
			    "rename INBOX: the second keeps its date");
		} else if (strcmp(text, lf_of(m3)) == 0)
			seen3 = true;
		free(text);
	}
	ok(seen1 && seen2 && seen3, "rename INBOX: every message arrived "
	    "whole");
	fc_mailbox_close(&box);
	ok(sx_append(st, "INBOX", 0, NULL, 0, m1, strlen(m1), NULL, &uid) == 0
	    && uid >= uidnext, "rename INBOX: a new message in INBOX gets a "
	    "UID above the old ones");
}

static void
test_subscribe(struct fc_store *st)
{
	char path[4096], *text;
	unsigned int a;
	size_t count = 0;
	const char *p;

	succeeds(st, fc_store_subscribe(st, "Ghost", true),
	    "subscribe: a name that does not exist");
	a = list_attrs(st, "Ghost");
	ok(a != NOT_LISTED && (a & (FC_MBOX_NONEXISTENT | FC_MBOX_SUBSCRIBED))
	    == (FC_MBOX_NONEXISTENT | FC_MBOX_SUBSCRIBED),
	    "subscribe: it is listed \\NonExistent \\Subscribed");
	ok(a != NOT_LISTED && (a & FC_MBOX_NOSELECT) != 0, "subscribe: "
	    "and \\Noselect (RFC 5258: \\NonExistent implies it)");
	succeeds(st, fc_store_subscribe(st, "Sent", false),
	    "unsubscribe: Sent");
	is_int(list_attrs(st, "Sent"), FC_MBOX_SENT | FC_MBOX_HASNOCHILDREN,
	    "unsubscribe: Sent loses \\Subscribed");
	succeeds(st, fc_store_subscribe(st, "Sent", true),
	    "subscribe: Sent again");
	succeeds(st, fc_store_subscribe(st, "Sent", true),
	    "subscribe: Sent twice");
	if (ON_DISK) {
		snprintf(path, sizeof(path), "%s/subscriptions",
		    senv_root(&env, BOB));
		text = sx_read_file(path, NULL);
		for (p = text; p != NULL && (p = strstr(p, "Sent\n")) != NULL;
		    p++)
			if (p == text || p[-1] == '\n')
				count++;
		is_int((long long)count, 1, "subscribe: the name is in the "
		    "file once");
		free(text);
	}
	succeeds(st, fc_store_subscribe(st, "Ghost", false),
	    "unsubscribe: Ghost");
	is_int(list_attrs(st, "Ghost"), NOT_LISTED, "unsubscribe: a name "
	    "that does not exist is no longer listed");
	succeeds(st, fc_store_subscribe(st, "inbox", true),
	    "subscribe: inbox in lower case");
	ok(list_attrs(st, "INBOX") & FC_MBOX_SUBSCRIBED, "subscribe: "
	    "INBOX is subscribed");
}

/* A mailbox deleted and made again must not give the same UID under
 * the same UIDVALIDITY (RFC 3501 2.3.1.1). */
static void
test_recreate(struct fc_store *st)
{
	const struct fc_mailbox_status *s;
	uint32_t v1 = 0, u1 = 0, v2 = 0, u2 = 0;
	const char *m = msg_text("again", true);

	succeeds(st, fc_store_create(st, "Again", 0), "recreate: create");
	ok(sx_append(st, "Again", 0, NULL, 0, m, strlen(m), &v1, &u1) == 0
	    && sx_append(st, "Again", 0, NULL, 0, m, strlen(m), NULL, NULL)
	    == 0, "recreate: two messages");
	s = status_of(st, "Again");
	ok(s != NULL && s->messages == 2, "recreate: STATUS sees them");
	succeeds(st, fc_store_delete(st, "Again"), "recreate: delete");
	succeeds(st, fc_store_create(st, "Again", 0),
	    "recreate: create again");
	s = status_of(st, "Again");
	ok(s != NULL && s->messages == 0, "recreate: the new mailbox is "
	    "empty");
	if (s != NULL && s->messages != 0)
		diag("STATUS shows %u messages", s->messages);
	ok(sx_append(st, "Again", 0, NULL, 0, m, strlen(m), &v2, &u2) == 0,
	    "recreate: a message in the new mailbox");
	ok(v2 != v1 || u2 > u1, "recreate: its UID was not given before "
	    "under the same UIDVALIDITY");
	if (!(v2 != v1 || u2 > u1))
		diag("UIDVALIDITY %u both times; UID %u both times", v1, u1);
}

/* ------------------------------------------------------------------ */
/* STATUS and quota */

static void
test_status(struct fc_store *st)
{
	const struct fc_mailbox_status *s;
	struct fc_mailbox *box;
	const char *m1 = msg_text("status-1", true), *m2 = msg_text(
	    "status-2", false), *m3 = msg_text("status-3", false);
	uint32_t uidv = 0, u3 = 0;

	succeeds(st, fc_store_create(st, "Status", 0), "status: create");
	s = status_of(st, "Status");
	ok(s != NULL && s->messages == 0 && s->unseen == 0 && s->deleted == 0
	    && s->size == 0 && s->uidnext == 1 && s->uidvalidity != 0,
	    "status: an empty mailbox");
	ok(sx_append(st, "Status", FC_FLAG_SEEN, NULL, 0, m1, strlen(m1),
	    &uidv, NULL) == 0 && sx_append(st, "Status", FC_FLAG_DELETED, NULL,
	    0, m2, strlen(m2), NULL, NULL) == 0 && sx_append(st, "Status", 0,
	    NULL, 0, m3, strlen(m3), NULL, &u3) == 0, "status: three "
	    "messages");
	s = status_of(st, "Status");
	if (!ok(s != NULL, "status: STATUS works"))
		return;
	is_int(s->messages, 3, "status: MESSAGES");
	is_int(s->unseen, 2, "status: UNSEEN");
	is_int(s->deleted, 1, "status: DELETED");
	is_int(s->uidnext, u3 + 1, "status: UIDNEXT");
	is_int(s->uidvalidity, uidv, "status: UIDVALIDITY");
	is_int((long long)s->size, (long long)(crlf_len(m1) + crlf_len(m2) +
	    crlf_len(m3)), "status: SIZE counts CRLF line ends");
	if (succeeds(st, fc_mailbox_open(st, "Status", 0, &box),
	    "status: open")) {
		is_int((long long)s->highestmodseq,
		    (long long)fc_mailbox_highestmodseq(box),
		    "status: HIGHESTMODSEQ as the view has it");
		fc_mailbox_close(&box);
	}
	fails_with(st, fc_store_status(st, "Nowhere", env.arena, &s),
	    FC_ERR_NOTFOUND, "status: a mailbox that does not exist");
}

/* Sums the Maildir++ maildirsize file: 0, or -1 when unreadable. */
static int
maildirsize(const char *root, uint64_t *lb, uint64_t *lc, long long *bytes,
    long long *count)
{
	char path[4096], *text, *line, *save;
	unsigned long long b = 0, c = 0;
	long long x, y;

	snprintf(path, sizeof(path), "%s/maildirsize", root);
	if ((text = sx_read_file(path, NULL)) == NULL)
		return -1;
	*bytes = *count = 0;
	line = strtok_r(text, "\n", &save);
	/* "<bytes>S,<count>C", either part left out when it is no limit */
	if (line == NULL || (sscanf(line, "%lluS,%lluC", &b, &c) < 1
	    && sscanf(line, "%lluC", &c) != 1)) {
		free(text);
		return -1;
	}
	*lb = b;
	*lc = c;
	while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
		if (sscanf(line, "%lld %lld", &x, &y) != 2) {
			free(text);
			return -1;
		}
		*bytes += x;
		*count += y;
	}
	free(text);
	return 0;
}

/* Adds up the files in a folder's cur/ and new/. */
static void
scan_folder(const char *folder, long long *bytes, long long *count)
{
	static const char *const subs[] = { "cur", "new" };
	char dir[4096], path[8192], **files;
	struct stat sb;
	size_t n, i, k;

	for (i = 0; i < NELEMS(subs); i++) {
		snprintf(dir, sizeof(dir), "%s/%s", folder, subs[i]);
		files = sx_list_dir(dir, &n);
		for (k = 0; k < n; k++) {
			snprintf(path, sizeof(path), "%s/%s", dir, files[k]);
			if (stat(path, &sb) == 0) {
				*bytes += sb.st_size;
				(*count)++;
			}
		}
		sx_free_names(files, n);
	}
}

/* What the messages of every folder of a store add up to. */
static void
scan_use(const char *root, long long *bytes, long long *count)
{
	char path[4096];
	struct dirent *de;
	struct stat sb;
	DIR *d;

	*bytes = *count = 0;
	scan_folder(root, bytes, count);
	if ((d = opendir(root)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0
		    || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", root, de->d_name);
		if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
			scan_folder(path, bytes, count);
	}
	closedir(d);
}

/* A message of exactly size bytes with LF line ends. */
static char *
msg_of_size(const char *id, size_t size)
{
	char *text = fc_arena_alloc(env.arena, size + 1);
	size_t i;
	int n;

	n = snprintf(text, size + 1, "Subject: %s\n\n", id);
	for (i = (size_t)n; i < size; i++)
		text[i] = (i + 1) % 64 == 0 || i + 1 == size ? '\n' : 'x';
	text[size] = '\0';
	return text;
}

static void
test_quota(struct fc_store *st, struct fc_store *stm)
{
	const char *root = senv_root(&env, QUOTA);
	uint64_t bytes = 0, blimit = 0, msgs = 0, mlimit = 0, lb = 0, lc = 0;
	long long fb = 0, fc = 0, sb = 0, sc = 0;
	struct fc_mailbox *box;
	enum fc_deliver_result r;
	const char *err = "", *m;
	uint32_t seqs[2] = { 1, 2 }, uids[2], uidv;
	int i, good = 1, fd;

	for (i = 0; i < 5; i++) {
		m = msg_of_size(fc_arena_printf(env.arena, "q-%d", i), 2000);
		if (sx_append(st, "INBOX", 0, NULL, 0, m, 2000, NULL, NULL) < 0)
			good = 0;
	}
	ok(good, "quota: five messages of 2000 bytes fit in 10k");
	m = msg_of_size("q-over", 2000);
	fails_with(st, sx_append(st, "INBOX", 0, NULL, 0, m, 2000, NULL,
	    NULL), FC_ERR_NOQUOTA, "quota: the sixth is over the limit");
	succeeds(st, fc_store_quota(st, &bytes, &blimit, &msgs, &mlimit),
	    "quota: fc_store_quota");
	ok(bytes == 10000 && blimit == 10240 && msgs == 5 && mlimit == 0,
	    "quota: use 10000 bytes of 10240, 5 messages, no message limit");
	if (!(bytes == 10000 && blimit == 10240 && msgs == 5 && mlimit == 0))
		diag("bytes %" PRIu64 "/%" PRIu64 " messages %" PRIu64 "/%"
		    PRIu64, bytes, blimit, msgs, mlimit);
	if (ON_DISK) {
		ok(maildirsize(root, &lb, &lc, &fb, &fc) == 0 && lb == 10240
		    && lc == 0, "quota: maildirsize's first line has the "
		    "limits");
		scan_use(root, &sb, &sc);
		ok(fb == sb && fc == sc && sb == 10000 && sc == 5, "quota: "
		    "maildirsize adds up to the messages on disk");
		if (!(fb == sb && fc == sc))
			diag("maildirsize says %lld bytes %lld messages; the "
			    "files %lld bytes %lld messages", fb, fc, sb, sc);
	}

	fd = memfd_create("quota-deliver", MFD_CLOEXEC);
	m = msg_of_size("q-deliver", 2000);
	if (write(fd, m, 2000) != 2000)
		diag("memfd write: %s", strerror(errno));
	r = fc_deliver(env.core, QUOTA, NULL, 0, NULL, fd, "a@example.com",
	    NULL, NULL, &err);
	is_int(r, FC_DELIVER_OVERQUOTA, "quota: a delivery over quota is "
	    "FC_DELIVER_OVERQUOTA");
	close(fd);

	if (succeeds(st, fc_mailbox_open(st, "INBOX", 0, &box),
	    "quota: open INBOX")) {
		fails_with(st, fc_mailbox_copy(box, seqs, 1, "Trash", false,
		    &uidv, uids), FC_ERR_NOQUOTA, "quota: a copy over quota");
		succeeds(st, fc_mailbox_copy(box, seqs, 1, "Trash", true,
		    &uidv, uids), "quota: a move needs no room");
		fc_mailbox_sync(box, 0, NULL, NULL);
		succeeds(st, fc_mailbox_store(box, seqs, 2, FC_STORE_ADD,
		    FC_FLAG_DELETED, NULL, 0, env.arena, NULL, NULL) == 0
		    ? fc_mailbox_expunge(box, NULL, 0) : -1,
		    "quota: expunge two");
		fc_mailbox_close(&box);
	}
	succeeds(st, fc_store_quota(st, &bytes, &blimit, &msgs, &mlimit),
	    "quota: fc_store_quota after the expunge");
	ok(bytes == 6000 && msgs == 3, "quota: use is 6000 bytes in 3 "
	    "messages (one moved to Trash, two expunged)");
	if (!(bytes == 6000 && msgs == 3))
		diag("bytes %" PRIu64 " messages %" PRIu64, bytes, msgs);
	m = msg_of_size("q-again", 2000);
	succeeds(st, sx_append(st, "INBOX", 0, NULL, 0, m, 2000, NULL, NULL),
	    "quota: room again after the expunge");
	if (ON_DISK) {
		ok(maildirsize(root, &lb, &lc, &fb, &fc) == 0, "quota: "
		    "maildirsize is still readable");
		scan_use(root, &sb, &sc);
		ok(fb == sb && fc == sc, "quota: and still adds up to the "
		    "files");
		if (fb != sb || fc != sc)
			diag("maildirsize says %lld bytes %lld messages; the "
			    "files %lld bytes %lld messages", fb, fc, sb, sc);
	}

	/* a limit on the number of messages */
	good = 1;
	for (i = 0; i < 3; i++)
		if (append_id(stm, "INBOX", "count") == 0)
			good = 0;
	ok(good, "quota: three messages under a limit of three");
	m = msg_text("count-over", true);
	fails_with(stm, sx_append(stm, "Sent", 0, NULL, 0, m, strlen(m), NULL,
	    NULL), FC_ERR_NOQUOTA, "quota: the fourth, in another mailbox, "
	    "is over");
	ok(fc_store_quota(stm, &bytes, &blimit, &msgs, &mlimit) == 0
	    && msgs == 3 && mlimit == 3 && blimit == 0, "quota: 3 of 3 "
	    "messages, no byte limit");
	if (ON_DISK)
		ok(maildirsize(senv_root(&env, QMSG), &lb, &lc, &fb, &fc) == 0
		    && lb == 0 && lc == 3 && fc == 3, "quota: maildirsize has "
		    "the message limit and count");
}

/* ------------------------------------------------------------------ */
/* Appends */

static void
test_append(struct fc_store *st)
{
	static const char *const kws[] = { "$Label1", "Work", NULL };
	const char *folder = senv_folder(&env, ALICE, "Append");
	const char *crlf = msg_text("append-crlf", true);
	const char *lf = msg_text("append-lf", false);
	struct fc_mailbox *box;
	struct fc_append *ap;
	struct sx_synclog log;
	struct stat sb;
	char *text, *file, path[8192], tmpl[] = "/tmp/facteur-fd.XXXXXX";
	uint32_t uidv = 0, uidv2 = 0, uid = 0, uid2 = 0, last, u, seq;
	size_t len;
	bool crlf_r = true, good;
	int i, fd;

	succeeds(st, fc_store_create(st, "Append", 0), "append: create");
	succeeds(st, sx_append(st, "Append", FC_FLAG_SEEN | FC_FLAG_ANSWERED,
	    kws, 1500000000, crlf, strlen(crlf), &uidv, &uid),
	    "append: a CRLF message with flags, keywords and a date");
	ok(uid >= 1 && uidv != 0, "append: gives a UID and UIDVALIDITY");
	if (!succeeds(st, fc_mailbox_open(st, "Append", 0, &box),
	    "append: open"))
		return;
	is_int(fc_mailbox_count(box), 1, "append: the view has it");
	is_int(fc_msg_uid(box, 1), uid, "append: with the UID given");
	is_int(fc_mailbox_uidvalidity(box), uidv, "append: and the "
	    "UIDVALIDITY given");
	is_int(fc_msg_flags(box, 1), FC_FLAG_SEEN | FC_FLAG_ANSWERED,
	    "append: flags kept");
	is_str(kw_names(box, 1), "$Label1 Work", "append: keywords kept");
	is_int(fc_msg_internal_date(box, 1), 1500000000, "append: internal "
	    "date kept");
	is_int((long long)fc_msg_size(box, 1, true), (long long)strlen(crlf),
	    "append: CRLF size of CRLF input");
	is_int((long long)fc_msg_size(box, 1, false),
	    (long long)strlen(lf_of(crlf)), "append: stored size is the LF "
	    "size");
	text = sx_read_msg(box, 1, &len);
	ok(text != NULL && strcmp(text, lf_of(crlf)) == 0,
	    "append: fc_msg_open reads back the message with LF line ends");
	free(text);
	if ((fd = fc_msg_open(box, 1, &crlf_r)) >= 0)
		close(fd);
	ok(fd >= 0 && !crlf_r, "append: fc_msg_open says the line ends "
	    "are LF");
	file = ON_DISK ? msg_file(folder, box, 1) : NULL;
	if (ON_DISK)
		ok(file != NULL && strstr(file, fc_arena_printf(env.arena,
		    ",S=%zu,W=%zu:2,RSab", strlen(lf_of(crlf)), strlen(crlf)))
		    != NULL, "append: the file in cur/ is named "
		    "...,S=<LF>,W=<CRLF>:2,RSab");
	if (file != NULL) {
		snprintf(path, sizeof(path), "%s/cur/%s", folder, file);
		ok(stat(path, &sb) == 0 && sb.st_mtime == 1500000000,
		    "append: the file's mtime is the internal date");
	} else if (ON_DISK)
		diag("no file in %s/cur", folder);

	succeeds(st, sx_append(st, "Append", 0, NULL, 0, lf, strlen(lf),
	    NULL, &uid2), "append: an LF message");
	sx_sync(box, 0, &log);
	is_int(fc_mailbox_count(box), 2, "append: the view grows at sync");
	ok(uid2 > uid, "append: the UID is higher");
	is_int((long long)fc_msg_size(box, 2, false), (long long)strlen(lf),
	    "append: stored size of LF input");
	is_int((long long)fc_msg_size(box, 2, true), (long long)crlf_len(lf),
	    "append: CRLF size of LF input counts a CR per line");
	ok(fc_msg_internal_date(box, 2) > time(NULL) - 60
	    && fc_msg_internal_date(box, 2) <= time(NULL),
	    "append: internal date 0 is now");
	ok(strcmp(fc_msg_guid(box, 1), fc_msg_guid(box, 2)) != 0
	    && fc_msg_guid(box, 1)[0] != '\0', "append: GUIDs differ");

	/* the odd line ends */
	{
		static const struct {
			const char *name;
			const char *parts[3];
			const char *stored;
			size_t crlf_size;
		} cases[] = {
			{ "CR LF split over two writes", { "a\r", "\nb\r\n",
			  NULL }, "a\nb\n", 6 },
			{ "a lone CR stays", { "a\rb\n", NULL, NULL },
			  "a\rb\n", 5 },
			{ "a CR at the very end stays", { "a\n", "b\r", NULL },
			  "a\nb\r", 5 },
			{ "no line end at the end", { "x\r\ny", NULL, NULL },
			  "x\ny", 4 },
			{ "LF CR", { "a\n\rb\r\n", NULL, NULL }, "a\n\rb\n",
			  7 },
		};
		size_t c, k;

		for (c = 0; c < NELEMS(cases); c++) {
			good = fc_append_begin(st, "Append", 0, NULL, 0, &ap)
			    == 0;
			for (k = 0; good && cases[c].parts[k] != NULL; k++)
				good = fc_append_write(ap, cases[c].parts[k],
				    strlen(cases[c].parts[k])) == 0;
			if (!good) {
				fc_append_abort(&ap);
				ok(false, "append: %s", cases[c].name);
				continue;
			}
			good = fc_append_commit(&ap, NULL, &u) == 0;
			sx_sync(box, 0, &log);
			seq = fc_mailbox_seq(box, u);
			text = seq != 0 ? sx_read_msg(box, seq, &len) : NULL;
			ok(good && text != NULL && len == strlen(
			    cases[c].stored) && memcmp(text, cases[c].stored,
			    len) == 0 && fc_msg_size(box, seq, false) == len
			    && fc_msg_size(box, seq, true) ==
			    cases[c].crlf_size, "append: %s", cases[c].name);
			free(text);
		}
	}

	/* from a descriptor, whose offset is not at 0 */
	fd = mkstemp(tmpl);
	if (fd >= 0) {
		unlink(tmpl);
		if (write(fd, crlf, strlen(crlf)) != (ssize_t)strlen(crlf))
			diag("write: %s", strerror(errno));
		good = fc_append_begin(st, "Append", 0, NULL, 0, &ap) == 0
		    && fc_append_write_fd(ap, fd) == 0
		    && fc_append_commit(&ap, NULL, &u) == 0;
		ok(good && lseek(fd, 0, SEEK_CUR) == (off_t)strlen(crlf),
		    "append: fc_append_write_fd leaves the offset alone");
		sx_sync(box, 0, &log);
		seq = fc_mailbox_seq(box, u);
		text = seq != 0 ? sx_read_msg(box, seq, NULL) : NULL;
		ok(text != NULL && strcmp(text, lf_of(crlf)) == 0,
		    "append: fc_append_write_fd reads the file from offset 0");
		free(text);
		close(fd);
	}

	/* UIDs go up, UIDVALIDITY stays */
	last = fc_msg_uid(box, fc_mailbox_count(box));
	good = true;
	for (i = 0; i < 5; i++) {
		if (sx_append(st, "Append", 0, NULL, 0, lf, strlen(lf), &uidv2,
		    &u) < 0 || u <= last || uidv2 != uidv)
			good = false;
		last = u;
	}
	ok(good, "append: five more: each UID higher, UIDVALIDITY the same");
	fc_mailbox_close(&box);

	/* an abort leaves nothing */
	len = dir_count(folder, "tmp");
	good = fc_append_begin(st, "Append", 0, NULL, 0, &ap) == 0
	    && fc_append_write(ap, lf, strlen(lf)) == 0;
	fc_append_abort(&ap);
	ok(good && (!ON_DISK || dir_count(folder, "tmp") == len)
	    && ap == NULL, "append: an aborted append leaves nothing in "
	    "tmp/");
	fails_with(st, fc_append_begin(st, "Nowhere", 0, NULL, 0, &ap),
	    FC_ERR_NOTFOUND, "append: to a mailbox that does not exist");

	/* without asking for the UID: into new/, a UID at the next sync */
	if (!succeeds(st, fc_mailbox_open(st, "Append", 0, &box),
	    "append: open again"))
		return;
	is_int(fc_mailbox_uidvalidity(box), uidv, "append: UIDVALIDITY is "
	    "stable across opens");
	good = fc_append_begin(st, "Append", 0, NULL, 0, &ap) == 0
	    && fc_append_write(ap, crlf, strlen(crlf)) == 0
	    && fc_append_commit(&ap, NULL, NULL) == 0;
	ok(good, "append: a commit without a UID");
	if (ON_DISK)
		is_int((long long)dir_count(folder, "new"), 1, "append: it "
		    "waits in new/");
	sx_sync(box, 0, &log);
	seq = fc_mailbox_count(box);
	ok(log.nexists == 1 && seq > 0 && fc_msg_uid(box, seq) > last,
	    "append: the next sync gives it a UID above the others");
	ok(seq > 0 && fc_msg_size(box, seq, true) == strlen(crlf)
	    && fc_msg_size(box, seq, false) == strlen(lf_of(crlf)),
	    "append: with the right sizes");
	fc_mailbox_close(&box);
}

/* ------------------------------------------------------------------ */
/* Views and syncs */

static void
test_views(struct fc_store *st)
{
	struct fc_mailbox *a, *b;
	struct sx_synclog log;
	uint32_t u[8], seqs[3], *before;
	size_t nbefore;
	uint64_t ghost_modseq;
	int i;

	succeeds(st, fc_store_create(st, "Views", 0), "views: create");
	for (i = 1; i <= 5; i++)
		u[i] = append_id(st, "Views", fc_arena_printf(env.arena,
		    "view-%d", i));
	if (!succeeds(st, fc_mailbox_open(st, "Views", 0, &a),
	    "views: open A") || !succeeds(st, fc_mailbox_open(st, "Views", 0,
	    &b), "views: open B"))
		return;
	is_int(fc_mailbox_count(b), 5, "views: B sees five messages");
	u[6] = append_id(st, "Views", "view-6");
	u[7] = append_id(st, "Views", "view-7");
	is_int(fc_mailbox_count(b), 5, "views: B does not change before its "
	    "sync");
	sx_sync(b, 0, &log);
	ok(log.nexists >= 1 && log.exists == 7 && log.nexp == 0
	    && log.nchanged == 0, "views: B's sync reports 7 EXISTS and "
	    "nothing else");
	ok(fc_msg_uid(b, 6) == u[6] && fc_msg_uid(b, 7) == u[7],
	    "views: the new messages come last, in UID order");
	sx_sync(a, 0, &log);

	seqs[0] = 2;
	succeeds(st, fc_mailbox_store(a, seqs, 1, FC_STORE_ADD,
	    FC_FLAG_FLAGGED, NULL, 0, env.arena, NULL, NULL),
	    "views: A flags message 2");
	sx_sync(b, 0, &log);
	ok(log.nchanged == 1 && log.changed[0] == 2, "views: B's sync "
	    "reports message 2 changed");
	is_int(fc_msg_flags(b, 2), FC_FLAG_FLAGGED, "views: B sees the "
	    "flag");
	sx_sync(a, 0, &log);
	is_int((long long)log.nchanged, 0, "views: A's sync does not report "
	    "A's own change");

	seqs[0] = 3;
	succeeds(st, fc_mailbox_store(b, seqs, 1, FC_STORE_ADD, FC_FLAG_SEEN,
	    NULL, 0, env.arena, NULL, NULL), "views: B marks message 3 seen");
	sx_sync(a, 0, &log);
	ok(log.nchanged == 1 && log.changed[0] == 3, "views: A's sync "
	    "reports message 3 changed");

	/* three expunges at once */
	seqs[0] = 2;
	seqs[1] = 4;
	seqs[2] = 5;
	before = view_uids(b, &nbefore);
	succeeds(st, fc_mailbox_store(a, seqs, 3, FC_STORE_ADD,
	    FC_FLAG_DELETED, NULL, 0, env.arena, NULL, NULL) == 0
	    ? fc_mailbox_expunge(a, NULL, 0) : -1,
	    "views: A expunges messages 2, 4 and 5");
	sx_sync(b, 0, &log);
	is_int((long long)log.nexp, 3, "views: B's sync reports three "
	    "expunges");
	ok(expunges_consistent(before, nbefore, &log, b), "views: each "
	    "expunge names the message by its number at that moment");
	if (log.nexp == 3)
		diag("reported (seq, uid): (%u, %u) (%u, %u) (%u, %u)",
		    log.exp_seq[0], log.exp_uid[0], log.exp_seq[1],
		    log.exp_uid[1], log.exp_seq[2], log.exp_uid[2]);
	ok(fc_mailbox_count(b) == 4 && fc_msg_uid(b, 1) == u[1]
	    && fc_msg_uid(b, 2) == u[3] && fc_msg_uid(b, 3) == u[6]
	    && fc_msg_uid(b, 4) == u[7], "views: B is left with 1, 3, 6, 7");
	is_int((long long)log.nchanged, 0, "views: the \\Deleted of expunged "
	    "messages is not reported as a change");
	sx_sync(a, 0, &log);
	is_int((long long)log.nexp, 3, "views: A's own expunges are reported "
	    "to A at its sync too");

	/* an expunge and an append in one round */
	seqs[0] = 1;
	before = view_uids(b, &nbefore);
	ok(fc_mailbox_store(a, seqs, 1, FC_STORE_ADD, FC_FLAG_DELETED, NULL,
	    0, env.arena, NULL, NULL) == 0 && fc_mailbox_expunge(a, NULL, 0)
	    == 0 && (u[1] = append_id(st, "Views", "view-8")) != 0,
	    "views: A expunges the first; a new one arrives");
	sx_sync(b, 0, &log);
	ok(log.nexp == 1 && log.exp_seq[0] == 1 && log.nexists == 1
	    && log.exists == 4 && expunges_consistent(before, nbefore, &log,
	    b), "views: B hears the expunge of 1, then 4 EXISTS");
	ok(fc_msg_uid(b, 4) == u[1], "views: the new one is last");
	sx_sync(a, 0, &log);

	/* expunges held back */
	seqs[0] = 2;
	ok(fc_mailbox_store(a, seqs, 1, FC_STORE_ADD, FC_FLAG_SEEN |
	    FC_FLAG_DELETED, NULL, 0, env.arena, NULL, NULL) == 0,
	    "keep expunged: A marks message 2 \\Seen \\Deleted");
	sx_sync(b, 0, &log);
	u[0] = fc_msg_uid(b, 2);
	ghost_modseq = fc_msg_modseq(b, 2);
	ok(fc_mailbox_expunge(a, NULL, 0) == 0, "keep expunged: A expunges "
	    "it");
	sx_sync(b, FC_SYNC_KEEP_EXPUNGED, &log);
	ok(log.nexp == 0 && fc_mailbox_count(b) == 4, "keep expunged: B's "
	    "sync holds it back: no expunge, still four");
	is_int(fc_msg_uid(b, 2), u[0], "keep expunged: the ghost keeps its "
	    "number and UID");
	is_int(fc_msg_flags(b, 2), FC_FLAG_SEEN | FC_FLAG_DELETED,
	    "keep expunged: the ghost keeps its last known flags");
	ok(ghost_modseq > 0 && fc_msg_modseq(b, 2) == ghost_modseq,
	    "keep expunged: the ghost keeps its last known modseq, not 0");
	fails_with(st, fc_msg_open(b, 2, NULL), FC_ERR_EXPUNGED,
	    "keep expunged: opening the ghost");
	{
		char *t1 = sx_read_msg(b, 1, NULL), *t3 = sx_read_msg(b, 3,
		    NULL);

		ok(t1 != NULL && t3 != NULL, "keep expunged: the others "
		    "still open");
		free(t1);
		free(t3);
	}
	u[2] = append_id(st, "Views", "view-9");
	sx_sync(b, FC_SYNC_KEEP_EXPUNGED, &log);
	ok(log.nexp == 0 && log.exists == 5 && fc_msg_uid(b, 5) == u[2]
	    && fc_msg_uid(b, 2) == u[0], "keep expunged: a new message is "
	    "added after the ghost");
	before = view_uids(b, &nbefore);
	sx_sync(b, 0, &log);
	ok(log.nexp == 1 && log.exp_seq[0] == 2 && log.exp_uid[0] == u[0]
	    && expunges_consistent(before, nbefore, &log, b),
	    "keep expunged: the next sync reports the held-back expunge");
	is_int(fc_mailbox_count(b), 4, "keep expunged: and the ghost is "
	    "gone");
	fc_mailbox_close(&a);
	fc_mailbox_close(&b);
}

/* ------------------------------------------------------------------ */
/* Flags */

static void
test_store(struct fc_store *st)
{
	static const char *const kw_add[] = { "Work", "$Later", NULL };
	static const char *const kw_rm[] = { "work", NULL };
	static const char *const kw_home[] = { "Home", NULL };
	static const char *const kw_unknown[] = { "Never", NULL };
	struct fc_mailbox *a, *b, *r;
	struct sx_synclog log;
	uint32_t seqs[2], *failed = NULL;
	uint64_t ms, hms, u4;
	size_t nfailed = 0;
	int i;

	succeeds(st, fc_store_create(st, "Store", 0), "store: create");
	for (i = 1; i <= 4; i++)
		append_id(st, "Store", fc_arena_printf(env.arena, "store-%d",
		    i));
	if (!succeeds(st, fc_mailbox_open(st, "Store", 0, &a), "store: open "
	    "A") || !succeeds(st, fc_mailbox_open(st, "Store", 0, &b),
	    "store: open B") || !succeeds(st, fc_mailbox_open(st, "Store",
	    FC_OPEN_READONLY, &r), "store: open R read-only"))
		return;
	ok(fc_mailbox_readonly(r) && !fc_mailbox_readonly(a), "store: "
	    "fc_mailbox_readonly");

	seqs[0] = 1;
	ms = fc_msg_modseq(a, 1);
	hms = fc_mailbox_highestmodseq(a);
	succeeds(st, fc_mailbox_store(a, seqs, 1, FC_STORE_ADD, FC_FLAG_SEEN |
	    FC_FLAG_FLAGGED, NULL, 0, env.arena, NULL, NULL),
	    "store: add \\Seen \\Flagged");
	is_int(fc_msg_flags(a, 1), FC_FLAG_SEEN | FC_FLAG_FLAGGED,
	    "store: the view shows them at once");
	ok(fc_msg_modseq(a, 1) > ms && fc_mailbox_highestmodseq(a) > hms
	    && fc_msg_modseq(a, 1) == fc_mailbox_highestmodseq(a),
	    "store: the message's modseq goes up, to HIGHESTMODSEQ");
	ms = fc_msg_modseq(a, 1);
	succeeds(st, fc_mailbox_store(a, seqs, 1, FC_STORE_REMOVE,
	    FC_FLAG_FLAGGED, NULL, 0, env.arena, NULL, NULL),
	    "store: remove \\Flagged");
	is_int(fc_msg_flags(a, 1), FC_FLAG_SEEN, "store: \\Seen is left");
	ok(fc_msg_modseq(a, 1) > ms, "store: the modseq goes up again");
	succeeds(st, fc_mailbox_store(a, seqs, 1, FC_STORE_REPLACE,
	    FC_FLAG_ANSWERED | FC_FLAG_DRAFT, NULL, 0, env.arena, NULL,
	    NULL), "store: replace with \\Answered \\Draft");
	is_int(fc_msg_flags(a, 1), FC_FLAG_ANSWERED | FC_FLAG_DRAFT,
	    "store: exactly those");

	seqs[0] = 2;
	succeeds(st, fc_mailbox_store(a, seqs, 1, FC_STORE_ADD, 0, kw_add, 0,
	    env.arena, NULL, NULL), "store: add keywords Work $Later");
	is_str(kw_names(a, 2), "$Later Work", "store: both are set");
	succeeds(st, fc_mailbox_store(a, seqs, 1, FC_STORE_REMOVE, 0, kw_rm,
	    0, env.arena, NULL, NULL), "store: remove keyword work (any case)");
	is_str(kw_names(a, 2), "$Later", "store: $Later is left");
	succeeds(st, fc_mailbox_store(a, seqs, 1, FC_STORE_REMOVE, 0,
	    kw_unknown, 0, env.arena, NULL, NULL), "store: removing a "
	    "keyword nobody has is fine");
	succeeds(st, fc_mailbox_store(a, seqs, 1, FC_STORE_REPLACE,
	    FC_FLAG_SEEN, kw_home, 0, env.arena, NULL, NULL),
	    "store: replace with \\Seen and Home");
	ok(fc_msg_flags(a, 2) == FC_FLAG_SEEN && strcmp(kw_names(a, 2),
	    "Home") == 0, "store: exactly those");
	succeeds(st, fc_mailbox_store(a, seqs, 1, FC_STORE_REPLACE, 0, NULL,
	    0, env.arena, NULL, NULL), "store: replace with nothing");
	ok(fc_msg_flags(a, 2) == 0 && fc_msg_keywords(a, 2) == 0,
	    "store: nothing is left");

	/* B sees A's changes, A does not hear of its own */
	sx_sync(b, 0, &log);
	ok(log.nchanged == 2 && log.changed[0] == 1 && log.changed[1] == 2,
	    "store: B's sync reports messages 1 and 2 changed");
	sx_sync(a, 0, &log);
	is_int((long long)log.nchanged, 0, "store: A's sync reports none of "
	    "its own");
	seqs[0] = 1;
	succeeds(st, fc_mailbox_store(a, seqs, 1, FC_STORE_ADD, FC_FLAG_SEEN,
	    NULL, 0, env.arena, NULL, NULL), "store: A changes message 1");
	succeeds(st, fc_mailbox_store(b, seqs, 1, FC_STORE_ADD,
	    FC_FLAG_FLAGGED, NULL, 0, env.arena, NULL, NULL),
	    "store: then B changes it too");
	sx_sync(a, 0, &log);
	ok(log.nchanged == 1 && log.changed[0] == 1, "store: A hears of B's "
	    "change after its own");
	sx_sync(b, 0, &log);

	/* UNCHANGEDSINCE */
	u4 = fc_msg_modseq(a, 4);
	ok(fc_msg_modseq(a, 3) <= u4, "unchangedsince: messages 3 and 4 are "
	    "unchanged since modseq %" PRIu64, u4);
	seqs[0] = 3;
	succeeds(st, fc_mailbox_store(b, seqs, 1, FC_STORE_ADD, FC_FLAG_SEEN,
	    NULL, 0, env.arena, NULL, NULL), "unchangedsince: B changes "
	    "message 3");
	sx_sync(a, 0, &log);
	seqs[0] = 3;
	seqs[1] = 4;
	succeeds(st, fc_mailbox_store(a, seqs, 2, FC_STORE_ADD,
	    FC_FLAG_FLAGGED, NULL, u4, env.arena, &failed, &nfailed),
	    "unchangedsince: A stores on 3 and 4");
	ok(nfailed == 1 && failed != NULL && failed[0] == 3,
	    "unchangedsince: message 3 is reported modified");
	ok(!(fc_msg_flags(a, 3) & FC_FLAG_FLAGGED), "unchangedsince: and "
	    "left alone");
	ok(fc_msg_flags(a, 4) & FC_FLAG_FLAGGED, "unchangedsince: message 4 "
	    "is changed");
	sx_sync(b, 0, &log);
	ok(log.nchanged == 1 && log.changed[0] == 4, "unchangedsince: B "
	    "hears of message 4 only");

	/* read-only */
	seqs[0] = 1;
	fails_with(st, fc_mailbox_store(r, seqs, 1, FC_STORE_ADD,
	    FC_FLAG_SEEN, NULL, 0, env.arena, NULL, NULL), FC_ERR_PERM,
	    "read-only: store");
	fails_with(st, fc_mailbox_expunge(r, NULL, 0), FC_ERR_PERM,
	    "read-only: expunge");
	{
		uint32_t uidv, uid;

		fails_with(st, fc_mailbox_copy(r, seqs, 1, "Trash", true,
		    &uidv, &uid), FC_ERR_PERM, "read-only: move");
		succeeds(st, fc_mailbox_copy(r, seqs, 1, "Trash", false,
		    &uidv, &uid), "read-only: copy is allowed");
	}
	sx_sync(r, 0, &log);
	is_int(fc_msg_flags(r, 4), FC_FLAG_FLAGGED, "read-only: the view "
	    "still follows the others' changes");
	fc_mailbox_close(&a);
	fc_mailbox_close(&b);
	fc_mailbox_close(&r);
}

static void
test_expunge(struct fc_store *st)
{
	const char *folder = senv_folder(&env, ALICE, "Expunge");
	struct fc_mailbox *a;
	struct sx_synclog log;
	uint32_t u[6], seqs[2];
	int i;

	succeeds(st, fc_store_create(st, "Expunge", 0), "expunge: create");
	for (i = 1; i <= 5; i++)
		u[i] = append_id(st, "Expunge", fc_arena_printf(env.arena,
		    "expunge-%d", i));
	if (!succeeds(st, fc_mailbox_open(st, "Expunge", 0, &a),
	    "expunge: open"))
		return;
	seqs[0] = 1;
	seqs[1] = 3;
	succeeds(st, fc_mailbox_store(a, seqs, 2, FC_STORE_ADD,
	    FC_FLAG_DELETED, NULL, 0, env.arena, NULL, NULL),
	    "expunge: \\Deleted on 1 and 3");
	succeeds(st, fc_mailbox_expunge(a, NULL, 0), "expunge: all");
	is_int(fc_mailbox_count(a), 5, "expunge: the view waits for the "
	    "sync");
	sx_sync(a, 0, &log);
	ok(log.nexp == 2 && fc_mailbox_count(a) == 3 && fc_msg_uid(a, 1)
	    == u[2] && fc_msg_uid(a, 2) == u[4] && fc_msg_uid(a, 3) == u[5],
	    "expunge: 2, 4 and 5 are left");
	if (ON_DISK)
		is_int((long long)dir_count(folder, "cur"), 3, "expunge: "
		    "their files are gone from cur/");

	seqs[0] = 1;
	seqs[1] = 2;
	succeeds(st, fc_mailbox_store(a, seqs, 2, FC_STORE_ADD,
	    FC_FLAG_DELETED, NULL, 0, env.arena, NULL, NULL),
	    "uid expunge: \\Deleted on the UIDs of 2 and 4");
	succeeds(st, fc_mailbox_expunge(a, &u[2], 1), "uid expunge: of 2 "
	    "only");
	sx_sync(a, 0, &log);
	ok(log.nexp == 1 && log.exp_uid[0] == u[2] && fc_mailbox_count(a) == 2
	    && fc_msg_uid(a, 1) == u[4], "uid expunge: only 2 went");
	ok(fc_msg_flags(a, 1) & FC_FLAG_DELETED, "uid expunge: 4 keeps "
	    "\\Deleted");
	succeeds(st, fc_mailbox_expunge(a, &u[5], 1), "uid expunge: of a "
	    "message without \\Deleted");
	sx_sync(a, 0, &log);
	ok(log.nexp == 0 && fc_mailbox_count(a) == 2, "uid expunge: it "
	    "stays");
	fc_mailbox_close(&a);
}

/* ------------------------------------------------------------------ */
/* Copy and move */

static void
test_copy_move(struct fc_store *st)
{
	static const char *const kw_xy[] = { "x", "y", NULL };
	static const char *const kw_work[] = { "$Work", NULL };
	static const char *const kw_two[] = { "Other", "$Work", NULL };
	const char *m1 = msg_text("copy-1", true), *m2 = msg_text("copy-2",
	    true), *m3 = msg_text("copy-3", false), *dm = msg_text("dest-0",
	    true);
	struct fc_mailbox *s, *d = NULL;
	struct sx_synclog log;
	const struct fc_mailbox_status *status;
	uint32_t seqs[2], uids[2] = { 0, 0 }, uidv = 0, u2, seq;
	char *text;

	ok(fc_store_create(st, "CopySrc", 0) == 0 && fc_store_create(st,
	    "CopyDst", 0) == 0, "copy: create source and destination");
	/* the destination numbers its keywords its own way */
	ok(sx_append(st, "CopyDst", 0, kw_xy, 0, dm, strlen(dm), NULL, NULL)
	    == 0, "copy: the destination knows keywords x and y");
	ok(sx_append(st, "CopySrc", FC_FLAG_SEEN, kw_work, 1400000000, m1,
	    strlen(m1), NULL, NULL) == 0 && sx_append(st, "CopySrc",
	    FC_FLAG_FLAGGED, kw_two, 1400000100, m2, strlen(m2), NULL, &u2)
	    == 0 && sx_append(st, "CopySrc", 0, NULL, 1400000200, m3,
	    strlen(m3), NULL, NULL) == 0, "copy: three messages in the "
	    "source");
	if (!succeeds(st, fc_mailbox_open(st, "CopySrc", 0, &s),
	    "copy: open the source"))
		return;
	seqs[0] = 3;
	seqs[1] = 1;
	succeeds(st, fc_mailbox_copy(s, seqs, 2, "CopyDst", false, &uidv,
	    uids), "copy: messages 3 and 1");
	status = status_of(st, "CopyDst");
	ok(status != NULL && uidv == status->uidvalidity, "copy: gives the "
	    "destination's UIDVALIDITY");
	ok(uids[0] != 0 && uids[1] != 0 && uids[0] != uids[1]
	    && status != NULL && uids[0] < status->uidnext && uids[1] <
	    status->uidnext, "copy: gives two new UIDs");
	if (succeeds(st, fc_mailbox_open(st, "CopyDst", 0, &d),
	    "copy: open the destination")) {
		seq = fc_mailbox_seq(d, uids[1]);
		text = seq != 0 ? sx_read_msg(d, seq, NULL) : NULL;
		ok(text != NULL && strcmp(text, lf_of(m1)) == 0, "copy: the "
		    "second UID given is message 1 (the order given)");
		free(text);
		ok(seq != 0 && fc_msg_flags(d, seq) == FC_FLAG_SEEN
		    && strcmp(kw_names(d, seq), "$Work") == 0
		    && fc_msg_internal_date(d, seq) == 1400000000,
		    "copy: flags, keyword and date kept");
		seq = fc_mailbox_seq(d, uids[0]);
		text = seq != 0 ? sx_read_msg(d, seq, NULL) : NULL;
		ok(text != NULL && strcmp(text, m3) == 0 && fc_msg_flags(d,
		    seq) == 0 && fc_msg_keywords(d, seq) == 0
		    && fc_msg_internal_date(d, seq) == 1400000200,
		    "copy: the first UID given is message 3, as it was");
		free(text);
		ok(fc_msg_size(d, fc_mailbox_seq(d, uids[1]), true) ==
		    strlen(m1), "copy: sizes kept");
	}
	sx_sync(s, 0, &log);
	ok(log.nexp == 0 && fc_mailbox_count(s) == 3, "copy: the source "
	    "keeps its messages");

	seqs[0] = 2;
	succeeds(st, fc_mailbox_copy(s, seqs, 1, "CopyDst", true, &uidv,
	    uids), "move: message 2");
	sx_sync(s, 0, &log);
	ok(log.nexp == 1 && log.exp_seq[0] == 2 && log.exp_uid[0] == u2
	    && fc_mailbox_count(s) == 2, "move: the source reports it "
	    "expunged");
	if (d != NULL) {
		sx_sync(d, 0, &log);
		seq = fc_mailbox_seq(d, uids[0]);
		text = seq != 0 ? sx_read_msg(d, seq, NULL) : NULL;
		ok(text != NULL && strcmp(text, lf_of(m2)) == 0
		    && fc_msg_flags(d, seq) == FC_FLAG_FLAGGED
		    && strcmp(kw_names(d, seq), "$Work Other") == 0
		    && fc_msg_internal_date(d, seq) == 1400000100,
		    "move: the destination has it with flags, keywords and "
		    "date");
		free(text);
		fc_mailbox_close(&d);
	}
	seqs[0] = 1;
	fails_with(st, fc_mailbox_copy(s, seqs, 1, "Nowhere", false, &uidv,
	    uids), FC_ERR_NOTFOUND, "copy: to a mailbox that does not exist");
	fails_with(st, fc_mailbox_copy(s, seqs, 1, "Nowhere", true, &uidv,
	    uids), FC_ERR_NOTFOUND, "move: to a mailbox that does not exist");
	sx_sync(s, 0, &log);
	ok(log.nexp == 0 && fc_mailbox_count(s) == 2, "move: a failed move "
	    "leaves the source alone");
	succeeds(st, fc_mailbox_copy(s, seqs, 1, "CopySrc", false, &uidv,
	    uids), "copy: into the same mailbox");
	sx_sync(s, 0, &log);
	ok(fc_mailbox_count(s) == 3 && fc_msg_uid(s, 3) == uids[0],
	    "copy: the copy comes last with a new UID");
	fc_mailbox_close(&s);
}

/* ------------------------------------------------------------------ */
/* Keywords */

/* ------------------------------------------------------------------ */
/* The header alone, and the message cache */

/* The header fc_msg_open_header() gives, or NULL. */
static char *
header_of(struct fc_mailbox *box, uint32_t seq)
{
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	char chunk[4096];
	int fd;

	if ((fd = fc_msg_open_header(box, seq, NULL)) < 0)
		return NULL;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		buf = fc_realloc(buf, len + (size_t)n + 1);
		memcpy(buf + len, chunk, (size_t)n);
		len += (size_t)n;
	}
	close(fd);
	if (buf == NULL)
		buf = fc_calloc(1, 1);
	buf[len] = '\0';
	return buf;
}

static void
test_msg_cache(struct fc_store *st)
{
	static const struct {
		const char *name, *text, *header;
	} msgs[] = {
		{ "a header and a body",
		  "Subject: one\r\nX: y\r\n folded\r\n\r\nbody\r\n\r\nmore\r\n",
		  "Subject: one\nX: y\n folded\n\n" },
		{ "no body", "Subject: two\r\n", "Subject: two\n" },
		{ "no header", "\r\nbody only\r\n", "\n" },
		{ "LF line ends", "Subject: four\n\nbody\n",
		  "Subject: four\n\n" },
	};
	const size_t n = sizeof(msgs) / sizeof(msgs[0]);
	struct fc_mailbox *box, *copy;
	struct sx_synclog log;
	uint32_t seq, uids[1], uidv;
	const char *data;
	size_t len, i;
	char *h, *whole;
	int r;

	ok(fc_store_create(st, "Cache", 0) == 0 && fc_store_create(st,
	    "CacheCopy", 0) == 0, "cache: create two mailboxes");
	for (i = 0; i < n; i++)
		ok(sx_append(st, "Cache", 0, NULL, 0, msgs[i].text,
		    strlen(msgs[i].text), NULL, NULL) == 0, "cache: append "
		    "'%s'", msgs[i].name);
	if (!succeeds(st, fc_mailbox_open(st, "Cache", 0, &box),
	    "cache: open"))
		return;
	for (i = 0; i < n; i++) {
		seq = (uint32_t)i + 1;
		h = header_of(box, seq);
		whole = sx_read_msg(box, seq, NULL);
		/* a store may give the whole message; pgsql gives just the
		 * header with its empty line */
		ok(h != NULL && whole != NULL && strncmp(whole, h, strlen(h))
		    == 0 && strlen(h) >= strlen(msgs[i].header) &&
		    strncmp(h, msgs[i].header, strlen(msgs[i].header)) == 0,
		    "cache: the header of '%s' begins the message",
		    msgs[i].name);
		if (senv_pgsql())
			is_str(h, msgs[i].header, "cache: pgsql gives the "
			    "header of '%s' alone", msgs[i].name);
		free(h);
		free(whole);
	}
	ok(fc_mailbox_can_cache(box) == senv_pgsql(), "cache: pgsql keeps "
	    "one, maildir not");
	r = fc_msg_cache_get(box, 1, env.arena, &data, &len);
	is_int(r, 0, "cache: nothing kept at first");
	ok(fc_msg_cache_put(box, 1, "IMAP1 cached\0bytes", 18) == 0,
	    "cache: put succeeds");
	r = fc_msg_cache_get(box, 1, env.arena, &data, &len);
	if (senv_pgsql())
		ok(r == 1 && len == 18 && memcmp(data, "IMAP1 cached\0bytes",
		    18) == 0 && data[18] == '\0', "cache: get gives the "
		    "bytes put, with a NUL after them");
	else
		is_int(r, 0, "cache: maildir keeps nothing");
	r = fc_msg_cache_get(box, 2, env.arena, &data, &len);
	is_int(r, 0, "cache: another message has nothing");
	/* a copy shares the body, and so what was derived from it */
	seq = 1;
	succeeds(st, fc_mailbox_copy(box, &seq, 1, "CacheCopy", false, &uidv,
	    uids), "cache: copy message 1");
	if (succeeds(st, fc_mailbox_open(st, "CacheCopy", 0, &copy),
	    "cache: open the copy's mailbox")) {
		r = fc_msg_cache_get(copy, 1, env.arena, &data, &len);
		is_int(r, senv_pgsql() ? 1 : 0, "cache: the copy sees it");
		fc_mailbox_close(&copy);
	}
	/* the same bytes appended again share the body too */
	ok(sx_append(st, "Cache", 0, NULL, 0, msgs[0].text,
	    strlen(msgs[0].text), NULL, NULL) == 0 && sx_sync(box, 0, &log)
	    == 0 && fc_mailbox_count(box) == n + 1, "cache: append message "
	    "1 again");
	r = fc_msg_cache_get(box, (uint32_t)n + 1, env.arena, &data, &len);
	is_int(r, senv_pgsql() ? 1 : 0, "cache: the same content shares it");
	/* a message expunged elsewhere: held back, it cannot be read */
	seq = 2;
	fc_mailbox_store(box, &seq, 1, FC_STORE_ADD, FC_FLAG_DELETED, NULL, 0,
	    NULL, NULL, NULL);
	uids[0] = fc_msg_uid(box, 2);
	succeeds(st, fc_mailbox_expunge(box, uids, 1), "cache: expunge "
	    "message 2");
	sx_sync(box, FC_SYNC_KEEP_EXPUNGED, &log);
	if (senv_pgsql()) {
		r = fc_msg_cache_get(box, 2, env.arena, &data, &len);
		fails_with(st, r, FC_ERR_EXPUNGED, "cache: get on a message "
		    "expunged");
	}
	ok(fc_msg_open_header(box, 2, NULL) < 0 && fc_store_error(st, NULL)
	    == FC_ERR_EXPUNGED, "cache: the header of a message expunged");
	fc_mailbox_close(&box);
}

static void
test_keywords(struct fc_store *st)
{
	static const char *const kw_extra[] = { "another", NULL };
	static const char *const kw_known[] = { "KW05", NULL };
	struct fc_mailbox *a;
	const char *m = msg_text("keywords", true);
	uint32_t seq = 1;
	bool good = true;
	/* maildir names keywords with the letters a..z */
	int i, kwmax = ON_DISK ? 26 : 64;

	succeeds(st, fc_store_create(st, "Keywords", 0), "keywords: create");
	append_id(st, "Keywords", "keywords");
	if (!succeeds(st, fc_mailbox_open(st, "Keywords", 0, &a),
	    "keywords: open"))
		return;
	for (i = 0; i < kwmax; i++) {
		const char *kw[2] = { fc_arena_printf(env.arena, "kw%02d", i),
		    NULL };

		if (i == kwmax - 1)
			ok(!fc_mailbox_keywords_full(a), "keywords: not full "
			    "at %d", i);
		if (fc_mailbox_store(a, &seq, 1, FC_STORE_ADD, 0, kw, 0,
		    env.arena, NULL, NULL) < 0)
			good = false;
	}
	ok(good, "keywords: %d keywords on one message", kwmax);
	is_int((long long)fc_mailbox_keyword_count(a), kwmax, "keywords: the "
	    "mailbox knows %d", kwmax);
	ok(fc_mailbox_keywords_full(a), "keywords: fc_mailbox_keywords_full "
	    "says no more");
	{
		const char *kw[2] = { fc_arena_printf(env.arena, "kw%02d",
		    kwmax), NULL };

		fails_with(st, fc_mailbox_store(a, &seq, 1, FC_STORE_ADD, 0,
		    kw, 0, env.arena, NULL, NULL), FC_ERR_LIMIT,
		    "keywords: one more by STORE");
	}
	is_int((long long)__builtin_popcountll(fc_msg_keywords(a, 1)), kwmax,
	    "keywords: the message keeps its %d", kwmax);
	fails_with(st, sx_append(st, "Keywords", 0, kw_extra, 0, m,
	    strlen(m), NULL, NULL), FC_ERR_LIMIT, "keywords: one more by "
	    "APPEND");
	succeeds(st, sx_append(st, "Keywords", 0, kw_known, 0, m, strlen(m),
	    NULL, NULL), "keywords: a known one in another case is fine");
	fc_mailbox_sync(a, 0, NULL, NULL);
	is_str(kw_names(a, fc_mailbox_count(a)), "kw05", "keywords: and is "
	    "the same keyword");
	fc_mailbox_close(&a);
}

/* ------------------------------------------------------------------ */
/* The change watch */

static void
watch_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	event_base_loopbreak(base);
}

static void
watch_changed(struct fc_mailbox *box, void *arg)
{
	(void)box;
	(*(int *)arg)++;
	event_base_loopbreak(base);
}

/* Runs the loop until the watch fires or ms pass; the ms it took. */
static long
watch_wait(int *hits, long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 }, t0, t1;
	struct event *timer = evtimer_new(base, watch_timeout, NULL);

	gettimeofday(&t0, NULL);
	evtimer_add(timer, &tv);
	while (*hits == 0) {
		event_base_dispatch(base);
		gettimeofday(&t1, NULL);
		if ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec)
		    / 1000 >= ms)
			break;
	}
	event_free(timer);
	gettimeofday(&t1, NULL);
	return (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec) /
	    1000;
}

/* Lets pending events run, so one test's noise does not count in the
 * next one. */
static void
watch_drain(int *hits)
{
	int dummy = 0;

	watch_wait(&dummy, 100);
	*hits = 0;
}

static void
test_watch(struct fc_store *st)
{
	const char *folder;
	struct fc_mailbox *a, *b;
	char path[8192];
	uint32_t seq = 1;
	int hits = 0, status;
	long took;
	pid_t pid;

	succeeds(st, fc_store_create(st, "Watch", 0), "watch: create");
	folder = fc_arena_strdup(env.arena, senv_folder(&env, ALICE,
	    "Watch"));
	append_id(st, "Watch", "watch-0");
	if (!succeeds(st, fc_mailbox_open(st, "Watch", 0, &a), "watch: "
	    "open A") || !succeeds(st, fc_mailbox_open(st, "Watch", 0, &b),
	    "watch: open B"))
		return;
	succeeds(st, fc_mailbox_watch(a, watch_changed, &hits),
	    "watch: A watches");
	watch_drain(&hits);

	append_id(st, "Watch", "watch-1");
	took = watch_wait(&hits, 1000);
	ok(hits > 0, "watch: an append through the API wakes A (%ld ms)",
	    took);
	fc_mailbox_sync(a, 0, NULL, NULL);
	watch_drain(&hits);

	fc_mailbox_sync(b, 0, NULL, NULL);
	fc_mailbox_store(b, &seq, 1, FC_STORE_ADD, FC_FLAG_SEEN, NULL, 0,
	    env.arena, NULL, NULL);
	took = watch_wait(&hits, 1000);
	ok(hits > 0, "watch: a flag change by view B wakes A (%ld ms)", took);
	fc_mailbox_sync(a, 0, NULL, NULL);
	watch_drain(&hits);

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct fc_store *cst = senv_store(&env, ALICE);
		int ret = cst != NULL && append_id(cst, "Watch",
		    "watch-child") != 0 ? 0 : 1;

		fc_store_close(&cst);
		_exit(ret);
	}
	took = watch_wait(&hits, 1000);
	ok(hits > 0, "watch: an append by another process wakes A (%ld ms)",
	    took);
	ok(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)
	    && WEXITSTATUS(status) == 0, "watch: the other process appended");
	fc_mailbox_sync(a, 0, NULL, NULL);
	watch_drain(&hits);

	if (ON_DISK) {
		snprintf(path, sizeof(path),
		    "%s/new/1700000000.M1P42.elsewhere", folder);
		sx_write_file(path, "Subject: mda\n\nhello\n", 20);
		took = watch_wait(&hits, 1000);
		ok(hits > 0, "watch: a file dropped into new/ by another MDA "
		    "wakes A (%ld ms)", took);
		fc_mailbox_sync(a, 0, NULL, NULL);
		watch_drain(&hits);
	}

	succeeds(st, fc_mailbox_watch(a, NULL, NULL), "watch: A stops "
	    "watching");
	append_id(st, "Watch", "watch-2");
	watch_wait(&hits, 300);
	is_int(hits, 0, "watch: then nothing calls it");
	fc_mailbox_close(&a);
	fc_mailbox_close(&b);
}

/* ------------------------------------------------------------------ */
/* Delivery */

static int
spool(const char *text)
{
	int fd = memfd_create("deliver-test", MFD_CLOEXEC);

	if (fd >= 0 && write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		diag("memfd write: %s", strerror(errno));
	return fd;
}

/* The last message of a mailbox, as stored. */
static char *
last_message(struct fc_store *st, const char *name, unsigned int *flags_r,
    char **kw_r)
{
	struct fc_mailbox *box;
	char *text = NULL;
	uint32_t n;

	if (fc_mailbox_open(st, name, FC_OPEN_READONLY, &box) < 0)
		return NULL;
	n = fc_mailbox_count(box);
	if (n > 0) {
		text = sx_read_msg(box, n, NULL);
		if (flags_r != NULL)
			*flags_r = fc_msg_flags(box, n);
		if (kw_r != NULL)
			*kw_r = kw_names(box, n);
	}
	fc_mailbox_close(&box);
	return text;
}

static void
test_deliver(struct fc_store *st)
{
	static const char *const kw_junk[] = { "$Junk", NULL };
	const char *body = "Subject: deliver\r\n\r\nhello\r\n", *err = "";
	enum fc_deliver_result r;
	unsigned int flags = 0;
	char *text, *kw = NULL;
	int fd;

	fd = spool(body);
	r = fc_deliver(env.core, ALICE, NULL, 0, NULL, fd, "sender@example.com",
	    "alice@example.org", NULL, &err);
	is_int(r, FC_DELIVER_OK, "deliver: into INBOX");
	is_str(err, "INBOX", "deliver: names the mailbox used");
	close(fd);
	text = last_message(st, "INBOX", NULL, NULL);
	is_str(text, "Return-Path: <sender@example.com>\n"
	    "Delivered-To: alice@example.org\nSubject: deliver\n\nhello\n",
	    "deliver: Return-Path and Delivered-To on top");
	free(text);

	fd = spool(body);
	r = fc_deliver(env.core, ALICE, NULL, FC_FLAG_SEEN, kw_junk, fd, "",
	    NULL, "Received: from test\r\n", &err);
	is_int(r, FC_DELIVER_OK, "deliver: null sender, extra header, flags");
	close(fd);
	text = last_message(st, "INBOX", &flags, &kw);
	is_str(text, "Return-Path: <>\nReceived: from test\nSubject: deliver"
	    "\n\nhello\n", "deliver: Return-Path <>, no Delivered-To, the "
	    "header after the trace");
	ok(flags == FC_FLAG_SEEN && kw != NULL && strcmp(kw, "$Junk") == 0,
	    "deliver: with its flag and keyword");
	free(text);

	fd = spool(body);
	r = fc_deliver(env.core, "nobody@example.org", NULL, 0, NULL, fd,
	    "sender@example.com", NULL, NULL, &err);
	is_int(r, FC_DELIVER_NOUSER, "deliver: an unknown user");
	close(fd);

	fd = spool(body);
	r = fc_deliver(env.core, ALICE, "Lists/facteur", 0, NULL, fd,
	    "sender@example.com", NULL, NULL, &err);
	is_int(r, FC_DELIVER_OK, "deliver: into a folder that does not "
	    "exist");
	is_str(err, "Lists/facteur", "deliver: which was created and used");
	close(fd);
	text = last_message(st, "Lists/facteur", NULL, NULL);
	ok(text != NULL && strstr(text, "Subject: deliver") != NULL,
	    "deliver: the message is there");
	free(text);

	fd = spool(body);
	r = fc_deliver(env.core, ALICE, NULL, 0, NULL, fd,
	    "a@example.com>\r\nBcc: <x@example.com", NULL, NULL, &err);
	is_int(r, FC_DELIVER_PERMFAIL, "deliver: a line break in the sender "
	    "is refused");
	close(fd);
	text = last_message(st, "INBOX", NULL, NULL);
	ok(text != NULL && strstr(text, "Bcc") == NULL, "deliver: and "
	    "nothing was delivered");
	free(text);
}

/* ------------------------------------------------------------------ */
/* Names */

static void
test_bad_names(struct fc_store *st)
{
	char long_name[FC_MAILBOX_NAME_MAX + 2];
	static const struct {
		const char *label, *name;
	} cases[] = {
		{ "empty", "" },
		{ "dot-dot", ".." },
		{ "dot", "." },
		{ "a climbing level", "a/../b" },
		{ "a dot level", "a/./b" },
		{ "climbing out", "../../etc" },
		{ "a trailing dot-dot", "a/.." },
		{ "a leading slash", "/x" },
		{ "a trailing slash", "x/" },
		{ "an empty level", "a//b" },
		{ "a control character", "a\001b" },
		{ "a tab", "a\tb" },
		{ "a newline", "a\nb" },
		{ "DEL", "a\177" },
		{ "Latin-1, not UTF-8", "caf\351" },
		{ "truncated UTF-8", "caf\303" },
		{ "an overlong slash", "a\300\257b" },
		{ "an overlong three-byte form", "\340\200\257" },
		{ "a UTF-8 surrogate", "\355\240\200" },
		{ "above U+10FFFF", "\364\220\200\200" },
		{ "too long", NULL },
	};
	const char *root = senv_root(&env, ALICE), *reason;
	struct fc_mailbox *inbox = NULL, *box = NULL;
	struct fc_append *ap = NULL;
	const struct fc_mailbox_status *s;
	char *before, *after;
	uint32_t seq = 1, uidv, uid;
	size_t i;

	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	if (!succeeds(st, fc_mailbox_open(st, "INBOX", 0, &inbox),
	    "bad names: open INBOX for copies") || fc_mailbox_count(inbox)
	    == 0) {
		fc_mailbox_close(&inbox);
		return;
	}
	before = sx_tree_listing(ON_DISK ? root : env.dir);
	for (i = 0; i < NELEMS(cases); i++) {
		const char *name = cases[i].name != NULL ? cases[i].name :
		    long_name, *what = cases[i].label;

		reason = NULL;
		ok(fc_mailbox_name_check(name, &reason) < 0 && reason != NULL,
		    "bad name, %s: fc_mailbox_name_check refuses it", what);
		fails_with(st, fc_store_create(st, name, 0), FC_ERR_BADNAME,
		    fc_arena_printf(env.arena, "bad name, %s: create", what));
		fails_with(st, fc_store_delete(st, name), FC_ERR_BADNAME,
		    fc_arena_printf(env.arena, "bad name, %s: delete", what));
		fails_with(st, fc_store_rename(st, name, "Fine"),
		    FC_ERR_BADNAME, fc_arena_printf(env.arena, "bad name, %s: "
		    "rename from", what));
		fails_with(st, fc_store_rename(st, "Sent", name),
		    FC_ERR_BADNAME, fc_arena_printf(env.arena, "bad name, %s: "
		    "rename to", what));
		fails_with(st, fc_store_subscribe(st, name, true),
		    FC_ERR_BADNAME, fc_arena_printf(env.arena, "bad name, %s: "
		    "subscribe", what));
		fails_with(st, fc_store_status(st, name, env.arena, &s),
		    FC_ERR_BADNAME, fc_arena_printf(env.arena, "bad name, %s: "
		    "status", what));
		fails_with(st, fc_append_begin(st, name, 0, NULL, 0, &ap),
		    FC_ERR_BADNAME, fc_arena_printf(env.arena, "bad name, %s: "
		    "append", what));
		if (ap != NULL)
			fc_append_abort(&ap);
		fails_with(st, fc_mailbox_open(st, name, 0, &box),
		    FC_ERR_BADNAME, fc_arena_printf(env.arena, "bad name, %s: "
		    "open", what));
		if (box != NULL)
			fc_mailbox_close(&box);
		fails_with(st, fc_mailbox_copy(inbox, &seq, 1, name, false,
		    &uidv, &uid), FC_ERR_BADNAME, fc_arena_printf(env.arena,
		    "bad name, %s: copy", what));
	}
	after = sx_tree_listing(ON_DISK ? root : env.dir);
	ok(strcmp(before, after) == 0, "bad names: no file was made, removed "
	    "or changed");
	free(before);
	free(after);
	fc_mailbox_close(&inbox);

	/* long, but within FC_MAILBOX_NAME_MAX: longer than a file name
	 * may be, though */
	memset(long_name, 'b', 300);
	long_name[300] = '\0';
	{
		int ret = fc_store_create(st, long_name, 0);
		enum fc_error e = fc_store_error(st, NULL);

		ok(ret == 0 || e == FC_ERR_BADNAME, "long name: a 300-byte "
		    "level is created or refused as a bad name, not a "
		    "temporary failure");
		if (!(ret == 0 || e == FC_ERR_BADNAME))
			diag("got FC_ERR_%s", err_name(e));
	}
}

static void
test_mutf7(void)
{
	static const struct {
		const char *name, *in, *want;
	} decode[] = {
		{ "plain ASCII", "Sent Items", "Sent Items" },
		{ "&- is an ampersand", "&-", "&" },
		{ "ampersands around", "a&-b&-", "a&b&" },
		{ "a BMP character", "&Jjo-", "\342\230\272" },
		{ "Latin letters", "Entw&APw-rfe", "Entw\303\274rfe" },
		{ "CJK", "&ZeVnLIqe-", "\346\227\245\346\234\254\350\252\236" },
		{ "an astral character (surrogate pair)", "&2D3cAA-",
		  "\360\237\220\200" },
		{ "two astral characters", "&2D3eANg93gA-",
		  "\360\237\230\200\360\237\230\200" },
		{ "a shift not closed", "&Jjo", NULL },
		{ "printable ASCII in a shift", "&AGE-", NULL },
		{ "a high surrogate alone", "&2D0-", NULL },
		{ "a low surrogate alone", "&3AA-", NULL },
		{ "a high surrogate, then not a low one", "&2D0A6Q-", NULL },
		{ "bits left over: an extra character", "&JjoA-", NULL },
		{ "bits left over: padding not zero", "&Jjp-", NULL },
		{ "a shift too short for a character", "&,-", NULL },
		{ "a character outside the alphabet", "&Jj=o-", NULL },
		{ "a raw 8-bit byte", "caf\303\251", NULL },
		{ "a control character", "a\tb", NULL },
		{ "'/' inside a shift (RFC 3501 uses ',')", "&Jj/-", NULL },
	};
	static const char *const round[] = {
		"Entw\303\274rfe", "\346\227\245\346\234\254\350\252\236",
		"\360\237\220\200 rat", "x\360\237\230\200y\342\202\254z",
		"\360\237\230\200\360\237\230\200", "a&b", "&", "&&-",
		"\303\234n\303\257code", "caf\303\251 & cr\303\250me",
		"\342\230\272\342\230\272\342\230\272",
	};
	struct fc_arena *a = env.arena;
	const char *reason;
	char *out, *enc;
	size_t i;

	for (i = 0; i < NELEMS(decode); i++) {
		reason = NULL;
		out = fc_mutf7_decode(a, decode[i].in, &reason);
		if (decode[i].want != NULL)
			is_str(out, decode[i].want, "mutf7 decode: %s",
			    decode[i].name);
		else {
			ok(out == NULL && reason != NULL, "mutf7 decode: "
			    "refuses %s", decode[i].name);
			if (out != NULL)
				diag("decoded to \"%s\"", out);
		}
	}
	for (i = 0; i < NELEMS(round); i++) {
		enc = fc_mutf7_encode(a, round[i]);
		out = fc_mutf7_decode(a, enc, &reason);
		is_str(out, round[i], "mutf7 round trip #%zu (%s)", i, enc);
	}
	is_str(fc_mutf7_encode(a, "\360\237\220\200"), "&2D3cAA-",
	    "mutf7 encode: an astral character as a surrogate pair");
	is_str(fc_mutf7_encode(a, "Entw\303\274rfe"), "Entw&APw-rfe",
	    "mutf7 encode: as RFC 3501's example");
}

/* Names on disk: Maildir++ folders, modified UTF-7, '.' escaped. */
static void
test_disk_names(struct fc_store *st)
{
	static const struct {
		const char *label, *name, *disk;
	} cases[] = {
		{ "a dot inside a level", "Projekt \303\251.2",
		  ".Projekt &AOk-&AC4-2" },
		{ "two levels, non-ASCII", "\303\234n\303\257code/"
		  "\346\227\245\346\234\254\350\252\236",
		  ".&ANw-n&AO8-code.&ZeVnLIqe-" },
		{ "a dot, not a level", "dotted.name", ".dotted&AC4-name" },
		{ "a level, not a dot", "dotted/name", ".dotted.name" },
		{ "an ampersand", "R&D", ".R&-D" },
		{ "an astral character", "\360\237\220\200",
		  ".&2D3cAA-" },
	};
	const char *root = senv_root(&env, BOB);
	char path[4096];
	struct stat sb;
	size_t i;

	for (i = 0; i < NELEMS(cases); i++) {
		succeeds(st, fc_store_create(st, cases[i].name, 0),
		    fc_arena_printf(env.arena, "disk names, %s: create",
		    cases[i].label));
		snprintf(path, sizeof(path), "%s/%s/cur", root,
		    cases[i].disk);
		ok(stat(path, &sb) == 0 && S_ISDIR(sb.st_mode),
		    "disk names, %s: the folder is %s", cases[i].label,
		    cases[i].disk);
		ok(list_attrs(st, cases[i].name) != NOT_LISTED,
		    "disk names, %s: listed under its name", cases[i].label);
	}
	ok(list_attrs(st, "dotted") != NOT_LISTED && list_attrs(st,
	    "dotted.name") != NOT_LISTED && list_attrs(st, "dotted/name")
	    != NOT_LISTED, "disk names: \"dotted.name\" and \"dotted/name\" "
	    "are two mailboxes");
}

/* ------------------------------------------------------------------ */
/* Other maildir programs */

/*
 * Several files in new/ at one sync get UIDs in delivery order: the
 * seconds, then the microseconds after "M" as numbers (they are not
 * zero-padded, so M81060 comes before M588890 though it sorts after).
 */
static void
test_delivery_order(struct fc_store *st)
{
	static const char *const files[] = {
		"1700000001.M588890P7.mda", "1700000001.M81060P7.mda",
		"1700000000.M999999P7.mda", "999999999.M5P7.mda",
	};
	static const char *const order[] = { "4", "3", "2", "1" };
	const char *folder;
	struct fc_mailbox *a;
	char path[8192], body[64], *text;
	size_t i, len;
	bool right = true;

	succeeds(st, fc_store_create(st, "Order", 0), "order: create");
	folder = fc_arena_strdup(env.arena, senv_folder(&env, ALICE,
	    "Order"));
	for (i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/new/%s", folder, files[i]);
		snprintf(body, sizeof(body), "Subject: %zu\n\nx\n", i + 1);
		sx_write_file(path, body, strlen(body));
	}
	if (!succeeds(st, fc_mailbox_open(st, "Order", 0, &a), "order: open"))
		return;
	is_int(fc_mailbox_count(a), 4, "order: four messages");
	for (i = 0; i < 4 && i < fc_mailbox_count(a); i++) {
		text = sx_read_msg(a, (uint32_t)i + 1, &len);
		snprintf(body, sizeof(body), "Subject: %s\n", order[i]);
		if (text == NULL || strncmp(text, body, strlen(body)) != 0)
			right = false;
		free(text);
	}
	ok(right, "order: UIDs follow the delivery times in the names");
	fc_mailbox_close(&a);
}

static void
test_interop(struct fc_store *st)
{
	const char *folder;
	struct fc_mailbox *a;
	struct sx_synclog log;
	char path[8192], to[8192], *file, *text;
	const char *lf = "From: mda@example.org\nSubject: dropped\n\nhello\n";
	const char *crlf = "From: mda@example.org\r\n\r\nhi\r\n";
	uint32_t u1, n, seq, i, missed = 0;
	size_t len;

	succeeds(st, fc_store_create(st, "Interop", 0), "interop: create");
	folder = fc_arena_strdup(env.arena, senv_folder(&env, ALICE,
	    "Interop"));
	u1 = append_id(st, "Interop", "interop-1");
	if (!succeeds(st, fc_mailbox_open(st, "Interop", 0, &a),
	    "interop: open"))
		return;

	snprintf(path, sizeof(path), "%s/new/1700000000.M1P99.otherhost",
	    folder);
	sx_write_file(path, lf, strlen(lf));
	sx_sync(a, 0, &log);
	ok(log.nexists == 1 && fc_mailbox_count(a) == 2 && fc_msg_uid(a, 2)
	    > u1, "interop: a file another MDA left in new/ gets a UID");
	is_int((long long)fc_msg_size(a, 2, false), (long long)strlen(lf),
	    "interop: its size as stored");
	is_int((long long)fc_msg_size(a, 2, true), (long long)crlf_len(lf),
	    "interop: its CRLF size, counted from the file");
	text = sx_read_msg(a, 2, &len);
	ok(text != NULL && strcmp(text, lf) == 0, "interop: it reads back");
	free(text);
	ok(dir_count(folder, "new") == 0 && cur_file(folder,
	    "1700000000.M1P99.otherhost:2,") != NULL, "interop: it moved to "
	    "cur/ with \":2,\"");

	snprintf(path, sizeof(path), "%s/new/1700000001.M2P99.otherhost",
	    folder);
	sx_write_file(path, crlf, strlen(crlf));
	sx_sync(a, 0, &log);
	ok(fc_mailbox_count(a) == 3 && fc_msg_size(a, 3, true) ==
	    strlen(crlf) && fc_msg_size(a, 3, false) == strlen(crlf),
	    "interop: a CRLF file from another MDA: both sizes are its size");

	snprintf(path, sizeof(path), "%s/cur/1700000002.M3P99.otherhost:2,S",
	    folder);
	sx_write_file(path, lf, strlen(lf));
	sx_sync(a, 0, &log);
	ok(fc_mailbox_count(a) == 4 && fc_msg_flags(a, 4) == FC_FLAG_SEEN,
	    "interop: a file another reader put in cur/ is taken with its "
	    "flags");

	/* another reader renames files in cur/ */
	file = msg_file(folder, a, 1);
	if (file != NULL) {
		snprintf(path, sizeof(path), "%s/cur/%s", folder, file);
		snprintf(to, sizeof(to), "%s/cur/%s:2,FS", folder,
		    fc_msg_guid(a, 1));
		ok(rename(path, to) == 0, "interop: another reader marks "
		    "message 1 seen and flagged");
		sx_sync(a, 0, &log);
		ok(log.nchanged == 1 && log.changed[0] == 1, "interop: the "
		    "sync reports message 1 changed");
		is_int(fc_msg_flags(a, 1), FC_FLAG_SEEN | FC_FLAG_FLAGGED,
		    "interop: with \\Seen \\Flagged");
		snprintf(path, sizeof(path), "%s/cur/%s:2,FST", folder,
		    fc_msg_guid(a, 1));
		ok(rename(to, path) == 0, "interop: then trashed (T)");
		sx_sync(a, 0, &log);
		ok(fc_msg_flags(a, 1) & FC_FLAG_DELETED, "interop: T is "
		    "\\Deleted");
	} else
		ok(false, "interop: the file of message 1 is in cur/");

	/* and removes one */
	file = msg_file(folder, a, 2);
	snprintf(path, sizeof(path), "%s/cur/%s", folder, file != NULL ? file :
	    "none");
	ok(file != NULL && unlink(path) == 0, "interop: another reader "
	    "removes message 2");
	sx_sync(a, 0, &log);
	ok(log.nexp == 1 && log.exp_seq[0] == 2 && fc_mailbox_count(a) == 3,
	    "interop: the sync reports it expunged");

	/* our letters are the standard ones */
	n = fc_mailbox_count(a);
	{
		static const char *const kw[] = { "Label", NULL };

		fc_mailbox_store(a, &n, 1, FC_STORE_REPLACE, FC_FLAGS_ALL, kw,
		    0, env.arena, NULL, NULL);
	}
	file = msg_file(folder, a, n);
	ok(file != NULL && strlen(file) > 9 && strcmp(file + strlen(file) - 9,
	    ":2,DFRSTa") == 0, "interop: all flags and one keyword are "
	    "\":2,DFRSTa\"");
	if (file != NULL)
		diag("file: %s", file);
	snprintf(path, sizeof(path), "%s/cur/%s", folder, file != NULL ? file :
	    "none");
	snprintf(to, sizeof(to), "%s/cur/%s:2,P", folder, fc_msg_guid(a, n));
	ok(rename(path, to) == 0, "interop: another reader leaves only P "
	    "(passed)");
	sx_sync(a, 0, &log);
	fc_mailbox_store(a, &n, 1, FC_STORE_ADD, FC_FLAG_SEEN, NULL, 0,
	    env.arena, NULL, NULL);
	file = msg_file(folder, a, n);
	ok(file != NULL && strstr(file, ":2,PS") != NULL, "interop: a letter "
	    "we do not know is kept when we change ours");

	/* a burst of deliveries by another MDA, each followed at once by a
	 * sync: none may be missed, however close they come */
	for (i = 0; i < 30; i++) {
		n = fc_mailbox_count(a);
		snprintf(path, sizeof(path), "%s/new/1700001%03u.M%uP98.mda",
		    folder, i, i);
		sx_write_file(path, lf, strlen(lf));
		sx_sync(a, 0, &log);
		if (fc_mailbox_count(a) != n + 1)
			missed++;
	}
	is_int(missed, 0, "interop: 30 quick deliveries into new/, each seen "
	    "by the sync right after it");
	fc_mailbox_close(&a);
	if (fc_mailbox_open(st, "Interop", 0, &a) == 0) {
		seq = fc_mailbox_count(a);
		fc_mailbox_close(&a);
		is_int((long long)dir_count(folder, "new"), 0, "interop: "
		    "nothing is left behind in new/");
		is_int((long long)seq, (long long)dir_count(folder, "cur"),
		    "interop: a fresh open lists every file in cur/");
	}
}

int
main(void)
{
	struct fc_store *alice, *bob, *carol, *quota, *qmsg;

	if (getenv("FACTEUR_MODULE_PATH") == NULL) {
		printf("1..0 # SKIP FACTEUR_MODULE_PATH is not set (run me "
		    "from make check)\n");
		return 0;
	}
	if (senv_setup(&env, "storage", users, NULL) < 0) {
		printf("1..0 # SKIP cannot set up a store\n");
		return 99;
	}
	base = event_base_new();
	fc_worker_use_base(base);
	alice = senv_store(&env, ALICE);
	bob = senv_store(&env, BOB);
	carol = senv_store(&env, CAROL);
	quota = senv_store(&env, QUOTA);
	qmsg = senv_store(&env, QMSG);
	if (!ok(alice != NULL && bob != NULL && carol != NULL && quota != NULL
	    && qmsg != NULL, "stores open")) {
		senv_teardown(&env, true);
		return done();
	}
	test_list_defaults(bob);
	test_create_delete(bob);
	test_rename(bob);
	test_subscribe(bob);
	if (ON_DISK)
		test_disk_names(bob);
	test_rename_inbox(carol);
	test_recreate(alice);
	test_status(alice);
	test_quota(quota, qmsg);
	test_append(alice);
	test_views(alice);
	test_store(alice);
	test_expunge(alice);
	test_copy_move(alice);
	test_keywords(alice);
	test_msg_cache(alice);
	test_watch(alice);
	test_deliver(alice);
	test_bad_names(alice);
	test_mutf7();
	if (ON_DISK) {
		test_interop(alice);
		test_delivery_order(alice);
	}

	fc_store_close(&alice);
	fc_store_close(&bob);
	fc_store_close(&carol);
	fc_store_close(&quota);
	fc_store_close(&qmsg);
	senv_teardown(&env, getenv("STORAGE_TEST_KEEP") != NULL);
	return done();
}
