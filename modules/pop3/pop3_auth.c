/*
 * pop3_auth.c - the AUTHORIZATION state: CAPA, STLS (RFC 2595), USER
 * and PASS (RFC 1939 7), AUTH with SASL PLAIN and LOGIN through the core
 * (RFC 5034), and the login that opens the maildrop.
 *
 * Passwords cross only connections the core allows them on (TLS, or
 * loopback with the default plaintext_auth): elsewhere CAPA shows
 * neither USER nor SASL, and USER, PASS and AUTH are refused with
 * [AUTH] before any name is looked at. Failed logins are delayed and
 * counted per client IP by the core. APOP is not offered: it needs the
 * password in clear on the server.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <facteur/arena.h>
#include <facteur/auth.h>
#include <facteur/log.h>
#include <facteur/sasl.h>
#include <facteur/session.h>

#include "pop3.h"

#define POP3_USER_MAX	256

enum fc_next
pop3_cmd_capa(struct pop3_session *ps)
{
	bool authorization = ps->state == POP3_ST_AUTHORIZATION;
	const char *mechs = fc_sasl_mechanisms(ps->s);

	pop3_reply(ps, "+OK Capability list follows");
	fc_session_puts(ps->s, ps->conf->capa);
	if (authorization && fc_auth_plaintext_allowed(ps->s))
		pop3_reply(ps, "USER");
	if (authorization && *mechs != '\0')
		pop3_reply(ps, "SASL %s", mechs);
	if (authorization && fc_session_starttls_available(ps->s))
		pop3_reply(ps, "STLS");
	pop3_reply(ps, ".");
	return FC_NEXT_CONTINUE;
}

enum fc_next
pop3_cmd_stls(struct pop3_session *ps)
{
	if (fc_session_tls_active(ps->s))
		return pop3_error(ps, "TLS is already active");
	if (!fc_session_starttls_available(ps->s))
		return pop3_error(ps, "TLS is not available");
	pop3_reply(ps, "+OK Begin TLS negotiation now");
	/* what the client sent after STLS is dropped by the core */
	fc_session_starttls(ps->s);
	ps->user = NULL;
	return FC_NEXT_CONTINUE;
}

/* The reply to a refused password, the same whatever the reason. */
static bool
pop3_plaintext_refused(struct pop3_session *ps)
{
	if (fc_auth_plaintext_allowed(ps->s))
		return false;
	pop3_reply(ps, "-ERR [AUTH] Plaintext authentication is not allowed "
	    "without TLS%s", fc_session_starttls_available(ps->s) ?
	    ": use STLS first" : "");
	return true;
}

enum fc_next
pop3_cmd_user(struct pop3_session *ps, struct pop3_cmdline *c)
{
	ps->user = NULL;
	if (pop3_plaintext_refused(ps))
		return fc_session_count_error(ps->s) ? FC_NEXT_CLOSE :
		    FC_NEXT_CONTINUE;
	if (c->argc != 1)
		return pop3_error(ps, "USER takes one name");
	if (strlen(c->argv[0]) > POP3_USER_MAX)
		return pop3_error(ps, "User name too long");
	ps->user = fc_arena_strdup(fc_session_arena(ps->s), c->argv[0]);
	pop3_reply(ps, "+OK");
	return FC_NEXT_CONTINUE;
}

/* The login succeeded: lock and open the maildrop. */
static enum fc_next
pop3_login(struct pop3_session *ps)
{
	const char *code = "SYS/TEMP", *why = "cannot open the mailbox";

	if (pop3_lock(ps, &code, &why) < 0
	    || pop3_maildrop_open(ps, &code, &why) < 0) {
		pop3_maildrop_close(ps);
		fc_log_session(ps->s, FC_LOG_INFO, "event=login result=%s "
		    "reason=\"%s\"", code, why);
		pop3_reply(ps, "-ERR [%s] %s", code, why);
		/* RFC 1939 4: the client may try again, or QUIT */
		return FC_NEXT_CONTINUE;
	}
	ps->state = POP3_ST_TRANSACTION;
	fc_log_session(ps->s, FC_LOG_INFO, "event=login result=ok "
	    "messages=%u size=%llu", ps->count,
	    (unsigned long long)ps->total_size);
	pop3_reply(ps, "+OK Logged in, %u messages (%llu octets)", ps->count,
	    (unsigned long long)ps->total_size);
	return FC_NEXT_CONTINUE;
}

