/*
 * conf.c - applies the config tree to the directive tables.
 *
 * Order of work for one configuration generation:
 *   1. parse the file (conf_parse.c) or the embedded default;
 *   2. apply module_path and load, and load the modules;
 *   3. apply the other top-level directives (core settings, and the
 *      defaults every protocol block inherits);
 *   4. for each block: the module's table, plus the per-listener settings
 *      for protocol modules.
 * Every error is reported (file:line: block: directive: message) and
 * counted; a generation with errors is thrown away.
 *
 * A protocol block's per-listener settings come from, weakest first: the
 * core's defaults, the module's service_defaults, what the top level set
 * explicitly, what the block sets.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/conf.h>
#include <facteur/log.h>

#include "conf_parse.h"
#include "core.h"

struct fc_conf_ctx {
	struct fc_core *core;
	const struct fc_conf_node *node;	/* NULL for defaults */
	const char *block;			/* "core" or a module name */
	unsigned int errors;
};

/* ------------------------------------------------------------------ */
/* The core's own directives */

static const char *const log_targets[] = { "auto", "stderr", "syslog", NULL };
static const char *const log_levels[] = {
	"error", "warning", "notice", "info", "debug", NULL
};
static const char *const log_facility_names[] = {
	"mail", "daemon", "user", "local0", "local1", "local2", "local3",
	"local4", "local5", "local6", "local7", NULL
};
static const int log_facility_values[] = {
	LOG_MAIL, LOG_DAEMON, LOG_USER, LOG_LOCAL0, LOG_LOCAL1, LOG_LOCAL2,
	LOG_LOCAL3, LOG_LOCAL4, LOG_LOCAL5, LOG_LOCAL6, LOG_LOCAL7,
};
static const char *const plaintext_auth_choices[] = {
	"no", "loopback", "yes", NULL
};

static const char *conf_set_workers(struct fc_conf_ctx *cx, void *conf,
    const char *const *args, size_t nargs);
static const char *conf_set_load(struct fc_conf_ctx *cx, void *conf,
    const char *const *args, size_t nargs);
static const char *conf_set_listen(struct fc_conf_ctx *cx, void *conf,
    const char *const *args, size_t nargs);

#define CORE_OFF(field)		offsetof(struct fc_core_conf, field)
#define SERVICE_OFF(field)	offsetof(struct fc_service_conf, field)

const struct fc_directive fc_core_directives[] = {
	{ .name = "user", .type = FC_D_STRING, .offset = CORE_OFF(user),
	  .def = "facteur", .syntax = "NAME",
	  .help = "unprivileged user the workers run as when started as root" },
	{ .name = "workers", .type = FC_D_CUSTOM, .offset = CORE_OFF(workers),
	  .def = "auto", .set = conf_set_workers, .syntax = "auto | N",
	  .help = "worker processes; auto is one per CPU core" },
	{ .name = "pid_file", .type = FC_D_STRING,
	  .offset = CORE_OFF(pid_file), .def = FC_RUN_DIR "/facteurd.pid",
	  .syntax = "PATH | none",
	  .help = "file holding the master's process id" },
	{ .name = "module_path", .type = FC_D_LIST,
	  .offset = CORE_OFF(module_path), .def = FC_MODULE_DIR,
	  .syntax = "DIR ...",
	  .help = "folders searched for modules, in order" },
	{ .name = "load", .type = FC_D_CUSTOM, .offset = CORE_OFF(load),
	  .flags = FC_DF_MULTI, .set = conf_set_load, .syntax = "MODULE ...",
	  .help = "modules to load; may be repeated" },
	{ .name = "log", .type = FC_D_ENUM, .offset = CORE_OFF(log),
	  .def = "auto", .choices = log_targets,
	  .syntax = "auto | stderr | syslog",
	  .help = "where log lines go; auto is stderr in the foreground, "
	  "syslog otherwise" },
	{ .name = "log_level", .type = FC_D_ENUM,
	  .offset = CORE_OFF(log_level), .def = "info",
	  .choices = log_levels,
	  .syntax = "error | warning | notice | info | debug",
	  .help = "least important level logged" },
	{ .name = "log_facility", .type = FC_D_ENUM,
	  .offset = CORE_OFF(log_facility), .def = "mail",
	  .choices = log_facility_names,
	  .syntax = "mail | daemon | user | local0 ... local7",
	  .help = "syslog facility" },
	{ .name = "state_dir", .type = FC_D_PATH,
	  .offset = CORE_OFF(state_dir), .def = FC_STATE_DIR,
	  .syntax = "DIR", .help = "folder for state files" },
	{ .name = "hostname", .type = FC_D_STRING,
	  .offset = CORE_OFF(hostname), .syntax = "NAME",
	  .help = "host name announced to clients; default: the system's" },
	{ .name = "auth", .type = FC_D_LIST, .offset = CORE_OFF(auth),
	  .def = "passwd-file", .syntax = "BACKEND ...",
	  .help = "authentication back ends asked, in order" },
	{ .name = "dns_servers", .type = FC_D_LIST,
	  .offset = CORE_OFF(dns_servers), .syntax = "ADDRESS[:PORT] ...",
	  .help = "name servers for DNS lookups; default: those of "
	  "/etc/resolv.conf" },
	{ .name = "storage", .type = FC_D_STRING, .offset = CORE_OFF(storage),
	  .def = "maildir", .syntax = "BACKEND",
	  .help = "storage back end for users whose mail location does not "
	  "name one" },
	{ .name = "auth_failure_delay", .type = FC_D_TIME,
	  .offset = CORE_OFF(auth_failure_delay), .def = "2s",
	  .max = 60 * 1000, .syntax = "TIME",
	  .help = "delay before answering a failed login" },
	{ .name = "auth_max_failures", .type = FC_D_UINT,
	  .offset = CORE_OFF(auth_max_failures), .def = "20",
	  .syntax = "N",
	  .help = "failed logins allowed per client IP within "
	  "auth_failure_window before its logins are refused; 0: no limit" },
	{ .name = "auth_failure_window", .type = FC_D_TIME,
	  .offset = CORE_OFF(auth_failure_window), .def = "10m",
	  .min = 1000, .syntax = "TIME",
	  .help = "how long failed logins are remembered" },
	{ .name = "shutdown_timeout", .type = FC_D_TIME,
	  .offset = CORE_OFF(shutdown_timeout), .def = "30s",
	  .syntax = "TIME",
	  .help = "on SIGTERM, how long sessions may take to finish" },
	{ .name = "reload_drain_timeout", .type = FC_D_TIME,
	  .offset = CORE_OFF(reload_drain_timeout), .def = "1h",
	  .syntax = "TIME",
	  .help = "after SIGHUP, how long old workers keep their sessions" },
	{ .name = "max_connections", .type = FC_D_UINT,
	  .offset = CORE_OFF(max_connections), .def = "8192", .min = 1,
	  .max = 1000000, .syntax = "N",
	  .help = "connections served at once by the whole server" },
	{ .name = NULL }
};

