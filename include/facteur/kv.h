/*
 * kv.h - a key/value store with expiry that several processes share.
 *
 * One module may register a shared back end (the pgsql module does, over
 * its kv table); a filter that counts things (facteur.kv in the Lua
 * plugin) then sees the same keys from every worker of every node. With
 * no back end registered, fc_kv_shared() is NULL and the filter keeps
 * its own store in memory.
 *
 * The calls are synchronous, as storage calls are (DESIGN §1): a query
 * on a nearby database takes well under a millisecond. Keys and values
 * are byte strings (any bytes; the back end encodes what it must). A
 * value whose expiry has passed is absent. Every call returns -1 with a
 * static reason in *error_r when the back end cannot answer (a lost
 * database); callers treat that as a miss, never as a reason to fail a
 * message.
 */
#ifndef FACTEUR_KV_H
#define FACTEUR_KV_H

#include <stddef.h>
#include <stdint.h>

struct fc_arena;
struct fc_core;

struct fc_kv_ops {
	size_t size;		/* sizeof(struct fc_kv_ops) when built */
	/* 1 and the value (in a, NUL-terminated too) when the key is
	 * there, 0 when it is not, -1 on error */
	int (*get)(void *ctx, const char *key, size_t key_len,
	    struct fc_arena *a, char **value_r, size_t *len_r,
	    const char **error_r);
	/* ttl_ms 0: no expiry. 0 or -1 */
	int (*set)(void *ctx, const char *key, size_t key_len,
	    const char *value, size_t len, uint64_t ttl_ms,
	    const char **error_r);
	/* Adds by to the key's integer value (a missing, expired or
	 * non-integer value counts as 0) and stores the sum; a key that
	 * was missing or expired gets ttl_ms (0: no expiry), an existing
	 * one keeps its expiry. The sum in *value_r; 0 or -1. */
	int (*incr)(void *ctx, const char *key, size_t key_len, int64_t by,
	    uint64_t ttl_ms, int64_t *value_r, const char **error_r);
	/* 0 (whether or not the key was there) or -1 */
	int (*del)(void *ctx, const char *key, size_t key_len,
	    const char **error_r);
};

/*
 * Registers the shared back end, in a module's init(); one per
 * configuration. ctx is handed to each call. 0, or -1 with *error_r.
 */
int fc_kv_register(struct fc_core *core, const char *name,
    const struct fc_kv_ops *ops, void *ctx, const char **error_r);

/* The back end registered with core, or NULL; its name in *name_r. */
struct fc_kv;
struct fc_kv *fc_kv_shared(struct fc_core *core, const char **name_r);

/* The calls, as in struct fc_kv_ops. */
int fc_kv_get(struct fc_kv *kv, const char *key, size_t key_len,
    struct fc_arena *a, char **value_r, size_t *len_r, const char **error_r);
int fc_kv_set(struct fc_kv *kv, const char *key, size_t key_len,
    const char *value, size_t len, uint64_t ttl_ms, const char **error_r);
int fc_kv_incr(struct fc_kv *kv, const char *key, size_t key_len,
    int64_t by, uint64_t ttl_ms, int64_t *value_r, const char **error_r);
int fc_kv_del(struct fc_kv *kv, const char *key, size_t key_len,
    const char **error_r);

#endif
