/*
 * maildir.c - the maildir storage module: its directives, a user's store
 * (where it is, creating it), and opening folders' indexes and messages.
 *
 * The store's root comes from the user's mail location if the back end
 * gave one, else from `location`, with %u (the user), %n (the part before
 * '@'), %d (the domain) and a leading ~ (the home) expanded. A user name
 * that would put a '/' or a leading '.' into the path is refused, so no
 * user can point at another's files.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/auth.h>
#include <facteur/conf.h>
#include <facteur/log.h>
#include <facteur/module.h>
#include <facteur/storage.h>

#include "maildir.h"

static const struct fc_directive maildir_directives[] = {
	{ .name = "location", .type = FC_D_STRING,
	  .offset = offsetof(struct maildir_conf, location),
	  .def = "~/Maildir", .syntax = "PATH",
	  .help = "where users' maildirs are, with %u (user), %n (local "
	  "part), %d (domain) and ~ (home); users without a home get "
	  "STATE_DIR/mail/%d/%n" },
	{ .name = "autocreate", .type = FC_D_BOOL,
	  .offset = offsetof(struct maildir_conf, autocreate),
	  .def = "yes", .syntax = "yes | no",
	  .help = "create a new user's maildir, with Sent, Drafts, Trash, "
	  "Junk and Archive" },
	{ .name = "fsync", .type = FC_D_BOOL,
	  .offset = offsetof(struct maildir_conf, fsync),
	  .def = "yes", .syntax = "yes | no",
	  .help = "make every change durable before it is acknowledged "
	  "(turn off only for tests)" },
	{ .name = "max_message_size", .type = FC_D_SIZE,
	  .offset = offsetof(struct maildir_conf, max_message_size),
	  .def = "0", .syntax = "SIZE",
	  .help = "largest message stored; 0: no limit" },
	{ .name = NULL }
};

static const char *maildir_state_dir;

int
maildir_clear_error(struct fc_store *st)
{
	(void)fc_store_fail(st, FC_ERR_NONE, "%s", "");
	return 0;
}

/* Appends a user-name part to a path, refusing what could climb out. */
static int
maildir_put_name(char *out, size_t size, size_t *o, const char *part,
    size_t len)
{
	if (len == 0 || part[0] == '.' || memchr(part, '/', len) != NULL
	    || memchr(part, '\\', len) != NULL)
		return -1;
	if (*o + len >= size)
		return -1;
	memcpy(out + *o, part, len);
	*o += len;
	return 0;
}

static int
maildir_expand(const char *tmpl, const struct fc_user *u, char *out,
    size_t size)
{
	const char *user = fc_user_name(u), *at = strchr(user, '@');
	const char *home = fc_user_home(u);
	size_t o = 0, nlen = at != NULL ? (size_t)(at - user) : strlen(user);
	const char *p;

	if (tmpl[0] == '~') {
		if (home == NULL || home[0] != '/')
			return -1;
		o = (size_t)snprintf(out, size, "%s", home);
		tmpl++;
	}
	for (p = tmpl; *p != '\0'; p++) {
		if (*p != '%' || p[1] == '\0') {
			if (o + 1 >= size)
				return -1;
			out[o++] = *p;
			continue;
		}
		p++;
		switch (*p) {
		case 'u':
			if (maildir_put_name(out, size, &o, user,
			    strlen(user)) < 0)
				return -1;
			break;
		case 'n':
			if (maildir_put_name(out, size, &o, user, nlen) < 0)
				return -1;
			break;
		case 'd':
			if (at == NULL) {
				if (maildir_put_name(out, size, &o, "nodomain",
				    8) < 0)
					return -1;
			} else if (maildir_put_name(out, size, &o, at + 1,
			    strlen(at + 1)) < 0)
				return -1;
			break;
		case '%':
			out[o++] = '%';
			break;
		default:
			return -1;
		}
	}
	out[o] = '\0';
	return out[0] == '/' ? 0 : -1;
}

/* mkdir -p, for the store's root and the folders above it. */
static int
maildir_mkdirs(const char *path)
{
	char buf[4096], *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return 0;
}

static bool
maildir_has_tmp(const char *root)
{
	char path[4096 + 8];

	snprintf(path, sizeof(path), "%s/tmp", root);
	return access(path, F_OK) == 0;
}

static int
maildir_store_open(struct fc_store *st, void *ctx, const struct fc_user *u,
    const char *location, void **store_r)
{
	const struct maildir_conf *conf = ctx;
	struct maildir_store *ms;
	char root[4096], tmpl[4096];
	bool fresh;

	if (location != NULL && location[0] != '\0')
		snprintf(tmpl, sizeof(tmpl), "%s", location);
	else if (conf->location[0] == '~' && fc_user_home(u) == NULL)
		snprintf(tmpl, sizeof(tmpl), "%s/mail/%%d/%%n",
		    maildir_state_dir);
	else
		snprintf(tmpl, sizeof(tmpl), "%s", conf->location);
	if (maildir_expand(tmpl, u, root, sizeof(root)) < 0)
		return fc_store_fail(st, FC_ERR_TEMP, "cannot make a maildir "
		    "path for user %s from %s", fc_user_name(u), tmpl);

	fresh = access(root, F_OK) < 0;
	if (fresh && !conf->autocreate)
		return fc_store_fail(st, FC_ERR_NOTFOUND, "%s: no maildir",
		    root);
	/* another process may be making it this very moment, its tmp/
	 * (made last) not there yet: make what is missing too */
	if (conf->autocreate && (fresh || !maildir_has_tmp(root))
	    && (maildir_mkdirs(root) < 0 || maildir_mkdir_folder(root) < 0))
		return fc_store_fail(st, FC_ERR_TEMP, "%s: %s", root,
		    strerror(errno));
	ms = fc_calloc(1, sizeof(*ms));
	ms->conf = conf;
	ms->root = fc_strdup(root);
	ms->quota_bytes = fc_user_quota_bytes(u);
	ms->quota_messages = fc_user_quota_messages(u);
	*store_r = ms;
	if (fresh && maildir_create_defaults(st, ms) < 0) {
		free(ms->root);
		free(ms);
		return -1;
	}
	return 0;
}

