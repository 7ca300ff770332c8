/*
 * privs.c - giving up root.
 *
 * Workers call fc_privs_drop() right after fork, before they read a byte
 * from the network. When facteurd was not started as root there is
 * nothing to give up and the user directive is ignored.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "core.h"

/* Start-up check in the master: does the user exist (when it matters)? */
int
fc_privs_lookup(const char *user, const char **error_r)
{
	if (geteuid() != 0)
		return 0;
	if (user == NULL || *user == '\0') {
		*error_r = "running as root needs a user directive naming an "
		    "unprivileged user";
		return -1;
	}
	if (getpwnam(user) == NULL) {
		*error_r = "the user directive names a user that does not "
		    "exist (create it, e.g. useradd --system facteur)";
		return -1;
	}
	if (strcmp(user, "root") == 0) {
		*error_r = "user root: workers must not run as root";
		return -1;
	}
	return 0;
}

int
fc_privs_drop(const char *user, const char **error_r)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	if (fc_privs_lookup(user, error_r) < 0)
		return -1;
	pw = getpwnam(user);
	if (pw == NULL || pw->pw_uid == 0) {
		*error_r = "user lookup failed";
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0
	    || setuid(pw->pw_uid) < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	/* paranoia: we must not be able to get root back */
	if (setuid(0) == 0 || geteuid() == 0) {
		*error_r = "still able to become root after setuid";
		return -1;
	}
	return 0;
}

/*
 * Makes sure state_dir exists and, when we are root, belongs to the
 * unprivileged user: the workers create users' mail below it. Parents
 * are created as needed (owned by root). Only the folder itself is
 * handed over, never a parent, so a typo cannot give away /var.
 */
int
fc_privs_state_dir(const char *dir, const char *user, const char **error_r)
{
	static char message[4096 + 256];
	char buf[4096], *p;
	struct passwd *pw;
	struct stat st;

	snprintf(buf, sizeof(buf), "%s", dir);
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			goto fail;
		*p = '/';
	}
	if (mkdir(buf, 0750) < 0 && errno != EEXIST)
		goto fail;
	if (geteuid() != 0)
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		*error_r = "the user directive names no user";
		return -1;
	}
	if (stat(buf, &st) < 0)
		goto fail;
	if (st.st_uid != pw->pw_uid && chown(buf, pw->pw_uid, pw->pw_gid) < 0)
		goto fail;
	return 0;
fail:
	snprintf(message, sizeof(message), "%s: %s", buf, strerror(errno));
	*error_r = message;
	return -1;
}
