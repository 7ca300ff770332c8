/*
 * imap_session.c - an IMAP session: the greeting, gathering a command
 * from its lines and literals, dispatch by state, the responses, and
 * what happens at the session's edges.
 *
 * A command may span several lines: a line ending in "{n}" announces a
 * literal of n bytes, which the client sends after our "+ " (or at once
 * with "{n+}", RFC 7888). The lines and literals are gathered in wire
 * form, then parsed whole (imap_parse.c). Every size is checked before
 * any byte of a literal is read: a literal inside a command is bounded
 * by max_literal_size, the whole command by max_command_size. A
 * refused synchronising literal is answered NO [TOOBIG] and the client
 * sends nothing more of it; a refused non-synchronising one would
 * arrive anyway, so the connection ends after BAD.
 *
 * The message of an APPEND is not gathered: its literal goes to a spool
 * file through the core, and the message is stored only when the
 * command's last line has arrived (a client vanishing in between
 * stores nothing). With MULTIAPPEND, the line after a message may
 * announce the next one; the messages wait, uncommitted, for that last
 * line too.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/log.h>
#include <facteur/session.h>
#include <facteur/storage.h>

#include "imap.h"

static struct imap_session *
imap_state(struct fc_session *s)
{
	return fc_session_data(s);
}

void
imap_write_str(struct imap_session *is)
{
	fc_session_write(is->s, is->out.data, is->out.len);
	imap_str_reset(&is->out);
}

static void
imap_vline(struct imap_session *is, const char *prefix, const char *fmt,
    va_list ap)
{
	char buf[FC_REPLY_MAX];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	fc_session_printf(is->s, "%s%s\r\n", prefix, buf);
}

void
imap_untagged(struct imap_session *is, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	imap_vline(is, "* ", fmt, ap);
	va_end(ap);
}

static void
imap_tagged(struct imap_session *is, const char *tag, const char *status,
    const char *fmt, va_list ap)
{
	char buf[FC_REPLY_MAX];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	fc_session_printf(is->s, "%s %s %s\r\n", tag != NULL ? tag : "*",
	    status, buf);
}

enum fc_next
imap_ok(struct imap_session *is, const char *tag, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	imap_tagged(is, tag, "OK", fmt, ap);
	va_end(ap);
	return FC_NEXT_CONTINUE;
}

/* A refusal counts as a client mistake only for BAD. */
enum fc_next
imap_no(struct imap_session *is, const char *tag, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	imap_tagged(is, tag, "NO", fmt, ap);
	va_end(ap);
	return FC_NEXT_CONTINUE;
}

enum fc_next
imap_bad(struct imap_session *is, const char *tag, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	imap_tagged(is, tag, "BAD", fmt, ap);
	va_end(ap);
	if (fc_session_count_error(is->s)) {
		imap_untagged(is, "BYE Too many errors, closing the connection");
		fc_log_session(is->s, FC_LOG_INFO, "event=disconnect "
		    "reason=\"too many errors\"");
		is->state = IMAP_ST_LOGOUT;
		return FC_NEXT_CLOSE;
	}
	return FC_NEXT_CONTINUE;
}

enum fc_next
imap_store_no(struct imap_session *is, const char *tag, const char *what)
{
	const char *text = "";
	enum fc_error e = fc_store_error(is->store, &text);

	switch (e) {
	case FC_ERR_NOTFOUND:
		return imap_no(is, tag, "[NONEXISTENT] No such mailbox");
	case FC_ERR_EXISTS:
		return imap_no(is, tag, "[ALREADYEXISTS] Mailbox exists");
	case FC_ERR_BADNAME:
		return imap_no(is, tag, "[CANNOT] Invalid mailbox name");
	case FC_ERR_NOQUOTA:
		return imap_no(is, tag, "[OVERQUOTA] Quota exceeded");
	case FC_ERR_PERM:
		return imap_no(is, tag, "[NOPERM] %s not allowed", what);
	case FC_ERR_EXPUNGED:
		return imap_no(is, tag, "[EXPUNGEISSUED] Some messages were "
		    "expunged");
	case FC_ERR_LIMIT:
		return imap_no(is, tag, "[LIMIT] %s: %s", what, text);
	case FC_ERR_TEMP:
		/* RFC 5530: a part of the system (disk, database) is down
		 * for now; the client should try again later */
		fc_log_session(is->s, FC_LOG_WARNING, "event=error op=%s "
		    "reason=\"%s\"", what, fc_log_quote(is->arena,
		    text, 200));
		return imap_no(is, tag, "[UNAVAILABLE] %s failed, try again "
		    "later", what);
	default:
		fc_log_session(is->s, FC_LOG_WARNING, "event=error op=%s "
		    "reason=\"%s\"", what, fc_log_quote(is->arena,
		    text, 200));
		return imap_no(is, tag, "[SERVERBUG] %s failed, try again "
		    "later", what);
	}
}

