/*
 * storage.c - users' stores: the back-end registry, name checks, error
 * bookkeeping, and dispatch of store-level calls to the back end.
 *
 * Every name reaches a back end through fc_mailbox_name_check(), so a
 * back end never has to defend against "..", '/' tricks or control
 * characters itself. Mailbox views (open mailboxes, sync) are in
 * storage_view.c; appends here.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/auth.h>
#include <facteur/log.h>
#include <facteur/storage.h>

#include "core.h"
#include "storage_int.h"

struct fc_append {
	struct fc_store *st;
	void *bappend;
};

int
fc_storage_register(struct fc_core *core, const char *name,
    const struct fc_storage_ops *ops, void *ctx, const char **error_r)
{
	struct fc_storage_backend *b;

	if (ops == NULL || ops->size < offsetof(struct fc_storage_ops,
	    index_watch) + sizeof(ops->index_watch)) {
		*error_r = "storage ops missing or too small";
		return -1;
	}
	for (b = core->storages; b != NULL; b = b->next) {
		if (strcmp(b->name, name) == 0) {
			*error_r = "a storage back end of that name is "
			    "already registered";
			return -1;
		}
	}
	b = fc_arena_alloc(core->arena, sizeof(*b));
	b->name = fc_arena_strdup(core->arena, name);
	b->ops = ops;
	b->ctx = ctx;
	b->next = core->storages;
	core->storages = b;
	return 0;
}

static const struct fc_storage_backend *
storage_backend(struct fc_core *core, const char *name, size_t len)
{
	const struct fc_storage_backend *b;

	for (b = core->storages; b != NULL; b = b->next)
		if (strlen(b->name) == len && strncmp(b->name, name, len) == 0)
			return b;
	return NULL;
}

int
fc_store_fail(struct fc_store *st, enum fc_error code, const char *fmt, ...)
{
	va_list ap;

	st->error = code;
	va_start(ap, fmt);
	vsnprintf(st->error_text, sizeof(st->error_text), fmt, ap);
	va_end(ap);
	return -1;
}

enum fc_error
fc_store_error(struct fc_store *st, const char **text_r)
{
	if (text_r != NULL)
		*text_r = st->error_text;
	return st->error;
}

/* Clears the last error at the start of each call. */
void
fc_store_reset_error(struct fc_store *st)
{
	st->error = FC_ERR_NONE;
	st->error_text[0] = '\0';
}

int
fc_store_check_name(struct fc_store *st, const char *name)
{
	const char *reason;

	fc_store_reset_error(st);
	if (fc_mailbox_name_check(name, &reason) < 0)
		return fc_store_fail(st, FC_ERR_BADNAME, "%s", reason);
	return 0;
}

int
fc_store_open(struct fc_core *core, const struct fc_user *user,
    struct fc_store **store_r, const char **error_r)
{
	const struct fc_storage_backend *b;
	const char *mail = fc_user_mail(user), *location = NULL, *colon;
	struct fc_store *st;

	/* "maildir:/path" names its back end; anything else is a location
	 * for the default one */
	colon = mail != NULL ? strchr(mail, ':') : NULL;
	b = colon != NULL ? storage_backend(core, mail,
	    (size_t)(colon - mail)) : NULL;
	if (b != NULL)
		location = colon + 1;
	else {
		location = mail;
		b = storage_backend(core, core->cc.storage,
		    strlen(core->cc.storage));
	}
	if (b == NULL) {
		*error_r = "no storage back end is loaded for this user";
		return -1;
	}
	st = fc_calloc(1, sizeof(*st));
	st->core = core;
	st->user = user;
	st->be = b;
	if (b->ops->store_open(st, b->ctx, user, location, &st->bstore) < 0) {
		static char message[sizeof(st->error_text)];

		snprintf(message, sizeof(message), "%s", st->error_text);
		*error_r = message;
		free(st);
		return -1;
	}
	*store_r = st;
	return 0;
}

void
fc_store_close(struct fc_store **stp)
{
	struct fc_store *st = *stp;

	if (st == NULL)
		return;
	*stp = NULL;
	st->be->ops->store_close(st->bstore);
	free(st);
}

const struct fc_user *
fc_store_user(struct fc_store *st)
{
	return st->user;
}

