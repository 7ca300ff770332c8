/*
 * smtp_cmd.c - the commands of an SMTP or LMTP session, apart from the
 * message itself (smtp_data.c).
 *
 * Replies carry enhanced status codes (RFC 3463). The order of commands
 * is enforced (503 5.5.1); a command a listener kind does not take is
 * refused (LHLO on SMTP, EHLO on LMTP, AUTH on LMTP). Filters see HELO,
 * MAIL and RCPT after our own checks passed, and may refuse them.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <facteur/arena.h>
#include <facteur/auth.h>
#include <facteur/envelope.h>
#include <facteur/hook.h>
#include <facteur/log.h>
#include <facteur/sasl.h>
#include <facteur/session.h>

#include "smtp.h"

#define SMTP_PARAMS_MAX	16

/* The reply for a hook's refusal; hooks may set their own text. */
static enum fc_next
cmd_hook_refusal(struct smtp_session *ss, enum fc_verdict v,
    const char *fallback_reject, const char *fallback_tempfail)
{
	const char *reply = fc_envelope_reply(ss->env);

	if (v == FC_DISCONNECT) {
		smtp_reply(ss, "%s", reply != NULL ? reply :
		    "421 4.7.0 Closing the connection");
		return FC_NEXT_CLOSE;
	}
	smtp_reply(ss, "%s", reply != NULL ? reply : v == FC_TEMPFAIL ?
	    fallback_tempfail : fallback_reject);
	fc_envelope_set_reply(ss->env, NULL);
	return FC_NEXT_CONTINUE;
}

/* ------------------------------------------------------------------ */
/* HELO, EHLO, LHLO */

static void
cmd_ehlo_reply(struct smtp_session *ss)
{
	const char *caps = ss->conf->ehlo[ss->kind], *p, *nl;
	char auth[64] = "";
	bool starttls = fc_session_starttls_available(ss->s);

	if (ss->kind != SMTP_KIND_LMTP && fc_session_user(ss->s) == NULL) {
		const char *mechs = fc_sasl_mechanisms(ss->s);

		if (*mechs != '\0')
			snprintf(auth, sizeof(auth), "AUTH %s", mechs);
	}
	smtp_reply(ss, "250-%s", smtp_hostname(ss));
	for (p = caps; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		bool last = nl[1] == '\0' && !starttls && auth[0] == '\0';

		smtp_reply(ss, "250%c%.*s", last ? ' ' : '-', (int)(nl - p), p);
	}
	if (starttls)
		smtp_reply(ss, "250%cSTARTTLS", auth[0] == '\0' ? ' ' : '-');
	if (auth[0] != '\0')
		smtp_reply(ss, "250 %s", auth);
}

static void
cmd_helo_done(struct fc_session *s, enum fc_verdict v, void *arg)
{
	struct smtp_session *ss = fc_session_data(s);
	bool extended = arg != NULL;
	enum fc_next next;

	if (v == FC_REJECT || v == FC_TEMPFAIL || v == FC_DISCONNECT) {
		ss->state = SMTP_ST_GREET;
		next = cmd_hook_refusal(ss, v, "550 5.7.1 Go away",
		    "450 4.7.1 Try again later");
	} else {
		if (extended)
			cmd_ehlo_reply(ss);
		else
			smtp_reply(ss, "250 %s", smtp_hostname(ss));
		next = FC_NEXT_CONTINUE;
	}
	fc_session_resume(s, next);
}

