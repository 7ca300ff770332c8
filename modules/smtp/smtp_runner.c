/*
 * smtp_runner.c - the outbound queue's process: sends queued messages on,
 * retries, gives up, bounces.
 *
 * One runner works a queue at a time: it holds QUEUE/lock (flock), so
 * after a reload the new one waits until the old one has finished. It
 * learns of new entries from inotify on QUEUE/env and of due retries from
 * its timer, and keeps every entry's state in its envelope file, so a
 * runner killed at any point resumes where the files say: a recipient
 * whose delivery was under way is tried again (SMTP's at-least-once).
 *
 * While it works the queue it is the only one that rewrites envelopes:
 * `facteurctl queue flush` leaves a request in QUEUE/flush/ instead
 * (inotify again), which the runner applies to its own copy. Were
 * facteurctl to rewrite the envelope itself, a save of ours between its
 * read and its write would be undone, and the stale copy, read back on
 * the inotify event, would send again what was sent. An entry removed
 * by facteurctl loses its message first; an entry whose message is gone
 * is dropped, before an attempt and after each save.
 *
 * An attempt delivers local recipients at once (fc_deliver), groups the
 * others by domain, finds each domain's next hop (a route from the
 * config, the relay host, or DNS: MX, else the domain's own addresses;
 * a null MX refuses mail for good) and sends one transaction per domain.
 * Then each recipient is sent, failed for good (5xx), or waits: the next
 * attempt comes after a delay that doubles each time between retry_min
 * and retry_max, until queue_lifetime has passed and the rest fails; the
 * last retry is never set past that time, so the expiry is reported when
 * it comes, not up to retry_max later. A failed recipient is reported to
 * the sender in a delivery status notification (smtp_bounce.c), unless
 * the sender is null (no bounce of a bounce) or the recipient asked not
 * to hear (NOTIFY): then it is only marked done. An entry found past its
 * lifetime when an attempt is due fails then, without that attempt.
 *
 * The other reports (RFC 3461): a recipient with NOTIFY=SUCCESS is
 * reported "delivered" when the queue puts it in a local mailbox, and
 * "relayed" when a next hop without DSN takes it (one with DSN got the
 * NOTIFY and reports itself). One with NOTIFY=DELAY (or without NOTIFY,
 * with delay_warning_default) still waiting after delay_warning is
 * reported "delayed", once per entry: the attempt that starts at that
 * time sends the report first, with the last attempt's answers. Each
 * attempt's reports of every kind go in one report per entry.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/auth.h>
#include <facteur/deliver.h>
#include <facteur/dns.h>
#include <facteur/io.h>
#include <facteur/log.h>
#include <facteur/module.h>
#include <facteur/process.h>

#include "smtp.h"
#include "smtp_queue.h"
#include "smtp_send.h"

#define RUNNER_RESCAN_MS	(5 * 60 * 1000)	/* whatever inotify missed */
#define RUNNER_LOCK_RETRY_MS	1000
#define RUNNER_DNS_TIMEOUT_MS	10000

struct runner {
	struct fc_core *core;
	struct smtp_conf *conf;
	const char *dir;
	int lock_fd;
	struct fc_alarm *lock_alarm;
	struct fc_alarm *tick;
	int ino;
	int wd_flush;			/* QUEUE/flush in ino */
	struct fc_io *io;
	struct smtp_qentry *entries;
	unsigned int active;		/* attempts under way */
	bool stopping;
	bool kicking, kick_again;	/* in runner_kick(), and called
					   again from within */
	uint64_t last_scan;
};

/* An attempt: one entry, its transactions per domain. */
struct attempt {
	struct runner *r;
	struct smtp_qentry *e;
	struct fc_arena *arena;
	unsigned int pending;		/* domains not finished */
	char *headers;			/* CRLF lines for the wire */
};

/* One domain's share of an attempt. */
struct hop {
	struct attempt *at;
	char *domain;
	size_t *idx;			/* recipients, into e->rcpts */
	size_t nidx;
	struct smtp_send send;
	/* resolution */
	struct fc_dns_query *q;
	char **mx;			/* host names, by preference */
	size_t nmx, mx_i;
	uint16_t port;
	bool aaaa_done;
};

static struct runner the_runner;

