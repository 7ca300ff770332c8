/*
 * session.c - one client connection: limits, TLS, compression (the
 * stream itself is session_deflate.c), timeouts, and the input modes and
 * output of include/facteur/session.h.
 *
 * States. READY: input is framed and handed to the module. WAIT: the
 * module waits for something (fc_session_resume() ends it). MORE: the
 * module produces output as the socket drains (ops->drained). CLOSING:
 * output is flushed, then the session is freed. Input keeps arriving in
 * WAIT and MORE until max_input_buffer, then reading pauses: that bounds
 * pipelining.
 *
 * The idle deadline runs only while the session waits for the client
 * (READY), and restarts when a line completes or a body makes progress,
 * so a client dripping a byte per second still times out. A client that
 * does not read its output is cut off by the write timeout.
 *
 * Re-entrancy: handlers run only from session_process(); a resume from
 * inside a handler is remembered and applied when the handler returns,
 * and a session is only freed from the event callbacks, never under a
 * handler's feet.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/random.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <facteur/arena.h>
#include <facteur/log.h>
#include <facteur/session.h>

#include "core.h"
#include "dot.h"
#include "line.h"
#include "session_deflate.h"

#define OUTPUT_HIGH		(128 * 1024)	/* output_full() above this */
#define OUTPUT_LOW		(32 * 1024)	/* drained() below this */
#define SPOOL_CHUNK		16384
#define LINES_PER_ROUND		64		/* then let others run */
#define BODY_PROGRESS		8192		/* bytes that reset the deadline */
#define FAREWELL_TIMEOUT_MS	10000

enum session_state {
	ST_READY = 0,
	ST_WAIT,
	ST_MORE,
	ST_CLOSING,
};

enum session_mode {
	MODE_LINE = 0,
	MODE_BYTES,
	MODE_SPOOL_BYTES,
	MODE_SPOOL_DOT,
};

struct fc_timer {
	struct event *ev;
	struct fc_session *s;
	fc_timer_fn *fn;
	void *arg;
	struct fc_timer *prev, *next;
};

struct fc_session {
	struct fc_arena *arena;
	struct fc_service *svc;
	struct fc_listen *listen;
	struct bufferevent *bev;	/* the top filter: TLS, compression */
	SSL *ssl;
	struct fc_deflate *deflate;	/* owned by the top filter */
	char id[17];

	struct sockaddr_storage peer;
	socklen_t peerlen;
	char peer_ip[INET6_ADDRSTRLEN];
	char *local_ip;			/* computed on first use */
	unsigned int local_port;

	enum session_state state;
	enum session_mode mode;
	struct fc_line_framer framer;
	uint64_t remaining;		/* MODE_BYTES, MODE_SPOOL_BYTES */
	int spool_fd;
	uint64_t spool_max;
	uint64_t progress;		/* body bytes since the deadline */
	struct fc_spool_result result;
	struct fc_dot_decoder *dot;

	struct event *deadline;
	struct event *finish;		/* CLOSING: checks the output is out */
	struct evbuffer_cb_entry *under_cb;
	uint64_t idle_timeout;
	unsigned int errors;
	bool busy;			/* inside a handler */
	bool resumed;			/* fc_session_resume() while busy */
	enum fc_next resume_next;
	bool eof;			/* the client closed its side */
	bool stopping;			/* the worker is shutting down */
	bool ended;			/* ops->end has run */
	bool starttls_pending;		/* switch after the current line */
	bool compress_pending;		/* likewise for compression */
	bool output_blocked;		/* READY, but the output is full */

	uint64_t iptable_key;
	bool iptable_tracked;
	void *data;
	struct fc_hook_run *hook_run;	/* made on first use */
	const struct fc_user *user;
	struct fc_timer *timers;
	uint64_t started_ms;
	uint64_t bytes_in;
	struct fc_session *prev, *next;
};

static struct fc_session *sessions;
static unsigned int nsessions;
static uint64_t session_counter;
static uint64_t session_id_salt;

static void session_process(struct fc_session *s);
static void session_apply(struct fc_session *s, enum fc_next next);
static void session_free(struct fc_session *s, const char *why);
static void session_readcb(struct bufferevent *bev, void *arg);
static void session_writecb(struct bufferevent *bev, void *arg);
static void session_eventcb(struct bufferevent *bev, short what, void *arg);
static void session_start_tls(struct fc_session *s);
static void session_start_compress(struct fc_session *s);
static void session_begin_close(struct fc_session *s);
static void session_watch_output(struct fc_session *s);

uint64_t
fc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct timeval
session_tv(uint64_t ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	return tv;
}

/* Unique per process and unpredictable enough not to collide across
 * workers and restarts: a random salt mixed with a counter. */
