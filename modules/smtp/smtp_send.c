/*
 * smtp_send.c - one outbound SMTP transaction: connect to the next hop
 * (trying its addresses in turn), EHLO, STARTTLS when offered, MAIL,
 * RCPT per recipient, DATA, and the message.
 *
 * To a next hop that announces DSN the sender's requests go on as they
 * came (RFC 3461 4: a relaying MTA passes them): RET and ENVID on MAIL,
 * NOTIFY and ORCPT on RCPT, xtext-encoded again. One that does not
 * announce it gets none of them.
 *
 * The message goes out as it is read from the queue file, a block at a
 * time as the socket drains: dot-stuffed, every line end made CRLF, and
 * lines longer than 998 bytes broken with CRLF and a space (RFC 5321
 * 4.5.3.1.6), as Postfix does, which keeps folded headers valid.
 *
 * A next hop that does not announce 8BITMIME gets 8-bit mail converted
 * first (smtp_7bit.c) into an unlinked file beside the queue's messages,
 * which this transaction sends instead; mail that cannot be converted
 * fails for its recipients with 554 5.6.3, so the sender hears of it.
 *
 * The result is per recipient: the reply code and text, or for trouble
 * with the connection itself a 4xx for all (the runner retries later).
 * Each reply must come within the timeout (RFC 5321 4.5.3.2 asks for
 * minutes; tests shorten it).
 *
 * After a transaction the connection is kept, idle, for POOL_IDLE_MS: the
 * next message for the same hop goes out on it without a new connection,
 * greeting and EHLO. A kept connection the server closed meanwhile is
 * noticed on first use, and the message then takes a fresh one.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/client.h>
#include <facteur/io.h>
#include <facteur/log.h>

#include "smtp.h"
#include "smtp_7bit.h"
#include "smtp_queue.h"
#include "smtp_send.h"

#define SEND_LINE_MAX		998	/* without CRLF */
#define SEND_REPLY_MAX		4096
#define SEND_BLOCK		16384
#define POOL_IDLE_MS		5000
#define POOL_MAX		50

/* An idle connection, ready for MAIL. */
struct pool_entry {
	char key[128];
	struct fc_client *c;
	bool tls, eightbit, smtputf8, size_ext, pipelining, dsn;
	struct fc_alarm *alarm;
	struct pool_entry *next;
};

static struct pool_entry *pool;
static unsigned int pool_count;

enum send_state {
	SEND_CONNECT = 0,
	SEND_GREETING,
	SEND_EHLO,
	SEND_HELO,
	SEND_STARTTLS,
	SEND_TLS,
	SEND_MAIL,
	SEND_RCPT,
	SEND_DATA,
	SEND_BODY,
	SEND_DOT,
	SEND_RSET,
	SEND_QUIT,
};

static void send_next_address(struct smtp_send *t, const char *why);
static void send_command(struct smtp_send *t);
static void pool_put(struct smtp_send *t);

static const struct fc_client_ops send_client_ops;

static void
send_done(struct smtp_send *t)
{
	if (t->fd >= 0) {
		close(t->fd);
		t->fd = -1;
	}
	t->done(t, t->arg);
}

/* Every recipient not answered yet gets this (a 4xx or 5xx). */
static void
send_fail_rest(struct smtp_send *t, int code, const char *text)
{
	size_t i;

	for (i = 0; i < t->nrcpts; i++) {
		if (t->codes[i] != 0)
			continue;
		t->codes[i] = code;
		snprintf(t->texts[i], sizeof(t->texts[i]), "%.255s", text);
	}
}

/* ------------------------------------------------------------------ */
/* The message, dot-stuffed, CRLF, lines at most 998 bytes */

