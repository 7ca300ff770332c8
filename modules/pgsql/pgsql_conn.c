/*
 * pgsql_conn.c - the process's connection to the database.
 *
 * One connection per process (a worker, facteurctl, a test), opened the
 * first time a statement runs, never in the master: a forked worker
 * never shares a socket with its parent. Every statement is prepared
 * once per connection, the first time it is used, and run with its
 * values as parameters; no SQL is ever built from data.
 *
 * A connection the server closed (a restart, a failover) is noticed
 * before the next statement: its socket is readable with nothing to
 * read. The statement then runs on a new connection. When connecting
 * fails, calls fail at once with FC_ERR_TEMP until a back-off has
 * passed (250 ms, doubling up to backoff_max), so a database that is
 * down costs clients a quick temporary failure, not a wait each.
 * Connecting gives up after 5 s and a statement after 60 s (unless the
 * connection string says otherwise), so a server that hangs costs a
 * worker a bounded wait.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include <facteur/log.h>
#include <facteur/storage.h>

#include "pgsql.h"

const struct pgsql_conf *pgsql_conf;

struct pgsql_stmt_def {
	const char *name;
	const char *sql;
	int nparams;
};

static const struct pgsql_stmt_def stmt_defs[PS_COUNT] = {
	[PS_STORE_GET] = { "store_get",
	    "SELECT sid, fresh FROM facteur_store_open($1, false)", 1 },
	[PS_STORE_MAKE] = { "store_make",
	    "SELECT sid, fresh FROM facteur_store_open($1, true)", 1 },
	[PS_LIST] = { "list",
	    "SELECT name, special_use, 0 FROM mailboxes WHERE store_id = $1 "
	    "UNION ALL SELECT name, 0, 1 FROM subscriptions "
	    "WHERE store_id = $1", 1 },
	[PS_CREATE] = { "create",
	    "SELECT facteur_create($1, $2, $3)", 3 },
	[PS_DELETE] = { "delete",
	    "SELECT facteur_delete($1, $2)", 2 },
	[PS_RENAME] = { "rename",
	    "SELECT facteur_rename($1, $2, $3)", 3 },
	[PS_SUBSCRIBE] = { "subscribe",
	    "INSERT INTO subscriptions VALUES ($1, $2) ON CONFLICT DO NOTHING",
	    2 },
	[PS_UNSUBSCRIBE] = { "unsubscribe",
	    "DELETE FROM subscriptions WHERE store_id = $1 AND name = $2", 2 },
	[PS_QUOTA] = { "quota",
	    "SELECT bytes, messages FROM stores WHERE id = $1", 1 },
	[PS_APPEND] = { "append",
	    "SELECT uidvalidity, uid FROM facteur_append($1, $2, $3, $4, $5, "
	    "$6, $7, $8, $9, $10)", 10 },
	[PS_MAILBOX_ID] = { "mailbox_id",
	    "SELECT id FROM mailboxes WHERE store_id = $1 AND name = $2", 2 },
	/* one statement, one snapshot: the mailbox, its keyword names,
	 * messages changed and messages expunged since modseq $2 */
	[PS_REFRESH] = { "refresh",
	    "SELECT 0, uidvalidity, uidnext, highestmodseq, 0, 0, 0, 0, "
	    "NULL FROM mailboxes WHERE id = $1 "
	    "UNION ALL SELECT 1, o, 0, 0, 0, 0, 0, 0, k "
	    "FROM mailboxes, unnest(keywords) WITH ORDINALITY AS t (k, o) "
	    "WHERE id = $1 "
	    "UNION ALL SELECT 2, uid, flags, keywords, modseq, "
	    "internal_date, size, size_crlf, guid FROM messages "
	    "WHERE mailbox_id = $1 AND modseq > $2 "
	    "UNION ALL SELECT 3, uid, 0, 0, modseq, 0, 0, 0, NULL "
	    "FROM expunged WHERE mailbox_id = $1 AND modseq > $2 "
	    "ORDER BY 1, 2", 2 },
	[PS_STORE_FLAGS] = { "store_flags",
	    "SELECT facteur_store($1, $2, $3, $4, $5, $6)", 6 },
	[PS_EXPUNGE] = { "expunge",
	    "SELECT facteur_expunge($1, $2, $3)", 3 },
	[PS_COPY] = { "copy",
	    "SELECT uidvalidity, uids FROM facteur_copy($1, $2, $3, $4, $5, "
	    "$6, $7)", 7 },
	/* a piece of a body ($3: its first byte, from 1; $4 bytes at
	 * most) and the whole length, as text in a binary result */
	[PS_BODY] = { "body",
	    "SELECT substring(b.data FROM $3::integer FOR $4::integer), "
	    "length(b.data)::text FROM messages m "
	    "JOIN bodies b ON b.hash = m.hash "
	    "WHERE m.mailbox_id = $1 AND m.uid = $2", 4 },
	/* the bodies of messages just removed, if nothing else uses them */
	[PS_BODY_GC] = { "body_gc",
	    "DELETE FROM bodies b WHERE b.hash = ANY ($1::bytea[]) "
	    "AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.hash = b.hash)",
	    1 },
	/* the header with its empty line ($3 bytes at most) and its
	 * length, as text in a binary result */
	[PS_HEADER] = { "header",
	    "SELECT substring(b.data FROM 1 FOR least(h.len, $3::integer)), "
	    "h.len::text FROM messages m JOIN bodies b ON b.hash = m.hash "
	    "CROSS JOIN LATERAL (SELECT coalesce(b.header_len, "
	    "facteur_header_len(b.data)) AS len) h "
	    "WHERE m.mailbox_id = $1 AND m.uid = $2", 3 },
	[PS_CACHE_GET] = { "cache_get",
	    "SELECT b.cache FROM messages m JOIN bodies b ON b.hash = m.hash "
	    "WHERE m.mailbox_id = $1 AND m.uid = $2", 2 },
	/* the caches of the messages from UID $2 on ($3 of them), as
	 * (uid as text, cache if at most $4 bytes, its length as text) */
	[PS_CACHE_AHEAD] = { "cache_ahead",
	    "SELECT m.uid::text, CASE WHEN length(b.cache) <= $4::integer "
	    "THEN b.cache END, length(b.cache)::text FROM messages m "
	    "JOIN bodies b ON b.hash = m.hash "
	    "WHERE m.mailbox_id = $1 AND m.uid >= $2 "
	    "ORDER BY m.uid LIMIT $3", 4 },
	/* header_len too, for a body stored before schema 3. A cache
	 * lost in a crash is made again, so its commit need not wait for
	 * the disk: the first FETCH of 5,000 messages would otherwise wait
	 * for 5,000 flushes (set_config(..., true) lasts to the commit) */
	[PS_CACHE_PUT] = { "cache_put",
	    "UPDATE bodies b SET cache = $3, header_len = "
	    "coalesce(b.header_len, facteur_header_len(b.data)) "
	    "FROM messages m, (SELECT set_config('synchronous_commit', "
	    "'off', true)) s WHERE m.mailbox_id = $1 AND m.uid = $2 "
	    "AND b.hash = m.hash", 3 },
	[PS_USER_GET] = { "user_get",
	    "SELECT name, password, home, mail, quota_bytes, quota_messages "
	    "FROM users WHERE name = lower($1)", 1 },
	[PS_ALIAS_GET] = { "alias_get",
	    "SELECT target FROM aliases WHERE address = lower($1)", 1 },
	/* the shared key/value store (pgsql_kv.c): $3 a ttl in ms, 0 for
	 * none; an expired row is absent, and replaced by a write */
	[PS_KV_GET] = { "kv_get",
	    "SELECT value FROM kv WHERE key = $1 "
	    "AND (expires IS NULL OR expires > now())", 1 },
	[PS_KV_SET] = { "kv_set",
	    "INSERT INTO kv VALUES ($1, $2, CASE WHEN $3::bigint > 0 THEN "
	    "now() + $3::bigint * interval '1 millisecond' END) "
	    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, "
	    "expires = EXCLUDED.expires", 3 },
	[PS_KV_INCR] = { "kv_incr",
	    "INSERT INTO kv AS k VALUES ($1, $2::bigint::text, CASE WHEN "
	    "$3::bigint > 0 THEN now() + $3::bigint * interval "
	    "'1 millisecond' END) "
	    "ON CONFLICT (key) DO UPDATE SET value = (CASE "
	    "WHEN k.expires IS NOT NULL AND k.expires <= now() THEN 0 "
	    "WHEN k.value ~ '^-?[0-9]{1,18}$' THEN k.value::bigint "
	    "ELSE 0 END + $2::bigint)::text, "
	    "expires = CASE WHEN k.expires IS NOT NULL AND k.expires <= now() "
	    "THEN EXCLUDED.expires ELSE k.expires END "
	    "RETURNING value", 3 },
	[PS_KV_DEL] = { "kv_del", "DELETE FROM kv WHERE key = $1", 1 },
	[PS_KV_SWEEP] = { "kv_sweep",
	    "DELETE FROM kv WHERE key IN (SELECT key FROM kv "
	    "WHERE expires <= now() LIMIT 1000)", 0 },
};