int
fc_store_list(struct fc_store *st, struct fc_arena *a,
    const struct fc_mailbox_info **list_r, size_t *count_r)
{
	fc_store_reset_error(st);
	return st->be->ops->list(st, st->bstore, a, list_r, count_r);
}

int
fc_store_create(struct fc_store *st, const char *name,
    unsigned int special_use)
{
	if (fc_store_check_name(st, name) < 0)
		return -1;
	if (fc_mailbox_is_inbox(name))
		return fc_store_fail(st, FC_ERR_EXISTS, "INBOX always exists");
	if ((special_use & ~FC_MBOX_SPECIAL_USE) != 0)
		return fc_store_fail(st, FC_ERR_BADNAME, "not a special use");
	return st->be->ops->create(st, st->bstore, name, special_use);
}

int
fc_store_delete(struct fc_store *st, const char *name)
{
	if (fc_store_check_name(st, name) < 0)
		return -1;
	if (fc_mailbox_is_inbox(name))
		return fc_store_fail(st, FC_ERR_PERM, "INBOX cannot be "
		    "deleted");
	return st->be->ops->delete(st, st->bstore, name);
}

int
fc_store_rename(struct fc_store *st, const char *from, const char *to)
{
	size_t n = strlen(from);

	if (fc_store_check_name(st, from) < 0
	    || fc_store_check_name(st, to) < 0)
		return -1;
	if (fc_mailbox_is_inbox(to))
		return fc_store_fail(st, FC_ERR_EXISTS, "INBOX always exists");
	if (strncmp(to, from, n) == 0 && to[n] == '/')
		return fc_store_fail(st, FC_ERR_BADNAME, "a mailbox cannot "
		    "move below itself");
	return st->be->ops->rename(st, st->bstore, from, to);
}

int
fc_store_subscribe(struct fc_store *st, const char *name, bool on)
{
	if (fc_store_check_name(st, name) < 0)
		return -1;
	return st->be->ops->subscribe(st, st->bstore, name, on);
}

int
fc_store_quota(struct fc_store *st, uint64_t *bytes_r,
    uint64_t *bytes_limit_r, uint64_t *messages_r,
    uint64_t *messages_limit_r)
{
	fc_store_reset_error(st);
	return st->be->ops->quota(st, st->bstore, bytes_r, bytes_limit_r,
	    messages_r, messages_limit_r);
}

/* ------------------------------------------------------------------ */
/* Appends */

int
fc_append_begin(struct fc_store *st, const char *mailbox, unsigned int flags,
    const char *const *keywords, time_t internal_date,
    struct fc_append **append_r)
{
	struct fc_append *ap;
	void *bappend;

	if (fc_store_check_name(st, mailbox) < 0)
		return -1;
	if (st->be->ops->append_begin(st, st->bstore, mailbox,
	    flags & FC_FLAGS_ALL, keywords, internal_date, &bappend) < 0)
		return -1;
	ap = fc_calloc(1, sizeof(*ap));
	ap->st = st;
	ap->bappend = bappend;
	*append_r = ap;
	return 0;
}

int
fc_append_write(struct fc_append *ap, const void *data, size_t len)
{
	return ap->st->be->ops->append_write(ap->st, ap->bappend, data, len);
}

int
fc_append_write_fd(struct fc_append *ap, int fd)
{
	char buf[65536];
	off_t off = 0;
	ssize_t n;

	for (;;) {
		n = pread(fd, buf, sizeof(buf), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fc_store_fail(ap->st, FC_ERR_TEMP, "reading the "
			    "message: %s", strerror(errno));
		if (n == 0)
			return 0;
		if (fc_append_write(ap, buf, (size_t)n) < 0)
			return -1;
		off += n;
	}
}

int
fc_append_commit(struct fc_append **app, uint32_t *uidvalidity_r,
    uint32_t *uid_r)
{
	struct fc_append *ap = *app;
	int ret;

	*app = NULL;
	ret = ap->st->be->ops->append_commit(ap->st, ap->bappend,
	    uidvalidity_r, uid_r);
	free(ap);
	return ret;
}

void
fc_append_abort(struct fc_append **app)
{
	struct fc_append *ap = *app;

	if (ap == NULL)
		return;
	*app = NULL;
	ap->st->be->ops->append_abort(ap->bappend);
	free(ap);
}
