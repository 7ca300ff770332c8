/*
 * maildir_index.c - a folder's index: UIDs, flags, modseqs, sizes and
 * dates of its messages, kept in facteur-uidlist plus facteur-log.
 *
 * facteur-uidlist is a snapshot:
 *	facteur-uidlist 1 G<gen> V<uidvalidity> N<uidnext> M<modseq>
 *	<uid> <modseq> <date> <size> <crlf size> <info or -> <base>
 * facteur-log holds the changes made since, one line each:
 *	facteur-log 1 G<gen>
 *	+ <uid> <modseq> <date> <size> <crlf size> <info or -> <base>
 *	* <uid> <modseq> <info or ->		flags changed
 *	- <uid> <modseq>			expunged
 *	C <cur mtime ns> <new mtime ns>		the folders as we left them
 * Both carry the same generation; a compaction writes a new snapshot
 * with the next generation, then a new log. A reader that finds the
 * generations differ, or the log replaced, reads both again.
 *
 * Readers need no lock: appends are whole lines written once, and a
 * line without its newline is left for the next read. Writers hold
 * facteur-lock (flock, so a killed process cannot leave it held), catch
 * up first, change files, then write their lines with one write() and
 * fdatasync() before they unlock: a UID given to a client is durable.
 *
 * Other maildir writers (an MDA delivering to new/, a mail reader
 * renaming files in cur/) are noticed by the folders' mtimes: when they
 * differ from the last C line, the writer that takes the lock scans the
 * folder, gives UIDs to unknown files, and records flag changes and
 * vanished files.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/log.h>
#include <facteur/storage.h>

#include "maildir.h"

#define INDEX_CACHE_IDLE	16	/* unused indexes kept per process */
#define LOG_COMPACT_BYTES	(256 * 1024)
#define LOG_LINE_MAX		1024

static struct maildir_index *index_list;

