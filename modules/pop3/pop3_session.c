/*
 * pop3_session.c - a POP3 session: the greeting, replies, dispatch by
 * state, and what happens at its edges (over-long lines, timeouts,
 * shutdown, the end).
 *
 * States (RFC 1939 section 3): AUTHORIZATION until a login opens and
 * locks the maildrop, TRANSACTION until QUIT, then UPDATE, where the
 * deletions are carried out and the session ends. A session that ends
 * any other way (the client vanished, a timeout, the server stopping)
 * deletes nothing.
 *
 * Client mistakes count towards max_errors; past it the session says
 * -ERR and closes.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/log.h>
#include <facteur/session.h>

#include "pop3.h"

static struct pop3_session *
pop3_state(struct fc_session *s)
{
	return fc_session_data(s);
}

void
pop3_reply(struct pop3_session *ps, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fc_session_vreply(ps->s, fmt, ap);
	va_end(ap);
}

/* A client mistake: the reply, then goodbye if it was one too many. */
enum fc_next
pop3_error(struct pop3_session *ps, const char *fmt, ...)
{
	va_list ap;
	char buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pop3_reply(ps, "-ERR %s", buf);
	if (fc_session_count_error(ps->s)) {
		pop3_reply(ps, "-ERR Too many errors, closing the connection");
		fc_log_session(ps->s, FC_LOG_INFO, "event=disconnect "
		    "reason=\"too many errors\"");
		return FC_NEXT_CLOSE;
	}
	return FC_NEXT_CONTINUE;
}

enum fc_next
pop3_start(struct fc_session *s)
{
	const struct pop3_conf *conf = fc_session_conf(s);
	struct pop3_session *ps;

	ps = fc_arena_alloc(fc_session_arena(s), sizeof(*ps));
	ps->s = s;
	ps->conf = conf;
	ps->lock_fd = -1;
	ps->msg_fd = -1;
	fc_session_set_data(s, ps);
	pop3_reply(ps, "+OK %s", conf->greeting);
	return FC_NEXT_CONTINUE;
}

static enum fc_next
pop3_quit(struct pop3_session *ps)
{
	if (ps->state != POP3_ST_TRANSACTION) {
		pop3_reply(ps, "+OK Bye");
		return FC_NEXT_CLOSE;
	}
	ps->state = POP3_ST_UPDATE;
	if (pop3_maildrop_update(ps) < 0) {
		/* RFC 1939 6: some deleted messages were not removed */
		pop3_reply(ps, "-ERR [SYS/TEMP] Some deleted messages were not "
		    "removed");
	} else if (ps->ndeleted > 0) {
		pop3_reply(ps, "+OK Bye, deleted %u", ps->ndeleted);
	} else
		pop3_reply(ps, "+OK Bye");
	fc_log_session(ps->s, FC_LOG_INFO, "event=quit deleted=%u "
	    "messages=%u", ps->ndeleted, ps->count);
	pop3_maildrop_close(ps);
	return FC_NEXT_CLOSE;
}

static enum fc_next
pop3_authorization(struct pop3_session *ps, struct pop3_cmdline *c)
{
	switch (c->verb) {
	case POP3_V_USER:
		return pop3_cmd_user(ps, c);
	case POP3_V_PASS:
		return pop3_cmd_pass(ps, c);
	case POP3_V_AUTH:
		return pop3_cmd_auth(ps, c);
	case POP3_V_STLS:
		return pop3_cmd_stls(ps);
	case POP3_V_APOP:
		return pop3_error(ps, "APOP is not offered");
	case POP3_V_UNKNOWN:
		return pop3_error(ps, "Unknown command");
	default:
		return pop3_error(ps, "Not allowed before logging in");
	}
}

enum fc_next
pop3_line(struct fc_session *s, char *line, size_t len)
{
	struct pop3_session *ps = pop3_state(s);
	struct pop3_cmdline c;
	char *sp;
	bool split;

	if (ps->sasl != NULL)
		return pop3_sasl_line(ps, line, len);
	/* PASS and AUTH take their argument whole */
	sp = memchr(line, ' ', len);
	switch (pop3_verb_lookup(line, sp != NULL ? (size_t)(sp - line) :
	    len)) {
	case POP3_V_PASS:
	case POP3_V_AUTH:
		split = false;
		break;
	default:
		split = true;
		break;
	}
	if (pop3_parse_line(line, len, split, &c) < 0)
		return pop3_error(ps, len == 0 ? "Empty command" :
		    "NUL in command");
	if (c.too_many)
		return pop3_error(ps, "Too many arguments");
	switch (c.verb) {
	case POP3_V_CAPA:
		return pop3_cmd_capa(ps);
	case POP3_V_QUIT:
		return pop3_quit(ps);
	case POP3_V_NOOP:
		if (ps->state == POP3_ST_TRANSACTION) {
			pop3_reply(ps, "+OK");
			return FC_NEXT_CONTINUE;
		}
		break;
	default:
		break;
	}
	if (ps->state == POP3_ST_AUTHORIZATION)
		return pop3_authorization(ps, &c);
	if (c.verb == POP3_V_UNKNOWN)
		return pop3_error(ps, "Unknown command");
	return pop3_transaction(ps, &c);
}

enum fc_next
pop3_line_too_long(struct fc_session *s)
{
	struct pop3_session *ps = pop3_state(s);

	/* the core skipped the line; an exchange it was part of ends */
	if (ps->sasl != NULL) {
		ps->sasl = NULL;
		return pop3_error(ps, "[AUTH] Authentication response too "
		    "long");
	}
	return pop3_error(ps, "Line too long");
}

enum fc_next
pop3_drained(struct fc_session *s)
{
	return pop3_output_more(pop3_state(s));
}

void
pop3_timeout(struct fc_session *s)
{
	pop3_reply(pop3_state(s), "-ERR Disconnected for inactivity");
}

void
pop3_stop(struct fc_session *s)
{
	pop3_reply(pop3_state(s), "-ERR [SYS/TEMP] Server shutting down");
}

void
pop3_end(struct fc_session *s)
{
	struct pop3_session *ps = pop3_state(s);

	if (ps == NULL)
		return;
	/* the client vanished, idled out, or the server stops: nothing it
	 * DELE'd is deleted (RFC 1939 6); what it read whole is \Seen */
	pop3_output_abort(ps);
	if (ps->state == POP3_ST_TRANSACTION) {
		pop3_maildrop_mark_seen(ps);
		fc_log_session(s, FC_LOG_INFO, "event=abort deleted=0 "
		    "undone=%u", ps->ndeleted);
	}
	pop3_maildrop_close(ps);
}
