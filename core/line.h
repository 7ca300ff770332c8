/*
 * line.h - splits input into lines with a hard bound on their length.
 */
#ifndef FACTEUR_CORE_LINE_H
#define FACTEUR_CORE_LINE_H

#include <stdbool.h>
#include <stddef.h>

struct evbuffer;

enum fc_line_status {
	FC_LINE_NONE = 0,	/* no complete line yet: read more */
	FC_LINE_OK,		/* a line; drain *drain_r bytes after use */
	FC_LINE_TOO_LONG,	/* longer than max: drain, it is skipped */
};

struct fc_line_framer {
	size_t max;		/* longest line, without its CRLF */
	bool skipping;		/* inside an over-long line */
};

/*
 * Finds the next line at the start of in. On FC_LINE_OK, *line_r points
 * into the buffer (NUL-terminated, CR LF or LF removed, *len_r bytes) and
 * stays valid until the caller drains *drain_r bytes. On the other
 * results the caller drains *drain_r bytes (maybe 0) too. At most
 * max + 2 bytes are scanned for an end of line, and a line being skipped
 * is thrown away as it arrives, so memory stays bounded.
 */
enum fc_line_status fc_line_next(struct fc_line_framer *f,
    struct evbuffer *in, char **line_r, size_t *len_r, size_t *drain_r);

#endif
