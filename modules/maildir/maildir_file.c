/*
 * maildir_file.c - small file-system helpers: folders, durable writes,
 * whole small files, unique names, UIDVALIDITY.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <facteur/arena.h>

#include "maildir.h"

bool
maildir_timespec_eq(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* The folder and its cur/ new/ tmp/; existing ones are fine. */
int
maildir_mkdir_folder(const char *path)
{
	static const char *const subs[] = { "cur", "new", "tmp" };
	char sub[4096];
	size_t i;

	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -1;
	for (i = 0; i < 3; i++) {
		snprintf(sub, sizeof(sub), "%s/%s", path, subs[i]);
		if (mkdir(sub, 0700) < 0 && errno != EEXIST)
			return -1;
	}
	return 0;
}

int
maildir_fsync_dir(const char *path)
{
	int fd, ret;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

/*
 * Replaces path with data: written to a temporary name beside it, made
 * durable when sync, then renamed over it, so readers see the old or the
 * new file, never half of one.
 */
int
maildir_write_file(const char *path, const char *data, size_t len, bool sync)
{
	char tmp[4096];
	size_t done = 0;
	ssize_t n;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	while (done < len) {
		n = write(fd, data + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		done += (size_t)n;
	}
	if (sync && fdatasync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	{
		int saved = errno;

		if (fd >= 0)
			close(fd);
		unlink(tmp);
		errno = saved;
	}
	return -1;
}

/* A small file whole, NUL-terminated (malloc); NULL with errno. */
char *
maildir_read_file(const char *path, size_t max, size_t *len_r)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return NULL;
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		errno = EFBIG;
		return NULL;
	}
	buf = fc_malloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*len_r = got;
	return buf;
}

/*
 * A new message's unique name, as the maildir convention asks:
 * seconds.M<microseconds>P<pid>Q<counter>.<host>, host with '/' and ':'
 * escaped.
 */
char *
maildir_unique_base(char *buf, size_t size)
{
	static unsigned long counter;
	char host[256], clean[512];
	struct timeval tv;
	size_t i, o = 0;

	if (gethostname(host, sizeof(host) - 1) < 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	for (i = 0; host[i] != '\0' && o + 5 < sizeof(clean); i++) {
		if (host[i] == '/')
			o += (size_t)snprintf(clean + o, sizeof(clean) - o,
			    "\\057");
		else if (host[i] == ':')
			o += (size_t)snprintf(clean + o, sizeof(clean) - o,
			    "\\072");
		else if (host[i] == ',' || host[i] == ' ')
			clean[o++] = '_';
		else
			clean[o++] = host[i];
	}
	clean[o] = '\0';
	gettimeofday(&tv, NULL);
	snprintf(buf, size, "%lld.M%ldP%ldQ%lu.%s", (long long)tv.tv_sec,
	    (long)tv.tv_usec, (long)getpid(), ++counter, clean);
	return buf;
}

/*
 * The next UIDVALIDITY of a store: the time, as most servers use, but
 * always above the last one given (the root's facteur-uidvalidity, read
 * and written under its flock), so that a mailbox deleted and made
 * again within a second, or after the clock went back, never shows its
 * old UIDs under the same UIDVALIDITY. The value is durable before any
 * folder uses it. -1 with errno.
 */
int
maildir_uidvalidity_next(const char *root, uint32_t *uidvalidity_r)
{
	char path[4096], buf[32];
	unsigned long last = 0;
	uint32_t next;
	ssize_t n;
	int fd, len, saved;

	snprintf(path, sizeof(path), "%s/%s", root, MAILDIR_UIDVALIDITY);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			goto fail;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n > 0) {
		buf[n] = '\0';
		last = strtoul(buf, NULL, 10);
	}
	next = (uint32_t)time(NULL);
	if (last >= next && last < UINT32_MAX)
		next = (uint32_t)last + 1;
	/* always ten digits: the file is overwritten in place, never
	 * shorter, so no stale digit can stay behind */
	len = snprintf(buf, sizeof(buf), "%010" PRIu32 "\n", next);
	n = pwrite(fd, buf, (size_t)len, 0);
	if (n != len) {
		if (n >= 0)
			errno = ENOSPC;
		goto fail;
	}
	if (fdatasync(fd) < 0)
		goto fail;
	close(fd);		/* and the lock with it */
	*uidvalidity_r = next;
	return 0;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}
