/*
 * log.h - one line per event, key=value, session id first.
 *
 *   facteurd[123]: info: session=2f9c41e07a3b0d55 event=rcpt result=reject
 *   reason="relay denied"
 *
 * The logger replaces control characters in the final line (so a client
 * cannot forge log lines) and cuts lines at 2,048 bytes. Never log
 * passwords or SASL payloads. fc_log_quote() makes a value safe to put
 * inside key="...".
 */
#ifndef FACTEUR_LOG_H
#define FACTEUR_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum fc_log_level {
	FC_LOG_ERROR = 0,	/* our service is impaired */
	FC_LOG_WARNING,		/* something the admin should look at */
	FC_LOG_NOTICE,		/* start, stop, reload */
	FC_LOG_INFO,		/* one line per session event */
	FC_LOG_DEBUG,		/* for developers */
};

struct fc_session;
struct fc_arena;

void fc_log(enum fc_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void fc_logv(enum fc_log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Prefixes "<module> session=<id> " to the line. */
void fc_log_session(struct fc_session *s, enum fc_log_level level,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int fc_log_enabled(enum fc_log_level level);

/* The value between quotes: \" and \\ escaped, at most max bytes kept. */
const char *fc_log_quote(struct fc_arena *a, const char *s, size_t max);

/*
 * Our bugs: log file:line and abort; the master restarts the worker.
 * fc_fatal() is for start-up and reload problems the admin can fix.
 */
void fc_panic_at(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
void fc_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#define fc_panic(...)	fc_panic_at(__FILE__, __LINE__, __VA_ARGS__)
#define fc_assert(expr) \
	((expr) ? (void)0 : fc_panic_at(__FILE__, __LINE__, \
	    "assertion failed: %s", #expr))

#endif
