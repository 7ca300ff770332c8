/*
 * session_deflate.c - raw deflate on a session's stream (see
 * session_deflate.h): the evbuffer-to-evbuffer stream functions, then
 * the bufferevent filter that carries them.
 *
 * Memory. Nothing is allocated before a client asks for compression.
 * Then inflate needs the window the client chose, up to 32 KiB (RFC 4978
 * lets the client pick, and clients pick 15 bits), plus ~7 KiB of state.
 * Our own compressor is ours to size: a 4 KiB window and memLevel 5 cost
 * ~38 KiB instead of zlib's default ~262 KiB, and mail headers, which
 * repeat from one message to the next, compress nearly as well (the
 * numbers are in docs/imap.md). zlib's allocations go through a counter
 * so tests and logs can state the real figure.
 *
 * Bounds. Inflate never writes more than the limit it is given (the
 * room left under the session's input high-water mark), so a small
 * compressed input that expands to gigabytes (a decompression bomb)
 * only ever fills that much; the rest waits in zlib or in the lower
 * buffer until the session has taken its lines, and the line framer's
 * max_line_length applies to the inflated text as to any other.
 *
 * Not here: what a protocol says about compression (the IMAP module
 * answers COMPRESS), and the order of layers (session.c puts this
 * filter above TLS and refuses STARTTLS afterwards).
 */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <facteur/arena.h>

#include "session_deflate.h"

#define DEFLATE_LEVEL		6	/* zlib's default */
#define DEFLATE_WINDOW_BITS	12	/* 4 KiB window */
#define DEFLATE_MEM_LEVEL	5
#define INFLATE_WINDOW_BITS	15	/* whatever the client uses */
#define CHUNK			16384	/* output room per zlib call */

struct fc_deflate {
	z_stream in;			/* inflate: from the client */
	z_stream out;			/* deflate: to the client */
	bool in_ok, out_ok;		/* set up (the end calls need it) */
	bool in_failed;
	const char *in_why;
	bool in_pending;		/* zlib may hold inflated bytes */
	bool unflushed;			/* deflated since the last flush */
	size_t memory, peak;		/* what zlib holds, at most */

	/* the filter */
	struct bufferevent *bev;
	struct event *flush_ev;		/* once per loop turn of output */
	struct event *error_ev;		/* reports a corrupt stream */
	fc_deflate_error_fn *error;
	void *error_arg;
};

/* ------------------------------------------------------------------ */
/* zlib's memory, counted */

union deflate_block {
	size_t size;
	max_align_t align;		/* what follows stays aligned */
};

static voidpf
deflate_zalloc(voidpf opaque, uInt items, uInt size)
{
	struct fc_deflate *d = opaque;
	union deflate_block *b;
	size_t n;

	if (size != 0 && items > (SIZE_MAX - sizeof(*b)) / size)
		return Z_NULL;
	n = (size_t)items * size;
	b = malloc(sizeof(*b) + n);
	if (b == NULL)
		return Z_NULL;
	b->size = n;
	d->memory += n;
	if (d->memory > d->peak)
		d->peak = d->memory;
	return b + 1;
}

static void
deflate_zfree(voidpf opaque, voidpf p)
{
	struct fc_deflate *d = opaque;
	union deflate_block *b;

	if (p == Z_NULL)
		return;
	b = (union deflate_block *)p - 1;
	d->memory -= b->size;
	free(b);
}

/* ------------------------------------------------------------------ */
/* The streams */

struct fc_deflate *
fc_deflate_new(void)
{
	struct fc_deflate *d = fc_calloc(1, sizeof(*d));

	d->in.zalloc = d->out.zalloc = deflate_zalloc;
	d->in.zfree = d->out.zfree = deflate_zfree;
	d->in.opaque = d->out.opaque = d;
	/* negative window bits: raw deflate, as RFC 4978 section 4 says */
	if (inflateInit2(&d->in, -INFLATE_WINDOW_BITS) != Z_OK) {
		fc_deflate_free(&d);
		return NULL;
	}
	d->in_ok = true;
	if (deflateInit2(&d->out, DEFLATE_LEVEL, Z_DEFLATED,
	    -DEFLATE_WINDOW_BITS, DEFLATE_MEM_LEVEL, Z_DEFAULT_STRATEGY)
	    != Z_OK) {
		fc_deflate_free(&d);
		return NULL;
	}
	d->out_ok = true;
	return d;
}