static uint64_t
index_ns(struct timespec t)
{
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

static struct timespec
index_ts(uint64_t ns)
{
	struct timespec t;

	t.tv_sec = (time_t)(ns / 1000000000ULL);
	t.tv_nsec = (long)(ns % 1000000000ULL);
	return t;
}

static char *
index_file(struct maildir_index *idx, const char *name, char *buf,
    size_t size)
{
	snprintf(buf, size, "%s/%s", idx->path, name);
	return buf;
}

/* ------------------------------------------------------------------ */
/* The records in memory */

static void
index_clear(struct maildir_index *idx)
{
	fc_arena_free(&idx->arena);
	idx->arena = fc_arena_new("maildir-index", 4096);
	idx->count = 0;
	idx->uidvalidity = 0;
	idx->uidnext = 1;
	idx->highestmodseq = 1;
	idx->log_offset = 0;
	idx->log_ino = 0;
	idx->gen = 0;
	idx->loaded = false;
}

/* Position of uid, or where it would go. */
static size_t
index_pos(const struct maildir_index *idx, uint32_t uid)
{
	size_t lo = 0, hi = idx->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (idx->recs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct fc_index_record *
maildir_index_find(struct maildir_index *idx, uint32_t uid,
    struct maildir_msg **msg_r)
{
	size_t pos = index_pos(idx, uid);

	if (pos == idx->count || idx->recs[pos].uid != uid)
		return NULL;
	if (msg_r != NULL)
		*msg_r = &idx->msgs[pos];
	return &idx->recs[pos];
}

static void
index_bump(struct maildir_index *idx, uint32_t uid, uint64_t modseq)
{
	if (uid >= idx->uidnext)
		idx->uidnext = uid + 1;
	if (modseq > idx->highestmodseq)
		idx->highestmodseq = modseq;
}

static void
index_insert(struct maildir_index *idx, uint32_t uid, uint64_t modseq,
    int64_t date, uint64_t size, uint64_t crlf, const char *info,
    const char *base)
{
	struct fc_index_record *r;
	struct maildir_msg *m;
	size_t pos = index_pos(idx, uid);

	index_bump(idx, uid, modseq);
	if (pos < idx->count && idx->recs[pos].uid == uid)
		return;		/* replayed twice: the first one counts */
	if (idx->count == idx->alloc) {
		idx->alloc = idx->alloc == 0 ? 64 : idx->alloc * 2;
		idx->recs = fc_realloc(idx->recs, idx->alloc *
		    sizeof(*idx->recs));
		idx->msgs = fc_realloc(idx->msgs, idx->alloc *
		    sizeof(*idx->msgs));
	}
	memmove(&idx->recs[pos + 1], &idx->recs[pos],
	    (idx->count - pos) * sizeof(*idx->recs));
	memmove(&idx->msgs[pos + 1], &idx->msgs[pos],
	    (idx->count - pos) * sizeof(*idx->msgs));
	idx->count++;
	r = &idx->recs[pos];
	m = &idx->msgs[pos];
	memset(r, 0, sizeof(*r));
	r->uid = uid;
	r->modseq = modseq;
	r->internal_date = date;
	r->size = size;
	r->size_crlf = crlf;
	m->base = fc_arena_strdup(idx->arena, base);
	m->info = fc_arena_strdup(idx->arena, info);
	r->flags = maildir_info_flags(info);
	r->keywords = maildir_info_keywords(info);
	r->guid = m->base;
}

static void
index_set_info(struct maildir_index *idx, uint32_t uid, uint64_t modseq,
    const char *info)
{
	struct maildir_msg *m;
	struct fc_index_record *r = maildir_index_find(idx, uid, &m);

	index_bump(idx, uid, modseq);
	if (r == NULL)
		return;
	r->modseq = modseq;
	r->flags = maildir_info_flags(info);
	r->keywords = maildir_info_keywords(info);
	if (strcmp(m->info, info) != 0)
		m->info = fc_arena_strdup(idx->arena, info);
}

static void
index_remove(struct maildir_index *idx, uint32_t uid, uint64_t modseq)
{
	size_t pos = index_pos(idx, uid);

	index_bump(idx, uid, modseq);
	if (pos == idx->count || idx->recs[pos].uid != uid)
		return;
	memmove(&idx->recs[pos], &idx->recs[pos + 1],
	    (idx->count - pos - 1) * sizeof(*idx->recs));
	memmove(&idx->msgs[pos], &idx->msgs[pos + 1],
	    (idx->count - pos - 1) * sizeof(*idx->msgs));
	idx->count--;
}

/* ------------------------------------------------------------------ */
/* Reading the files */

/* One record line, as in the snapshot or after "+ ". 0 or -1. */
static int
index_parse_record(struct maildir_index *idx, char *line)
{
	unsigned long long uid, modseq, size, crlf;
	long long date;
	char info[MAILDIR_INFO_MAX + 1], base[LOG_LINE_MAX];

	if (sscanf(line, "%llu %llu %lld %llu %llu %64s %1023s", &uid,
	    &modseq, &date, &size, &crlf, info, base) != 7 || uid == 0
	    || uid > UINT32_MAX)
		return -1;
	if (strcmp(info, "-") == 0)
		info[0] = '\0';
	index_insert(idx, (uint32_t)uid, modseq, date, size, crlf, info, base);
	return 0;
}

static int
index_apply_line(struct maildir_index *idx, char *line)
{
	unsigned long long uid, modseq, cur, new;
	char info[MAILDIR_INFO_MAX + 1];

	switch (line[0]) {
	case '+':
		return index_parse_record(idx, line + 2);
	case '*':
		if (sscanf(line + 2, "%llu %llu %64s", &uid, &modseq, info)
		    != 3 || uid > UINT32_MAX)
			return -1;
		if (strcmp(info, "-") == 0)
			info[0] = '\0';
		index_set_info(idx, (uint32_t)uid, modseq, info);
		return 0;
	case '-':
		if (sscanf(line + 2, "%llu %llu", &uid, &modseq) != 2
		    || uid > UINT32_MAX)
			return -1;
		index_remove(idx, (uint32_t)uid, modseq);
		return 0;
	case 'C':
		if (sscanf(line + 2, "%llu %llu", &cur, &new) != 2)
			return -1;
		idx->cur_mtime = index_ts(cur);
		idx->new_mtime = index_ts(new);
		return 0;
	default:
		return -1;
	}
}

static int
index_read_uidlist(struct maildir_index *idx, uint64_t *gen_r)
{
	char path[4096], *text, *line, *save;
	unsigned long long gen, v, n, m;
	size_t len;

	text = maildir_read_file(index_file(idx, MAILDIR_UIDLIST, path,
	    sizeof(path)), 1ULL << 32, &len);
	if (text == NULL)
		return errno == ENOENT ? 0 : -1;
	line = strtok_r(text, "\n", &save);
	if (line == NULL || sscanf(line, "facteur-uidlist 1 G%llu V%llu "
	    "N%llu M%llu", &gen, &v, &n, &m) != 4) {
		free(text);
		errno = EINVAL;
		return -1;
	}
	idx->uidvalidity = (uint32_t)v;
	idx->uidnext = (uint32_t)n;
	idx->highestmodseq = m;
	*gen_r = gen;
	while ((line = strtok_r(NULL, "\n", &save)) != NULL)
		if (index_parse_record(idx, line) < 0)
			fc_log(FC_LOG_WARNING, "maildir: %s: bad line in the "
			    "uidlist: %.60s", idx->path, line);
	free(text);
	return 1;
}

/*
 * Applies the log from idx->log_offset. Returns 0, or -1 when the log is
 * not the one the snapshot belongs to (the caller reads both again).
 */
static int
index_read_log(struct maildir_index *idx, int fd, uint64_t gen)
{
	char buf[65536], line[LOG_LINE_MAX + 1];
	size_t linelen = 0;
	off_t off = idx->log_offset, line_start = off;
	ssize_t n, i;

	for (;;) {
		n = pread(fd, buf, sizeof(buf), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (linelen < LOG_LINE_MAX)
					line[linelen++] = buf[i];
				continue;
			}
			line[linelen] = '\0';
			if (line_start == 0) {
				unsigned long long g;

				if (sscanf(line, "facteur-log 1 G%llu", &g) != 1
				    || g != gen)
					return -1;
			} else if (index_apply_line(idx, line) < 0)
				fc_log(FC_LOG_WARNING, "maildir: %s: bad line "
				    "in the log: %.60s", idx->path, line);
			linelen = 0;
			line_start = off + i + 1;
		}
		off += n;
	}
	/* a line still being written waits for the next read */
	idx->log_offset = line_start;
	return 0;
}

static void
index_read_keywords(struct maildir_index *idx)
{
	char path[4096], *text, *line, *save;
	struct stat st;
	size_t len, i;

	index_file(idx, MAILDIR_KEYWORDS, path, sizeof(path));
	if (stat(path, &st) < 0
	    || maildir_timespec_eq(st.st_mtim, idx->keywords_mtime))
		return;
	text = maildir_read_file(path, 65536, &len);
	if (text == NULL)
		return;
	idx->keywords_mtime = st.st_mtim;
	for (i = 0; i < MAILDIR_MAX_KEYWORDS; i++)
		idx->keywords[i] = NULL;
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		unsigned int n;
		char name[256];

		if (sscanf(line, "%u %255s", &n, name) == 2
		    && n < MAILDIR_MAX_KEYWORDS)
			idx->keywords[n] = fc_arena_strdup(idx->arena, name);
	}
	/* the core wants a list without holes */
	for (i = 0; i < MAILDIR_MAX_KEYWORDS; i++)
		if (idx->keywords[i] == NULL)
			idx->keywords[i] = fc_arena_strdup(idx->arena, "");
	for (i = MAILDIR_MAX_KEYWORDS; i > 0 && idx->keywords[i - 1][0] == '\0';
	    i--)
		idx->keywords[i - 1] = NULL;
	free(text);
}

/*
 * Reads what changed in the files since we last looked. Returns 1 when
 * the files exist, 0 when the folder has no index yet, -1 on errors.
 */
static int
index_read(struct fc_store *st, struct maildir_index *idx)
{
	char path[4096];
	struct stat sb;
	uint64_t gen = 0;
	int fd, tries, r;

	for (tries = 0; tries < 5; tries++) {
		fd = open(index_file(idx, MAILDIR_LOG, path, sizeof(path)),
		    O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT)
				return 0;
			return fc_store_fail(st, FC_ERR_TEMP, "%s: %s", path,
			    strerror(errno));
		}
		if (fstat(fd, &sb) < 0) {
			close(fd);
			return fc_store_fail(st, FC_ERR_TEMP, "%s: %s", path,
			    strerror(errno));
		}
		if (!idx->loaded || sb.st_ino != idx->log_ino) {
			/* first read, or compacted since: start over */
			index_clear(idx);
			r = index_read_uidlist(idx, &gen);
			if (r <= 0) {
				close(fd);
				if (r == 0)
					return 0;
				return fc_store_fail(st, FC_ERR_TEMP, "%s: "
				    "cannot read the uidlist: %s", idx->path,
				    strerror(errno));
			}
			idx->gen = gen;
			idx->log_ino = sb.st_ino;
			idx->loaded = true;
		}
		r = index_read_log(idx, fd, idx->gen);
		close(fd);
		if (r == 0) {
			index_read_keywords(idx);
			return 1;
		}
		idx->loaded = false;	/* the snapshot moved under us */
	}
	return fc_store_fail(st, FC_ERR_TEMP, "%s: the index keeps changing "
	    "while it is read", idx->path);
}

