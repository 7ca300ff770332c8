/*
 * maildir_watch.c - telling sessions that a folder changed: inotify.
 *
 * One inotify instance per worker, shared by every watched folder
 * (fs.inotify.max_user_instances is often 128: one per session would run
 * out). A watched folder has three watches: the folder itself (its log
 * is appended to by any facteur process that changes it), new/ (other
 * mail delivery agents) and cur/ (other mail readers). Every event is
 * passed to each session watching that folder; the session's sync then
 * finds out what changed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/io.h>
#include <facteur/log.h>
#include <facteur/storage.h>

#include "maildir.h"

#define WATCH_MASK_DIR	(IN_MODIFY | IN_MOVED_TO | IN_MOVED_FROM | \
	IN_CREATE | IN_DELETE | IN_CLOSE_WRITE)

struct watch_entry {
	int wd;
	struct maildir_index *idx;
	struct watch_entry *next;
};

static int watch_fd = -1;
static struct fc_io *watch_io;
static struct watch_entry *watch_entries;

static void
watch_notify(struct maildir_index *idx)
{
	struct maildir_watcher *w, *next;

	for (w = idx->watchers; w != NULL; w = next) {
		next = w->next;
		w->fn(w->arg);
	}
}

static void
watch_read(int fd, void *arg)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct
	    inotify_event))));
	struct maildir_index *seen[64];
	size_t nseen = 0, i;
	ssize_t n;

	(void)arg;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		char *p;

		for (p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			struct watch_entry *e;

			for (e = watch_entries; e != NULL; e = e->next) {
				if (e->wd != ev->wd)
					continue;
				/* once per folder per wake-up */
				for (i = 0; i < nseen; i++)
					if (seen[i] == e->idx)
						break;
				if (i == nseen && nseen < 64)
					seen[nseen++] = e->idx;
			}
			p += sizeof(*ev) + ev->len;
		}
	}
	for (i = 0; i < nseen; i++)
		watch_notify(seen[i]);
}

static int
watch_init(void)
{
	if (watch_fd >= 0)
		return 0;
	watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (watch_fd < 0)
		return -1;
	watch_io = fc_io_watch(watch_fd, watch_read, NULL);
	if (watch_io == NULL) {
		close(watch_fd);
		watch_fd = -1;
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static int
watch_add(struct maildir_index *idx, const char *path)
{
	struct watch_entry *e;
	int wd;

	wd = inotify_add_watch(watch_fd, path, WATCH_MASK_DIR | IN_ONLYDIR);
	if (wd < 0)
		return -1;
	e = fc_calloc(1, sizeof(*e));
	e->wd = wd;
	e->idx = idx;
	e->next = watch_entries;
	watch_entries = e;
	return wd;
}

/* Forgets the index's watches (the last watcher left, or it is freed). */
void
maildir_watch_drop(struct maildir_index *idx)
{
	struct watch_entry **ep, *e;
	size_t i;

	for (ep = &watch_entries; (e = *ep) != NULL;) {
		if (e->idx != idx) {
			ep = &e->next;
			continue;
		}
		*ep = e->next;
		free(e);
	}
	for (i = 0; i < 3; i++) {
		if (idx->wd[i] >= 0 && watch_fd >= 0) {
			bool shared = false;

			/* the kernel gives one wd per inode: keep it if
			 * another index (same folder) still uses it */
			for (e = watch_entries; e != NULL; e = e->next)
				shared |= e->wd == idx->wd[i];
			if (!shared)
				inotify_rm_watch(watch_fd, idx->wd[i]);
		}
		idx->wd[i] = -1;
	}
}

int
maildir_watch(struct fc_store *st, void *index, void (*fn)(void *arg),
    void *arg)
{
	struct maildir_box *box = index;
	struct maildir_index *idx = box->idx;
	struct maildir_watcher **wp;
	char path[4096];

	/* off: take this box's watcher out of the list */
	if (fn == NULL) {
		if (!box->watching)
			return 0;
		for (wp = &idx->watchers; *wp != NULL; wp = &(*wp)->next) {
			if (*wp == &box->watcher) {
				*wp = box->watcher.next;
				break;
			}
		}
		box->watching = false;
		if (idx->watchers == NULL)
			maildir_watch_drop(idx);
		return 0;
	}
	if (watch_init() < 0)
		return fc_store_fail(st, FC_ERR_TEMP, "inotify: %s",
		    strerror(errno));
	if (idx->wd[0] < 0) {
		idx->wd[0] = watch_add(idx, idx->path);
		snprintf(path, sizeof(path), "%s/new", idx->path);
		idx->wd[1] = watch_add(idx, path);
		snprintf(path, sizeof(path), "%s/cur", idx->path);
		idx->wd[2] = watch_add(idx, path);
		if (idx->wd[0] < 0 || idx->wd[1] < 0 || idx->wd[2] < 0) {
			int e = errno;

			maildir_watch_drop(idx);
			return fc_store_fail(st, FC_ERR_TEMP, "inotify on %s: "
			    "%s", idx->path, strerror(e));
		}
	}
	box->watcher.fn = fn;
	box->watcher.arg = arg;
	if (!box->watching) {
		box->watcher.next = idx->watchers;
		idx->watchers = &box->watcher;
		box->watching = true;
	}
	return 0;
}
