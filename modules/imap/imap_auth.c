/*
 * imap_auth.c - before and around login: CAPABILITY, STARTTLS, LOGIN,
 * AUTHENTICATE (PLAIN and LOGIN through the core, with SASL-IR, RFC
 * 4959), ENABLE (RFC 5161: CONDSTORE, QRESYNC, IMAP4rev2,
 * UTF8=ACCEPT), ID (RFC 2971) and NAMESPACE (RFC 2342).
 *
 * Passwords cross only connections the core allows them on (TLS, or
 * loopback with the default plaintext_auth): elsewhere CAPABILITY says
 * LOGINDISABLED and shows no AUTH=, and LOGIN and AUTHENTICATE are
 * refused with [PRIVACYREQUIRED] before any name is looked at. Failed
 * logins are delayed and counted per client IP by the core.
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
#include <facteur/storage.h>

#include "imap.h"

#define IMAP_USER_MAX	256

void
imap_capability_list(struct imap_session *is)
{
	const char *mechs, *p, *sp;

	imap_str_adds(&is->out, is->conf->capability);
	if (is->state != IMAP_ST_NOTAUTH) {
		/* RFC 4978: offered once a client has logged in */
		imap_str_adds(&is->out, " COMPRESS=DEFLATE");
		return;
	}
	if (fc_session_starttls_available(is->s)
	    && !fc_session_tls_active(is->s))
		imap_str_adds(&is->out, " STARTTLS");
	if (!fc_auth_plaintext_allowed(is->s)) {
		imap_str_adds(&is->out, " LOGINDISABLED");
		return;
	}
	mechs = fc_sasl_mechanisms(is->s);
	for (p = mechs; *p != '\0'; p = *sp == ' ' ? sp + 1 : sp) {
		sp = strchrnul(p, ' ');
		imap_str_printf(&is->out, " AUTH=%.*s", (int)(sp - p), p);
	}
}

enum fc_next
imap_cmd_capability(struct imap_session *is, struct imap_command *c)
{
	if (c->count != 0)
		return imap_bad(is, c->tag, "CAPABILITY takes no arguments");
	imap_str_adds(&is->out, "* CAPABILITY ");
	imap_capability_list(is);
	imap_str_adds(&is->out, "\r\n");
	imap_write_str(is);
	return imap_ok(is, c->tag, "CAPABILITY completed");
}

enum fc_next
imap_cmd_starttls(struct imap_session *is, struct imap_command *c)
{
	if (c->count != 0)
		return imap_bad(is, c->tag, "STARTTLS takes no arguments");
	if (fc_session_tls_active(is->s))
		return imap_bad(is, c->tag, "TLS is already active");
	if (!fc_session_starttls_available(is->s))
		return imap_no(is, c->tag, "TLS is not available");
	imap_ok(is, c->tag, "Begin TLS negotiation now");
	/* what the client sent after STARTTLS is dropped by the core */
	fc_session_starttls(is->s);
	return FC_NEXT_CONTINUE;
}

static bool
imap_plaintext_refused(struct imap_session *is, const char *tag)
{
	if (fc_auth_plaintext_allowed(is->s))
		return false;
	imap_no(is, tag, "[PRIVACYREQUIRED] Plaintext authentication is not "
	    "allowed without TLS%s", fc_session_starttls_available(is->s) ?
	    ": use STARTTLS first" : "");
	return true;
}

static int
imap_login_open(struct imap_session *is, const char **why_r)
{
	const char *err = "cannot open the store";

	if (fc_store_open(fc_session_core(is->s), fc_session_user(is->s),
	    &is->store, &err) < 0) {
		fc_log_session(is->s, FC_LOG_WARNING, "event=error op=store "
		    "reason=\"%s\"", fc_log_quote(is->arena, err, 200));
		*why_r = "Cannot open your mail";
		return -1;
	}
	return 0;
}