const char *
imap_mailbox_arg(struct imap_session *is, const char *tag,
    const struct imap_arg *arg, enum fc_next *next_r)
{
	const char *name, *reason = "invalid name";

	if (!imap_arg_is_string(arg)) {
		*next_r = imap_bad(is, tag, "Mailbox name expected");
		return NULL;
	}
	if (strlen(arg->str) != arg->len) {
		*next_r = imap_no(is, tag, "[CANNOT] NUL in mailbox name");
		return NULL;
	}
	if (fc_mailbox_is_inbox(arg->str))
		return "INBOX";
	if (is->utf8)
		name = arg->str;
	else
		name = fc_mutf7_decode(is->arena, arg->str,
		    &reason);
	if (name == NULL || fc_mailbox_name_check(name, &reason) < 0) {
		*next_r = imap_no(is, tag, "[CANNOT] Invalid mailbox name: %s",
		    reason);
		return NULL;
	}
	return name;
}

enum fc_next
imap_start(struct fc_session *s)
{
	const struct imap_conf *conf = fc_session_conf(s);
	struct imap_session *is;

	is = fc_arena_alloc(fc_session_arena(s), sizeof(*is));
	memset(is, 0, sizeof(*is));
	is->s = s;
	is->conf = conf;
	is->arena = fc_arena_new("imap-command", 4096);
	imap_str_init(&is->cmd);
	imap_str_init(&is->out);
	fc_session_set_data(s, is);
	fc_session_set_idle_timeout(s, conf->login_timeout);
	imap_str_adds(&is->out, "* OK [CAPABILITY ");
	imap_capability_list(is);
	imap_str_printf(&is->out, "] %s\r\n", conf->greeting);
	imap_write_str(is);
	return FC_NEXT_CONTINUE;
}

/* The tag at the start of a command being gathered, for a refusal. */
static const char *
imap_gathered_tag(struct imap_session *is)
{
	const char *p = imap_str_cstr(&is->cmd);
	size_t n = strcspn(p, " ");

	if (n == 0 || n > IMAP_TAG_MAX || strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789.-_!#$&',/:;<=>?@^`|~")
	    < n)
		return "*";
	return fc_arena_strndup(is->arena, p, n);
}

static void
imap_cmd_reset(struct imap_session *is)
{
	imap_str_reset(&is->cmd);
	is->cmd_literals = 0;
	is->input = IMAP_IN_COMMAND;
}

static enum fc_next
imap_logout(struct imap_session *is, struct imap_command *c)
{
	if (c->count != 0)
		return imap_bad(is, c->tag, "LOGOUT takes no arguments");
	imap_untagged(is, "BYE Logging out");
	imap_ok(is, c->tag, "LOGOUT completed");
	is->state = IMAP_ST_LOGOUT;
	return FC_NEXT_CLOSE;
}

static enum fc_next
imap_noop(struct imap_session *is, struct imap_command *c, const char *what)
{
	if (c->count != 0)
		return imap_bad(is, c->tag, "%s takes no arguments", what);
	if (is->state == IMAP_ST_SELECTED)
		imap_news(is, true);
	return imap_ok(is, c->tag, "%s completed", what);
}

