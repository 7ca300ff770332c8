/*
 * smtp_data.c - the message: DATA and BDAT, the checks at its end, the
 * filters' verdict, and delivery.
 *
 * The body goes to an anonymous spool file as it arrives (line ends made
 * CRLF, dot-stuffing undone); nothing of it is held in memory. Our
 * choices where RFC 5321 leaves some: a bare LF is accepted and made
 * CRLF (as Postfix's default does); lines over 1,000 bytes are accepted
 * and kept as they are for local delivery; NUL bytes are refused
 * (reject_nul), since IMAP clients cannot take them.
 *
 * Local recipients are delivered before the reply, each user once
 * however many RCPTs or aliases lead to it. Over SMTP the others, and
 * local ones whose delivery failed, are put in the outbound queue, so
 * 250 means the message is on stable storage in every mailbox or in the
 * queue; when no recipient could take it at all, the reply says so
 * (452 for a full mailbox) and nothing is queued, so the client keeps
 * the message and no report goes to a sender who may be forged. LMTP
 * never queues: it answers once per accepted RCPT, in RCPT order (RFC
 * 2033 4.2), with the combined result of that RCPT's recipients.
 *
 * A recipient stored here that asked for NOTIFY=SUCCESS gets its
 * "delivered" report made now (over SMTP once the rest is queued), one
 * report for all of them; those queued are reported by the queue.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/auth.h>
#include <facteur/deliver.h>
#include <facteur/envelope.h>
#include <facteur/hook.h>
#include <facteur/log.h>
#include <facteur/session.h>

#include "smtp.h"
#include "smtp_queue.h"

/* NULL when a message may start (or go on), else the refusal. */
static const char *
data_not_ready(const struct smtp_session *ss)
{
	if (ss->state == SMTP_ST_RCPT || ss->state == SMTP_ST_BDAT)
		return NULL;
	if (ss->state == SMTP_ST_MAIL)
		return "554 5.5.1 Error: no valid recipients";
	return "503 5.5.1 Error: need RCPT command";
}

enum fc_next
smtp_cmd_data(struct smtp_session *ss, char *arg)
{
	const char *refusal;

	if (arg != NULL)
		return smtp_error(ss, "501 5.5.4 Syntax: DATA");
	if (ss->state == SMTP_ST_BDAT)
		return smtp_error(ss, "503 5.5.1 Error: DATA in the middle of "
		    "BDAT");
	if ((refusal = data_not_ready(ss)) != NULL)
		return smtp_error(ss, "%s", refusal);
	ss->spool_fd = smtp_spool_open(ss);
	if (ss->spool_fd < 0) {
		fc_log_session(ss->s, FC_LOG_ERROR, "event=error id=%s "
		    "reason=\"spool: %s\"", ss->id, strerror(errno));
		smtp_reply(ss, "451 4.3.0 Error: cannot store the message now");
		smtp_transaction_reset(ss);
		return FC_NEXT_CONTINUE;
	}
	smtp_reply(ss, "354 End data with <CR><LF>.<CR><LF>");
	fc_session_spool_dot(ss->s, ss->spool_fd, ss->conf->max_message_size,
	    FC_EOL_CRLF);
	return FC_NEXT_CONTINUE;
}

/*
 * A BDAT we refuse still has its chunk right behind it (RFC 3030 2: the
 * client does not wait, and with PIPELINING cannot know that its RCPTs
 * failed). The chunk is read and dropped, then the refusal is written;
 * were it not read, its bytes would run as commands.
 */
static enum fc_next
data_bdat_refuse(struct smtp_session *ss, uint64_t n, const char *refusal)
{
	if (n == 0)
		return smtp_error(ss, "%s", refusal);
	ss->bdat_refusal = refusal;
	fc_session_read_bytes(ss->s, n);
	return FC_NEXT_CONTINUE;
}