static void runner_kick(struct runner *r);
static void hop_resolve_next(struct hop *h);

static int64_t
runner_now(void)
{
	return (int64_t)time(NULL);
}

/*
 * When an entry expires: the first whole second at which it is older
 * than queue_lifetime (created is in whole seconds, hence the one more:
 * never early).
 */
static int64_t
runner_expiry(const struct runner *r, const struct smtp_qentry *e)
{
	return e->created + (int64_t)(r->conf->queue_lifetime / 1000) + 1;
}

/* When a delay report is due: as for the expiry, never early. */
static int64_t
runner_warn_time(const struct runner *r, const struct smtp_qentry *e)
{
	return e->created + (int64_t)(r->conf->delay_warning / 1000) + 1;
}

/* Whether a recipient still waiting asked to hear of a delay, and none
 * was reported yet. */
static bool
runner_wants_warning(const struct runner *r, const struct smtp_qentry *e)
{
	size_t i;

	if (e->warned || r->conf->delay_warning == 0)
		return false;
	for (i = 0; i < e->nrcpts; i++)
		if (e->rcpts[i].state == SMTP_Q_PENDING
		    && smtp_queue_wants_action(e, &e->rcpts[i],
		    SMTP_ACT_DELAYED, r->conf->delay_warning_default))
			return true;
	return false;
}

/* No retry later than the expiry, for an entry that still has
 * recipients to try: the expiry is reported when it comes. Nor later
 * than a delay report still to come, which an attempt's start makes. */
static void
runner_clamp_next(const struct runner *r, struct smtp_qentry *e)
{
	int64_t expiry = runner_expiry(r, e), warn;
	size_t i;

	if (runner_wants_warning(r, e)) {
		warn = runner_warn_time(r, e);
		if (warn > runner_now() && e->next > warn)
			e->next = warn;
	}
	if (e->next <= expiry)
		return;
	for (i = 0; i < e->nrcpts; i++) {
		if (e->rcpts[i].state == SMTP_Q_PENDING) {
			e->next = expiry;
			return;
		}
	}
}

/* ------------------------------------------------------------------ */
/* The entries in memory */

static struct smtp_qentry *
runner_find(struct runner *r, const char *id)
{
	struct smtp_qentry *e;

	for (e = r->entries; e != NULL; e = e->next_entry)
		if (strcmp(e->id, id) == 0)
			return e;
	return NULL;
}

static void
runner_drop(struct runner *r, struct smtp_qentry *e)
{
	struct smtp_qentry **pp;

	for (pp = &r->entries; *pp != NULL; pp = &(*pp)->next_entry) {
		if (*pp == e) {
			*pp = e->next_entry;
			break;
		}
	}
	smtp_queue_free(&e);
}

/* (Re)reads an envelope: new, or changed by facteurctl. */
static void
runner_load(const char *id, void *arg)
{
	struct runner *r = arg;
	struct smtp_qentry *e, *old;

	if (!smtp_queue_id_valid(id))
		return;
	old = runner_find(r, id);
	if (old != NULL && old->busy)
		return;		/* the attempt's end writes it anyway */
	e = smtp_queue_load(r->dir, id);
	if (old != NULL)
		runner_drop(r, old);
	if (e == NULL)
		return;
	/* written by an older runner, or queue_lifetime shortened since */
	runner_clamp_next(r, e);
	e->next_entry = r->entries;
	r->entries = e;
}

static void
runner_scan(struct runner *r)
{
	r->last_scan = (uint64_t)runner_now();
	smtp_queue_scan(r->dir, runner_load, r);
}

/* ------------------------------------------------------------------ */
/* Finishing an attempt */

static uint64_t
runner_backoff(const struct smtp_conf *conf, unsigned int attempts)
{
	uint64_t d = conf->retry_min;
	unsigned int i;

	for (i = 1; i < attempts && d < conf->retry_max; i++)
		d *= 2;
	return d > conf->retry_max ? conf->retry_max : d;
}

/* An entry facteurctl removed (its message goes first): forget it. */
static bool
runner_gone(struct runner *r, struct smtp_qentry *e)
{
	struct stat st;
	char path[4096];

	snprintf(path, sizeof(path), "%s/env/%s", r->dir, e->id);
	if ((stat(path, &st) == 0 || errno != ENOENT)
	    && smtp_queue_message_exists(r->dir, e->id))
		return false;
	smtp_queue_remove(r->dir, e->id);
	runner_drop(r, e);
	return true;
}