static void
send_put(struct smtp_send *t, const char *data, size_t len)
{
	char out[SEND_BLOCK * 2 + 16];
	size_t o = 0, i;

	for (i = 0; i < len; i++) {
		char c = data[i];

		if (o > sizeof(out) - 8) {
			fc_client_write(t->c, out, o);
			o = 0;
		}
		if (c == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
			t->bol = true;
			t->linelen = 0;
			t->cr = false;
			continue;
		}
		if (t->cr) {
			/* a CR not before LF stays in the line */
			out[o++] = '\r';
			t->linelen++;
			t->cr = false;
		}
		if (c == '\r') {
			t->cr = true;
			continue;
		}
		if (t->linelen >= SEND_LINE_MAX) {
			out[o++] = '\r';
			out[o++] = '\n';
			out[o++] = ' ';
			t->linelen = 1;
			t->bol = false;
		}
		if (t->bol && c == '.')
			out[o++] = '.';
		out[o++] = c;
		t->bol = false;
		t->linelen++;
	}
	if (o > 0)
		fc_client_write(t->c, out, o);
}

static void
send_body(struct smtp_send *t)
{
	char buf[SEND_BLOCK];
	ssize_t n;

	while (!fc_client_output_full(t->c)) {
		n = pread(t->fd, buf, sizeof(buf), t->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			send_fail_rest(t, 451, "4.3.0 cannot read the queued "
			    "message");
			fc_client_close(&t->c);
			send_done(t);
			return;
		}
		if (n == 0) {
			if (t->cr)
				send_put(t, "\n", 1);
			if (!t->bol)
				fc_client_write(t->c, "\r\n", 2);
			fc_client_write(t->c, ".\r\n", 3);
			t->state = SEND_DOT;
			return;
		}
		t->off += n;
		send_put(t, buf, (size_t)n);
	}
	fc_client_want_drained(t->c);
}

static void
send_drained(struct fc_client *c, void *arg)
{
	struct smtp_send *t = arg;

	(void)c;
	if (t->state == SEND_BODY)
		send_body(t);
}

/* ------------------------------------------------------------------ */
/* Replies */

static void
send_parse_ehlo(struct smtp_send *t, const char *line)
{
	const char *kw = line + 4;

	if (strncasecmp(kw, "STARTTLS", 8) == 0)
		t->starttls = true;
	else if (strncasecmp(kw, "8BITMIME", 8) == 0)
		t->eightbit = true;
	else if (strncasecmp(kw, "SMTPUTF8", 8) == 0)
		t->smtputf8 = true;
	else if (strncasecmp(kw, "SIZE", 4) == 0)
		t->size_ext = true;
	else if (strncasecmp(kw, "PIPELINING", 10) == 0)
		t->pipelining = true;
	else if (strncasecmp(kw, "DSN", 3) == 0
	    && (kw[3] == '\0' || kw[3] == ' '))
		t->dsn = true;
}

/* RFC 3461 4: xtext, "+XX" for '+', '=' and all but printable ASCII. */
static const char *
send_xtext(struct fc_arena *a, const char *in)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = fc_arena_alloc(a, strlen(in) * 3 + 1), *o = out;

	for (; *in != '\0'; in++) {
		unsigned char c = (unsigned char)*in;

		if (c < 33 || c > 126 || c == '+' || c == '=') {
			*o++ = '+';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 0x0f];
		} else
			*o++ = (char)c;
	}
	*o = '\0';
	return out;
}

/* " RET=... ENVID=..." for MAIL, or "". */
static const char *
send_mail_dsn(struct smtp_send *t)
{
	const char *out = "";

	if (!t->dsn)
		return "";
	if (t->ret != 0)
		out = t->ret == SMTP_DSN_RET_HDRS ? " RET=HDRS" : " RET=FULL";
	if (t->envid != NULL)
		out = fc_arena_printf(t->arena, "%s ENVID=%s", out,
		    send_xtext(t->arena, t->envid));
	return out;
}

