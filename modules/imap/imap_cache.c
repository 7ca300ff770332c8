/*
 * imap_cache.c - ENVELOPE, BODY and BODYSTRUCTURE kept by the store.
 *
 * The cached bytes are one line of lengths, then the three answers as
 * they go on the wire:
 *
 *	IMAP1 <utf8 0|1> <envelope len> <body len> <bodystructure len>\n
 *	<envelope><body><bodystructure>
 *
 * "IMAP1" names this format: a later one takes a new name, and bytes
 * of a name not known here are rendered again and replaced. The answers
 * depend on UTF8=ACCEPT (8-bit header text is sent as it is or as a
 * literal), so the flag says for which kind of session they were made;
 * a session of the other kind renders its own and leaves the cache
 * alone, so that mixed clients do not rewrite it at each FETCH.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <facteur/arena.h>
#include <facteur/mime.h>
#include <facteur/storage.h>

#include "imap_cache.h"
#include "imap_render.h"
#include "imap_str.h"

#define IMAP_CACHE_TAG		"IMAP1 "
/* far above any answer, and what the store keeps at most */
#define IMAP_CACHE_MAX		(512 * 1024)

/* One length of the first line, or -1. */
static long
imap_cache_num(const char **p, const char *end)
{
	long n = 0;

	if (*p >= end || **p < '0' || **p > '9')
		return -1;
	while (*p < end && **p >= '0' && **p <= '9') {
		n = n * 10 + (**p - '0');
		if (n > IMAP_CACHE_MAX)
			return -1;
		(*p)++;
	}
	if (*p < end && (**p == ' ' || **p == '\n'))
		(*p)++;
	else
		return -1;
	return n;
}

int
imap_cache_load(struct fc_mailbox *box, uint32_t seq, bool utf8,
    struct fc_arena *a, struct imap_cached *c, bool *put_r)
{
	const char *data, *p, *end;
	long flag, n[3];
	size_t len;
	int r, i;

	*put_r = false;
	if (!fc_mailbox_can_cache(box))
		return 0;
	r = fc_msg_cache_get(box, seq, a, &data, &len);
	if (r <= 0) {
		*put_r = r == 0;
		return r;
	}
	*put_r = true;
	end = data + len;
	if (len < strlen(IMAP_CACHE_TAG) || memcmp(data, IMAP_CACHE_TAG,
	    strlen(IMAP_CACHE_TAG)) != 0)
		return 0;
	p = data + strlen(IMAP_CACHE_TAG);
	if ((flag = imap_cache_num(&p, end)) < 0 || flag > 1)
		return 0;
	for (i = 0; i < 3; i++)
		if ((n[i] = imap_cache_num(&p, end)) < 0)
			return 0;
	if (p[-1] != '\n' || (size_t)(end - p) != (size_t)(n[0] + n[1] + n[2]))
		return 0;
	if ((flag == 1) != utf8) {
		*put_r = false;		/* made for the other kind */
		return 0;
	}
	c->envelope = p;
	c->envelope_len = (size_t)n[0];
	c->body = p + n[0];
	c->body_len = (size_t)n[1];
	c->bodystructure = p + n[0] + n[1];
	c->bodystructure_len = (size_t)n[2];
	return 1;
}

void
imap_cache_fill(struct fc_mailbox *box, uint32_t seq, bool utf8,
    const struct fc_mime_part *root, struct fc_arena *a, bool put,
    struct imap_cached *c)
{
	struct imap_str env, body, bs;
	char *copy, *p;
	int head;

	imap_str_init(&env);
	imap_str_init(&body);
	imap_str_init(&bs);
	imap_envelope_write(&env, root, utf8);
	imap_bodystructure_write(&body, root, false, utf8);
	imap_bodystructure_write(&bs, root, true, utf8);
	copy = fc_arena_alloc(a, 64 + env.len + body.len + bs.len + 1);
	head = snprintf(copy, 64, "%s%d %zu %zu %zu\n", IMAP_CACHE_TAG,
	    utf8 ? 1 : 0, env.len, body.len, bs.len);
	p = copy + head;
	c->envelope = memcpy(p, env.data, env.len);
	c->envelope_len = env.len;
	p += env.len;
	c->body = memcpy(p, body.data, body.len);
	c->body_len = body.len;
	p += body.len;
	c->bodystructure = memcpy(p, bs.data, bs.len);
	c->bodystructure_len = bs.len;
	p += bs.len;
	if (put && (size_t)(p - copy) <= IMAP_CACHE_MAX)
		(void)fc_msg_cache_put(box, seq, copy, (size_t)(p - copy));
	imap_str_free(&env);
	imap_str_free(&body);
	imap_str_free(&bs);
}
