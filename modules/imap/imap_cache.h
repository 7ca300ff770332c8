/*
 * imap_cache.h - ENVELOPE, BODY and BODYSTRUCTURE kept by the store.
 *
 * On a store that keeps a message cache (fc_msg_cache_get/put: pgsql),
 * FETCH of these items reads a few hundred bytes instead of the whole
 * message and its MIME parse. The first FETCH of a message renders them
 * and leaves them in the cache for the next session.
 */
#ifndef FACTEUR_IMAP_CACHE_H
#define FACTEUR_IMAP_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fc_arena;
struct fc_mailbox;
struct fc_mime_part;

/* The three answers of one message, ready to send (in an arena). */
struct imap_cached {
	const char *envelope, *body, *bodystructure;
	size_t envelope_len, body_len, bodystructure_len;
};

/*
 * The message's answers from the store's cache, for a session with
 * (utf8) or without UTF8=ACCEPT: 1 with *c filled, 0 when the cache
 * has nothing usable (*put_r: whether imap_cache_fill() should leave
 * the answers there), -1 when the store failed (fc_store_error()).
 */
int imap_cache_load(struct fc_mailbox *box, uint32_t seq, bool utf8,
    struct fc_arena *a, struct imap_cached *c, bool *put_r);
/* Renders the answers from the message's tree into *c and, with put,
 * leaves them in the store's cache (a failure there is only logged at
 * debug level by the store: the cache is only a cache). */
void imap_cache_fill(struct fc_mailbox *box, uint32_t seq, bool utf8,
    const struct fc_mime_part *root, struct fc_arena *a, bool put,
    struct imap_cached *c);

#endif