/* Marks the recipients still waiting that asked to hear of a delay
 * (and may: smtp_queue_wants_action()); whether there was one. */
static bool
runner_mark_delayed(const struct runner *r, struct smtp_qentry *e)
{
	bool any = false;
	size_t i;

	for (i = 0; i < e->nrcpts; i++) {
		struct smtp_qrcpt *rc = &e->rcpts[i];

		if (rc->state == SMTP_Q_PENDING
		    && smtp_queue_wants_action(e, rc, SMTP_ACT_DELAYED,
		    r->conf->delay_warning_default)) {
			rc->action = SMTP_ACT_DELAYED;
			any = true;
		}
	}
	return any;
}

/*
 * At an attempt's start, a delay report that has come due goes out
 * before the attempt, with the answers of the last one. Tried once: a
 * report that cannot be written is logged, not retried at every turn.
 */
static void
runner_warn(struct runner *r, struct smtp_qentry *e)
{
	size_t i;

	if (e->warned || r->conf->delay_warning == 0
	    || runner_now() < runner_warn_time(r, e))
		return;
	if (runner_mark_delayed(r, e)
	    && smtp_report(r->conf, r->dir, r->core, e, -1,
	    runner_expiry(r, e)) < 0)
		fc_log(FC_LOG_ERROR, "smtp-queue id=%s event=error reason="
		    "\"cannot write a delay report: %s\"", e->id,
		    strerror(errno));
	for (i = 0; i < e->nrcpts; i++)
		e->rcpts[i].action = SMTP_ACT_NONE;
	e->warned = true;
	if (smtp_queue_save(r->dir, e, r->conf->queue_fsync) < 0)
		fc_log(FC_LOG_ERROR, "smtp-queue id=%s event=error "
		    "reason=\"cannot save the envelope: %s\"", e->id,
		    strerror(errno));
}

static void
attempt_finish(struct attempt *at)
{
	struct runner *r = at->r;
	struct smtp_qentry *e = at->e;
	bool pending = false, report = false;
	int64_t now = runner_now();
	size_t i;

	e->busy = false;
	r->active--;
	/* deleted by facteurctl while we worked */
	if (runner_gone(r, e)) {
		fc_arena_free(&at->arena);
		runner_kick(r);
		return;
	}
	if (now >= runner_expiry(r, e)) {
		for (i = 0; i < e->nrcpts; i++) {
			if (e->rcpts[i].state != SMTP_Q_PENDING)
				continue;
			e->rcpts[i].state = SMTP_Q_FAILED;
			e->rcpts[i].reply = fc_arena_printf(e->arena, "4.4.7 "
			    "delivery time expired (last: %s)",
			    e->rcpts[i].reply);
		}
	}
	for (i = 0; i < e->nrcpts; i++) {
		struct smtp_qrcpt *rc = &e->rcpts[i];

		if (rc->state == SMTP_Q_PENDING)
			pending = true;
		else if (rc->state == SMTP_Q_FAILED) {
			if (smtp_queue_wants_report(e, rc)) {
				rc->action = SMTP_ACT_FAILED;
				report = true;
			} else
				rc->state = SMTP_Q_REPORTED;	/* no one to
								   tell */
		} else if (rc->state == SMTP_Q_SENT
		    && rc->action != SMTP_ACT_NONE)
			report = true;		/* SUCCESS asked */
	}
	/* a delay due while this attempt ran goes in the same report */
	if (pending && !e->warned && r->conf->delay_warning > 0
	    && now >= runner_warn_time(r, e))
		report |= runner_mark_delayed(r, e);
	if (report) {
		if (smtp_report(r->conf, r->dir, r->core, e, -1,
		    runner_expiry(r, e)) == 0) {
			for (i = 0; i < e->nrcpts; i++) {
				if (e->rcpts[i].state == SMTP_Q_FAILED)
					e->rcpts[i].state = SMTP_Q_REPORTED;
				if (e->rcpts[i].action == SMTP_ACT_DELAYED)
					e->warned = true;
			}
		} else {
			fc_log(FC_LOG_ERROR, "smtp-queue id=%s event=error "
			    "reason=\"cannot write a report: %s\"", e->id,
			    strerror(errno));
			for (i = 0; i < e->nrcpts; i++)
				if (e->rcpts[i].state == SMTP_Q_FAILED)
					pending = true;	/* try it again */
		}
		for (i = 0; i < e->nrcpts; i++)
			e->rcpts[i].action = SMTP_ACT_NONE;
	}
	if (!pending) {
		fc_log(FC_LOG_INFO, "smtp-queue id=%s event=done", e->id);
		smtp_queue_remove(r->dir, e->id);
		runner_drop(r, e);
	} else {
		e->next = now + (int64_t)(runner_backoff(r->conf, e->attempts) /
		    1000);
		runner_clamp_next(r, e);
		if (smtp_queue_save(r->dir, e, r->conf->queue_fsync) < 0)
			fc_log(FC_LOG_ERROR, "smtp-queue id=%s event=error "
			    "reason=\"cannot save the envelope: %s\"", e->id,
			    strerror(errno));
		/* removed while we saved: the envelope must not outlive it */
		else
			(void)runner_gone(r, e);
	}
	fc_arena_free(&at->arena);
	runner_kick(r);
}

