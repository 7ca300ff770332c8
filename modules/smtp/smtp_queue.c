/*
 * smtp_queue.c - the outbound queue on disk: messages waiting to be sent
 * on, written by SMTP sessions, read and updated by the queue runner.
 *
 *	QUEUE/msg/<id>	the message, CRLF line ends, as received
 *	QUEUE/env/<id>	its envelope: one "key<TAB>value" line each
 *	QUEUE/flush/<id> an admin's request to try it now (empty)
 *	QUEUE/lock	held (flock) by the one runner at work
 *
 * An envelope:
 *	facteur-queue	1
 *	created		1795329521
 *	next		1795329821	(next attempt, unix time)
 *	attempts	2
 *	sender		alice@example.org	(empty for a bounce)
 *	ret		FULL|HDRS		(DSN, optional)
 *	envid		...			(DSN, optional)
 *	warned		1			(a delay report went out)
 *	header		Received: from ...	(one line of the fields put
 *						 on top when sending)
 *	rcpt	<state> <notify> <user or -> <orcpt or -> <address> <reply>
 * with rcpt's fields separated by tabs, state one of pending, sent,
 * failed, reported (a failure the sender was told of, or did not want
 * to hear of), and orcpt "-" unless the client gave ORCPT.
 *
 * Commit order, so a crash never loses an acknowledged message and never
 * leaves an envelope without its message: the message file is made
 * durable and linked under msg/, then the envelope is written to a
 * temporary name, made durable, and renamed into env/ (the commit), and
 * env/ is synced. Only then does the client get its 250. Updates replace
 * the envelope the same way. When an entry ends the message goes first:
 * an envelope whose message is gone is an entry being removed, which
 * the runner drops (so its late update cannot bring a deleted entry
 * back, see smtp_runner.c).
 *
 * While a runner works the queue it alone rewrites envelopes: its copy
 * in memory is the newer one. Others (facteurctl) add entries, remove
 * them, and leave requests in flush/.
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
#include <time.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/log.h>

#include "smtp.h"
#include "smtp_queue.h"

static const char *const queue_states[] = {
	"pending", "sent", "failed", "reported",
};

static char *
queue_path(struct fc_arena *a, const char *dir, const char *sub,
    const char *id)
{
	return fc_arena_printf(a, "%s/%s/%s", dir, sub, id);
}

int
smtp_queue_prepare(const char *dir)
{
	static const char *const subs[] = { "", "/msg", "/env", "/flush" };
	char path[4096];
	size_t i;

	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", dir, subs[i]);
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return -1;
	}
	return 0;
}

static int
queue_fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret;

	if (fd < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

/* Tabs and line breaks would break the envelope's lines. */
static const char *
queue_clean(struct fc_arena *a, const char *s)
{
	char *out = fc_arena_strdup(a, s != NULL ? s : ""), *p;

	for (p = out; *p != '\0'; p++)
		if (*p == '\t' || *p == '\r' || *p == '\n')
			*p = ' ';
	return out;
}

static char *
queue_format(struct fc_arena *a, const struct smtp_qentry *e)
{
	char *out;
	size_t i;

	out = fc_arena_printf(a, "facteur-queue\t1\ncreated\t%" PRId64
	    "\nnext\t%" PRId64 "\nattempts\t%u\nsender\t%s\n", e->created,
	    e->next, e->attempts, queue_clean(a, e->sender));
	if (e->ret != 0)
		out = fc_arena_printf(a, "%sret\t%s\n", out,
		    e->ret == SMTP_DSN_RET_HDRS ? "HDRS" : "FULL");
	if (e->envid != NULL)
		out = fc_arena_printf(a, "%senvid\t%s\n", out,
		    queue_clean(a, e->envid));
	if (e->warned)
		out = fc_arena_printf(a, "%swarned\t1\n", out);
	for (i = 0; i < e->nheaders; i++)
		out = fc_arena_printf(a, "%sheader\t%s\n", out,
		    queue_clean(a, e->headers[i]));
	for (i = 0; i < e->nrcpts; i++) {
		const struct smtp_qrcpt *r = &e->rcpts[i];

		out = fc_arena_printf(a, "%srcpt\t%s\t%u\t%s\t%s\t%s\t%s\n",
		    out, queue_states[r->state], r->notify,
		    r->user != NULL ? queue_clean(a, r->user) : "-",
		    r->orcpt != NULL ? queue_clean(a, r->orcpt) : "-",
		    queue_clean(a, r->address), queue_clean(a, r->reply));
	}
	return out;
}