/* Per-listener settings: at the top level, and in every protocol block. */
const struct fc_directive fc_service_directives[] = {
	{ .name = "listen", .type = FC_D_CUSTOM, .flags = FC_DF_MULTI,
	  .offset = SERVICE_OFF(listens), .set = conf_set_listen,
	  .syntax = "ADDRESS:PORT | PORT [tls] [KIND]",
	  .help = "address to accept connections on (protocol blocks only); "
	  "tls: implicit TLS; KIND: a listener kind the module defines" },
	{ .name = "max_connections_per_ip", .type = FC_D_UINT,
	  .offset = SERVICE_OFF(max_connections_per_ip), .def = "50",
	  .min = 1, .syntax = "N",
	  .help = "connections to this service from one client IP" },
	{ .name = "idle_timeout", .type = FC_D_TIME,
	  .offset = SERVICE_OFF(idle_timeout), .def = "5m", .min = 100,
	  .syntax = "TIME",
	  .help = "time allowed to complete a command line, or to read "
	  "output, before the connection is closed" },
	{ .name = "max_line_length", .type = FC_D_SIZE,
	  .offset = SERVICE_OFF(max_line_length), .def = "8k", .min = 64,
	  .max = 1024 * 1024, .syntax = "SIZE",
	  .help = "longest command line; longer ones are answered with an "
	  "error and skipped" },
	{ .name = "max_input_buffer", .type = FC_D_SIZE,
	  .offset = SERVICE_OFF(max_input_buffer), .def = "64k",
	  .min = 4096, .max = 16 * 1024 * 1024, .syntax = "SIZE",
	  .help = "input read ahead while a command is being served "
	  "(pipelining); reading pauses above it" },
	{ .name = "max_errors", .type = FC_D_UINT,
	  .offset = SERVICE_OFF(max_errors), .def = "20", .min = 1,
	  .syntax = "N",
	  .help = "protocol errors before the connection is closed" },
	{ .name = "plaintext_auth", .type = FC_D_ENUM,
	  .offset = SERVICE_OFF(plaintext_auth), .def = "loopback",
	  .choices = plaintext_auth_choices,
	  .syntax = "no | loopback | yes",
	  .help = "may passwords cross unencrypted connections: never, "
	  "from loopback clients only, or always" },
	{ .name = "tls_certificate", .type = FC_D_PATH,
	  .offset = SERVICE_OFF(tls_certificate), .syntax = "PATH",
	  .help = "PEM certificate chain, leaf first; enables STARTTLS" },
	{ .name = "tls_key", .type = FC_D_PATH,
	  .offset = SERVICE_OFF(tls_key), .syntax = "PATH",
	  .help = "PEM private key of tls_certificate" },
	{ .name = "tls_min_version", .type = FC_D_ENUM,
	  .offset = SERVICE_OFF(tls_min_version), .def = "TLSv1.2",
	  .choices = fc_tls_versions, .syntax = "TLSv1.2 | TLSv1.3",
	  .help = "oldest TLS version accepted" },
	{ .name = "tls_ciphers", .type = FC_D_STRING,
	  .offset = SERVICE_OFF(tls_ciphers),
	  .def = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
	  "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
	  "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305",
	  .syntax = "OPENSSL-CIPHER-LIST",
	  .help = "TLS 1.2 cipher list (OpenSSL syntax)" },
	{ .name = "tls_ciphersuites", .type = FC_D_STRING,
	  .offset = SERVICE_OFF(tls_ciphersuites),
	  .def = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
	  "TLS_CHACHA20_POLY1305_SHA256",
	  .syntax = "OPENSSL-CIPHERSUITES",
	  .help = "TLS 1.3 cipher suites (OpenSSL syntax)" },
	{ .name = NULL }
};