/*
 * A recipient's answer: sent, failed for good, or to be tried again. A
 * success is reported as ok_action (delivered here, or relayed to a hop
 * without DSN) when the recipient asked; SMTP_ACT_NONE: not by us.
 */
static void
attempt_result(struct attempt *at, size_t i, int code, const char *text,
    enum smtp_action ok_action)
{
	struct smtp_qrcpt *rc = &at->e->rcpts[i];

	rc->reply = fc_arena_printf(at->e->arena, "%d %s", code, text);
	rc->action = SMTP_ACT_NONE;
	if (code / 100 == 2) {
		rc->state = SMTP_Q_SENT;
		if (ok_action != SMTP_ACT_NONE
		    && smtp_queue_wants_action(at->e, rc, ok_action, false))
			rc->action = ok_action;
	} else if (code / 100 == 5)
		rc->state = SMTP_Q_FAILED;
	fc_log(FC_LOG_INFO, "smtp-queue id=%s event=%s rcpt=<%s> "
	    "reply=\"%s\"", at->e->id, code / 100 == 2 ? "sent" :
	    code / 100 == 5 ? "failed" : "deferred",
	    fc_log_quote(at->arena, rc->address, 256),
	    fc_log_quote(at->arena, rc->reply, 300));
}

static void
hop_done(struct hop *h)
{
	struct attempt *at = h->at;

	fc_dns_cancel(&h->q);
	if (--at->pending == 0)
		attempt_finish(at);
}

static void
hop_fail(struct hop *h, int code, const char *text)
{
	size_t i;

	for (i = 0; i < h->nidx; i++)
		attempt_result(h->at, h->idx[i], code, text, SMTP_ACT_NONE);
	hop_done(h);
}

static void
hop_sent(struct smtp_send *t, void *arg)
{
	struct hop *h = arg;
	size_t i;

	/* a next hop with DSN reports the success itself (NOTIFY went on) */
	for (i = 0; i < h->nidx; i++)
		attempt_result(h->at, h->idx[i], t->codes[i] != 0 ?
		    t->codes[i] : 451, t->codes[i] != 0 ? t->texts[i] :
		    "4.4.0 no answer", t->dsn ? SMTP_ACT_NONE :
		    SMTP_ACT_RELAYED);
	hop_done(h);
}

/* ------------------------------------------------------------------ */
/* The next hop */

