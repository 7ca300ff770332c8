/*
 * facteurctl.c - the admin's command-line tool.
 *
 *	facteurctl pw [-s yescrypt|bcrypt|sha512] [-p PASSWORD]
 *		prints a crypt(3) hash for a passwd file; the password is
 *		read from the terminal (twice, not echoed) or from the first
 *		line of standard input, unless given with -p (which shows
 *		it to other users of the machine through ps: tests only).
 */
#include "config.h"

#include <crypt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static void
ctl_usage(FILE *out)
{
	fprintf(out, "usage: facteurctl pw [-s yescrypt|bcrypt|sha512] "
	    "[-p PASSWORD]\n");
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
	char password[1024], again[1024];
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *data;
	int c;

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
		if (isatty(STDIN_FILENO)) {
			if (ctl_read_password("Again: ", again,
			    sizeof(again)) < 0 || strcmp(password, again)
			    != 0) {
				fprintf(stderr, "facteurctl: the passwords "
				    "differ\n");
				return 1;
			}
		}
	}
	if (crypt_gensalt_rn(prefix, 0, NULL, 0, salt, sizeof(salt)) == NULL) {
		fprintf(stderr, "facteurctl: crypt_gensalt failed\n");
		return 1;
	}
	data = calloc(1, sizeof(*data));
	if (data == NULL)
		return 1;
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

int
main(int argc, char **argv)
{
	if (argc < 2) {
		ctl_usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "pw") == 0)
		return ctl_pw(argc - 1, argv + 1);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		ctl_usage(stdout);
		return 0;
	}
	ctl_usage(stderr);
	return 2;
}