void
fc_deflate_free(struct fc_deflate **dp)
{
	struct fc_deflate *d = *dp;

	if (d == NULL)
		return;
	*dp = NULL;
	if (d->in_ok)
		inflateEnd(&d->in);
	if (d->out_ok)
		deflateEnd(&d->out);
	if (d->flush_ev != NULL)
		event_free(d->flush_ev);
	if (d->error_ev != NULL)
		event_free(d->error_ev);
	free(d);
}

static ssize_t
deflate_in_fail(struct fc_deflate *d, const char *why, const char **why_r)
{
	d->in_failed = true;
	d->in_pending = false;
	d->in_why = why;
	*why_r = why;
	return -1;
}

ssize_t
fc_deflate_inflate(struct fc_deflate *d, struct evbuffer *src,
    struct evbuffer *dst, size_t limit, const char **why_r)
{
	struct evbuffer_iovec in, out;
	size_t produced = 0, room, used, made;
	int r;

	if (d->in_failed) {
		*why_r = d->in_why;
		return -1;
	}
	while (produced < limit) {
		if (evbuffer_peek(src, -1, NULL, &in, 1) < 1) {
			in.iov_base = NULL;
			in.iov_len = 0;
		}
		if (in.iov_len == 0 && !d->in_pending)
			break;
		room = limit - produced < CHUNK ? limit - produced : CHUNK;
		if (evbuffer_reserve_space(dst, (ev_ssize_t)room, &out, 1) < 1)
			return deflate_in_fail(d, "out of memory", why_r);
		if (out.iov_len > room)
			out.iov_len = room;
		if (in.iov_len > UINT_MAX)
			in.iov_len = UINT_MAX;
		d->in.next_in = in.iov_base;
		d->in.avail_in = (uInt)in.iov_len;
		d->in.next_out = out.iov_base;
		d->in.avail_out = (uInt)out.iov_len;
		r = inflate(&d->in, Z_SYNC_FLUSH);
		used = in.iov_len - d->in.avail_in;
		made = out.iov_len - d->in.avail_out;
		out.iov_len = made;
		evbuffer_commit_space(dst, &out, 1);
		evbuffer_drain(src, used);
		produced += made;
		/* output space ran out: zlib may have more without input */
		d->in_pending = d->in.avail_out == 0;
		if (r == Z_STREAM_END)
			/* a final block: RFC 4978 has no way to start again */
			return deflate_in_fail(d, "compressed stream ended",
			    why_r);
		if (r != Z_OK && r != Z_BUF_ERROR)
			return deflate_in_fail(d, r == Z_MEM_ERROR ?
			    "out of memory" : "corrupt compressed stream",
			    why_r);
		if (used == 0 && made == 0) {
			d->in_pending = false;
			break;
		}
	}
	return (ssize_t)produced;
}

bool
fc_deflate_inflate_pending(const struct fc_deflate *d)
{
	return d->in_pending;
}

ssize_t
fc_deflate_deflate(struct fc_deflate *d, struct evbuffer *src,
    struct evbuffer *dst, size_t limit, bool flush)
{
	struct evbuffer_iovec in, out;
	size_t produced = 0, room, used, made;
	bool last;
	int r, mode;

	if (flush)
		limit = SIZE_MAX;
	for (;;) {
		if (evbuffer_peek(src, -1, NULL, &in, 1) < 1) {
			in.iov_base = NULL;
			in.iov_len = 0;
		}
		if (in.iov_len > UINT_MAX)
			in.iov_len = UINT_MAX;
		last = in.iov_len == evbuffer_get_length(src);
		if (in.iov_len == 0 && !(flush && d->unflushed))
			break;
		if (produced >= limit)
			break;
		room = limit - produced < CHUNK ? limit - produced : CHUNK;
		if (evbuffer_reserve_space(dst, (ev_ssize_t)room, &out, 1) < 1)
			return -1;
		if (out.iov_len > room)
			out.iov_len = room;
		mode = flush && last ? Z_SYNC_FLUSH : Z_NO_FLUSH;
		d->out.next_in = in.iov_base;
		d->out.avail_in = (uInt)in.iov_len;
		d->out.next_out = out.iov_base;
		d->out.avail_out = (uInt)out.iov_len;
		r = deflate(&d->out, mode);
		used = in.iov_len - d->out.avail_in;
		made = out.iov_len - d->out.avail_out;
		out.iov_len = made;
		evbuffer_commit_space(dst, &out, 1);
		evbuffer_drain(src, used);
		produced += made;
		if (r != Z_OK && r != Z_BUF_ERROR)
			return -1;
		if (used > 0)
			d->unflushed = true;
		/* a sync flush is complete when it leaves output room */
		if (mode == Z_SYNC_FLUSH && d->out.avail_in == 0
		    && d->out.avail_out != 0) {
			d->unflushed = false;
			break;
		}
		if (used == 0 && made == 0 && mode == Z_NO_FLUSH)
			break;
	}
	return (ssize_t)produced;
}

