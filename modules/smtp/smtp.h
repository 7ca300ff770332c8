/*
 * smtp.h - the SMTP module's own declarations.
 *
 * One module serves three listener kinds: smtp (port 25: mail from the
 * world for local domains), submission (587 and 465: authenticated users
 * sending anywhere) and lmtp (RFC 2033: delivery into this store, one
 * reply per recipient).
 */
#ifndef FACTEUR_SMTP_H
#define FACTEUR_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include <facteur/hook.h>
#include <facteur/session.h>

struct fc_arena;
struct fc_envelope;
struct fc_sasl;

enum smtp_kind {
	SMTP_KIND_SMTP = 0,
	SMTP_KIND_SUBMISSION,
	SMTP_KIND_LMTP,
};

/* A network from trusted_networks. */
struct smtp_net {
	int family;			/* AF_INET, AF_INET6 */
	unsigned char addr[16];
	unsigned int bits;
};

struct smtp_alias;			/* smtp_alias.c */
struct smtp_qentry;

/* route DOMAIN HOST[:PORT] */
struct smtp_route {
	char *domain;			/* or "*" */
	char *dest;
};

struct smtp_conf {
	char *hostname;			/* NULL: the core's */
	char *greeting;
	char **local_domains;
	char *aliases;			/* path, or NULL */
	char **trusted_networks;
	uint64_t max_message_size;
	unsigned int max_recipients;
	bool vrfy;
	bool reject_nul;
	char *spool_dir;		/* NULL: state_dir/spool */
	unsigned int max_message_rate;
	unsigned int max_connection_rate;
	uint64_t rate_window;
	bool sender_login_match;
	char *queue_dir;		/* NULL: state_dir/queue */
	char *relay_host;
	struct smtp_route *routes;
	size_t nroutes;
	uint64_t queue_lifetime;
	uint64_t delay_warning;		/* 0: no delay reports */
	bool delay_warning_default;	/* also without NOTIFY */
	bool lmtp_dsn;			/* DSN on LMTP too */
	uint64_t retry_min;
	uint64_t retry_max;
	unsigned int queue_concurrency;
	uint64_t send_timeout;
	bool tls_outbound;
	bool queue_fsync;

	/* made by init */
	struct smtp_net *nets;
	size_t nnets;
	struct smtp_alias *alias_map;
	char *ehlo[3];			/* EHLO replies per kind, without
					   AUTH and STARTTLS lines */
};

/* A parsed path: <local@domain>, <> or <postmaster>. */
struct smtp_path {
	char *local;			/* NULL for <> */
	char *domain;			/* NULL for <> and <postmaster> */
	char *address;			/* "local@domain", "" for <> */
	bool utf8;			/* holds non-ASCII */
};

/*
 * One recipient of the transaction. A RCPT command gives one, or several
 * when its address is an alias; they sit next to each other, in RCPT
 * order, and share that command's number (LMTP answers per command).
 */
struct smtp_rcpt {
	char *address;			/* as given (after alias expansion:
					   the target) */
	char *user;			/* the local user, or NULL (relay) */
	char *orcpt;			/* DSN ORCPT, or NULL */
	unsigned int notify;		/* DSN NOTIFY bits */
	const char *rcpt_to;		/* the address its RCPT named */
	unsigned int cmd;		/* that RCPT's number, from 0 */
};

enum smtp_state {
	SMTP_ST_GREET = 0,		/* before HELO/EHLO */
	SMTP_ST_READY,			/* after HELO, between transactions */
	SMTP_ST_MAIL,			/* after MAIL */
	SMTP_ST_RCPT,			/* at least one good RCPT */
	SMTP_ST_BDAT,			/* between BDAT chunks */
	SMTP_ST_AUTH,			/* a SASL exchange is going on */
};

/*
 * Memory: the session's arena holds only this struct. What a transaction
 * keeps (sender, recipients, DSN values) lives in tx, reset when the
 * transaction ends (RSET, HELO, end of message, a new MAIL); what one
 * command needs for itself (parsing, lookups, log quoting) lives in cmd,
 * reset before each command line. So a session of any length holds no
 * more than its largest transaction.
 */
struct smtp_session {
	struct fc_session *s;
	const struct smtp_conf *conf;
	enum smtp_kind kind;
	enum smtp_state state;
	bool esmtp;
	bool trusted;			/* from trusted_networks */
	struct fc_envelope *env;
	struct fc_sasl *sasl;
	struct fc_arena *tx;		/* the transaction's */
	struct fc_arena *cmd;		/* the current command's */
	char *helo;			/* NULL, or helo_buf */
	char helo_buf[256];