static enum fc_next
cmd_helo(struct smtp_session *ss, const char *verb, char *arg,
    bool extended)
{
	bool lhlo = strcasecmp(verb, "LHLO") == 0;
	enum fc_verdict v;

	if (lhlo != (ss->kind == SMTP_KIND_LMTP))
		return smtp_error(ss, "500 5.5.1 Error: %s is not used here",
		    verb);
	if (arg == NULL || *arg == '\0')
		return smtp_error(ss, "501 5.5.4 Syntax: %s hostname", verb);
	/* RFC 5321 4.1.4: a repeated HELO is like RSET */
	smtp_transaction_reset(ss);
	ss->state = SMTP_ST_READY;
	ss->esmtp = extended;
	/* kept in the session itself: a client repeating EHLO must not
	 * make it grow */
	snprintf(ss->helo_buf, sizeof(ss->helo_buf), "%s", arg);
	ss->helo = ss->helo_buf;
	fc_envelope_set_helo(ss->env, ss->helo);
	v = fc_hook_run(ss->s, FC_HOOK_SMTP_HELO, ss->env, cmd_helo_done,
	    extended ? ss : NULL);
	if (v == FC_PENDING)
		return FC_NEXT_WAIT;
	if (v == FC_REJECT || v == FC_TEMPFAIL || v == FC_DISCONNECT) {
		ss->state = SMTP_ST_GREET;
		return cmd_hook_refusal(ss, v, "550 5.7.1 Go away",
		    "450 4.7.1 Try again later");
	}
	if (extended)
		cmd_ehlo_reply(ss);
	else
		smtp_reply(ss, "250 %s", smtp_hostname(ss));
	return FC_NEXT_CONTINUE;
}

/* ------------------------------------------------------------------ */
/* MAIL */

static void
cmd_new_id(struct smtp_session *ss)
{
	static unsigned int counter;

	snprintf(ss->id, sizeof(ss->id), "%.10s%04x", fc_session_id(ss->s),
	    ++counter & 0xffff);
	fc_envelope_set_id(ss->env, ss->id);
}

/* MAIL's parameters; NULL or the reply for the first bad one. */
static const char *
cmd_mail_params(struct smtp_session *ss, char *params, bool *utf8_r)
{
	char *keys[SMTP_PARAMS_MAX], *values[SMTP_PARAMS_MAX];
	int n, i;

	*utf8_r = false;
	n = smtp_parse_params(ss->cmd, params, keys, values,
	    SMTP_PARAMS_MAX);
	if (n < 0)
		return "501 5.5.4 Syntax error in parameters";
	for (i = 0; i < n; i++) {
		const char *k = keys[i], *v = values[i];

		if (strcasecmp(k, "SIZE") == 0) {
			char *end;
			unsigned long long size;

			if (v == NULL || !isdigit((unsigned char)*v))
				return "501 5.5.4 Bad SIZE";
			size = strtoull(v, &end, 10);
			if (*end != '\0')
				return "501 5.5.4 Bad SIZE";
			if (size > ss->conf->max_message_size)
				return "552 5.3.4 Message size exceeds fixed "
				    "limit";
		} else if (strcasecmp(k, "BODY") == 0) {
			if (v != NULL && strcasecmp(v, "8BITMIME") == 0)
				ss->body_8bit = true;
			else if (v == NULL || strcasecmp(v, "7BIT") != 0)
				return "555 5.5.4 Unsupported BODY type";
		} else if (strcasecmp(k, "SMTPUTF8") == 0 && v == NULL) {
			*utf8_r = true;
		} else if (strcasecmp(k, "AUTH") == 0 && v != NULL) {
			/* RFC 4954 5: who submitted it; we know better */
		} else if (strcasecmp(k, "RET") == 0
		    && smtp_dsn_offered(ss) && v != NULL) {
			if (strcasecmp(v, "FULL") == 0)
				ss->dsn_ret = SMTP_DSN_RET_FULL;
			else if (strcasecmp(v, "HDRS") == 0)
				ss->dsn_ret = SMTP_DSN_RET_HDRS;
			else
				return "501 5.5.4 Bad RET";
		} else if (strcasecmp(k, "ENVID") == 0
		    && smtp_dsn_offered(ss) && v != NULL) {
			if (strlen(v) > 100 || !smtp_xtext_decode(ss->tx, v,
			    &ss->dsn_envid))
				return "501 5.5.4 Bad ENVID";
		} else
			return "555 5.5.4 Unsupported parameter";
	}
	return NULL;
}

