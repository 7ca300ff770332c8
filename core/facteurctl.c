/*
 * facteurctl.c - the admin's command-line tool.
 *
 *	facteurctl pw [-s yescrypt|bcrypt|sha512] [-p PASSWORD]
 *	facteurctl [-c FILE] mailbox ...	(see ctl_mailbox.c)
 *	facteurctl [-c FILE] deliver USER [FOLDER] < MESSAGE
 *
 * Commands that touch mail read facteurd's config (the same default as
 * facteurd), load its modules, and then drop to its `user` when run as
 * root, so every file they make belongs to the user the workers run as.
 */
#include "config.h"

#include <crypt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include <facteur/arena.h>
#include <facteur/log.h>

#include <facteur/command.h>

#include "core.h"
#include "ctl.h"

static void
ctl_usage(FILE *out)
{
	fprintf(out,
	    "usage: facteurctl pw [-s yescrypt|bcrypt|sha512] [-p PASSWORD]\n"
	    "       facteurctl [-c FILE] mailbox list USER\n"
	    "       facteurctl [-c FILE] mailbox create USER NAME "
	    "[sent|drafts|trash|junk|archive]\n"
	    "       facteurctl [-c FILE] mailbox delete USER NAME\n"
	    "       facteurctl [-c FILE] mailbox rename USER OLD NEW\n"
	    "       facteurctl [-c FILE] mailbox status USER NAME\n"
	    "       facteurctl [-c FILE] mailbox messages USER NAME\n"
	    "       facteurctl [-c FILE] mailbox import USER NAME FILE...\n"
	    "       facteurctl [-c FILE] mailbox fetch USER NAME UID\n"
	    "       facteurctl [-c FILE] mailbox flags USER NAME UID "
	    "+FLAG|-FLAG...\n"
	    "       facteurctl [-c FILE] mailbox expunge USER NAME UID...\n"
	    "       facteurctl [-c FILE] deliver USER [FOLDER] < MESSAGE\n"
	    "       facteurctl [-c FILE] help   (the commands of the loaded "
	    "modules)\n");
}

/* A command a module registered (facteurctl queue ...). */
static int
ctl_module_command(const char *conf, int argc, char **argv)
{
	const struct fc_command *c;
	struct fc_core *core;
	int ret = 2;

	if ((core = ctl_load(conf)) == NULL)
		return 1;
	for (c = core->commands; c != NULL; c = c->next)
		if (strcmp(c->name, argv[0]) == 0)
			break;
	if (c != NULL)
		ret = c->fn(core, c->arg, argc, argv);
	else if (strcmp(argv[0], "help") == 0) {
		for (c = core->commands; c != NULL; c = c->next)
			printf("facteurctl %s\n", c->usage);
		ret = 0;
	} else {
		fprintf(stderr, "facteurctl: no command %s here (facteurctl "
		    "help lists those of the loaded modules)\n", argv[0]);
	}
	ctl_unload(&core);
	return ret;
}

static int
ctl_read_password(const char *prompt, char *buf, size_t size)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO);
	size_t n;

	if (tty) {
		fputs(prompt, stderr);
		tcgetattr(STDIN_FILENO, &old);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	if (fgets(buf, (int)size, stdin) == NULL)
		buf[0] = '\0';
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return n == 0 ? -1 : 0;
}

static int
ctl_pw(int argc, char **argv)
{
	const char *scheme = "yescrypt", *prefix, *given = NULL, *out;
	char password[1024], again[1024] = "";
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *data;
	int c;

	optind = 1;
	while ((c = getopt(argc, argv, "s:p:")) != -1) {
		switch (c) {
		case 's':
			scheme = optarg;
			break;
		case 'p':
			given = optarg;
			break;
		default:
			ctl_usage(stderr);
			return 2;
		}
	}
	if (strcmp(scheme, "yescrypt") == 0)
		prefix = "$y$";
	else if (strcmp(scheme, "bcrypt") == 0)
		prefix = "$2b$";
	else if (strcmp(scheme, "sha512") == 0)
		prefix = "$6$";
	else {
		fprintf(stderr, "facteurctl: unknown scheme %s (yescrypt, "
		    "bcrypt or sha512)\n", scheme);
		return 2;
	}
	if (given != NULL) {
		snprintf(password, sizeof(password), "%s", given);
	} else {
		if (ctl_read_password("Password: ", password,
		    sizeof(password)) < 0) {
			fprintf(stderr, "facteurctl: empty password\n");
			return 1;
		}
		if (isatty(STDIN_FILENO)
		    && (ctl_read_password("Again: ", again,
		    sizeof(again)) < 0 || strcmp(password, again) != 0)) {
			fprintf(stderr, "facteurctl: the passwords differ\n");
			return 1;
		}
	}
	if (crypt_gensalt_rn(prefix, 0, NULL, 0, salt, sizeof(salt)) == NULL) {
		fprintf(stderr, "facteurctl: crypt_gensalt failed\n");
		return 1;
	}
	data = fc_calloc(1, sizeof(*data));
	out = crypt_rn(password, salt, data, sizeof(*data));
	explicit_bzero(password, sizeof(password));
	explicit_bzero(again, sizeof(again));
	if (out == NULL || out[0] == '*') {
		fprintf(stderr, "facteurctl: crypt failed\n");
		free(data);
		return 1;
	}
	printf("%s\n", out);
	free(data);
	return 0;
}

/* Loads the config and modules as facteurd would, then drops root. */
struct fc_core *
ctl_load(const char *path)
{
	static const char def[] = FC_CONF_DIR "/facteurd.conf";
	struct fc_core *core;
	const char *err;

	if (path == NULL && access(def, F_OK) == 0)
		path = def;
	if (fc_loader_init() < 0) {
		fprintf(stderr, "facteurctl: cannot initialise libltdl\n");
		return NULL;
	}
	OPENSSL_init_ssl(0, NULL);
	core = fc_core_load(path, 1);
	if (core == NULL)
		return NULL;
	if (fc_core_init_modules(core) < 0) {
		fc_core_fini_modules(core);
		fc_core_free(&core);
		return NULL;
	}
	if (fc_privs_state_dir(core->cc.state_dir, core->cc.user, &err) < 0
	    || fc_privs_drop(core->cc.user, &err) < 0) {
		fprintf(stderr, "facteurctl: cannot become %s: %s\n",
		    core->cc.user, err);
		fc_core_fini_modules(core);
		fc_core_free(&core);
		return NULL;
	}
	return core;
}

void
ctl_unload(struct fc_core **core)
{
	fc_core_fini_modules(*core);
	fc_core_free(core);
}

int
main(int argc, char **argv)
{
	const char *conf = NULL;
	int i = 1;

	fc_log_open("facteurctl", FC_LOG_TO_STDERR, 0, FC_LOG_WARNING);
	if (argc > 2 && strcmp(argv[1], "-c") == 0) {
		conf = argv[2];
		i = 3;
	}
	if (i >= argc) {
		ctl_usage(stderr);
		return 2;
	}
	if (strcmp(argv[i], "pw") == 0)
		return ctl_pw(argc - i, argv + i);
	if (strcmp(argv[i], "mailbox") == 0)
		return ctl_mailbox(conf, argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "deliver") == 0)
		return ctl_deliver(conf, argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
		ctl_usage(stdout);
		return 0;
	}
	return ctl_module_command(conf, argc - i, argv + i);
}