static PGconn *conn;
static pid_t conn_pid;			/* the process that opened it */
static bool prepared[PS_COUNT];
static uint64_t retry_at;		/* now_ms() of the next try */
static uint64_t backoff;

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
pgsql_backoff_next(uint64_t prev)
{
	uint64_t max = pgsql_conf != NULL && pgsql_conf->backoff_max > 0 ?
	    pgsql_conf->backoff_max : 5000;

	if (prev == 0)
		return 250 < max ? 250 : max;
	return prev * 2 < max ? prev * 2 : max;
}

PGconn *
pgsql_connect(const char **error_r)
{
	static char msg[512];
	const char *info = pgsql_conf != NULL && pgsql_conf->connect != NULL ?
	    pgsql_conf->connect : "";
	/* a connection string of the admin's overrides these defaults */
	static const char *const keys[] = { "connect_timeout", "dbname",
	    NULL };
	const char *values[] = { "5", info, NULL };
	PGconn *c;

	c = PQconnectdbParams(keys, values, 1);
	if (c == NULL) {
		*error_r = "out of memory";
		return NULL;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
		msg[strcspn(msg, "\n")] = '\0';
		*error_r = msg;
		PQfinish(c);
		return NULL;
	}
	/* no notices on stderr; durable commits whatever the server's
	 * default */
	PQsetNoticeProcessor(c, NULL, NULL);
	PQclear(PQexec(c, "SET synchronous_commit = on"));
	return c;
}

