/*
 * session_deflate.h - raw deflate (RFC 1951, no zlib header) on both
 * directions of a session's stream, as IMAP COMPRESS=DEFLATE (RFC 4978)
 * asks for. Private to the core: modules call fc_session_compress().
 *
 * Two layers. The stream functions move bytes between evbuffers and
 * know nothing of sessions (unit-tested and fuzzed alone); the filter
 * puts them on a bufferevent, above TLS when TLS is on, so that back-
 * pressure works as it does without compression: inflated input stops
 * at the session's input high-water mark, deflated output at the lower
 * layer's write high-water mark.
 */
#ifndef FACTEUR_SESSION_DEFLATE_H
#define FACTEUR_SESSION_DEFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct bufferevent;
struct event_base;
struct evbuffer;
struct fc_deflate;

/*
 * Both zlib streams, with their memory counted. NULL when zlib cannot
 * get its memory.
 */
struct fc_deflate *fc_deflate_new(void);
void fc_deflate_free(struct fc_deflate **d);

/*
 * Inflates from src into dst, at most limit bytes out; drains from src
 * what it used. Returns the bytes added to dst, or -1 when the stream is
 * corrupt or ended (every later call fails too; *why_r says why). What
 * the limit held back stays in zlib or in src for the next call.
 */
ssize_t fc_deflate_inflate(struct fc_deflate *d, struct evbuffer *src,
    struct evbuffer *dst, size_t limit, const char **why_r);
/* Does zlib hold inflated bytes that the limit kept back? */
bool fc_deflate_inflate_pending(const struct fc_deflate *d);

/*
 * Deflates from src into dst, at most limit bytes out, and drains from
 * src what it used. With flush, all of src is taken whatever the limit
 * and a sync flush ends it, so the peer can inflate everything sent so
 * far. Returns the bytes added to dst, or -1 (zlib failed).
 */
ssize_t fc_deflate_deflate(struct fc_deflate *d, struct evbuffer *src,
    struct evbuffer *dst, size_t limit, bool flush);
/* Has input gone into the compressor since the last sync flush? */
bool fc_deflate_unflushed(const struct fc_deflate *d);

/* Bytes zlib holds for this stream pair now, and at most. */
size_t fc_deflate_memory(const struct fc_deflate *d);
size_t fc_deflate_memory_peak(const struct fc_deflate *d);

/*
 * The filter: a bufferevent on top of under (freed with it) that takes
 * d. Output is sync-flushed once per turn of the event loop, after all
 * that the turn wrote. A corrupt input stream calls error(arg, why)
 * from the loop, never from inside a read or a write. NULL on failure,
 * and d is then still the caller's to free.
 */
typedef void fc_deflate_error_fn(void *arg, const char *why);
struct bufferevent *fc_deflate_filter_new(struct event_base *base,
    struct bufferevent *under, struct fc_deflate *d,
    fc_deflate_error_fn *error, void *arg);

#endif