/* The bytes of a refused chunk (fc_session_read_bytes()). */
enum fc_next
smtp_bytes(struct fc_session *s, const char *data, size_t len, bool last)
{
	struct smtp_session *ss = fc_session_data(s);
	const char *refusal = ss->bdat_refusal;

	(void)data;
	(void)len;
	if (!last || refusal == NULL)
		return FC_NEXT_CONTINUE;
	ss->bdat_refusal = NULL;
	return smtp_error(ss, "%s", refusal);
}

enum fc_next
smtp_cmd_bdat(struct smtp_session *ss, char *arg)
{
	unsigned long long n;
	const char *refusal;
	char *end, *last;

	if (arg == NULL || *arg < '0' || *arg > '9')
		return smtp_error(ss, "501 5.5.4 Syntax: BDAT size [LAST]");
	errno = 0;
	n = strtoull(arg, &end, 10);
	if (errno != 0 || (*end != '\0' && *end != ' '))
		return smtp_error(ss, "501 5.5.4 Syntax: BDAT size [LAST]");
	last = end;
	while (*last == ' ')
		last++;
	/* with its size known, even a bad BDAT has a chunk to skip */
	if (*last != '\0' && strcasecmp(last, "LAST") != 0)
		return data_bdat_refuse(ss, n, "501 5.5.4 Syntax: BDAT size "
		    "[LAST]");
	if ((refusal = data_not_ready(ss)) != NULL)
		return data_bdat_refuse(ss, n, refusal);
	if (ss->state != SMTP_ST_BDAT) {
		ss->spool_fd = smtp_spool_open(ss);
		ss->bdat_size = 0;
		ss->bdat_nul = false;
		ss->bdat_failed = ss->spool_fd < 0;
		ss->state = SMTP_ST_BDAT;
	}
	ss->bdat_last = *last != '\0';
	/* RFC 3030: the chunk is read whatever we think of it */
	if (n > ss->conf->max_message_size
	    || ss->bdat_size + n > ss->conf->max_message_size)
		ss->bdat_failed = true;
	ss->bdat_size += n;
	if (n == 0) {
		struct fc_spool_result r = { 0 };

		return smtp_spooled(ss->s, &r);
	}
	/* a refused message still has its bytes read, into nowhere */
	if (ss->bdat_failed && ss->spool_fd >= 0) {
		close(ss->spool_fd);
		ss->spool_fd = -1;
	}
	if (ss->spool_fd < 0)
		ss->spool_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	fc_session_spool_bytes(ss->s, n, ss->spool_fd);
	return FC_NEXT_CONTINUE;
}

/* ------------------------------------------------------------------ */
/* Received and the filters' header fields */

static const char *
data_protocol(struct smtp_session *ss)
{
	static const char *const names[] = {
		"SMTP", "ESMTP", "ESMTPS", "ESMTPA", "ESMTPSA",
	};
	bool tls = fc_session_tls_active(ss->s);
	bool auth = fc_session_user(ss->s) != NULL;

	if (ss->kind == SMTP_KIND_LMTP)
		return "LMTP";
	if (!ss->esmtp)
		return tls ? "SMTPS" : names[0];
	return names[1 + (tls ? 1 : 0) + (auth ? 2 : 0)];
}