/* UID FETCH, UID STORE, UID COPY, UID MOVE, UID SEARCH, UID SORT,
 * UID THREAD, UID EXPUNGE */
static enum fc_next
imap_uid(struct imap_session *is, struct imap_command *c)
{
	const char *sub;
	const struct imap_arg *args = c->args + 1;
	size_t n = c->count > 0 ? c->count - 1 : 0;

	if (c->count == 0 || c->args[0].type != IMAP_ARG_ATOM)
		return imap_bad(is, c->tag, "UID needs a command");
	sub = c->args[0].str;
	if (strcasecmp(sub, "FETCH") == 0)
		return imap_cmd_fetch(is, c, args, n, true);
	if (strcasecmp(sub, "STORE") == 0)
		return imap_cmd_store(is, c, args, n, true);
	if (strcasecmp(sub, "COPY") == 0)
		return imap_cmd_copy(is, c, args, n, true, false);
	if (strcasecmp(sub, "MOVE") == 0)
		return imap_cmd_copy(is, c, args, n, true, true);
	if (strcasecmp(sub, "SEARCH") == 0)
		return imap_cmd_search(is, c, args, n, true);
	if (strcasecmp(sub, "SORT") == 0)
		return imap_cmd_sort(is, c, args, n, true);
	if (strcasecmp(sub, "THREAD") == 0)
		return imap_cmd_thread(is, c, args, n, true);
	if (strcasecmp(sub, "EXPUNGE") == 0) {
		if (n != 1 || args[0].type != IMAP_ARG_ATOM)
			return imap_bad(is, c->tag, "UID EXPUNGE uid-set");
		return imap_cmd_expunge(is, c, &args[0]);
	}
	return imap_bad(is, c->tag, "Unknown UID command");
}

static const struct {
	const char *name;
	unsigned int states;		/* bit per enum imap_state */
} imap_commands[] = {
#define ANY	0x7
#define NOTAUTH	0x1
#define AUTHED	0x6
#define SELECTED 0x4
	{ "CAPABILITY", ANY }, { "NOOP", ANY }, { "LOGOUT", ANY },
	{ "ID", ANY },
	{ "STARTTLS", NOTAUTH }, { "LOGIN", NOTAUTH },
	{ "AUTHENTICATE", NOTAUTH },
	{ "ENABLE", AUTHED }, { "SELECT", AUTHED }, { "EXAMINE", AUTHED },
	{ "CREATE", AUTHED }, { "DELETE", AUTHED }, { "RENAME", AUTHED },
	{ "SUBSCRIBE", AUTHED }, { "UNSUBSCRIBE", AUTHED },
	{ "LIST", AUTHED }, { "LSUB", AUTHED }, { "NAMESPACE", AUTHED },
	{ "STATUS", AUTHED }, { "APPEND", AUTHED }, { "IDLE", AUTHED },
	{ "GETQUOTA", AUTHED }, { "GETQUOTAROOT", AUTHED },
	{ "SETQUOTA", AUTHED }, { "COMPRESS", AUTHED },
	{ "CHECK", SELECTED }, { "CLOSE", SELECTED }, { "UNSELECT", SELECTED },
	{ "EXPUNGE", SELECTED }, { "SEARCH", SELECTED },
	{ "SORT", SELECTED }, { "THREAD", SELECTED },
	{ "FETCH", SELECTED }, { "STORE", SELECTED }, { "COPY", SELECTED },
	{ "MOVE", SELECTED }, { "UID", SELECTED },
#undef ANY
#undef NOTAUTH
#undef AUTHED
#undef SELECTED
};