static void
maildir_store_close(void *store)
{
	struct maildir_store *ms = store;

	free(ms->root);
	free(ms);
}

/* ------------------------------------------------------------------ */
/* Indexes */

static int
maildir_index_open(struct fc_store *st, void *store, const char *name,
    void **index_r)
{
	struct maildir_store *ms = store;
	struct maildir_box *box;
	struct fc_arena *a = fc_arena_new("maildir-open", 512);
	const char *reason = "bad name";
	char *path;

	path = maildir_folder_path(a, ms, name, &reason);
	if (path == NULL) {
		fc_arena_free(&a);
		return fc_store_fail(st, FC_ERR_BADNAME, "%s", reason);
	}
	if (access(path, F_OK) < 0) {
		fc_arena_free(&a);
		return fc_store_fail(st, FC_ERR_NOTFOUND, "no mailbox %s",
		    name);
	}
	box = fc_calloc(1, sizeof(*box));
	box->ms = ms;
	box->name = fc_strdup(name);
	if (maildir_index_get(st, ms, path, &box->idx) < 0) {
		fc_arena_free(&a);
		free(box->name);
		free(box);
		return -1;
	}
	fc_arena_free(&a);
	*index_r = box;
	return 0;
}

static void
maildir_index_close(void *index)
{
	struct maildir_box *box = index;

	maildir_index_put(box->idx);
	free(box->name);
	free(box);
}

static int
maildir_index_refresh(struct fc_store *st, void *index)
{
	struct maildir_box *box = index;

	return maildir_index_catch_up(st, box->idx);
}

static void
maildir_index_state_op(void *index, struct fc_index_state *state_r)
{
	struct maildir_box *box = index;

	maildir_index_state(box->idx, state_r);
}

static int
maildir_open_message(struct fc_store *st, void *index, uint32_t uid,
    bool *crlf_r)
{
	struct maildir_box *box = index;
	struct maildir_msg *m;
	char path[4096];
	int fd, tries;

	for (tries = 0; tries < 3; tries++) {
		if (maildir_index_find(box->idx, uid, &m) == NULL)
			break;
		snprintf(path, sizeof(path), "%s/cur/%s:2,%s", box->idx->path,
		    m->base, m->info);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (crlf_r != NULL)
				*crlf_r = false;
			return fd;
		}
		if (errno != ENOENT)
			return fc_store_fail(st, FC_ERR_TEMP, "%s: %s", path,
			    strerror(errno));
		/* renamed (flags) or expunged meanwhile: the log tells
		 * when we did it; if not, look in cur/ itself, though its
		 * time may not tell (another reader, in the same tick) */
		if (tries > 0)
			box->idx->force_cur_scan = true;
		if (maildir_index_catch_up(st, box->idx) < 0)
			return -1;
	}
	return fc_store_fail(st, FC_ERR_EXPUNGED, "message %u was expunged",
	    uid);
}

const struct fc_storage_ops maildir_ops = {
	.size = sizeof(struct fc_storage_ops),
	.store_open = maildir_store_open,
	.store_close = maildir_store_close,
	.list = maildir_list,
	.create = maildir_create,
	.delete = maildir_delete,
	.rename = maildir_rename,
	.subscribe = maildir_subscribe,
	.quota = maildir_quota_get,
	.append_begin = maildir_append_begin,
	.append_write = maildir_append_write,
	.append_commit = maildir_append_commit,
	.append_abort = maildir_append_abort,
	.index_open = maildir_index_open,
	.index_close = maildir_index_close,
	.index_refresh = maildir_index_refresh,
	.index_state = maildir_index_state_op,
	.index_store = maildir_store_flags,
	.index_expunge = maildir_expunge,
	.index_copy = maildir_copy,
	.index_open_message = maildir_open_message,
	.index_watch = maildir_watch,
};

static int
maildir_init(struct fc_core *core, void *confp, const char **error_r)
{
	maildir_state_dir = fc_core_state_dir(core);
	return fc_storage_register(core, "maildir", &maildir_ops, confp,
	    error_r);
}

const struct fc_module fc_module_maildir = {
	FC_MODULE_HEADER,
	.name = "maildir",
	.version = "1.0",
	.kind = FC_MODULE_STORAGE,
	.directives = maildir_directives,
	.conf_size = sizeof(struct maildir_conf),
	.init = maildir_init,
	.ops = &maildir_ops,
};