static void
hop_send(struct hop *h)
{
	struct smtp_send *t = &h->send;
	struct attempt *at = h->at;
	struct smtp_qentry *e = at->e;
	unsigned int *notify;
	size_t i;

	if (t->naddrs == 0) {
		hop_fail(h, 451, "4.4.4 no address to send to");
		return;
	}
	t->arena = at->arena;
	t->dir = at->r->dir;
	t->id = e->id;
	t->helo = at->r->conf->hostname != NULL ? at->r->conf->hostname :
	    fc_core_hostname(at->r->core);
	t->sender = e->sender;
	t->rcpts = fc_arena_alloc(at->arena, h->nidx * sizeof(char *));
	/* the sender's DSN requests, for a next hop that takes them */
	t->ret = e->ret;
	t->envid = e->envid;
	notify = fc_arena_alloc(at->arena, h->nidx * sizeof(*notify));
	t->notify = notify;
	t->orcpts = fc_arena_alloc(at->arena, h->nidx * sizeof(char *));
	t->need_utf8 = false;
	for (i = 0; i < h->nidx; i++) {
		const struct smtp_qrcpt *rc = &e->rcpts[h->idx[i]];
		const char *a = rc->address, *p;

		t->rcpts[i] = a;
		notify[i] = rc->notify;
		t->orcpts[i] = rc->orcpt;
		for (p = a; *p != '\0'; p++)
			t->need_utf8 |= (unsigned char)*p >= 0x80;
	}
	for (i = 0; e->sender[i] != '\0'; i++)
		t->need_utf8 |= (unsigned char)e->sender[i] >= 0x80;
	t->nrcpts = h->nidx;
	t->headers = at->headers;
	t->conf_tls = at->r->conf->tls_outbound;
	/* one hop per domain: its kept connections serve its next mail */
	t->pool_key = h->domain;
	t->timeout = at->r->conf->send_timeout;
	t->done = hop_sent;
	t->arg = h;
	smtp_send_start(t);
}

static void
hop_add_address(struct hop *h, const char *ip, const char *name)
{
	struct smtp_send *t = &h->send;
	struct sockaddr_in *sin;
	struct sockaddr_in6 *sin6;

	if (t->naddrs == SMTP_SEND_ADDRS_MAX)
		return;
	memset(&t->addrs[t->naddrs], 0, sizeof(t->addrs[0]));
	sin = (struct sockaddr_in *)&t->addrs[t->naddrs];
	sin6 = (struct sockaddr_in6 *)&t->addrs[t->naddrs];
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(h->port);
		t->addrlens[t->naddrs] = sizeof(*sin);
	} else if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(h->port);
		t->addrlens[t->naddrs] = sizeof(*sin6);
	} else
		return;
	t->names[t->naddrs] = fc_arena_printf(h->at->arena, "%s[%s]:%u",
	    name, ip, h->port);
	if (t->hostname == NULL)
		t->hostname = fc_arena_strdup(h->at->arena, name);
	t->naddrs++;
}

static void
hop_addr_cb(void *arg, enum fc_dns_status st, const struct fc_dns_answer *a)
{
	struct hop *h = arg;

	h->q = NULL;
	(void)st;
	for (; a != NULL; a = a->next)
		hop_add_address(h, a->text, h->mx[h->mx_i]);
	if (!h->aaaa_done) {
		h->aaaa_done = true;
		h->q = fc_dns_resolve(h->mx[h->mx_i], FC_DNS_AAAA,
		    RUNNER_DNS_TIMEOUT_MS, hop_addr_cb, h);
		if (h->q != NULL)
			return;
	}
	h->mx_i++;
	hop_resolve_next(h);
}

/* Resolves the next MX host's addresses, or sends when all are done. */
static void
hop_resolve_next(struct hop *h)
{
	struct in6_addr tmp;

	for (; h->mx_i < h->nmx; h->mx_i++) {
		const char *host = h->mx[h->mx_i];

		if (inet_pton(AF_INET, host, &tmp) == 1
		    || inet_pton(AF_INET6, host, &tmp) == 1) {
			hop_add_address(h, host, host);
			continue;
		}
		h->aaaa_done = false;
		h->q = fc_dns_resolve(host, FC_DNS_A, RUNNER_DNS_TIMEOUT_MS,
		    hop_addr_cb, h);
		if (h->q != NULL)
			return;
	}
	hop_send(h);
}

static int
hop_mx_cmp(const void *a, const void *b)
{
	const struct fc_dns_answer *x = *(const struct fc_dns_answer *const *)a;
	const struct fc_dns_answer *y = *(const struct fc_dns_answer *const *)b;

	return (int)x->preference - (int)y->preference;
}