/* ------------------------------------------------------------------ */
/* For FC_D_CUSTOM setters (conf.h) */

void *
fc_conf_alloc(struct fc_conf_ctx *cx, size_t size)
{
	return fc_arena_alloc(cx->core->arena, size);
}

char *
fc_conf_strdup(struct fc_conf_ctx *cx, const char *s)
{
	return fc_arena_strdup(cx->core->arena, s);
}

const char *
fc_conf_error(struct fc_conf_ctx *cx, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return fc_arena_strdup(cx->core->arena, buf);
}

char *
fc_conf_path(struct fc_conf_ctx *cx, const char *path)
{
	if (path[0] == '/' || path[0] == '\0')
		return fc_arena_strdup(cx->core->arena, path);
	return fc_arena_printf(cx->core->arena, "%s/%s", cx->core->conf_dir,
	    path);
}

static void
conf_report(struct fc_conf_ctx *cx, const struct fc_conf_node *n,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
conf_report(struct fc_conf_ctx *cx, const struct fc_conf_node *n,
    const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n != NULL)
		fc_log(FC_LOG_ERROR, "%s:%u: %s", n->file, n->line, msg);
	else
		fc_log(FC_LOG_ERROR, "%s: %s", cx->core->conf_file, msg);
	cx->errors++;
}

/* ------------------------------------------------------------------ */
/* Values */

static size_t
conf_value_size(enum fc_dtype type)
{
	switch (type) {
	case FC_D_BOOL:
		return sizeof(bool);
	case FC_D_UINT:
	case FC_D_ENUM:
		return sizeof(unsigned int);
	case FC_D_SIZE:
	case FC_D_TIME:
		return sizeof(uint64_t);
	case FC_D_STRING:
	case FC_D_PATH:
		return sizeof(char *);
	case FC_D_LIST:
		return sizeof(char **);
	case FC_D_CUSTOM:
		break;
	}
	return 0;
}

static const char *
conf_check_bounds(struct fc_conf_ctx *cx, const struct fc_directive *d,
    const char *text, unsigned long long v)
{
	if (d->min == 0 && d->max == 0)
		return NULL;
	if (v < (unsigned long long)d->min)
		return fc_conf_error(cx, "%s is below the minimum %lld%s",
		    text, d->min, d->type == FC_D_TIME ? "ms" : "");
	if (d->max != 0 && v > (unsigned long long)d->max)
		return fc_conf_error(cx, "%s is above the maximum %lld%s",
		    text, d->max, d->type == FC_D_TIME ? "ms" : "");
	return NULL;
}

static const char *
conf_set_value(struct fc_conf_ctx *cx, const struct fc_directive *d,
    void *conf, const char *const *args, size_t nargs)
{
	char *field = (char *)conf + d->offset;
	unsigned long long u;
	const char *err;
	uint64_t v;
	bool b;
	size_t i;

	if (d->type == FC_D_CUSTOM)
		return d->set(cx, conf, args, nargs);
	if (d->type == FC_D_LIST) {
		char **list;

		if (nargs == 0)
			return "takes at least one argument";
		list = fc_arena_alloc(cx->core->arena,
		    (nargs + 1) * sizeof(char *));
		for (i = 0; i < nargs; i++)
			list[i] = fc_arena_strdup(cx->core->arena, args[i]);
		memcpy(field, &list, sizeof(list));
		return NULL;
	}
	if (nargs != 1)
		return fc_conf_error(cx, "takes one argument, got %zu", nargs);

	switch (d->type) {
	case FC_D_BOOL:
		if ((err = fc_conf_parse_bool(args[0], &b)) != NULL)
			return err;
		memcpy(field, &b, sizeof(b));
		return NULL;
	case FC_D_UINT:
		if ((err = fc_conf_parse_uint(args[0], UINT_MAX, &u)) != NULL)
			return err;
		if ((err = conf_check_bounds(cx, d, args[0], u)) != NULL)
			return err;
		{
			unsigned int ui = (unsigned int)u;

			memcpy(field, &ui, sizeof(ui));
		}
		return NULL;
	case FC_D_SIZE:
	case FC_D_TIME:
		err = d->type == FC_D_SIZE ? fc_conf_parse_size(args[0], &v) :
		    fc_conf_parse_time(args[0], &v);
		if (err != NULL)
			return err;
		if ((err = conf_check_bounds(cx, d, args[0], v)) != NULL)
			return err;
		memcpy(field, &v, sizeof(v));
		return NULL;
	case FC_D_STRING:
	case FC_D_PATH: {
		char *str = d->type == FC_D_PATH ?
		    fc_conf_path(cx, args[0]) :
		    fc_arena_strdup(cx->core->arena, args[0]);

		memcpy(field, &str, sizeof(str));
		return NULL;
	}
	case FC_D_ENUM:
		for (i = 0; d->choices[i] != NULL; i++) {
			if (strcasecmp(args[0], d->choices[i]) == 0) {
				unsigned int ui = (unsigned int)i;

				memcpy(field, &ui, sizeof(ui));
				return NULL;
			}
		}
		{
			char choices[512] = "";

			for (i = 0; d->choices[i] != NULL; i++) {
				if (i > 0)
					strncat(choices, ", ",
					    sizeof(choices) - strlen(choices) - 1);
				strncat(choices, d->choices[i],
				    sizeof(choices) - strlen(choices) - 1);
			}
			return fc_conf_error(cx, "%s is not one of: %s",
			    args[0], choices);
		}
	case FC_D_LIST:
	case FC_D_CUSTOM:
		break;
	}
	return "unknown directive type";
}