/* A value safe inside a header field: no line breaks, no controls. */
static char *
data_clean(struct fc_arena *a, const char *s, size_t max)
{
	size_t n = strlen(s), i;
	char *out;

	if (n > max)
		n = max;
	out = fc_arena_strndup(a, s, n);
	for (i = 0; i < n; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			out[i] = ' ';
	return out;
}

static bool
data_field_name(const char *name)
{
	if (*name == '\0' || strlen(name) > 64)
		return false;
	for (; *name != '\0'; name++)
		if ((unsigned char)*name <= ' ' || (unsigned char)*name > '~'
		    || *name == ':')
			return false;
	return true;
}

static char *
data_headers(struct smtp_session *ss, struct fc_arena *a, const char *rcpt)
{
	struct fc_session *s = ss->s;
	const char *name, *value, *tls = "";
	char date[64];
	size_t i;
	time_t now = time(NULL);
	struct tm tm;
	char *out;

	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	if (fc_session_tls_active(s))
		tls = fc_arena_printf(a, "\r\n\t(using %s with cipher %s)",
		    fc_session_tls_version(s), fc_session_tls_cipher(s));
	out = fc_arena_printf(a, "Received: from %s ([%s])%s\r\n"
	    "\tby %s (facteur) with %s id %s%s%s%s;\r\n\t%s\r\n",
	    data_clean(a, ss->helo != NULL ? ss->helo : "unknown", 255),
	    fc_session_peer_ip(s), tls, smtp_hostname(ss), data_protocol(ss),
	    ss->id, rcpt != NULL ? "\r\n\tfor <" : "",
	    rcpt != NULL ? data_clean(a, rcpt, 256) : "",
	    rcpt != NULL ? ">" : "", date);
	for (i = 0; fc_envelope_header_at(ss->env, i, &name, &value); i++) {
		if (!data_field_name(name))
			continue;
		out = fc_arena_printf(a, "%s%s: %s\r\n", out, name,
		    data_clean(a, value, 4000));
	}
	return out;
}

/* ------------------------------------------------------------------ */
/* Delivery */

static void
data_log_delivery(struct smtp_session *ss, struct fc_arena *a,
    const struct smtp_rcpt *rc, enum fc_deliver_result r, const char *err)
{
	fc_log_session(ss->s, r == FC_DELIVER_OK ? FC_LOG_INFO :
	    FC_LOG_NOTICE, "event=deliver id=%s rcpt=<%s> user=\"%s\" "
	    "result=%s %s=\"%s\"", ss->id,
	    fc_log_quote(a, rc->address, 256), fc_log_quote(a, rc->user, 256),
	    r == FC_DELIVER_OK ? "ok" : "fail",
	    r == FC_DELIVER_OK ? "folder" : "reason",
	    fc_log_quote(a, err, 200));
}

static const char *
data_deliver_reply(enum fc_deliver_result r)
{
	switch (r) {
	case FC_DELIVER_OK:
		return "250 2.0.0";
	case FC_DELIVER_NOUSER:
		return "550 5.1.1";
	case FC_DELIVER_OVERQUOTA:
		return "452 4.2.2";
	case FC_DELIVER_PERMFAIL:
		return "554 5.3.4";
	default:
		return "451 4.3.0";
	}
}

/* What delivery did for one recipient. */
struct data_result {
	enum fc_deliver_result r;
	const char *text;		/* the store's reason, or the folder */
	bool dup;			/* its user was served for another */
	bool done;			/* a local delivery was tried */
};

struct data_user_ref {
	const char *user;
	size_t i;
};

static int
data_user_cmp(const void *a, const void *b)
{
	const struct data_user_ref *x = a, *y = b;
	int c = strcmp(x->user, y->user);

	if (c != 0)
		return c;
	return x->i < y->i ? -1 : x->i > y->i;
}

/*
 * Delivers to the local recipients, each user once: one named by two
 * RCPTs, or by an alias and by itself, gets one copy, and its later
 * recipients share the first one's result (dup set). Relay recipients
 * are left alone (done false). headers: the same for all, or NULL for
 * a Received field naming each recipient (LMTP).
 */
static void
data_deliver_local(struct smtp_session *ss, struct fc_arena *a,
    const char *headers, struct data_result *res)
{
	struct fc_core *core = fc_session_core(ss->s);
	const char *folder = fc_envelope_folder(ss->env), *err;
	struct data_user_ref *refs;
	size_t *first, i, n = 0;

	/* who is whose duplicate: sorted by user, then by position */
	refs = fc_arena_alloc(a, (ss->nrcpts + 1) * sizeof(*refs));
	first = fc_arena_alloc(a, (ss->nrcpts + 1) * sizeof(*first));
	for (i = 0; i < ss->nrcpts; i++) {
		first[i] = i;
		if (ss->rcpts[i].user != NULL) {
			refs[n].user = ss->rcpts[i].user;
			refs[n++].i = i;
		}
	}
	if (n > 1)
		qsort(refs, n, sizeof(*refs), data_user_cmp);
	for (i = 1; i < n; i++)
		if (strcmp(refs[i].user, refs[i - 1].user) == 0)
			first[refs[i].i] = first[refs[i - 1].i];

	for (i = 0; i < ss->nrcpts; i++) {
		struct smtp_rcpt *rc = &ss->rcpts[i];

		if (rc->user == NULL)
			continue;
		if (first[i] != i) {
			res[i] = res[first[i]];
			res[i].dup = true;
			continue;
		}
		res[i].r = fc_deliver(core, rc->user, folder, 0, NULL,
		    ss->spool_fd, ss->sender.address, rc->address,
		    headers != NULL ? headers : data_headers(ss, a,
		    rc->orcpt != NULL ? rc->orcpt : rc->rcpt_to), &err);
		/* err may be a static buffer the next delivery reuses */
		res[i].text = fc_arena_strdup(a, err != NULL ? err : "");
		res[i].done = true;
		data_log_delivery(ss, a, rc, res[i].r, res[i].text);
		if (res[i].r == FC_DELIVER_OK)
			fc_hook_run(ss->s, FC_HOOK_DELIVERED, ss->env, NULL,
			    NULL);
	}
}

static void data_report_delivered(struct smtp_session *ss,
    const struct data_result *res, const char *headers);

static bool
data_temporary(enum fc_deliver_result r)
{
	return r == FC_DELIVER_OVERQUOTA || r == FC_DELIVER_TEMPFAIL;
}

/*
 * LMTP: one reply per accepted RCPT, in order. An alias's RCPT answers
 * for all its recipients: 4xx if any failed for now (the client tries
 * the RCPT again later), 250 if all got it, else the first refusal.
 */
static enum fc_next
data_deliver_lmtp(struct smtp_session *ss)
{
	struct fc_arena *a = fc_arena_new("smtp-deliver", 4096);
	struct data_result *res;
	size_t i, j;

	res = fc_arena_alloc(a, (ss->nrcpts + 1) * sizeof(*res));
	data_deliver_local(ss, a, NULL, res);
	for (i = 0; i < ss->nrcpts; i = j) {
		const struct data_result *worst = &res[i];

		for (j = i; j < ss->nrcpts && ss->rcpts[j].cmd ==
		    ss->rcpts[i].cmd; j++) {
			if (data_temporary(worst->r))
				continue;
			if (data_temporary(res[j].r)
			    || (worst->r == FC_DELIVER_OK
			    && res[j].r != FC_DELIVER_OK))
				worst = &res[j];
		}
		smtp_reply(ss, "%s <%s> %s", data_deliver_reply(worst->r),
		    ss->rcpts[i].rcpt_to, worst->r == FC_DELIVER_OK ? "Ok" :
		    worst->text);
	}
	data_report_delivered(ss, res, data_headers(ss, a, NULL));
	fc_arena_free(&a);
	smtp_transaction_reset(ss);
	return FC_NEXT_CONTINUE;
}

static void data_queue_headers(struct smtp_qentry *e, const char *headers);

/*
 * NOTIFY=SUCCESS for recipients stored here now: one "delivered" report
 * for all that asked, put in the queue like any report (smtp_bounce.c),
 * with the message from the spool. A report that cannot be written is
 * logged: the message itself is delivered all the same.
 */
static void
data_report_delivered(struct smtp_session *ss, const struct data_result *res,
    const char *headers)
{
	struct smtp_qentry *e = NULL;
	size_t i;

	if (ss->sender.address[0] == '\0')
		return;			/* never to the null sender */
	for (i = 0; i < ss->nrcpts; i++) {
		const struct smtp_rcpt *rc = &ss->rcpts[i];
		struct smtp_qrcpt *qr;

		if (rc->user == NULL || res[i].r != FC_DELIVER_OK
		    || (rc->notify & SMTP_NOTIFY_SUCCESS) == 0)
			continue;
		if (e == NULL) {
			e = smtp_queue_new(ss->id);
			e->created = (int64_t)time(NULL);
			e->sender = fc_arena_strdup(e->arena,
			    ss->sender.address);
			e->ret = ss->dsn_ret;
			e->envid = ss->dsn_envid != NULL ?
			    fc_arena_strdup(e->arena, ss->dsn_envid) : NULL;
			data_queue_headers(e, headers);
		}
		qr = smtp_queue_add_rcpt(e);
		qr->address = fc_arena_strdup(e->arena, rc->address);
		qr->orcpt = rc->orcpt != NULL ? fc_arena_strdup(e->arena,
		    rc->orcpt) : NULL;
		qr->notify = rc->notify;
		qr->state = SMTP_Q_SENT;
		qr->action = SMTP_ACT_DELIVERED;
		qr->reply = fc_arena_strdup(e->arena, "250 2.0.0 delivered");
	}
	if (e == NULL)
		return;
	if (smtp_report(ss->conf, ss->conf->queue_dir, fc_session_core(ss->s),
	    e, ss->spool_fd, 0) < 0)
		fc_log_session(ss->s, FC_LOG_ERROR, "event=error id=%s "
		    "reason=\"cannot write a delivery report: %s\"", ss->id,
		    strerror(errno));
	smtp_queue_free(&e);
}

/* The envelope lines for the queue: our header fields, one a line. */
static void
data_queue_headers(struct smtp_qentry *e, const char *headers)
{
	const char *p = headers, *nl;

	while ((nl = strstr(p, "\r\n")) != NULL) {
		if (e->nheaders % 8 == 0) {
			const char **more = fc_arena_alloc(e->arena,
			    (e->nheaders + 8) * sizeof(*more));

			if (e->nheaders > 0)
				memcpy(more, e->headers, e->nheaders *
				    sizeof(*more));
			e->headers = more;
		}
		e->headers[e->nheaders++] = fc_arena_strndup(e->arena, p,
		    (size_t)(nl - p));
		p = nl + 2;
	}
}

/*
 * When no recipient took the message and none is to be relayed, the
 * reply for the whole of it, else NULL. Any failure for now wins (the
 * client will try again, and the permanent ones will hear 550 at RCPT
 * then); 452 4.2.2 when each of those is a full mailbox. The store's
 * reasons stay in the log: they may name paths.
 */
static const char *
data_nobody_took_it(struct smtp_session *ss, const struct data_result *res)
{
	enum fc_deliver_result perm = FC_DELIVER_OK;
	bool temp = false, full = true;
	size_t i;

	for (i = 0; i < ss->nrcpts; i++) {
		if (ss->rcpts[i].user == NULL || res[i].r == FC_DELIVER_OK)
			return NULL;
		if (data_temporary(res[i].r)) {
			temp = true;
			full = full && res[i].r == FC_DELIVER_OVERQUOTA;
		} else if (perm == FC_DELIVER_OK)
			perm = res[i].r;
	}
	if (temp)
		return full ? "452 4.2.2 Mailbox full, try again later" :
		    "451 4.3.0 Error: cannot deliver the message now, try "
		    "again later";
	return perm == FC_DELIVER_NOUSER ? "550 5.1.1 User unknown" :
	    "554 5.3.4 Error: the mailbox cannot take this message";
}

/*
 * SMTP: local recipients are delivered now; the others, and local ones
 * whose delivery failed, go into the outbound queue (retried, or
 * reported to the sender). 250 once every recipient is either in a
 * mailbox or in the queue, both on stable storage; SMTP has one reply
 * for all, so a partial success queues the rest. When nobody took it,
 * the reply says why and nothing is kept.
 */
static enum fc_next
data_deliver(struct smtp_session *ss)
{
	struct fc_arena *a = fc_arena_new("smtp-deliver", 4096);
	struct smtp_qentry *qe = NULL;
	struct data_result *res;
	const char *headers, *refusal;
	size_t i;

	headers = data_headers(ss, a, ss->nrcpts == 1 ? (ss->rcpts[0].orcpt
	    != NULL ? ss->rcpts[0].orcpt : ss->rcpts[0].rcpt_to) : NULL);
	res = fc_arena_alloc(a, (ss->nrcpts + 1) * sizeof(*res));
	data_deliver_local(ss, a, headers, res);
	if ((refusal = data_nobody_took_it(ss, res)) != NULL) {
		fc_log_session(ss->s, FC_LOG_NOTICE, "event=refused id=%s "
		    "reply=\"%s\"", ss->id, refusal);
		smtp_reply(ss, "%s", refusal);
		fc_arena_free(&a);
		smtp_transaction_reset(ss);
		return FC_NEXT_CONTINUE;
	}
	for (i = 0; i < ss->nrcpts; i++) {
		struct smtp_rcpt *rc = &ss->rcpts[i];
		struct smtp_qrcpt *qr;

		/* delivered, or in the queue already for its user */
		if (res[i].dup || (rc->user != NULL
		    && res[i].r == FC_DELIVER_OK))
			continue;
		if (qe == NULL) {
			qe = smtp_queue_new(ss->id);
			qe->created = qe->next = (int64_t)time(NULL);
			qe->sender = fc_arena_strdup(qe->arena,
			    ss->sender.address);
			qe->ret = ss->dsn_ret;
			qe->envid = ss->dsn_envid != NULL ?
			    fc_arena_strdup(qe->arena, ss->dsn_envid) : NULL;
			data_queue_headers(qe, headers);
		}
		qr = smtp_queue_add_rcpt(qe);
		qr->address = fc_arena_strdup(qe->arena, rc->address);
		qr->orcpt = rc->orcpt != NULL ? fc_arena_strdup(qe->arena,
		    rc->orcpt) : NULL;
		qr->notify = rc->notify;
		qr->user = rc->user != NULL ? fc_arena_strdup(qe->arena,
		    rc->user) : NULL;
		qr->reply = fc_arena_strdup(qe->arena, "");
		if (rc->user != NULL && !data_temporary(res[i].r)) {
			/* refused for good after we said yes: a report */
			qr->state = SMTP_Q_FAILED;
			qr->reply = fc_arena_printf(qe->arena, "%s %s",
			    data_deliver_reply(res[i].r), res[i].text);
		}
	}
	if (qe != NULL) {
		if (smtp_queue_prepare(ss->conf->queue_dir) < 0
		    || smtp_queue_add(ss->conf->queue_dir, qe, ss->spool_fd)
		    < 0) {
			fc_log_session(ss->s, FC_LOG_ERROR, "event=error id=%s "
			    "reason=\"cannot queue: %s\"", ss->id,
			    strerror(errno));
			/* send it again: recipients served already may get
			 * it twice, none loses it */
			smtp_reply(ss, "451 4.3.0 Error: cannot queue the "
			    "message now");
			smtp_queue_free(&qe);
			fc_arena_free(&a);
			smtp_transaction_reset(ss);
			return FC_NEXT_CONTINUE;
		}
		fc_log_session(ss->s, FC_LOG_INFO, "event=queued id=%s "
		    "rcpts=%zu", ss->id, qe->nrcpts);
		smtp_queue_free(&qe);
	}
	data_report_delivered(ss, res, headers);
	smtp_reply(ss, "250 2.0.0 Ok: queued as %s", ss->id);
	ss->messages++;
	fc_arena_free(&a);
	smtp_transaction_reset(ss);
	return FC_NEXT_CONTINUE;
}

/* The same refusal for every recipient: once over SMTP, once per
 * accepted RCPT over LMTP. */
static enum fc_next
data_refuse_all(struct smtp_session *ss, const char *reply)
{
	unsigned int i;

	if (ss->kind != SMTP_KIND_LMTP)
		smtp_reply(ss, "%s", reply);
	else
		for (i = 0; i < ss->rcpt_cmds; i++)
			smtp_reply(ss, "%s", reply);
	smtp_transaction_reset(ss);
	return FC_NEXT_CONTINUE;
}

static enum fc_next
data_verdict(struct smtp_session *ss, enum fc_verdict v)
{
	const char *reply = fc_envelope_reply(ss->env);

	switch (v) {
	case FC_REJECT:
		return data_refuse_all(ss, reply != NULL ? reply :
		    "550 5.7.1 Message rejected");
	case FC_TEMPFAIL:
		return data_refuse_all(ss, reply != NULL ? reply :
		    "451 4.7.1 Try again later");
	case FC_DISCONNECT:
		smtp_reply(ss, "%s", reply != NULL ? reply :
		    "421 4.7.0 Closing the connection");
		return FC_NEXT_CLOSE;
	default:
		return ss->kind == SMTP_KIND_LMTP ? data_deliver_lmtp(ss) :
		    data_deliver(ss);
	}
}

static void
data_hook_done(struct fc_session *s, enum fc_verdict v, void *arg)
{
	struct smtp_session *ss = fc_session_data(s);

	(void)arg;
	fc_session_resume(s, data_verdict(ss, v));
}

static enum fc_next
data_finish(struct smtp_session *ss, const struct fc_spool_result *r,
    uint64_t size)
{
	enum fc_verdict v;

	fc_log_session(ss->s, FC_LOG_INFO, "event=data id=%s size=%llu "
	    "rcpts=%zu%s%s", ss->id, (unsigned long long)size, ss->nrcpts,
	    r != NULL && r->bare_lf > 0 ? " bare_lf=yes" : "",
	    r != NULL && r->nul > 0 ? " nul=yes" : "");
	if (r != NULL && r->too_big)
		return data_refuse_all(ss, "552 5.3.4 Message size exceeds "
		    "fixed limit");
	if (r != NULL && r->error != 0) {
		fc_log_session(ss->s, FC_LOG_ERROR, "event=error id=%s "
		    "reason=\"spool: %s\"", ss->id, strerror(r->error));
		return data_refuse_all(ss, "451 4.3.0 Error: cannot store the "
		    "message now");
	}
	if (r != NULL && r->nul > 0 && ss->conf->reject_nul)
		return data_refuse_all(ss, "554 5.6.0 Message contains NUL "
		    "characters");
	fc_envelope_set_message(ss->env, ss->spool_fd, size);
	v = fc_hook_run(ss->s, FC_HOOK_SMTP_DATA, ss->env, data_hook_done,
	    NULL);
	if (v == FC_PENDING)
		return FC_NEXT_WAIT;
	return data_verdict(ss, v);
}

/* The core finished reading a DATA body or a BDAT chunk. */
enum fc_next
smtp_spooled(struct fc_session *s, const struct fc_spool_result *r)
{
	struct smtp_session *ss = fc_session_data(s);

	if (ss->state != SMTP_ST_BDAT)
		return data_finish(ss, r, r->size);
	if (r->nul > 0)
		ss->bdat_nul = true;	/* each chunk counts afresh */
	if (!ss->bdat_last) {
		smtp_reply(ss, "250 2.0.0 %llu bytes received",
		    (unsigned long long)r->received);
		return FC_NEXT_CONTINUE;
	}
	if (ss->bdat_failed)
		return data_refuse_all(ss, ss->bdat_size >
		    ss->conf->max_message_size ?
		    "552 5.3.4 Message size exceeds fixed limit" :
		    "451 4.3.0 Error: cannot store the message now");
	{
		struct fc_spool_result whole = *r;

		whole.size = ss->bdat_size;
		whole.nul = ss->bdat_nul ? 1 : 0;
		return data_finish(ss, &whole, ss->bdat_size);
	}
}