static void
hop_mx_cb(void *arg, enum fc_dns_status st, const struct fc_dns_answer *ans)
{
	struct hop *h = arg;
	const struct fc_dns_answer *a, *sorted[32];
	size_t n = 0, i;

	h->q = NULL;
	if (st == FC_DNS_NXDOMAIN) {
		hop_fail(h, 550, "5.1.2 the recipient's domain does not exist");
		return;
	}
	if (st == FC_DNS_TEMPFAIL) {
		hop_fail(h, 451, "4.4.3 cannot look up the recipient's domain");
		return;
	}
	for (a = ans; a != NULL && n < 32; a = a->next)
		sorted[n++] = a;
	if (n == 0) {
		/* no MX: the domain itself (RFC 5321 5.1) */
		h->mx = fc_arena_alloc(h->at->arena, sizeof(char *));
		h->mx[0] = h->domain;
		h->nmx = 1;
		hop_resolve_next(h);
		return;
	}
	qsort(sorted, n, sizeof(sorted[0]), hop_mx_cmp);
	if (n == 1 && (sorted[0]->text[0] == '\0'
	    || strcmp(sorted[0]->text, ".") == 0)) {
		/* RFC 7505: a null MX: the domain takes no mail */
		hop_fail(h, 556, "5.1.10 the recipient's domain does not "
		    "accept mail");
		return;
	}
	h->mx = fc_arena_alloc(h->at->arena, n * sizeof(char *));
	for (i = 0; i < n; i++)
		h->mx[i] = fc_arena_strdup(h->at->arena, sorted[i]->text);
	h->nmx = n;
	hop_resolve_next(h);
}

/* Where a domain's mail goes: a route, the relay host, or DNS. */
static void
hop_route(struct hop *h)
{
	const struct smtp_conf *conf = h->at->r->conf;
	const char *dest = NULL;
	size_t i;

	h->port = 25;
	for (i = 0; i < conf->nroutes; i++)
		if (strcasecmp(conf->routes[i].domain, h->domain) == 0)
			dest = conf->routes[i].dest;
	for (i = 0; dest == NULL && i < conf->nroutes; i++)
		if (strcmp(conf->routes[i].domain, "*") == 0)
			dest = conf->routes[i].dest;
	if (dest == NULL)
		dest = conf->relay_host;
	if (dest != NULL) {
		char *host = fc_arena_strdup(h->at->arena, dest), *colon;

		colon = host[0] == '[' ? strstr(host, "]:") : strrchr(host,
		    ':');
		if (colon != NULL && (host[0] == '[' || strchr(host, ':') ==
		    colon)) {
			h->port = (uint16_t)strtoul(colon + (host[0] == '[' ?
			    2 : 1), NULL, 10);
			*colon = '\0';
		}
		if (host[0] == '[') {
			host++;
			host[strcspn(host, "]")] = '\0';
		}
		h->mx = fc_arena_alloc(h->at->arena, sizeof(char *));
		h->mx[0] = host;
		h->nmx = 1;
		hop_resolve_next(h);
		return;
	}
	h->q = fc_dns_resolve(h->domain, FC_DNS_MX, RUNNER_DNS_TIMEOUT_MS,
	    hop_mx_cb, h);
	if (h->q == NULL)
		hop_fail(h, 451, "4.4.3 cannot look up the recipient's domain");
}

/* ------------------------------------------------------------------ */
/* Starting an attempt */

static const char *
runner_domain(const char *address)
{
	const char *at = strrchr(address, '@');

	return at != NULL ? at + 1 : "";
}

