/*
 * pgsql_kv.c - the shared key/value store (facteur/kv.h) in the kv
 * table, so that the Lua filter's counters (greylisting, rate limits)
 * are the same on every worker of every node.
 *
 * Each call is one prepared statement on the process's connection
 * (pgsql_conn.c); incr is one upsert that returns the new value, so two
 * nodes counting at once never lose a count. Expiry is a timestamp of
 * the database's clock, one clock for all nodes: an expired row is
 * ignored by reads, replaced by writes, and deleted by a sweep that a
 * process runs after a write at most once a minute.
 *
 * Keys and values are bytes; the table's columns are text, so a byte
 * outside printable ASCII, and '%', is written %XX. Counters are plain
 * digits either way.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <facteur/arena.h>
#include <facteur/kv.h>
#include <facteur/log.h>

#include "pgsql.h"

#define KV_SWEEP_EVERY	60	/* seconds */
#define KV_BYTES_MAX	65536	/* a key or value, before encoding */

static time_t kv_swept;

/* %XX-encodes s into a fresh arena string. */
static char *
kv_encode(struct fc_arena *a, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = fc_arena_alloc(a, len * 3 + 1), *p = out;
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7f || c == '%') {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		} else
			*p++ = (char)c;
	}
	*p = '\0';
	return out;
}

static int
kv_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The reverse, in place; a stray '%' stays as it is. */
static size_t
kv_decode(char *s)
{
	char *r = s, *w = s;

	while (*r != '\0') {
		if (r[0] == '%' && kv_hex(r[1]) >= 0 && kv_hex(r[2]) >= 0) {
			*w++ = (char)(kv_hex(r[1]) * 16 + kv_hex(r[2]));
			r += 3;
		} else
			*w++ = *r++;
	}
	*w = '\0';
	return (size_t)(w - s);
}

static int
kv_check(size_t key_len, size_t len, const char **error_r)
{
	if (key_len == 0 || key_len > KV_BYTES_MAX || len > KV_BYTES_MAX) {
		*error_r = "key or value empty or too long";
		return -1;
	}
	return 0;
}

/* Now and then, after a write: expired rows go. */
static void
kv_sweep(void)
{
	enum fc_error code;
	const char *err;
	time_t now = time(NULL);
	PGresult *r;

	if (now - kv_swept < KV_SWEEP_EVERY)
		return;
	kv_swept = now;
	r = pgsql_exec(PS_KV_SWEEP, 0, NULL, NULL, NULL, 0, &code, &err);
	PQclear(r);
}

static int
pgsql_kv_get(void *ctx, const char *key, size_t key_len, struct fc_arena *a,
    char **value_r, size_t *len_r, const char **error_r)
{
	const char *values[1];
	enum fc_error code;
	PGresult *r;

	(void)ctx;
	if (kv_check(key_len, 0, error_r) < 0)
		return -1;
	values[0] = kv_encode(a, key, key_len);
	r = pgsql_exec(PS_KV_GET, 1, values, NULL, NULL, 0, &code, error_r);
	if (r == NULL)
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return 0;
	}
	*value_r = fc_arena_strdup(a, PQgetvalue(r, 0, 0));
	*len_r = kv_decode(*value_r);
	PQclear(r);
	return 1;
}

static int
pgsql_kv_set(void *ctx, const char *key, size_t key_len, const char *value,
    size_t len, uint64_t ttl_ms, const char **error_r)
{
	struct fc_arena *a;
	const char *values[3];
	char ttl[24];
	enum fc_error code;
	PGresult *r;

	(void)ctx;
	if (kv_check(key_len, len, error_r) < 0)
		return -1;
	a = fc_arena_new("pgsql-kv", 256 + (key_len + len) * 3);
	snprintf(ttl, sizeof(ttl), "%" PRIu64, ttl_ms);
	values[0] = kv_encode(a, key, key_len);
	values[1] = kv_encode(a, value, len);
	values[2] = ttl;
	r = pgsql_exec(PS_KV_SET, 3, values, NULL, NULL, 0, &code, error_r);
	fc_arena_free(&a);
	if (r == NULL)
		return -1;
	PQclear(r);
	kv_sweep();
	return 0;
}

static int
pgsql_kv_incr(void *ctx, const char *key, size_t key_len, int64_t by,
    uint64_t ttl_ms, int64_t *value_r, const char **error_r)
{
	struct fc_arena *a;
	const char *values[3];
	char ttl[24], n[24];
	enum fc_error code;
	PGresult *r;
	int ret = -1;

	(void)ctx;
	if (kv_check(key_len, 0, error_r) < 0)
		return -1;
	a = fc_arena_new("pgsql-kv", 256 + key_len * 3);
	snprintf(n, sizeof(n), "%" PRId64, by);
	snprintf(ttl, sizeof(ttl), "%" PRIu64, ttl_ms);
	values[0] = kv_encode(a, key, key_len);
	values[1] = n;
	values[2] = ttl;
	r = pgsql_exec(PS_KV_INCR, 3, values, NULL, NULL, 0, &code, error_r);
	fc_arena_free(&a);
	if (r == NULL)
		return -1;
	if (PQntuples(r) == 1 && sscanf(PQgetvalue(r, 0, 0), "%" SCNd64,
	    value_r) == 1)
		ret = 0;
	else
		*error_r = "incr: no value returned";
	PQclear(r);
	kv_sweep();
	return ret;
}

static int
pgsql_kv_del(void *ctx, const char *key, size_t key_len,
    const char **error_r)
{
	struct fc_arena *a;
	const char *values[1];
	enum fc_error code;
	PGresult *r;

	(void)ctx;
	if (kv_check(key_len, 0, error_r) < 0)
		return -1;
	a = fc_arena_new("pgsql-kv", 256 + key_len * 3);
	values[0] = kv_encode(a, key, key_len);
	r = pgsql_exec(PS_KV_DEL, 1, values, NULL, NULL, 0, &code, error_r);
	fc_arena_free(&a);
	if (r == NULL)
		return -1;
	PQclear(r);
	return 0;
}

static const struct fc_kv_ops pgsql_kv_ops = {
	.size = sizeof(struct fc_kv_ops),
	.get = pgsql_kv_get,
	.set = pgsql_kv_set,
	.incr = pgsql_kv_incr,
	.del = pgsql_kv_del,
};

int
pgsql_kv_register(struct fc_core *core, const char **error_r)
{
	return fc_kv_register(core, "pgsql", &pgsql_kv_ops, NULL, error_r);
}
