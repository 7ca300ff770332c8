/*
 * pop3_lock.c - the maildrop lock (RFC 1939 8: one POP3 session per
 * maildrop) and LOGIN-DELAY (RFC 2449 6.5).
 *
 * The lock is an flock() on a file per user under lock_dir, held from
 * the login to the end of the session. flock() conflicts between two
 * open() calls even in one process, so sessions of one worker exclude
 * each other as sessions of two workers do, and a killed worker leaves
 * no stale lock. It lives beside the store, not in it: IMAP, delivery
 * and the tools never take it, so they keep working while a POP3 client
 * downloads, and it works the same on every storage module.
 *
 * The same file remembers the last login: its modification time, once
 * it holds a byte. LOGIN-DELAY refuses a login that comes sooner.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <facteur/auth.h>
#include <facteur/log.h>
#include <facteur/session.h>

#include "pop3.h"

#define POP3_LOCK_NAME_MAX	200

/*
 * The lock file's name for a user: letters, digits and "@._+-" kept,
 * other bytes as %XX, so no name can leave the folder ("..", "/") and
 * two users never share a file. A name that would be too long is a
 * 64-bit FNV-1a hash instead (prefixed, so it cannot meet a kept name).
 */
static void
pop3_lock_name(const char *user, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;
	uint64_t h = 14695981039346656037ULL;
	size_t o = 0;

	for (p = (const unsigned char *)user; *p != '\0'; p++) {
		bool keep = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
		    || (*p >= '0' && *p <= '9') || *p == '@' || *p == '_'
		    || *p == '+' || *p == '-' || (*p == '.' && o > 0);

		if (o + 4 >= size || o + 4 >= POP3_LOCK_NAME_MAX)
			break;
		if (keep)
			out[o++] = (char)*p;
		else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	if (*p == '\0') {
		out[o] = '\0';
		return;
	}
	for (p = (const unsigned char *)user; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ULL;
	snprintf(out, size, "%%hash-%016llx", (unsigned long long)h);
}

static int
pop3_lock_open(struct pop3_session *ps, const char *path)
{
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && errno == ENOENT
	    && mkdir(ps->conf->lock_dir, 0700) == 0)
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		    0600);
	return fd;
}

int
pop3_lock(struct pop3_session *ps, const char **code_r, const char **why_r)
{
	const struct fc_user *u = fc_session_user(ps->s);
	char name[POP3_LOCK_NAME_MAX + 32], path[4096];
	struct timespec now;
	struct stat st;
	uint64_t since;

	if (!ps->conf->lock_maildrop && ps->conf->login_delay == 0)
		return 0;
	pop3_lock_name(fc_user_name(u), name, sizeof(name));
	snprintf(path, sizeof(path), "%s/%s", ps->conf->lock_dir, name);
	ps->lock_fd = pop3_lock_open(ps, path);
	if (ps->lock_fd < 0) {
		fc_log_session(ps->s, FC_LOG_ERROR, "event=error reason=\"%s: "
		    "%s\"", path, strerror(errno));
		*code_r = "SYS/TEMP";
		*why_r = "Cannot lock the mailbox, try again later";
		return -1;
	}
	if (ps->conf->lock_maildrop
	    && flock(ps->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		*code_r = errno == EWOULDBLOCK ? "IN-USE" : "SYS/TEMP";
		*why_r = errno == EWOULDBLOCK ? "Mailbox is locked by another "
		    "POP3 session" : "Cannot lock the mailbox, try again later";
		pop3_unlock(ps);
		return -1;
	}
	if (ps->conf->login_delay == 0 || fstat(ps->lock_fd, &st) < 0)
		return 0;
	clock_gettime(CLOCK_REALTIME, &now);
	since = (uint64_t)(now.tv_sec - st.st_mtim.tv_sec) * 1000 +
	    (uint64_t)(now.tv_nsec / 1000000) -
	    (uint64_t)(st.st_mtim.tv_nsec / 1000000);
	if (st.st_size > 0 && now.tv_sec >= st.st_mtim.tv_sec
	    && since < ps->conf->login_delay) {
		*code_r = "LOGIN-DELAY";
		*why_r = "Logged in too recently, try again later";
		pop3_unlock(ps);
		return -1;
	}
	/* this login's time */
	if (pwrite(ps->lock_fd, "\n", 1, 0) < 0 || futimens(ps->lock_fd, NULL)
	    < 0)
		fc_log_session(ps->s, FC_LOG_WARNING, "event=error reason=\"%s:"
		    " %s\"", path, strerror(errno));
	return 0;
}

void
pop3_unlock(struct pop3_session *ps)
{
	/* closing the only descriptor releases the flock */
	if (ps->lock_fd >= 0) {
		close(ps->lock_fd);
		ps->lock_fd = -1;
	}
}
