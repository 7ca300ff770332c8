/*
 * imap_compress.c - COMPRESS (RFC 4978): DEFLATE on both directions
 * after login.
 *
 * The tagged OK goes out uncompressed; the core compresses everything
 * after it and inflates the client's bytes from the one after the
 * command's CRLF. Compression stays on to the end of the connection: a
 * second COMPRESS gets NO [COMPRESSIONACTIVE]. The core owns the stream
 * (core/session_deflate.c), so its memory bounds and flushing are
 * described there.
 */
#include <strings.h>

#include <facteur/log.h>
#include <facteur/session.h>

#include "imap.h"

enum fc_next
imap_cmd_compress(struct imap_session *is, struct imap_command *c)
{
	if (c->count != 1 || c->args[0].type != IMAP_ARG_ATOM)
		return imap_bad(is, c->tag, "COMPRESS algorithm");
	if (strcasecmp(c->args[0].str, "DEFLATE") != 0)
		return imap_bad(is, c->tag, "Unknown compression algorithm");
	if (fc_session_compress_active(is->s))
		return imap_no(is, c->tag, "[COMPRESSIONACTIVE] Compression "
		    "is already on");
	imap_ok(is, c->tag, "DEFLATE active");
	fc_session_compress(is->s);
	return FC_NEXT_CONTINUE;
}
