/*
 * pgsql.h - the PostgreSQL module's own declarations.
 *
 * One module, two roles: a storage back end ("pgsql") keeping users'
 * mailboxes and messages in tables, and an auth back end ("pgsql") with
 * users, domains and aliases. Both speak to the database through one
 * connection per process (pgsql_conn.c), opened when first needed; a
 * second connection LISTENs for changes made by other processes and
 * nodes (pgsql_watch.c).
 *
 * The schema is versioned (pgsql_schema.c): init() refuses to start
 * against a database whose schema it does not know, and `facteurctl db
 * migrate` brings an older one up to date.
 */
#ifndef FACTEUR_PGSQL_H
#define FACTEUR_PGSQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <libpq-fe.h>

#include <facteur/storage.h>

struct fc_arena;
struct fc_core;

/* The schema version this build knows; pgsql_schema.c has each step. */
#define PGSQL_SCHEMA_VERSION	3

struct pgsql_conf {
	char *connect;			/* libpq conninfo; "" = PG* env */
	unsigned int schema_mode;	/* 0 check, 1 auto: migrate at start */
	uint64_t max_message_size;
	bool autocreate;
	uint64_t backoff_max;		/* ms */
};

/* The prepared statements, by number (pgsql_conn.c has their text). */
enum pgsql_stmt {
	PS_STORE_GET = 0,
	PS_STORE_MAKE,
	PS_LIST,
	PS_CREATE,
	PS_DELETE,
	PS_RENAME,
	PS_SUBSCRIBE,
	PS_UNSUBSCRIBE,
	PS_QUOTA,
	PS_APPEND,
	PS_MAILBOX_ID,
	PS_REFRESH,
	PS_STORE_FLAGS,
	PS_EXPUNGE,
	PS_COPY,
	PS_BODY,
	PS_BODY_GC,
	PS_HEADER,
	PS_CACHE_GET,
	PS_CACHE_AHEAD,
	PS_CACHE_PUT,
	PS_USER_GET,
	PS_ALIAS_GET,
	PS_KV_GET,
	PS_KV_SET,
	PS_KV_INCR,
	PS_KV_DEL,
	PS_KV_SWEEP,
	PS_COUNT
};

/* pgsql_conn.c */
extern const struct pgsql_conf *pgsql_conf;
/*
 * Runs a prepared statement on the process's connection, connecting
 * (or reconnecting, after a back-off) when needed. values[i] NULL is
 * SQL NULL; lengths/formats may be NULL (all text). The result, or NULL
 * with the reason in *code_r (an fc_error: FC_ERR_TEMP when the
 * database cannot be reached) and *error_r (static).
 */
PGresult *pgsql_exec(enum pgsql_stmt id, int n, const char *const *values,
    const int *lengths, const int *formats, int binary_result,
    enum fc_error *code_r, const char **error_r);
/* pgsql_exec(), the failure recorded on st; NULL then. */
PGresult *pgsql_st_exec(struct fc_store *st, enum pgsql_stmt id, int n,
    const char *const *values, const int *lengths, const int *formats,
    int binary_result);
/* A connection of its own (the watch, facteurctl), or NULL. */
PGconn *pgsql_connect(const char **error_r);
void pgsql_disconnect(void);
/* back-off after a failed connection, in ms (doubling, capped) */
uint64_t pgsql_backoff_next(uint64_t prev);

/* pgsql_schema.c */
/* The database's schema version (0: none) or -1 with *error_r. */
int pgsql_schema_version(PGconn *c, const char **error_r);
/* Applies the steps after the database's version; 0 or -1. */
int pgsql_schema_migrate(PGconn *c, int *from_r, const char **error_r);
/* For start-up: 0 when the schema is the one this build knows. */
int pgsql_schema_check(const struct pgsql_conf *conf, bool for_ctl,
    const char **error_r);

/* pgsql_store.c */
extern const struct fc_storage_ops pgsql_storage_ops;

/* pgsql_watch.c */
struct pgsql_watcher {
	int64_t mailbox_id;
	void (*fn)(void *arg);
	void *arg;
	struct pgsql_watcher *next;
};
int pgsql_watch_add(struct pgsql_watcher *w, const char **error_r);
void pgsql_watch_remove(struct pgsql_watcher *w);

/* pgsql_kv.c: the shared key/value store (facteur/kv.h) */
int pgsql_kv_register(struct fc_core *core, const char **error_r);

/* pgsql_auth.c */
int pgsql_auth_register(struct fc_core *core, struct pgsql_conf *conf,
    const char **error_r);
int pgsql_ctl_register(struct fc_core *core, struct pgsql_conf *conf,
    const char **error_r);

#endif
