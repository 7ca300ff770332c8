/*
 * kv.c - the registry of the shared key/value back end (kv.h).
 *
 * One back end per configuration generation. The registration lives
 * in the generation's arena and is forgotten when that arena is freed,
 * so a call never reaches a module that was unloaded.
 */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include <facteur/arena.h>
#include <facteur/kv.h>

#include "core.h"

struct fc_kv {
	struct fc_core *core;
	const char *name;
	const struct fc_kv_ops *ops;
	void *ctx;
	struct fc_kv *next;
};

/* every generation's, newest first: the master keeps the running one
 * while it tries a new one */
static struct fc_kv *kv_list;

static void
kv_forget(void *arg)
{
	struct fc_kv **p;

	for (p = &kv_list; *p != NULL; p = &(*p)->next)
		if (*p == arg) {
			*p = (*p)->next;
			return;
		}
}

int
fc_kv_register(struct fc_core *core, const char *name,
    const struct fc_kv_ops *ops, void *ctx, const char **error_r)
{
	struct fc_kv *kv;

	if (ops == NULL || ops->size < offsetof(struct fc_kv_ops, del) +
	    sizeof(ops->del) || ops->get == NULL || ops->set == NULL ||
	    ops->incr == NULL || ops->del == NULL) {
		*error_r = "kv ops missing or too small";
		return -1;
	}
	if (fc_kv_shared(core, NULL) != NULL) {
		*error_r = "a shared key/value back end is already registered";
		return -1;
	}
	kv = fc_arena_alloc(core->arena, sizeof(*kv));
	kv->core = core;
	kv->name = fc_arena_strdup(core->arena, name);
	kv->ops = ops;
	kv->ctx = ctx;
	kv->next = kv_list;
	kv_list = kv;
	fc_arena_on_free(core->arena, kv_forget, kv);
	return 0;
}

struct fc_kv *
fc_kv_shared(struct fc_core *core, const char **name_r)
{
	struct fc_kv *kv;

	for (kv = kv_list; kv != NULL; kv = kv->next)
		if (kv->core == core) {
			if (name_r != NULL)
				*name_r = kv->name;
			return kv;
		}
	return NULL;
}

int
fc_kv_get(struct fc_kv *kv, const char *key, size_t key_len,
    struct fc_arena *a, char **value_r, size_t *len_r, const char **error_r)
{
	return kv->ops->get(kv->ctx, key, key_len, a, value_r, len_r,
	    error_r);
}

int
fc_kv_set(struct fc_kv *kv, const char *key, size_t key_len,
    const char *value, size_t len, uint64_t ttl_ms, const char **error_r)
{
	return kv->ops->set(kv->ctx, key, key_len, value, len, ttl_ms,
	    error_r);
}

int
fc_kv_incr(struct fc_kv *kv, const char *key, size_t key_len, int64_t by,
    uint64_t ttl_ms, int64_t *value_r, const char **error_r)
{
	return kv->ops->incr(kv->ctx, key, key_len, by, ttl_ms, value_r,
	    error_r);
}

int
fc_kv_del(struct fc_kv *kv, const char *key, size_t key_len,
    const char **error_r)
{
	return kv->ops->del(kv->ctx, key, key_len, error_r);
}
