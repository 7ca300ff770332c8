/*
 * testfilter.c - a filter module for the tests: it answers at every SMTP
 * hook point according to words the test puts in the transaction, so the
 * tests can check each verdict the protocol must honour.
 *
 *	CONNECT  from 127.0.0.3: reject
 *	HELO     reject.test, tempfail.test, pending.test (answers later)
 *	MAIL     a sender starting with "blocked": reject
 *	RCPT     a recipient starting with "deny-": reject with its own text
 *	DATA     a line "X-Test-Action: WORD" in the message: reject,
 *	         tempfail, disconnect, junk (folder Junk and a header),
 *	         pending (accepts 200 ms later, adding a header)
 *	DELIVERED counts deliveries into a file named by the `count_file`
 *	         directive, one line each
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <facteur/conf.h>
#include <facteur/envelope.h>
#include <facteur/hook.h>
#include <facteur/module.h>
#include <facteur/session.h>

struct testfilter_conf {
	char *count_file;
};

static const struct fc_directive testfilter_directives[] = {
	{ .name = "count_file", .type = FC_D_PATH,
	  .offset = offsetof(struct testfilter_conf, count_file),
	  .syntax = "PATH", .help = "where DELIVERED notifications are "
	  "counted" },
	{ .name = NULL }
};

static void
testfilter_later(struct fc_session *s, void *arg)
{
	fc_hook_resume(s, (enum fc_verdict)(long)arg);
}

static enum fc_verdict
testfilter_connect(struct fc_session *s, struct fc_envelope *env, void *ctx)
{
	(void)ctx;
	if (strcmp(fc_session_peer_ip(s), "127.0.0.3") == 0) {
		fc_envelope_set_reply(env, "554 5.7.1 testfilter refuses you");
		return FC_REJECT;
	}
	return FC_CONTINUE;
}

static enum fc_verdict
testfilter_helo(struct fc_session *s, struct fc_envelope *env, void *ctx)
{
	const char *helo = fc_envelope_helo(env);

	(void)ctx;
	if (helo == NULL)
		return FC_CONTINUE;
	if (strcasecmp(helo, "reject.test") == 0)
		return FC_REJECT;
	if (strcasecmp(helo, "tempfail.test") == 0)
		return FC_TEMPFAIL;
	if (strcasecmp(helo, "pending.test") == 0) {
		fc_session_timer(s, 100, testfilter_later,
		    (void *)(long)FC_CONTINUE);
		return FC_PENDING;
	}
	return FC_CONTINUE;
}

static enum fc_verdict
testfilter_mail(struct fc_session *s, struct fc_envelope *env, void *ctx)
{
	const char *from = fc_envelope_sender(env);

	(void)s;
	(void)ctx;
	return from != NULL && strncmp(from, "blocked", 7) == 0 ? FC_REJECT :
	    FC_CONTINUE;
}

static enum fc_verdict
testfilter_rcpt(struct fc_session *s, struct fc_envelope *env, void *ctx)
{
	size_t n = fc_envelope_recipient_count(env);
	const char *to = n > 0 ? fc_envelope_recipient(env, n - 1) : NULL;

	(void)s;
	(void)ctx;
	if (to != NULL && strncmp(to, "deny-", 5) == 0) {
		fc_envelope_set_reply(env, "550 5.7.1 denied by testfilter");
		return FC_REJECT;
	}
	return FC_CONTINUE;
}

/* The word after "X-Test-Action: " in the message, or "". */
static void
testfilter_action(struct fc_envelope *env, char *word, size_t size)
{
	char buf[8192], *p;
	ssize_t n;

	word[0] = '\0';
	n = pread(fc_envelope_message_fd(env), buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return;
	buf[n] = '\0';
	if ((p = strstr(buf, "X-Test-Action: ")) == NULL)
		return;
	p += 15;
	snprintf(word, size, "%.*s", (int)strcspn(p, "\r\n"), p);
}

static enum fc_verdict
testfilter_data(struct fc_session *s, struct fc_envelope *env, void *ctx)
{
	char word[32];

	(void)ctx;
	testfilter_action(env, word, sizeof(word));
	if (strcmp(word, "reject") == 0) {
		fc_envelope_set_reply(env, "550 5.7.1 testfilter rejects this");
		return FC_REJECT;
	}
	if (strcmp(word, "tempfail") == 0)
		return FC_TEMPFAIL;
	if (strcmp(word, "disconnect") == 0)
		return FC_DISCONNECT;
	if (strcmp(word, "junk") == 0) {
		fc_envelope_set_folder(env, "Junk");
		fc_envelope_add_header(env, "X-Testfilter", "junk");
		return FC_CONTINUE;
	}
	if (strcmp(word, "pending") == 0) {
		fc_envelope_add_header(env, "X-Testfilter", "waited");
		fc_session_timer(s, 200, testfilter_later,
		    (void *)(long)FC_ACCEPT);
		return FC_PENDING;
	}
	return FC_CONTINUE;
}

static enum fc_verdict
testfilter_delivered(struct fc_session *s, struct fc_envelope *env, void *ctx)
{
	const struct testfilter_conf *conf = ctx;
	int fd;

	(void)s;
	if (conf->count_file == NULL)
		return FC_CONTINUE;
	fd = open(conf->count_file, O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (fd >= 0) {
		dprintf(fd, "%s\n", fc_envelope_id(env) != NULL ?
		    fc_envelope_id(env) : "-");
		close(fd);
	}
	return FC_CONTINUE;
}

static int
testfilter_init(struct fc_core *core, void *conf, const char **error_r)
{
	static const struct {
		enum fc_hook hook;
		fc_hook_fn *fn;
	} hooks[] = {
		{ FC_HOOK_SMTP_CONNECT, testfilter_connect },
		{ FC_HOOK_SMTP_HELO, testfilter_helo },
		{ FC_HOOK_SMTP_MAIL, testfilter_mail },
		{ FC_HOOK_SMTP_RCPT, testfilter_rcpt },
		{ FC_HOOK_SMTP_DATA, testfilter_data },
		{ FC_HOOK_DELIVERED, testfilter_delivered },
	};
	size_t i;

	for (i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++)
		if (fc_hook_add(core, hooks[i].hook, 500, hooks[i].fn, conf,
		    error_r) < 0)
			return -1;
	return 0;
}

const struct fc_module fc_module_testfilter = {
	FC_MODULE_HEADER,
	.name = "testfilter",
	.version = "1.0",
	.kind = FC_MODULE_FILTER,
	.directives = testfilter_directives,
	.conf_size = sizeof(struct testfilter_conf),
	.init = testfilter_init,
};
