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
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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

static int
quota_recalc(struct fc_store *st, struct maildir_store *ms, uint64_t *bytes_r,
    uint64_t *count_r)
{
	char path[4096], buf[128];
	uint64_t bytes = 0, count = 0;
	struct dirent *de;
	DIR *d;
	int n;

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
	n = snprintf(buf, sizeof(buf), "%" PRIu64 "S,%" PRIu64 "C\n%" PRIu64
	    " %" PRIu64 "\n", ms->quota_bytes, ms->quota_messages, bytes,
	    count);
	snprintf(path, sizeof(path), "%s/%s", ms->root, MAILDIR_QUOTA);
	/* not worth failing a delivery over: it is counted again later */
	maildir_write_file(path, buf, (size_t)n, false);
	*bytes_r = bytes;
	*count_r = count;
	return 0;
}

int
maildir_quota_get(struct fc_store *st, void *store, uint64_t *bytes_r,
    uint64_t *bytes_limit_r, uint64_t *messages_r,
    uint64_t *messages_limit_r)
{
	struct maildir_store *ms = store;
	char path[4096], *text, *line, *save;
	unsigned long long lb, lc;
	long long b, c, sum_b = 0, sum_c = 0;
	size_t len;
	bool stale = true;

	*bytes_limit_r = ms->quota_bytes;
	*messages_limit_r = ms->quota_messages;
	snprintf(path, sizeof(path), "%s/%s", ms->root, MAILDIR_QUOTA);
	text = maildir_read_file(path, 1 << 20, &len);
	if (text != NULL && len <= QUOTA_FILE_MAX) {
		line = strtok_r(text, "\n", &save);
		if (line != NULL && sscanf(line, "%lluS,%lluC", &lb, &lc) == 2
		    && lb == ms->quota_bytes && lc == ms->quota_messages) {
			stale = false;
			while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
				if (sscanf(line, "%lld %lld", &b, &c) == 2) {
					sum_b += b;
					sum_c += c;
				}
			}
		}
	}
	free(text);
	if (stale || sum_b < 0 || sum_c < 0)
		return quota_recalc(st, ms, bytes_r, messages_r);
	*bytes_r = (uint64_t)sum_b;
	*messages_r = (uint64_t)sum_c;
	return 0;
}

void
maildir_quota_add(struct maildir_store *ms, int64_t bytes, int64_t messages)
{
	char path[4096], line[64];
	int fd, n;

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
