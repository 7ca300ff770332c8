/*
 * maildir_quota.c - Maildir++ quota: the maildirsize file at the root.
 *
 * Its first line holds the limits ("<bytes>S,<count>C"), the following
 * lines changes ("<bytes> <count>", negative for removals), each added
 * with one short append, which is atomic. The use is the sum of those
 * lines. When the file is missing, too long (over 5120 bytes, as the
 * Maildir++ convention says), or has other limits than the user's, it is
 * written anew from the sizes of every message in every folder. Other
 * Maildir++ programs (Courier, Dovecot) keep the same file.
 *
 * A user without limits costs nothing at delivery: no file is read or
 * written (Maildir++ keeps maildirsize only for users with a quota). A
 * file left from when the user had limits would go stale, so it is
 * removed the first time such a store changes; asking for the use
 * counts the files. Deliveries read the file at every message, so it is
 * parsed by hand, without stdio.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/storage.h>

#include "maildir.h"

#define QUOTA_FILE_MAX	5120

/* Adds up one folder's cur/ and new/. */
static void
quota_count_folder(const char *folder, uint64_t *bytes, uint64_t *count)
{
	static const char *const subs[] = { "cur", "new" };
	char dir[4096], path[4096 + 256], base[1024], info[65];
	struct dirent *de;
	struct stat sb;
	uint64_t size, crlf;
	size_t i;
	DIR *d;

	for (i = 0; i < 2; i++) {
		snprintf(dir, sizeof(dir), "%s/%s", folder, subs[i]);
		if ((d = opendir(dir)) == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			maildir_parse_filename(de->d_name, base, sizeof(base),
			    info, sizeof(info));
			if (!maildir_base_sizes(base, &size, &crlf)) {
				snprintf(path, sizeof(path), "%s/%s", dir,
				    de->d_name);
				if (stat(path, &sb) < 0)
					continue;
				size = (uint64_t)sb.st_size;
			}
			*bytes += size;
			(*count)++;
		}
		closedir(d);
	}
}

/* The use, from the files of every folder. */
static int
quota_count(struct fc_store *st, struct maildir_store *ms, uint64_t *bytes_r,
    uint64_t *count_r)
{
	char path[4096];
	uint64_t bytes = 0, count = 0;
	struct dirent *de;
	DIR *d;

	quota_count_folder(ms->root, &bytes, &count);
	if ((d = opendir(ms->root)) == NULL)
		return fc_store_fail(st, FC_ERR_TEMP, "%s: %s", ms->root,
		    strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0
		    || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", ms->root, de->d_name);
		quota_count_folder(path, &bytes, &count);
	}
	closedir(d);
	*bytes_r = bytes;
	*count_r = count;
	return 0;
}

/* The use counted, and a new maildirsize with it. */
static int
quota_recalc(struct fc_store *st, struct maildir_store *ms, uint64_t *bytes_r,
    uint64_t *count_r)
{
	char path[4096], buf[128];
	int n;

	if (quota_count(st, ms, bytes_r, count_r) < 0)
		return -1;
	n = snprintf(buf, sizeof(buf), "%" PRIu64 "S,%" PRIu64 "C\n%" PRIu64
	    " %" PRIu64 "\n", ms->quota_bytes, ms->quota_messages, *bytes_r,
	    *count_r);
	snprintf(path, sizeof(path), "%s/%s", ms->root, MAILDIR_QUOTA);
	/* not worth failing a delivery over: it is counted again later */
	maildir_write_file(path, buf, (size_t)n, false);
	return 0;
}

bool
maildir_quota_limited(const struct maildir_store *ms)
{
	return ms->quota_bytes != 0 || ms->quota_messages != 0;
}

/* No limits: a maildirsize left from older ones goes, once per store. */
static void
quota_drop_file(struct maildir_store *ms)
{
	char path[4096];

	if (ms->quota_dropped)
		return;
	ms->quota_dropped = true;
	snprintf(path, sizeof(path), "%s/%s", ms->root, MAILDIR_QUOTA);
	unlink(path);
}

