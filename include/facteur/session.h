/*
 * session.h - what a protocol module implements, and what the core gives
 * each of its sessions.
 *
 * The core owns the socket, TLS, input framing, limits and timeouts; the
 * module owns the dialogue. Input reaches the module in one of three
 * modes:
 *   - lines (the default): ops->line once per complete line, without its
 *     CRLF or LF, NUL-terminated (the line may also contain NULs: trust
 *     len). A line longer than the listener's max_line_length calls
 *     ops->line_too_long and is skipped up to the next LF; memory stays
 *     bounded whatever the client sends.
 *   - exact bytes: after fc_session_read_bytes() the next n bytes go to
 *     ops->bytes in pieces; after fc_session_spool_bytes() they go to a
 *     file and ops->spooled reports the end (IMAP literals, SMTP BDAT).
 *   - a dot-terminated body: after fc_session_spool_dot() the lines up to
 *     "." go to a file, un-dot-stuffed, and ops->spooled reports the end
 *     (SMTP DATA).
 * After the bytes or the body, input is lines again.
 *
 * Every handler returns what the core does next:
 *   FC_NEXT_CONTINUE  read the next input (pipelined input is served at
 *                     once);
 *   FC_NEXT_WAIT      deliver no input until fc_session_resume() (an
 *                     answer is pending: authentication, DNS, a filter);
 *   FC_NEXT_MORE      the module has more output to produce: call
 *                     ops->drained() when the output buffer has room;
 *   FC_NEXT_CLOSE     flush the output, then close.
 *
 * Output is buffered by the core and written as the socket allows. A
 * module producing a long answer checks fc_session_output_full() and
 * returns FC_NEXT_MORE, so no answer is ever built whole in memory.
 * While the module waits or produces, the core stops reading from a
 * client that keeps sending (bounded pipelining).
 *
 * ops->end() is called exactly once, whatever ended the session; after it
 * the session, its arena and its timers are gone.
 */
#ifndef FACTEUR_SESSION_H
#define FACTEUR_SESSION_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct fc_session;
struct fc_arena;
struct fc_user;

enum fc_next {
	FC_NEXT_CONTINUE = 0,
	FC_NEXT_WAIT,
	FC_NEXT_MORE,
	FC_NEXT_CLOSE,
};

/* Line ends written to a spool file by fc_session_spool_dot(). */
enum fc_eol {
	FC_EOL_KEEP = 0,	/* as the client sent them */
	FC_EOL_CRLF,		/* every line ends in CRLF (bare LF fixed) */
	FC_EOL_LF,		/* every line ends in LF */
};

/* How a spooled body or byte count ended. */
struct fc_spool_result {
	uint64_t size;		/* bytes written to the file */
	uint64_t received;	/* bytes received (body: before un-stuffing) */
	bool too_big;		/* passed max_size: the rest was discarded */
	int error;		/* errno of the first failed write, or 0 */
	uint64_t bare_lf;	/* lines ended by LF without CR (body only) */
	uint64_t bare_cr;	/* CRs not followed by LF (body only) */
	uint64_t nul;		/* NUL bytes (body and byte count) */
	uint64_t longest_line;	/* bytes, without the line end (body only) */
};

struct fc_protocol_ops {
	size_t size;			/* sizeof(struct fc_protocol_ops) */
	/* listeners used when the module's block has no listen directive */
	const char *const *default_listen;	/* { "143", "993 tls", NULL } */
	/* words a listen directive may name; the first is the default */
	const char *const *listener_kinds;	/* NULL: none */
	/* written, then the connection closed, when a limit refuses it */
	const char *busy_reply;
	/* the module's defaults for the core's per-listener settings, as
	 * name/value pairs: { "max_line_length", "64k", NULL } */
	const char *const *service_defaults;

	enum fc_next (*start)(struct fc_session *s);	/* the greeting */
	enum fc_next (*line)(struct fc_session *s, char *line, size_t len);
	/* NULL: the core closes the connection */
	enum fc_next (*line_too_long)(struct fc_session *s);
	enum fc_next (*bytes)(struct fc_session *s, const char *data,
	    size_t len, bool last);
	enum fc_next (*spooled)(struct fc_session *s,
	    const struct fc_spool_result *r);
	enum fc_next (*drained)(struct fc_session *s);
	/* idle too long: write a farewell; the core then closes */
	void (*timeout)(struct fc_session *s);
	/* the server stops: write a farewell; the core then closes */
	void (*stop)(struct fc_session *s);
	void (*end)(struct fc_session *s);
};

