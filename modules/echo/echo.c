/*
 * echo.c - the example protocol module: a small line protocol that shows
 * every facility the core gives a protocol module, and that the core's
 * tests drive.
 *
 *	OK echo ready <host>		greeting
 *	ECHO text		->	OK text
 *	BIG n			->	n lines "* ...", then OK (streamed as
 *					the socket drains)
 *	SLEEP ms		->	OK slept (the session waits on a timer)
 *	LOGIN user pass		->	OK / NO [AUTH] / NO [LIMIT] / NO [TEMP]
 *	AUTH mech [initial]	->	"+ challenge" lines, then as LOGIN
 *	WHOAMI			->	OK user / NO not logged in
 *	STARTTLS		->	OK begin TLS
 *	DATA			->	"+ go ahead", body up to ".", then
 *					OK size=N hash=H bare_lf=N nul=N
 *	LITERAL n		->	"+ go ahead", n bytes, OK size=N hash=H
 *	QUIT			->	OK bye
 * Errors are "BAD ...". The hash is 64-bit FNV-1a of the stored bytes,
 * so a test can check that the body arrived byte for byte.
 */
#define _GNU_SOURCE	/* O_TMPFILE, mkostemp */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/auth.h>
#include <facteur/conf.h>
#include <facteur/log.h>
#include <facteur/module.h>
#include <facteur/sasl.h>
#include <facteur/session.h>

struct echo_conf {
	char *greeting;
	char *spool_dir;
	uint64_t max_body;
	unsigned int max_big;
};

struct echo_session {
	struct fc_sasl *sasl;		/* during AUTH */
	unsigned long big_left;		/* during BIG */
	unsigned long big_next;
	int spool_fd;			/* during DATA and LITERAL */
};

static const struct fc_directive echo_directives[] = {
	{ .name = "greeting", .type = FC_D_STRING,
	  .offset = offsetof(struct echo_conf, greeting),
	  .def = "echo ready", .syntax = "TEXT",
	  .help = "text of the greeting line, after OK" },
	{ .name = "spool_dir", .type = FC_D_PATH,
	  .offset = offsetof(struct echo_conf, spool_dir),
	  .def = "/tmp", .syntax = "DIR",
	  .help = "folder for the temporary files of DATA and LITERAL" },
	{ .name = "max_body", .type = FC_D_SIZE,
	  .offset = offsetof(struct echo_conf, max_body),
	  .def = "10M", .min = 1, .syntax = "SIZE",
	  .help = "largest DATA body or LITERAL accepted" },
	{ .name = "max_big", .type = FC_D_UINT,
	  .offset = offsetof(struct echo_conf, max_big),
	  .def = "1000000", .syntax = "N",
	  .help = "most lines one BIG command may ask for" },
	{ .name = NULL }
};

static struct echo_session *
echo_state(struct fc_session *s)
{
	return fc_session_data(s);
}

static enum fc_next
echo_start(struct fc_session *s)
{
	const struct echo_conf *conf = fc_session_conf(s);
	struct echo_session *es;

	es = fc_arena_alloc(fc_session_arena(s), sizeof(*es));
	es->spool_fd = -1;
	fc_session_set_data(s, es);
	fc_session_printf(s, "OK %s %s\r\n", conf->greeting,
	    fc_session_hostname(s));
	return FC_NEXT_CONTINUE;
}

/* ------------------------------------------------------------------ */
/* Spooled input */