static void
session_make_id(struct fc_session *s)
{
	uint64_t x;

	if (session_id_salt == 0) {
		if (getrandom(&session_id_salt, sizeof(session_id_salt), 0)
		    != sizeof(session_id_salt))
			session_id_salt = (uint64_t)getpid() << 32 ^
			    (uint64_t)time(NULL);
		session_id_salt |= 1;
	}
	x = session_id_salt + ++session_counter * 0x9e3779b97f4a7c15ULL;
	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 29;
	snprintf(s->id, sizeof(s->id), "%016llx", (unsigned long long)x);
}

/* ------------------------------------------------------------------ */
/* Deadline */

static void
session_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fc_session *s = arg;

	(void)fd;
	(void)what;
	if (s->state == ST_CLOSING) {
		session_free(s, "flush timeout");
		return;
	}
	fc_log_session(s, FC_LOG_INFO, "event=timeout idle=%llums",
	    (unsigned long long)s->idle_timeout);
	if (s->svc->ops->timeout != NULL) {
		s->busy = true;
		s->svc->ops->timeout(s);
		s->busy = false;
	}
	session_apply(s, FC_NEXT_CLOSE);
}

static void
session_deadline_start(struct fc_session *s, uint64_t ms)
{
	struct timeval tv = session_tv(ms);

	evtimer_add(s->deadline, &tv);
}

static void
session_deadline_stop(struct fc_session *s)
{
	evtimer_del(s->deadline);
}

/* ------------------------------------------------------------------ */
/* Accept and free */

/*
 * Callbacks, limits and timeouts of the session's bufferevent: at accept,
 * and again on the TLS or compression filter put on top of it.
 */
