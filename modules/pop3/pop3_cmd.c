/*
 * pop3_cmd.c - the TRANSACTION state (RFC 1939 5, RFC 2449 TOP and
 * UIDL): STAT, LIST, UIDL, RETR, TOP, DELE, RSET.
 *
 * Long answers are produced as the socket drains: a message is read
 * from its file in chunks, converted (pop3_stream.c) and written while
 * the core's output buffer has room, then the session waits for
 * drained(); LIST and UIDL of a large maildrop go the same way. No
 * answer is ever held whole in memory, whatever the message's size.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <facteur/log.h>
#include <facteur/session.h>
#include <facteur/storage.h>

#include "pop3.h"

#define POP3_CHUNK	(16 * 1024)

/* One worker runs one session at a time: one buffer pair serves all. */
static char pop3_in[POP3_CHUNK];
static char pop3_out[2 * POP3_CHUNK + 8];

/*
 * The message named by a command's argument: its index, or -1 after
 * the reply. Deleted messages may not be named (RFC 1939 5).
 */
static int
pop3_msg_arg(struct pop3_session *ps, const char *arg, enum fc_next *next_r)
{
	uint32_t n;

	if (arg == NULL || pop3_parse_number(arg, &n) < 0) {
		*next_r = pop3_error(ps, "Invalid message number");
		return -1;
	}
	if (n == 0 || n > ps->count) {
		*next_r = pop3_error(ps, "There is no message %u", n);
		return -1;
	}
	if (ps->deleted[n - 1]) {
		*next_r = pop3_error(ps, "Message %u is deleted", n);
		return -1;
	}
	return (int)(n - 1);
}

static enum fc_next
pop3_cmd_stat(struct pop3_session *ps)
{
	pop3_reply(ps, "+OK %u %llu", ps->count - ps->ndeleted,
	    (unsigned long long)(ps->total_size - ps->deleted_size));
	return FC_NEXT_CONTINUE;
}

/* LIST or UIDL: one message, or all that are not deleted. */
static enum fc_next
pop3_cmd_listing(struct pop3_session *ps, struct pop3_cmdline *c,
    enum pop3_output kind)
{
	enum fc_next next;
	char buf[32];
	int i;

	if (c->argc > 1)
		return pop3_error(ps, "Too many arguments");
	if (c->argc == 1) {
		if ((i = pop3_msg_arg(ps, c->argv[0], &next)) < 0)
			return next;
		if (kind == POP3_OUT_LIST)
			pop3_reply(ps, "+OK %d %llu", i + 1,
			    (unsigned long long)ps->msgs[i].size);
		else
			pop3_reply(ps, "+OK %d %s", i + 1,
			    pop3_uidl(ps, (uint32_t)i, buf, sizeof(buf)));
		return FC_NEXT_CONTINUE;
	}
	if (kind == POP3_OUT_LIST)
		pop3_reply(ps, "+OK %u messages (%llu octets)",
		    ps->count - ps->ndeleted,
		    (unsigned long long)(ps->total_size - ps->deleted_size));
	else
		pop3_reply(ps, "+OK");
	ps->out = kind;
	ps->out_next = 0;
	return pop3_output_more(ps);
}

static enum fc_next
pop3_listing_more(struct pop3_session *ps)
{
	char buf[32];
	uint32_t i;

	while (ps->out_next < ps->count) {
		if (fc_session_output_full(ps->s))
			return FC_NEXT_MORE;
		i = ps->out_next++;
		if (ps->deleted[i])
			continue;
		if (ps->out == POP3_OUT_LIST)
			pop3_reply(ps, "%u %llu", i + 1,
			    (unsigned long long)ps->msgs[i].size);
		else
			pop3_reply(ps, "%u %s", i + 1,
			    pop3_uidl(ps, i, buf, sizeof(buf)));
	}
	ps->out = POP3_OUT_NONE;
	pop3_reply(ps, ".");
	return FC_NEXT_CONTINUE;
}

/* RETR (all of it) or TOP (the header and body_lines of the body). */
static enum fc_next
pop3_cmd_message(struct pop3_session *ps, struct pop3_cmdline *c, bool top)
{
	const struct pop3_msg *m;
	enum fc_next next;
	uint32_t lines = 0;
	const char *text = "";
	int i;

	if (c->argc != (top ? 2u : 1u))
		return pop3_error(ps, top ? "TOP message lines" :
		    "RETR message");
	if ((i = pop3_msg_arg(ps, c->argv[0], &next)) < 0)
		return next;
	if (top && pop3_parse_number(c->argv[1], &lines) < 0)
		return pop3_error(ps, "Invalid number of lines");
	m = &ps->msgs[i];
	ps->msg_fd = fc_msg_open(ps->box, m->seq, NULL);
	if (ps->msg_fd < 0) {
		enum fc_error e = fc_store_error(ps->store, &text);

		fc_log_session(ps->s, FC_LOG_INFO, "event=%s msg=%d uid=%u "
		    "result=fail reason=\"%s\"", top ? "top" : "retr", i + 1,
		    m->uid, fc_log_quote(fc_session_arena(ps->s), text, 200));
		if (e == FC_ERR_EXPUNGED)
			pop3_reply(ps, "-ERR Message %d was removed by another "
			    "session", i + 1);
		else
			pop3_reply(ps, "-ERR [SYS/TEMP] Cannot read message %d",
			    i + 1);
		return FC_NEXT_CONTINUE;
	}
	pop3_stream_init(&ps->stream, top, lines);
	ps->out = POP3_OUT_MESSAGE;
	ps->out_msg = (uint32_t)i;
	ps->out_retr = !top;
	if (top)
		pop3_reply(ps, "+OK");
	else
		pop3_reply(ps, "+OK %llu octets", (unsigned long long)m->size);
	return pop3_output_more(ps);
}