/* Splits a default ("a b c") into arguments, in the generation arena. */
static size_t
conf_split(struct fc_conf_ctx *cx, const char *text, char **args,
    size_t max)
{
	char *copy = fc_arena_strdup(cx->core->arena, text), *save, *w;
	size_t n = 0;

	for (w = strtok_r(copy, " ", &save); w != NULL && n < max;
	    w = strtok_r(NULL, " ", &save))
		args[n++] = w;
	return n;
}

static void
conf_apply_default(struct fc_conf_ctx *cx, const struct fc_directive *d,
    void *conf, const char *def)
{
	char *args[16];
	const char *err;
	size_t n;

	/* lists and custom values take several words; the rest one */
	if (d->type == FC_D_LIST || d->type == FC_D_CUSTOM)
		n = conf_split(cx, def, args, 16);
	else {
		args[0] = (char *)def;
		n = 1;
	}
	cx->node = NULL;
	err = conf_set_value(cx, d, conf, (const char *const *)args, n);
	if (err != NULL)
		conf_report(cx, NULL, "%s: default of %s (%s): %s", cx->block,
		    d->name, def, err);
}

static void
conf_apply_defaults(struct fc_conf_ctx *cx, const struct fc_directive *table,
    void *conf)
{
	const struct fc_directive *d;

	if (table == NULL)
		return;
	for (d = table; d->name != NULL; d++)
		if (d->def != NULL)
			conf_apply_default(cx, d, conf, d->def);
}

static const struct fc_directive *
conf_find(const struct fc_directive *table, const char *name, size_t *idx_r)
{
	size_t i;

	if (table == NULL)
		return NULL;
	for (i = 0; table[i].name != NULL; i++) {
		if (strcmp(table[i].name, name) == 0) {
			*idx_r = i;
			return &table[i];
		}
	}
	return NULL;
}

static size_t
conf_table_len(const struct fc_directive *table)
{
	size_t n = 0;

	while (table != NULL && table[n].name != NULL)
		n++;
	return n;
}

/*
 * Applies one directive node if table knows it. Returns 1 if applied (or
 * reported), 0 if the table does not know the name. seen[] records the
 * node that set each directive, for duplicates.
 */
static int
conf_apply_node(struct fc_conf_ctx *cx, const struct fc_directive *table,
    void *conf, const struct fc_conf_node *n,
    const struct fc_conf_node **seen)
{
	const struct fc_directive *d;
	const char *err;
	size_t idx;

	if ((d = conf_find(table, n->name, &idx)) == NULL)
		return 0;
	if (n->block) {
		conf_report(cx, n, "%s: %s is not a block", cx->block, n->name);
		return 1;
	}
	if (seen[idx] != NULL && !(d->flags & FC_DF_MULTI)) {
		conf_report(cx, n, "%s: %s is already set at line %u",
		    cx->block, n->name, seen[idx]->line);
		return 1;
	}
	seen[idx] = n;
	cx->node = n;
	err = conf_set_value(cx, d, conf, (const char *const *)n->args,
	    n->nargs);
	if (err != NULL)
		conf_report(cx, n, "%s: %s: %s", cx->block, n->name, err);
	return 1;
}

/* ------------------------------------------------------------------ */
/* Custom setters */

static const char *
conf_set_workers(struct fc_conf_ctx *cx, void *conf, const char *const *args,
    size_t nargs)
{
	struct fc_core_conf *cc = conf;
	unsigned long long n;
	const char *err;

	if (nargs != 1)
		return "takes one argument";
	if (strcmp(args[0], "auto") == 0) {
		cc->workers = 0;
		return NULL;
	}
	if ((err = fc_conf_parse_uint(args[0], 1024, &n)) != NULL)
		return "expected auto or a number from 1 to 1024";
	if (n == 0)
		return "expected auto or a number from 1 to 1024";
	cc->workers = (unsigned int)n;
	return NULL;
}

static const char *
conf_set_load(struct fc_conf_ctx *cx, void *conf, const char *const *args,
    size_t nargs)
{
	struct fc_core_conf *cc = conf;
	size_t old = 0, i, j;
	char **list;

	if (nargs == 0)
		return "names at least one module";
	while (cc->load != NULL && cc->load[old] != NULL)
		old++;
	list = fc_arena_alloc(cx->core->arena,
	    (old + nargs + 1) * sizeof(char *));
	for (i = 0; i < old; i++)
		list[i] = cc->load[i];
	for (j = 0; j < nargs; j++) {
		for (i = 0; i < old + j; i++)
			if (strcmp(list[i], args[j]) == 0)
				return fc_conf_error(cx,
				    "module %s is loaded twice", args[j]);
		list[old + j] = fc_arena_strdup(cx->core->arena, args[j]);
	}
	cc->load = list;
	return NULL;
}

