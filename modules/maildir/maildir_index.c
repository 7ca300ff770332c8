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
 *	C <cur mtime ns> <new mtime ns> <dirty>	the folders as we left them
 * Both carry the same generation; a compaction writes a new snapshot
 * with the next generation, then a new log. A reader that finds the
 * generations differ, or the log replaced, reads both again. A log one
 * generation behind the snapshot is the one the snapshot was made
 * from (the new log is not in place yet, or never came: a crash, a full
 * disk): the snapshot holds all of it, and the next writer replaces it.
 *
 * Readers need no lock: appends are whole lines written once, and a
 * line without its newline is left for the next read. Writers hold
 * facteur-lock (flock, so a killed process cannot leave it held), catch
 * up first, change files, then write their lines with one write() and
 * fdatasync() before they unlock: a UID given to a client is durable.
 * Lines that only change flags are fdatasync'd within a second instead,
 * several commands' at once (maildir_index_write). A
 * write that fails (a full disk) is cut back off the log, and a writer
 * that finds the log ending inside a line (one that failed without
 * cutting, or was killed) cuts that line first, so a line is never
 * glued onto half of another.
 *
 * Other maildir writers (an MDA delivering to new/, a mail reader
 * renaming files in cur/) are noticed by the folders' mtimes: when they
 * differ from the last C line, the writer that takes the lock scans the
 * folder, gives UIDs to unknown files, and records flag changes and
 * vanished files. The mtimes recorded are the ones read before the
 * scan, so a file arriving during it moves them again. A time read in
 * the same second as a change is "dirty" (bit 1 cur/, bit 2 new/):
 * another change in the same clock tick would leave it as it is. A dirty
 * new/ is scanned at every catch-up (it is nearly always empty); a
 * dirty cur/, which our own changes leave every time, is scanned once
 * its time is old enough, as Dovecot does.
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
#include <time.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/io.h>
#include <facteur/log.h>
#include <facteur/storage.h>

#include "maildir.h"

#define INDEX_CACHE_IDLE	16	/* unused indexes kept per process */
#define LOG_COMPACT_BYTES	(256 * 1024)
#define LOG_LINE_MAX		1024
#define LOG_RESERVE		8192	/* bytes kept allocated past the end */
#define LOG_RESERVE_STEP	4096
#define MTIME_SLACK		1	/* seconds a folder's time is dirty */
#define DIRTY_CUR		1	/* the C line's dirty bits */
#define DIRTY_NEW		2
#define SYNC_DELAY_MS		1000	/* flag changes fdatasync'd within */

static struct maildir_index *index_list;
static struct fc_alarm *sync_alarm;	/* the deferred syncs are due */

static uint64_t
index_ns(struct timespec t)
{
	if (t.tv_sec < 0)
		return 0;	/* unknown: no folder has that time */
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
	size_t i;

	fc_arena_free(&idx->arena);
	idx->arena = fc_arena_new("maildir-index", 4096);
	/* the keyword names were in the old arena: read them again */
	for (i = 0; i <= MAILDIR_MAX_KEYWORDS; i++)
		idx->keywords[i] = NULL;
	memset(&idx->keywords_mtime, 0, sizeof(idx->keywords_mtime));
	/* a log without a C line: scan both folders */
	idx->dirs.cur.tv_sec = idx->dirs.new.tv_sec = -1;
	idx->dirs.cur_dirty = idx->dirs.new_dirty = true;
	idx->count = 0;
	idx->uidvalidity = 0;
	idx->uidnext = 1;
	idx->highestmodseq = 1;
	idx->log_offset = 0;
	idx->log_ino = 0;
	idx->log_stale = false;
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
	unsigned int dirty;
	int n;

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
		n = sscanf(line + 2, "%llu %llu %u", &cur, &new, &dirty);
		if (n < 2)
			return -1;
		/* older lines had no dirty bits: their times were taken
		 * after the scan, so look once more */
		if (n == 2)
			dirty = DIRTY_CUR | DIRTY_NEW;
		idx->dirs.cur = index_ts(cur);
		idx->dirs.new = index_ts(new);
		idx->dirs.cur_dirty = (dirty & DIRTY_CUR) != 0;
		idx->dirs.new_dirty = (dirty & DIRTY_NEW) != 0;
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
index_read_log(struct maildir_index *idx, int fd, uint64_t gen, off_t size)
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

				if (sscanf(line, "facteur-log 1 G%llu", &g) != 1)
					return -1;
				if (g + 1 == gen) {
					/* the snapshot's own log: in it */
					idx->log_stale = true;
					idx->log_offset = size;
					return 0;
				}
				if (g != gen)
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
		r = index_read_log(idx, fd, idx->gen, sb.st_size);
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
	idx->pending_durable = true;
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
	idx->pending_durable = true;
	index_remove(idx, uid, modseq);
}