static void
runner_attempt(struct runner *r, struct smtp_qentry *e)
{
	struct attempt *at;
	struct fc_arena *a = fc_arena_new("queue-attempt", 4096);
	struct hop *hops = NULL;
	size_t nhops = 0, i, k;
	const char *err;

	if (runner_gone(r, e)) {
		fc_arena_free(&a);
		return;
	}
	at = fc_arena_alloc(a, sizeof(*at));
	at->r = r;
	at->e = e;
	at->arena = a;
	e->busy = true;
	r->active++;
	/* past its lifetime: reported now, not after one more try */
	if (runner_now() >= runner_expiry(r, e)) {
		attempt_finish(at);
		return;
	}
	runner_warn(r, e);
	at->headers = fc_arena_strdup(a, "");
	for (i = 0; i < e->nheaders; i++)
		at->headers = fc_arena_printf(a, "%s%s\r\n", at->headers,
		    e->headers[i]);
	e->attempts++;
	at->pending = 1;	/* held until every hop has started */

	hops = fc_arena_alloc(a, (e->nrcpts + 1) * sizeof(*hops));
	for (i = 0; i < e->nrcpts; i++) {
		struct smtp_qrcpt *rc = &e->rcpts[i];

		if (rc->state != SMTP_Q_PENDING)
			continue;
		if (rc->user != NULL) {
			/* a local delivery that failed for now at first */
			int fd = smtp_queue_open_message(a, r->dir, e->id);
			enum fc_deliver_result dr = FC_DELIVER_TEMPFAIL;

			if (fd >= 0) {
				dr = fc_deliver(r->core, rc->user, NULL, 0,
				    NULL, fd, e->sender, rc->address,
				    at->headers, &err);
				close(fd);
			} else
				err = "the queued message is missing";
			attempt_result(at, i, dr == FC_DELIVER_OK ? 250 :
			    dr == FC_DELIVER_NOUSER ? 550 :
			    dr == FC_DELIVER_PERMFAIL ? 554 : 451,
			    dr == FC_DELIVER_OK ? "2.0.0 delivered" : err,
			    SMTP_ACT_DELIVERED);
			continue;
		}
		for (k = 0; k < nhops; k++)
			if (strcasecmp(hops[k].domain,
			    runner_domain(rc->address)) == 0)
				break;
		if (k == nhops) {
			hops[k].at = at;
			hops[k].domain = fc_arena_strdup(a,
			    runner_domain(rc->address));
			hops[k].idx = fc_arena_alloc(a, e->nrcpts *
			    sizeof(size_t));
			nhops++;
		}
		hops[k].idx[hops[k].nidx++] = i;
	}
	for (k = 0; k < nhops; k++) {
		struct stat st;
		char path[4096];

		snprintf(path, sizeof(path), "%s/msg/%s", r->dir, e->id);
		hops[k].send.size = stat(path, &st) == 0 ?
		    (uint64_t)st.st_size : 0;
		at->pending++;
		hop_route(&hops[k]);
	}
	/* the hold: the last hop to finish (maybe already) ends it */
	if (--at->pending == 0)
		attempt_finish(at);
}

/* ------------------------------------------------------------------ */
/* Scheduling */

static void
runner_tick_cb(void *arg)
{
	struct runner *r = arg;

	r->tick = NULL;
	if ((uint64_t)runner_now() - r->last_scan > RUNNER_RESCAN_MS / 1000)
		runner_scan(r);
	runner_kick(r);
}

/*
 * Starts what is due, within the concurrency, and sets the timer. An
 * attempt may end before runner_attempt() returns (local deliveries
 * only) and call us again: that call only asks for another pass, since
 * it could free the entry the loop here holds as the next one.
 */
static void
runner_kick(struct runner *r)
{
	struct smtp_qentry *e, *next;
	int64_t now, soonest;
	bool any;

	if (r->kicking) {
		r->kick_again = true;
		return;
	}
	if (r->stopping) {
		if (r->active == 0)
			fc_process_done();
		return;
	}
	if (r->lock_fd < 0)
		return;
	r->kicking = true;
	do {
		r->kick_again = false;
		now = runner_now();
		soonest = 0;
		any = false;
		for (e = r->entries; e != NULL; e = next) {
			next = e->next_entry;
			if (e->busy)
				continue;
			if (e->next <= now
			    && r->active < r->conf->queue_concurrency) {
				runner_attempt(r, e);
				if (r->kick_again)
					break;	/* next may be gone */
				continue;
			}
			if (!any || e->next < soonest)
				soonest = e->next;
			any = true;
		}
	} while (r->kick_again);
	r->kicking = false;
	fc_alarm_cancel(&r->tick);
	{
		uint64_t ms = RUNNER_RESCAN_MS;

		/* whole seconds from a time rounded down: a retry may come up
		 * to a second late, never before its delay */
		if (any && soonest <= now)
			ms = 100;
		else if (any && (uint64_t)(soonest - now) * 1000 < ms)
			ms = (uint64_t)(soonest - now) * 1000;
		r->tick = fc_alarm_add(ms, runner_tick_cb, r);
	}
}

/*
 * `facteurctl queue flush`: the entry is due now. The request is a file
 * of flush/ named after the entry, taken (unlinked) here; only the
 * runner that works the queue takes them, so one waiting for the lock
 * or stopping leaves them to the next.
 */