static enum fc_next
imap_dispatch(struct imap_session *is, struct imap_command *c)
{
	const char *n = c->name;
	size_t i;

	for (i = 0; i < sizeof(imap_commands) / sizeof(imap_commands[0]); i++)
		if (strcmp(imap_commands[i].name, n) == 0)
			break;
	if (i == sizeof(imap_commands) / sizeof(imap_commands[0]))
		return imap_bad(is, c->tag, "Unknown command %.40s", n);
	if (!(imap_commands[i].states & (1u << is->state))) {
		if (is->state == IMAP_ST_NOTAUTH)
			return imap_bad(is, c->tag, "Log in first");
		if (is->state == IMAP_ST_AUTH
		    && (imap_commands[i].states & (1u << IMAP_ST_SELECTED)))
			return imap_bad(is, c->tag, "Select a mailbox first");
		return imap_bad(is, c->tag, "Already logged in");
	}
	if (strcmp(n, "CAPABILITY") == 0)
		return imap_cmd_capability(is, c);
	if (strcmp(n, "NOOP") == 0)
		return imap_noop(is, c, "NOOP");
	if (strcmp(n, "CHECK") == 0)
		return imap_noop(is, c, "CHECK");
	if (strcmp(n, "LOGOUT") == 0)
		return imap_logout(is, c);
	if (strcmp(n, "ID") == 0)
		return imap_cmd_id(is, c);
	if (strcmp(n, "STARTTLS") == 0)
		return imap_cmd_starttls(is, c);
	if (strcmp(n, "LOGIN") == 0)
		return imap_cmd_login(is, c);
	if (strcmp(n, "AUTHENTICATE") == 0)
		return imap_cmd_authenticate(is, c);
	if (strcmp(n, "ENABLE") == 0)
		return imap_cmd_enable(is, c);
	if (strcmp(n, "SELECT") == 0)
		return imap_cmd_select(is, c, false);
	if (strcmp(n, "EXAMINE") == 0)
		return imap_cmd_select(is, c, true);
	if (strcmp(n, "CREATE") == 0)
		return imap_cmd_create(is, c);
	if (strcmp(n, "DELETE") == 0)
		return imap_cmd_delete(is, c);
	if (strcmp(n, "RENAME") == 0)
		return imap_cmd_rename(is, c);
	if (strcmp(n, "SUBSCRIBE") == 0)
		return imap_cmd_subscribe(is, c, true);
	if (strcmp(n, "UNSUBSCRIBE") == 0)
		return imap_cmd_subscribe(is, c, false);
	if (strcmp(n, "LIST") == 0)
		return imap_cmd_list(is, c, false);
	if (strcmp(n, "LSUB") == 0)
		return imap_cmd_list(is, c, true);
	if (strcmp(n, "NAMESPACE") == 0)
		return imap_cmd_namespace(is, c);
	if (strcmp(n, "STATUS") == 0)
		return imap_cmd_status(is, c);
	if (strcmp(n, "APPEND") == 0)
		/* an APPEND always has its message literal, taken apart in
		 * imap_line(): one reaching here has none */
		return imap_bad(is, c->tag, "APPEND mailbox [(flags)] "
		    "[date] {size}");
	if (strcmp(n, "IDLE") == 0)
		return imap_cmd_idle(is, c);
	if (strcmp(n, "GETQUOTA") == 0 || strcmp(n, "GETQUOTAROOT") == 0
	    || strcmp(n, "SETQUOTA") == 0)
		return imap_cmd_quota(is, c);
	if (strcmp(n, "COMPRESS") == 0)
		return imap_cmd_compress(is, c);
	if (strcmp(n, "CLOSE") == 0)
		return imap_cmd_close(is, c, true);
	if (strcmp(n, "UNSELECT") == 0)
		return imap_cmd_close(is, c, false);
	if (strcmp(n, "EXPUNGE") == 0)
		return imap_cmd_expunge(is, c, NULL);
	if (strcmp(n, "SEARCH") == 0)
		return imap_cmd_search(is, c, c->args, c->count, false);
	if (strcmp(n, "SORT") == 0)
		return imap_cmd_sort(is, c, c->args, c->count, false);
	if (strcmp(n, "THREAD") == 0)
		return imap_cmd_thread(is, c, c->args, c->count, false);
	if (strcmp(n, "FETCH") == 0)
		return imap_cmd_fetch(is, c, c->args, c->count, false);
	if (strcmp(n, "STORE") == 0)
		return imap_cmd_store(is, c, c->args, c->count, false);
	if (strcmp(n, "COPY") == 0)
		return imap_cmd_copy(is, c, c->args, c->count, false, false);
	if (strcmp(n, "MOVE") == 0)
		return imap_cmd_copy(is, c, c->args, c->count, false, true);
	return imap_uid(is, c);
}

