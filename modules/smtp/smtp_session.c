/*
 * smtp_session.c - an SMTP or LMTP session: the greeting, replies, and
 * what happens at its edges (over-long lines, timeouts, shutdown, end).
 *
 * Replies are written as they are made; with PIPELINING the core serves
 * the client's queued commands one after the other and the replies leave
 * in the same order. Protocol errors count towards max_errors; past it
 * the session says 421 and closes (RFC 5321 4.3.2 allows 421 at any
 * time).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/envelope.h>
#include <facteur/hook.h>
#include <facteur/log.h>
#include <facteur/sasl.h>
#include <facteur/session.h>

#include "smtp.h"

static struct smtp_session *
smtp_state(struct fc_session *s)
{
	return fc_session_data(s);
}

const char *
smtp_hostname(const struct smtp_session *ss)
{
	return ss->conf->hostname != NULL ? ss->conf->hostname :
	    fc_session_hostname(ss->s);
}

void
smtp_reply(struct smtp_session *ss, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fc_session_vreply(ss->s, fmt, ap);
	va_end(ap);
}

/* A client mistake: the reply, then goodbye if it was one too many. */
enum fc_next
smtp_error(struct smtp_session *ss, const char *fmt, ...)
{
	va_list ap;
	char buf[1024];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	smtp_reply(ss, "%s", buf);
	if (fc_session_count_error(ss->s)) {
		smtp_reply(ss, "421 4.7.0 %s Error: too many errors",
		    smtp_hostname(ss));
		fc_log_session(ss->s, FC_LOG_INFO, "event=disconnect "
		    "reason=\"too many errors\"");
		return FC_NEXT_CLOSE;
	}
	return FC_NEXT_CONTINUE;
}

void
smtp_transaction_reset(struct smtp_session *ss)
{
	if (ss->spool_fd >= 0) {
		close(ss->spool_fd);
		ss->spool_fd = -1;
	}
	memset(&ss->sender, 0, sizeof(ss->sender));
	ss->id[0] = '\0';
	ss->smtputf8 = false;
	ss->body_8bit = false;
	ss->dsn_ret = 0;
	ss->dsn_envid = NULL;
	ss->rcpts = NULL;		/* the array was in tx */
	ss->nrcpts = ss->rcptalloc = 0;
	ss->rcpt_cmds = 0;
	ss->rcpt_attempts = 0;
	ss->bdat_size = 0;
	ss->bdat_last = false;
	ss->bdat_failed = false;
	ss->bdat_nul = false;
	if (ss->state != SMTP_ST_GREET)
		ss->state = SMTP_ST_READY;
	fc_envelope_reset(ss->env);
	/* nothing of the transaction is pointed at any more */
	fc_arena_reset(ss->tx);
}