static void
runner_flush(struct runner *r, const char *id)
{
	struct smtp_qentry *e;
	char path[4096];

	if (r->lock_fd < 0 || r->stopping || id[0] == '.')
		return;
	snprintf(path, sizeof(path), "%s/flush/%s", r->dir, id);
	if (unlink(path) < 0 || !smtp_queue_id_valid(id))
		return;
	if ((e = runner_find(r, id)) == NULL) {
		runner_load(id, r);
		e = runner_find(r, id);
	}
	/* gone, or being tried right now: nothing to hurry */
	if (e == NULL || e->busy)
		return;
	e->next = 0;
	fc_log(FC_LOG_INFO, "smtp-queue id=%s event=flush", e->id);
}

/* The requests left while no runner worked the queue. */
static void
runner_flush_scan(struct runner *r)
{
	char path[4096];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/flush", r->dir);
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		runner_flush(r, de->d_name);
	closedir(d);
}

static void
runner_inotify_cb(int fd, void *arg)
{
	struct runner *r = arg;
	char buf[8192] __attribute__((aligned(__alignof__(struct
	    inotify_event))));
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		char *p;

		for (p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;

			if (ev->len > 0 && ev->wd == r->wd_flush) {
				if (ev->mask & (IN_MOVED_TO | IN_CLOSE_WRITE))
					runner_flush(r, ev->name);
			} else if (ev->len > 0 && ev->name[0] != '.') {
				if (ev->mask & (IN_MOVED_TO | IN_CLOSE_WRITE))
					runner_load(ev->name, r);
				else if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
					struct smtp_qentry *e =
					    runner_find(r, ev->name);

					if (e != NULL && !e->busy)
						runner_drop(r, e);
				}
			}
			p += sizeof(*ev) + ev->len;
		}
	}
	runner_kick(r);
}

/* The queue is ours once we hold its lock; until then, try again. */
static void
runner_lock_cb(void *arg)
{
	struct runner *r = arg;
	char path[4096];
	int fd;

	r->lock_alarm = NULL;
	if (r->stopping) {
		fc_process_done();
		return;
	}
	snprintf(path, sizeof(path), "%s/lock", r->dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
		r->lock_fd = fd;
		fc_log(FC_LOG_DEBUG, "smtp-queue: working %s", r->dir);
		runner_scan(r);
		runner_flush_scan(r);
		runner_kick(r);
		return;
	}
	if (fd >= 0)
		close(fd);
	r->lock_alarm = fc_alarm_add(RUNNER_LOCK_RETRY_MS, runner_lock_cb, r);
}

static int
runner_start(struct fc_core *core, void *arg, const char **error_r)
{
	struct smtp_conf *conf = arg;
	struct runner *r = &the_runner;
	char path[4096];

	memset(r, 0, sizeof(*r));
	r->core = core;
	r->conf = conf;
	r->dir = conf->queue_dir;
	r->lock_fd = -1;
	if (smtp_queue_prepare(r->dir) < 0) {
		*error_r = "cannot create the queue folders";
		return -1;
	}
	r->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	snprintf(path, sizeof(path), "%s/env", r->dir);
	if (r->ino < 0 || inotify_add_watch(r->ino, path, IN_MOVED_TO |
	    IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM) < 0) {
		*error_r = "inotify on the queue failed";
		return -1;
	}
	snprintf(path, sizeof(path), "%s/flush", r->dir);
	r->wd_flush = inotify_add_watch(r->ino, path, IN_MOVED_TO |
	    IN_CLOSE_WRITE);
	if (r->wd_flush < 0) {
		*error_r = "inotify on the queue failed";
		return -1;
	}
	r->io = fc_io_watch(r->ino, runner_inotify_cb, r);
	runner_lock_cb(r);
	return 0;
}

static void
runner_stop(void *arg)
{
	struct runner *r = &the_runner;

	(void)arg;
	r->stopping = true;
	fc_alarm_cancel(&r->tick);
	if (r->active == 0)
		fc_process_done();
	/* else the last attempt to end calls it (runner_kick) */
}

const struct fc_process_ops smtp_runner_ops = {
	.size = sizeof(struct fc_process_ops),
	.start = runner_start,
	.stop = runner_stop,
};
