/*
 * smtp_queue.h - the outbound queue's entries (smtp_queue.c).
 */
#ifndef FACTEUR_SMTP_QUEUE_H
#define FACTEUR_SMTP_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMTP_QUEUE_ID_MAX	32

struct fc_arena;

enum smtp_qstate {
	SMTP_Q_PENDING = 0,		/* still to be sent */
	SMTP_Q_SENT,			/* accepted by the next hop */
	SMTP_Q_FAILED,			/* refused for good: to report */
	SMTP_Q_REPORTED,		/* failed, and the sender told (or
					   not wanting to be: done) */
};

/* What a delivery status notification says of a recipient (smtp_bounce.c);
 * set just before one is made, never saved. */
enum smtp_action {
	SMTP_ACT_NONE = 0,
	SMTP_ACT_FAILED,
	SMTP_ACT_DELAYED,
	SMTP_ACT_DELIVERED,		/* into a mailbox here */
	SMTP_ACT_RELAYED,		/* to a hop that does not do DSN */
};

struct smtp_qrcpt {
	enum smtp_qstate state;
	enum smtp_action action;	/* to put in the report being made */
	unsigned int notify;		/* SMTP_NOTIFY_ bits, 0: default */
	char *user;			/* a local user, or NULL */
	char *orcpt;			/* DSN ORCPT as the client gave it
					   (decoded), or NULL: none given */
	char *address;			/* where it goes */
	char *reply;			/* the last answer or reason */
};

struct smtp_qentry {
	struct fc_arena *arena;
	char id[SMTP_QUEUE_ID_MAX];
	int64_t created;
	int64_t next;
	unsigned int attempts;
	const char *sender;		/* "" for a bounce */
	unsigned int ret;
	const char *envid;
	const char **headers;		/* lines to put on top, no CRLF */
	bool warned;			/* a delay report went out */
	size_t nheaders;
	struct smtp_qrcpt *rcpts;
	size_t nrcpts;
	/* the runner's */
	bool busy;
	struct smtp_qentry *next_entry;
};

int smtp_queue_prepare(const char *dir);
struct smtp_qentry *smtp_queue_new(const char *id);
void smtp_queue_free(struct smtp_qentry **e);
struct smtp_qrcpt *smtp_queue_add_rcpt(struct smtp_qentry *e);
int smtp_queue_add(const char *dir, struct smtp_qentry *e, int spool_fd);
int smtp_queue_save(const char *dir, const struct smtp_qentry *e, bool sync);
struct smtp_qentry *smtp_queue_load(const char *dir, const char *id);
void smtp_queue_remove(const char *dir, const char *id);
int smtp_queue_open_message(struct fc_arena *a, const char *dir,
    const char *id);
int smtp_queue_scan(const char *dir, void (*fn)(const char *id, void *arg),
    void *arg);
bool smtp_queue_id_valid(const char *id);
bool smtp_queue_wants_report(const struct smtp_qentry *e,
    const struct smtp_qrcpt *r);
/* Whether a recipient asked for a report of this kind (NOTIFY), with
 * delay_all: a delay is reported to recipients without NOTIFY too. */
bool smtp_queue_wants_action(const struct smtp_qentry *e,
    const struct smtp_qrcpt *r, enum smtp_action action, bool delay_all);
/* false only when the message file is surely gone (being removed) */
bool smtp_queue_message_exists(const char *dir, const char *id);

#endif