/* The command is whole: parse it and carry it out. */
static enum fc_next
imap_command_done(struct imap_session *is)
{
	struct imap_command c;
	const char *err = "Syntax error";
	enum fc_next next;

	if (is->cmd.len == 0) {
		imap_cmd_reset(is);
		return FC_NEXT_CONTINUE;	/* empty lines are ignored */
	}
	if (imap_parse_command(is->cmd.data, is->cmd.len,
	    is->arena, &c, &err) < 0) {
		imap_cmd_reset(is);
		return imap_bad(is, c.tag, "%s", err);
	}
	imap_cmd_reset(is);
	next = imap_dispatch(is, &c);
	return next;
}

/* A literal we will not read; code is the response code's word. */
static enum fc_next
imap_literal_refused_tag(struct imap_session *is, const char *tag,
    bool nonsync, const char *code, const char *why)
{
	if (!nonsync) {
		/* the client waits for "+": it sends no byte of it */
		return imap_no(is, tag, "[%s] %s", code, why);
	}
	/* the bytes are on their way: reading them all is what the limit
	 * is there to avoid */
	imap_bad(is, tag, "[%s] %s", code, why);
	imap_untagged(is, "BYE Non-synchronising literal refused: %s", why);
	fc_log_session(is->s, FC_LOG_INFO, "event=disconnect reason=\"%s\"",
	    why);
	is->state = IMAP_ST_LOGOUT;
	return FC_NEXT_CLOSE;
}

static enum fc_next
imap_literal_refused(struct imap_session *is, bool nonsync, const char *why)
{
	const char *tag = imap_gathered_tag(is);

	imap_cmd_reset(is);
	return imap_literal_refused_tag(is, tag, nonsync, "TOOBIG", why);
}

/* Is the command gathered so far, up to its literal, an APPEND? Then
 * the literal is its message, perhaps inside "UTF8 (" and ")" (RFC
 * 6855 4): *utf8_r says so. */
static bool
imap_is_append(struct imap_session *is, size_t upto, struct imap_command *c,
    bool *utf8_r)
{
	const char *err;
	const char *p = is->cmd.data;
	const char *sp = memchr(p, ' ', upto);

	*utf8_r = false;
	if (sp == NULL || (size_t)(p + upto - sp) < 8
	    || strncasecmp(sp + 1, "APPEND ", 7) != 0)
		return false;
	if (upto >= 7 && strncasecmp(p + upto - 7, " UTF8 (", 7) == 0) {
		*utf8_r = true;
		upto -= 6;
	}
	if (imap_parse_command(p, upto, is->arena, c, &err) < 0
	    || strcmp(c->name, "APPEND") != 0 || c->count < 1)
		return false;
	/* a literal8 before the message: gathered, then refused whole */
	for (size_t i = 0; i < c->count; i++)
		if (c->args[i].type == IMAP_ARG_LITERAL8)
			return false;
	return true;
}

/*
 * MULTIAPPEND (RFC 3502): after a message, the line goes on with the
 * next one's " [(flags)] [date] {size}". Its literal gets the checks of
 * the first: the size of the messages together, and their count.
 */
