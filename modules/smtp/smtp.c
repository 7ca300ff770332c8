/*
 * smtp.c - the SMTP module: directives, the EHLO replies built once per
 * configuration, and the protocol's entry points.
 *
 * The listener's kind says what a connection may do: `smtp` accepts mail
 * for local domains from anyone and relays only for authenticated users
 * or trusted networks; `submission` requires authentication before MAIL;
 * `lmtp` delivers to local users and answers once per recipient.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <facteur/arena.h>
#include <facteur/command.h>
#include <facteur/conf.h>
#include <facteur/log.h>
#include <facteur/module.h>
#include <facteur/process.h>
#include <facteur/session.h>

#include "smtp.h"

#define SMTP_OFF(field)	offsetof(struct smtp_conf, field)

static const char *smtp_set_route(struct fc_conf_ctx *cx, void *conf,
    const char *const *args, size_t nargs);

static const struct fc_directive smtp_directives[] = {
	{ .name = "hostname", .type = FC_D_STRING, .offset = SMTP_OFF(hostname),
	  .syntax = "NAME",
	  .help = "name in the greeting, EHLO reply and Received fields; "
	  "default: the server's hostname" },
	{ .name = "greeting", .type = FC_D_STRING, .offset = SMTP_OFF(greeting),
	  .def = "ESMTP", .syntax = "TEXT",
	  .help = "text after the host name in the 220 greeting" },
	{ .name = "local_domains", .type = FC_D_LIST,
	  .offset = SMTP_OFF(local_domains), .def = "localhost",
	  .syntax = "DOMAIN ...",
	  .help = "domains whose mail is delivered here; recipients are "
	  "checked against the users" },
	{ .name = "aliases", .type = FC_D_PATH, .offset = SMTP_OFF(aliases),
	  .syntax = "PATH",
	  .help = "virtual aliases: lines \"address target, target\" "
	  "(\"@domain\" catches a whole domain); read again when it changes" },
	{ .name = "trusted_networks", .type = FC_D_LIST,
	  .offset = SMTP_OFF(trusted_networks), .def = "127.0.0.0/8 ::1/128",
	  .syntax = "CIDR ...",
	  .help = "clients that may relay without authenticating" },
	{ .name = "max_message_size", .type = FC_D_SIZE,
	  .offset = SMTP_OFF(max_message_size), .def = "50M", .min = 1024,
	  .max = 2LL * 1024 * 1024 * 1024, .syntax = "SIZE",
	  .help = "largest message accepted (advertised with SIZE)" },
	{ .name = "max_recipients", .type = FC_D_UINT,
	  .offset = SMTP_OFF(max_recipients), .def = "1000", .min = 1,
	  .max = 100000, .syntax = "N",
	  .help = "recipients per message; more get 452 4.5.3" },
	{ .name = "vrfy", .type = FC_D_BOOL, .offset = SMTP_OFF(vrfy),
	  .def = "no", .syntax = "yes | no",
	  .help = "answer VRFY with what we know (no: always 252)" },
	{ .name = "reject_nul", .type = FC_D_BOOL,
	  .offset = SMTP_OFF(reject_nul), .def = "yes", .syntax = "yes | no",
	  .help = "refuse messages that contain NUL bytes (554 5.6.0)" },
	{ .name = "spool_dir", .type = FC_D_PATH, .offset = SMTP_OFF(spool_dir),
	  .syntax = "DIR",
	  .help = "where message data waits while it is received; default "
	  "STATE_DIR/spool" },
	{ .name = "max_message_rate", .type = FC_D_UINT,
	  .offset = SMTP_OFF(max_message_rate), .def = "0",
	  .syntax = "N",
	  .help = "messages per client IP within rate_window; 0: no limit" },
	{ .name = "max_connection_rate", .type = FC_D_UINT,
	  .offset = SMTP_OFF(max_connection_rate), .def = "0",
	  .syntax = "N",
	  .help = "new connections per client IP within rate_window; 0: no "
	  "limit" },
	{ .name = "rate_window", .type = FC_D_TIME,
	  .offset = SMTP_OFF(rate_window), .def = "1m", .min = 1000,
	  .syntax = "TIME",
	  .help = "the window of max_message_rate and max_connection_rate" },
	{ .name = "sender_login_match", .type = FC_D_BOOL,
	  .offset = SMTP_OFF(sender_login_match), .def = "yes",
	  .syntax = "yes | no",
	  .help = "on submission, the sender must be the authenticated "
	  "user's address" },
	{ .name = "queue_dir", .type = FC_D_PATH, .offset = SMTP_OFF(queue_dir),
	  .syntax = "DIR",
	  .help = "the outbound queue; default STATE_DIR/queue" },
	{ .name = "relay_host", .type = FC_D_STRING,
	  .offset = SMTP_OFF(relay_host), .syntax = "HOST[:PORT]",
	  .help = "send all outgoing mail through this host (a smarthost) "
	  "instead of looking up MX records" },
	{ .name = "route", .type = FC_D_CUSTOM, .flags = FC_DF_MULTI,
	  .set = smtp_set_route, .syntax = "DOMAIN|* HOST[:PORT]",
	  .help = "send a domain's mail to this host; * for every domain "
	  "without its own route; may be repeated" },
	{ .name = "queue_lifetime", .type = FC_D_TIME,
	  .offset = SMTP_OFF(queue_lifetime), .def = "5d", .min = 1000,
	  .syntax = "TIME",
	  .help = "how long a message may wait before it is returned" },
	{ .name = "lmtp_dsn", .type = FC_D_BOOL,
	  .offset = SMTP_OFF(lmtp_dsn), .def = "no", .syntax = "yes | no",
	  .help = "offer DSN on LMTP listeners: NOTIFY=SUCCESS then gets a "
	  "\"delivered\" report from here" },
	{ .name = "delay_warning", .type = FC_D_TIME,
	  .offset = SMTP_OFF(delay_warning), .def = "4h", .syntax = "TIME",
	  .help = "tell the sender once when a message has waited this long "
	  "for a recipient that asked (NOTIFY=DELAY); 0: never" },
	{ .name = "delay_warning_default", .type = FC_D_BOOL,
	  .offset = SMTP_OFF(delay_warning_default), .def = "no",
	  .syntax = "yes | no",
	  .help = "send delay_warning's report for recipients given without "
	  "NOTIFY too" },
	{ .name = "retry_min", .type = FC_D_TIME,
	  .offset = SMTP_OFF(retry_min), .def = "5m", .min = 1000,
	  .syntax = "TIME",
	  .help = "delay before the first retry; it doubles each time" },
	{ .name = "retry_max", .type = FC_D_TIME,
	  .offset = SMTP_OFF(retry_max), .def = "1h", .min = 1000,
	  .syntax = "TIME", .help = "the longest delay between retries" },
	{ .name = "queue_concurrency", .type = FC_D_UINT,
	  .offset = SMTP_OFF(queue_concurrency), .def = "20", .min = 1,
	  .max = 1000, .syntax = "N",
	  .help = "messages sent at the same time" },
	{ .name = "send_timeout", .type = FC_D_TIME,
	  .offset = SMTP_OFF(send_timeout), .def = "5m", .min = 100,
	  .syntax = "TIME",
	  .help = "time the next hop may take to answer each step" },
	{ .name = "tls_outbound", .type = FC_D_BOOL,
	  .offset = SMTP_OFF(tls_outbound), .def = "yes",
	  .syntax = "yes | no",
	  .help = "use STARTTLS when the next hop offers it (certificates "
	  "are not checked: opportunistic TLS)" },
	{ .name = "queue_fsync", .type = FC_D_BOOL,
	  .offset = SMTP_OFF(queue_fsync), .def = "yes", .syntax = "yes | no",
	  .help = "make queue files durable before answering (turn off only "
	  "for tests)" },
	{ .name = NULL }
};

static const char *
smtp_set_route(struct fc_conf_ctx *cx, void *confp, const char *const *args,
    size_t nargs)
{
	struct smtp_conf *conf = confp;
	struct smtp_route *routes;

	if (nargs != 2)
		return "takes a domain (or *) and a host[:port]";
	routes = fc_conf_alloc(cx, (conf->nroutes + 1) * sizeof(*routes));
	if (conf->nroutes > 0)
		memcpy(routes, conf->routes, conf->nroutes * sizeof(*routes));
	routes[conf->nroutes].domain = fc_conf_strdup(cx, args[0]);
	routes[conf->nroutes].dest = fc_conf_strdup(cx, args[1]);
	conf->routes = routes;
	conf->nroutes++;
	return NULL;
}

/*
 * The EHLO capabilities that do not depend on the session, as
 * "NAME\n" lines; AUTH and STARTTLS are added per session.
 */
