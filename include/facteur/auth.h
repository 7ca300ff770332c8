/*
 * auth.h - users, authentication back ends, and logins.
 *
 * Back ends (passwd-file, pgsql, ...) register themselves by name in their
 * module's init(); the top-level `auth` directive lists which ones are
 * asked, in order. The first back end that knows the user answers.
 *
 * Protocol modules never see a back end: they call fc_auth_login() with a
 * name and a password (POP3 USER/PASS, IMAP LOGIN) or run a SASL exchange
 * (sasl.h). The core delays every failed login (auth_failure_delay),
 * counts failures per client IP across all workers, and refuses logins
 * from an IP past auth_max_failures within auth_failure_window. Passwords
 * and SASL payloads are never logged.
 */
#ifndef FACTEUR_AUTH_H
#define FACTEUR_AUTH_H

#include <stdbool.h>
#include <stdint.h>

struct fc_arena;
struct fc_core;
struct fc_session;
struct fc_user;

enum fc_auth_result {
	FC_AUTH_OK = 0,
	FC_AUTH_FAILED,		/* unknown user or wrong password */
	FC_AUTH_TEMPFAIL,	/* the back end cannot answer now */
	FC_AUTH_LIMITED,	/* too many failures from this client IP */
};

/* What a back end implements. */
struct fc_auth_backend_ops {
	size_t size;		/* sizeof(struct fc_auth_backend_ops) */
	/*
	 * Checks a password. FC_AUTH_OK sets *user_r (allocated in a);
	 * FC_AUTH_FAILED for an unknown user or a wrong password, taking
	 * about the same time for both; FC_AUTH_TEMPFAIL with *error_r.
	 */
	enum fc_auth_result (*verify)(void *ctx, const char *name,
	    const char *password, struct fc_arena *a, struct fc_user **user_r,
	    const char **error_r);
	/* Finds a user without a password (delivery): 1 found, 0 unknown,
	 * -1 temporary failure with *error_r. */
	int (*lookup)(void *ctx, const char *name, struct fc_arena *a,
	    struct fc_user **user_r, const char **error_r);
};

/* In init(): makes a back end known to this configuration generation. */
int fc_auth_register(struct fc_core *core, const char *name,
    const struct fc_auth_backend_ops *ops, void *ctx, const char **error_r);

/* A user as back ends describe it; 0 means unlimited for quotas. */
struct fc_user *fc_user_new(struct fc_arena *a, const char *name);
void fc_user_set_home(struct fc_user *u, const char *home);
void fc_user_set_mail(struct fc_user *u, const char *location);
void fc_user_set_quota(struct fc_user *u, uint64_t bytes, uint64_t messages);
const char *fc_user_name(const struct fc_user *u);
const char *fc_user_home(const struct fc_user *u);	/* or NULL */
const char *fc_user_mail(const struct fc_user *u);	/* or NULL */
uint64_t fc_user_quota_bytes(const struct fc_user *u);
uint64_t fc_user_quota_messages(const struct fc_user *u);

/*
 * A login with a name and a password. done() runs later from the event
 * loop, never from inside this call: return FC_NEXT_WAIT and resume the
 * session in done(). On FC_AUTH_OK the session's user is set.
 */
typedef void fc_auth_done_fn(struct fc_session *s, enum fc_auth_result r,
    void *arg);
void fc_auth_login(struct fc_session *s, const char *name,
    const char *password, fc_auth_done_fn *done, void *arg);

/* May a password cross this connection? TLS, or loopback when allowed. */
bool fc_auth_plaintext_allowed(struct fc_session *s);

/* Finds a user for delivery: 1 found, 0 unknown, -1 temporary failure. */
int fc_auth_lookup(struct fc_core *core, const char *name,
    struct fc_arena *a, struct fc_user **user_r, const char **error_r);

/* The configuration generation a session belongs to. */
struct fc_core *fc_session_core(struct fc_session *s);

#endif