/* ------------------------------------------------------------------ */
/* Writing */

static void
index_pend(struct maildir_index *idx, const char *line, size_t len)
{
	if (idx->npending + len + 1 > idx->pendalloc) {
		idx->pendalloc = (idx->npending + len + 1) * 2;
		idx->pending = fc_realloc(idx->pending, idx->pendalloc);
	}
	memcpy(idx->pending + idx->npending, line, len);
	idx->npending += len;
}

void
maildir_log_add(struct maildir_index *idx, uint32_t uid, uint64_t modseq,
    int64_t idate, uint64_t size, uint64_t crlf, const char *info,
    const char *base)
{
	char line[LOG_LINE_MAX + 64];
	int n;

	n = snprintf(line, sizeof(line), "+ %" PRIu32 " %" PRIu64 " %" PRId64
	    " %" PRIu64 " %" PRIu64 " %s %s\n", uid, modseq, idate, size,
	    crlf, info[0] != '\0' ? info : "-", base);
	index_pend(idx, line, (size_t)n);
	index_insert(idx, uid, modseq, idate, size, crlf, info, base);
}

void
maildir_log_flags(struct maildir_index *idx, uint32_t uid, uint64_t modseq,
    const char *info)
{
	char line[128];
	int n;

	n = snprintf(line, sizeof(line), "* %" PRIu32 " %" PRIu64 " %s\n",
	    uid, modseq, info[0] != '\0' ? info : "-");
	index_pend(idx, line, (size_t)n);
	index_set_info(idx, uid, modseq, info);
}