static void
cmd_mail_done(struct fc_session *s, enum fc_verdict v, void *arg)
{
	struct smtp_session *ss = fc_session_data(s);
	enum fc_next next = FC_NEXT_CONTINUE;

	(void)arg;
	if (v == FC_REJECT || v == FC_TEMPFAIL || v == FC_DISCONNECT) {
		next = cmd_hook_refusal(ss, v, "550 5.7.1 Sender rejected",
		    "450 4.7.1 Sender deferred, try again later");
		smtp_transaction_reset(ss);
	} else {
		ss->state = SMTP_ST_MAIL;
		smtp_reply(ss, "250 2.1.0 Ok");
	}
	fc_session_resume(s, next);
}

/* On submission, the sender must be the user (or the null sender is
 * refused: a user does not send bounces). */
static bool
cmd_sender_allowed(struct smtp_session *ss)
{
	const struct fc_user *u = fc_session_user(ss->s);

	if (ss->kind != SMTP_KIND_SUBMISSION || !ss->conf->sender_login_match
	    || u == NULL)
		return true;
	return ss->sender.address[0] != '\0'
	    && strcasecmp(ss->sender.address, fc_user_name(u)) == 0;
}

static enum fc_next
cmd_mail(struct smtp_session *ss, char *arg)
{
	const char *err;
	char *params;
	bool utf8;
	enum fc_verdict v;

	if (ss->state == SMTP_ST_GREET)
		return smtp_error(ss, "503 5.5.1 Error: send HELO/EHLO first");
	if (ss->state != SMTP_ST_READY)
		return smtp_error(ss, "503 5.5.1 Error: nested MAIL command");
	if (ss->kind == SMTP_KIND_SUBMISSION && fc_session_user(ss->s) == NULL)
		return smtp_error(ss, "530 5.7.0 Authentication required");
	/* a new transaction: nothing is left of the one before */
	smtp_transaction_reset(ss);
	if (arg == NULL || smtp_parse_path(ss->tx, arg, "FROM", true,
	    &ss->sender, &params, &err) < 0)
		return smtp_error(ss, "%s", arg == NULL ?
		    "501 5.5.4 Syntax: MAIL FROM:<address>" : err);
	if ((err = cmd_mail_params(ss, params, &utf8)) != NULL) {
		smtp_transaction_reset(ss);
		return smtp_error(ss, "%s", err);
	}
	if (ss->sender.utf8 && !utf8) {
		smtp_transaction_reset(ss);
		return smtp_error(ss, "553 5.6.7 A non-ASCII address needs "
		    "SMTPUTF8");
	}
	ss->smtputf8 = utf8;
	if (!cmd_sender_allowed(ss)) {
		smtp_reply(ss, "553 5.7.1 Sender address not owned by user "
		    "%s", fc_user_name(fc_session_user(ss->s)));
		smtp_transaction_reset(ss);
		return FC_NEXT_CONTINUE;
	}
	if (ss->conf->max_message_rate != 0 && fc_session_rate_exceeded(ss->s,
	    "smtp-message", ss->conf->max_message_rate,
	    ss->conf->rate_window)) {
		fc_log_session(ss->s, FC_LOG_NOTICE, "event=mail result=limited "
		    "client=%s", fc_session_peer_ip(ss->s));
		smtp_reply(ss, "421 4.7.0 %s Too many messages from you, "
		    "slow down", smtp_hostname(ss));
		return FC_NEXT_CLOSE;
	}
	cmd_new_id(ss);
	fc_envelope_set_sender(ss->env, ss->sender.address);
	fc_log_session(ss->s, FC_LOG_INFO, "event=mail id=%s from=<%s>",
	    ss->id, fc_log_quote(ss->cmd, ss->sender.address, 256));
	v = fc_hook_run(ss->s, FC_HOOK_SMTP_MAIL, ss->env, cmd_mail_done, NULL);
	if (v == FC_PENDING)
		return FC_NEXT_WAIT;
	if (v == FC_REJECT || v == FC_TEMPFAIL || v == FC_DISCONNECT) {
		enum fc_next next = cmd_hook_refusal(ss, v,
		    "550 5.7.1 Sender rejected",
		    "450 4.7.1 Sender deferred, try again later");

		smtp_transaction_reset(ss);
		return next;
	}
	ss->state = SMTP_ST_MAIL;
	smtp_reply(ss, "250 2.1.0 Ok");
	return FC_NEXT_CONTINUE;
}