/* A decimal number, maybe negative, at *p; *p moves past it. */
static bool
quota_number(const char **p, const char *end, long long *v_r)
{
	const char *q = *p;
	bool neg = false;
	long long v = 0;

	if (q < end && *q == '-') {
		neg = true;
		q++;
	}
	if (q == end || *q < '0' || *q > '9')
		return false;
	for (; q < end && *q >= '0' && *q <= '9'; q++) {
		if (v > (LLONG_MAX - 9) / 10)
			return false;
		v = v * 10 + (*q - '0');
	}
	*v_r = neg ? -v : v;
	*p = q;
	return true;
}

/* The first line, "<bytes>S,<count>C": does it hold the user's limits? */
static bool
quota_header_ok(const struct maildir_store *ms, const char *p,
    const char *end)
{
	long long b, c;

	if (!quota_number(&p, end, &b) || end - p < 2 || p[0] != 'S'
	    || p[1] != ',')
		return false;
	p += 2;
	if (!quota_number(&p, end, &c) || p == end || *p != 'C')
		return false;
	return b >= 0 && c >= 0 && (uint64_t)b == ms->quota_bytes
	    && (uint64_t)c == ms->quota_messages;
}

/*
 * Sums the file's lines into *bytes_r, *count_r. false when it is to be
 * counted again: missing, too long, other limits, a sum below zero.
 */
static bool
quota_read(const struct maildir_store *ms, long long *bytes_r,
    long long *count_r)
{
	char path[4096], buf[QUOTA_FILE_MAX + 1];
	const char *p, *end, *eol;
	long long b, c, sum_b = 0, sum_c = 0;
	size_t len = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", ms->root, MAILDIR_QUOTA);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	while (len < sizeof(buf)) {
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len == 0 || len > QUOTA_FILE_MAX)
		return false;
	end = buf + len;
	eol = memchr(buf, '\n', len);
	if (eol == NULL || !quota_header_ok(ms, buf, eol))
		return false;
	for (p = eol + 1; p < end; p = eol + 1) {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;		/* a line still being written */
		if (!quota_number(&p, eol, &b) || p == eol || *p != ' ')
			continue;
		p++;
		if (quota_number(&p, eol, &c)) {
			sum_b += b;
			sum_c += c;
		}
	}
	if (sum_b < 0 || sum_c < 0)
		return false;
	*bytes_r = sum_b;
	*count_r = sum_c;
	return true;
}

int
maildir_quota_get(struct fc_store *st, void *store, uint64_t *bytes_r,
    uint64_t *bytes_limit_r, uint64_t *messages_r,
    uint64_t *messages_limit_r)
{
	struct maildir_store *ms = store;
	long long bytes, count;

	*bytes_limit_r = ms->quota_bytes;
	*messages_limit_r = ms->quota_messages;
	if (!maildir_quota_limited(ms)) {
		quota_drop_file(ms);
		return quota_count(st, ms, bytes_r, messages_r);
	}
	if (!quota_read(ms, &bytes, &count))
		return quota_recalc(st, ms, bytes_r, messages_r);
	*bytes_r = (uint64_t)bytes;
	*messages_r = (uint64_t)count;
	return 0;
}

void
maildir_quota_add(struct maildir_store *ms, int64_t bytes, int64_t messages)
{
	char path[4096], line[64];
	int fd, n;

	if (!maildir_quota_limited(ms)) {
		quota_drop_file(ms);
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", ms->root, MAILDIR_QUOTA);
	/* no file: the next reader counts everything anyway */
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%" PRId64 " %" PRId64 "\n", bytes,
	    messages);
	if (write(fd, line, (size_t)n) != n) {
		/* a lost line is found by the next recount */
	}
	close(fd);
}