	/* the transaction */
	char id[20];
	struct smtp_path sender;
	bool smtputf8;
	bool body_8bit;
	unsigned int dsn_ret;		/* 0, or SMTP_DSN_RET_FULL/HDRS */
	char *dsn_envid;
	struct smtp_rcpt *rcpts;
	size_t nrcpts, rcptalloc;
	unsigned int rcpt_cmds;		/* RCPT commands accepted */
	unsigned int rcpt_attempts;
	int spool_fd;
	uint64_t bdat_size;
	bool bdat_last;
	bool bdat_failed;
	bool bdat_nul;			/* a chunk held a NUL byte */
	const char *bdat_refusal;	/* said once a refused chunk is read */
	unsigned int messages;		/* accepted in this session */
	char reply[512];		/* pending reply of a waited hook */
};

#define SMTP_DSN_RET_FULL	1
#define SMTP_DSN_RET_HDRS	2
#define SMTP_NOTIFY_NEVER	0x01
#define SMTP_NOTIFY_SUCCESS	0x02
#define SMTP_NOTIFY_FAILURE	0x04
#define SMTP_NOTIFY_DELAY	0x08

/* smtp.c */
extern const struct fc_module fc_module_smtp;

/* smtp_addr.c: "FROM:<path> params" and the like. 0, or -1 with a
 * reply text ("501 5.1.7 ...") in *error_r. */
int smtp_parse_path(struct fc_arena *a, const char *arg, const char *keyword,
    bool null_ok, struct smtp_path *path, char **params_r,
    const char **error_r);
/* Splits "KEY=VALUE KEY" parameters; returns the count or -1. */
int smtp_parse_params(struct fc_arena *a, char *params, char **keys,
    char **values, size_t max);
bool smtp_xtext_decode(struct fc_arena *a, const char *in, char **out_r);

/* smtp_session.c: the protocol ops */
enum fc_next smtp_start(struct fc_session *s);
enum fc_next smtp_line(struct fc_session *s, char *line, size_t len);
enum fc_next smtp_line_too_long(struct fc_session *s);
void smtp_timeout(struct fc_session *s);
void smtp_stop(struct fc_session *s);
void smtp_end(struct fc_session *s);
const char *smtp_hostname(const struct smtp_session *ss);
enum fc_next smtp_greet(struct smtp_session *ss, enum fc_verdict v);
void smtp_reply(struct smtp_session *ss, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
enum fc_next smtp_error(struct smtp_session *ss, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void smtp_transaction_reset(struct smtp_session *ss);
int smtp_spool_open(struct smtp_session *ss);

/* DSN (RFC 3461) is offered on submission, and on LMTP with lmtp_dsn. */
static inline bool
smtp_dsn_offered(const struct smtp_session *ss)
{
	return ss->kind == SMTP_KIND_SUBMISSION
	    || (ss->kind == SMTP_KIND_LMTP && ss->conf->lmtp_dsn);
}

/* smtp_cmd.c */
enum fc_next smtp_dispatch(struct smtp_session *ss, char *line, size_t len);

/* smtp_data.c */
enum fc_next smtp_cmd_data(struct smtp_session *ss, char *arg);
enum fc_next smtp_cmd_bdat(struct smtp_session *ss, char *arg);
enum fc_next smtp_bytes(struct fc_session *s, const char *data, size_t len,
    bool last);
enum fc_next smtp_spooled(struct fc_session *s,
    const struct fc_spool_result *r);

/* smtp_policy.c */
int smtp_policy_init(struct smtp_conf *conf, const char **error_r);
void smtp_policy_fini(struct smtp_conf *conf);
bool smtp_peer_trusted(const struct smtp_conf *conf, struct fc_session *s);
bool smtp_domain_is_local(const struct smtp_conf *conf, const char *domain);
char *smtp_local_user(const struct smtp_conf *conf, struct fc_core *core,
    struct fc_arena *a, const char *address);
/* What to do with a recipient: 0 accept (user set for local ones), or
 * -1 with the reply in *reply_r. */
int smtp_policy_rcpt(struct smtp_session *ss, const struct smtp_path *p,
    struct fc_arena *a, char ***targets_r, char ***users_r, size_t *n_r,
    const char **reply_r);

/* smtp_runner.c, smtp_bounce.c */
extern const struct fc_process_ops smtp_runner_ops;
struct fc_core;
/*
 * Puts a delivery status notification to e's sender in the queue dir,
 * naming the recipients whose action is set. The original is read from
 * msg_fd (with pread), or from the queue when it is -1; retry_until is
 * for delay reports. 0, or -1 when it could not be written.
 */
int smtp_report(const struct smtp_conf *conf, const char *dir,
    struct fc_core *core, struct smtp_qentry *e, int msg_fd,
    int64_t retry_until);
int smtp_queue_command(struct fc_core *core, void *arg, int argc,
    char **argv);

/* smtp_alias.c */
struct smtp_alias *smtp_alias_open(const char *path, const char **error_r);
void smtp_alias_close(struct smtp_alias **map);
/*
 * Expands an address through the aliases, recursively (a few levels,
 * loops cut). 1 with the targets in *targets_r (in a), 0 when the
 * address has no alias.
 */
int smtp_alias_expand(struct smtp_alias *map, struct fc_arena *a,
    const char *address, char ***targets_r, size_t *n_r);

#endif
