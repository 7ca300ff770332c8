/*
 * smtp_queue_cmd.c - `facteurctl queue`: what waits in the outbound
 * queue, and the admin's levers on it.
 *
 *	facteurctl queue list			one block per message
 *	facteurctl queue flush [ID]		try now, not at the next retry
 *	facteurctl queue delete ID|all		drop without a report
 *	facteurctl queue show ID		the message as it would be sent
 *
 * Changes go through files the runner watches (inotify), so a running
 * runner acts at once and a stopped one finds them when it starts. A
 * runner at work keeps the newer copy of each envelope in memory and
 * alone rewrites them: flush then leaves a request in QUEUE/flush/ for
 * it. Only when no runner holds QUEUE/lock does flush rewrite the
 * envelopes itself, holding the lock meanwhile so that none starts. A
 * delete removes the message first, then the envelope: a runner that
 * saves the envelope meanwhile sees the message gone and drops it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/command.h>

#include "smtp.h"
#include "smtp_queue.h"

static const char *const cmd_states[] = {
	"pending", "sent", "failed", "reported",
};

struct cmd_list {
	const char *dir;
	const char *only;
	int action;		/* 0 list, 1 flush, 2 delete */
	bool locked;		/* no runner at work: we hold its lock */
	unsigned int count;
};

static void
cmd_time(char *buf, size_t size, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Asks the runner at work to try an entry now (smtp_runner.c). */
static int
cmd_flush_request(const char *dir, const char *id)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/flush", dir);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -1;
	snprintf(path, sizeof(path), "%s/flush/%s", dir, id);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	return close(fd);	/* the runner sees IN_CLOSE_WRITE */
}

/* The queue's lock, when no runner holds it: -1 when one does. */
static int
cmd_lock(const char *dir)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/lock", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
cmd_each(const char *id, void *arg)
{
	struct cmd_list *l = arg;
	struct smtp_qentry *e;
	char created[32], next[32];
	size_t i;

	if (l->only != NULL && strcmp(l->only, id) != 0)
		return;
	if (!smtp_queue_id_valid(id) || (e = smtp_queue_load(l->dir, id))
	    == NULL)
		return;
	l->count++;
	switch (l->action) {
	case 0:
		cmd_time(created, sizeof(created), e->created);
		cmd_time(next, sizeof(next), e->next);
		printf("%s\t%s\tattempts=%u\tnext=%s\tfrom=<%s>\n", e->id,
		    created, e->attempts, next, e->sender);
		for (i = 0; i < e->nrcpts; i++)
			printf("\t%s\t<%s>\t%s\n", cmd_states[e->rcpts[i].state],
			    e->rcpts[i].address, e->rcpts[i].reply);
		break;
	case 1:
		if (l->locked) {
			e->next = 0;
			if (smtp_queue_save(l->dir, e, true) < 0)
				fprintf(stderr, "facteurctl: queue: cannot "
				    "save %s\n", id);
		} else if (cmd_flush_request(l->dir, id) < 0)
			fprintf(stderr, "facteurctl: queue: cannot ask the "
			    "runner to flush %s\n", id);
		break;
	default:
		smtp_queue_remove(l->dir, id);
		break;
	}
	smtp_queue_free(&e);
}

static int
cmd_show(const char *dir, const char *id)
{
	struct fc_arena *a = fc_arena_new("queue-show", 256);
	struct smtp_qentry *e;
	char buf[65536];
	ssize_t n;
	size_t i;
	int fd;

	if (!smtp_queue_id_valid(id) || (e = smtp_queue_load(dir, id))
	    == NULL) {
		fprintf(stderr, "facteurctl: queue: no message %s\n", id);
		fc_arena_free(&a);
		return 1;
	}
	for (i = 0; i < e->nheaders; i++)
		printf("%s\r\n", e->headers[i]);
	fflush(stdout);
	fd = smtp_queue_open_message(a, dir, id);
	while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	if (fd >= 0)
		close(fd);
	smtp_queue_free(&e);
	fc_arena_free(&a);
	return fd >= 0 ? 0 : 1;
}

static int
cmd_run(struct cmd_list *l)
{
	if (smtp_queue_scan(l->dir, cmd_each, l) < 0) {
		if (l->action == 0)
			return 0;	/* no queue yet: nothing waits */
		fprintf(stderr, "facteurctl: queue: cannot read %s\n", l->dir);
		return 1;
	}
	if (l->only != NULL && l->count == 0) {
		fprintf(stderr, "facteurctl: queue: no message %s\n", l->only);
		return 1;
	}
	if (l->action != 0)
		printf("%u message%s\n", l->count, l->count == 1 ? "" : "s");
	return 0;
}

int
smtp_queue_command(struct fc_core *core, void *arg, int argc, char **argv)
{
	const struct smtp_conf *conf = arg;
	struct cmd_list l;
	int lock_fd = -1, ret;

	(void)core;
	memset(&l, 0, sizeof(l));
	l.dir = conf->queue_dir;
	if (argc == 2 && strcmp(argv[1], "list") == 0)
		l.action = 0;
	else if ((argc == 2 || argc == 3) && strcmp(argv[1], "flush") == 0) {
		l.action = 1;
		l.only = argc == 3 ? argv[2] : NULL;
	} else if (argc == 3 && strcmp(argv[1], "delete") == 0) {
		l.action = 2;
		l.only = strcmp(argv[2], "all") == 0 ? NULL : argv[2];
	} else if (argc == 3 && strcmp(argv[1], "show") == 0)
		return cmd_show(conf->queue_dir, argv[2]);
	else {
		fprintf(stderr, "usage: facteurctl queue list|flush [ID]|"
		    "delete ID|all|show ID\n");
		return 2;
	}
	if (l.action == 1) {
		lock_fd = cmd_lock(l.dir);
		l.locked = lock_fd >= 0;
	}
	ret = cmd_run(&l);
	if (lock_fd >= 0)
		close(lock_fd);
	return ret;
}
