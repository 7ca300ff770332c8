/*
 * maildir_list.c - the mailboxes of a store: listing, creating,
 * deleting, renaming, subscribing, and the special-use mailboxes.
 *
 * A mailbox is a folder in the root; a level that has children but no
 * folder of its own is listed as \Noselect. Deleting renames the folder
 * into the root's tmp/ first, so it vanishes at once and whole, then
 * removes it. Renaming INBOX, which cannot go away, moves its messages
 * into a new mailbox instead (RFC 3501 6.3.5).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/log.h>
#include <facteur/storage.h>

#include "maildir.h"

#define LIST_FILE_MAX	(1024 * 1024)

static const struct {
	const char *name;
	unsigned int attr;
} list_defaults[] = {
	{ "Sent", FC_MBOX_SENT },
	{ "Drafts", FC_MBOX_DRAFTS },
	{ "Trash", FC_MBOX_TRASH },
	{ "Junk", FC_MBOX_JUNK },
	{ "Archive", FC_MBOX_ARCHIVE },
};

static const struct {
	const char *word;
	unsigned int attr;
} list_special_words[] = {
	{ "\\Sent", FC_MBOX_SENT },
	{ "\\Drafts", FC_MBOX_DRAFTS },
	{ "\\Trash", FC_MBOX_TRASH },
	{ "\\Junk", FC_MBOX_JUNK },
	{ "\\Archive", FC_MBOX_ARCHIVE },
};

/* ------------------------------------------------------------------ */
/* Line files at the root: subscriptions, special use */

struct name_list {
	char **names;
	unsigned int *attrs;
	size_t count, alloc;
};

static void
list_add(struct name_list *l, struct fc_arena *a, const char *name,
    unsigned int attrs)
{
	if (l->count == l->alloc) {
		size_t n = l->alloc == 0 ? 32 : l->alloc * 2;
		char **names = fc_arena_alloc(a, n * sizeof(*names));
		unsigned int *at = fc_arena_alloc(a, n * sizeof(*at));

		if (l->count > 0) {
			memcpy(names, l->names, l->count * sizeof(*names));
			memcpy(at, l->attrs, l->count * sizeof(*at));
		}
		l->names = names;
		l->attrs = at;
		l->alloc = n;
	}
	l->names[l->count] = fc_arena_strdup(a, name);
	l->attrs[l->count++] = attrs;
}

static ssize_t
list_find(const struct name_list *l, const char *name)
{
	size_t i;

	for (i = 0; i < l->count; i++)
		if (strcmp(l->names[i], name) == 0)
			return (ssize_t)i;
	return -1;
}

/* subscriptions: one name a line; facteur-special-use: "\Sent name" */
static void
list_read(const struct maildir_store *ms, const char *file, bool special,
    struct fc_arena *a, struct name_list *l)
{
	char path[4096], *text, *line, *save;
	size_t len, i;

	snprintf(path, sizeof(path), "%s/%s", ms->root, file);
	text = maildir_read_file(path, LIST_FILE_MAX, &len);
	if (text == NULL)
		return;
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		const char *reason;

		if (!special) {
			if (fc_mailbox_name_check(line, &reason) == 0)
				list_add(l, a, line, 0);
			continue;
		}
		for (i = 0; i < sizeof(list_special_words) /
		    sizeof(list_special_words[0]); i++) {
			size_t n = strlen(list_special_words[i].word);

			if (strncmp(line, list_special_words[i].word, n) == 0
			    && line[n] == ' ')
				list_add(l, a, line + n + 1,
				    list_special_words[i].attr);
		}
	}
	free(text);
}