static enum fc_next
imap_append_more(struct imap_session *is, const char *line, size_t len)
{
	struct imap_append *ap = &is->append;
	const struct imap_conf *conf = is->conf;
	struct imap_command c;
	const char *err, *tag = ap->tag;
	bool nonsync = false, utf8 = false;
	uint64_t size = 0;
	size_t mlen = 0;
	char *opts;
	int r;

	r = imap_literal_marker(line, len, &size, &nonsync, &mlen);
	if (r > 0 && imap_literal_marker_binary(line, len, mlen))
		mlen++;
	/* this message too may come as UTF8 (~{n}) (RFC 6855 4) */
	if (r > 0 && len - mlen >= 7
	    && strncasecmp(line + len - mlen - 7, " UTF8 (", 7) == 0) {
		utf8 = true;
		mlen += 6;
	}
	if (r == 0 || line[0] != ' ') {
		imap_append_abort(is);
		is->input = IMAP_IN_COMMAND;
		return imap_bad(is, tag, "[CLIENTBUG] APPEND mailbox "
		    "[(flags)] [date] {size} ...: a message expected");
	}
	if (r < 0 || ap->total + size > conf->max_message) {
		imap_append_abort(is);
		is->input = IMAP_IN_COMMAND;
		if (r < 0)
			nonsync = len >= 2 && line[len - 2] == '+';
		return imap_literal_refused_tag(is, tag, nonsync, "TOOBIG",
		    "Messages too large");
	}
	if (ap->nheld + 2 > conf->max_append_messages) {
		imap_append_abort(is);
		is->input = IMAP_IN_COMMAND;
		return imap_literal_refused_tag(is, tag, nonsync, "LIMIT",
		    "Too many messages in one APPEND");
	}
	/* the options alone, parsed as a command of their own */
	opts = fc_arena_printf(is->arena, "x APPEND%.*s",
	    (int)(len - mlen), line);
	if (ap->failed) {
		/* an earlier message was refused: this one is dropped too */
		err = ap->error;
	} else if (imap_parse_command(opts, strlen(opts), is->arena, &c,
	    &err) < 0 || imap_append_next(is, &c, size, &err) < 0) {
		ap->failed = true;
		ap->error = err;
	}
	ap->utf8_data = utf8;
	if (ap->failed && !nonsync) {
		imap_append_abort(is);
		is->input = IMAP_IN_COMMAND;
		if (err == NULL)
			return imap_store_no(is, tag, "APPEND");
		return imap_no(is, tag, "%s", err);
	}
	if (!nonsync)
		fc_session_puts(is->s, "+ Ready for the message\r\n");
	if (size > 0)
		fc_session_read_bytes(is->s, size);
	else
		ap->spooled = true;
	return FC_NEXT_CONTINUE;
}

enum fc_next
imap_line(struct fc_session *s, char *line, size_t len)
{
	struct imap_session *is = imap_state(s);
	const struct imap_conf *conf = is->conf;
	struct imap_command c;
	uint64_t size;
	bool nonsync = false, utf8_data;
	size_t mlen;
	const char *err;
	int r;

	switch (is->input) {
	case IMAP_IN_SASL:
		return imap_sasl_line(is, line, len);
	case IMAP_IN_IDLE:
		return imap_idle_line(is, line, len);
	case IMAP_IN_APPEND:
		if (is->append.utf8_data) {
			/* UTF8 (~{n}...): the list closes after the message */
			if (len == 0 || line[0] != ')') {
				imap_append_abort(is);
				is->input = IMAP_IN_COMMAND;
				return imap_bad(is, is->append.tag, "APPEND "
				    "mailbox [(flags)] [date] UTF8 (~{size})");
			}
			line++;
			len--;
			is->append.utf8_data = false;
		}
		if (len == 0)
			return imap_append_finish(is);
		return imap_append_more(is, line, len);
	default:
		break;
	}
	if (is->cmd.len == 0)
		fc_arena_reset(is->arena);	/* the last command is over */
	if (is->cmd.len + len > conf->max_command) {
		r = imap_literal_marker(line, len, &size, &nonsync, &mlen);
		return imap_literal_refused(is, r != 0 && nonsync,
		    "Command too long");
	}
	imap_str_add(&is->cmd, line, len);
	r = imap_literal_marker(line, len, &size, &nonsync, &mlen);
	if (r == 0)
		return imap_command_done(is);
	if (r < 0) {
		nonsync = len >= 2 && line[len - 2] == '+';
		return imap_literal_refused(is, nonsync, "Literal too large");
	}
	/* "~{n}": a literal8 (RFC 3516), the same checks; the parser
	 * refuses it where only APPEND's message may be one */
	if (imap_literal_marker_binary(line, len, mlen))
		mlen++;
	if (imap_is_append(is, is->cmd.len - mlen, &c, &utf8_data)) {
		if (size > conf->max_message)
			return imap_literal_refused(is, nonsync,
			    "Message too large");
		imap_str_reset(&is->cmd);
		r = imap_append_prepare(is, &c, size, &err);
		is->append.utf8_data = utf8_data;
		if (r < 0) {
			if (!nonsync) {
				imap_cmd_reset(is);
				return imap_no(is, c.tag, "%s", err);
			}
			/* the message is on its way: read and drop it, and
			 * say NO at its end */
			is->append.failed = true;
			is->append.error = err;
		}
		if (!nonsync)
			fc_session_puts(s, "+ Ready for the message\r\n");
		is->input = IMAP_IN_APPEND;
		if (size > 0)
			fc_session_read_bytes(s, size);
		else
			is->append.spooled = true;
		return FC_NEXT_CONTINUE;
	}
	if (size > conf->max_literal)
		return imap_literal_refused(is, nonsync, "Literal too large");
	if (is->cmd.len + is->cmd_literals + size > conf->max_command)
		return imap_literal_refused(is, nonsync, "Command too long");
	if (!nonsync)
		fc_session_puts(s, "+ Ready for literal data\r\n");
	imap_str_add(&is->cmd, "\r\n", 2);
	is->cmd_literals += size;
	if (size > 0) {
		is->input = IMAP_IN_LITERAL;
		fc_session_read_bytes(s, size);
	}
	return FC_NEXT_CONTINUE;
}