/* " NOTIFY=... ORCPT=rfc822;..." for recipient i's RCPT, or "". */
static const char *
send_rcpt_dsn(struct smtp_send *t, size_t i)
{
	unsigned int n = t->notify != NULL ? t->notify[i] : 0;
	const char *orcpt = t->orcpts != NULL ? t->orcpts[i] : NULL, *p;
	const char *out = "";

	if (!t->dsn)
		return "";
	if (n & SMTP_NOTIFY_NEVER)
		out = " NOTIFY=NEVER";
	else if (n != 0)
		out = fc_arena_printf(t->arena, " NOTIFY=%s%s%s%s%s",
		    n & SMTP_NOTIFY_SUCCESS ? "SUCCESS" : "",
		    (n & SMTP_NOTIFY_SUCCESS) && (n & (SMTP_NOTIFY_FAILURE |
		    SMTP_NOTIFY_DELAY)) ? "," : "",
		    n & SMTP_NOTIFY_FAILURE ? "FAILURE" : "",
		    (n & SMTP_NOTIFY_FAILURE) && (n & SMTP_NOTIFY_DELAY) ?
		    "," : "",
		    n & SMTP_NOTIFY_DELAY ? "DELAY" : "");
	/* an rfc822 address is ASCII; a non-ASCII one would need RFC
	 * 6533's utf-8 type, and ORCPT is optional: leave it out */
	for (p = orcpt; p != NULL && *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			orcpt = NULL;
	if (orcpt != NULL)
		out = fc_arena_printf(t->arena, "%s ORCPT=rfc822;%s", out,
		    send_xtext(t->arena, orcpt));
	return out;
}

static int
send_7bit_write(void *arg, const char *data, size_t len)
{
	int fd = *(int *)arg;
	ssize_t n;

	while (len > 0) {
		n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * For a next hop without 8BITMIME: the message as it is (7-bit), or its
 * 7-bit form in a new unlinked file that replaces t->fd. NULL, or the
 * reply for every recipient when that cannot be.
 */
static const char *
send_make_7bit(struct smtp_send *t)
{
	enum smtp_7bit_result r = SMTP_7BIT_ERROR;
	const char *why = NULL, *reply;
	struct stat st;
	char *dir;
	void *map = MAP_FAILED;
	int fd = -1;

	t->converted = true;
	if (fstat(t->fd, &st) < 0)
		return "451 4.3.0 cannot read the queued message";
	if (st.st_size == 0)
		return NULL;
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, t->fd, 0);
	if (map == MAP_FAILED)
		return "451 4.3.0 cannot read the queued message";
	dir = fc_arena_printf(t->arena, "%s/msg", t->dir);
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0) {
		/* a file system without O_TMPFILE: a name, gone at once */
		char *tmp = fc_arena_printf(t->arena, "%s/.7bit.XXXXXX", dir);

		fd = mkostemp(tmp, O_CLOEXEC);
		if (fd >= 0)
			unlink(tmp);
	}
	if (fd >= 0)
		r = smtp_7bit_convert(map, (size_t)st.st_size,
		    send_7bit_write, &fd, &why);
	munmap(map, (size_t)st.st_size);
	switch (r) {
	case SMTP_7BIT_ASIS:
		close(fd);
		return NULL;
	case SMTP_7BIT_CONVERTED:
		if (fstat(fd, &st) < 0)
			break;
		close(t->fd);
		t->fd = fd;
		t->size = (uint64_t)st.st_size;
		snprintf(t->size_param, sizeof(t->size_param), " SIZE=%llu",
		    (unsigned long long)t->size);
		fc_log(FC_LOG_INFO, "smtp-queue id=%s event=7bit size=%llu",
		    t->id, (unsigned long long)t->size);
		return NULL;
	case SMTP_7BIT_CANNOT:
		reply = fc_arena_printf(t->arena, "554 5.6.3 the next hop "
		    "does not take 8-bit mail (no 8BITMIME) and the message "
		    "cannot be converted: %s", why);
		close(fd);
		return reply;
	default:
		break;
	}
	if (fd >= 0)
		close(fd);
	return "451 4.3.0 cannot convert the message to 7 bits";
}

/* Fails every recipient with a reply "CODE TEXT" and leaves. */
static void
send_give_up(struct smtp_send *t, const char *reply)
{
	send_fail_rest(t, atoi(reply), reply + 4);
	t->state = SEND_QUIT;
	fc_client_printf(t->c, "QUIT\r\n");
}

/* The session is set up: the transaction's first command. */
static void
send_begin(struct smtp_send *t)
{
	const char *reply;

	if (t->need_utf8 && !t->smtputf8) {
		send_give_up(t, "553 5.6.7 the next hop does not take "
		    "non-ASCII addresses (no SMTPUTF8)");
		return;
	}
	if (!t->eightbit && !t->converted
	    && (reply = send_make_7bit(t)) != NULL) {
		send_give_up(t, reply);
		return;
	}
	t->state = SEND_MAIL;
	send_command(t);
}

static void
send_reply(struct smtp_send *t, int code, const char *text)
{
	switch (t->state) {
	case SEND_GREETING:
		if (code != 220) {
			send_next_address(t, text);
			return;
		}
		t->state = SEND_EHLO;
		break;
	case SEND_EHLO:
		if (code / 100 == 5) {
			t->state = SEND_HELO;	/* an old server */
			break;
		}
		if (code != 250) {
			send_next_address(t, text);
			return;
		}
		if (t->starttls && t->tls_wanted
		    && !fc_client_tls_active(t->c)) {
			t->state = SEND_STARTTLS;
			break;
		}
		send_begin(t);
		return;
	case SEND_HELO:
		if (code != 250) {
			send_next_address(t, text);
			return;
		}
		send_begin(t);
		return;
	case SEND_STARTTLS:
		if (code != 220) {
			/* opportunistic: go on without */
			t->tls_wanted = false;
			send_begin(t);
			return;
		}
		t->state = SEND_TLS;
		if (fc_client_starttls(t->c, t->hostname) < 0) {
			send_next_address(t, "cannot start TLS");
			return;
		}
		return;
	case SEND_MAIL:
		if (code / 100 != 2) {
			send_fail_rest(t, code, text);
			t->state = SEND_RSET;
			break;
		}
		t->rcpt_i = 0;
		t->state = SEND_RCPT;
		break;
	case SEND_RCPT:
		/* the answer for the recipient just sent */
		if (code / 100 == 2)
			t->accepted++;
		else {
			t->codes[t->rcpt_i] = code;
			snprintf(t->texts[t->rcpt_i], sizeof(t->texts[0]), "%.255s",
			    text);
		}
		t->rcpt_i++;
		if (t->rcpt_i < t->nrcpts)
			break;
		if (t->accepted == 0) {
			t->state = SEND_RSET;
			break;
		}
		t->state = SEND_DATA;
		break;
	case SEND_DATA:
		if (code != 354) {
			send_fail_rest(t, code, text);
			t->state = SEND_RSET;
			break;
		}
		t->state = SEND_BODY;
		t->off = 0;
		t->bol = true;
		t->linelen = 0;
		t->cr = false;
		send_put(t, t->headers, strlen(t->headers));
		send_body(t);
		return;
	case SEND_DOT:
		/* the same answer for every recipient the server took */
		send_fail_rest(t, code, text);
		t->delivered = code / 100 == 2;
		/* the session is ready for the next MAIL: keep it */
		pool_put(t);
		send_done(t);
		return;
	case SEND_RSET:
	case SEND_QUIT:
		fc_client_close(&t->c);
		send_done(t);
		return;
	default:
		return;
	}
	send_command(t);
}

static void
send_command(struct smtp_send *t)
{
	switch (t->state) {
	case SEND_EHLO:
		fc_client_printf(t->c, "EHLO %s\r\n", t->helo);
		break;
	case SEND_HELO:
		fc_client_printf(t->c, "HELO %s\r\n", t->helo);
		break;
	case SEND_STARTTLS:
		fc_client_printf(t->c, "STARTTLS\r\n");
		break;
	case SEND_MAIL:
		fc_client_printf(t->c, "MAIL FROM:<%s>%s%s%s%s\r\n", t->sender,
		    t->eightbit ? " BODY=8BITMIME" : "",
		    t->need_utf8 ? " SMTPUTF8" : "",
		    t->size_ext ? t->size_param : "", send_mail_dsn(t));
		break;
	case SEND_RCPT:
		fc_client_printf(t->c, "RCPT TO:<%s>%s\r\n",
		    t->rcpts[t->rcpt_i], send_rcpt_dsn(t, t->rcpt_i));
		break;
	case SEND_DATA:
		fc_client_printf(t->c, "DATA\r\n");
		break;
	case SEND_RSET:
	case SEND_QUIT:
		fc_client_printf(t->c, "QUIT\r\n");
		break;
	default:
		break;
	}
}

static void
send_line(struct fc_client *c, char *line, size_t len, void *arg)
{
	struct smtp_send *t = arg;
	int code;

	(void)c;
	if (len < 3 || !isdigit((unsigned char)line[0])
	    || !isdigit((unsigned char)line[1])
	    || !isdigit((unsigned char)line[2])
	    || (len > 3 && line[3] != ' ' && line[3] != '-')) {
		send_next_address(t, "the server does not speak SMTP");
		return;
	}
	if (t->state == SEND_EHLO && len > 4)
		send_parse_ehlo(t, line);
	if (len > 3 && line[3] == '-')
		return;		/* more lines to come */
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	snprintf(t->reply, sizeof(t->reply), "%s", len > 4 ? line + 4 : "");
	send_reply(t, code, t->reply);
}

static void
send_connected(struct fc_client *c, void *arg)
{
	struct smtp_send *t = arg;

	(void)c;
	t->state = SEND_GREETING;
	fc_log(FC_LOG_DEBUG, "smtp-queue id=%s event=connect peer=%s",
	    t->id, t->names[t->cur]);
}

static void
send_tls_done(struct fc_client *c, bool ok, void *arg)
{
	struct smtp_send *t = arg;

	if (!ok) {
		/* the server said yes and then failed: the next address, or
		 * later (the connection is gone either way) */
		return;
	}
	fc_log(FC_LOG_DEBUG, "smtp-queue id=%s event=tls version=%s",
	    t->id, fc_client_tls_version(c));
	t->starttls = false;
	t->eightbit = t->smtputf8 = t->size_ext = t->pipelining = false;
	t->dsn = false;
	t->state = SEND_EHLO;	/* RFC 3207 4.2: EHLO again */
	send_command(t);
}

static void
send_error(struct fc_client *c, const char *reason, void *arg)
{
	struct smtp_send *t = arg;

	(void)c;
	t->c = NULL;		/* gone */
	if (t->state == SEND_QUIT || t->state == SEND_RSET) {
		send_done(t);	/* the answers are in */
		return;
	}
	if (t->reused && t->state == SEND_MAIL) {
		/* a kept connection the server had closed: a fresh one */
		t->reused = false;
		t->cur = (size_t)-1;
		send_next_address(t, NULL);
		return;
	}
	if (t->state >= SEND_MAIL) {
		/* mid-transaction: nothing was accepted for good */
		char text[256];

		snprintf(text, sizeof(text), "4.4.2 %s", reason);
		send_fail_rest(t, 451, text);
		send_done(t);
		return;
	}
	send_next_address(t, reason);
}

static const struct fc_client_ops send_client_ops = {
	.size = sizeof(struct fc_client_ops),
	.connected = send_connected,
	.line = send_line,
	.drained = send_drained,
	.tls_done = send_tls_done,
	.error = send_error,
};

/* Tries the next address of the hop; when none is left, all waits. */
static void
send_next_address(struct smtp_send *t, const char *why)
{
	if (t->c != NULL)
		fc_client_close(&t->c);
	if (t->cur < t->naddrs)
		fc_log(FC_LOG_INFO, "smtp-queue id=%s event=try-next peer=%s "
		    "reason=\"%s\"", t->id, t->names[t->cur], why);
	for (t->cur++; t->cur < t->naddrs; t->cur++) {
		t->state = SEND_CONNECT;
		t->starttls = t->eightbit = t->smtputf8 = false;
		t->size_ext = t->pipelining = t->dsn = false;
		t->tls_wanted = t->conf_tls;
		t->c = fc_client_connect((struct sockaddr *)&t->addrs[t->cur],
		    t->addrlens[t->cur], t->timeout, SEND_REPLY_MAX,
		    &send_client_ops, t);
		if (t->c != NULL)
			return;
	}
	{
		char text[256];

		/* our own reason: give it an enhanced status code */
		snprintf(text, sizeof(text), "4.4.1 %s", why != NULL ? why :
		    "cannot connect");
		send_fail_rest(t, 451, text);
	}
	send_done(t);
}

/* ------------------------------------------------------------------ */
/* Kept connections */

static void
pool_remove(struct pool_entry *p)
{
	struct pool_entry **pp;

	for (pp = &pool; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			pool_count--;
			break;
		}
	}
	fc_alarm_cancel(&p->alarm);
	free(p);
}