static int
list_write(struct fc_store *st, const struct maildir_store *ms,
    const char *file, bool special, const struct name_list *l)
{
	char path[4096], *buf;
	size_t size = 64, len = 0, i, k;
	int ret;

	for (i = 0; i < l->count; i++)
		size += strlen(l->names[i]) + 16;
	buf = fc_malloc(size);
	for (i = 0; i < l->count; i++) {
		const char *word = "";

		if (special) {
			for (k = 0; k < sizeof(list_special_words) /
			    sizeof(list_special_words[0]); k++)
				if (l->attrs[i] == list_special_words[k].attr)
					word = list_special_words[k].word;
			if (*word == '\0')
				continue;
			len += (size_t)snprintf(buf + len, size - len, "%s ",
			    word);
		}
		len += (size_t)snprintf(buf + len, size - len, "%s\n",
		    l->names[i]);
	}
	snprintf(path, sizeof(path), "%s/%s", ms->root, file);
	ret = maildir_write_file(path, buf, len, ms->conf->fsync);
	free(buf);
	if (ret < 0)
		return fc_store_fail(st, FC_ERR_TEMP, "%s: %s", path,
		    strerror(errno));
	return 0;
}

/* The root's line files change under one flock, so that two processes
 * changing them at once (two subscribes, a new user's store made twice)
 * lose neither change. The descriptor, or -1. */