enum fc_next
imap_bytes(struct fc_session *s, const char *data, size_t len, bool last)
{
	struct imap_session *is = imap_state(s);

	if (is->input == IMAP_IN_LITERAL) {
		imap_str_add(&is->cmd, data, len);
		if (last)
			is->input = IMAP_IN_COMMAND;
		return FC_NEXT_CONTINUE;
	}
	imap_append_scan(&is->append, data, len);
	if (is->append.ap != NULL && !is->append.failed
	    && fc_append_write(is->append.ap, data, len) < 0)
		is->append.failed = true;
	if (last)
		is->append.spooled = true;
	return FC_NEXT_CONTINUE;
}

enum fc_next
imap_line_too_long(struct fc_session *s)
{
	struct imap_session *is = imap_state(s);
	const char *tag = is->cmd.len > 0 ? imap_gathered_tag(is) : "*";

	switch (is->input) {
	case IMAP_IN_SASL:
		is->sasl = NULL;
		is->input = IMAP_IN_COMMAND;
		return imap_bad(is, is->sasl_tag, "Response too long");
	case IMAP_IN_APPEND:
		imap_append_abort(is);
		is->input = IMAP_IN_COMMAND;
		return imap_bad(is, is->append.tag, "Line too long");
	case IMAP_IN_IDLE:
		return FC_NEXT_CONTINUE;
	default:
		break;
	}
	imap_cmd_reset(is);
	return imap_bad(is, tag, "Line too long");
}

enum fc_next
imap_drained(struct fc_session *s)
{
	return imap_fetch_more(imap_state(s));
}

void
imap_timeout(struct fc_session *s)
{
	imap_untagged(imap_state(s), "BYE Autologout: idle for too long");
}

void
imap_stop(struct fc_session *s)
{
	imap_untagged(imap_state(s), "BYE [UNAVAILABLE] Server shutting "
	    "down");
}

void
imap_end(struct fc_session *s)
{
	struct imap_session *is = imap_state(s);

	if (is == NULL)
		return;
	imap_fetch_abort(is);
	imap_append_abort(is);
	imap_close_mailbox(is);
	if (is->store != NULL)
		fc_store_close(&is->store);
	imap_str_free(&is->cmd);
	imap_str_free(&is->out);
	fc_arena_free(&is->arena);
}
