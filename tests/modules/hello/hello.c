/*
 * hello.c - a toy line protocol, written as a third party would write a
 * facteur module: against the installed headers only, built with its
 * own configure.ac and Makefile.am.
 *
 *	+ <greeting>		on connect
 *	any line	->	+ <the line>
 *	QUIT		->	+ bye, then the connection closes
 *
 * Configure it with
 *	load hello;
 *	hello { listen 127.0.0.1:2525; greeting "hi"; }
 */
#include <stddef.h>
#include <strings.h>

#include <facteur/conf.h>
#include <facteur/module.h>
#include <facteur/session.h>

struct hello_conf {
	char *greeting;
};

static const struct fc_directive hello_directives[] = {
	{ .name = "greeting", .type = FC_D_STRING,
	  .offset = offsetof(struct hello_conf, greeting),
	  .def = "hello", .syntax = "TEXT",
	  .help = "first line sent to each client" },
	{ .name = NULL }
};

static enum fc_next
hello_start(struct fc_session *s)
{
	const struct hello_conf *conf = fc_session_conf(s);

	fc_session_printf(s, "+ %s\r\n", conf->greeting);
	return FC_NEXT_CONTINUE;
}

static enum fc_next
hello_line(struct fc_session *s, char *line, size_t len)
{
	if (len == 4 && strncasecmp(line, "QUIT", 4) == 0) {
		fc_session_printf(s, "+ bye\r\n");
		return FC_NEXT_CLOSE;
	}
	fc_session_printf(s, "+ %.*s\r\n", (int)len, line);
	return FC_NEXT_CONTINUE;
}

static const char *const hello_default_listen[] = { "127.0.0.1:2525", NULL };

static const struct fc_protocol_ops hello_ops = {
	.size = sizeof(struct fc_protocol_ops),
	.default_listen = hello_default_listen,
	.start = hello_start,
	.line = hello_line,
	/* no .line_too_long: the core then closes the connection */
};

const struct fc_module fc_module_hello = {
	FC_MODULE_HEADER,
	.name = "hello",
	.version = "1.0",
	.kind = FC_MODULE_PROTOCOL,
	.directives = hello_directives,
	.conf_size = sizeof(struct hello_conf),
	.ops = &hello_ops,
};