/* The C line of dirs into buf; its length. */
static size_t
index_dirs_line(const struct maildir_dirs *d, char *buf, size_t size)
{
	unsigned int dirty = (d->cur_dirty ? DIRTY_CUR : 0)
	    | (d->new_dirty ? DIRTY_NEW : 0);
	int n;

	n = snprintf(buf, size, "C %" PRIu64 " %" PRIu64 " %u\n",
	    index_ns(d->cur), index_ns(d->new), dirty);
	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

static bool
index_dirs_eq(const struct maildir_dirs *a, const struct maildir_dirs *b)
{
	return maildir_timespec_eq(a->cur, b->cur)
	    && maildir_timespec_eq(a->new, b->new)
	    && a->cur_dirty == b->cur_dirty && a->new_dirty == b->new_dirty;
}

/* Room kept allocated past the log's end: on a full disk, flag changes
 * and expunges (which free room) can still be recorded. */
static void
index_log_reserve(int fd, off_t size)
{
#ifdef FALLOC_FL_KEEP_SIZE
	/* best effort: a file system without it just has no reserve */
	(void)fallocate(fd, FALLOC_FL_KEEP_SIZE, size, LOG_RESERVE);
#else
	(void)fd;
	(void)size;
#endif
}

/* A new log of generation gen, with the folders' times only. */
static int
index_new_log(struct fc_store *st, struct maildir_index *idx, uint64_t gen)
{
	char path[4096], buf[256];
	size_t len;
	int fd;

	len = (size_t)snprintf(buf, sizeof(buf), "facteur-log 1 G%" PRIu64
	    "\n", gen);
	len += index_dirs_line(&idx->dirs, buf + len, sizeof(buf) - len);
	index_file(idx, MAILDIR_LOG, path, sizeof(path));
	if (maildir_write_file(path, buf, len, true) < 0)
		return fc_store_fail(st, FC_ERR_TEMP, "%s: %s", path,
		    strerror(errno));
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) >= 0) {
		index_log_reserve(fd, (off_t)len);
		close(fd);
	}
	maildir_fsync_dir(idx->path);
	/* our own file: read it as the others will */
	idx->loaded = false;
	return 0;
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
	free(buf);
	/* from here the old log is the snapshot's (see the top) */
	return index_new_log(st, idx, gen);
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
	idx->pending_durable = false;
	idx->next_dirs = idx->dirs;
	return 0;
}

/*
 * A log that does not end with a newline holds half a line: a writer
 * was killed, or could not cut back what it failed to write. Readers
 * leave such a line alone; a writer cuts it (readers stopped before
 * it), so its own lines start on a line of their own. *size_r: the
 * log's size after.
 */