void
maildir_log_expunge(struct maildir_index *idx, uint32_t uid, uint64_t modseq)
{
	char line[64];
	int n;

	n = snprintf(line, sizeof(line), "- %" PRIu32 " %" PRIu64 "\n", uid,
	    modseq);
	index_pend(idx, line, (size_t)n);
	index_remove(idx, uid, modseq);
}

/* A snapshot of the index as it is now, and a new, empty log. */
static int
index_compact(struct fc_store *st, struct maildir_index *idx)
{
	char path[4096], *buf;
	size_t len = 0, size, i;
	uint64_t gen = idx->gen + 1;
	int n;

	size = 128 + idx->count * (LOG_LINE_MAX / 4);
	buf = fc_malloc(size);
	len += (size_t)snprintf(buf, size, "facteur-uidlist 1 G%" PRIu64
	    " V%" PRIu32 " N%" PRIu32 " M%" PRIu64 "\n", gen,
	    idx->uidvalidity, idx->uidnext, idx->highestmodseq);
	for (i = 0; i < idx->count; i++) {
		const struct fc_index_record *r = &idx->recs[i];
		const struct maildir_msg *m = &idx->msgs[i];

		if (size - len < LOG_LINE_MAX + 64) {
			size *= 2;
			buf = fc_realloc(buf, size);
		}
		n = snprintf(buf + len, size - len, "%" PRIu32 " %" PRIu64
		    " %" PRId64 " %" PRIu64 " %" PRIu64 " %s %s\n", r->uid,
		    r->modseq, r->internal_date, r->size, r->size_crlf,
		    m->info[0] != '\0' ? m->info : "-", m->base);
		len += (size_t)n;
	}
	if (maildir_write_file(index_file(idx, MAILDIR_UIDLIST, path,
	    sizeof(path)), buf, len, true) < 0) {
		free(buf);
		return fc_store_fail(st, FC_ERR_TEMP, "%s: %s", path,
		    strerror(errno));
	}
	len = (size_t)snprintf(buf, size, "facteur-log 1 G%" PRIu64 "\nC %"
	    PRIu64 " %" PRIu64 "\n", gen, index_ns(idx->cur_mtime),
	    index_ns(idx->new_mtime));
	if (maildir_write_file(index_file(idx, MAILDIR_LOG, path,
	    sizeof(path)), buf, len, true) < 0) {
		free(buf);
		return fc_store_fail(st, FC_ERR_TEMP, "%s: %s", path,
		    strerror(errno));
	}
	free(buf);
	maildir_fsync_dir(idx->path);
	/* our own files: read them as the others will */
	idx->loaded = false;
	return 0;
}