static void
session_setup_bev(struct fc_session *s)
{
	const struct fc_service_conf *sc = &s->svc->sc;
	struct timeval wt = session_tv(s->idle_timeout);
	size_t high = sc->max_input_buffer;

	/* reading pauses with this much waiting; a whole line must fit */
	if (high < sc->max_line_length + 4096)
		high = sc->max_line_length + 4096;
	bufferevent_setcb(s->bev, session_readcb, NULL, session_eventcb, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, high);
	/* under a TLS filter, the high mark also bounds the encrypted
	 * bytes waiting below it */
	bufferevent_setwatermark(s->bev, EV_WRITE, OUTPUT_LOW, OUTPUT_HIGH);
	/* libevent writes 16 KiB a round by default: a long answer (RETR,
	 * FETCH) would then cost a trip through the loop per 16 KiB */
	bufferevent_set_max_single_write(s->bev, OUTPUT_HIGH);
	bufferevent_set_timeouts(s->bev, NULL, &wt);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

/* The socket's bufferevent under the filters, or NULL without any. */
static struct bufferevent *
session_bottom(struct fc_session *s)
{
	struct bufferevent *b = s->bev, *under;

	if (bufferevent_get_underlying(b) == NULL)
		return NULL;
	while ((under = bufferevent_get_underlying(b)) != NULL)
		b = under;
	return b;
}

static void
session_busy_reply(struct fc_service *svc, int fd)
{
	const char *reply = svc->ops->busy_reply;
	ssize_t r;

	if (reply == NULL)
		return;
	/* best effort, non-blocking: the socket buffer is empty */
	do {
		r = send(fd, reply, strlen(reply), MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (r < 0 && errno == EINTR);
}

static bool
session_limits_ok(struct fc_service *svc, const struct sockaddr *peer,
    uint64_t key, const char **why_r)
{
	const struct fc_core *core = svc->core;

	if (fc_iptable_total() >= core->cc.max_connections) {
		*why_r = "max_connections";
		return false;
	}
	if (fc_iptable_connections(key) >= svc->sc.max_connections_per_ip) {
		*why_r = "max_connections_per_ip";
		return false;
	}
	(void)peer;
	return true;
}

void
fc_session_accept(struct fc_service *svc, struct fc_listen *l, int fd,
    const struct sockaddr *peer, socklen_t peerlen)
{
	struct event_base *base = fc_worker_base();
	struct fc_arena *a;
	struct fc_session *s;
	const char *why = "shutting down";
	uint64_t key;
	int on = 1;

	key = fc_iptable_key(peer, svc->module->name);
	if (fc_worker_stopping() || !session_limits_ok(svc, peer, key, &why)) {
		char ip[INET6_ADDRSTRLEN];

		fc_log(FC_LOG_NOTICE, "%s event=refused client=%s reason=%s",
		    svc->module->name, fc_sockaddr_ip(peer, ip, sizeof(ip)),
		    why);
		session_busy_reply(svc, fd);
		close(fd);
		return;
	}

	/* the session lives in its own arena's first block, with room
	 * for a module's small state: one allocation per idle client */
	a = fc_arena_new("session", sizeof(*s) + 256);
	s = fc_arena_alloc(a, sizeof(*s));
	s->arena = a;
	s->svc = svc;
	s->listen = l;
	s->spool_fd = -1;
	s->framer.max = svc->sc.max_line_length;
	s->idle_timeout = svc->sc.idle_timeout;
	s->started_ms = fc_now_ms();
	memcpy(&s->peer, peer, peerlen);
	s->peerlen = peerlen;
	fc_sockaddr_ip(peer, s->peer_ip, sizeof(s->peer_ip));
	session_make_id(s);
	s->iptable_key = key;
	s->iptable_tracked = fc_iptable_connect(key);
	fc_iptable_open();

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (l->tls) {
		s->ssl = SSL_new(svc->tls);
		s->bev = bufferevent_openssl_socket_new(base, fd, s->ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		if (s->bev != NULL)
			bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	} else
		s->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL) {
		fc_log(FC_LOG_ERROR, "%s event=error reason=\"cannot set up a "
		    "buffer for a connection\"", svc->module->name);
		if (s->ssl != NULL)
			SSL_free(s->ssl);
		close(fd);
		fc_iptable_close();
		if (s->iptable_tracked)
			fc_iptable_disconnect(key);
		fc_arena_free(&a);
		return;
	}
	s->deadline = evtimer_new(base, session_deadline_cb, s);

	s->next = sessions;
	if (sessions != NULL)
		sessions->prev = s;
	sessions = s;
	nsessions++;

	session_setup_bev(s);

	fc_log_session(s, FC_LOG_INFO, "event=connect client=%s port=%u "
	    "local=%s:%u%s", s->peer_ip, fc_session_peer_port(s),
	    fc_session_local_ip(s), fc_session_local_port(s),
	    l->tls ? " tls=implicit" : "");

	s->busy = true;
	session_apply(s, svc->ops->start(s));
	s->busy = false;
	session_process(s);
}

static void
session_cancel_timers(struct fc_session *s)
{
	struct fc_timer *t;

	while ((t = s->timers) != NULL) {
		s->timers = t->next;
		event_free(t->ev);
		free(t);
	}
}

static void
session_free(struct fc_session *s, const char *why)
{
	struct fc_arena *a = s->arena;

	if (!s->ended) {
		s->ended = true;
		if (s->svc->ops->end != NULL)
			s->svc->ops->end(s);
	}
	fc_log_session(s, FC_LOG_INFO, "event=disconnect reason=\"%s\" "
	    "duration=%llums in=%llu", why,
	    (unsigned long long)(fc_now_ms() - s->started_ms),
	    (unsigned long long)s->bytes_in);
	session_cancel_timers(s);
	if (s->deadline != NULL)
		event_free(s->deadline);
	if (s->finish != NULL)
		event_free(s->finish);
	if (s->under_cb != NULL)
		evbuffer_remove_cb_entry(bufferevent_get_output(
		    session_bottom(s)), s->under_cb);
	if (s->bev != NULL)
		bufferevent_free(s->bev);	/* frees the SSL and the socket */
	free(s->dot);
	fc_iptable_close();
	if (s->iptable_tracked)
		fc_iptable_disconnect(s->iptable_key);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	nsessions--;
	fc_arena_free(&a);
	fc_worker_session_closed();
}

/* ------------------------------------------------------------------ */
/* Closing: the output goes out first */

/* Is everything written? Under a filter (TLS, compression), bytes wait
 * in the layers below after the top one's buffer is empty, and the
 * compressor may hold some until its next flush. */
static bool
session_output_done(struct fc_session *s)
{
	struct bufferevent *b;

	if (s->deflate != NULL && fc_deflate_unflushed(s->deflate))
		return false;
	for (b = s->bev; b != NULL; b = bufferevent_get_underlying(b))
		if (evbuffer_get_length(bufferevent_get_output(b)) != 0)
			return false;
	return true;
}

static void
session_finish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fc_session *s = arg;

	(void)fd;
	(void)what;
	if (session_output_done(s))
		session_free(s, s->eof ? "client closed" : "closed");
}

/* Called from inside libevent as the underlying buffer drains: only
 * schedule the check, never free from here. */
static void
session_under_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct fc_session *s = arg;

	(void)info;
	if (evbuffer_get_length(buf) == 0)
		event_active(s->finish, EV_TIMEOUT, 0);
}

static void
session_begin_close(struct fc_session *s)
{
	struct bufferevent *under = session_bottom(s);

	s->state = ST_CLOSING;
	/* the farewell must not wait in the compressor */
	if (s->deflate != NULL)
		bufferevent_flush(s->bev, EV_WRITE, BEV_FLUSH);
	bufferevent_disable(s->bev, EV_READ);
	bufferevent_setcb(s->bev, NULL, session_writecb, session_eventcb, s);
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, OUTPUT_HIGH);
	s->finish = event_new(fc_worker_base(), -1, 0, session_finish_cb, s);
	if (under != NULL)
		s->under_cb = evbuffer_add_cb(bufferevent_get_output(under),
		    session_under_cb, s);
	/* a client that does not read gets a short grace */
	session_deadline_start(s, FAREWELL_TIMEOUT_MS);
	event_active(s->finish, EV_TIMEOUT, 0);
}

