/*
 * auth.c - the back-end registry, and logins with their defences.
 *
 * fc_auth_login() asks the back ends named by `auth`, in order; the
 * first that knows the user answers. Every answer reaches the protocol
 * module through a timer, never from inside the call, so a module has
 * one code path whatever the back end does. A failure is answered after
 * auth_failure_delay and counted against the client IP in the table all
 * workers share; past auth_max_failures within auth_failure_window the
 * IP's logins are refused without asking any back end (and still after
 * the delay), which makes password guessing slow and then pointless.
 *
 * Log lines name the user (quoted, cut at 64 bytes), never the password.
 */
#include "config.h"

#include <string.h>

#include <facteur/arena.h>
#include <facteur/auth.h>
#include <facteur/log.h>

#include "core.h"

#define AUTH_NAME_MAX		256
#define AUTH_PASSWORD_MAX	1024

struct auth_request {
	fc_auth_done_fn *done;
	void *arg;
	enum fc_auth_result result;
};

int
fc_auth_register(struct fc_core *core, const char *name,
    const struct fc_auth_backend_ops *ops, void *ctx, const char **error_r)
{
	struct fc_auth_backend *b, **tail;

	if (ops == NULL || ops->size < offsetof(struct fc_auth_backend_ops,
	    lookup) + sizeof(ops->lookup) || ops->verify == NULL) {
		*error_r = "auth back end ops missing or too small";
		return -1;
	}
	for (tail = &core->backends; *tail != NULL; tail = &(*tail)->next) {
		if (strcmp((*tail)->name, name) == 0) {
			*error_r = "an auth back end of that name is already "
			    "registered";
			return -1;
		}
	}
	b = fc_arena_alloc(core->arena, sizeof(*b));
	b->name = fc_arena_strdup(core->arena, name);
	b->ops = ops;
	b->ctx = ctx;
	*tail = b;
	return 0;
}

static struct fc_auth_backend *
auth_backend(struct fc_core *core, const char *name)
{
	struct fc_auth_backend *b;

	for (b = core->backends; b != NULL; b = b->next)
		if (strcmp(b->name, name) == 0)
			return b;
	return NULL;
}

static enum fc_auth_result
auth_verify(struct fc_core *core, const char *name, const char *password,
    struct fc_arena *a, struct fc_user **user_r, const char **error_r)
{
	enum fc_auth_result r, worst = FC_AUTH_FAILED;
	struct fc_auth_backend *b;
	size_t i;

	for (i = 0; core->cc.auth[i] != NULL; i++) {
		if ((b = auth_backend(core, core->cc.auth[i])) == NULL)
			continue;
		r = b->ops->verify(b->ctx, name, password, a, user_r, error_r);
		if (r == FC_AUTH_OK)
			return r;
		if (r == FC_AUTH_TEMPFAIL)
			worst = r;
	}
	return worst;
}

int
fc_auth_lookup(struct fc_core *core, const char *name, struct fc_arena *a,
    struct fc_user **user_r, const char **error_r)
{
	struct fc_auth_backend *b;
	int r, worst = 0;
	size_t i;

	for (i = 0; core->cc.auth[i] != NULL; i++) {
		if ((b = auth_backend(core, core->cc.auth[i])) == NULL
		    || b->ops->lookup == NULL)
			continue;
		r = b->ops->lookup(b->ctx, name, a, user_r, error_r);
		if (r == 1)
			return 1;
		if (r < 0)
			worst = -1;
	}
	return worst;
}

bool
fc_auth_plaintext_allowed(struct fc_session *s)
{
	return fc_session_plaintext_ok(s);
}

static void
auth_deliver(struct fc_session *s, void *arg)
{
	struct auth_request *req = arg;

	req->done(s, req->result, req->arg);
}

void
fc_auth_login(struct fc_session *s, const char *name, const char *password,
    fc_auth_done_fn *done, void *arg)
{
	struct fc_core *core = fc_session_core(s);
	struct fc_arena *a = fc_session_arena(s);
	struct auth_request *req;
	struct fc_user *user = NULL;
	const char *err = NULL, *qname;
	uint64_t key, now = fc_now_ms(), delay = 0;
	unsigned int failures;

	req = fc_arena_alloc(a, sizeof(*req));
	req->done = done;
	req->arg = arg;
	key = fc_iptable_key(fc_session_peer_addr(s, NULL), "auth");
	qname = fc_log_quote(a, name, 64);

	failures = fc_iptable_events(key, now, core->cc.auth_failure_window);
	if (core->cc.auth_max_failures != 0
	    && failures >= core->cc.auth_max_failures) {
		req->result = FC_AUTH_LIMITED;
		fc_log_session(s, FC_LOG_NOTICE, "event=auth result=limited "
		    "user=\"%s\" client=%s failures=%u", qname,
		    fc_session_peer_ip(s), failures);
		delay = core->cc.auth_failure_delay;
	} else if (*name == '\0' || strlen(name) > AUTH_NAME_MAX
	    || *password == '\0' || strlen(password) > AUTH_PASSWORD_MAX) {
		req->result = FC_AUTH_FAILED;
	} else
		req->result = auth_verify(core, name, password, a, &user, &err);

	switch (req->result) {
	case FC_AUTH_OK:
		fc_session_set_user(s, user);
		fc_log_session(s, FC_LOG_INFO, "event=auth result=ok "
		    "user=\"%s\"%s", fc_log_quote(a, fc_user_name(user), 64),
		    fc_session_tls_active(s) ? " tls=yes" : "");
		break;
	case FC_AUTH_FAILED:
		fc_iptable_event(key, now, core->cc.auth_failure_window);
		fc_log_session(s, FC_LOG_INFO, "event=auth result=fail "
		    "user=\"%s\" client=%s failures=%u", qname,
		    fc_session_peer_ip(s), failures + 1);
		delay = core->cc.auth_failure_delay;
		break;
	case FC_AUTH_TEMPFAIL:
		fc_log_session(s, FC_LOG_WARNING, "event=auth result=tempfail "
		    "user=\"%s\" reason=\"%s\"", qname,
		    fc_log_quote(a, err ? err : "back end error", 200));
		break;
	case FC_AUTH_LIMITED:
		break;
	}
	fc_session_timer(s, delay, auth_deliver, req);
}