/* Writes the envelope under a temporary name, then renames it over. */
int
smtp_queue_save(const char *dir, const struct smtp_qentry *e, bool sync)
{
	struct fc_arena *a = fc_arena_new("queue-save", 4096);
	char *text = queue_format(a, e), *tmp, *path;
	size_t len = strlen(text), done = 0;
	ssize_t n;
	int fd, ret = -1;

	tmp = fc_arena_printf(a, "%s/env/.%s.tmp", dir, e->id);
	path = queue_path(a, dir, "env", e->id);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	while (done < len) {
		n = write(fd, text + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		done += (size_t)n;
	}
	if (done < len || (sync && fdatasync(fd) < 0)) {
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		goto out;
	}
	if (sync && queue_fsync_dir(fc_arena_printf(a, "%s/env", dir)) < 0)
		goto out;
	ret = 0;
out:
	fc_arena_free(&a);
	return ret;
}

/* Copies fd's data into a new file (when it cannot be linked). */
static int
queue_copy(int fd, const char *path)
{
	char buf[65536];
	off_t off = 0;
	ssize_t n;
	int out;

	out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0)
		return -1;
	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		if (write(out, buf, (size_t)n) != n) {
			close(out);
			unlink(path);
			return -1;
		}
		off += n;
	}
	if (n < 0 || fdatasync(out) < 0) {
		close(out);
		unlink(path);
		return -1;
	}
	return close(out);
}

/*
 * Puts a new entry in the queue: the message (the spool file, linked
 * when it is an anonymous file on the same file system, else copied),
 * then its envelope. 0 once both are durable.
 */
int
smtp_queue_add(const char *dir, struct smtp_qentry *e, int spool_fd)
{
	struct fc_arena *a = fc_arena_new("queue-add", 1024);
	char *msg, proc[64];
	int ret = -1;

	msg = queue_path(a, dir, "msg", e->id);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", spool_fd);
	if (fdatasync(spool_fd) < 0)
		goto out;
	if (linkat(AT_FDCWD, proc, AT_FDCWD, msg, AT_SYMLINK_FOLLOW) < 0
	    && queue_copy(spool_fd, msg) < 0)
		goto out;
	if (queue_fsync_dir(fc_arena_printf(a, "%s/msg", dir)) < 0
	    || smtp_queue_save(dir, e, true) < 0) {
		unlink(msg);
		goto out;
	}
	ret = 0;
out:
	fc_arena_free(&a);
	return ret;
}

void
smtp_queue_remove(const char *dir, const char *id)
{
	struct fc_arena *a = fc_arena_new("queue-remove", 256);

	/* the message first: an envelope left without one (a crash in
	 * between) is dropped by the runner, and a runner that rewrites
	 * the envelope meanwhile sees the message gone and drops it too */
	unlink(queue_path(a, dir, "msg", id));
	unlink(queue_path(a, dir, "env", id));
	fc_arena_free(&a);
}

int
smtp_queue_open_message(struct fc_arena *a, const char *dir, const char *id)
{
	return open(queue_path(a, dir, "msg", id), O_RDONLY | O_CLOEXEC);
}

/* ------------------------------------------------------------------ */
/* Reading envelopes */

static char *
queue_field(char **p)
{
	char *start = *p, *tab;

	if (start == NULL)
		return NULL;
	tab = strchr(start, '\t');
	if (tab != NULL) {
		*tab = '\0';
		*p = tab + 1;
	} else
		*p = NULL;
	return start;
}

static int
queue_state(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(queue_states) / sizeof(queue_states[0]); i++)
		if (strcmp(s, queue_states[i]) == 0)
			return (int)i;
	return -1;
}

static void
queue_add_header(struct smtp_qentry *e, const char *line)
{
	if (e->nheaders % 8 == 0) {
		const char **more = fc_arena_alloc(e->arena,
		    (e->nheaders + 8) * sizeof(*more));

		if (e->nheaders > 0)
			memcpy(more, e->headers, e->nheaders * sizeof(*more));
		e->headers = more;
	}
	e->headers[e->nheaders++] = fc_arena_strdup(e->arena, line);
}

struct smtp_qrcpt *
smtp_queue_add_rcpt(struct smtp_qentry *e)
{
	struct smtp_qrcpt *r;

	if (e->nrcpts % 8 == 0) {
		struct smtp_qrcpt *more = fc_arena_alloc(e->arena,
		    (e->nrcpts + 8) * sizeof(*more));

		if (e->nrcpts > 0)
			memcpy(more, e->rcpts, e->nrcpts * sizeof(*more));
		e->rcpts = more;
	}
	r = &e->rcpts[e->nrcpts++];
	memset(r, 0, sizeof(*r));
	return r;
}

struct smtp_qentry *
smtp_queue_new(const char *id)
{
	struct fc_arena *a = fc_arena_new("queue-entry", 2048);
	struct smtp_qentry *e = fc_arena_alloc(a, sizeof(*e));

	e->arena = a;
	snprintf(e->id, sizeof(e->id), "%s", id);
	e->sender = "";
	return e;
}

void
smtp_queue_free(struct smtp_qentry **ep)
{
	struct smtp_qentry *e = *ep;
	struct fc_arena *a;

	if (e == NULL)
		return;
	*ep = NULL;
	a = e->arena;
	fc_arena_free(&a);
}