bool
fc_deflate_unflushed(const struct fc_deflate *d)
{
	return d->unflushed;
}

size_t
fc_deflate_memory(const struct fc_deflate *d)
{
	return d->memory;
}

size_t
fc_deflate_memory_peak(const struct fc_deflate *d)
{
	return d->peak;
}

/* ------------------------------------------------------------------ */
/* The filter */

/*
 * Input: inflate into the room under the session's high-water mark
 * (libevent passes it as dst_limit). libevent ignores the BEV_ERROR
 * of an input filter, so a corrupt stream is reported by an event.
 */
static enum bufferevent_filter_result
deflate_filter_in(struct evbuffer *src, struct evbuffer *dst,
    ev_ssize_t dst_limit, enum bufferevent_flush_mode mode, void *arg)
{
	struct fc_deflate *d = arg;
	size_t limit = dst_limit < 0 ? CHUNK : (size_t)dst_limit;
	const char *why;
	ssize_t n;

	(void)mode;
	if (d->in_failed)
		return BEV_ERROR;
	n = fc_deflate_inflate(d, src, dst, limit, &why);
	if (n < 0) {
		/* the client's later bytes mean nothing now */
		evbuffer_drain(src, evbuffer_get_length(src));
		event_active(d->error_ev, EV_TIMEOUT, 0);
		return BEV_ERROR;
	}
	return n > 0 ? BEV_OK : BEV_NEED_MORE;
}

/*
 * Output: compress as the lower layer takes it, without flushing, so a
 * reply written in many small pieces compresses as one; the flush event
 * then sync-flushes once the loop turn's writes are done. A flush asked
 * by libevent (BEV_FLUSH, BEV_FINISHED) flushes at once.
 */
static enum bufferevent_filter_result
deflate_filter_out(struct evbuffer *src, struct evbuffer *dst,
    ev_ssize_t dst_limit, enum bufferevent_flush_mode mode, void *arg)
{
	struct fc_deflate *d = arg;
	size_t before = evbuffer_get_length(src);
	bool flush = mode != BEV_NORMAL;
	ssize_t n;

	n = fc_deflate_deflate(d, src, dst,
	    dst_limit < 0 ? SIZE_MAX : (size_t)dst_limit, flush);
	if (n < 0)
		return BEV_ERROR;
	if (d->unflushed)
		event_active(d->flush_ev, EV_TIMEOUT, 0);
	return n > 0 || evbuffer_get_length(src) < before ? BEV_OK :
	    BEV_NEED_MORE;
}

static void
deflate_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fc_deflate *d = arg;

	(void)fd;
	(void)what;
	if (d->unflushed)
		bufferevent_flush(d->bev, EV_WRITE, BEV_FLUSH);
}

static void
deflate_error_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fc_deflate *d = arg;

	(void)fd;
	(void)what;
	d->error(d->error_arg, d->in_why);
}

static void
deflate_filter_free(void *arg)
{
	struct fc_deflate *d = arg;

	fc_deflate_free(&d);
}

struct bufferevent *
fc_deflate_filter_new(struct event_base *base, struct bufferevent *under,
    struct fc_deflate *d, fc_deflate_error_fn *error, void *arg)
{
	d->flush_ev = event_new(base, -1, 0, deflate_flush_cb, d);
	d->error_ev = event_new(base, -1, 0, deflate_error_cb, d);
	if (d->flush_ev == NULL || d->error_ev == NULL)
		return NULL;
	d->error = error;
	d->error_arg = arg;
	/* deferred callbacks: a write that the filter compresses at once
	 * must not call the session's write callback from inside
	 * fc_session_write() */
	d->bev = bufferevent_filter_new(under, deflate_filter_in,
	    deflate_filter_out, BEV_OPT_CLOSE_ON_FREE |
	    BEV_OPT_DEFER_CALLBACKS, deflate_filter_free, d);
	return d->bev;
}