int
maildir_index_lock(struct fc_store *st, struct maildir_index *idx)
{
	char path[4096];

	fc_assert(idx->lock_fd < 0);
	idx->lock_fd = open(index_file(idx, MAILDIR_LOCK, path, sizeof(path)),
	    O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (idx->lock_fd < 0)
		return fc_store_fail(st, FC_ERR_TEMP, "%s: %s", path,
		    strerror(errno));
	while (flock(idx->lock_fd, LOCK_EX) < 0) {
		if (errno == EINTR)
			continue;
		close(idx->lock_fd);
		idx->lock_fd = -1;
		return fc_store_fail(st, FC_ERR_TEMP, "%s: %s", path,
		    strerror(errno));
	}
	idx->npending = 0;
	idx->dirs_changed = false;
	return 0;
}

/*
 * Writes the pending lines (with the folders' mtimes), makes them
 * durable when sync, compacts when the log has grown, and unlocks.
 */
int
maildir_index_unlock(struct fc_store *st, struct maildir_index *idx,
    bool sync)
{
	char path[4096], cpath[4096], npath[4096], line[96];
	struct stat cur, new, sb;
	int ret = 0, fd = -1, n;

	memset(&sb, 0, sizeof(sb));

	/* a scan that found nothing still records the folders' times, or
	 * every process would scan again */
	if (idx->npending > 0 || idx->dirs_changed) {
		idx->dirs_changed = false;
		if (stat(index_file(idx, "cur", cpath, sizeof(cpath)), &cur) == 0
		    && stat(index_file(idx, "new", npath, sizeof(npath)),
		    &new) == 0) {
			idx->cur_mtime = cur.st_mtim;
			idx->new_mtime = new.st_mtim;
			n = snprintf(line, sizeof(line), "C %" PRIu64 " %"
			    PRIu64 "\n", index_ns(cur.st_mtim),
			    index_ns(new.st_mtim));
			index_pend(idx, line, (size_t)n);
		}
		fd = open(index_file(idx, MAILDIR_LOG, path, sizeof(path)),
		    O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd < 0 || write(fd, idx->pending, idx->npending)
		    != (ssize_t)idx->npending || (sync && fdatasync(fd) < 0))
			ret = fc_store_fail(st, FC_ERR_TEMP, "%s: cannot write "
			    "the log: %s", path, strerror(errno));
		if (ret == 0 && fstat(fd, &sb) == 0 && sb.st_ino == idx->log_ino)
			idx->log_offset = sb.st_size;
		if (fd >= 0)
			close(fd);
		idx->npending = 0;
		if (ret == 0 && sb.st_size > LOG_COMPACT_BYTES)
			ret = index_compact(st, idx);
	}
	flock(idx->lock_fd, LOCK_UN);
	close(idx->lock_fd);
	idx->lock_fd = -1;
	if (ret < 0)
		idx->loaded = false;	/* memory may be ahead of the disk */
	return ret;
}

/* ------------------------------------------------------------------ */
/* Scanning the folders (under the lock) */

static int
index_scan_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}


/* Counts the line ends a CRLF view adds: one per LF without CR. */
static int
index_crlf_size(const char *path, uint64_t size, uint64_t *crlf_r)
{
	char buf[65536], prev = '\0';
	uint64_t extra = 0;
	ssize_t n, i;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n; i++) {
			if (buf[i] == '\n' && prev != '\r')
				extra++;
			prev = buf[i];
		}
	}
	close(fd);
	*crlf_r = size + extra;
	return n < 0 ? -1 : 0;
}