/* ------------------------------------------------------------------ */
/* RCPT */

/* orcpt and rcpt_to are in tx already, shared by an alias's targets. */
static void
cmd_rcpt_add(struct smtp_session *ss, const char *address, const char *user,
    char *orcpt, unsigned int notify, const char *rcpt_to)
{
	struct smtp_rcpt *r;

	if (ss->nrcpts == ss->rcptalloc) {
		size_t n = ss->rcptalloc == 0 ? 8 : ss->rcptalloc * 2;
		struct smtp_rcpt *more = fc_arena_alloc(ss->tx,
		    n * sizeof(*more));

		if (ss->nrcpts > 0)
			memcpy(more, ss->rcpts, ss->nrcpts * sizeof(*more));
		ss->rcpts = more;
		ss->rcptalloc = n;
	}
	r = &ss->rcpts[ss->nrcpts++];
	r->address = fc_arena_strdup(ss->tx, address);
	r->user = user != NULL ? fc_arena_strdup(ss->tx, user) : NULL;
	r->orcpt = orcpt;
	r->notify = notify;
	r->rcpt_to = rcpt_to;
	r->cmd = ss->rcpt_cmds;
}

static const char *
cmd_rcpt_params(struct smtp_session *ss, char *params, char **orcpt_r,
    unsigned int *notify_r)
{
	char *keys[SMTP_PARAMS_MAX], *values[SMTP_PARAMS_MAX];
	int n, i;

	*orcpt_r = NULL;
	*notify_r = 0;
	n = smtp_parse_params(ss->cmd, params, keys, values,
	    SMTP_PARAMS_MAX);
	if (n < 0)
		return "501 5.5.4 Syntax error in parameters";
	for (i = 0; i < n; i++) {
		if (!smtp_dsn_offered(ss) || values[i] == NULL)
			return "555 5.5.4 Unsupported parameter";
		if (strcasecmp(keys[i], "NOTIFY") == 0) {
			char *w, *save;

			for (w = strtok_r(values[i], ",", &save); w != NULL;
			    w = strtok_r(NULL, ",", &save)) {
				if (strcasecmp(w, "NEVER") == 0)
					*notify_r |= SMTP_NOTIFY_NEVER;
				else if (strcasecmp(w, "SUCCESS") == 0)
					*notify_r |= SMTP_NOTIFY_SUCCESS;
				else if (strcasecmp(w, "FAILURE") == 0)
					*notify_r |= SMTP_NOTIFY_FAILURE;
				else if (strcasecmp(w, "DELAY") == 0)
					*notify_r |= SMTP_NOTIFY_DELAY;
				else
					return "501 5.5.4 Bad NOTIFY";
			}
			if ((*notify_r & SMTP_NOTIFY_NEVER)
			    && *notify_r != SMTP_NOTIFY_NEVER)
				return "501 5.5.4 NOTIFY=NEVER stands alone";
		} else if (strcasecmp(keys[i], "ORCPT") == 0) {
			if (strlen(values[i]) > 500 || strchr(values[i], ';')
			    == NULL || !smtp_xtext_decode(ss->cmd,
			    strchr(values[i], ';') + 1, orcpt_r))
				return "501 5.5.4 Bad ORCPT";
		} else
			return "555 5.5.4 Unsupported parameter";
	}
	return NULL;
}