static void
pop3_auth_done(struct fc_session *s, enum fc_auth_result r, void *arg)
{
	struct pop3_session *ps = arg;
	enum fc_next next = FC_NEXT_CONTINUE;

	ps->sasl = NULL;
	ps->user = NULL;
	switch (r) {
	case FC_AUTH_OK:
		next = pop3_login(ps);
		break;
	case FC_AUTH_FAILED:
		pop3_reply(ps, "-ERR [AUTH] Authentication failed");
		if (fc_session_count_error(s))
			next = FC_NEXT_CLOSE;
		break;
	case FC_AUTH_LIMITED:
		pop3_reply(ps, "-ERR [SYS/TEMP] Too many failed logins from "
		    "your address, try again later");
		break;
	case FC_AUTH_TEMPFAIL:
	default:
		pop3_reply(ps, "-ERR [SYS/TEMP] Authentication is not "
		    "available now, try again later");
		break;
	}
	fc_session_resume(s, next);
}

enum fc_next
pop3_cmd_pass(struct pop3_session *ps, struct pop3_cmdline *c)
{
	const char *user = ps->user;

	ps->user = NULL;
	if (pop3_plaintext_refused(ps))
		return fc_session_count_error(ps->s) ? FC_NEXT_CLOSE :
		    FC_NEXT_CONTINUE;
	if (user == NULL)
		return pop3_error(ps, "USER first");
	/* the whole rest of the line: passwords may hold spaces */
	fc_auth_login(ps->s, user, c->rest, pop3_auth_done, ps);
	return FC_NEXT_WAIT;
}

/* One step of an AUTH exchange; response NULL: none yet. */
static enum fc_next
pop3_sasl_step(struct pop3_session *ps, const char *response, size_t len)
{
	const char *challenge, *err = "bad response";

	switch (fc_sasl_step(ps->sasl, response, len, &challenge, &err)) {
	case FC_SASL_CHALLENGE:
		pop3_reply(ps, "+ %s", challenge);
		return FC_NEXT_CONTINUE;
	case FC_SASL_PENDING:
		return FC_NEXT_WAIT;
	case FC_SASL_ABORTED:
		ps->sasl = NULL;
		/* RFC 5034 4: "*" cancels, and the server answers -ERR */
		pop3_reply(ps, "-ERR Authentication cancelled");
		return FC_NEXT_CONTINUE;
	case FC_SASL_BAD:
	default:
		ps->sasl = NULL;
		return pop3_error(ps, "[AUTH] %s", err);
	}
}

enum fc_next
pop3_sasl_line(struct pop3_session *ps, char *line, size_t len)
{
	if (strlen(line) != len) {
		ps->sasl = NULL;
		return pop3_error(ps, "NUL in response");
	}
	return pop3_sasl_step(ps, line, len);
}

enum fc_next
pop3_cmd_auth(struct pop3_session *ps, struct pop3_cmdline *c)
{
	const char *err = "unsupported mechanism";
	char *mech = c->rest, *initial;

	ps->user = NULL;
	while (*mech == ' ')
		mech++;
	if (*mech == '\0') {
		/* RFC 5034 does not define it, but clients (Outlook) send a
		 * bare AUTH to learn the mechanisms, as with Dovecot */
		const char *mechs = fc_sasl_mechanisms(ps->s), *p, *sp;

		pop3_reply(ps, "+OK");
		for (p = mechs; *p != '\0'; p = *sp == ' ' ? sp + 1 : sp) {
			sp = strchrnul(p, ' ');
			pop3_reply(ps, "%.*s", (int)(sp - p), p);
		}
		pop3_reply(ps, ".");
		return FC_NEXT_CONTINUE;
	}
	if (pop3_plaintext_refused(ps))
		return fc_session_count_error(ps->s) ? FC_NEXT_CLOSE :
		    FC_NEXT_CONTINUE;
	if ((initial = strchr(mech, ' ')) != NULL) {
		*initial++ = '\0';
		while (*initial == ' ')
			initial++;
		if (*initial == '\0' || strchr(initial, ' ') != NULL)
			return pop3_error(ps, "AUTH mechanism "
			    "[initial-response]");
	}
	ps->sasl = fc_sasl_begin(ps->s, mech, pop3_auth_done, ps, &err);
	if (ps->sasl == NULL)
		return pop3_error(ps, "[AUTH] %s", err);
	return pop3_sasl_step(ps, initial,
	    initial == NULL ? 0 : strlen(initial));
}