/* Gives a UID to a file we do not know, found in cur/ or moved there. */
static void
index_adopt(struct maildir_index *idx, const char *curname,
    const char *base, const char *info)
{
	char path[4096];
	struct stat sb;
	uint64_t size, crlf;

	snprintf(path, sizeof(path), "%s/cur/%s", idx->path, curname);
	if (stat(path, &sb) < 0)
		return;
	if (!maildir_base_sizes(base, &size, &crlf)) {
		size = (uint64_t)sb.st_size;
		if (index_crlf_size(path, size, &crlf) < 0)
			return;
	}
	maildir_log_add(idx, idx->uidnext, idx->highestmodseq + 1,
	    sb.st_mtim.tv_sec, size, crlf, info, base);
}

/* Moves what an MDA left in new/ to cur/ and gives it UIDs. */
static void
index_scan_new(struct maildir_index *idx)
{
	char dir[4096], from[4096], to[4096], base[LOG_LINE_MAX];
	char info[MAILDIR_INFO_MAX + 1];
	char **names = NULL;
	size_t n = 0, alloc = 0, i;
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/new", idx->path);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == alloc) {
			alloc = alloc == 0 ? 16 : alloc * 2;
			names = fc_realloc(names, alloc * sizeof(*names));
		}
		names[n++] = fc_strdup(de->d_name);
	}
	closedir(d);
	/* the names start with the delivery time: oldest first */
	if (n > 1)
		qsort(names, n, sizeof(*names), index_scan_cmp);
	for (i = 0; i < n; i++) {
		maildir_parse_filename(names[i], base, sizeof(base), info,
		    sizeof(info));
		if (strchr(base, ' ') != NULL || strlen(base) + 80 >
		    sizeof(to)) {
			free(names[i]);
			continue;	/* a name our lines cannot carry */
		}
		if (snprintf(from, sizeof(from), "%s/%s", dir, names[i])
		    >= (int)sizeof(from) || snprintf(to, sizeof(to),
		    "%s/cur/%s:2,%s", idx->path, base, info) >= (int)sizeof(to)) {
			free(names[i]);
			continue;
		}
		if (rename(from, to) == 0)
			index_adopt(idx, strrchr(to, '/') + 1, base, info);
		free(names[i]);
	}
	free(names);
}

struct scan_file {
	char *name;		/* as in cur/ */
	char *base;
	char info[MAILDIR_INFO_MAX + 1];
	bool known;
};

static int
index_scan_cmp_base(const void *a, const void *b)
{
	return strcmp(((const struct scan_file *)a)->base,
	    ((const struct scan_file *)b)->base);
}

/*
 * Someone else changed cur/: compare it with the index. Files gone are
 * expunged, changed letters are flag changes, unknown files get UIDs.
 */
static void
index_scan_cur(struct maildir_index *idx)
{
	char dir[4096], base[LOG_LINE_MAX];
	struct scan_file *files = NULL;
	size_t n = 0, alloc = 0, i;
	uint32_t *gone;
	size_t ngone = 0;
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/cur", idx->path);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		struct scan_file *f;

		if (de->d_name[0] == '.')
			continue;
		if (n == alloc) {
			alloc = alloc == 0 ? 64 : alloc * 2;
			files = fc_realloc(files, alloc * sizeof(*files));
		}
		f = &files[n++];
		f->name = fc_strdup(de->d_name);
		maildir_parse_filename(f->name, base, sizeof(base), f->info,
		    sizeof(f->info));
		f->base = fc_strdup(base);
		f->known = false;
	}
	closedir(d);
	if (n > 1)
		qsort(files, n, sizeof(*files), index_scan_cmp_base);

	/* every known message: still there, and with which letters? */
	gone = fc_calloc(idx->count + 1, sizeof(*gone));
	for (i = 0; i < idx->count; i++) {
		struct maildir_msg *m = &idx->msgs[i];
		size_t lo = 0, hi = n;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (strcmp(files[mid].base, m->base) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == n || strcmp(files[lo].base, m->base) != 0) {
			gone[ngone++] = idx->recs[i].uid;
			continue;
		}
		files[lo].known = true;
		if (strcmp(files[lo].info, m->info) != 0)
			maildir_log_flags(idx, idx->recs[i].uid,
			    idx->highestmodseq + 1, files[lo].info);
	}
	for (i = 0; i < ngone; i++)
		maildir_log_expunge(idx, gone[i], idx->highestmodseq + 1);

	/* files nobody gave a UID yet */
	for (i = 0; i < n; i++) {
		if (!files[i].known && strchr(files[i].base, ' ') == NULL)
			index_adopt(idx, files[i].name, files[i].base,
			    files[i].info);
		free(files[i].name);
		free(files[i].base);
	}
	free(gone);
	free(files);
}