static void
cmd_rcpt_done(struct fc_session *s, enum fc_verdict v, void *arg)
{
	struct smtp_session *ss = fc_session_data(s);
	enum fc_next next = FC_NEXT_CONTINUE;
	size_t first = (size_t)(uintptr_t)arg;

	if (v == FC_REJECT || v == FC_TEMPFAIL || v == FC_DISCONNECT) {
		ss->nrcpts = first;	/* the alias's targets too */
		fc_envelope_drop_recipient(ss->env);
		next = cmd_hook_refusal(ss, v, "550 5.7.1 Recipient rejected",
		    "450 4.7.1 Recipient deferred, try again later");
	} else {
		ss->state = SMTP_ST_RCPT;
		ss->rcpt_cmds++;
		smtp_reply(ss, "250 2.1.5 Ok");
	}
	fc_session_resume(s, next);
}

static enum fc_next
cmd_rcpt(struct smtp_session *ss, char *arg)
{
	struct fc_arena *a = ss->cmd;
	struct smtp_path path;
	char *params, *orcpt, *rcpt_to, **targets, **users;
	const char *err;
	unsigned int notify;
	size_t n, i, first;
	enum fc_verdict v;

	if (ss->state != SMTP_ST_MAIL && ss->state != SMTP_ST_RCPT)
		return smtp_error(ss, "503 5.5.1 Error: need MAIL command");
	if (++ss->rcpt_attempts > ss->conf->max_recipients
	    || fc_envelope_recipient_count(ss->env) >=
	    ss->conf->max_recipients) {
		smtp_reply(ss, "452 4.5.3 Error: too many recipients");
		return FC_NEXT_CONTINUE;
	}
	if (arg == NULL || smtp_parse_path(a, arg, "TO", false, &path, &params,
	    &err) < 0)
		return smtp_error(ss, "%s", arg == NULL ?
		    "501 5.5.4 Syntax: RCPT TO:<address>" : err);
	if (path.utf8 && !ss->smtputf8)
		return smtp_error(ss, "553 5.6.7 A non-ASCII address needs "
		    "SMTPUTF8");
	if ((err = cmd_rcpt_params(ss, params, &orcpt, &notify)) != NULL)
		return smtp_error(ss, "%s", err);
	if (smtp_policy_rcpt(ss, &path, a, &targets, &users, &n, &err) < 0) {
		fc_log_session(ss->s, FC_LOG_INFO, "event=rcpt id=%s rcpt=<%s> "
		    "result=reject reason=\"%s\"", ss->id,
		    fc_log_quote(a, path.address, 256), err);
		if (err[0] == '5')
			return smtp_error(ss, "%s", err);
		smtp_reply(ss, "%s", err);
		return FC_NEXT_CONTINUE;
	}
	first = ss->nrcpts;
	rcpt_to = fc_arena_strdup(ss->tx, path.address);
	/* without ORCPT the original address is not known (RFC 3464
	 * 2.3.1): reports then leave Original-Recipient out */
	if (orcpt != NULL)
		orcpt = fc_arena_strdup(ss->tx, orcpt);
	for (i = 0; i < n; i++)
		cmd_rcpt_add(ss, targets[i], users[i], orcpt, notify,
		    rcpt_to);
	fc_envelope_add_recipient(ss->env, path.address);
	fc_log_session(ss->s, FC_LOG_INFO, "event=rcpt id=%s rcpt=<%s> "
	    "result=accept%s", ss->id, fc_log_quote(a, path.address, 256),
	    n > 1 || strcasecmp(targets[0], path.address) != 0 ?
	    " alias=yes" : "");
	v = fc_hook_run(ss->s, FC_HOOK_SMTP_RCPT, ss->env, cmd_rcpt_done,
	    (void *)(uintptr_t)first);
	if (v == FC_PENDING)
		return FC_NEXT_WAIT;
	if (v == FC_REJECT || v == FC_TEMPFAIL || v == FC_DISCONNECT) {
		ss->nrcpts = first;
		fc_envelope_drop_recipient(ss->env);
		return cmd_hook_refusal(ss, v, "550 5.7.1 Recipient rejected",
		    "450 4.7.1 Recipient deferred, try again later");
	}
	ss->state = SMTP_ST_RCPT;
	ss->rcpt_cmds++;
	smtp_reply(ss, "250 2.1.5 Ok");
	return FC_NEXT_CONTINUE;
}