static void
pop3_message_close(struct pop3_session *ps)
{
	if (ps->msg_fd >= 0) {
		close(ps->msg_fd);
		ps->msg_fd = -1;
	}
	ps->out = POP3_OUT_NONE;
}

static enum fc_next
pop3_message_more(struct pop3_session *ps)
{
	size_t used, outlen;
	ssize_t n;

	while (!fc_session_output_full(ps->s)) {
		n = read(ps->msg_fd, pop3_in, sizeof(pop3_in));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			/* after +OK there is no way to say -ERR: the client
			 * sees the connection end without the final "." */
			fc_log_session(ps->s, FC_LOG_ERROR, "event=error "
			    "op=read msg=%u reason=\"%s\"", ps->out_msg + 1,
			    strerror(errno));
			pop3_message_close(ps);
			return FC_NEXT_CLOSE;
		}
		used = pop3_stream_convert(&ps->stream, pop3_in, (size_t)n,
		    pop3_out, &outlen);
		fc_session_write(ps->s, pop3_out, outlen);
		(void)used;
		if (n == 0 || ps->stream.done) {
			outlen = pop3_stream_finish(&ps->stream, pop3_out);
			fc_session_write(ps->s, pop3_out, outlen);
			/* \Seen at QUIT, unless it is there already: a
			 * client fetching the same mail again costs the
			 * store nothing */
			if (ps->out_retr && !(fc_msg_flags(ps->box,
			    ps->msgs[ps->out_msg].seq) & FC_FLAG_SEEN))
				ps->seen[ps->out_msg] = 1;
			pop3_message_close(ps);
			return FC_NEXT_CONTINUE;
		}
	}
	return FC_NEXT_MORE;
}

enum fc_next
pop3_output_more(struct pop3_session *ps)
{
	switch (ps->out) {
	case POP3_OUT_MESSAGE:
		return pop3_message_more(ps);
	case POP3_OUT_LIST:
	case POP3_OUT_UIDL:
		return pop3_listing_more(ps);
	default:
		return FC_NEXT_CONTINUE;
	}
}

/* The session ends in the middle of an answer. */
void
pop3_output_abort(struct pop3_session *ps)
{
	pop3_message_close(ps);
}

static enum fc_next
pop3_cmd_dele(struct pop3_session *ps, struct pop3_cmdline *c)
{
	enum fc_next next;
	int i;

	if (c->argc != 1)
		return pop3_error(ps, "DELE message");
	if ((i = pop3_msg_arg(ps, c->argv[0], &next)) < 0)
		return next;
	ps->deleted[i] = 1;
	ps->ndeleted++;
	ps->deleted_size += ps->msgs[i].size;
	pop3_reply(ps, "+OK Message %d marked for deletion", i + 1);
	return FC_NEXT_CONTINUE;
}

static enum fc_next
pop3_cmd_rset(struct pop3_session *ps)
{
	memset(ps->deleted, 0, ps->count);
	ps->ndeleted = 0;
	ps->deleted_size = 0;
	pop3_reply(ps, "+OK %u messages (%llu octets)", ps->count,
	    (unsigned long long)ps->total_size);
	return FC_NEXT_CONTINUE;
}

enum fc_next
pop3_transaction(struct pop3_session *ps, struct pop3_cmdline *c)
{
	switch (c->verb) {
	case POP3_V_STAT:
		return pop3_cmd_stat(ps);
	case POP3_V_LIST:
		return pop3_cmd_listing(ps, c, POP3_OUT_LIST);
	case POP3_V_UIDL:
		return pop3_cmd_listing(ps, c, POP3_OUT_UIDL);
	case POP3_V_RETR:
		return pop3_cmd_message(ps, c, false);
	case POP3_V_TOP:
		return pop3_cmd_message(ps, c, true);
	case POP3_V_DELE:
		return pop3_cmd_dele(ps, c);
	case POP3_V_RSET:
		return pop3_cmd_rset(ps);
	default:
		return pop3_error(ps, "Already logged in");
	}
}