/* A folder that has no index yet: make one (under the lock). */
static int
index_create(struct fc_store *st, struct maildir_index *idx)
{
	char path[4096], buf[256];
	int n;

	index_clear(idx);
	/* above every UIDVALIDITY the store gave: a folder deleted and
	 * made again in the same second must not look like the old one */
	if (maildir_uidvalidity_next(idx->root, &idx->uidvalidity) < 0)
		return fc_store_fail(st, FC_ERR_TEMP, "%s/%s: %s", idx->root,
		    MAILDIR_UIDVALIDITY, strerror(errno));
	n = snprintf(buf, sizeof(buf), "facteur-uidlist 1 G1 V%" PRIu32
	    " N1 M1\n", idx->uidvalidity);
	if (maildir_write_file(index_file(idx, MAILDIR_UIDLIST, path,
	    sizeof(path)), buf, (size_t)n, true) < 0)
		return fc_store_fail(st, FC_ERR_TEMP, "%s: %s", path,
		    strerror(errno));
	n = snprintf(buf, sizeof(buf), "facteur-log 1 G1\n");
	if (maildir_write_file(index_file(idx, MAILDIR_LOG, path,
	    sizeof(path)), buf, (size_t)n, true) < 0)
		return fc_store_fail(st, FC_ERR_TEMP, "%s: %s", path,
		    strerror(errno));
	maildir_fsync_dir(idx->path);
	return 0;
}

/* Under the lock: the files read, and the folders scanned if others
 * changed them. */
static int
index_catch_up_locked(struct fc_store *st, struct maildir_index *idx)
{
	char cpath[4096], npath[4096];
	struct stat cur, new;
	int r;

	r = index_read(st, idx);
	if (r < 0)
		return -1;
	if (r == 0) {
		if (index_create(st, idx) < 0 || index_read(st, idx) <= 0)
			return fc_store_fail(st, FC_ERR_TEMP, "%s: cannot "
			    "create the index", idx->path);
		/* a folder made by someone else: everything is new */
		idx->cur_mtime.tv_sec = -1;
		idx->new_mtime.tv_sec = -1;
	}
	if (stat(index_file(idx, "cur", cpath, sizeof(cpath)), &cur) < 0
	    || stat(index_file(idx, "new", npath, sizeof(npath)), &new) < 0)
		return fc_store_fail(st, FC_ERR_NOTFOUND, "%s: %s", idx->path,
		    strerror(errno));
	if (!maildir_timespec_eq(new.st_mtim, idx->new_mtime)) {
		index_scan_new(idx);
		idx->dirs_changed = true;
	}
	if (!maildir_timespec_eq(cur.st_mtim, idx->cur_mtime)) {
		index_scan_cur(idx);
		idx->dirs_changed = true;
	}
	return 0;
}

/*
 * Brings the index up to date. Without the lock: reads the log, and if
 * the folders changed behind its back takes the lock to scan them.
 */
int
maildir_index_catch_up(struct fc_store *st, struct maildir_index *idx)
{
	char cpath[4096], npath[4096];
	struct stat cur, new;
	int r;

	if (idx->lock_fd >= 0)
		return index_catch_up_locked(st, idx);
	r = index_read(st, idx);
	if (r < 0)
		return -1;
	if (r == 1 && stat(index_file(idx, "cur", cpath, sizeof(cpath)),
	    &cur) == 0 && stat(index_file(idx, "new", npath,
	    sizeof(npath)), &new) == 0
	    && maildir_timespec_eq(cur.st_mtim, idx->cur_mtime)
	    && maildir_timespec_eq(new.st_mtim, idx->new_mtime))
		return 0;
	if (maildir_index_lock(st, idx) < 0)
		return -1;
	if (index_catch_up_locked(st, idx) < 0) {
		idx->npending = 0;
		idx->dirs_changed = false;
		maildir_index_unlock(st, idx, false);
		return -1;
	}
	return maildir_index_unlock(st, idx, true);
}