/* ------------------------------------------------------------------ */
/* AUTH */

static void
cmd_auth_done(struct fc_session *s, enum fc_auth_result r, void *arg)
{
	struct smtp_session *ss = fc_session_data(s);
	enum fc_next next = FC_NEXT_CONTINUE;

	(void)arg;
	ss->sasl = NULL;
	ss->state = SMTP_ST_READY;
	switch (r) {
	case FC_AUTH_OK:
		smtp_reply(ss, "235 2.7.0 Authentication successful");
		break;
	case FC_AUTH_FAILED:
		next = smtp_error(ss, "535 5.7.8 Authentication credentials "
		    "invalid");
		break;
	case FC_AUTH_LIMITED:
		smtp_reply(ss, "421 4.7.0 %s Too many authentication failures",
		    smtp_hostname(ss));
		next = FC_NEXT_CLOSE;
		break;
	case FC_AUTH_TEMPFAIL:
		smtp_reply(ss, "454 4.7.0 Temporary authentication failure");
		break;
	}
	fc_session_resume(s, next);
}

static enum fc_next
cmd_sasl_step(struct smtp_session *ss, const char *response, size_t len)
{
	const char *challenge, *err = "bad response";

	switch (fc_sasl_step(ss->sasl, response, len, &challenge, &err)) {
	case FC_SASL_CHALLENGE:
		ss->state = SMTP_ST_AUTH;
		smtp_reply(ss, "334 %s", challenge);
		return FC_NEXT_CONTINUE;
	case FC_SASL_PENDING:
		return FC_NEXT_WAIT;
	case FC_SASL_ABORTED:
		ss->sasl = NULL;
		ss->state = SMTP_ST_READY;
		return smtp_error(ss, "501 5.0.0 Authentication aborted");
	case FC_SASL_BAD:
	default:
		ss->sasl = NULL;
		ss->state = SMTP_ST_READY;
		return smtp_error(ss, "501 5.5.2 Cannot decode response");
	}
}

static enum fc_next
cmd_auth(struct smtp_session *ss, char *arg)
{
	const char *err = "unsupported mechanism";
	char *initial;

	if (ss->kind == SMTP_KIND_LMTP)
		return smtp_error(ss, "502 5.5.1 Error: AUTH not available");
	if (ss->state == SMTP_ST_GREET)
		return smtp_error(ss, "503 5.5.1 Error: send EHLO first");
	if (fc_session_user(ss->s) != NULL)
		return smtp_error(ss, "503 5.5.1 Error: already authenticated");
	if (ss->state != SMTP_ST_READY)
		return smtp_error(ss, "503 5.5.1 Error: MAIL transaction in "
		    "progress");
	if (arg == NULL || *arg == '\0')
		return smtp_error(ss, "501 5.5.4 Syntax: AUTH mechanism");
	if ((initial = strchr(arg, ' ')) != NULL)
		*initial++ = '\0';
	if (!fc_auth_plaintext_allowed(ss->s))
		return smtp_error(ss, "538 5.7.11 Encryption required for "
		    "requested authentication mechanism");
	ss->sasl = fc_sasl_begin(ss->s, arg, cmd_auth_done, NULL, &err);
	if (ss->sasl == NULL)
		return smtp_error(ss, "504 5.5.4 Unrecognized authentication "
		    "type");
	return cmd_sasl_step(ss, initial, initial != NULL ? strlen(initial) :
	    0);
}

/* ------------------------------------------------------------------ */
/* The rest */

