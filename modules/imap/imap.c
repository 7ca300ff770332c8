/*
 * imap.c - the IMAP module (RFC 3501 IMAP4rev1, and RFC 9051 IMAP4rev2
 * for a client that enables it): directives, the CAPABILITY list built
 * once per configuration, and the protocol's entry points.
 *
 * A listener with the word `tls` is IMAPS (implicit TLS, port 993 by
 * convention); the others offer STARTTLS when the block has a
 * certificate.
 *
 * Only what is implemented and tested is advertised; the list lives in
 * IMAP_CAPS below, and the session adds STARTTLS, AUTH= and
 * LOGINDISABLED before login, as the connection allows.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <facteur/arena.h>
#include <facteur/conf.h>
#include <facteur/log.h>
#include <facteur/module.h>
#include <facteur/session.h>

#include "imap.h"

#define IMAP_OFF(field)	offsetof(struct imap_conf, field)

/* What every session may use after login. */
#define IMAP_CAPS \
	"IMAP4rev1 IMAP4rev2 UTF8=ACCEPT SEARCHRES " \
	"LITERAL+ BINARY SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS " \
	"MOVE UNSELECT CHILDREN SPECIAL-USE LIST-EXTENDED LIST-STATUS ESEARCH " \
	"CONDSTORE STATUS=SIZE QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE " \
	"SORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES MULTIAPPEND QRESYNC"

static const struct fc_directive imap_directives[] = {
	{ .name = "greeting", .type = FC_D_STRING, .offset = IMAP_OFF(greeting),
	  .def = "IMAP server ready", .syntax = "TEXT",
	  .help = "text of the * OK greeting" },
	{ .name = "max_literal_size", .type = FC_D_SIZE,
	  .offset = IMAP_OFF(max_literal), .def = "64k", .min = 1024,
	  .max = 16LL * 1024 * 1024, .syntax = "SIZE",
	  .help = "largest literal inside a command other than the message "
	  "of an APPEND (a name, a password, a search string); larger ones "
	  "get NO [TOOBIG], or BAD and the end of the connection when the "
	  "client did not wait for the go-ahead (LITERAL+)" },
	{ .name = "max_command_size", .type = FC_D_SIZE,
	  .offset = IMAP_OFF(max_command), .def = "256k", .min = 4096,
	  .max = 64LL * 1024 * 1024, .syntax = "SIZE",
	  .help = "largest command, its lines and literals together (the "
	  "message of an APPEND aside)" },
	{ .name = "max_message_size", .type = FC_D_SIZE,
	  .offset = IMAP_OFF(max_message), .def = "64M", .min = 1024,
	  .syntax = "SIZE",
	  .help = "largest message APPEND accepts, and the largest the "
	  "messages of one MULTIAPPEND may be together; a larger announced "
	  "literal is refused before any byte is read" },
	{ .name = "max_append_messages", .type = FC_D_UINT,
	  .offset = IMAP_OFF(max_append_messages), .def = "100", .min = 1,
	  .max = 10000, .syntax = "N",
	  .help = "most messages one APPEND may carry (MULTIAPPEND); each "
	  "waits uncommitted, a file open or its bytes in memory, until the "
	  "last has come" },
	{ .name = "login_timeout", .type = FC_D_TIME,
	  .offset = IMAP_OFF(login_timeout), .def = "1m", .min = 1000,
	  .syntax = "TIME",
	  .help = "how long a connection may stay idle before logging in" },
	{ .name = "autologout", .type = FC_D_TIME,
	  .offset = IMAP_OFF(idle_timeout), .def = "30m", .min = 1000,
	  .syntax = "TIME",
	  .help = "how long a logged-in connection may stay idle, IDLE "
	  "included (RFC 3501 5.4: at least 30 minutes)" },
	{ .name = NULL }
};

static int
imap_init(struct fc_core *core, void *confp, const char **error_r)
{
	struct imap_conf *conf = confp;

	(void)core;
	(void)error_r;
	conf->capability = fc_strdup(IMAP_CAPS);
	return 0;
}

static void
imap_fini(struct fc_core *core, void *confp)
{
	struct imap_conf *conf = confp;

	(void)core;
	free(conf->capability);
}

static const char *const imap_default_listen[] = { "127.0.0.1:1143",
	NULL };
static const char *const imap_service_defaults[] = {
	/* RFC 7162 3.2.1 asks for at least 8192 octets per line */
	"max_line_length", "64k",
	"idle_timeout", "1m",
	NULL
};

static const struct fc_protocol_ops imap_ops = {
	.size = sizeof(struct fc_protocol_ops),
	.default_listen = imap_default_listen,
	.busy_reply = "* BYE [UNAVAILABLE] Too many connections, try again "
	    "later\r\n",
	.service_defaults = imap_service_defaults,
	.start = imap_start,
	.line = imap_line,
	.line_too_long = imap_line_too_long,
	.bytes = imap_bytes,
	.drained = imap_drained,
	.timeout = imap_timeout,
	.stop = imap_stop,
	.end = imap_end,
};

const struct fc_module fc_module_imap = {
	FC_MODULE_HEADER,
	.name = "imap",
	.version = "1.0",
	.kind = FC_MODULE_PROTOCOL,
	.directives = imap_directives,
	.conf_size = sizeof(struct imap_conf),
	.init = imap_init,
	.fini = imap_fini,
	.ops = &imap_ops,
};