static void
pool_line(struct fc_client *c, char *line, size_t len, void *arg)
{
	struct pool_entry *p = arg;

	/* an idle server says something: its goodbye (421) */
	(void)line;
	(void)len;
	fc_client_close(&c);
	pool_remove(p);
}

static void
pool_error(struct fc_client *c, const char *reason, void *arg)
{
	(void)c;
	(void)reason;
	pool_remove(arg);
}

static const struct fc_client_ops pool_client_ops = {
	.size = sizeof(struct fc_client_ops),
	.line = pool_line,
	.error = pool_error,
};

static void
pool_expire(void *arg)
{
	struct pool_entry *p = arg;

	p->alarm = NULL;
	fc_client_printf(p->c, "QUIT\r\n");
	fc_client_close(&p->c);
	pool_remove(p);
}

static void
pool_put(struct smtp_send *t)
{
	struct pool_entry *p;

	if (t->pool_key == NULL || pool_count >= POOL_MAX) {
		t->state = SEND_QUIT;
		fc_client_printf(t->c, "QUIT\r\n");
		fc_client_close(&t->c);
		return;
	}
	p = fc_calloc(1, sizeof(*p));
	snprintf(p->key, sizeof(p->key), "%s", t->pool_key);
	p->c = t->c;
	p->tls = fc_client_tls_active(t->c);
	p->eightbit = t->eightbit;
	p->smtputf8 = t->smtputf8;
	p->size_ext = t->size_ext;
	p->pipelining = t->pipelining;
	p->dsn = t->dsn;
	t->c = NULL;
	fc_client_set_arg(p->c, &pool_client_ops, p);
	fc_client_set_timeout(p->c, POOL_IDLE_MS + 1000);
	p->alarm = fc_alarm_add(POOL_IDLE_MS, pool_expire, p);
	p->next = pool;
	pool = p;
	pool_count++;
}