/* An anonymous file for the message being received. */
int
smtp_spool_open(struct smtp_session *ss)
{
	char path[4096];
	int fd;

	fd = open(ss->conf->spool_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	if (errno == ENOENT && mkdir(ss->conf->spool_dir, 0700) == 0)
		return smtp_spool_open(ss);
	/* file systems without O_TMPFILE */
	snprintf(path, sizeof(path), "%s/in.XXXXXX", ss->conf->spool_dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	return fd;
}

static void
smtp_connect_done(struct fc_session *s, enum fc_verdict v, void *arg)
{
	struct smtp_session *ss = smtp_state(s);

	(void)arg;
	fc_session_resume(s, smtp_greet(ss, v));
}

/* The greeting, or the refusal a connect hook decided. */
enum fc_next
smtp_greet(struct smtp_session *ss, enum fc_verdict v)
{
	const char *reply = fc_envelope_reply(ss->env);

	switch (v) {
	case FC_REJECT:
	case FC_DISCONNECT:
		/* RFC 5321 3.1: 554 instead of the greeting, then QUIT;
		 * we do not wait for the QUIT */
		smtp_reply(ss, "%s", reply != NULL ? reply :
		    "554 5.7.1 Service refused");
		return FC_NEXT_CLOSE;
	case FC_TEMPFAIL:
		smtp_reply(ss, "%s", reply != NULL ? reply :
		    "421 4.7.0 Service not available, try again later");
		return FC_NEXT_CLOSE;
	default:
		break;
	}
	smtp_reply(ss, "220 %s %s", smtp_hostname(ss),
	    ss->kind == SMTP_KIND_LMTP ? "LMTP" : ss->conf->greeting);
	return FC_NEXT_CONTINUE;
}

static void
smtp_arena_free(void *arg)
{
	struct fc_arena *a = arg;

	fc_arena_free(&a);
}

enum fc_next
smtp_start(struct fc_session *s)
{
	const struct smtp_conf *conf = fc_session_conf(s);
	const char *kind = fc_session_kind(s);
	struct smtp_session *ss;
	enum fc_verdict v;

	ss = fc_arena_alloc(fc_session_arena(s), sizeof(*ss));
	ss->s = s;
	ss->conf = conf;
	ss->spool_fd = -1;
	/* freed with the session's arena, however the session ends */
	ss->tx = fc_arena_new("smtp-transaction", 1024);
	fc_arena_on_free(fc_session_arena(s), smtp_arena_free, ss->tx);
	ss->cmd = fc_arena_new("smtp-command", 1024);
	fc_arena_on_free(fc_session_arena(s), smtp_arena_free, ss->cmd);
	ss->kind = kind == NULL || strcmp(kind, "smtp") == 0 ? SMTP_KIND_SMTP :
	    strcmp(kind, "submission") == 0 ? SMTP_KIND_SUBMISSION :
	    SMTP_KIND_LMTP;
	ss->trusted = smtp_peer_trusted(conf, s);
	ss->env = fc_envelope_new(s);
	fc_session_set_data(s, ss);

	if (conf->max_connection_rate != 0 && fc_session_rate_exceeded(s,
	    "smtp-connect", conf->max_connection_rate, conf->rate_window)) {
		fc_log_session(s, FC_LOG_NOTICE, "event=connect result=limited "
		    "client=%s", fc_session_peer_ip(s));
		smtp_reply(ss, "421 4.7.0 %s Too many connections from you, "
		    "slow down", smtp_hostname(ss));
		return FC_NEXT_CLOSE;
	}
	v = fc_hook_run(s, FC_HOOK_SMTP_CONNECT, ss->env, smtp_connect_done,
	    NULL);
	if (v == FC_PENDING)
		return FC_NEXT_WAIT;
	return smtp_greet(ss, v);
}

enum fc_next
smtp_line(struct fc_session *s, char *line, size_t len)
{
	struct smtp_session *ss = smtp_state(s);

	/* the previous command is over, its replies written */
	fc_arena_reset(ss->cmd);
	/* a NUL would cut the command short behind our back */
	if (strlen(line) != len)
		return smtp_error(ss, "500 5.5.2 Error: NUL in command");
	return smtp_dispatch(ss, line, len);
}

enum fc_next
smtp_line_too_long(struct fc_session *s)
{
	struct smtp_session *ss = smtp_state(s);

	/* the core skipped the line: the session goes on */
	if (ss->state == SMTP_ST_AUTH) {
		ss->state = SMTP_ST_READY;
		ss->sasl = NULL;
	}
	return smtp_error(ss, "500 5.5.2 Error: line too long");
}

void
smtp_timeout(struct fc_session *s)
{
	struct smtp_session *ss = smtp_state(s);

	smtp_reply(ss, "421 4.4.2 %s Error: timeout exceeded",
	    smtp_hostname(ss));
}

void
smtp_stop(struct fc_session *s)
{
	struct smtp_session *ss = smtp_state(s);

	smtp_reply(ss, "421 4.3.2 %s Service shutting down",
	    smtp_hostname(ss));
}

void
smtp_end(struct fc_session *s)
{
	struct smtp_session *ss = smtp_state(s);

	/* a client gone in the middle of a message: nothing was delivered,
	 * and the spool file vanishes with its descriptor */
	if (ss != NULL && ss->spool_fd >= 0) {
		close(ss->spool_fd);
		ss->spool_fd = -1;
	}
}