static int
list_lock(struct fc_store *st, const struct maildir_store *ms)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", ms->root, MAILDIR_LIST_LOCK);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		fc_store_fail(st, FC_ERR_TEMP, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (flock(fd, LOCK_EX) < 0) {
		if (errno == EINTR)
			continue;
		fc_store_fail(st, FC_ERR_TEMP, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Changes one name in a line file: add it, drop it, or rename it
 * (and, with children, the names below it). */
static int
list_update(struct fc_store *st, const struct maildir_store *ms,
    const char *file, bool special, const char *name, const char *to,
    unsigned int attr, bool children)
{
	struct fc_arena *a;
	struct name_list l = { 0 }, out = { 0 };
	size_t i, n = strlen(name);
	bool found = false;
	int ret, lock;

	if ((lock = list_lock(st, ms)) < 0)
		return -1;
	a = fc_arena_new("maildir-list", 1024);
	list_read(ms, file, special, a, &l);
	for (i = 0; i < l.count; i++) {
		const char *cur = l.names[i];
		bool self = strcmp(cur, name) == 0;
		bool below = children && strncmp(cur, name, n) == 0
		    && cur[n] == '/';

		if (self && attr != 0 && to == NULL) {
			found = true;	/* adding what is there */
			list_add(&out, a, cur, l.attrs[i]);
		} else if ((self || below) && to != NULL)
			list_add(&out, a, fc_arena_printf(a, "%s%s", to,
			    cur + n), l.attrs[i]);
		else if (!self)
			list_add(&out, a, cur, l.attrs[i]);
	}
	if (attr != 0 && to == NULL && !found)
		list_add(&out, a, name, attr);
	ret = list_write(st, ms, file, special, &out);
	fc_arena_free(&a);
	close(lock);		/* and the lock with it */
	return ret;
}

/* ------------------------------------------------------------------ */
/* Listing */

static int
list_cmp(const void *a, const void *b)
{
	const struct fc_mailbox_info *x = a, *y = b;

	/* INBOX first, then by name */
	if (strcmp(x->name, "INBOX") == 0)
		return -1;
	if (strcmp(y->name, "INBOX") == 0)
		return 1;
	return strcmp(x->name, y->name);
}

int
maildir_list(struct fc_store *st, void *store, struct fc_arena *a,
    const struct fc_mailbox_info **list_r, size_t *count_r)
{
	struct maildir_store *ms = store;
	struct name_list boxes = { 0 }, subs = { 0 }, special = { 0 };
	struct fc_mailbox_info *out;
	struct dirent *de;
	size_t i, k, count;
	DIR *d;

	if ((d = opendir(ms->root)) == NULL)
		return fc_store_fail(st, FC_ERR_TEMP, "%s: %s", ms->root,
		    strerror(errno));
	list_add(&boxes, a, "INBOX", 0);
	while ((de = readdir(d)) != NULL) {
		char *name;

		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0
		    || strcmp(de->d_name, "..") == 0)
			continue;
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		name = maildir_name_from_disk(a, de->d_name);
		if (name != NULL)
			list_add(&boxes, a, name, 0);
	}
	closedir(d);

	/* levels that have children but no folder: \Noselect */
	count = boxes.count;
	for (i = 0; i < count; i++) {
		char *p, *copy = fc_arena_strdup(a, boxes.names[i]);

		while ((p = strrchr(copy, '/')) != NULL) {
			*p = '\0';
			if (list_find(&boxes, copy) < 0)
				list_add(&boxes, a, copy, FC_MBOX_NOSELECT);
		}
	}
	list_read(ms, MAILDIR_SUBSCRIPTIONS, false, a, &subs);
	list_read(ms, MAILDIR_SPECIAL_USE, true, a, &special);
	count = boxes.count;
	for (i = 0; i < subs.count; i++)
		if (list_find(&boxes, subs.names[i]) < 0)
			list_add(&boxes, a, subs.names[i],
			    FC_MBOX_NONEXISTENT | FC_MBOX_NOSELECT);

	out = fc_arena_alloc(a, (boxes.count + 1) * sizeof(*out));
	for (i = 0; i < boxes.count; i++) {
		const char *name = boxes.names[i];
		unsigned int attrs = boxes.attrs[i];
		size_t n = strlen(name);
		ssize_t s;
		bool children = false;

		for (k = 0; k < count && !children; k++)
			children = strncmp(boxes.names[k], name, n) == 0
			    && boxes.names[k][n] == '/';
		if (!(attrs & FC_MBOX_NONEXISTENT))
			attrs |= children ? FC_MBOX_HASCHILDREN :
			    FC_MBOX_HASNOCHILDREN;
		if (list_find(&subs, name) >= 0)
			attrs |= FC_MBOX_SUBSCRIBED;
		if ((s = list_find(&special, name)) >= 0)
			attrs |= special.attrs[s];
		out[i].name = name;
		out[i].attrs = attrs;
	}
	if (boxes.count > 1)
		qsort(out, boxes.count, sizeof(*out), list_cmp);
	*list_r = out;
	*count_r = boxes.count;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Changes */

static bool
list_exists(struct fc_arena *a, const struct maildir_store *ms,
    const char *name)
{
	const char *reason;
	char *path = maildir_folder_path(a, ms, name, &reason);

	return path != NULL && access(path, F_OK) == 0;
}

/* Creates the folder and its index (so its UIDVALIDITY is fixed now). */
static int
list_make_folder(struct fc_store *st, const struct maildir_store *ms,
    const char *path)
{
	struct maildir_index *idx;

	if (maildir_mkdir_folder(path) < 0)
		return fc_store_fail(st, errno == ENAMETOOLONG ?
		    FC_ERR_BADNAME : FC_ERR_TEMP, "%s: %s", path,
		    strerror(errno));
	if (ms->conf->fsync)
		maildir_fsync_dir(ms->root);
	if (maildir_index_get(st, ms, path, &idx) < 0)
		return -1;
	maildir_index_put(idx);
	return 0;
}

int
maildir_create(struct fc_store *st, void *store, const char *name,
    unsigned int special_use)
{
	struct maildir_store *ms = store;
	struct fc_arena *a = fc_arena_new("maildir-create", 1024);
	const char *reason = "bad name";
	char *copy, *p, *path, *level;
	int ret = -1;

	/* a name the file system cannot hold is refused before anything
	 * is made */
	path = maildir_folder_path(a, ms, name, &reason);
	if (path == NULL) {
		fc_store_fail(st, FC_ERR_BADNAME, "%s", reason);
		goto out;
	}
	if (access(path, F_OK) == 0) {
		fc_store_fail(st, FC_ERR_EXISTS, "mailbox %s exists", name);
		goto out;
	}
	/* the levels above it too (RFC 3501 6.3.3) */
	copy = fc_arena_strdup(a, name);
	for (p = strchr(copy, '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (!fc_mailbox_is_inbox(copy) && !list_exists(a, ms, copy)) {
			level = maildir_folder_path(a, ms, copy, &reason);
			if (level == NULL) {
				fc_store_fail(st, FC_ERR_BADNAME, "%s", reason);
				goto out;
			}
			if (list_make_folder(st, ms, level) < 0)
				goto out;
		}
		*p = '/';
	}
	if (list_make_folder(st, ms, path) < 0)
		goto out;
	if (special_use != 0 && list_update(st, ms, MAILDIR_SPECIAL_USE, true,
	    name, NULL, special_use, false) < 0)
		goto out;
	ret = 0;
out:
	fc_arena_free(&a);
	return ret;
}

static int
list_rm(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int
maildir_delete(struct fc_store *st, void *store, const char *name)
{
	struct maildir_store *ms = store;
	struct fc_arena *a = fc_arena_new("maildir-delete", 1024);
	const char *reason = "bad name";
	char *path, trash[4096], unique[256];
	int ret = -1;

	path = maildir_folder_path(a, ms, name, &reason);
	if (path == NULL) {
		fc_store_fail(st, FC_ERR_BADNAME, "%s", reason);
		goto out;
	}
	snprintf(trash, sizeof(trash), "%s/tmp/deleted.%s", ms->root,
	    maildir_unique_base(unique, sizeof(unique)));
	/* gone at once and whole; the files are removed afterwards */
	if (rename(path, trash) < 0) {
		fc_store_fail(st, errno == ENOENT ? FC_ERR_NOTFOUND :
		    FC_ERR_TEMP, "%s: %s", name, strerror(errno));
		goto out;
	}
	if (ms->conf->fsync)
		maildir_fsync_dir(ms->root);
	nftw(trash, list_rm, 16, FTW_DEPTH | FTW_PHYS);
	list_update(st, ms, MAILDIR_SPECIAL_USE, true, name, NULL, 0, false);
	/* the quota file counted its messages: count again next time */
	snprintf(trash, sizeof(trash), "%s/%s", ms->root, MAILDIR_QUOTA);
	unlink(trash);
	ret = 0;
out:
	fc_arena_free(&a);
	return ret;
}

/*
 * The keyword names go with the messages: their letters in the file
 * names mean what INBOX's list says. The new mailbox is empty, so its
 * list (if any) can be replaced.
 */
static int
list_copy_keywords(struct fc_store *st, const struct maildir_store *ms,
    const char *dest)
{
	char from[4096], into[4096], *text;
	size_t len;

	snprintf(from, sizeof(from), "%s/%s", ms->root, MAILDIR_KEYWORDS);
	snprintf(into, sizeof(into), "%s/%s", dest, MAILDIR_KEYWORDS);
	text = maildir_read_file(from, 65536, &len);
	if (text == NULL)
		return errno == ENOENT ? 0 : fc_store_fail(st, FC_ERR_TEMP,
		    "%s: %s", from, strerror(errno));
	if (maildir_write_file(into, text, len, ms->conf->fsync) < 0) {
		free(text);
		return fc_store_fail(st, FC_ERR_TEMP, "%s: %s", into,
		    strerror(errno));
	}
	free(text);
	return 0;
}

/* INBOX's messages into a new mailbox; the indexes see them move. */
static int
list_rename_inbox(struct fc_store *st, struct maildir_store *ms,
    const char *to)
{
	static const char *const subs[] = { "cur", "new" };
	struct fc_arena *a = fc_arena_new("maildir-rename", 1024);
	const char *reason = "bad name";
	char *dest, from[4096], into[4096];
	struct dirent *de;
	size_t i;
	DIR *d;
	int ret = -1;

	if (maildir_create(st, ms, to, 0) < 0)
		goto out;
	dest = maildir_folder_path(a, ms, to, &reason);
	if (dest == NULL) {
		fc_store_fail(st, FC_ERR_BADNAME, "%s", reason);
		goto out;
	}
	if (list_copy_keywords(st, ms, dest) < 0)
		goto out;
	for (i = 0; i < 2; i++) {
		snprintf(from, sizeof(from), "%s/%s", ms->root, subs[i]);
		if ((d = opendir(from)) == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(from, sizeof(from), "%s/%s/%s", ms->root,
			    subs[i], de->d_name);
			snprintf(into, sizeof(into), "%s/%s/%s", dest, subs[i],
			    de->d_name);
			rename(from, into);
		}
		closedir(d);
	}
	ret = 0;
out:
	fc_arena_free(&a);
	return ret;
}

int
maildir_rename(struct fc_store *st, void *store, const char *from,
    const char *to)
{
	struct maildir_store *ms = store;
	struct fc_arena *a = fc_arena_new("maildir-rename", 1024);
	const char *reason = "bad name";
	char *src, *dst, *src_disk, *dst_disk, *copy, *p;
	struct dirent *de;
	DIR *d;
	int ret = -1;

	src_disk = maildir_name_to_disk(a, from, &reason);
	dst_disk = maildir_name_to_disk(a, to, &reason);
	if (src_disk == NULL || dst_disk == NULL) {
		fc_store_fail(st, FC_ERR_BADNAME, "%s", reason);
		goto out;
	}
	if (fc_mailbox_is_inbox(from)) {
		ret = list_rename_inbox(st, ms, to);
		goto out;
	}
	if (!list_exists(a, ms, from)) {
		fc_store_fail(st, FC_ERR_NOTFOUND, "no mailbox %s", from);
		goto out;
	}
	if (list_exists(a, ms, to)) {
		fc_store_fail(st, FC_ERR_EXISTS, "mailbox %s exists", to);
		goto out;
	}
	/* the levels above the new name */
	copy = fc_arena_strdup(a, to);
	for (p = strchr(copy, '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (!list_exists(a, ms, copy) && maildir_create(st, ms, copy,
		    0) < 0)
			goto out;
		*p = '/';
	}
	src = fc_arena_printf(a, "%s/%s", ms->root, src_disk);
	dst = fc_arena_printf(a, "%s/%s", ms->root, dst_disk);
	if (rename(src, dst) < 0) {
		fc_store_fail(st, errno == ENAMETOOLONG ? FC_ERR_BADNAME :
		    FC_ERR_TEMP, "%s: %s", from, strerror(errno));
		goto out;
	}
	/* the children: ".from.x" becomes ".to.x" */
	if ((d = opendir(ms->root)) != NULL) {
		size_t n = strlen(src_disk);

		while ((de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, src_disk, n) != 0
			    || de->d_name[n] != '.')
				continue;
			rename(fc_arena_printf(a, "%s/%s", ms->root,
			    de->d_name), fc_arena_printf(a, "%s/%s%s",
			    ms->root, dst_disk, de->d_name + n));
		}
		closedir(d);
	}
	if (ms->conf->fsync)
		maildir_fsync_dir(ms->root);
	list_update(st, ms, MAILDIR_SPECIAL_USE, true, from, to, 0, true);
	ret = 0;
out:
	fc_arena_free(&a);
	return ret;
}

