/*
 * deliver.c - local delivery (include/facteur/deliver.h).
 *
 * The trace fields go first, each on one line: Return-Path with the
 * envelope sender (RFC 5321 4.4), Delivered-To with the recipient, which
 * also lets a later hop see a loop. Values are refused if they hold a
 * line break, so nothing can inject header fields through them.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <facteur/arena.h>
#include <facteur/auth.h>
#include <facteur/deliver.h>
#include <facteur/log.h>
#include <facteur/storage.h>

#include "core.h"

static bool
deliver_clean(const char *s)
{
	return s == NULL || strpbrk(s, "\r\n") == NULL;
}

static enum fc_deliver_result
deliver_error(struct fc_store *st, const char **error_r)
{
	static char text[512];
	const char *why;
	enum fc_error e = fc_store_error(st, &why);

	snprintf(text, sizeof(text), "%s", why);
	*error_r = text;
	switch (e) {
	case FC_ERR_NOQUOTA:
		return FC_DELIVER_OVERQUOTA;
	case FC_ERR_LIMIT:
		return FC_DELIVER_PERMFAIL;
	default:
		return FC_DELIVER_TEMPFAIL;
	}
}

enum fc_deliver_result
fc_deliver(struct fc_core *core, const char *user, const char *folder,
    unsigned int flags, const char *const *keywords, int fd,
    const char *return_path, const char *delivered_to,
    const char *headers, const char **error_r)
{
	struct fc_arena *a = fc_arena_new("deliver", 1024);
	enum fc_deliver_result ret = FC_DELIVER_TEMPFAIL;
	struct fc_append *ap = NULL;
	struct fc_store *st = NULL;
	struct fc_user *u = NULL;
	const char *box = folder != NULL ? folder : "INBOX", *err;
	char *trace;
	int r;

	if (!deliver_clean(return_path) || !deliver_clean(delivered_to)) {
		*error_r = "line break in an envelope address";
		fc_arena_free(&a);
		return FC_DELIVER_PERMFAIL;
	}
	r = fc_auth_lookup(core, user, a, &u, &err);
	if (r <= 0) {
		*error_r = r == 0 ? "no such user" : err;
		fc_arena_free(&a);
		return r == 0 ? FC_DELIVER_NOUSER : FC_DELIVER_TEMPFAIL;
	}
	if (fc_store_open(core, u, &st, &err) < 0) {
		static char text[512];

		snprintf(text, sizeof(text), "%s", err);
		*error_r = text;
		fc_arena_free(&a);
		return FC_DELIVER_TEMPFAIL;
	}
	if (fc_append_begin(st, box, flags, keywords, 0, &ap) < 0
	    && fc_store_error(st, NULL) == FC_ERR_NOTFOUND
	    && folder != NULL) {
		/* a folder a filter asked for: make it, or use INBOX */
		if (fc_store_create(st, box, 0) < 0
		    && fc_store_error(st, NULL) != FC_ERR_EXISTS)
			box = "INBOX";
		if (fc_append_begin(st, box, flags, keywords, 0, &ap) < 0)
			ap = NULL;
	}
	if (ap == NULL) {
		ret = deliver_error(st, error_r);
		goto out;
	}
	trace = fc_arena_printf(a, "Return-Path: <%s>\r\n%s%s%s",
	    return_path != NULL ? return_path : "",
	    delivered_to != NULL ? "Delivered-To: " : "",
	    delivered_to != NULL ? delivered_to : "",
	    delivered_to != NULL ? "\r\n" : "");
	if (fc_append_write(ap, trace, strlen(trace)) < 0
	    || (headers != NULL && fc_append_write(ap, headers,
	    strlen(headers)) < 0)
	    || fc_append_write_fd(ap, fd) < 0) {
		ret = deliver_error(st, error_r);
		fc_append_abort(&ap);
		goto out;
	}
	if (fc_append_commit(&ap, NULL, NULL) < 0) {
		ret = deliver_error(st, error_r);
		goto out;
	}
	*error_r = box;
	ret = FC_DELIVER_OK;
out:
	fc_store_close(&st);
	fc_arena_free(&a);
	return ret;
}