struct smtp_qentry *
smtp_queue_load(const char *dir, const char *id)
{
	struct smtp_qentry *e;
	char path[4096], *line = NULL, *p, *key;
	size_t cap = 0;
	ssize_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/env/%s", dir, id);
	if ((f = fopen(path, "re")) == NULL)
		return NULL;
	e = smtp_queue_new(id);
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		p = line;
		key = queue_field(&p);
		if (p == NULL)
			continue;
		if (strcmp(key, "created") == 0)
			e->created = strtoll(p, NULL, 10);
		else if (strcmp(key, "next") == 0)
			e->next = strtoll(p, NULL, 10);
		else if (strcmp(key, "attempts") == 0)
			e->attempts = (unsigned int)strtoul(p, NULL, 10);
		else if (strcmp(key, "sender") == 0)
			e->sender = fc_arena_strdup(e->arena, p);
		else if (strcmp(key, "ret") == 0)
			e->ret = strcmp(p, "HDRS") == 0 ? SMTP_DSN_RET_HDRS :
			    SMTP_DSN_RET_FULL;
		else if (strcmp(key, "envid") == 0)
			e->envid = fc_arena_strdup(e->arena, p);
		else if (strcmp(key, "warned") == 0)
			e->warned = strcmp(p, "1") == 0;
		else if (strcmp(key, "header") == 0)
			queue_add_header(e, p);
		else if (strcmp(key, "rcpt") == 0) {
			char *st = queue_field(&p), *notify = queue_field(&p);
			char *user = queue_field(&p), *orcpt = queue_field(&p);
			char *addr = queue_field(&p), *reply = p;
			struct smtp_qrcpt *r;
			int s;

			if (addr == NULL || (s = queue_state(st)) < 0)
				continue;
			r = smtp_queue_add_rcpt(e);
			r->state = (enum smtp_qstate)s;
			r->notify = (unsigned int)strtoul(notify, NULL, 10);
			r->user = strcmp(user, "-") == 0 ? NULL :
			    fc_arena_strdup(e->arena, user);
			r->orcpt = strcmp(orcpt, "-") == 0 ? NULL :
			    fc_arena_strdup(e->arena, orcpt);
			r->address = fc_arena_strdup(e->arena, addr);
			r->reply = fc_arena_strdup(e->arena,
			    reply != NULL ? reply : "");
		}
	}
	free(line);
	fclose(f);
	if (e->nrcpts == 0) {
		smtp_queue_free(&e);
		return NULL;
	}
	return e;
}

/* Calls fn for each envelope in the queue (not in a set order). */
int
smtp_queue_scan(const char *dir, void (*fn)(const char *id, void *arg),
    void *arg)
{
	char path[4096];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/env", dir);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		fn(de->d_name, arg);
	}
	closedir(d);
	return 0;
}

/*
 * Whether a failed recipient is to be told to the sender: never for a
 * bounce (no reports of reports), else as NOTIFY says (RFC 3461 4.1):
 * without NOTIFY, failures are; NOTIFY=NEVER or a list without FAILURE,
 * they are not. An expired recipient has failed too.
 */
bool
smtp_queue_wants_report(const struct smtp_qentry *e,
    const struct smtp_qrcpt *r)
{
	if (e->sender[0] == '\0')
		return false;
	if (r->notify == 0)
		return true;
	return (r->notify & SMTP_NOTIFY_FAILURE) != 0;
}

/*
 * Whether a recipient asked to hear of this (RFC 3461 4.1): success and
 * delay only when NOTIFY names them (a delay also without NOTIFY when
 * the admin says so, as RFC 3461 4.1 permits), failure as
 * smtp_queue_wants_report() says. Never for a report's own recipients.
 */
bool
smtp_queue_wants_action(const struct smtp_qentry *e,
    const struct smtp_qrcpt *r, enum smtp_action action, bool delay_all)
{
	if (e->sender[0] == '\0')
		return false;
	switch (action) {
	case SMTP_ACT_FAILED:
		return smtp_queue_wants_report(e, r);
	case SMTP_ACT_DELAYED:
		if (r->notify == 0)
			return delay_all;
		return (r->notify & SMTP_NOTIFY_DELAY) != 0;
	case SMTP_ACT_DELIVERED:
	case SMTP_ACT_RELAYED:
		return (r->notify & SMTP_NOTIFY_SUCCESS) != 0;
	default:
		return false;
	}
}

bool
smtp_queue_message_exists(const char *dir, const char *id)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/msg/%s", dir, id);
	return access(path, F_OK) == 0 || errno != ENOENT;
}

/* A queue id that is also a safe file name. */
bool
smtp_queue_id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n >= SMTP_QUEUE_ID_MAX)
		return false;
	for (; *id != '\0'; id++)
		if (!((*id >= '0' && *id <= '9') || (*id >= 'a' && *id <= 'z')
		    || (*id >= 'A' && *id <= 'Z')))
			return false;
	return true;
}