/* A kept connection for this hop, taken out of the pool, or false. */
static bool
pool_take(struct smtp_send *t)
{
	struct pool_entry *p;

	if (t->pool_key == NULL)
		return false;
	for (p = pool; p != NULL; p = p->next)
		if (strcmp(p->key, t->pool_key) == 0)
			break;
	if (p == NULL)
		return false;
	t->c = p->c;
	t->eightbit = p->eightbit;
	t->smtputf8 = p->smtputf8;
	t->size_ext = p->size_ext;
	t->pipelining = p->pipelining;
	t->dsn = p->dsn;
	t->starttls = false;
	t->reused = true;
	p->c = NULL;
	pool_remove(p);
	fc_client_set_arg(t->c, &send_client_ops, t);
	fc_client_set_timeout(t->c, t->timeout);
	fc_log(FC_LOG_DEBUG, "smtp-queue id=%s event=reuse key=%s", t->id,
	    t->pool_key);
	return true;
}

void
smtp_send_start(struct smtp_send *t)
{
	t->cur = (size_t)-1;
	t->fd = -1;
	snprintf(t->size_param, sizeof(t->size_param), " SIZE=%llu",
	    (unsigned long long)t->size);
	t->codes = fc_arena_alloc(t->arena, t->nrcpts * sizeof(*t->codes));
	t->texts = fc_arena_alloc(t->arena, t->nrcpts * sizeof(*t->texts));
	t->fd = smtp_queue_open_message(t->arena, t->dir, t->id);
	if (t->fd < 0) {
		send_fail_rest(t, 451, "4.3.0 the queued message is missing");
		send_done(t);
		return;
	}
	if (pool_take(t)) {
		send_begin(t);
		return;
	}
	send_next_address(t, NULL);
}