/*
 * Asks for session_writecb() once the output is down to OUTPUT_LOW
 * (at once, from the loop, if it already is).
 */
static void
session_watch_output(struct fc_session *s)
{
	bufferevent_setcb(s->bev, session_readcb, session_writecb,
	    session_eventcb, s);
	bufferevent_setwatermark(s->bev, EV_WRITE, OUTPUT_LOW, OUTPUT_HIGH);
	bufferevent_trigger(s->bev, EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
}

/* ------------------------------------------------------------------ */
/* What handlers return */

static void
session_apply(struct fc_session *s, enum fc_next next)
{
	if (s->state == ST_CLOSING)
		return;
	switch (next) {
	case FC_NEXT_CONTINUE:
		/* the client has idle_timeout to send the next command */
		s->state = ST_READY;
		session_deadline_start(s, s->idle_timeout);
		break;
	case FC_NEXT_WAIT:
		s->state = ST_WAIT;
		session_deadline_stop(s);
		break;
	case FC_NEXT_MORE:
		s->state = ST_MORE;
		session_deadline_stop(s);
		session_watch_output(s);
		break;
	case FC_NEXT_CLOSE:
	default:
		session_begin_close(s);
		break;
	}
}

/*
 * After a handler returns (its input already drained): start TLS if it
 * asked for it, then apply its result, or the resume it asked for while
 * it was running.
 */
static void
session_handled(struct fc_session *s, enum fc_next next)
{
	s->busy = false;
	if (s->starttls_pending)
		session_start_tls(s);
	if (s->compress_pending)
		session_start_compress(s);
	if (next == FC_NEXT_WAIT && s->resumed)
		next = s->resume_next;
	s->resumed = false;
	session_apply(s, next);
}

/* ------------------------------------------------------------------ */
/* Input */

static void
session_spool_write(struct fc_session *s, const char *p, size_t n)
{
	ssize_t w;

	if (s->result.too_big || s->result.error != 0 || n == 0)
		return;
	if (s->spool_max != 0 && s->result.size + n > s->spool_max) {
		s->result.too_big = true;
		return;
	}
	while (n > 0) {
		w = write(s->spool_fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			s->result.error = errno;
			return;
		}
		p += w;
		n -= (size_t)w;
		s->result.size += (uint64_t)w;
	}
}

static void
session_body_progress(struct fc_session *s, size_t n)
{
	s->progress += n;
	if (s->progress >= BODY_PROGRESS) {
		s->progress = 0;
		session_deadline_start(s, s->idle_timeout);
	}
}

/* Feeds exact-count input (MODE_BYTES, MODE_SPOOL_BYTES). Returns false
 * when more input is needed. */
static bool
session_input_bytes(struct fc_session *s, struct evbuffer *in)
{
	struct evbuffer_iovec v;
	size_t n;
	bool last;

	if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
		return false;
	n = v.iov_len < s->remaining ? v.iov_len : (size_t)s->remaining;
	s->remaining -= n;
	s->bytes_in += n;
	last = s->remaining == 0;
	session_body_progress(s, n);
	if (s->mode == MODE_SPOOL_BYTES) {
		const char *p = v.iov_base, *end = p + n;

		/* counted as the dot reader counts them, for reject_nul */
		while ((p = memchr(p, '\0', (size_t)(end - p))) != NULL) {
			s->result.nul++;
			p++;
		}
		s->result.received += n;
		session_spool_write(s, v.iov_base, n);
		evbuffer_drain(in, n);
		if (!last)
			return true;
		s->mode = MODE_LINE;
		s->busy = true;
		session_handled(s, s->svc->ops->spooled(s, &s->result));
		return true;
	}
	if (last)
		s->mode = MODE_LINE;
	s->busy = true;
	/* the data stays in the buffer during the call */
	{
		enum fc_next next = s->svc->ops->bytes(s, v.iov_base, n, last);

		evbuffer_drain(in, n);
		session_handled(s, next);
	}
	return true;
}

static bool
session_input_dot(struct fc_session *s, struct evbuffer *in)
{
	char out[2 * SPOOL_CHUNK + 2];
	struct evbuffer_iovec v;
	size_t len, used, outlen;
	bool done;

	if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
		return false;
	len = v.iov_len < SPOOL_CHUNK ? v.iov_len : SPOOL_CHUNK;
	used = fc_dot_decode(s->dot, v.iov_base, len, out, &outlen, &done);
	s->bytes_in += used;
	session_spool_write(s, out, outlen);
	evbuffer_drain(in, used);
	session_body_progress(s, used);
	if (!done)
		return true;
	s->result.received = s->dot->counts.received;
	s->result.bare_lf = s->dot->counts.bare_lf;
	s->result.bare_cr = s->dot->counts.bare_cr;
	s->result.nul = s->dot->counts.nul;
	s->result.longest_line = s->dot->counts.longest_line;
	free(s->dot);
	s->dot = NULL;
	s->mode = MODE_LINE;
	s->busy = true;
	session_handled(s, s->svc->ops->spooled(s, &s->result));
	return true;
}

static bool
session_input_line(struct fc_session *s, struct evbuffer *in)
{
	enum fc_line_status st;
	enum fc_next next;
	size_t len, drain;
	char *line;

	st = fc_line_next(&s->framer, in, &line, &len, &drain);
	s->bytes_in += drain;
	switch (st) {
	case FC_LINE_NONE:
		evbuffer_drain(in, drain);
		/* a skipped line ended: look again */
		return drain > 0 && evbuffer_get_length(in) > 0;
	case FC_LINE_TOO_LONG:
		evbuffer_drain(in, drain);
		fc_log_session(s, FC_LOG_INFO, "event=line-too-long max=%llu",
		    (unsigned long long)s->framer.max);
		s->busy = true;
		next = s->svc->ops->line_too_long != NULL ?
		    s->svc->ops->line_too_long(s) : FC_NEXT_CLOSE;
		session_handled(s, next);
		return true;
	case FC_LINE_OK:
		break;
	}
	s->busy = true;
	next = s->svc->ops->line(s, line, len);
	evbuffer_drain(in, drain);
	session_handled(s, next);
	return true;
}

static void
session_stop(struct fc_session *s)
{
	if (s->svc->ops->stop != NULL) {
		s->busy = true;
		s->svc->ops->stop(s);
		s->busy = false;
	}
	session_apply(s, FC_NEXT_CLOSE);
}

/*
 * Under compression, input may be left where the filter has not yet
 * looked: compressed bytes the client sent right after asking for
 * compression, or inflated bytes zlib held back while the session's
 * input was full. Inflates them now; says whether input came of it.
 */
static bool
session_inflate_more(struct fc_session *s)
{
	struct evbuffer *in;
	size_t before;

	if (s->deflate == NULL)
		return false;
	in = bufferevent_get_input(s->bev);
	before = evbuffer_get_length(in);
	if (!fc_deflate_inflate_pending(s->deflate) && evbuffer_get_length(
	    bufferevent_get_input(bufferevent_get_underlying(s->bev))) == 0)
		return false;
	bufferevent_flush(s->bev, EV_READ, BEV_NORMAL);
	return evbuffer_get_length(in) > before;
}

/*
 * Serves the input already buffered, as long as the module is ready for
 * it. After LINES_PER_ROUND inputs, the rest waits for the next round of
 * the event loop, so one pipelining client cannot starve the others.
 */
static void
session_process(struct fc_session *s)
{
	unsigned int rounds = 0;
	bool progressed;

	while (s->state == ST_READY) {
		/* fetched each round: STARTTLS replaces the bufferevent */
		struct evbuffer *in = bufferevent_get_input(s->bev);

		if (++rounds > LINES_PER_ROUND) {
			bufferevent_trigger(s->bev, EV_READ,
			    BEV_TRIG_DEFER_CALLBACKS | BEV_TRIG_IGNORE_WATERMARKS);
			return;
		}
		/* a client that sends commands but does not read the
		 * answers: serve nothing more until they go out (its input
		 * then fills up to max_input_buffer and reading stops) */
		if (fc_session_output_full(s)) {
			s->output_blocked = true;
			session_watch_output(s);
			return;
		}
		switch (s->mode) {
		case MODE_LINE:
			progressed = session_input_line(s, in);
			break;
		case MODE_SPOOL_DOT:
			progressed = session_input_dot(s, in);
			break;
		default:
			progressed = session_input_bytes(s, in);
			break;
		}
		if (!progressed && session_inflate_more(s))
			continue;
		if (!progressed) {
			/* no complete command left: if the server stops,
			 * this is the moment to say goodbye */
			if (s->stopping && s->mode == MODE_LINE)
				session_stop(s);
			break;
		}
	}
	if (s->state == ST_READY && s->eof) {
		/* the client is gone and nothing complete is left */
		session_apply(s, FC_NEXT_CLOSE);
	}
}

static void
session_readcb(struct bufferevent *bev, void *arg)
{
	struct fc_session *s = arg;

	(void)bev;
	if (s->state == ST_READY)
		session_process(s);
}

static void
session_writecb(struct bufferevent *bev, void *arg)
{
	struct fc_session *s = arg;

	(void)bev;
	if (s->state == ST_CLOSING) {
		if (session_output_done(s))
			session_free(s, s->eof ? "client closed" : "closed");
		return;
	}
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) > OUTPUT_LOW)
		return;
	if (s->state == ST_READY && s->output_blocked) {
		s->output_blocked = false;
		bufferevent_setcb(s->bev, session_readcb, NULL,
		    session_eventcb, s);
		session_process(s);
		return;
	}
	if (s->state != ST_MORE)
		return;
	bufferevent_setcb(s->bev, session_readcb, NULL, session_eventcb, s);
	s->busy = true;
	session_handled(s, s->svc->ops->drained(s));
	if (s->state == ST_READY)
		session_process(s);
}

