/*
 * envelope.c - a mail transaction as protocol modules and filters share
 * it (include/facteur/envelope.h).
 *
 * The struct lives in the session's arena; what a transaction puts in
 * it lives in an arena of its own, emptied by fc_envelope_reset(), so a
 * session that runs any number of transactions holds no more than the
 * largest one. The HELO outlives transactions: it is malloc'ed, replaced
 * by the next HELO and freed with the session.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <facteur/arena.h>
#include <facteur/envelope.h>
#include <facteur/session.h>

struct envelope_header {
	const char *name, *value;
};

struct fc_envelope {
	struct fc_session *s;
	struct fc_arena *a;		/* the transaction's */
	char *helo;
	const char *sender;
	const char **rcpts;
	size_t nrcpts, rcptalloc;
	int fd;
	uint64_t size;
	const char *id;
	struct envelope_header *headers;
	size_t nheaders, headeralloc;
	const char *folder;
	const char *reply;
};

/* With the session's arena: the transaction's arena and the HELO. */
static void
envelope_free(void *arg)
{
	struct fc_envelope *env = arg;

	fc_arena_free(&env->a);
	free(env->helo);
	env->helo = NULL;
}

struct fc_envelope *
fc_envelope_new(struct fc_session *s)
{
	struct fc_arena *a = fc_session_arena(s);
	struct fc_envelope *env = fc_arena_alloc(a, sizeof(*env));

	env->s = s;
	env->a = fc_arena_new("envelope", 1024);
	env->fd = -1;
	fc_arena_on_free(a, envelope_free, env);
	return env;
}

void
fc_envelope_reset(struct fc_envelope *env)
{
	env->sender = NULL;
	env->rcpts = NULL;
	env->nrcpts = env->rcptalloc = 0;
	env->fd = -1;
	env->size = 0;
	env->id = NULL;
	env->headers = NULL;
	env->nheaders = env->headeralloc = 0;
	env->folder = NULL;
	env->reply = NULL;
	fc_arena_reset(env->a);
}

void
fc_envelope_set_helo(struct fc_envelope *env, const char *helo)
{
	/* copied before the old one goes: helo may point into it */
	char *copy = fc_strdup(helo);

	free(env->helo);
	env->helo = copy;
}

void
fc_envelope_set_sender(struct fc_envelope *env, const char *sender)
{
	env->sender = fc_arena_strdup(env->a, sender);
}

void
fc_envelope_add_recipient(struct fc_envelope *env, const char *rcpt)
{
	if (env->nrcpts == env->rcptalloc) {
		size_t n = env->rcptalloc == 0 ? 8 : env->rcptalloc * 2;
		const char **r = fc_arena_alloc(env->a, n * sizeof(*r));

		if (env->nrcpts > 0)
			memcpy(r, env->rcpts, env->nrcpts * sizeof(*r));
		env->rcpts = r;
		env->rcptalloc = n;
	}
	env->rcpts[env->nrcpts++] = fc_arena_strdup(env->a, rcpt);
}

void
fc_envelope_drop_recipient(struct fc_envelope *env)
{
	if (env->nrcpts > 0)
		env->nrcpts--;
}

void
fc_envelope_set_message(struct fc_envelope *env, int fd, uint64_t size)
{
	env->fd = fd;
	env->size = size;
}

void
fc_envelope_set_id(struct fc_envelope *env, const char *id)
{
	env->id = fc_arena_strdup(env->a, id);
}

struct fc_session *
fc_envelope_session(struct fc_envelope *env)
{
	return env->s;
}

const char *
fc_envelope_helo(struct fc_envelope *env)
{
	return env->helo;
}

const char *
fc_envelope_sender(struct fc_envelope *env)
{
	return env->sender;
}

size_t
fc_envelope_recipient_count(struct fc_envelope *env)
{
	return env->nrcpts;
}

const char *
fc_envelope_recipient(struct fc_envelope *env, size_t i)
{
	return i < env->nrcpts ? env->rcpts[i] : NULL;
}

int
fc_envelope_message_fd(struct fc_envelope *env)
{
	return env->fd;
}

uint64_t
fc_envelope_message_size(struct fc_envelope *env)
{
	return env->size;
}

const char *
fc_envelope_id(struct fc_envelope *env)
{
	return env->id;
}

void
fc_envelope_add_header(struct fc_envelope *env, const char *name,
    const char *value)
{
	if (env->nheaders == env->headeralloc) {
		size_t n = env->headeralloc == 0 ? 4 : env->headeralloc * 2;
		struct envelope_header *h = fc_arena_alloc(env->a,
		    n * sizeof(*h));

		if (env->nheaders > 0)
			memcpy(h, env->headers, env->nheaders * sizeof(*h));
		env->headers = h;
		env->headeralloc = n;
	}
	env->headers[env->nheaders].name = fc_arena_strdup(env->a, name);
	env->headers[env->nheaders].value = fc_arena_strdup(env->a, value);
	env->nheaders++;
}

size_t
fc_envelope_header_count(struct fc_envelope *env)
{
	return env->nheaders;
}

bool
fc_envelope_header_at(struct fc_envelope *env, size_t i, const char **name_r,
    const char **value_r)
{
	if (i >= env->nheaders)
		return false;
	*name_r = env->headers[i].name;
	*value_r = env->headers[i].value;
	return true;
}

void
fc_envelope_set_folder(struct fc_envelope *env, const char *folder)
{
	env->folder = folder == NULL ? NULL : fc_arena_strdup(env->a, folder);
}

const char *
fc_envelope_folder(struct fc_envelope *env)
{
	return env->folder;
}

void
fc_envelope_set_reply(struct fc_envelope *env, const char *reply)
{
	env->reply = reply == NULL ? NULL : fc_arena_strdup(env->a, reply);
}

const char *
fc_envelope_reply(struct fc_envelope *env)
{
	return env->reply;
}