/* ------------------------------------------------------------------ */
/* Keywords */

/*
 * The index of a keyword, adding it to the folder's list when create
 * (under the lock). -1 when unknown, or when the 26 letters are taken.
 */
int
maildir_keyword_index(struct fc_store *st, struct maildir_index *idx,
    const char *name, bool create)
{
	char path[4096], buf[MAILDIR_MAX_KEYWORDS * 260];
	size_t i, len = 0;
	struct stat sb;

	for (i = 0; i < MAILDIR_MAX_KEYWORDS && idx->keywords[i] != NULL; i++)
		if (strcasecmp(idx->keywords[i], name) == 0)
			return (int)i;
	if (!create)
		return -1;
	if (i == MAILDIR_MAX_KEYWORDS) {
		fc_store_fail(st, FC_ERR_LIMIT, "a folder holds at most %d "
		    "keywords", MAILDIR_MAX_KEYWORDS);
		return -1;
	}
	idx->keywords[i] = fc_arena_strdup(idx->arena, name);
	for (size_t k = 0; k <= i; k++)
		if (idx->keywords[k][0] != '\0')
			len += (size_t)snprintf(buf + len, sizeof(buf) - len,
			    "%zu %s\n", k, idx->keywords[k]);
	if (maildir_write_file(index_file(idx, MAILDIR_KEYWORDS, path,
	    sizeof(path)), buf, len, true) < 0) {
		idx->keywords[i] = NULL;
		fc_store_fail(st, FC_ERR_TEMP, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (stat(path, &sb) == 0)
		idx->keywords_mtime = sb.st_mtim;
	return (int)i;
}

/* ------------------------------------------------------------------ */
/* The per-process list of indexes */

static void
index_free(struct maildir_index *idx)
{
	maildir_watch_drop(idx);
	fc_arena_free(&idx->arena);
	free(idx->recs);
	free(idx->msgs);
	free(idx->pending);
	free(idx->path);
	free(idx->root);
	free(idx);
}

int
maildir_index_get(struct fc_store *st, const struct maildir_store *ms,
    const char *path, struct maildir_index **idx_r)
{
	struct maildir_index *idx, **pp;

	for (pp = &index_list; (idx = *pp) != NULL; pp = &idx->next)
		if (strcmp(idx->path, path) == 0)
			break;
	if (idx == NULL) {
		idx = fc_calloc(1, sizeof(*idx));
		idx->path = fc_strdup(path);
		idx->root = fc_strdup(ms->root);
		idx->lock_fd = -1;
		idx->wd[0] = idx->wd[1] = idx->wd[2] = -1;
		index_clear(idx);
	} else
		*pp = idx->next;
	/* most recently used first */
	idx->next = index_list;
	index_list = idx;
	idx->refs++;
	if (maildir_index_catch_up(st, idx) < 0) {
		maildir_index_put(idx);
		return -1;
	}
	*idx_r = idx;
	return 0;
}

void
maildir_index_put(struct maildir_index *idx)
{
	struct maildir_index **pp, *p;
	unsigned int idle = 0;

	fc_assert(idx->refs > 0);
	idx->refs--;
	/* keep a few unused ones: STATUS and LIST-STATUS come back often */
	for (pp = &index_list; (p = *pp) != NULL;) {
		if (p->refs == 0 && ++idle > INDEX_CACHE_IDLE) {
			*pp = p->next;
			index_free(p);
			continue;
		}
		pp = &p->next;
	}
}

void
maildir_index_state(struct maildir_index *idx, struct fc_index_state *s)
{
	size_t i;

	memset(s, 0, sizeof(*s));
	s->records = idx->recs;
	s->count = idx->count;
	s->uidvalidity = idx->uidvalidity;
	s->uidnext = idx->uidnext;
	s->highestmodseq = idx->highestmodseq;
	s->keywords = (const char *const *)idx->keywords;
	for (i = 0; i < MAILDIR_MAX_KEYWORDS && idx->keywords[i] != NULL; i++)
		;
	s->keywords_full = i == MAILDIR_MAX_KEYWORDS;
}

char *
maildir_msg_path(struct fc_arena *a, const struct maildir_index *idx,
    const struct maildir_msg *m)
{
	return fc_arena_printf(a, "%s/cur/%s:2,%s", idx->path, m->base,
	    m->info);
}
