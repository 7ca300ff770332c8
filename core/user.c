/*
 * user.c - a user as auth back ends describe it.
 *
 * Opaque, so that fields can be added without breaking modules; back
 * ends fill it with the setters, everybody else reads it with getters.
 */
#include "config.h"

#include <stdint.h>

#include <facteur/arena.h>
#include <facteur/auth.h>

struct fc_user {
	struct fc_arena *arena;
	const char *name;
	const char *home;
	const char *mail;
	uint64_t quota_bytes;
	uint64_t quota_messages;
};

struct fc_user *
fc_user_new(struct fc_arena *a, const char *name)
{
	struct fc_user *u = fc_arena_alloc(a, sizeof(*u));

	u->arena = a;
	u->name = fc_arena_strdup(a, name);
	return u;
}

void
fc_user_set_home(struct fc_user *u, const char *home)
{
	u->home = home == NULL ? NULL : fc_arena_strdup(u->arena, home);
}

void
fc_user_set_mail(struct fc_user *u, const char *location)
{
	u->mail = location == NULL ? NULL :
	    fc_arena_strdup(u->arena, location);
}

void
fc_user_set_quota(struct fc_user *u, uint64_t bytes, uint64_t messages)
{
	u->quota_bytes = bytes;
	u->quota_messages = messages;
}

const char *
fc_user_name(const struct fc_user *u)
{
	return u->name;
}

const char *
fc_user_home(const struct fc_user *u)
{
	return u->home;
}

const char *
fc_user_mail(const struct fc_user *u)
{
	return u->mail;
}

uint64_t
fc_user_quota_bytes(const struct fc_user *u)
{
	return u->quota_bytes;
}

uint64_t
fc_user_quota_messages(const struct fc_user *u)
{
	return u->quota_messages;
}