static const char *
conf_set_listen(struct fc_conf_ctx *cx, void *conf, const char *const *args,
    size_t nargs)
{
	struct fc_service_conf *sc = conf;
	struct fc_listen *l, **tail;
	const struct fc_protocol_ops *ops = NULL;
	size_t i, k;
	const char *err;

	if (strcmp(cx->block, "core") == 0)
		return "belongs in a protocol module's block";
	for (i = 0; i < cx->core->nmodules; i++) {
		struct fc_loaded *m = cx->core->modules[i].loaded;

		if (strcmp(m->name, cx->block) == 0)
			ops = m->mod->ops;
	}
	if (nargs < 1 || nargs > 3)
		return "takes an address and optionally tls and a kind";
	l = fc_arena_alloc(cx->core->arena, sizeof(*l));
	l->text = fc_arena_strdup(cx->core->arena, args[0]);
	l->fd = -1;
	if (cx->node != NULL) {
		l->file = cx->node->file;
		l->line = cx->node->line;
	}
	err = fc_listen_parse(cx->core->arena, args[0], &l->addr, &l->addrlen);
	if (err != NULL)
		return err;
	for (i = 1; i < nargs; i++) {
		if (strcmp(args[i], "tls") == 0) {
			if (l->tls)
				return "tls given twice";
			l->tls = true;
			continue;
		}
		if (l->kind != NULL)
			return fc_conf_error(cx, "unexpected %s", args[i]);
		for (k = 0; ops != NULL && ops->listener_kinds != NULL
		    && ops->listener_kinds[k] != NULL; k++)
			if (strcmp(ops->listener_kinds[k], args[i]) == 0)
				l->kind = ops->listener_kinds[k];
		if (l->kind == NULL) {
			if (ops == NULL || ops->listener_kinds == NULL)
				return fc_conf_error(cx,
				    "unknown option %s (%s has no listener "
				    "kinds)", args[i], cx->block);
			return fc_conf_error(cx, "unknown listener kind %s",
			    args[i]);
		}
	}
	if (l->kind == NULL && ops != NULL && ops->listener_kinds != NULL)
		l->kind = ops->listener_kinds[0];
	for (tail = &sc->listens; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = l;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Modules and blocks */

static struct fc_core_module *
conf_module(struct fc_core *core, const char *name)
{
	size_t i;

	for (i = 0; i < core->nmodules; i++)
		if (strcmp(core->modules[i].loaded->name, name) == 0)
			return &core->modules[i];
	return NULL;
}

void *
fc_core_module_conf(struct fc_core *core, const char *name)
{
	struct fc_core_module *m = conf_module(core, name);

	return m == NULL ? NULL : m->conf;
}

const char *
fc_core_state_dir(struct fc_core *core)
{
	return core->cc.state_dir;
}

const char *
fc_core_hostname(struct fc_core *core)
{
	return core->hostname;
}

/* A module may not name a directive the core owns in its block. */
static const char *
conf_check_module_table(const struct fc_module *mod)
{
	const struct fc_directive *d;
	size_t idx;

	if (mod->directives == NULL)
		return NULL;
	for (d = mod->directives; d->name != NULL; d++) {
		if (mod->kind == FC_MODULE_PROTOCOL
		    && conf_find(fc_service_directives, d->name, &idx) != NULL)
			return d->name;
		if (d->type == FC_D_CUSTOM && d->set == NULL)
			return d->name;
		if (d->type == FC_D_ENUM && d->choices == NULL)
			return d->name;
	}
	return NULL;
}

/* The load line that names a module, for messages. */
static const struct fc_conf_node *
conf_load_line(const struct fc_conf_node *root, const char *name)
{
	const struct fc_conf_node *n;
	size_t i;

	for (n = root; n != NULL; n = n->next) {
		if (strcmp(n->name, "load") != 0)
			continue;
		for (i = 0; i < n->nargs; i++)
			if (strcmp(n->args[i], name) == 0)
				return n;
	}
	return NULL;
}

static bool
conf_named_in_load(const struct fc_core *core, const char *name)
{
	size_t i;

	for (i = 0; core->cc.load != NULL && core->cc.load[i] != NULL; i++)
		if (strcmp(core->cc.load[i], name) == 0)
			return true;
	return false;
}

static void
conf_load_modules(struct fc_conf_ctx *cx, const struct fc_conf_node *root)
{
	struct fc_core *core = cx->core;
	char **dirs;
	const char *env = getenv("FACTEUR_MODULE_PATH"), *err;
	size_t ndirs = 0, i, k;

	/* FACTEUR_MODULE_PATH (colon-separated) comes first: tests and
	 * developers point it at a build tree */
	for (k = 0; core->cc.module_path[k] != NULL; k++)
		;
	dirs = fc_arena_alloc(core->arena, (k + 64 + 1) * sizeof(char *));
	if (env != NULL && *env != '\0') {
		char *copy = fc_arena_strdup(core->arena, env), *save, *d;

		for (d = strtok_r(copy, ":", &save); d != NULL && ndirs < 64;
		    d = strtok_r(NULL, ":", &save))
			dirs[ndirs++] = d;
	}
	for (k = 0; core->cc.module_path[k] != NULL; k++)
		dirs[ndirs++] = core->cc.module_path[k];
	dirs[ndirs] = NULL;

	for (k = 0; core->cc.load != NULL && core->cc.load[k] != NULL; k++)
		;
	core->modules = fc_arena_alloc(core->arena,
	    (k + 1) * sizeof(*core->modules));
	for (i = 0; i < k; i++) {
		const char *name = core->cc.load[i];
		struct fc_core_module *cm;
		struct fc_loaded *lm;
		const char *bad;

		lm = fc_loader_load(name, dirs, &err);
		if (lm == NULL) {
			conf_report(cx, conf_load_line(root, name),
			    "module %s: %s", name, err);
			continue;
		}
		if ((bad = conf_check_module_table(lm->mod)) != NULL) {
			conf_report(cx, conf_load_line(root, name),
			    "module %s (%s): directive "
			    "%s is reserved by the core or incomplete",
			    name, lm->path, bad);
			continue;
		}
		cm = &core->modules[core->nmodules++];
		cm->loaded = lm;
		cm->conf = fc_arena_alloc(core->arena,
		    lm->mod->conf_size == 0 ? 1 : lm->mod->conf_size);
		cx->block = lm->name;
		conf_apply_defaults(cx, lm->mod->directives, cm->conf);
		if (lm->mod->kind == FC_MODULE_PROTOCOL) {
			struct fc_service *svc;

			svc = fc_arena_alloc(core->arena, sizeof(*svc));
			svc->core = core;
			svc->module = lm;
			svc->ops = lm->mod->ops;
			svc->conf = cm->conf;
			svc->index = (unsigned int)core->nservices;
			cm->svc = svc;
			core->nservices++;
		}
	}
	core->services = fc_arena_alloc(core->arena,
	    (core->nservices + 1) * sizeof(*core->services));
	for (i = 0, k = 0; i < core->nmodules; i++)
		if (core->modules[i].svc != NULL)
			core->services[k++] = core->modules[i].svc;
	cx->block = "core";
}

/* Copies into sc the top-level per-listener settings that were set. */
static void
conf_inherit(struct fc_service_conf *sc, const struct fc_service_conf *top,
    const struct fc_conf_node **top_seen)
{
	const struct fc_directive *d;
	size_t i;

	for (i = 0, d = fc_service_directives; d->name != NULL; d++, i++) {
		size_t size = conf_value_size(d->type);

		if (top_seen[i] != NULL && size != 0)
			memcpy((char *)sc + d->offset,
			    (const char *)top + d->offset, size);
	}
}

static void
conf_apply_service_defaults(struct fc_conf_ctx *cx, struct fc_service *svc)
{
	const char *const *p = svc->ops->service_defaults;
	const struct fc_directive *d;
	size_t idx;

	for (; p != NULL && p[0] != NULL && p[1] != NULL; p += 2) {
		d = conf_find(fc_service_directives, p[0], &idx);
		if (d == NULL || d->type == FC_D_CUSTOM) {
			conf_report(cx, NULL, "%s: service_defaults names "
			    "unknown setting %s", cx->block, p[0]);
			continue;
		}
		conf_apply_default(cx, d, &svc->sc, p[1]);
	}
}

static void
conf_apply_default_listens(struct fc_conf_ctx *cx, struct fc_service *svc)
{
	const char *const *p = svc->ops->default_listen;
	char *args[4];
	const char *err;
	size_t n;

	cx->node = NULL;
	for (; p != NULL && *p != NULL; p++) {
		n = conf_split(cx, *p, args, 4);
		err = conf_set_listen(cx, &svc->sc, (const char *const *)args,
		    n);
		if (err != NULL)
			conf_report(cx, NULL, "%s: default listener %s: %s",
			    cx->block, *p, err);
	}
}

static void
conf_apply_block(struct fc_conf_ctx *cx, const struct fc_conf_node *b)
{
	struct fc_core_module *cm = conf_module(cx->core, b->name);
	const struct fc_directive *table;
	const struct fc_conf_node **seen, **sseen, *n;
	struct fc_service *svc;

	if (b->nargs != 0) {
		conf_report(cx, b, "block %s takes no arguments", b->name);
		return;
	}
	table = cm->loaded->mod->directives;
	seen = fc_arena_alloc(cx->core->arena,
	    (conf_table_len(table) + 1) * sizeof(*seen));
	sseen = fc_arena_alloc(cx->core->arena,
	    (conf_table_len(fc_service_directives) + 1) * sizeof(*sseen));
	svc = cm->svc;
	cx->block = cm->loaded->name;
	for (n = b->children; n != NULL; n = n->next) {
		if (conf_apply_node(cx, table, cm->conf, n, seen))
			continue;
		if (svc != NULL && conf_apply_node(cx, fc_service_directives,
		    &svc->sc, n, sseen))
			continue;
		if (n->block)
			conf_report(cx, n, "%s: unknown block %s", cx->block,
			    n->name);
		else
			conf_report(cx, n, "%s: unknown directive %s",
			    cx->block, n->name);
	}
	cx->block = "core";
}

static void
conf_finish_service(struct fc_conf_ctx *cx, struct fc_service *svc)
{
	struct fc_listen *l;

	cx->block = svc->module->name;
	if (svc->sc.listens == NULL)
		conf_apply_default_listens(cx, svc);
	if (svc->sc.listens == NULL)
		conf_report(cx, NULL, "%s: no listen directive, and the module "
		    "has no default listener", cx->block);
	for (l = svc->sc.listens; l != NULL; l = l->next)
		l->svc = svc;
	if ((svc->sc.tls_certificate == NULL) !=
	    (svc->sc.tls_key == NULL))
		conf_report(cx, NULL, "%s: tls_certificate and tls_key go "
		    "together", cx->block);
	for (l = svc->sc.listens; l != NULL; l = l->next) {
		if (!l->tls || svc->sc.tls_certificate != NULL)
			continue;
		fc_log(FC_LOG_ERROR, "%s:%u: %s: listen %s tls needs "
		    "tls_certificate and tls_key",
		    l->file ? l->file : cx->core->conf_file, l->line,
		    cx->block, l->text);
		cx->errors++;
	}
	cx->block = "core";
}

/* Two listeners on one address and port, in any two blocks, is an error. */
static void
conf_check_listen_clash(struct fc_conf_ctx *cx)
{
	struct fc_core *core = cx->core;
	struct fc_listen *a, *b;
	size_t i, j;

	for (i = 0; i < core->nservices; i++) {
		for (a = core->services[i]->sc.listens; a; a = a->next) {
			for (j = i; j < core->nservices; j++) {
				b = j == i ? a->next :
				    core->services[j]->sc.listens;
				for (; b != NULL; b = b->next) {
					if (!fc_sockaddr_same(&a->addr,
					    &b->addr))
						continue;
					fc_log(FC_LOG_ERROR, "%s:%u: listen %s "
					    "is also used at %s:%u",
					    b->file ? b->file : core->conf_file,
					    b->line, b->text,
					    a->file ? a->file : core->conf_file,
					    a->line);
					cx->errors++;
				}
			}
		}
	}
}

static void
conf_apply_tree(struct fc_conf_ctx *cx, const struct fc_conf_node *root)
{
	struct fc_core *core = cx->core;
	const struct fc_conf_node **seen, **sseen, *n;
	size_t i;
	bool first_pass;

	seen = fc_arena_alloc(core->arena,
	    (conf_table_len(fc_core_directives) + 1) * sizeof(*seen));
	sseen = fc_arena_alloc(core->arena,
	    (conf_table_len(fc_service_directives) + 1) * sizeof(*sseen));

	/* module_path and load first: the rest may name modules */
	cx->block = "core";
	conf_apply_defaults(cx, fc_core_directives, &core->cc);
	conf_apply_defaults(cx, fc_service_directives, &core->cc.service);
	for (n = root; n != NULL; n = n->next) {
		first_pass = strcmp(n->name, "module_path") == 0
		    || strcmp(n->name, "load") == 0;
		if (first_pass)
			conf_apply_node(cx, fc_core_directives, &core->cc, n,
			    seen);
	}
	conf_load_modules(cx, root);

	for (n = root; n != NULL; n = n->next) {
		if (strcmp(n->name, "module_path") == 0
		    || strcmp(n->name, "load") == 0)
			continue;
		if (n->block) {
			/* loaded: applied below, after the top level; named
			 * in load but not loaded: already reported */
			if (conf_module(core, n->name) != NULL
			    || conf_named_in_load(core, n->name))
				continue;
			conf_report(cx, n, "block %s names no loaded module "
			    "(add it to load)", n->name);
			continue;
		}
		if (conf_apply_node(cx, fc_core_directives, &core->cc, n, seen))
			continue;
		if (conf_apply_node(cx, fc_service_directives,
		    &core->cc.service, n, sseen))
			continue;
		if (conf_module(core, n->name) != NULL)
			conf_report(cx, n, "%s is a module: its settings go in "
			    "a block, %s { ... }", n->name, n->name);
		else
			conf_report(cx, n, "unknown directive %s", n->name);
	}

	/* protocol blocks start from the inherited per-listener settings */
	for (i = 0; i < core->nservices; i++) {
		struct fc_service *svc = core->services[i];

		cx->block = svc->module->name;
		conf_apply_defaults(cx, fc_service_directives, &svc->sc);
		conf_apply_service_defaults(cx, svc);
		conf_inherit(&svc->sc, &core->cc.service, sseen);
		cx->block = "core";
	}

	for (n = root; n != NULL; n = n->next) {
		const struct fc_conf_node *m;

		if (!n->block || conf_module(core, n->name) == NULL)
			continue;
		for (m = root; m != n; m = m->next)
			if (m->block && strcmp(m->name, n->name) == 0)
				break;
		if (m != n) {
			conf_report(cx, n, "block %s appears twice (first at "
			    "%s:%u)", n->name, m->file, m->line);
			continue;
		}
		conf_apply_block(cx, n);
	}
	for (i = 0; i < core->nservices; i++)
		conf_finish_service(cx, core->services[i]);
	conf_check_listen_clash(cx);
}

static char *
conf_system_hostname(struct fc_arena *a)
{
	char name[256];

	if (gethostname(name, sizeof(name) - 1) < 0)
		return fc_arena_strdup(a, "localhost");
	name[sizeof(name) - 1] = '\0';
	return fc_arena_strdup(a, name);
}

/*
 * Builds a generation from a file (path), or from text (path NULL; text
 * NULL means the embedded default config).
 */
static struct fc_core *
conf_load(const char *path, const char *text, unsigned int generation)
{
	struct fc_conf_node *root = NULL;
	struct fc_conf_ctx cx;
	struct fc_core *core;
	const char *err;
	size_t i;
	int r;

	core = fc_calloc(1, sizeof(*core));
	core->arena = fc_arena_new("conf", 16384);
	core->generation = generation;
	if (path != NULL) {
		const char *slash = strrchr(path, '/');

		core->conf_file = fc_arena_strdup(core->arena, path);
		core->conf_dir = slash == NULL ? "." : slash == path ? "/" :
		    fc_arena_strndup(core->arena, path, (size_t)(slash - path));
		r = fc_conf_parse_file(core->arena, path, &root, &err);
	} else {
		if (text == NULL) {
			text = fc_default_config;
			core->conf_file = "(embedded default config)";
		} else
			core->conf_file = "(command line)";
		core->conf_dir = FC_CONF_DIR;
		r = fc_conf_parse_text(core->arena, core->conf_file,
		    core->conf_dir, text, strlen(text), &root, &err);
	}
	if (r < 0) {
		fc_log(FC_LOG_ERROR, "%s", err);
		fc_core_free(&core);
		return NULL;
	}

	memset(&cx, 0, sizeof(cx));
	cx.core = core;
	cx.block = "core";
	conf_apply_tree(&cx, root);

	core->facility = log_facility_values[core->cc.log_facility];
	core->hostname = core->cc.hostname != NULL ? core->cc.hostname :
	    conf_system_hostname(core->arena);
	for (i = 0; cx.errors == 0 && i < core->nservices; i++) {
		if (fc_tls_setup(core->services[i], &err) < 0) {
			fc_log(FC_LOG_ERROR, "%s: %s: %s", core->conf_file,
			    core->services[i]->module->name, err);
			cx.errors++;
		}
	}
	if (cx.errors > 0) {
		fc_log(FC_LOG_ERROR, "%s: %u error%s", core->conf_file,
		    cx.errors, cx.errors == 1 ? "" : "s");
		fc_core_free(&core);
		return NULL;
	}
	return core;
}

struct fc_core *
fc_core_load(const char *path, unsigned int generation)
{
	return conf_load(path, NULL, generation);
}

struct fc_core *
fc_core_load_text(const char *text, unsigned int generation)
{
	return conf_load(NULL, text, generation);
}

static void
conf_free_tls(struct fc_core *core)
{
	size_t i;

	for (i = 0; i < core->nservices; i++) {
		if (core->services[i]->tls != NULL) {
			SSL_CTX_free(core->services[i]->tls);
			core->services[i]->tls = NULL;
		}
	}
}

void
fc_core_free(struct fc_core **corep)
{
	struct fc_core *core = *corep;

	if (core == NULL)
		return;
	*corep = NULL;
	conf_free_tls(core);
	fc_arena_free(&core->arena);
	free(core);
}

int
fc_core_init_modules(struct fc_core *core)
{
	struct fc_auth_backend *b;
	const char *err;
	size_t i, k;
	int ret = 0;

	for (i = 0; i < core->nmodules; i++) {
		struct fc_core_module *cm = &core->modules[i];
		const struct fc_module *mod = cm->loaded->mod;

		if (mod->init == NULL) {
			cm->initialised = true;
			continue;
		}
		err = "no reason given";
		if (mod->init(core, cm->conf, &err) < 0) {
			fc_log(FC_LOG_ERROR, "module %s (%s): init failed: %s",
			    cm->loaded->name, cm->loaded->path, err);
			ret = -1;
			break;
		}
		cm->initialised = true;
	}
	for (k = 0; ret == 0 && core->cc.auth[k] != NULL; k++) {
		for (b = core->backends; b != NULL; b = b->next)
			if (strcmp(b->name, core->cc.auth[k]) == 0)
				break;
		if (b == NULL && core->cc.auth[k][0] != '\0'
		    && strcmp(core->cc.auth[k], "none") != 0) {
			fc_log(FC_LOG_ERROR, "%s: auth: no back end named %s "
			    "(load the module that provides it, or set auth "
			    "none)", core->conf_file, core->cc.auth[k]);
			ret = -1;
		}
	}
	return ret;
}

int
fc_core_worker_init_modules(struct fc_core *core)
{
	const char *err;
	size_t i;

	for (i = 0; i < core->nmodules; i++) {
		struct fc_core_module *cm = &core->modules[i];
		const struct fc_module *mod = cm->loaded->mod;

		if (mod->worker_init == NULL)
			continue;
		err = "no reason given";
		if (mod->worker_init(core, cm->conf, &err) < 0) {
			fc_log(FC_LOG_ERROR, "module %s (%s): worker_init "
			    "failed: %s", cm->loaded->name, cm->loaded->path,
			    err);
			return -1;
		}
	}
	return 0;
}

void
fc_core_fini_modules(struct fc_core *core)
{
	size_t i = core->nmodules;

	while (i-- > 0) {
		struct fc_core_module *cm = &core->modules[i];

		if (cm->initialised && cm->loaded->mod->fini != NULL)
			cm->loaded->mod->fini(core, cm->conf);
		cm->initialised = false;
	}
}

unsigned int
fc_core_worker_count(const struct fc_core *core)
{
	long n;

	if (core->cc.workers != 0)
		return core->cc.workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 64 ? 64 : (unsigned int)n;
}
