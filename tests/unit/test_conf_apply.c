/*
 * test_conf_apply.c - configuration texts through fc_core_load_text()
 * (conf.c): the directive tables' defaults, bounds, duplicates, argument
 * counts and enum choices, module blocks, and how a protocol block
 * inherits the top level's listener settings.
 *
 * It loads the in-tree modules echo (protocol) and passwd-file (auth)
 * from FACTEUR_MODULE_PATH, which `make check` points at the build tree;
 * without it the test is skipped. Module init is not run, so nothing is
 * opened or bound. Errors go to stderr through fc_log: each load runs
 * with stderr sent to a temporary file, read back to check the message.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "core.h"
#include "tap.h"

#define NELEMS(a)	(sizeof(a) / sizeof((a)[0]))

/* Prepended to each row unless bare: one line, so line numbers hold. */
#define HEAD	"workers 1; auth none; "

static char logbuf[16384];

/* Loads text with stderr captured into logbuf. */
static struct fc_core *
load(const char *text, unsigned int generation)
{
	const char *tmp = getenv("TMPDIR");
	struct fc_core *core;
	char path[4096];
	ssize_t n;
	size_t got = 0;
	int fd, saved;

	logbuf[0] = '\0';
	snprintf(path, sizeof(path), "%s/facteur-test-log.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	fd = mkstemp(path);
	if (fd < 0) {
		diag("mkstemp %s: %s", path, strerror(errno));
		return fc_core_load_text(text, generation);
	}
	unlink(path);
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	core = fc_core_load_text(text, generation);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	while (got + 1 < sizeof(logbuf) &&
	    (n = read(fd, logbuf + got, sizeof(logbuf) - 1 - got)) > 0)
		got += (size_t)n;
	logbuf[got] = '\0';
	close(fd);
	return core;
}

/* msg: a part of the log for refused texts; accepted ones log nothing */
static const struct {
	const char *name, *text;
	bool bare, good;
	const char *msg;
} cases[] = {
	{ "no modules", "", false, true, NULL },
	{ "a protocol module", "load echo;", false, true, NULL },
	{ "two modules", "load echo passwd-file;", false, true, NULL },
	{ "load repeated", "load echo;\nload passwd-file;", false, true,
	  NULL },
	{ "module blocks",
	  "load echo passwd-file;\n"
	  "echo { greeting \"hi there\"; max_body 1k; "
	  "listen 127.0.0.1:7100; }\n"
	  "passwd-file { path /nonexistent/passwd; "
	  "allow_plaintext_passwords yes; }", false, true, NULL },
	{ "empty block", "load echo; echo { }", false, true, NULL },
	{ "lowest max_line_length", "max_line_length 64;", false, true, NULL },
	{ "highest max_line_length", "max_line_length 1M;", false, true,
	  NULL },
	{ "highest auth_failure_delay", "auth_failure_delay 60s;", false, true,
	  NULL },
	{ "lowest idle_timeout", "idle_timeout 100ms;", false, true, NULL },
	{ "highest max_connections", "max_connections 1000000;", false, true,
	  NULL },
	{ "enum in upper case", "log_level DEBUG;", false, true, NULL },
	{ "workers auto", "workers auto; auth none;", true, true, NULL },
	{ "workers 1024", "workers 1024; auth none;", true, true, NULL },
	{ "module_path does not hide the environment",
	  "module_path /nonexistent; load echo;", false, true, NULL },

	{ "syntax error", "load echo", false, false,
	  "(command line):1: directive \"load\" is not ended by ';'" },
	{ "unknown directive", "\nfrobnicate 1;", false, false,
	  "(command line):2: unknown directive frobnicate" },
	{ "unknown directive in a block", "load echo;\necho {\n  frob;\n}",
	  false, false, "(command line):3: echo: unknown directive frob" },
	{ "unknown block in a block", "load echo;\necho { foo { } }", false,
	  false, "(command line):2: echo: unknown block foo" },
	{ "duplicate", "workers 1;\nauth none;\nworkers 2;", true, false,
	  "(command line):3: core: workers is already set at line 1" },
	{ "duplicate listener setting",
	  "\nidle_timeout 1s;\nidle_timeout 2s;", false, false,
	  "(command line):3: core: idle_timeout is already set at line 2" },
	{ "duplicate in a block",
	  "load echo;\necho {\n idle_timeout 1s;\n idle_timeout 2s;\n}",
	  false, false,
	  "(command line):4: echo: idle_timeout is already set at line 3" },
	{ "duplicate module directive",
	  "load echo;\necho {\n greeting a;\n greeting b;\n}", false, false,
	  "(command line):4: echo: greeting is already set at line 3" },
	{ "below the minimum", "max_line_length 63;", false, false,
	  "core: max_line_length: 63 is below the minimum 64" },
	{ "above the maximum", "max_line_length 2M;", false, false,
	  "core: max_line_length: 2M is above the maximum 1048576" },
	{ "time above the maximum", "auth_failure_delay 61s;", false, false,
	  "core: auth_failure_delay: 61s is above the maximum 60000ms" },
	{ "time below the minimum", "idle_timeout 99ms;", false, false,
	  "core: idle_timeout: 99ms is below the minimum 100ms" },
	{ "zero below the minimum", "max_connections 0;", false, false,
	  "core: max_connections: 0 is below the minimum 1" },
	{ "above an unsigned int", "auth_max_failures 4294967296;", false,
	  false, "core: auth_max_failures: number too large" },
	{ "module's own bound", "load echo; echo { max_body 0; }", false,
	  false, "echo: max_body: 0 is below the minimum 1" },
	{ "bad size", "max_line_length 1.5k;", false, false,
	  "core: max_line_length: expected a size" },
	{ "bad duration", "idle_timeout 30sec;", false, false,
	  "core: idle_timeout: expected a duration" },
	{ "bad bool", "load passwd-file;\n"
	  "passwd-file { allow_plaintext_passwords maybe; }", false, false,
	  "passwd-file: allow_plaintext_passwords: expected yes or no" },
	{ "no argument", "idle_timeout;", false, false,
	  "core: idle_timeout: takes one argument, got 0" },
	{ "two arguments", "log_level info debug;", false, false,
	  "core: log_level: takes one argument, got 2" },
	{ "unit apart from number", "max_line_length 10 k;", false, false,
	  "core: max_line_length: takes one argument, got 2" },
	{ "empty list", "auth;", true, false,
	  "core: auth: takes at least one argument" },
	{ "workers 0", "workers 0;", true, false,
	  "core: workers: expected auto or a number from 1 to 1024" },
	{ "workers 1025", "workers 1025;", true, false,
	  "core: workers: expected auto or a number from 1 to 1024" },
	{ "workers with two", "workers 1 2;", true, false,
	  "core: workers: takes one argument" },
	{ "enum choice", "log_level loud;", false, false,
	  "core: log_level: loud is not one of: error, warning, notice, "
	  "info, debug" },
	{ "enum of a listener setting", "plaintext_auth maybe;", false, false,
	  "core: plaintext_auth: maybe is not one of: no, loopback, yes" },
	{ "TLS version", "tls_min_version TLSv1.1;", false, false,
	  "TLSv1.1 is not one of: TLSv1.2, TLSv1.3" },
	{ "module name as a directive", "load echo;\necho 1;", false, false,
	  "(command line):2: echo is a module: its settings go in a block, "
	  "echo { ... }" },
	{ "module directive at the top", "load echo;\ngreeting hi;", false,
	  false, "(command line):2: unknown directive greeting" },
	{ "block of a module not loaded", "echo { }", false, false,
	  "block echo names no loaded module (add it to load)" },
	{ "block twice", "load echo;\necho { }\necho { }", false, false,
	  "(command line):3: block echo appears twice (first at "
	  "(command line):2)" },
	{ "block with arguments", "load echo; echo x { }", false, false,
	  "block echo takes no arguments" },
	{ "directive written as a block",
	  "load echo; echo { idle_timeout 1s { } }", false, false,
	  "echo: idle_timeout is not a block" },
	{ "core directive as a block", "shutdown_timeout 1s { }", false, false,
	  "block shutdown_timeout names no loaded module" },
	{ "listen at the top", "listen 7100;", false, false,
	  "core: listen: belongs in a protocol module's block" },
	{ "listen in an auth module",
	  "load passwd-file; passwd-file { listen 7100; }", false, false,
	  "passwd-file: unknown directive listen" },
	{ "listen twice on one address",
	  "load echo; echo {\nlisten 127.0.0.1:7100;\n"
	  "listen 127.0.0.1:7100;\n}", false, false,
	  "(command line):3: listen 127.0.0.1:7100 is also used at "
	  "(command line):2" },
	{ "listen with a host name", "load echo; echo { listen nowhere:25; }",
	  false, false, "echo: listen: " },
	{ "listen tls without a certificate",
	  "load echo; echo { listen 127.0.0.1:7100 tls; }", false, false,
	  "echo: listen 127.0.0.1:7100 tls needs tls_certificate and tls_key" },
	{ "listen with an unknown kind",
	  "load echo; echo { listen 127.0.0.1:7100 fast; }", false, false,
	  "echo: listen: unknown option fast (echo has no listener kinds)" },
	{ "certificate without key",
	  "load echo; echo { tls_certificate /nonexistent/cert.pem; }", false,
	  false, "echo: tls_certificate and tls_key go together" },
	{ "unknown module", "load nosuch;", false, false,
	  "module nosuch: not found in " },
	{ "bad module name", "load ../echo;", false, false,
	  "bad module name \"../echo\"" },
	{ "module loaded twice", "load echo echo;", false, false,
	  "module echo is loaded twice" },
	{ "every error counted", "frob;\nfrob2;\nfrob3;", false, false,
	  "(command line): 3 errors" },
};

static void
test_cases(void)
{
	size_t i;

	for (i = 0; i < NELEMS(cases); i++) {
		struct fc_core *core;
		char text[4096];

		snprintf(text, sizeof(text), "%s%s", cases[i].bare ? "" : HEAD,
		    cases[i].text);
		core = load(text, 1);
		if (cases[i].good) {
			if (!ok(core != NULL, "%s: accepted", cases[i].name))
				diag("log: %s", logbuf);
			if (!is_str(logbuf, "", "%s: nothing logged",
			    cases[i].name))
				diag("log: %s", logbuf);
		} else {
			ok(core == NULL, "%s: refused", cases[i].name);
			if (!ok(strstr(logbuf, cases[i].msg) != NULL,
			    "%s: message", cases[i].name)) {
				diag("want: %s", cases[i].msg);
				diag("log:  %s", logbuf);
			}
		}
		fc_core_free(&core);
	}
}

/* The values a text leaves behind, defaults first. */
static void
test_defaults(void)
{
	struct fc_core *core = load(HEAD "load echo;", 3);
	const struct fc_service *svc;
	const struct fc_core_conf *cc;

	if (!ok(core != NULL, "defaults: loaded")) {
		diag("log: %s", logbuf);
		return;
	}
	cc = &core->cc;
	is_int(core->generation, 3, "defaults: generation kept");
	is_int(cc->workers, 1, "defaults: workers as set");
	ok(cc->auth != NULL && cc->auth[0] != NULL &&
	    strcmp(cc->auth[0], "none") == 0 && cc->auth[1] == NULL,
	    "defaults: auth list as set");
	is_str(cc->user, "facteur", "defaults: user");
	is_int((long long)cc->auth_failure_delay, 2000,
	    "defaults: auth_failure_delay 2s");
	is_int(cc->auth_max_failures, 20, "defaults: auth_max_failures");
	is_int((long long)cc->auth_failure_window, 600000,
	    "defaults: auth_failure_window 10m");
	is_int((long long)cc->shutdown_timeout, 30000,
	    "defaults: shutdown_timeout 30s");
	is_int((long long)cc->reload_drain_timeout, 3600000,
	    "defaults: reload_drain_timeout 1h");
	is_int(cc->max_connections, 8192, "defaults: max_connections");
	is_int(cc->log, 0, "defaults: log auto");
	is_int(cc->log_level, FC_LOG_INFO, "defaults: log_level info");
	is_int(core->facility, LOG_MAIL, "defaults: facility mail");
	ok(core->hostname != NULL && core->hostname[0] != '\0',
	    "defaults: a host name from the system");
	is_int((long long)cc->service.idle_timeout, 300000,
	    "defaults: top-level idle_timeout 5m");

	if (!is_int((long long)core->nservices, 1, "defaults: one service")) {
		fc_core_free(&core);
		return;
	}
	svc = core->services[0];
	is_str(svc->module->name, "echo", "defaults: the echo service");
	ok(svc->core == core && svc->conf != NULL && svc->ops != NULL,
	    "defaults: service wired to its core, conf and ops");
	is_int((long long)svc->sc.idle_timeout, 300000,
	    "defaults: service idle_timeout 5m");
	is_int((long long)svc->sc.max_line_length, 8192,
	    "defaults: max_line_length 8k");
	is_int((long long)svc->sc.max_input_buffer, 65536,
	    "defaults: max_input_buffer 64k");
	is_int(svc->sc.max_errors, 20, "defaults: max_errors");
	is_int(svc->sc.max_connections_per_ip, 50,
	    "defaults: max_connections_per_ip");
	is_int(svc->sc.plaintext_auth, FC_PLAINTEXT_LOOPBACK,
	    "defaults: plaintext_auth loopback");
	is_int(svc->sc.tls_min_version, 0, "defaults: TLSv1.2");
	ok(svc->sc.tls_certificate == NULL && svc->tls == NULL,
	    "defaults: no certificate, no TLS context");
	ok(svc->sc.listens != NULL && svc->sc.listens->next == NULL,
	    "defaults: one listener, the module's default");
	if (svc->sc.listens != NULL) {
		is_str(svc->sc.listens->text, "127.0.0.1:7007",
		    "defaults: echo's default address");
		ok(svc->sc.listens->svc == svc && !svc->sc.listens->tls &&
		    svc->sc.listens->fd == -1,
		    "defaults: listener belongs to the service, not bound");
	}
	fc_core_free(&core);
	ok(core == NULL, "defaults: free sets the pointer to NULL");
}

/*
 * Per-listener settings: a block starts from the top level's explicit
 * values and its own values win, wherever they are in the file.
 */
static const struct {
	const char *name, *text;
	uint64_t top_idle, idle;
	unsigned int max_errors, plaintext;
	uint64_t line;
} inherit[] = {
	{ "nothing set", "load echo;", 300000, 300000, 20,
	  FC_PLAINTEXT_LOOPBACK, 8192 },
	{ "top level only",
	  "load echo; idle_timeout 10s; max_errors 5; plaintext_auth yes;",
	  10000, 10000, 5, FC_PLAINTEXT_YES, 8192 },
	{ "block only", "load echo; echo { idle_timeout 20s; }", 300000,
	  20000, 20, FC_PLAINTEXT_LOOPBACK, 8192 },
	{ "block wins",
	  "load echo; idle_timeout 10s; max_errors 5;\n"
	  "echo { idle_timeout 20s; max_line_length 1k; }",
	  10000, 20000, 5, FC_PLAINTEXT_LOOPBACK, 1024 },
	{ "block wins when written first",
	  "load echo; echo { max_errors 3; }\nmax_errors 7; idle_timeout 1m;",
	  60000, 60000, 3, FC_PLAINTEXT_LOOPBACK, 8192 },
	{ "block sets the default value",
	  "load echo; idle_timeout 10s; echo { idle_timeout 5m; }",
	  10000, 300000, 20, FC_PLAINTEXT_LOOPBACK, 8192 },
};

static void
test_inherit(void)
{
	size_t i;

	for (i = 0; i < NELEMS(inherit); i++) {
		struct fc_core *core;
		char text[1024];
		const struct fc_service *svc;

		snprintf(text, sizeof(text), HEAD "%s", inherit[i].text);
		core = load(text, 1);
		if (!ok(core != NULL && core->nservices == 1,
		    "inherit: %s: loaded", inherit[i].name)) {
			diag("log: %s", logbuf);
			fc_core_free(&core);
			continue;
		}
		svc = core->services[0];
		is_int((long long)core->cc.service.idle_timeout,
		    (long long)inherit[i].top_idle,
		    "inherit: %s: top-level idle_timeout", inherit[i].name);
		is_int((long long)svc->sc.idle_timeout,
		    (long long)inherit[i].idle,
		    "inherit: %s: echo's idle_timeout", inherit[i].name);
		is_int(svc->sc.max_errors, inherit[i].max_errors,
		    "inherit: %s: echo's max_errors", inherit[i].name);
		is_int(svc->sc.plaintext_auth, inherit[i].plaintext,
		    "inherit: %s: echo's plaintext_auth", inherit[i].name);
		is_int((long long)svc->sc.max_line_length,
		    (long long)inherit[i].line,
		    "inherit: %s: echo's max_line_length", inherit[i].name);
		fc_core_free(&core);
	}
}

static void
test_values(void)
{
	struct fc_core *core;
	const struct fc_listen *l;

	core = load(HEAD "log_level debug; log_facility local3; log syslog;\n"
	    "tls_min_version TLSv1.3; hostname mx.example.org;\n"
	    "load echo;", 1);
	if (ok(core != NULL, "enums: loaded")) {
		is_int(core->cc.log_level, FC_LOG_DEBUG, "enums: log_level");
		is_int(core->facility, LOG_LOCAL3, "enums: log_facility");
		is_int(core->cc.log, 2, "enums: log syslog");
		is_int(core->services[0]->sc.tls_min_version, 1,
		    "enums: tls_min_version inherited");
		is_str(core->hostname, "mx.example.org", "hostname as set");
	} else
		diag("log: %s", logbuf);
	fc_core_free(&core);

	core = load("workers auto; auth none;", 1);
	if (ok(core != NULL, "workers auto: loaded")) {
		is_int(core->cc.workers, 0, "workers auto: stored as 0");
		ok(fc_core_worker_count(core) >= 1 &&
		    fc_core_worker_count(core) <= 64,
		    "workers auto: between 1 and 64 workers");
	}
	fc_core_free(&core);

	core = load(HEAD "load echo passwd-file;\n"
	    "echo {\n  listen 127.0.0.1:7100;\n  listen [::1]:7101;\n}", 1);
	if (ok(core != NULL && core->nservices == 1,
	    "listen: loaded, one service")) {
		is_int((long long)core->nmodules, 2, "listen: two modules");
		l = core->services[0]->sc.listens;
		ok(l != NULL && strcmp(l->text, "127.0.0.1:7100") == 0 &&
		    l->line == 3, "listen: first as written, with its line");
		ok(l != NULL && l->next != NULL &&
		    strcmp(l->next->text, "[::1]:7101") == 0 &&
		    l->next->addr.ss_family == AF_INET6,
		    "listen: second, IPv6");
		ok(l != NULL && l->next != NULL && l->next->next == NULL,
		    "listen: no default listener added");
	} else
		diag("log: %s", logbuf);
	fc_core_free(&core);

	/* the configuration facteurd runs without one must load */
	core = load(NULL, 1);
	if (ok(core != NULL, "embedded default: loads")) {
		const struct fc_service *echo = NULL, *smtp = NULL;
		const struct fc_service *pop3 = NULL, *imap = NULL;
		size_t i;
		int kinds = 0;

		for (i = 0; i < core->nservices; i++) {
			if (strcmp(core->services[i]->module->name, "echo") == 0)
				echo = core->services[i];
			if (strcmp(core->services[i]->module->name, "smtp") == 0)
				smtp = core->services[i];
			if (strcmp(core->services[i]->module->name, "pop3") == 0)
				pop3 = core->services[i];
			if (strcmp(core->services[i]->module->name, "imap") == 0)
				imap = core->services[i];
		}
		ok(core->nservices == 4, "embedded default: four services");
		ok(pop3 != NULL && pop3->sc.listens != NULL &&
		    strcmp(pop3->sc.listens->text, "127.0.0.1:1110") == 0,
		    "embedded default: pop3 on 1110");
		ok(imap != NULL && imap->sc.listens != NULL &&
		    strcmp(imap->sc.listens->text, "127.0.0.1:1143") == 0,
		    "embedded default: imap on 1143");
		ok(echo != NULL && echo->sc.listens != NULL &&
		    strcmp(echo->sc.listens->text, "127.0.0.1:7007") == 0,
		    "embedded default: echo on 7007");
		for (l = smtp != NULL ? smtp->sc.listens : NULL; l != NULL;
		    l = l->next) {
			if (strcmp(l->text, "127.0.0.1:2525") == 0
			    && strcmp(l->kind, "smtp") == 0)
				kinds |= 1;
			if (strcmp(l->text, "127.0.0.1:2587") == 0
			    && strcmp(l->kind, "submission") == 0)
				kinds |= 2;
			if (strcmp(l->text, "127.0.0.1:2424") == 0
			    && strcmp(l->kind, "lmtp") == 0)
				kinds |= 4;
		}
		is_int(kinds, 7, "embedded default: smtp, submission and lmtp "
		    "on unprivileged loopback ports");
		ok(core->cc.auth != NULL && core->cc.auth[0] != NULL &&
		    strcmp(core->cc.auth[0], "passwd-file") == 0,
		    "embedded default: auth passwd-file");
	} else
		diag("log: %s", logbuf);
	fc_core_free(&core);
}

/* Two generations side by side, as during a reload. */
static void
test_generations(void)
{
	struct fc_core *a, *b;

	a = load(HEAD "load echo; idle_timeout 10s;", 1);
	b = load(HEAD "load echo; idle_timeout 20s;", 2);
	ok(a != NULL && b != NULL, "generations: both load");
	if (a != NULL && b != NULL) {
		ok(a->services[0]->sc.idle_timeout == 10000 &&
		    b->services[0]->sc.idle_timeout == 20000,
		    "generations: each keeps its own settings");
		ok(a->services[0]->module == b->services[0]->module,
		    "generations: the module is loaded once");
	}
	fc_core_free(&a);
	ok(b == NULL || b->services[0]->sc.idle_timeout == 20000,
	    "generations: freeing the old one leaves the new one");
	fc_core_free(&b);
}

int
main(void)
{
	const char *path = getenv("FACTEUR_MODULE_PATH");

	if (path == NULL || *path == '\0') {
		printf("1..0 # SKIP FACTEUR_MODULE_PATH is not set\n");
		return 0;
	}
	if (fc_loader_init() < 0) {
		ok(0, "fc_loader_init");
		return done();
	}
	test_cases();
	test_defaults();
	test_inherit();
	test_values();
	test_generations();
	return done();
}