void
pgsql_disconnect(void)
{
	if (conn != NULL)
		PQfinish(conn);
	conn = NULL;
	memset(prepared, 0, sizeof(prepared));
}

/* Whether the server closed the connection since we last used it. */
static bool
conn_dead(void)
{
	struct pollfd p;

	if (PQstatus(conn) != CONNECTION_OK)
		return true;
	p.fd = PQsocket(conn);
	p.events = POLLIN;
	p.revents = 0;
	if (p.fd < 0)
		return true;
	if (poll(&p, 1, 0) > 0) {
		/* a notice, or the end: read it and look again */
		if (!PQconsumeInput(conn))
			return true;
		return PQstatus(conn) != CONNECTION_OK;
	}
	return false;
}

static int
conn_get(const char **error_r)
{
	static char msg[600];
	const char *err;
	uint64_t now;

	if (conn != NULL && conn_pid != getpid()) {
		/* inherited through fork(): the parent's; never touch it */
		conn = NULL;
		memset(prepared, 0, sizeof(prepared));
	}
	if (conn != NULL && !conn_dead())
		return 0;
	if (conn != NULL) {
		fc_log(FC_LOG_WARNING, "pgsql: the connection to the database "
		    "was lost; connecting again");
		pgsql_disconnect();
	}
	now = now_ms();
	if (backoff > 0 && now < retry_at) {
		snprintf(msg, sizeof(msg), "the database is unavailable "
		    "(next try in %llu ms)", (unsigned long long)
		    (retry_at - now));
		*error_r = msg;
		return -1;
	}
	conn = pgsql_connect(&err);
	if (conn == NULL) {
		backoff = pgsql_backoff_next(backoff);
		retry_at = now_ms() + backoff;
		snprintf(msg, sizeof(msg), "the database is unavailable: %s",
		    err);
		*error_r = msg;
		fc_log(FC_LOG_ERROR, "pgsql: %s", msg);
		return -1;
	}
	conn_pid = getpid();
	/* a server that hangs fails the call instead of the worker */
	PQclear(PQexec(conn, "SET statement_timeout = '60s'"));
	if (backoff > 0)
		fc_log(FC_LOG_NOTICE, "pgsql: connected to the database again");
	backoff = 0;
	return 0;
}

