/*
 * dot.h - decodes an SMTP DATA body: un-dot-stuffing, the end marker,
 * line-end normalisation and counts of suspicious bytes.
 */
#ifndef FACTEUR_CORE_DOT_H
#define FACTEUR_CORE_DOT_H

#include <stdbool.h>
#include <stddef.h>

#include <facteur/session.h>

struct fc_dot_decoder {
	enum fc_eol eol;
	unsigned int state;
	bool cr_pending;	/* a CR inside a line, not yet placed */
	bool last_crlf;		/* the previous line ended with CRLF */
	uint64_t line_len;
	struct fc_spool_result counts;	/* bare_lf, bare_cr, nul,
					   longest_line, received */
};

void fc_dot_init(struct fc_dot_decoder *d, enum fc_eol eol);

/*
 * Decodes up to len bytes of in, writing at most 2 * len + 2 bytes to out.
 * Returns the bytes consumed: all of them, or fewer when the end marker
 * was found (*done_r set; the rest belongs to the next command).
 */
size_t fc_dot_decode(struct fc_dot_decoder *d, const char *in, size_t len,
    char *out, size_t *outlen_r, bool *done_r);

#endif
