/*
 * smtp_bounce.c - delivery status notifications (RFC 3464): failures the
 * queue gave up on, delays past delay_warning, and deliveries the sender
 * asked to hear of (NOTIFY=SUCCESS).
 *
 * Every kind goes the same way. The report is a new queue entry from
 * the null sender, so it can never cause a report of its own (no bounce
 * loops), to the original sender: a multipart/report with a few lines
 * for people, a message/delivery-status part (one block per recipient
 * the caller marked with an action, with the last answer for it), and
 * the original message, whole when the sender asked for RET=FULL or said
 * nothing and it is not too large, else its header only. The caller
 * marks only recipients that asked (smtp_queue_wants_report() and the
 * NOTIFY bits), so one with NOTIFY=NEVER is left out even when another
 * one's failure makes a report.
 *
 * Actions (RFC 3464 2.3.3): "failed" (Status 5.x.x), "delayed" (4.x.x of
 * the last attempt, with Will-Retry-Until), "delivered" into a mailbox
 * here and "relayed" to a next hop that does not announce DSN (2.x.x).
 * One report may hold several kinds; its subject names the gravest.
 *
 * Original-Recipient only when the client gave ORCPT (RFC 3464 2.3.1:
 * the address as the sender specified it, which without ORCPT we do
 * not know).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/auth.h>
#include <facteur/log.h>
#include <facteur/module.h>

#include "smtp.h"
#include "smtp_queue.h"

#define BOUNCE_FULL_MAX	(1024 * 1024)	/* return whole messages this big */