static void
imap_auth_done(struct fc_session *s, enum fc_auth_result r, void *arg)
{
	struct imap_session *is = arg;
	const char *tag = is->sasl_tag, *why = "";
	enum fc_next next = FC_NEXT_CONTINUE;

	is->sasl = NULL;
	is->input = IMAP_IN_COMMAND;
	switch (r) {
	case FC_AUTH_OK:
		if (imap_login_open(is, &why) < 0) {
			imap_no(is, tag, "[UNAVAILABLE] %s", why);
			break;
		}
		is->state = IMAP_ST_AUTH;
		fc_session_set_idle_timeout(s, is->conf->idle_timeout);
		fc_log_session(s, FC_LOG_INFO, "event=login result=ok");
		imap_str_printf(&is->out, "%s OK [CAPABILITY ", tag);
		imap_capability_list(is);
		imap_str_adds(&is->out, "] Logged in\r\n");
		imap_write_str(is);
		break;
	case FC_AUTH_FAILED:
		next = imap_no(is, tag, "[AUTHENTICATIONFAILED] "
		    "Authentication failed");
		if (fc_session_count_error(s))
			next = FC_NEXT_CLOSE;
		break;
	case FC_AUTH_LIMITED:
		imap_no(is, tag, "[UNAVAILABLE] Too many failed logins from "
		    "your address, try again later");
		break;
	case FC_AUTH_TEMPFAIL:
	default:
		imap_no(is, tag, "[UNAVAILABLE] Authentication is not "
		    "available now, try again later");
		break;
	}
	fc_session_resume(s, next);
}

enum fc_next
imap_cmd_login(struct imap_session *is, struct imap_command *c)
{
	if (imap_plaintext_refused(is, c->tag))
		return fc_session_count_error(is->s) ? FC_NEXT_CLOSE :
		    FC_NEXT_CONTINUE;
	if (c->count != 2 || !imap_arg_is_string(&c->args[0])
	    || !imap_arg_is_string(&c->args[1]))
		return imap_bad(is, c->tag, "LOGIN user password");
	if (c->args[0].len > IMAP_USER_MAX || strlen(c->args[0].str)
	    != c->args[0].len || strlen(c->args[1].str) != c->args[1].len)
		return imap_no(is, c->tag, "[AUTHENTICATIONFAILED] "
		    "Authentication failed");
	is->sasl_tag = fc_arena_strdup(is->arena, c->tag);
	fc_auth_login(is->s, c->args[0].str, c->args[1].str, imap_auth_done,
	    is);
	return FC_NEXT_WAIT;
}

static enum fc_next
imap_sasl_step(struct imap_session *is, const char *response, size_t len)
{
	const char *challenge, *err = "bad response";

	switch (fc_sasl_step(is->sasl, response, len, &challenge, &err)) {
	case FC_SASL_CHALLENGE:
		is->input = IMAP_IN_SASL;
		fc_session_printf(is->s, "+ %s\r\n", challenge);
		return FC_NEXT_CONTINUE;
	case FC_SASL_PENDING:
		return FC_NEXT_WAIT;
	case FC_SASL_ABORTED:
		is->sasl = NULL;
		is->input = IMAP_IN_COMMAND;
		return imap_bad(is, is->sasl_tag, "Authentication cancelled");
	case FC_SASL_BAD:
	default:
		is->sasl = NULL;
		is->input = IMAP_IN_COMMAND;
		return imap_bad(is, is->sasl_tag, "%s", err);
	}
}

enum fc_next
imap_sasl_line(struct imap_session *is, char *line, size_t len)
{
	if (strlen(line) != len) {
		is->sasl = NULL;
		is->input = IMAP_IN_COMMAND;
		return imap_bad(is, is->sasl_tag, "NUL in response");
	}
	return imap_sasl_step(is, line, len);
}

