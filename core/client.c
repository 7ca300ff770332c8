/*
 * client.c - outgoing connections (include/facteur/client.h) on libevent
 * bufferevents, TLS through OpenSSL.
 *
 * Callbacks run with a guard: a module may close the client from inside
 * one, and the core then frees it once the callback has returned, never
 * under its feet. Lines are framed by the same code as sessions' input
 * (line.c), so a server sending an endless line costs bounded memory.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <facteur/arena.h>
#include <facteur/client.h>
#include <facteur/log.h>

#include "core.h"
#include "line.h"

#define CLIENT_OUTPUT_HIGH	(128 * 1024)
#define CLIENT_OUTPUT_LOW	(32 * 1024)

struct fc_client {
	struct bufferevent *bev;
	SSL *ssl;
	const struct fc_client_ops *ops;
	void *arg;
	struct fc_line_framer framer;
	char peer[64];
	uint64_t timeout_ms;
	bool connected;
	bool tls_pending;
	bool in_callback;
	bool closed;			/* closed inside a callback */
	bool want_drained;
	bool starttls_wanted;		/* asked for inside a line callback */
	char *servername;
};

static SSL_CTX *client_tls_ctx;

static SSL_CTX *
client_tls(void)
{
	if (client_tls_ctx != NULL)
		return client_tls_ctx;
	client_tls_ctx = SSL_CTX_new(TLS_client_method());
	if (client_tls_ctx == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(client_tls_ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(client_tls_ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(client_tls_ctx, SSL_MODE_RELEASE_BUFFERS);
	/* opportunistic: any certificate encrypts the link (RFC 7435) */
	SSL_CTX_set_verify(client_tls_ctx, SSL_VERIFY_NONE, NULL);
	return client_tls_ctx;
}

static void
client_free(struct fc_client *c)
{
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	free(c->servername);
	free(c);
}

static void client_readcb(struct bufferevent *bev, void *arg);
static int client_start_tls(struct fc_client *c);
static void client_writecb(struct bufferevent *bev, void *arg);
static void client_eventcb(struct bufferevent *bev, short what, void *arg);

static void
client_setup(struct fc_client *c)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(c->timeout_ms / 1000);
	tv.tv_usec = (suseconds_t)(c->timeout_ms % 1000) * 1000;
	bufferevent_setcb(c->bev, client_readcb, client_writecb,
	    client_eventcb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, c->framer.max + 4096);
	bufferevent_setwatermark(c->bev, EV_WRITE, CLIENT_OUTPUT_LOW,
	    CLIENT_OUTPUT_HIGH);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* Ends the client after an error: the callback, then the memory. */
static void
client_fail(struct fc_client *c, const char *reason)
{
	c->in_callback = true;
	if (c->ops->error != NULL)
		c->ops->error(c, reason, c->arg);
	c->in_callback = false;
	client_free(c);
}

static void
client_readcb(struct bufferevent *bev, void *arg)
{
	struct fc_client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	enum fc_line_status st;
	size_t len, drain;
	char *line;

	while (!c->closed) {
		st = fc_line_next(&c->framer, in, &line, &len, &drain);
		if (st == FC_LINE_TOO_LONG) {
			client_fail(c, "line too long");
			return;
		}
		if (st == FC_LINE_NONE) {
			evbuffer_drain(in, drain);
			if (drain == 0 || evbuffer_get_length(in) == 0)
				break;
			continue;
		}
		c->in_callback = true;
		c->ops->line(c, line, len, c->arg);
		c->in_callback = false;
		if (c->closed)
			break;
		evbuffer_drain(in, drain);
		if (c->starttls_wanted) {
			/* the line is gone: what follows is TLS */
			if (client_start_tls(c) < 0) {
				client_fail(c, "cannot start TLS");
				return;
			}
			break;
		}
	}
	if (c->closed)
		client_free(c);
}

static void
client_writecb(struct bufferevent *bev, void *arg)
{
	struct fc_client *c = arg;

	(void)bev;
	if (!c->want_drained)
		return;
	c->want_drained = false;
	c->in_callback = true;
	if (c->ops->drained != NULL)
		c->ops->drained(c, c->arg);
	c->in_callback = false;
	if (c->closed)
		client_free(c);
}

static void
client_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct fc_client *c = arg;
	char reason[256];
	unsigned long e;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		c->in_callback = true;
		if (c->tls_pending) {
			c->tls_pending = false;
			if (c->ops->tls_done != NULL)
				c->ops->tls_done(c, true, c->arg);
		} else if (!c->connected) {
			c->connected = true;
			if (c->ops->connected != NULL)
				c->ops->connected(c, c->arg);
		}
		c->in_callback = false;
		if (c->closed)
			client_free(c);
		return;
	}
	if (c->tls_pending && (what & BEV_EVENT_ERROR)) {
		c->tls_pending = false;
		c->in_callback = true;
		if (c->ops->tls_done != NULL)
			c->ops->tls_done(c, false, c->arg);
		c->in_callback = false;
		if (c->closed) {
			client_free(c);
			return;
		}
	}
	if (what & BEV_EVENT_TIMEOUT)
		snprintf(reason, sizeof(reason), "timeout");
	else if (what & BEV_EVENT_EOF)
		snprintf(reason, sizeof(reason), "connection closed by %s",
		    c->peer);
	else if (c->ssl != NULL && (e = bufferevent_get_openssl_error(
	    c->bev)) != 0)
		ERR_error_string_n(e, reason, sizeof(reason));
	else
		snprintf(reason, sizeof(reason), "%s",
		    errno != 0 ? strerror(errno) : "connection error");
	client_fail(c, reason);
}

struct fc_client *
fc_client_connect(const struct sockaddr *addr, socklen_t len,
    uint64_t timeout_ms, size_t max_line, const struct fc_client_ops *ops,
    void *arg)
{
	struct fc_client *c;

	if (fc_worker_base() == NULL)
		return NULL;
	c = fc_calloc(1, sizeof(*c));
	c->ops = ops;
	c->arg = arg;
	c->timeout_ms = timeout_ms;
	c->framer.max = max_line;
	fc_sockaddr_ip(addr, c->peer, sizeof(c->peer));
	c->bev = bufferevent_socket_new(fc_worker_base(), -1,
	    BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		free(c);
		return NULL;
	}
	client_setup(c);
	if (bufferevent_socket_connect(c->bev, addr, (int)len) < 0) {
		client_free(c);
		return NULL;
	}
	return c;
}

void
fc_client_set_arg(struct fc_client *c, const struct fc_client_ops *ops,
    void *arg)
{
	c->ops = ops;
	c->arg = arg;
}

void
fc_client_set_timeout(struct fc_client *c, uint64_t ms)
{
	struct timeval tv;

	c->timeout_ms = ms;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	bufferevent_set_timeouts(c->bev, &tv, &tv);
}

void
fc_client_write(struct fc_client *c, const void *data, size_t len)
{
	if (len > 0)
		bufferevent_write(c->bev, data, len);
}

void
fc_client_printf(struct fc_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(c->bev), fmt, ap);
	va_end(ap);
}