static int
index_log_repair(int fd, off_t *size_r)
{
	char buf[LOG_LINE_MAX + 64];
	off_t end = *size_r, from;
	ssize_t n, i;

	while (end > 0) {
		from = end > (off_t)sizeof(buf) ? end - (off_t)sizeof(buf) : 0;
		n = pread(fd, buf, (size_t)(end - from), from);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		for (i = n; i > 0; i--) {
			if (buf[i - 1] != '\n')
				continue;
			if (from + i == *size_r)
				return 0;	/* it ends with a line */
			if (ftruncate(fd, from + i) < 0)
				return -1;
			*size_r = from + i;
			return 0;
		}
		end = from;
	}
	/* not even the first line ended: nothing we can keep */
	errno = EINVAL;
	return -1;
}

/*
 * Appends the pending lines to the log, durably when sync. On failure
 * the log is cut back to its size before (a short write on a full disk
 * leaves half a line), so none of the lines is in it, and the reason is
 * the real one (the errno of the write that failed, not a stale one).
 * Only an fdatasync() that fails leaves the lines there, whole: readers
 * may have taken them already.
 */
static int
index_log_append(struct fc_store *st, struct maildir_index *idx, bool sync,
    off_t *size_r)
{
	char path[4096];
	const char *why = NULL;
	struct stat sb;
	size_t done = 0;
	off_t start;
	ssize_t n;
	int fd;

	/* read too: the repair looks at the end */
	fd = open(index_file(idx, MAILDIR_LOG, path, sizeof(path)),
	    O_RDWR | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return fc_store_fail(st, FC_ERR_TEMP, "%s: cannot write the "
		    "log: %s", path, strerror(errno));
	if (fstat(fd, &sb) < 0) {
		why = strerror(errno);
		goto fail;
	}
	start = sb.st_size;
	if (index_log_repair(fd, &start) < 0) {
		why = strerror(errno);
		goto fail;
	}
	while (done < idx->npending) {
		n = write(fd, idx->pending + done, idx->npending - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			why = n < 0 ? strerror(errno) : "short write";
			/* no reader takes a line without its newline:
			 * cutting it back is safe */
			if (ftruncate(fd, start) < 0)
				fc_log(FC_LOG_WARNING, "maildir: %s: cannot cut "
				    "a partial line: %s", path,
				    strerror(errno));
			goto fail;
		}
		done += (size_t)n;
	}
	if (sync && fdatasync(fd) < 0) {
		why = strerror(errno);
		goto fail;
	}
	if (fstat(fd, &sb) == 0) {
		if (sb.st_ino == idx->log_ino)
			idx->log_offset = sb.st_size;
		*size_r = sb.st_size;
		/* into a new page: move the reserve on */
		if (start / LOG_RESERVE_STEP != sb.st_size / LOG_RESERVE_STEP)
			index_log_reserve(fd, sb.st_size);
	}
	close(fd);
	return 0;
fail:
	close(fd);
	return fc_store_fail(st, FC_ERR_TEMP, "%s: cannot write the log: %s",
	    path, why);
}

/* ------------------------------------------------------------------ */
/* Deferred syncs: flag changes */

/*
 * Makes what was written of the folder without a sync durable: the
 * renames in cur/ (flag changes) and the log's lines. Nobody waits for
 * it, so a failure is only logged; a folder deleted meanwhile has
 * nothing left to keep.
 */
static void
index_flush(struct maildir_index *idx)
{
	char path[4096];
	int fd;

	if (idx->unsynced_cur) {
		idx->unsynced_cur = false;
		if (maildir_fsync_dir(index_file(idx, "cur", path,
		    sizeof(path))) < 0 && errno != ENOENT)
			fc_log(FC_LOG_WARNING, "maildir: %s: %s", path,
			    strerror(errno));
	}
	if (idx->unsynced_log) {
		idx->unsynced_log = false;
		fd = open(index_file(idx, MAILDIR_LOG, path, sizeof(path)),
		    O_RDONLY | O_CLOEXEC);
		if ((fd < 0 && errno != ENOENT) || (fd >= 0
		    && fdatasync(fd) < 0))
			fc_log(FC_LOG_WARNING, "maildir: %s: %s", path,
			    strerror(errno));
		if (fd >= 0)
			close(fd);
	}
}

static void
index_flush_all(void)
{
	struct maildir_index *idx;

	for (idx = index_list; idx != NULL; idx = idx->next)
		index_flush(idx);
}

static void
index_sync_due(void *arg)
{
	(void)arg;
	sync_alarm = NULL;
	index_flush_all();
}

/*
 * What was written without a sync gets one within SYNC_DELAY_MS: one
 * fdatasync (and one fsync of cur/) per folder for every flag change
 * of that time, not one per command, and none of them holding up the
 * command. Outside a worker's event loop (facteurctl, the tests) there
 * is no later: now.
 */
static void
index_sync_later(struct maildir_index *idx)
{
	static bool at_exit;

	if (sync_alarm == NULL)
		sync_alarm = fc_alarm_add(SYNC_DELAY_MS, index_sync_due, NULL);
	if (sync_alarm == NULL) {
		index_flush(idx);
		return;
	}
	/* a worker that stops (SIGTERM, or drained after a reload) leaves
	 * its loop with the alarm still waiting: the syncs happen at exit */
	if (!at_exit && atexit(index_flush_all) == 0)
		at_exit = true;
}

void
maildir_index_cur_changed(struct maildir_index *idx)
{
	idx->unsynced_cur = true;
}

/*
 * Writes the pending lines with the folders' times (see the top of the
 * file) and compacts a log that has grown. Stays locked. On failure none
 * of the lines is in the log (but see index_log_append) and the index is
 * read again from the files.
 *
 * With sync, lines that add or expunge messages are fdatasync'd before
 * it returns: a UID given, a message acknowledged or an expunge reported
 * stays so after a power loss. Flag changes alone are written at once
 * (a killed process loses nothing: the page cache keeps them) and made
 * durable within SYNC_DELAY_MS with the renames in cur/ that they
 * record. A power loss in between loses at most those flag changes,
 * and whichever of the rename and the line did reach the disk, the
 * index and cur/ agree again at the next scan (a file not found where
 * the index says makes one): no message is lost and no UID given twice.
 */
int
maildir_index_write(struct fc_store *st, struct maildir_index *idx,
    bool sync)
{
	struct maildir_dirs d = idx->next_dirs;
	bool changes = idx->npending > 0;
	bool now = sync && idx->pending_durable;
	char path[4096], line[96];
	struct stat cur;
	off_t size = 0;
	int ret = 0;

	idx->pending_durable = false;

	/* our changes moved cur/'s time, maybe over another program's
	 * change in the same tick: take the time, dirty */
	if (changes && stat(index_file(idx, "cur", path, sizeof(path)),
	    &cur) == 0) {
		d.cur = cur.st_mtim;
		d.cur_dirty = true;
	}
	if (!index_dirs_eq(&d, &idx->dirs))
		index_pend(idx, line, index_dirs_line(&d, line, sizeof(line)));
	if (idx->npending == 0) {
		if (idx->unsynced_cur)
			index_sync_later(idx);
		return 0;
	}
	/* the times alone need no fdatasync: lost, they cost a scan */
	ret = index_log_append(st, idx, now, &size);
	idx->npending = 0;
	if (ret == 0 && now)
		idx->unsynced_log = false;	/* the earlier lines too */
	else if (ret == 0 && sync && changes)
		idx->unsynced_log = true;
	if (idx->unsynced_log || idx->unsynced_cur)
		index_sync_later(idx);
	if (ret == 0) {
		idx->dirs = d;
		/* the lines are in: a compaction that fails only waits */
		if (size > LOG_COMPACT_BYTES && index_compact(st, idx) < 0) {
			const char *why;

			fc_store_error(st, &why);
			fc_log(FC_LOG_WARNING, "maildir: cannot compact the "
			    "log: %s", why);
			maildir_clear_error(st);
		}
	}
	idx->next_dirs = idx->dirs;
	if (ret < 0) {
		idx->loaded = false;	/* memory may be ahead of the disk */
		if (!changes) {
			const char *why;

			/* only the times: the next catch-up scans again */
			fc_store_error(st, &why);
			fc_log(FC_LOG_WARNING, "maildir: %s", why);
			return maildir_clear_error(st);
		}
	}
	return ret;
}

static void
index_release(struct maildir_index *idx)
{
	flock(idx->lock_fd, LOCK_UN);
	close(idx->lock_fd);
	idx->lock_fd = -1;
}

int
maildir_index_unlock(struct fc_store *st, struct maildir_index *idx,
    bool sync)
{
	int ret = maildir_index_write(st, idx, sync);

	index_release(idx);
	return ret;
}

void
maildir_index_unlock_discard(struct fc_store *st, struct maildir_index *idx)
{
	(void)st;
	idx->npending = 0;
	idx->pending_durable = false;
	idx->next_dirs = idx->dirs;
	/* the lines were applied to memory already: read the files again */
	idx->loaded = false;
	if (idx->unsynced_cur)
		index_sync_later(idx);
	index_release(idx);
}

/* ------------------------------------------------------------------ */
/* Scanning the folders (under the lock) */

/*
 * A leading number of a file name, and where it ends; 0 when there is
 * none (names from other programs sort by their bytes then).
 */
static unsigned long long
index_name_number(const char *s, const char **end_r)
{
	unsigned long long v = 0;
	const char *p = s;

	while (*p >= '0' && *p <= '9' && p - s < 19)
		v = v * 10 + (unsigned long long)(*p++ - '0');
	*end_r = p;
	return v;
}

/*
 * Delivery order: "SECONDS.MMICROS..." compared as numbers, since the
 * microseconds are not zero-padded (Dovecot and we both write M%u), so
 * M81060 is later than M588890 within a second only by value.
 */
static int
index_delivery_cmp(const char *x, const char *y)
{
	const char *xe, *ye;
	unsigned long long xv, yv;

	xv = index_name_number(x, &xe);
	yv = index_name_number(y, &ye);
	if (xe != x && ye != y && xv != yv)
		return xv < yv ? -1 : 1;
	if (xe != x && ye != y && xe[0] == '.' && xe[1] == 'M'
	    && ye[0] == '.' && ye[1] == 'M') {
		xv = index_name_number(xe + 2, &xe);
		yv = index_name_number(ye + 2, &ye);
		if (xv != yv)
			return xv < yv ? -1 : 1;
	}
	return strcmp(x, y);
}

static int
index_scan_cmp(const void *a, const void *b)
{
	return index_delivery_cmp(*(char *const *)a, *(char *const *)b);
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

/*
 * Moves what an MDA left in new/ to cur/ and gives it UIDs. false when
 * a file that should have moved is still there (new/ must be looked at
 * again, though its time will not move).
 */
static bool
index_scan_new(struct maildir_index *idx)
{
	char dir[4096], from[4096], to[4096], base[LOG_LINE_MAX];
	char info[MAILDIR_INFO_MAX + 1];
	char **names = NULL;
	size_t n = 0, alloc = 0, i;
	struct dirent *de;
	bool all = true;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/new", idx->path);
	if ((d = opendir(dir)) == NULL)
		return false;
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
		else if (errno != ENOENT)
			all = false;	/* ENOENT: a reader took it to cur/ */
		free(names[i]);
	}
	free(names);
	return all;
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
	return index_delivery_cmp(((const struct scan_file *)a)->base,
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

			if (index_delivery_cmp(files[mid].base, m->base) < 0)
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

/* Too close to now to be trusted (see the top of the file). */
static bool
index_time_recent(struct timespec t, struct timespec now)
{
	return t.tv_sec >= now.tv_sec - MTIME_SLACK;
}

/* new/ is looked at when its time moved, or when the time held is
 * dirty: it is nearly always empty, so looking costs little. */
static bool
index_new_changed(const struct maildir_dirs *d, struct timespec mtime)
{
	return d->new_dirty || !maildir_timespec_eq(mtime, d->new);
}

/* cur/ is looked at when its time moved; when the time held is dirty,
 * only once it is old enough: reading cur/ costs the whole folder, and
 * our own changes leave it dirty every time. */
static bool
index_cur_changed(const struct maildir_index *idx, struct timespec mtime,
    struct timespec now)
{
	const struct maildir_dirs *d = &idx->dirs;

	if (idx->force_cur_scan || !maildir_timespec_eq(mtime, d->cur))
		return true;
	return d->cur_dirty && !index_time_recent(d->cur, now);
}

static int
index_stat_dirs(struct maildir_index *idx, struct stat *cur,
    struct stat *new)
{
	char path[4096];

	if (stat(index_file(idx, "cur", path, sizeof(path)), cur) < 0
	    || stat(index_file(idx, "new", path, sizeof(path)), new) < 0)
		return -1;
	return 0;
}

/* Under the lock: the files read, and the folders scanned if others
 * changed them. */
static int
index_catch_up_locked(struct fc_store *st, struct maildir_index *idx)
{
	struct stat cur, new;
	struct timespec now;
	int r;

	r = index_read(st, idx);
	if (r < 0)
		return -1;
	if (r == 0) {
		if (index_create(st, idx) < 0 || (r = index_read(st, idx)) < 0)
			return -1;
		if (r == 0)
			return fc_store_fail(st, FC_ERR_TEMP, "%s: cannot "
			    "create the index", idx->path);
	}
	/* a compaction's new log never came: put it in place before any
	 * line goes to the old one */
	if (idx->log_stale && (index_new_log(st, idx, idx->gen) < 0
	    || index_read(st, idx) < 0))
		return -1;
	idx->next_dirs = idx->dirs;
	/* the times before the scans: what arrives during them moves the
	 * times again, and is seen next time */
	if (index_stat_dirs(idx, &cur, &new) < 0)
		return fc_store_fail(st, FC_ERR_NOTFOUND, "%s: %s", idx->path,
		    strerror(errno));
	clock_gettime(CLOCK_REALTIME, &now);
	if (index_new_changed(&idx->dirs, new.st_mtim)) {
		idx->next_dirs.new = new.st_mtim;
		idx->next_dirs.new_dirty = !index_scan_new(idx)
		    || index_time_recent(new.st_mtim, now);
	}
	if (index_cur_changed(idx, cur.st_mtim, now)) {
		idx->force_cur_scan = false;
		index_scan_cur(idx);
		idx->next_dirs.cur = cur.st_mtim;
		idx->next_dirs.cur_dirty = index_time_recent(cur.st_mtim, now);
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
	struct stat cur, new;
	struct timespec now;
	const char *why;
	int r;

	if (idx->lock_fd >= 0)
		return index_catch_up_locked(st, idx);
	r = index_read(st, idx);
	if (r < 0)
		return -1;
	if (r == 1 && index_stat_dirs(idx, &cur, &new) == 0) {
		clock_gettime(CLOCK_REALTIME, &now);
		if (!index_new_changed(&idx->dirs, new.st_mtim)
		    && !index_cur_changed(idx, cur.st_mtim, now))
			return 0;
	}
	if (maildir_index_lock(st, idx) < 0)
		return -1;
	if (index_catch_up_locked(st, idx) < 0) {
		maildir_index_unlock_discard(st, idx);
		return -1;
	}
	if (maildir_index_unlock(st, idx, true) == 0)
		return 0;
	/*
	 * What the scan found could not be recorded (a full disk). Readers
	 * still get what the index knew: the files it found stay where
	 * they are, and get their UIDs at a later scan.
	 */
	fc_store_error(st, &why);
	fc_log(FC_LOG_WARNING, "maildir: %s; the new files wait", why);
	if (index_read(st, idx) < 0)
		return -1;
	return maildir_clear_error(st);
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
	index_flush(idx);
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