enum fc_next
imap_cmd_authenticate(struct imap_session *is, struct imap_command *c)
{
	const char *err = "unsupported mechanism", *initial = NULL;

	if (c->count < 1 || c->count > 2 || c->args[0].type != IMAP_ARG_ATOM
	    || (c->count == 2 && c->args[1].type != IMAP_ARG_ATOM))
		return imap_bad(is, c->tag, "AUTHENTICATE mechanism "
		    "[initial-response]");
	if (imap_plaintext_refused(is, c->tag))
		return fc_session_count_error(is->s) ? FC_NEXT_CLOSE :
		    FC_NEXT_CONTINUE;
	if (c->count == 2)
		initial = c->args[1].str;
	is->sasl_tag = fc_arena_strdup(is->arena, c->tag);
	is->sasl = fc_sasl_begin(is->s, c->args[0].str, imap_auth_done, is,
	    &err);
	if (is->sasl == NULL)
		return imap_no(is, c->tag, "%s", err);
	return imap_sasl_step(is, initial, initial == NULL ? 0 :
	    strlen(initial));
}

enum fc_next
imap_cmd_enable(struct imap_session *is, struct imap_command *c)
{
	size_t i;

	if (c->count == 0)
		return imap_bad(is, c->tag, "ENABLE capability...");
	for (i = 0; i < c->count; i++)
		if (c->args[i].type != IMAP_ARG_ATOM)
			return imap_bad(is, c->tag, "ENABLE capability...");
	imap_str_adds(&is->out, "* ENABLED");
	for (i = 0; i < c->count; i++) {
		/* RFC 5161 3: unknown ones are ignored, and each is listed
		 * only when this command enabled it */
		if (imap_arg_is_atom(&c->args[i], "CONDSTORE")
		    && !is->condstore) {
			is->condstore = true;
			imap_str_adds(&is->out, " CONDSTORE");
		} else if (imap_arg_is_atom(&c->args[i], "IMAP4rev2")
		    && !is->rev2) {
			/* RFC 9051: UTF-8 comes with it (names, headers) */
			is->rev2 = true;
			is->utf8 = true;
			imap_str_adds(&is->out, " IMAP4rev2");
		} else if (imap_arg_is_atom(&c->args[i], "UTF8=ACCEPT")
		    && !is->utf8) {
			/* RFC 6855 3: mailbox names in UTF-8 from now on */
			is->utf8 = true;
			imap_str_adds(&is->out, " UTF8=ACCEPT");
		} else if (imap_arg_is_atom(&c->args[i], "QRESYNC")
		    && !is->qresync) {
			/* RFC 7162 3.2.3: CONDSTORE comes with it */
			is->qresync = true;
			is->condstore = true;
			imap_str_adds(&is->out, " QRESYNC");
		}
	}
	imap_str_adds(&is->out, "\r\n");
	imap_write_str(is);
	return imap_ok(is, c->tag, "ENABLE completed");
}

enum fc_next
imap_cmd_id(struct imap_session *is, struct imap_command *c)
{
	const struct imap_arg *a = c->count == 1 ? &c->args[0] : NULL;
	size_t i;

	if (a == NULL || !(imap_arg_is_atom(a, "NIL")
	    || (a->type == IMAP_ARG_LIST && a->count % 2 == 0
	    && a->count <= 60)))
		return imap_bad(is, c->tag, "ID NIL or (field value ...)");
	if (a->type == IMAP_ARG_LIST) {
		for (i = 0; i < a->count; i++)
			if (!imap_arg_is_string(&a->list[i]))
				return imap_bad(is, c->tag, "ID fields are "
				    "strings");
		for (i = 0; i + 1 < a->count; i += 2)
			if (strcasecmp(a->list[i].str, "name") == 0
			    || strcasecmp(a->list[i].str, "version") == 0)
				fc_log_session(is->s, FC_LOG_INFO,
				    "event=id %s=\"%s\"", a->list[i].str[0]
				    == 'n' || a->list[i].str[0] == 'N' ?
				    "name" : "version",
				    fc_log_quote(is->arena, a->list[i + 1].str,
				    80));
	}
	imap_untagged(is, "ID (\"name\" \"facteur\")");
	return imap_ok(is, c->tag, "ID completed");
}

enum fc_next
imap_cmd_namespace(struct imap_session *is, struct imap_command *c)
{
	if (c->count != 0)
		return imap_bad(is, c->tag, "NAMESPACE takes no arguments");
	imap_untagged(is, "NAMESPACE ((\"\" \"/\")) NIL NIL");
	return imap_ok(is, c->tag, "NAMESPACE completed");
}
