/*
 * mime_buf.c - a growable byte buffer on the heap, for the MIME code's
 * intermediate results (decoded header text, a header field being read).
 *
 * Results end up in the caller's arena (mime_buf_arena()); building them
 * on the heap first avoids leaving every outgrown copy in the arena. The
 * buffer is not NUL-terminated until it is copied out.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <facteur/arena.h>

#include "mime_private.h"

static void
mime_buf_grow(struct mime_buf *b, size_t n)
{
	size_t cap;

	if (b->cap - b->len >= n)
		return;
	cap = b->cap == 0 ? 128 : b->cap;
	while (cap - b->len < n)
		cap *= 2;
	b->data = fc_realloc(b->data, cap);
	b->cap = cap;
}

void
mime_buf_add(struct mime_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	mime_buf_grow(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void
mime_buf_addc(struct mime_buf *b, unsigned char c)
{
	mime_buf_grow(b, 1);
	b->data[b->len++] = (char)c;
}

char *
mime_buf_arena(struct fc_arena *a, struct mime_buf *b)
{
	char *s;

	s = fc_arena_strndup(a, b->len > 0 ? b->data : "", b->len);
	b->len = 0;
	return s;
}

void
mime_buf_free(struct mime_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}