static char *
smtp_make_ehlo(struct fc_arena *a, const struct smtp_conf *conf,
    enum smtp_kind kind)
{
	return fc_arena_printf(a,
	    "PIPELINING\nSIZE %llu\n8BITMIME\nSMTPUTF8\n"
	    "ENHANCEDSTATUSCODES\nCHUNKING\n%s%s",
	    (unsigned long long)conf->max_message_size,
	    kind == SMTP_KIND_SUBMISSION || (kind == SMTP_KIND_LMTP
	    && conf->lmtp_dsn) ? "DSN\n" : "",
	    conf->vrfy ? "VRFY\n" : "");
}

static int
smtp_init(struct fc_core *core, void *confp, const char **error_r)
{
	struct smtp_conf *conf = confp;
	struct fc_arena *a = fc_arena_new("smtp-conf", 1024);
	int k;

	if (smtp_policy_init(conf, error_r) < 0) {
		fc_arena_free(&a);
		return -1;
	}
	if (conf->spool_dir == NULL)
		conf->spool_dir = fc_strdup(fc_arena_printf(a, "%s/spool",
		    fc_core_state_dir(core)));
	else
		conf->spool_dir = fc_strdup(conf->spool_dir);
	if (conf->queue_dir == NULL)
		conf->queue_dir = fc_strdup(fc_arena_printf(a, "%s/queue",
		    fc_core_state_dir(core)));
	else
		conf->queue_dir = fc_strdup(conf->queue_dir);
	if (conf->retry_max < conf->retry_min)
		conf->retry_max = conf->retry_min;
	if (fc_process_add(core, "smtp-queue", &smtp_runner_ops, conf,
	    error_r) < 0 || fc_command_add(core, "queue", "queue list|flush "
	    "[ID]|delete ID|all|show ID", smtp_queue_command, conf,
	    error_r) < 0) {
		fc_arena_free(&a);
		return -1;
	}
	for (k = 0; k < 3; k++)
		conf->ehlo[k] = fc_strdup(smtp_make_ehlo(a, conf, k));
	fc_arena_free(&a);
	return 0;
}

