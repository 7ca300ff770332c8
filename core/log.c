/*
 * log.c - one line per event, to stderr or syslog.
 *
 * Each line is formatted whole, cleaned of control characters, and
 * written with one write(2), so lines from several workers sharing
 * stderr never interleave. Lines are cut at LOG_LINE_MAX bytes.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/log.h>
#include <facteur/session.h>

#include "core.h"

#define LOG_LINE_MAX	2048

static enum fc_log_level log_level = FC_LOG_INFO;
static enum fc_log_target log_target = FC_LOG_TO_STDERR;
static const char *log_ident = "facteurd";

static const char *const log_level_names[] = {
	"error", "warning", "notice", "info", "debug",
};

static const int log_syslog_prio[] = {
	LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG,
};

void
fc_log_open(const char *ident, enum fc_log_target target, int facility,
    enum fc_log_level level)
{
	if (log_target == FC_LOG_TO_SYSLOG)
		closelog();
	log_ident = ident;
	log_target = target;
	log_level = level;
	if (target == FC_LOG_TO_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, facility);
}

int
fc_log_enabled(enum fc_log_level level)
{
	return level <= log_level;
}

/* Replaces control characters and bytes that are not printable ASCII
 * or UTF-8 continuation/lead bytes with \xNN, in place into out. */
static size_t
log_clean(const char *in, size_t len, char *out, size_t outsize)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i;

	for (i = 0; i < len && o + 4 < outsize; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c < 0x20 || c == 0x7f) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else
			out[o++] = (char)c;
	}
	out[o] = '\0';
	return o;
}

static void log_emit(enum fc_log_level level, const char *prefix,
    const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

static void
log_emit(enum fc_log_level level, const char *prefix, const char *fmt,
    va_list ap)
{
	char raw[LOG_LINE_MAX], clean[LOG_LINE_MAX], line[LOG_LINE_MAX + 128];
	size_t rawlen = 0, n;
	int r, saved_errno = errno;

	if (level > log_level)
		return;
	if (prefix != NULL) {
		r = snprintf(raw, sizeof(raw), "%s", prefix);
		rawlen = r < 0 ? 0 : (size_t)r;
	}
	if (rawlen < sizeof(raw)) {
		r = vsnprintf(raw + rawlen, sizeof(raw) - rawlen, fmt, ap);
		if (r > 0)
			rawlen += (size_t)r;
	}
	if (rawlen >= sizeof(raw))
		rawlen = sizeof(raw) - 1;
	log_clean(raw, rawlen, clean, sizeof(clean));

	if (log_target == FC_LOG_TO_SYSLOG) {
		syslog(log_syslog_prio[level], "%s: %s",
		    log_level_names[level], clean);
	} else {
		struct timespec ts;
		struct tm tm;
		char stamp[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		r = snprintf(line, sizeof(line), "%s.%03ldZ %s[%ld]: %s: %s\n",
		    stamp, ts.tv_nsec / 1000000, log_ident, (long)getpid(),
		    log_level_names[level], clean);
		n = r < 0 ? 0 : (size_t)r;
		if (n >= sizeof(line)) {
			n = sizeof(line);
			line[n - 1] = '\n';
		}
		/* one write: lines from several processes stay whole */
		while (write(STDERR_FILENO, line, n) < 0 && errno == EINTR)
			;
	}
	errno = saved_errno;
}

void
fc_logv(enum fc_log_level level, const char *fmt, va_list ap)
{
	log_emit(level, NULL, fmt, ap);
}

void
fc_log(enum fc_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(level, NULL, fmt, ap);
	va_end(ap);
}

void
fc_log_session(struct fc_session *s, enum fc_log_level level,
    const char *fmt, ...)
{
	char prefix[128];
	va_list ap;

	if (level > log_level)
		return;
	snprintf(prefix, sizeof(prefix), "%s session=%s ",
	    fc_session_module_name(s), fc_session_id(s));
	va_start(ap, fmt);
	log_emit(level, prefix, fmt, ap);
	va_end(ap);
}

const char *
fc_log_quote(struct fc_arena *a, const char *s, size_t max)
{
	size_t len = strlen(s), i, o = 0;
	char *out;

	if (len > max)
		len = max;
	out = fc_arena_alloc(a, len * 2 + 4);
	for (i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			out[o++] = '\\';
		out[o++] = s[i];
	}
	if (strlen(s) > max) {
		out[o++] = '.';
		out[o++] = '.';
		out[o++] = '.';
	}
	out[o] = '\0';
	return out;
}

void
fc_panic_at(const char *file, int line, const char *fmt, ...)
{
	char where[256];
	va_list ap;

	snprintf(where, sizeof(where), "panic: %s:%d: ", file, line);
	va_start(ap, fmt);
	log_emit(FC_LOG_ERROR, where, fmt, ap);
	va_end(ap);
	abort();
}

void
fc_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(FC_LOG_ERROR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
