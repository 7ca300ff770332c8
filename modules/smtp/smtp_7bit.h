/*
 * smtp_7bit.h - 8-bit mail made 7-bit for a next hop without 8BITMIME
 * (RFC 6152 3), smtp_7bit.c.
 */
#ifndef FACTEUR_SMTP_7BIT_H
#define FACTEUR_SMTP_7BIT_H

#include <stddef.h>

enum smtp_7bit_result {
	SMTP_7BIT_ERROR = -1,		/* out() failed */
	SMTP_7BIT_ASIS = 0,		/* no 8-bit byte: send it as it is */
	SMTP_7BIT_CONVERTED,		/* out() was given the 7-bit form */
	SMTP_7BIT_CANNOT,		/* *why_r says why */
};

/* Takes the next piece of the converted message; 0, or -1 to stop. */
typedef int smtp_7bit_out_fn(void *arg, const char *data, size_t len);

/*
 * Converts a whole message (CRLF line ends, as the queue keeps it): each
 * 8-bit leaf body of a MIME message is re-encoded, text as
 * quoted-printable and anything else as base64, with its header's
 * Content-Transfer-Encoding set to match; a multipart or message part
 * marked 8bit or binary is marked 7bit. Every other byte is copied as it
 * is. A message it cannot make 7-bit (8-bit bytes in a header, in a
 * preamble or an epilogue, in a message or multipart body that must
 * not be encoded, in a body already encoded, or no MIME-Version at all)
 * gives SMTP_7BIT_CANNOT, and out() may have been given part of it.
 */
enum smtp_7bit_result smtp_7bit_convert(const char *msg, size_t len,
    smtp_7bit_out_fn *out, void *arg, const char **why_r);

#endif