static void
session_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct fc_session *s = arg;
	char reason[256];

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		/* the TLS handshake is done */
		fc_log_session(s, FC_LOG_INFO, "event=tls version=%s "
		    "cipher=%s", fc_session_tls_version(s),
		    fc_session_tls_cipher(s));
		return;
	}
	if (what & BEV_EVENT_EOF) {
		/* over TLS nothing more can be written once the client has
		 * closed (libevent's TLS layer stops both directions) */
		if (s->ssl != NULL) {
			session_free(s, "client closed");
			return;
		}
		s->eof = true;
		bufferevent_disable(s->bev, EV_READ);
		if (s->state == ST_READY)
			session_process(s);
		/* WAIT, MORE: the module finishes its answer (a client that
		 * half-closed may still read it); CLOSING: the flush goes on.
		 * A client that is really gone makes the writes fail. */
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		session_free(s, "write timeout");
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		unsigned long e = s->ssl != NULL ?
		    bufferevent_get_openssl_error(s->bev) : 0;

		if (e != 0) {
			ERR_error_string_n(e, reason, sizeof(reason));
			session_free(s, reason);
		} else if (errno != 0) {
			session_free(s, strerror(errno));
		} else
			session_free(s, "connection error");
	}
}

/* ------------------------------------------------------------------ */
/* Module API: input modes and flow */

