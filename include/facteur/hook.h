/*
 * hook.h - named points where filter modules act on mail transactions.
 *
 * Two kinds of hook: notifications (every hook runs, the answer is
 * ignored) and verdicts (hooks run in order; the first answer other than
 * FC_CONTINUE decides). A verdict hook may answer FC_PENDING and give its
 * verdict later with fc_hook_resume(): that is how a rule waits for DNS
 * without blocking its worker. The semantics of each point are written on
 * its line below.
 *
 * Filters register in their module's init(); the order is an integer,
 * smaller first (500: no preference), ties in load order. A generation's
 * hooks go away with it: there is nothing to unregister.
 */
#ifndef FACTEUR_HOOK_H
#define FACTEUR_HOOK_H

struct fc_core;
struct fc_envelope;
struct fc_session;

enum fc_hook {
	FC_HOOK_SMTP_CONNECT = 0,	/* verdict; before the greeting */
	FC_HOOK_SMTP_HELO,		/* verdict; HELO, EHLO or LHLO */
	FC_HOOK_SMTP_MAIL,		/* verdict; MAIL passed our checks */
	FC_HOOK_SMTP_RCPT,		/* verdict; each recipient that passed
					   our checks (the last one added) */
	FC_HOOK_SMTP_DATA,		/* verdict; the message is complete */
	FC_HOOK_DELIVERED,		/* notification; on stable storage */
	FC_HOOK__COUNT
};

enum fc_verdict {
	FC_CONTINUE = 0,	/* no opinion: ask the next hook */
	FC_ACCEPT,		/* accept now, skip the other hooks */
	FC_REJECT,		/* refuse for good (fc_envelope_set_reply) */
	FC_TEMPFAIL,		/* refuse for now: the client retries */
	FC_DISCONNECT,		/* refuse and close the connection */
	FC_PENDING,		/* decided later, with fc_hook_resume() */
};

typedef enum fc_verdict fc_hook_fn(struct fc_session *s,
    struct fc_envelope *env, void *ctx);

/* In init(). -1 with *error_r for a bad hook or order. */
int fc_hook_add(struct fc_core *core, enum fc_hook hook, int order,
    fc_hook_fn *fn, void *ctx, const char **error_r);

/*
 * For protocol modules: runs the hooks of a point. Returns the verdict,
 * or FC_PENDING: then done() is called later from the event loop with
 * the verdict (return FC_NEXT_WAIT meanwhile). With no hooks registered
 * the answer is FC_CONTINUE at once.
 */
typedef void fc_hook_done_fn(struct fc_session *s, enum fc_verdict v,
    void *arg);
enum fc_verdict fc_hook_run(struct fc_session *s, enum fc_hook hook,
    struct fc_envelope *env, fc_hook_done_fn *done, void *arg);

/* For a hook that answered FC_PENDING: its verdict, at last. */
void fc_hook_resume(struct fc_session *s, enum fc_verdict v);

#endif
