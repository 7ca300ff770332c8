/*
 * privs.c - giving up root.
 *
 * Workers call fc_privs_drop() right after fork, before they read a byte
 * from the network. When facteurd was not started as root there is
 * nothing to give up and the user directive is ignored.
 */
#include "config.h"

#include <errno.h>
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