static int
echo_spool_open(struct fc_session *s)
{
	const struct echo_conf *conf = fc_session_conf(s);
	char path[4096];
	int fd;

	fd = open(conf->spool_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	snprintf(path, sizeof(path), "%s/echo.XXXXXX", conf->spool_dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	return fd;
}

static uint64_t
echo_hash_file(int fd)
{
	uint64_t h = 14695981039346656037ULL;
	char buf[8192];
	ssize_t n, i;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < n; i++)
			h = (h ^ (unsigned char)buf[i]) * 1099511628211ULL;
	return h;
}

static enum fc_next
echo_spooled(struct fc_session *s, const struct fc_spool_result *r)
{
	struct echo_session *es = echo_state(s);
	uint64_t hash = echo_hash_file(es->spool_fd);

	close(es->spool_fd);
	es->spool_fd = -1;
	if (r->too_big) {
		fc_session_puts(s, "BAD too big\r\n");
		return FC_NEXT_CONTINUE;
	}
	if (r->error != 0) {
		fc_session_printf(s, "NO [TEMP] cannot store: %s\r\n",
		    strerror(r->error));
		return FC_NEXT_CONTINUE;
	}
	fc_session_printf(s, "OK size=%llu hash=%016llx bare_lf=%llu "
	    "bare_cr=%llu nul=%llu longest=%llu\r\n",
	    (unsigned long long)r->size, (unsigned long long)hash,
	    (unsigned long long)r->bare_lf, (unsigned long long)r->bare_cr,
	    (unsigned long long)r->nul, (unsigned long long)r->longest_line);
	return FC_NEXT_CONTINUE;
}

static enum fc_next
echo_cmd_data(struct fc_session *s, const char *arg)
{
	const struct echo_conf *conf = fc_session_conf(s);
	struct echo_session *es = echo_state(s);
	unsigned long long n;
	char *end;

	es->spool_fd = echo_spool_open(s);
	if (es->spool_fd < 0) {
		fc_session_printf(s, "NO [TEMP] cannot store: %s\r\n",
		    strerror(errno));
		return FC_NEXT_CONTINUE;
	}
	if (arg == NULL) {
		fc_session_puts(s, "+ go ahead, end with .\r\n");
		fc_session_spool_dot(s, es->spool_fd, conf->max_body,
		    FC_EOL_KEEP);
		return FC_NEXT_CONTINUE;
	}
	n = strtoull(arg, &end, 10);
	if (*arg < '0' || *arg > '9' || *end != '\0' || n == 0
	    || n > conf->max_body) {
		close(es->spool_fd);
		es->spool_fd = -1;
		fc_session_puts(s, "BAD bad or too large literal size\r\n");
		return FC_NEXT_CONTINUE;
	}
	fc_session_puts(s, "+ go ahead\r\n");
	fc_session_spool_bytes(s, n, es->spool_fd);
	return FC_NEXT_CONTINUE;
}

/* ------------------------------------------------------------------ */
/* Long output, produced as the socket drains */

static enum fc_next
echo_big_more(struct fc_session *s)
{
	struct echo_session *es = echo_state(s);

	while (es->big_left > 0) {
		if (fc_session_output_full(s))
			return FC_NEXT_MORE;
		fc_session_printf(s, "* %lu the quick brown fox jumps over the "
		    "lazy dog, again and again and again\r\n", es->big_next);
		es->big_next++;
		es->big_left--;
	}
	fc_session_puts(s, "OK big done\r\n");
	return FC_NEXT_CONTINUE;
}

static enum fc_next
echo_cmd_big(struct fc_session *s, const char *arg)
{
	const struct echo_conf *conf = fc_session_conf(s);
	struct echo_session *es = echo_state(s);
	unsigned long long n;
	char *end;

	n = arg == NULL ? 0 : strtoull(arg, &end, 10);
	if (arg == NULL || *arg < '0' || *arg > '9' || *end != '\0'
	    || n > conf->max_big) {
		fc_session_puts(s, "BAD BIG needs a count\r\n");
		return FC_NEXT_CONTINUE;
	}
	es->big_left = (unsigned long)n;
	es->big_next = 1;
	return echo_big_more(s);
}

/* ------------------------------------------------------------------ */
/* Waiting */

static void
echo_slept(struct fc_session *s, void *arg)
{
	(void)arg;
	fc_session_puts(s, "OK slept\r\n");
	fc_session_resume(s, FC_NEXT_CONTINUE);
}

static enum fc_next
echo_cmd_sleep(struct fc_session *s, const char *arg)
{
	unsigned long ms;
	char *end;

	ms = arg == NULL ? 0 : strtoul(arg, &end, 10);
	if (arg == NULL || *end != '\0' || ms > 60000) {
		fc_session_puts(s, "BAD SLEEP needs milliseconds, at most "
		    "60000\r\n");
		return FC_NEXT_CONTINUE;
	}
	fc_session_timer(s, ms, echo_slept, NULL);
	return FC_NEXT_WAIT;
}

/* ------------------------------------------------------------------ */
/* Authentication */

static void
echo_auth_done(struct fc_session *s, enum fc_auth_result r, void *arg)
{
	(void)arg;
	echo_state(s)->sasl = NULL;
	switch (r) {
	case FC_AUTH_OK:
		fc_session_printf(s, "OK logged in as %s\r\n",
		    fc_user_name(fc_session_user(s)));
		break;
	case FC_AUTH_FAILED:
		fc_session_puts(s, "NO [AUTH] authentication failed\r\n");
		break;
	case FC_AUTH_LIMITED:
		fc_session_puts(s, "NO [LIMIT] too many failures, try "
		    "later\r\n");
		break;
	case FC_AUTH_TEMPFAIL:
		fc_session_puts(s, "NO [TEMP] try again later\r\n");
		break;
	}
	fc_session_resume(s, FC_NEXT_CONTINUE);
}

static enum fc_next
echo_cmd_login(struct fc_session *s, char *arg)
{
	char *pass;

	if (fc_session_user(s) != NULL) {
		fc_session_puts(s, "BAD already logged in\r\n");
		return FC_NEXT_CONTINUE;
	}
	if (!fc_auth_plaintext_allowed(s)) {
		fc_session_puts(s, "NO [PRIVACY] use STARTTLS first\r\n");
		return FC_NEXT_CONTINUE;
	}
	pass = arg == NULL ? NULL : strchr(arg, ' ');
	if (pass == NULL) {
		fc_session_puts(s, "BAD LOGIN user password\r\n");
		return FC_NEXT_CONTINUE;
	}
	*pass++ = '\0';
	fc_auth_login(s, arg, pass, echo_auth_done, NULL);
	return FC_NEXT_WAIT;
}

static enum fc_next
echo_sasl_step(struct fc_session *s, const char *response, size_t len)
{
	struct echo_session *es = echo_state(s);
	const char *challenge, *err = "bad response";

	switch (fc_sasl_step(es->sasl, response, len, &challenge, &err)) {
	case FC_SASL_CHALLENGE:
		fc_session_printf(s, "+ %s\r\n", challenge);
		return FC_NEXT_CONTINUE;
	case FC_SASL_PENDING:
		return FC_NEXT_WAIT;
	case FC_SASL_ABORTED:
		es->sasl = NULL;
		fc_session_puts(s, "BAD authentication aborted\r\n");
		return FC_NEXT_CONTINUE;
	case FC_SASL_BAD:
	default:
		es->sasl = NULL;
		fc_session_printf(s, "BAD %s\r\n", err);
		return fc_session_count_error(s) ? FC_NEXT_CLOSE :
		    FC_NEXT_CONTINUE;
	}
}

static enum fc_next
echo_cmd_auth(struct fc_session *s, char *arg)
{
	struct echo_session *es = echo_state(s);
	const char *err = "bad mechanism";
	char *initial = NULL;

	if (fc_session_user(s) != NULL) {
		fc_session_puts(s, "BAD already logged in\r\n");
		return FC_NEXT_CONTINUE;
	}
	if (arg == NULL) {
		fc_session_puts(s, "BAD AUTH mechanism [initial-response]\r\n");
		return FC_NEXT_CONTINUE;
	}
	if ((initial = strchr(arg, ' ')) != NULL)
		*initial++ = '\0';
	es->sasl = fc_sasl_begin(s, arg, echo_auth_done, NULL, &err);
	if (es->sasl == NULL) {
		fc_session_printf(s, "NO %s\r\n", err);
		return FC_NEXT_CONTINUE;
	}
	return echo_sasl_step(s, initial,
	    initial == NULL ? 0 : strlen(initial));
}

/* ------------------------------------------------------------------ */
/* The dialogue */

static enum fc_next
echo_line(struct fc_session *s, char *line, size_t len)
{
	struct echo_session *es = echo_state(s);
	char *arg;

	if (es->sasl != NULL)
		return echo_sasl_step(s, line, len);
	if (strlen(line) != len) {
		fc_session_puts(s, "BAD NUL in command\r\n");
		return fc_session_count_error(s) ? FC_NEXT_CLOSE :
		    FC_NEXT_CONTINUE;
	}
	if ((arg = strchr(line, ' ')) != NULL)
		*arg++ = '\0';

	if (strcasecmp(line, "ECHO") == 0) {
		fc_session_printf(s, "OK %s\r\n", arg ? arg : "");
		return FC_NEXT_CONTINUE;
	}
	if (strcasecmp(line, "QUIT") == 0) {
		fc_session_puts(s, "OK bye\r\n");
		return FC_NEXT_CLOSE;
	}
	if (strcasecmp(line, "BIG") == 0)
		return echo_cmd_big(s, arg);
	if (strcasecmp(line, "SLEEP") == 0)
		return echo_cmd_sleep(s, arg);
	if (strcasecmp(line, "LOGIN") == 0)
		return echo_cmd_login(s, arg);
	if (strcasecmp(line, "AUTH") == 0)
		return echo_cmd_auth(s, arg);
	if (strcasecmp(line, "WHOAMI") == 0) {
		if (fc_session_user(s) == NULL)
			fc_session_puts(s, "NO not logged in\r\n");
		else
			fc_session_printf(s, "OK %s\r\n",
			    fc_user_name(fc_session_user(s)));
		return FC_NEXT_CONTINUE;
	}
	if (strcasecmp(line, "STARTTLS") == 0) {
		if (!fc_session_starttls_available(s)) {
			fc_session_puts(s, "NO TLS not available\r\n");
			return FC_NEXT_CONTINUE;
		}
		fc_session_puts(s, "OK begin TLS\r\n");
		fc_session_starttls(s);
		return FC_NEXT_CONTINUE;
	}
	if (strcasecmp(line, "TLS") == 0) {
		fc_session_printf(s, "OK %s %s\r\n",
		    fc_session_tls_active(s) ? fc_session_tls_version(s) : "none",
		    fc_session_tls_active(s) ? fc_session_tls_cipher(s) : "");
		return FC_NEXT_CONTINUE;
	}
	if (strcasecmp(line, "DATA") == 0)
		return echo_cmd_data(s, NULL);
	if (strcasecmp(line, "LITERAL") == 0) {
		if (arg == NULL) {
			fc_session_puts(s, "BAD LITERAL needs a size\r\n");
			return FC_NEXT_CONTINUE;
		}
		return echo_cmd_data(s, arg);
	}
	fc_session_puts(s, "BAD unknown command\r\n");
	if (fc_session_count_error(s)) {
		fc_session_puts(s, "BYE too many errors\r\n");
		return FC_NEXT_CLOSE;
	}
	return FC_NEXT_CONTINUE;
}

static enum fc_next
echo_line_too_long(struct fc_session *s)
{
	fc_session_puts(s, "BAD line too long\r\n");
	if (fc_session_count_error(s)) {
		fc_session_puts(s, "BYE too many errors\r\n");
		return FC_NEXT_CLOSE;
	}
	return FC_NEXT_CONTINUE;
}

static void
echo_timeout(struct fc_session *s)
{
	fc_session_puts(s, "BYE idle timeout\r\n");
}

static void
echo_stop(struct fc_session *s)
{
	fc_session_puts(s, "BYE server shutting down\r\n");
}

static void
echo_end(struct fc_session *s)
{
	struct echo_session *es = echo_state(s);

	/* a client gone in the middle of DATA leaves nothing behind */
	if (es != NULL && es->spool_fd >= 0) {
		close(es->spool_fd);
		es->spool_fd = -1;
	}
}

static const char *const echo_default_listen[] = { "127.0.0.1:7007", NULL };

static const struct fc_protocol_ops echo_ops = {
	.size = sizeof(struct fc_protocol_ops),
	.default_listen = echo_default_listen,
	.busy_reply = "BYE too many connections\r\n",
	.start = echo_start,
	.line = echo_line,
	.line_too_long = echo_line_too_long,
	.spooled = echo_spooled,
	.drained = echo_big_more,
	.timeout = echo_timeout,
	.stop = echo_stop,
	.end = echo_end,
};

const struct fc_module fc_module_echo = {
	FC_MODULE_HEADER,
	.name = "echo",
	.version = "1.0",
	.kind = FC_MODULE_PROTOCOL,
	.directives = echo_directives,
	.conf_size = sizeof(struct echo_conf),
	.ops = &echo_ops,
};
