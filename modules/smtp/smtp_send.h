/*
 * smtp_send.h - one outbound transaction (smtp_send.c), filled in by the
 * queue runner, which gets it back through done() with a reply per
 * recipient.
 */
#ifndef FACTEUR_SMTP_SEND_H
#define FACTEUR_SMTP_SEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define SMTP_SEND_ADDRS_MAX	10

struct fc_arena;
struct fc_client;

struct smtp_send {
	/* set by the runner */
	struct fc_arena *arena;
	const char *dir;		/* the queue */
	const char *id;
	const char *helo;
	const char *hostname;		/* the next hop, for SNI */
	const char *pool_key;		/* same key: a kept connection may
					   be used; NULL: never */
	const char *sender;
	const char **rcpts;
	size_t nrcpts;
	/* DSN (RFC 3461), passed on when the next hop announces it */
	unsigned int ret;		/* SMTP_DSN_RET_*, 0: not given */
	const char *envid;		/* decoded, or NULL */
	const unsigned int *notify;	/* per recipient: SMTP_NOTIFY_*
					   bits, 0: not given */
	const char **orcpts;		/* per recipient: decoded, or NULL */
	const char *headers;		/* CRLF lines, sent before the file */
	uint64_t size;
	bool need_utf8;
	bool conf_tls;			/* try STARTTLS */
	uint64_t timeout;
	struct sockaddr_storage addrs[SMTP_SEND_ADDRS_MAX];
	socklen_t addrlens[SMTP_SEND_ADDRS_MAX];
	const char *names[SMTP_SEND_ADDRS_MAX];
	size_t naddrs;
	void (*done)(struct smtp_send *t, void *arg);
	void *arg;

	/* the results: a code per recipient (0: not answered) */
	int *codes;
	char (*texts)[256];
	bool delivered;

	/* private */
	struct fc_client *c;
	bool reused;
	bool converted;			/* checked for 8-bit data, and made
					   7-bit if it had any */
	size_t cur;
	int state;
	bool tls_wanted;
	bool starttls, eightbit, smtputf8, size_ext, pipelining, dsn;
	size_t rcpt_i;
	unsigned int accepted;
	int fd;
	int64_t off;
	bool bol, cr;
	size_t linelen;
	char size_param[32];
	char reply[512];
};

void smtp_send_start(struct smtp_send *t);

#endif