void
fc_session_read_bytes(struct fc_session *s, uint64_t n)
{
	fc_assert(s->mode == MODE_LINE && n > 0);
	s->mode = MODE_BYTES;
	s->remaining = n;
	s->progress = 0;
}

void
fc_session_spool_bytes(struct fc_session *s, uint64_t n, int fd)
{
	fc_assert(s->mode == MODE_LINE && n > 0);
	memset(&s->result, 0, sizeof(s->result));
	s->mode = MODE_SPOOL_BYTES;
	s->remaining = n;
	s->spool_fd = fd;
	s->spool_max = 0;
	s->progress = 0;
}

void
fc_session_spool_dot(struct fc_session *s, int fd, uint64_t max_size,
    enum fc_eol eol)
{
	fc_assert(s->mode == MODE_LINE);
	memset(&s->result, 0, sizeof(s->result));
	s->dot = fc_malloc(sizeof(*s->dot));
	fc_dot_init(s->dot, eol);
	s->mode = MODE_SPOOL_DOT;
	s->spool_fd = fd;
	s->spool_max = max_size;
	s->progress = 0;
}

void
fc_session_resume(struct fc_session *s, enum fc_next next)
{
	if (s->busy) {
		s->resumed = true;
		s->resume_next = next;
		return;
	}
	if (s->state != ST_WAIT)
		return;
	session_apply(s, next);
	if (s->state == ST_READY)
		session_process(s);
}

void
fc_session_set_idle_timeout(struct fc_session *s, uint64_t ms)
{
	struct timeval wt;

	s->idle_timeout = ms < 100 ? 100 : ms;
	wt = session_tv(s->idle_timeout);
	bufferevent_set_timeouts(s->bev, NULL, &wt);
	if (s->state == ST_READY)
		session_deadline_start(s, s->idle_timeout);
}

bool
fc_session_rate_exceeded(struct fc_session *s, const char *what,
    unsigned int max, uint64_t window_ms)
{
	uint64_t key = fc_iptable_key((struct sockaddr *)&s->peer, what);
	uint64_t now = fc_now_ms();

	fc_iptable_event(key, now, window_ms);
	return fc_iptable_events(key, now, window_ms) > max;
}

bool
fc_session_count_error(struct fc_session *s)
{
	return ++s->errors >= s->svc->sc.max_errors;
}

/* ------------------------------------------------------------------ */
/* Output */

void
fc_session_write(struct fc_session *s, const void *data, size_t len)
{
	if (s->bev != NULL && len > 0)
		bufferevent_write(s->bev, data, len);
}

void
fc_session_puts(struct fc_session *s, const char *str)
{
	fc_session_write(s, str, strlen(str));
}