/* The protocol module's conf, its own per-session data, the arena. */
void *fc_session_conf(struct fc_session *s);
void *fc_session_data(struct fc_session *s);
void fc_session_set_data(struct fc_session *s, void *data);
struct fc_arena *fc_session_arena(struct fc_session *s);

/* Who and where. */
const char *fc_session_id(struct fc_session *s);
const char *fc_session_kind(struct fc_session *s);	/* or NULL */
const char *fc_session_peer_ip(struct fc_session *s);
unsigned int fc_session_peer_port(struct fc_session *s);
const struct sockaddr *fc_session_peer_addr(struct fc_session *s,
    socklen_t *len_r);
const char *fc_session_local_ip(struct fc_session *s);
unsigned int fc_session_local_port(struct fc_session *s);
bool fc_session_peer_is_loopback(struct fc_session *s);
const char *fc_session_hostname(struct fc_session *s);

/* TLS. fc_session_starttls() goes after the "go ahead" reply has been
 * written; it drops any input the client sent after the command (RFC 3207
 * section 5: pipelined plaintext must not survive the handshake).
 * Returns -1 when no certificate is configured or TLS is already on. */
bool fc_session_tls_active(struct fc_session *s);
bool fc_session_starttls_available(struct fc_session *s);
int fc_session_starttls(struct fc_session *s);
const char *fc_session_tls_version(struct fc_session *s);	/* or NULL */
const char *fc_session_tls_cipher(struct fc_session *s);	/* or NULL */

/* Compression: raw deflate (RFC 1951) on both directions from here on,
 * above TLS when TLS is on, as IMAP COMPRESS=DEFLATE (RFC 4978) wants.
 * Call it after the reply that announces it has been written: that
 * reply goes out as is, and everything written after it, compressed;
 * the client's input is inflated from the first byte after the
 * command's line. zlib's memory is taken only now. A corrupt stream
 * from the client ends the session. STARTTLS is not offered afterwards.
 * Returns -1 when compression is already on (or asked for). */
int fc_session_compress(struct fc_session *s);
bool fc_session_compress_active(struct fc_session *s);

/* Output. */
void fc_session_write(struct fc_session *s, const void *data, size_t len);
void fc_session_puts(struct fc_session *s, const char *str);
void fc_session_printf(struct fc_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* One reply line of a line protocol: formatted, cut to FC_REPLY_MAX
 * bytes, CRLF added. A reply quoting what a client sent stays bounded. */
#define FC_REPLY_MAX	1024
void fc_session_vreply(struct fc_session *s, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
size_t fc_session_output_pending(struct fc_session *s);
bool fc_session_output_full(struct fc_session *s);

/* Input modes (see the top of this file). */
void fc_session_read_bytes(struct fc_session *s, uint64_t n);
void fc_session_spool_bytes(struct fc_session *s, uint64_t n, int fd);
void fc_session_spool_dot(struct fc_session *s, int fd, uint64_t max_size,
    enum fc_eol eol);

/* After FC_NEXT_WAIT: carry on as if a handler had returned next. */
void fc_session_resume(struct fc_session *s, enum fc_next next);

/* The idle timeout (default: the listener's idle_timeout). */
void fc_session_set_idle_timeout(struct fc_session *s, uint64_t ms);

/*
 * Counts a client error (unknown command, bad syntax). Returns true when
 * the session has reached the listener's max_errors: say goodbye and
 * return FC_NEXT_CLOSE.
 */
bool fc_session_count_error(struct fc_session *s);

/*
 * Counts one event (a message, a command) named what for the client's
 * IP, across all workers, and says whether it has now had more than max
 * of them within window_ms. For rate limits such as messages per minute.
 */
bool fc_session_rate_exceeded(struct fc_session *s, const char *what,
    unsigned int max, uint64_t window_ms);

/* The authenticated user, or NULL. */
const struct fc_user *fc_session_user(struct fc_session *s);

/* One-shot timers that die with the session. */
struct fc_timer;
typedef void fc_timer_fn(struct fc_session *s, void *arg);
struct fc_timer *fc_session_timer(struct fc_session *s, uint64_t ms,
    fc_timer_fn *fn, void *arg);
void fc_timer_cancel(struct fc_timer **t);

#endif