static enum fc_error
code_of(const char *state)
{
	static const struct {
		const char *state;
		enum fc_error code;
	} map[] = {
		{ "FCNOT", FC_ERR_NOTFOUND },
		{ "FCEXI", FC_ERR_EXISTS },
		{ "FCQUO", FC_ERR_NOQUOTA },
		{ "FCLIM", FC_ERR_LIMIT },
		{ "FCEXP", FC_ERR_EXPUNGED },
		{ "FCPRM", FC_ERR_PERM },
		{ "22021", FC_ERR_BADNAME },	/* bad UTF-8, NUL */
		{ "22P05", FC_ERR_BADNAME },
	};
	size_t i;

	if (state == NULL)
		return FC_ERR_TEMP;
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].state, state) == 0)
			return map[i].code;
	return FC_ERR_TEMP;
}

PGresult *
pgsql_exec(enum pgsql_stmt id, int n, const char *const *values,
    const int *lengths, const int *formats, int binary_result,
    enum fc_error *code_r, const char **error_r)
{
	static char msg[600];
	const struct pgsql_stmt_def *d = &stmt_defs[id];
	PGresult *r;
	ExecStatusType s;

	if (conn_get(error_r) < 0) {
		*code_r = FC_ERR_TEMP;
		return NULL;
	}
	if (!prepared[id]) {
		r = PQprepare(conn, d->name, d->sql, d->nparams, NULL);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			snprintf(msg, sizeof(msg), "preparing %s: %s", d->name,
			    PQresultErrorMessage(r));
			msg[strcspn(msg, "\n")] = '\0';
			PQclear(r);
			*code_r = FC_ERR_TEMP;
			*error_r = msg;
			fc_log(FC_LOG_ERROR, "pgsql: %s", msg);
			if (PQstatus(conn) != CONNECTION_OK)
				pgsql_disconnect();
			return NULL;
		}
		PQclear(r);
		prepared[id] = true;
	}
	r = PQexecPrepared(conn, d->name, n, values, lengths, formats,
	    binary_result);
	s = PQresultStatus(r);
	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
		return r;
	*code_r = code_of(PQresultErrorField(r, PG_DIAG_SQLSTATE));
	snprintf(msg, sizeof(msg), "%s", r != NULL ? PQresultErrorMessage(r) :
	    PQerrorMessage(conn));
	msg[strcspn(msg, "\n")] = '\0';
	if (*code_r == FC_ERR_TEMP) {
		char tmp[600];

		snprintf(tmp, sizeof(tmp), "database: %.580s", msg);
		snprintf(msg, sizeof(msg), "%s", tmp);
		fc_log(FC_LOG_ERROR, "pgsql: %s: %s", d->name, msg);
	}
	*error_r = msg;
	PQclear(r);
	if (PQstatus(conn) != CONNECTION_OK)
		pgsql_disconnect();
	return NULL;
}

PGresult *
pgsql_st_exec(struct fc_store *st, enum pgsql_stmt id, int n,
    const char *const *values, const int *lengths, const int *formats,
    int binary_result)
{
	enum fc_error code = FC_ERR_TEMP;
	const char *err = "unknown";
	PGresult *r;

	r = pgsql_exec(id, n, values, lengths, formats, binary_result, &code,
	    &err);
	if (r == NULL)
		(void)fc_store_fail(st, code, "%s", err);
	return r;
}