static void
bounce_date(char *buf, size_t size, time_t t)
{
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, size, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

/*
 * The status of class cls from a reply: "550 5.1.1 User unknown" ->
 * "5.1.1" for a failure, "451 4.4.1 ..." -> "4.4.1" for a delay, or
 * cls.0.0.
 */
static const char *
bounce_status(struct fc_arena *a, const char *reply, int cls)
{
	const char *p = reply;
	int x, y, z;

	while (*p != '\0' && *p != ' ')
		p++;
	if (*p == ' ' && sscanf(p + 1, "%d.%d.%d", &x, &y, &z) == 3
	    && x >= 2 && x <= 5 && y >= 0 && y < 1000 && z >= 0 && z < 1000)
		return fc_arena_printf(a, "%d.%d.%d", cls, y, z);
	if (sscanf(reply, "%d.%d.%d", &x, &y, &z) == 3 && x >= 2 && x <= 5
	    && y >= 0 && y < 1000 && z >= 0 && z < 1000)
		return fc_arena_printf(a, "%d.%d.%d", cls, y, z);
	return fc_arena_printf(a, "%d.0.0", cls);
}

static const char *const bounce_actions[] = {
	[SMTP_ACT_FAILED] = "failed",
	[SMTP_ACT_DELAYED] = "delayed",
	[SMTP_ACT_DELIVERED] = "delivered",
	[SMTP_ACT_RELAYED] = "relayed",
};

/* The recipients a report names: those the caller marked. */
static bool
bounce_reported(const struct smtp_qrcpt *rc)
{
	return rc->action > SMTP_ACT_NONE && rc->action <= SMTP_ACT_RELAYED;
}

static int
bounce_write_all(int fd, const char *s, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, s, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Copies the original: whole, or up to and with its header's end. It
 * reads with pread, so a spool file's offset stays where it was. */
static int
bounce_copy_original(int out, int in, bool whole)
{
	char buf[65536];
	int state = 0;		/* 1: at a line's start, 2: and a CR seen */
	ssize_t n, i;
	off_t off = 0;

	while ((n = pread(in, buf, sizeof(buf), off)) > 0) {
		off += n;
		for (i = 0; !whole && i < n; i++) {
			char c = buf[i];

			if (c == '\n' && state != 0)
				return bounce_write_all(out, buf,
				    (size_t)i + 1);
			if (c == '\n')
				state = 1;
			else if (c == '\r' && state == 1)
				state = 2;
			else
				state = 0;
		}
		if (bounce_write_all(out, buf, (size_t)n) < 0)
			return -1;
	}
	return n < 0 ? -1 : 0;
}

/* What the report is about, for its subject and its first words. */
static bool
bounce_kind(const struct smtp_qentry *e, const char **subject_r,
    const char **intro_r)
{
	bool failed = false, delayed = false;
	size_t i;

	for (i = 0; i < e->nrcpts; i++) {
		failed |= e->rcpts[i].action == SMTP_ACT_FAILED;
		delayed |= e->rcpts[i].action == SMTP_ACT_DELAYED;
	}
	if (failed) {
		*subject_r = "Undelivered Mail Returned to Sender";
		*intro_r = "Your message could not be delivered to one or "
		    "more recipients.\r\nThe answers of the mail systems "
		    "that refused it follow.";
	} else if (delayed) {
		*subject_r = "Delayed Mail (still being retried)";
		*intro_r = "Your message could not be delivered yet to one "
		    "or more recipients.\r\nIt will be tried again; you do "
		    "not need to send it again.\r\nThe last answers follow.";
	} else {
		*subject_r = "Successful Mail Delivery Report";
		*intro_r = "Your message was delivered to the recipients "
		    "below, as you asked.\r\n\"relayed\" means it went on "
		    "to a mail system that does not report deliveries.";
	}
	return failed;
}

int
smtp_report(const struct smtp_conf *conf, const char *dir,
    struct fc_core *core, struct smtp_qentry *e, int msg_fd,
    int64_t retry_until)
{
	struct fc_arena *a = fc_arena_new("bounce", 4096);
	const char *host = conf->hostname != NULL ? conf->hostname :
	    fc_core_hostname(core);
	const char *subject, *intro;
	struct smtp_qentry *b = NULL;
	struct smtp_qrcpt *rc;
	char id[SMTP_QUEUE_ID_MAX], boundary[64], date[64], arrival[64];
	char until[64];
	char *text, *path;
	uint64_t rnd = 0;
	bool whole, failed;
	size_t i;
	int out = -1, in = -1, ret = -1;

	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint64_t)time(NULL) ^ (uint64_t)getpid();
	snprintf(id, sizeof(id), "B%016llx", (unsigned long long)rnd);
	snprintf(boundary, sizeof(boundary), "%s/%s", id, host);
	bounce_date(date, sizeof(date), time(NULL));
	bounce_date(arrival, sizeof(arrival), (time_t)e->created);
	bounce_date(until, sizeof(until), (time_t)retry_until);
	failed = bounce_kind(e, &subject, &intro);

	text = fc_arena_printf(a,
	    "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n"
	    "To: <%s>\r\n"
	    "Subject: %s\r\n"
	    "Date: %s\r\n"
	    "Message-ID: <%s@%s>\r\n"
	    "Auto-Submitted: auto-replied\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	    "\tboundary=\"%s\"\r\n"
	    "\r\n"
	    "This is a MIME-encapsulated message.\r\n"
	    "\r\n"
	    "--%s\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n"
	    "\r\n"
	    "This is the mail system at host %s.\r\n"
	    "\r\n"
	    "%s\r\n"
	    "\r\n",
	    host, e->sender, subject, date, id, host, boundary, boundary, host,
	    intro);
	for (i = 0; i < e->nrcpts; i++) {
		rc = &e->rcpts[i];
		if (bounce_reported(rc))
			text = fc_arena_printf(a, "%s<%s>: %s%s%s\r\n", text,
			    rc->address, bounce_actions[rc->action],
			    rc->reply[0] != '\0' ? ": " : "", rc->reply);
	}
	text = fc_arena_printf(a, "%s\r\n--%s\r\n"
	    "Content-Type: message/delivery-status\r\n"
	    "\r\n"
	    "Reporting-MTA: dns; %s\r\n"
	    "%s%s%s"
	    "Arrival-Date: %s\r\n",
	    text, boundary, host,
	    e->envid != NULL ? "Original-Envelope-Id: " : "",
	    e->envid != NULL ? e->envid : "", e->envid != NULL ? "\r\n" : "",
	    arrival);
	for (i = 0; i < e->nrcpts; i++) {
		rc = &e->rcpts[i];
		if (!bounce_reported(rc))
			continue;
		text = fc_arena_printf(a, "%s\r\n%s%s%sFinal-Recipient: "
		    "rfc822; %s\r\nAction: %s\r\nStatus: %s\r\n", text,
		    rc->orcpt != NULL ? "Original-Recipient: rfc822; " : "",
		    rc->orcpt != NULL ? rc->orcpt : "",
		    rc->orcpt != NULL ? "\r\n" : "", rc->address,
		    bounce_actions[rc->action], bounce_status(a, rc->reply,
		    rc->action == SMTP_ACT_FAILED ? 5 :
		    rc->action == SMTP_ACT_DELAYED ? 4 : 2));
		if (rc->reply[0] != '\0')
			text = fc_arena_printf(a, "%sDiagnostic-Code: smtp; "
			    "%s\r\n", text, rc->reply);
		if (rc->action == SMTP_ACT_DELAYED)
			text = fc_arena_printf(a, "%sWill-Retry-Until: %s\r\n",
			    text, until);
	}

	in = msg_fd >= 0 ? dup(msg_fd) : smtp_queue_open_message(a, dir,
	    e->id);
	whole = e->ret != SMTP_DSN_RET_HDRS;
	if (in >= 0 && whole) {
		struct stat st;

		whole = fstat(in, &st) == 0 && st.st_size <= BOUNCE_FULL_MAX;
	}
	text = fc_arena_printf(a, "%s\r\n--%s\r\nContent-Type: %s\r\n\r\n",
	    text, boundary, whole ? "message/rfc822" :
	    "text/rfc822-headers");

	b = smtp_queue_new(id);
	b->created = b->next = (int64_t)time(NULL);
	b->sender = "";
	rc = smtp_queue_add_rcpt(b);
	rc->address = fc_arena_strdup(b->arena, e->sender);
	/* a sender of ours gets the report in its mailbox */
	rc->user = smtp_local_user(conf, core, b->arena, e->sender);
	rc->notify = SMTP_NOTIFY_NEVER;
	rc->reply = fc_arena_strdup(b->arena, "");

	path = fc_arena_printf(a, "%s/msg/%s", dir, id);
	if (smtp_queue_prepare(dir) < 0)
		goto out;
	out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0)
		goto out;
	/* the original as it was sent: our header fields on top */
	for (i = 0; i < e->nheaders; i++)
		text = fc_arena_printf(a, "%s%s\r\n", text, e->headers[i]);
	if (bounce_write_all(out, text, strlen(text)) < 0
	    || (in >= 0 && bounce_copy_original(out, in, whole) < 0))
		goto fail;
	text = fc_arena_printf(a, "\r\n--%s--\r\n", boundary);
	if (bounce_write_all(out, text, strlen(text)) < 0
	    || fdatasync(out) < 0)
		goto fail;
	close(out);
	out = -1;
	/* the envelope commits it; the runner sees it through inotify */
	if (smtp_queue_save(dir, b, true) < 0)
		goto fail;
	fc_log(FC_LOG_INFO, "smtp-queue id=%s event=%s %s=%s to=<%s>", e->id,
	    failed ? "bounce" : "notify", failed ? "bounce" : "notify", id,
	    fc_log_quote(a, e->sender, 256));
	ret = 0;
	goto out;
fail:
	unlink(path);
out:
	if (out >= 0)
		close(out);
	if (in >= 0)
		close(in);
	smtp_queue_free(&b);
	fc_arena_free(&a);
	return ret;
}
