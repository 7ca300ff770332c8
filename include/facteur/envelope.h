/*
 * envelope.h - one mail transaction as protocol modules and filters share
 * it: the client's HELO, the sender, the recipients, the message, and
 * what filters decided about it.
 *
 * The protocol module (SMTP, LMTP) creates the envelope, fills it as the
 * dialogue goes, and runs the filter hooks (hook.h) with it; filters read
 * it and leave their decisions in it (headers to add, a folder to deliver
 * to, the reply for a rejection). The envelope goes with the session;
 * fc_envelope_reset() starts the next transaction (RSET, or after a
 * message) and frees what the last one held, so a string it returned is
 * valid until then (the HELO until the next HELO).
 */
#ifndef FACTEUR_ENVELOPE_H
#define FACTEUR_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fc_session;
struct fc_envelope;

/* For protocol modules */
struct fc_envelope *fc_envelope_new(struct fc_session *s);
/* Forgets sender, recipients, message and decisions; keeps the HELO. */
void fc_envelope_reset(struct fc_envelope *env);
void fc_envelope_set_helo(struct fc_envelope *env, const char *helo);
/* "" for the null sender <> */
void fc_envelope_set_sender(struct fc_envelope *env, const char *sender);
void fc_envelope_add_recipient(struct fc_envelope *env, const char *rcpt);
/* The last recipient added was refused: forget it. */
void fc_envelope_drop_recipient(struct fc_envelope *env);
/* The message, readable from offset 0 (the spool file stays the
 * caller's). */
void fc_envelope_set_message(struct fc_envelope *env, int fd, uint64_t size);
void fc_envelope_set_id(struct fc_envelope *env, const char *id);

/* For everyone */
struct fc_session *fc_envelope_session(struct fc_envelope *env);
const char *fc_envelope_helo(struct fc_envelope *env);		/* or NULL */
const char *fc_envelope_sender(struct fc_envelope *env);	/* or NULL */
size_t fc_envelope_recipient_count(struct fc_envelope *env);
const char *fc_envelope_recipient(struct fc_envelope *env, size_t i);
int fc_envelope_message_fd(struct fc_envelope *env);		/* or -1 */
uint64_t fc_envelope_message_size(struct fc_envelope *env);
const char *fc_envelope_id(struct fc_envelope *env);		/* or NULL */

/* Decisions by filters */
/* A header field to add at delivery (value without its line end). */
void fc_envelope_add_header(struct fc_envelope *env, const char *name,
    const char *value);
size_t fc_envelope_header_count(struct fc_envelope *env);
bool fc_envelope_header_at(struct fc_envelope *env, size_t i,
    const char **name_r, const char **value_r);
/* Deliver into this folder (e.g. "Junk") instead of INBOX. */
void fc_envelope_set_folder(struct fc_envelope *env, const char *folder);
const char *fc_envelope_folder(struct fc_envelope *env);	/* or NULL */
/* The reply for a rejection or a temporary failure, as the protocol
 * writes it ("550 5.7.1 Spam detected"); checked and cleaned by the
 * protocol module. */
void fc_envelope_set_reply(struct fc_envelope *env, const char *reply);
const char *fc_envelope_reply(struct fc_envelope *env);		/* or NULL */

#endif