void
fc_session_printf(struct fc_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(s->bev), fmt, ap);
	va_end(ap);
}

void
fc_session_vreply(struct fc_session *s, const char *fmt, va_list ap)
{
	char buf[FC_REPLY_MAX];
	int n;

	n = vsnprintf(buf, sizeof(buf) - 2, fmt, ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 3)
		n = (int)sizeof(buf) - 3;
	buf[n++] = '\r';
	buf[n++] = '\n';
	fc_session_write(s, buf, (size_t)n);
}

size_t
fc_session_output_pending(struct fc_session *s)
{
	return evbuffer_get_length(bufferevent_get_output(s->bev));
}

bool
fc_session_output_full(struct fc_session *s)
{
	return fc_session_output_pending(s) >= OUTPUT_HIGH;
}

/* ------------------------------------------------------------------ */
/* TLS */

bool
fc_session_tls_active(struct fc_session *s)
{
	return s->ssl != NULL;
}

bool
fc_session_starttls_available(struct fc_session *s)
{
	/* TLS goes under compression, never above it */
	return s->ssl == NULL && !s->starttls_pending && s->svc->tls != NULL
	    && s->deflate == NULL && !s->compress_pending;
}

/*
 * Puts the TLS filter on the connection. Called once the STARTTLS line
 * has been drained, so the line's memory is not pulled away under the
 * handler.
 */
static void
session_start_tls(struct fc_session *s)
{
	struct bufferevent *filter;
	struct evbuffer *in;
	SSL *ssl;

	s->starttls_pending = false;
	/* RFC 3207 section 5: nothing sent before the handshake counts */
	in = bufferevent_get_input(s->bev);
	evbuffer_drain(in, evbuffer_get_length(in));
	ssl = SSL_new(s->svc->tls);
	filter = ssl == NULL ? NULL : bufferevent_openssl_filter_new(
	    fc_worker_base(), s->bev, ssl, BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE);
	if (filter == NULL) {
		if (ssl != NULL)
			SSL_free(ssl);
		fc_log_session(s, FC_LOG_ERROR, "event=error reason=\"cannot "
		    "start TLS\"");
		session_apply(s, FC_NEXT_CLOSE);
		return;
	}
	s->ssl = ssl;
	bufferevent_openssl_set_allow_dirty_shutdown(filter, 1);
	s->bev = filter;
	session_setup_bev(s);
}

int
fc_session_starttls(struct fc_session *s)
{
	if (!fc_session_starttls_available(s) || s->starttls_pending)
		return -1;
	s->starttls_pending = true;
	if (!s->busy)
		session_start_tls(s);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Compression */

static void
session_deflate_error(void *arg, const char *why)
{
	struct fc_session *s = arg;

	session_free(s, why);
}

/*
 * Puts the compression filter on top (above TLS when TLS is on). Called
 * once the command's line has been drained: what follows it in the
 * lower buffer is the client's first compressed bytes.
 */
static void
session_start_compress(struct fc_session *s)
{
	struct bufferevent *filter = NULL;
	struct fc_deflate *d;

	s->compress_pending = false;
	d = fc_deflate_new();
	if (d != NULL)
		filter = fc_deflate_filter_new(fc_worker_base(), s->bev, d,
		    session_deflate_error, s);
	if (filter == NULL) {
		fc_deflate_free(&d);
		fc_log_session(s, FC_LOG_ERROR, "event=error reason=\"cannot "
		    "start compression\"");
		session_apply(s, FC_NEXT_CLOSE);
		return;
	}
	s->deflate = d;
	s->bev = filter;
	session_setup_bev(s);
	fc_log_session(s, FC_LOG_INFO, "event=compress algorithm=deflate");
}

int
fc_session_compress(struct fc_session *s)
{
	if (s->deflate != NULL || s->compress_pending || s->starttls_pending)
		return -1;
	s->compress_pending = true;
	if (!s->busy)
		session_start_compress(s);
	return 0;
}

bool
fc_session_compress_active(struct fc_session *s)
{
	return s->deflate != NULL || s->compress_pending;
}

const char *
fc_session_tls_version(struct fc_session *s)
{
	return s->ssl != NULL ? SSL_get_version(s->ssl) : NULL;
}

const char *
fc_session_tls_cipher(struct fc_session *s)
{
	return s->ssl != NULL ? SSL_get_cipher_name(s->ssl) : NULL;
}

/* ------------------------------------------------------------------ */
/* Accessors */

void *
fc_session_conf(struct fc_session *s)
{
	return s->svc->conf;
}

void *
fc_session_data(struct fc_session *s)
{
	return s->data;
}

void
fc_session_set_data(struct fc_session *s, void *data)
{
	s->data = data;
}

struct fc_arena *
fc_session_arena(struct fc_session *s)
{
	return s->arena;
}

const char *
fc_session_id(struct fc_session *s)
{
	return s->id;
}

const char *
fc_session_module_name(struct fc_session *s)
{
	return s->svc->module->name;
}

const char *
fc_session_kind(struct fc_session *s)
{
	return s->listen->kind;
}

const char *
fc_session_peer_ip(struct fc_session *s)
{
	return s->peer_ip;
}

unsigned int
fc_session_peer_port(struct fc_session *s)
{
	return fc_sockaddr_port((struct sockaddr *)&s->peer);
}

const struct sockaddr *
fc_session_peer_addr(struct fc_session *s, socklen_t *len_r)
{
	if (len_r != NULL)
		*len_r = s->peerlen;
	return (const struct sockaddr *)&s->peer;
}

static void
session_local_addr(struct fc_session *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char buf[INET6_ADDRSTRLEN];

	if (s->local_ip != NULL)
		return;
	if (getsockname(bufferevent_getfd(s->bev), (struct sockaddr *)&ss,
	    &len) < 0) {
		s->local_ip = fc_arena_strdup(s->arena, "?");
		return;
	}
	s->local_ip = fc_arena_strdup(s->arena,
	    fc_sockaddr_ip((struct sockaddr *)&ss, buf, sizeof(buf)));
	s->local_port = fc_sockaddr_port((struct sockaddr *)&ss);
}

const char *
fc_session_local_ip(struct fc_session *s)
{
	session_local_addr(s);
	return s->local_ip;
}

unsigned int
fc_session_local_port(struct fc_session *s)
{
	session_local_addr(s);
	return s->local_port;
}

bool
fc_session_peer_is_loopback(struct fc_session *s)
{
	const struct sockaddr *sa = (const struct sockaddr *)&s->peer;

	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)(const void *)sa)
		    ->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)
		    && s6->sin6_addr.s6_addr[12] == 127;
	}
	return false;
}