/*
 * The busy reply, written by the core to a connection a limit refuses.
 * RFC 5321 4.2 puts the server's name after 421, and the name comes from
 * the configuration, so the text is made in each worker for the
 * generation it serves (a reload forks new workers; the master never
 * writes it). Before that it says the same without a name.
 */
static char smtp_busy_reply[320] =
    "421 4.7.0 Too many connections, try again later\r\n";

static int
smtp_worker_init(struct fc_core *core, void *confp, const char **error_r)
{
	const struct smtp_conf *conf = confp;

	(void)error_r;
	snprintf(smtp_busy_reply, sizeof(smtp_busy_reply), "421 4.7.0 %.255s "
	    "Too many connections, try again later\r\n",
	    conf->hostname != NULL ? conf->hostname : fc_core_hostname(core));
	return 0;
}

static void
smtp_fini(struct fc_core *core, void *confp)
{
	struct smtp_conf *conf = confp;
	int k;

	(void)core;
	for (k = 0; k < 3; k++)
		free(conf->ehlo[k]);
	free(conf->spool_dir);
	free(conf->queue_dir);
	smtp_policy_fini(conf);
}

static const char *const smtp_kinds[] = { "smtp", "submission", "lmtp",
	NULL };
static const char *const smtp_default_listen[] = { "127.0.0.1:2525",
	NULL };
static const char *const smtp_service_defaults[] = {
	"max_line_length", "2k",
	"max_errors", "10",
	"idle_timeout", "5m",
	NULL
};

static const struct fc_protocol_ops smtp_ops = {
	.size = sizeof(struct fc_protocol_ops),
	.default_listen = smtp_default_listen,
	.listener_kinds = smtp_kinds,
	.busy_reply = smtp_busy_reply,
	.service_defaults = smtp_service_defaults,
	.start = smtp_start,
	.line = smtp_line,
	.line_too_long = smtp_line_too_long,
	.bytes = smtp_bytes,
	.spooled = smtp_spooled,
	.timeout = smtp_timeout,
	.stop = smtp_stop,
	.end = smtp_end,
};

const struct fc_module fc_module_smtp = {
	FC_MODULE_HEADER,
	.name = "smtp",
	.version = "1.0",
	.kind = FC_MODULE_PROTOCOL,
	.directives = smtp_directives,
	.conf_size = sizeof(struct smtp_conf),
	.init = smtp_init,
	.worker_init = smtp_worker_init,
	.fini = smtp_fini,
	.ops = &smtp_ops,
};
