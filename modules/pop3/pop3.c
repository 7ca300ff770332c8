/*
 * pop3.c - the POP3 module (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS,
 * RFC 5034 AUTH): directives, the capability lines built once per
 * configuration, and the protocol's entry points.
 *
 * A listener with the word `tls` is POP3S (implicit TLS, port 995 by
 * convention); the others offer STLS when the block has a certificate.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <facteur/arena.h>
#include <facteur/conf.h>
#include <facteur/log.h>
#include <facteur/module.h>
#include <facteur/session.h>

#include "pop3.h"

#define POP3_OFF(field)	offsetof(struct pop3_conf, field)

static const char *const pop3_uidl_choices[] = { "uid-validity", "guid",
	NULL };

static const struct fc_directive pop3_directives[] = {
	{ .name = "greeting", .type = FC_D_STRING, .offset = POP3_OFF(greeting),
	  .def = "POP3 server ready", .syntax = "TEXT",
	  .help = "text of the +OK greeting" },
	{ .name = "lock_maildrop", .type = FC_D_BOOL,
	  .offset = POP3_OFF(lock_maildrop), .def = "yes",
	  .syntax = "yes | no",
	  .help = "one POP3 session per mailbox at a time: a second login "
	  "gets -ERR [IN-USE] (IMAP and delivery are never locked out)" },
	{ .name = "lock_dir", .type = FC_D_PATH, .offset = POP3_OFF(lock_dir),
	  .syntax = "DIR",
	  .help = "where the maildrop locks and last-login times are kept; "
	  "default STATE_DIR/pop3-locks" },
	{ .name = "deleted_flag", .type = FC_D_STRING,
	  .offset = POP3_OFF(deleted_flag), .syntax = "KEYWORD",
	  .help = "DELE sets this keyword at QUIT instead of expunging, and "
	  "POP3 no longer shows the message (IMAP still does); unset: "
	  "DELE expunges" },
	{ .name = "seen_on_retr", .type = FC_D_BOOL,
	  .offset = POP3_OFF(seen_on_retr), .def = "yes",
	  .syntax = "yes | no",
	  .help = "a message sent whole by RETR gets the \\Seen flag, so "
	  "IMAP clients show it as read" },
	{ .name = "uidl_format", .type = FC_D_ENUM,
	  .offset = POP3_OFF(uidl_format), .def = "uid-validity",
	  .choices = pop3_uidl_choices, .syntax = "uid-validity | guid",
	  .help = "UIDL values: uid-validity is the UID then UIDVALIDITY in "
	  "16 hex digits (the form of Dovecot's default); guid is the "
	  "store's message GUID" },
	{ .name = "expire", .type = FC_D_STRING, .offset = POP3_OFF(expire),
	  .syntax = "NEVER | DAYS",
	  .help = "advertised as EXPIRE in CAPA (RFC 2449): how long mail may "
	  "stay on the server; unset: not advertised. Nothing is removed "
	  "by facteur because of it" },
	{ .name = "login_delay", .type = FC_D_TIME,
	  .offset = POP3_OFF(login_delay), .def = "0s", .max = 86400000LL,
	  .syntax = "TIME",
	  .help = "least time between two logins of the same user, "
	  "advertised as LOGIN-DELAY and enforced with -ERR [LOGIN-DELAY]; "
	  "0: none" },
	{ .name = NULL }
};

static int
pop3_init(struct fc_core *core, void *confp, const char **error_r)
{
	struct pop3_conf *conf = confp;
	struct fc_arena *a = fc_arena_new("pop3-conf", 512);
	const char *p, *extra = "";

	if (conf->expire != NULL) {
		if (strcmp(conf->expire, "NEVER") != 0) {
			for (p = conf->expire; *p != '\0'; p++)
				if (!isdigit((unsigned char)*p))
					break;
			if (*conf->expire == '\0' || *p != '\0'
			    || strlen(conf->expire) > 5) {
				*error_r = "pop3: expire takes NEVER or a "
				    "number of days";
				fc_arena_free(&a);
				return -1;
			}
		}
		extra = fc_arena_printf(a, "EXPIRE %s\r\n", conf->expire);
	}
	if (conf->deleted_flag != NULL && (*conf->deleted_flag == '\0'
	    || *conf->deleted_flag == '\\'
	    || strpbrk(conf->deleted_flag, " ()]{%*\"") != NULL)) {
		*error_r = "pop3: deleted_flag must be an IMAP keyword (no "
		    "spaces, no backslash)";
		fc_arena_free(&a);
		return -1;
	}
	if (conf->login_delay > 0)
		extra = fc_arena_printf(a, "%sLOGIN-DELAY %llu\r\n", extra,
		    (unsigned long long)((conf->login_delay + 999) / 1000));
	/* RFC 2449 6: what does not depend on the session; USER, SASL and
	 * STLS are added per session */
	conf->capa = fc_strdup(fc_arena_printf(a, "TOP\r\nUIDL\r\n"
	    "RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n%s", extra));
	conf->lock_dir = fc_strdup(conf->lock_dir != NULL ? conf->lock_dir :
	    fc_arena_printf(a, "%s/pop3-locks", fc_core_state_dir(core)));
	fc_arena_free(&a);
	return 0;
}

static void
pop3_fini(struct fc_core *core, void *confp)
{
	struct pop3_conf *conf = confp;

	(void)core;
	free(conf->capa);
	free(conf->lock_dir);
}

static const char *const pop3_default_listen[] = { "127.0.0.1:1110",
	NULL };
static const char *const pop3_service_defaults[] = {
	/* RFC 2449 4 allows 255 octets for a command; AUTH's responses
	 * are longer */
	"max_line_length", "4k",
	/* RFC 1939 3: the autologout timer is at least 10 minutes */
	"idle_timeout", "10m",
	NULL
};

static const struct fc_protocol_ops pop3_ops = {
	.size = sizeof(struct fc_protocol_ops),
	.default_listen = pop3_default_listen,
	.busy_reply = "-ERR [SYS/TEMP] Too many connections, try again "
	    "later\r\n",
	.service_defaults = pop3_service_defaults,
	.start = pop3_start,
	.line = pop3_line,
	.line_too_long = pop3_line_too_long,
	.drained = pop3_drained,
	.timeout = pop3_timeout,
	.stop = pop3_stop,
	.end = pop3_end,
};

const struct fc_module fc_module_pop3 = {
	FC_MODULE_HEADER,
	.name = "pop3",
	.version = "1.0",
	.kind = FC_MODULE_PROTOCOL,
	.directives = pop3_directives,
	.conf_size = sizeof(struct pop3_conf),
	.init = pop3_init,
	.fini = pop3_fini,
	.ops = &pop3_ops,
};
