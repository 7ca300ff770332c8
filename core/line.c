/*
 * line.c - bounded line framing over a libevent buffer.
 *
 * A line ends at LF; a CR just before the LF is removed too. A line
 * longer than the limit is reported once (FC_LINE_TOO_LONG) and then
 * discarded up to and including its LF, whatever its length, in the
 * manner of Postfix's smtp_get() with SMTP_GET_FLAG_SKIP.
 */
#include "config.h"

#include <event2/buffer.h>

#include "line.h"

/* Position of the first LF within the first limit bytes, or -1. */
static ssize_t
line_find_lf(struct evbuffer *in, size_t limit)
{
	struct evbuffer_ptr end, found;

	if (limit == 0)
		return -1;
	if (evbuffer_ptr_set(in, &end, limit, EVBUFFER_PTR_SET) < 0)
		return -1;
	found = evbuffer_search_range(in, "\n", 1, NULL, &end);
	return found.pos;
}

enum fc_line_status
fc_line_next(struct fc_line_framer *f, struct evbuffer *in, char **line_r,
    size_t *len_r, size_t *drain_r)
{
	size_t avail = evbuffer_get_length(in), len;
	ssize_t pos;
	char *p;

	*drain_r = 0;
	if (f->skipping) {
		pos = line_find_lf(in, avail);
		if (pos < 0) {
			*drain_r = avail;
			return FC_LINE_NONE;
		}
		/* the end of the skipped line: drop it with its LF, then
		 * the caller comes back for the next line */
		f->skipping = false;
		*drain_r = (size_t)pos + 1;
		return FC_LINE_NONE;
	}

	pos = line_find_lf(in, avail < f->max + 2 ? avail : f->max + 2);
	if (pos < 0) {
		if (avail < f->max + 2)
			return FC_LINE_NONE;
		/* too long: drop it up to its LF if that is here already,
		 * else all we have, and skip the rest as it comes */
		pos = line_find_lf(in, avail);
		if (pos >= 0)
			*drain_r = (size_t)pos + 1;
		else {
			f->skipping = true;
			*drain_r = avail;
		}
		return FC_LINE_TOO_LONG;
	}
	p = (char *)evbuffer_pullup(in, pos + 1);
	len = (size_t)pos;
	if (len > 0 && p[len - 1] == '\r')
		len--;
	*drain_r = (size_t)pos + 1;
	if (len > f->max)
		return FC_LINE_TOO_LONG;
	p[len] = '\0';
	*line_r = p;
	*len_r = len;
	return FC_LINE_OK;
}
