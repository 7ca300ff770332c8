/*
 * sasl.h - SASL PLAIN (RFC 4616) and LOGIN as a core facility.
 *
 * The protocol module frames the exchange ("334 " in SMTP, "+ " in IMAP
 * and POP3); the core decodes it and checks the credentials through
 * fc_auth_login(). Usage:
 *
 *	x = fc_sasl_begin(s, mech, done, arg, &error);
 *	step = fc_sasl_step(x, initial_response_or_NULL, len, &ch, &error);
 *	  FC_SASL_CHALLENGE: send ch (base64) and feed the client's next
 *	                     line to fc_sasl_step();
 *	  FC_SASL_PENDING:   return FC_NEXT_WAIT; done() gets the result;
 *	  FC_SASL_BAD:       malformed response: answer with error;
 *	  FC_SASL_ABORTED:   the client sent "*".
 *
 * A response is base64 text as on the wire; "=" is an empty response
 * (RFC 4954 section 4).
 */
#ifndef FACTEUR_SASL_H
#define FACTEUR_SASL_H

#include <stddef.h>
#include <facteur/auth.h>

struct fc_sasl;

enum fc_sasl_step {
	FC_SASL_CHALLENGE = 0,
	FC_SASL_PENDING,
	FC_SASL_BAD,
	FC_SASL_ABORTED,
};

/* "PLAIN LOGIN" on a connection that may carry passwords, else "". */
const char *fc_sasl_mechanisms(struct fc_session *s);

/* NULL, with *error_r, for an unknown or refused mechanism. */
struct fc_sasl *fc_sasl_begin(struct fc_session *s, const char *mech,
    fc_auth_done_fn *done, void *arg, const char **error_r);
enum fc_sasl_step fc_sasl_step(struct fc_sasl *x, const char *response,
    size_t len, const char **challenge_r, const char **error_r);

#endif