bool
fc_client_output_full(struct fc_client *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev)) >=
	    CLIENT_OUTPUT_HIGH;
}

void
fc_client_want_drained(struct fc_client *c)
{
	c->want_drained = true;
	bufferevent_trigger(c->bev, EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
}

static int
client_start_tls(struct fc_client *c)
{
	struct bufferevent *filter;
	SSL_CTX *ctx = client_tls();
	SSL *ssl;

	c->starttls_wanted = false;
	if (ctx == NULL)
		return -1;
	ssl = SSL_new(ctx);
	if (ssl == NULL)
		return -1;
	if (c->servername != NULL)
		SSL_set_tlsext_host_name(ssl, c->servername);
	filter = bufferevent_openssl_filter_new(fc_worker_base(), c->bev, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (filter == NULL) {
		SSL_free(ssl);
		return -1;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(filter, 1);
	c->ssl = ssl;
	c->bev = filter;
	c->tls_pending = true;
	client_setup(c);
	return 0;
}

int
fc_client_starttls(struct fc_client *c, const char *servername)
{
	if (c->ssl != NULL || c->starttls_wanted)
		return -1;
	c->servername = servername != NULL ? fc_strdup(servername) : NULL;
	c->starttls_wanted = true;
	/* from a line callback: once the line is drained (client_readcb) */
	if (c->in_callback)
		return 0;
	return client_start_tls(c);
}

bool
fc_client_tls_active(struct fc_client *c)
{
	return c->ssl != NULL && !c->tls_pending;
}

const char *
fc_client_tls_version(struct fc_client *c)
{
	return c->ssl != NULL ? SSL_get_version(c->ssl) : NULL;
}

const char *
fc_client_tls_cipher(struct fc_client *c)
{
	return c->ssl != NULL ? SSL_get_cipher_name(c->ssl) : NULL;
}

const char *
fc_client_peer(struct fc_client *c)
{
	return c->peer;
}

void
fc_client_close(struct fc_client **cp)
{
	struct fc_client *c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	if (c->in_callback) {
		c->closed = true;	/* freed when the callback returns */
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		return;
	}
	client_free(c);
}
