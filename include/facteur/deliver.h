/*
 * deliver.h - local delivery: a message into a user's mailbox.
 *
 * Used by SMTP and LMTP for local recipients, by filter actions ("deliver
 * to Junk") and by the tools. The message is read from a descriptor from
 * offset 0 (a spool file); Return-Path and Delivered-To are added at its
 * top. On FC_DELIVER_OK the message is on stable storage.
 */
#ifndef FACTEUR_DELIVER_H
#define FACTEUR_DELIVER_H

struct fc_core;

enum fc_deliver_result {
	FC_DELIVER_OK = 0,
	FC_DELIVER_NOUSER,	/* no such user: 550 5.1.1 */
	FC_DELIVER_OVERQUOTA,	/* over quota: a temporary failure, 452 */
	FC_DELIVER_TEMPFAIL,	/* try again later: 451 */
	FC_DELIVER_PERMFAIL,	/* will never work (message too large) */
};

/*
 * user: the user's name as the auth back ends know it. folder: NULL for
 * INBOX; a folder that does not exist is created, and if it cannot be,
 * the message goes to INBOX. return_path: the envelope sender ("" for
 * the null sender). delivered_to: the recipient address as given, or
 * NULL. headers: more header fields to put on top (each ending in CRLF;
 * Received, filter results), or NULL. flags, keywords: as for
 * fc_append_begin(). *error_r says why,
 * for logs and replies; on FC_DELIVER_OK it names the mailbox used.
 */
enum fc_deliver_result fc_deliver(struct fc_core *core, const char *user,
    const char *folder, unsigned int flags, const char *const *keywords,
    int fd, const char *return_path, const char *delivered_to,
    const char *headers, const char **error_r);

#endif
