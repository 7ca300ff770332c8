/*
 * client.h - outgoing connections for modules: TCP, STARTTLS, lines in,
 * output with back-pressure. The SMTP queue sends mail with it.
 *
 * The same contract as a session, seen from the other side: the core
 * owns the socket and TLS, frames the input into lines of bounded
 * length, and reports through callbacks from the event loop. After
 * ops->error() or fc_client_close() the client is gone and no callback
 * comes. Only in workers and module processes.
 */
#ifndef FACTEUR_CLIENT_H
#define FACTEUR_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct fc_client;

struct fc_client_ops {
	size_t size;			/* sizeof(struct fc_client_ops) */
	void (*connected)(struct fc_client *c, void *arg);
	/* one line, CR LF removed, NUL-terminated; a line longer than the
	 * limit is an error */
	void (*line)(struct fc_client *c, char *line, size_t len, void *arg);
	/* after fc_client_want_drained(): the output has room again */
	void (*drained)(struct fc_client *c, void *arg);
	/* after fc_client_starttls(): the handshake ended (ok or not) */
	void (*tls_done)(struct fc_client *c, bool ok, void *arg);
	/* the connection failed, closed or timed out; the client is gone */
	void (*error)(struct fc_client *c, const char *reason, void *arg);
};

/* NULL at once only when no connection can even be tried. */
struct fc_client *fc_client_connect(const struct sockaddr *addr,
    socklen_t len, uint64_t timeout_ms, size_t max_line,
    const struct fc_client_ops *ops, void *arg);
/* Sets what the callbacks get (to hand a connection to another user). */
void fc_client_set_arg(struct fc_client *c, const struct fc_client_ops *ops,
    void *arg);
/* The time allowed without progress before ops->error(). */
void fc_client_set_timeout(struct fc_client *c, uint64_t ms);

void fc_client_write(struct fc_client *c, const void *data, size_t len);
void fc_client_printf(struct fc_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
bool fc_client_output_full(struct fc_client *c);
void fc_client_want_drained(struct fc_client *c);

/* Starts TLS (after the server said go ahead); servername for SNI may
 * be NULL. The certificate is not checked: opportunistic TLS. */
int fc_client_starttls(struct fc_client *c, const char *servername);
bool fc_client_tls_active(struct fc_client *c);
const char *fc_client_tls_version(struct fc_client *c);
const char *fc_client_tls_cipher(struct fc_client *c);
/* The peer's address as text. */
const char *fc_client_peer(struct fc_client *c);

void fc_client_close(struct fc_client **c);

#endif