const char *
fc_session_hostname(struct fc_session *s)
{
	return s->svc->core->hostname;
}

struct fc_core *
fc_session_core(struct fc_session *s)
{
	return s->svc->core;
}

const struct fc_user *
fc_session_user(struct fc_session *s)
{
	return s->user;
}

struct fc_hook_run *
fc_session_hook_run(struct fc_session *s)
{
	if (s->hook_run == NULL)
		s->hook_run = fc_arena_alloc(s->arena, fc_hook_run_size());
	return s->hook_run;
}

void
fc_session_set_user(struct fc_session *s, const struct fc_user *u)
{
	s->user = u;
}

bool
fc_session_plaintext_ok(struct fc_session *s)
{
	switch (s->svc->sc.plaintext_auth) {
	case FC_PLAINTEXT_YES:
		return true;
	case FC_PLAINTEXT_LOOPBACK:
		return s->ssl != NULL || fc_session_peer_is_loopback(s);
	default:
		return s->ssl != NULL;
	}
}

/* ------------------------------------------------------------------ */
/* Timers */

/* Takes a timer off its session's list and frees its event. */
static void
session_timer_unlink(struct fc_timer *t)
{
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		t->s->timers = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	event_free(t->ev);
}

static void
session_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fc_timer *t = arg;
	struct fc_session *s = t->s;

	(void)fd;
	(void)what;
	session_timer_unlink(t);
	t->fn(s, t->arg);
	free(t);
}

struct fc_timer *
fc_session_timer(struct fc_session *s, uint64_t ms, fc_timer_fn *fn,
    void *arg)
{
	struct fc_timer *t;
	struct timeval tv = session_tv(ms);

	t = fc_calloc(1, sizeof(*t));
	t->ev = evtimer_new(fc_worker_base(), session_timer_cb, t);
	t->s = s;
	t->fn = fn;
	t->arg = arg;
	t->next = s->timers;
	if (s->timers != NULL)
		s->timers->prev = t;
	s->timers = t;
	evtimer_add(t->ev, &tv);
	return t;
}

void
fc_timer_cancel(struct fc_timer **tp)
{
	struct fc_timer *t = *tp;

	if (t == NULL)
		return;
	*tp = NULL;
	session_timer_unlink(t);
	free(t);
}

/* ------------------------------------------------------------------ */
/* The worker's view */

/* SIGTERM: sessions between commands say goodbye now, the others when
 * their current command is done (session_process checks stopping). */
void
fc_sessions_stop(void)
{
	struct fc_session *s, *next;

	for (s = sessions; s != NULL; s = next) {
		next = s->next;
		s->stopping = true;
		if (s->state == ST_READY)
			session_process(s);
	}
}

void
fc_sessions_close_all(void)
{
	while (sessions != NULL)
		session_free(sessions, "server stopped");
}

unsigned int
fc_sessions_count(void)
{
	return nsessions;
}