static enum fc_next
cmd_starttls(struct smtp_session *ss, char *arg)
{
	if (arg != NULL)
		return smtp_error(ss, "501 5.5.4 Syntax: STARTTLS");
	if (fc_session_tls_active(ss->s))
		return smtp_error(ss, "503 5.5.1 Error: TLS already active");
	if (!fc_session_starttls_available(ss->s))
		return smtp_error(ss, "454 4.7.0 TLS not available");
	smtp_reply(ss, "220 2.0.0 Ready to start TLS");
	fc_session_starttls(ss->s);
	/* RFC 3207 4.2: forget what the client said before */
	smtp_transaction_reset(ss);
	ss->state = SMTP_ST_GREET;
	ss->helo = NULL;
	return FC_NEXT_CONTINUE;
}

static enum fc_next
cmd_vrfy(struct smtp_session *ss, char *arg)
{
	struct fc_arena *a = ss->cmd;
	struct fc_user *u;
	const char *err;

	if (arg == NULL)
		return smtp_error(ss, "501 5.5.4 Syntax: VRFY address");
	if (!ss->conf->vrfy) {
		smtp_reply(ss, "252 2.0.0 Cannot VRFY user, but will accept "
		    "message and attempt delivery");
		return FC_NEXT_CONTINUE;
	}
	if (arg[0] == '<') {
		size_t n = strlen(arg);

		if (n > 1 && arg[n - 1] == '>') {
			arg[n - 1] = '\0';
			arg++;
		}
	}
	switch (fc_auth_lookup(fc_session_core(ss->s), arg, a, &u, &err)) {
	case 1:
		smtp_reply(ss, "250 2.1.5 <%s>", fc_user_name(u));
		break;
	case 0:
		smtp_reply(ss, "550 5.1.1 User unknown");
		break;
	default:
		smtp_reply(ss, "451 4.3.0 Try again later");
		break;
	}
	return FC_NEXT_CONTINUE;
}

enum fc_next
smtp_dispatch(struct smtp_session *ss, char *line, size_t len)
{
	char *arg;

	(void)len;
	if (ss->state == SMTP_ST_AUTH)
		return cmd_sasl_step(ss, line, strlen(line));
	if ((arg = strchr(line, ' ')) != NULL) {
		*arg++ = '\0';
		if (*arg == '\0')
			arg = NULL;
	}
	if (strcasecmp(line, "EHLO") == 0 || strcasecmp(line, "LHLO") == 0)
		return cmd_helo(ss, line, arg, true);
	if (strcasecmp(line, "HELO") == 0)
		return cmd_helo(ss, line, arg, false);
	if (strcasecmp(line, "MAIL") == 0)
		return cmd_mail(ss, arg);
	if (strcasecmp(line, "RCPT") == 0)
		return cmd_rcpt(ss, arg);
	if (strcasecmp(line, "DATA") == 0)
		return smtp_cmd_data(ss, arg);
	if (strcasecmp(line, "BDAT") == 0)
		return smtp_cmd_bdat(ss, arg);
	if (strcasecmp(line, "RSET") == 0) {
		smtp_transaction_reset(ss);
		smtp_reply(ss, "250 2.0.0 Ok");
		return FC_NEXT_CONTINUE;
	}
	if (strcasecmp(line, "NOOP") == 0) {
		smtp_reply(ss, "250 2.0.0 Ok");
		return FC_NEXT_CONTINUE;
	}
	if (strcasecmp(line, "QUIT") == 0) {
		smtp_reply(ss, "221 2.0.0 Bye");
		return FC_NEXT_CLOSE;
	}
	if (strcasecmp(line, "STARTTLS") == 0)
		return cmd_starttls(ss, arg);
	if (strcasecmp(line, "AUTH") == 0)
		return cmd_auth(ss, arg);
	if (strcasecmp(line, "VRFY") == 0)
		return cmd_vrfy(ss, arg);
	if (strcasecmp(line, "HELP") == 0) {
		smtp_reply(ss, "214 2.0.0 See RFC 5321");
		return FC_NEXT_CONTINUE;
	}
	if (strcasecmp(line, "EXPN") == 0)
		return smtp_error(ss, "502 5.5.1 Error: command not "
		    "implemented");
	return smtp_error(ss, "500 5.5.2 Error: command not recognized");
}