int
maildir_subscribe(struct fc_store *st, void *store, const char *name,
    bool on)
{
	struct maildir_store *ms = store;
	const char *canon = fc_mailbox_is_inbox(name) ? "INBOX" : name;

	/* attr 1 means "add"; the subscriptions file keeps no attributes */
	return list_update(st, ms, MAILDIR_SUBSCRIPTIONS, false, canon, NULL,
	    on ? 1 : 0, false);
}

/* One of a new user's mailboxes, which may be there already. */
static int
list_create_default(struct fc_store *st, struct maildir_store *ms,
    const char *name, unsigned int attr)
{
	if (maildir_create(st, ms, name, attr) < 0) {
		if (fc_store_error(st, NULL) != FC_ERR_EXISTS)
			return -1;
		/* made by another process: its attribute may not be
		 * written yet (adding what is there changes nothing) */
		if (list_update(st, ms, MAILDIR_SPECIAL_USE, true, name, NULL,
		    attr, false) < 0)
			return -1;
		maildir_clear_error(st);
	}
	return maildir_subscribe(st, ms, name, true);
}

/*
 * A new user's store: INBOX, the special-use mailboxes, subscribed.
 * Two processes may do this at once (the first messages for a new user
 * delivered in parallel): what the other made counts as made.
 */
int
maildir_create_defaults(struct fc_store *st, struct maildir_store *ms)
{
	size_t i;

	if (list_make_folder(st, ms, ms->root) < 0
	    || maildir_subscribe(st, ms, "INBOX", true) < 0)
		return -1;
	for (i = 0; i < sizeof(list_defaults) / sizeof(list_defaults[0]);
	    i++)
		if (list_create_default(st, ms, list_defaults[i].name,
		    list_defaults[i].attr) < 0)
			return -1;
	return 0;
}
