/*
 * smtp_bounce.c - delivery status notifications (RFC 3464) for the
 * recipients the queue gave up on.
 *
 * The report is a new queue entry from the null sender, so it can never
 * cause a report of its own (no bounce loops), to the original sender:
 * a multipart/report with a few lines for people, a message/delivery-
 * status part (one block per failed recipient that asked to hear of it,
 * with the next hop's answer), and the original message, whole when the
 * sender asked for RET=FULL or said nothing and it is not too large,
 * else its header only. A recipient with NOTIFY=NEVER, or NOTIFY without
 * FAILURE, is left out even when another one's failure makes a report.
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

/* "550 5.1.1 User unknown" -> "5.1.1", or a status from the class. */
static const char *
bounce_status(struct fc_arena *a, const char *reply)
{
	const char *p = reply;
	int x, y, z;

	while (*p != '\0' && *p != ' ')
		p++;
	if (*p == ' ' && sscanf(p + 1, "%d.%d.%d", &x, &y, &z) == 3
	    && (x == 4 || x == 5))
		return fc_arena_printf(a, "5.%d.%d", y, z);
	if (sscanf(reply, "%d.%d.%d", &x, &y, &z) == 3)
		return fc_arena_printf(a, "5.%d.%d", y, z);
	return "5.0.0";
}

/* The recipients a report names: failed, and wanting to hear of it. */
static bool
bounce_reported(const struct smtp_qentry *e, const struct smtp_qrcpt *rc)
{
	return rc->state == SMTP_Q_FAILED && smtp_queue_wants_report(e, rc);
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

/* Copies the original: whole, or up to and with its header's end. */
static int
bounce_copy_original(int out, int in, bool whole)
{
	char buf[65536];
	int state = 0;		/* 1: at a line's start, 2: and a CR seen */
	ssize_t n, i;

	while ((n = read(in, buf, sizeof(buf))) > 0) {
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

int
smtp_bounce(const struct smtp_conf *conf, const char *dir,
    struct fc_core *core, struct smtp_qentry *e)
{
	struct fc_arena *a = fc_arena_new("bounce", 4096);
	const char *host = conf->hostname != NULL ? conf->hostname :
	    fc_core_hostname(core);
	struct smtp_qentry *b = NULL;
	struct smtp_qrcpt *rc;
	char id[SMTP_QUEUE_ID_MAX], boundary[64], date[64], arrival[64];
	char *text, *path;
	uint64_t rnd = 0;
	bool whole;
	size_t i;
	int out = -1, in = -1, ret = -1;

	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint64_t)time(NULL) ^ (uint64_t)getpid();
	snprintf(id, sizeof(id), "B%016llx", (unsigned long long)rnd);
	snprintf(boundary, sizeof(boundary), "%s/%s", id, host);
	bounce_date(date, sizeof(date), time(NULL));
	bounce_date(arrival, sizeof(arrival), (time_t)e->created);

	text = fc_arena_printf(a,
	    "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n"
	    "To: <%s>\r\n"
	    "Subject: Undelivered Mail Returned to Sender\r\n"
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
	    "Your message could not be delivered to one or more recipients.\r\n"
	    "The answers of the mail systems that refused it follow.\r\n"
	    "\r\n",
	    host, e->sender, date, id, host, boundary, boundary, host);
	for (i = 0; i < e->nrcpts; i++) {
		rc = &e->rcpts[i];
		if (bounce_reported(e, rc))
			text = fc_arena_printf(a, "%s<%s>: %s\r\n", text,
			    rc->address, rc->reply);
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
		if (!bounce_reported(e, rc))
			continue;
		text = fc_arena_printf(a, "%s\r\n%s%s%sFinal-Recipient: "
		    "rfc822; %s\r\nAction: failed\r\nStatus: %s\r\n"
		    "Diagnostic-Code: smtp; %s\r\n", text,
		    rc->orcpt != NULL ? "Original-Recipient: rfc822; " : "",
		    rc->orcpt != NULL ? rc->orcpt : "",
		    rc->orcpt != NULL ? "\r\n" : "", rc->address,
		    bounce_status(a, rc->reply), rc->reply);
	}

	in = smtp_queue_open_message(a, dir, e->id);
	whole = e->ret != SMTP_DSN_RET_HDRS;
	if (in >= 0 && whole) {
		off_t size = lseek(in, 0, SEEK_END);

		lseek(in, 0, SEEK_SET);
		whole = size >= 0 && size <= BOUNCE_FULL_MAX;
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
	fc_log(FC_LOG_INFO, "smtp-queue id=%s event=bounce bounce=%s to=<%s>",
	    e->id, id, fc_log_quote(a, e->sender, 256));
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
