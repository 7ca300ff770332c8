/*
 * test_storage_full.c - a full disk. The users' maildirs are on a tmpfs
 * of 1 MiB, mounted for the test (root only: skipped otherwise, or when
 * the mount is refused) and unmounted at the end whatever happens.
 *
 * The mount is made in a mount namespace of the test's own, so that it
 * goes away with the process even if the test dies without unmounting
 * (a sanitizer's abort runs no atexit handler).
 *
 * Two cases:
 *   - appends until one fails: the failure is FC_ERR_TEMP, every
 *     message acknowledged is intact, none that failed is visible, the
 *     mailbox still opens and reads, and after an expunge frees room,
 *     appends work again;
 *   - the disk fills between the message and its index line: the index
 *     log is brought to a few bytes below a page boundary and a filler
 *     file leaves exactly one free page, which the message takes. The
 *     append must then either succeed whole or fail as if aborted; and
 *     once room is back, later appends must be recorded as usual.
 * Messages carry their id in the Subject and a trailer line, and their
 * whole text follows from the id.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/storage.h>

#include "core.h"
#include "storage_env.h"
#include "tap.h"

#define USER		"full@example.org"
#define MAX_MSGS	2000
#define PAGE		4096

static struct senv env;
static bool mounted;

struct acked {
	uint32_t uid;
	char id[32];
};

static struct acked acked[MAX_MSGS];
static size_t nacked;
static char failed_ids[64][32];
static size_t nfailed;

static void
full_unmount(void)
{
	if (!mounted)
		return;
	if (umount2(env.mail, 0) < 0 && umount2(env.mail, MNT_DETACH) < 0)
		fprintf(stderr, "umount %s: %s\n", env.mail, strerror(errno));
	else
		mounted = false;
}

/* A run that hangs is stopped, and still leaves no mount behind. */
static void
full_alarm(int sig)
{
	(void)sig;
	umount2(env.mail, MNT_DETACH);
	_exit(1);
}

/* A message of about 3 KiB: one page of the tmpfs. */
static char *
full_text(const char *id, size_t *len_r)
{
	size_t alloc = 4096, len, i;
	char *text = malloc(alloc);

	if (text == NULL)
		abort();
	len = (size_t)snprintf(text, alloc, "From: full@example.org\n"
	    "Subject: %s\n\n", id);
	for (i = 0; i < 40; i++)
		len += (size_t)snprintf(text + len, alloc - len, "%s %02zu "
		    "sphinx of black quartz, judge my vow\n", id, i);
	len += (size_t)snprintf(text + len, alloc - len, "-- end %s\n", id);
	*len_r = len;
	return text;
}

static bool
full_id_of(const char *text, char *buf, size_t size)
{
	const char *p = strstr(text, "Subject: "), *e;

	if (p == NULL)
		return false;
	p += 9;
	e = strchr(p, '\n');
	if (e == NULL || (size_t)(e - p) >= size)
		return false;
	memcpy(buf, p, (size_t)(e - p));
	buf[e - p] = '\0';
	return true;
}

static bool
full_whole(const char *text, size_t len, char *id, size_t idsize)
{
	char *want;
	size_t wlen;
	bool good;

	if (!full_id_of(text, id, idsize))
		return false;
	want = full_text(id, &wlen);
	good = len == wlen && memcmp(text, want, len) == 0;
	free(want);
	return good;
}

/* Appends one message; 0, or -1 with the error code in *err_r. */
static int
full_append(struct fc_store *st, const char *id, enum fc_error *err_r)
{
	char *text;
	size_t len;
	uint32_t uid = 0;
	int ret;

	text = full_text(id, &len);
	ret = sx_append(st, "INBOX", 0, NULL, 0, text, len, NULL, &uid);
	free(text);
	if (ret == 0 && nacked < MAX_MSGS) {
		acked[nacked].uid = uid;
		snprintf(acked[nacked].id, sizeof(acked[nacked].id), "%s", id);
		nacked++;
	} else if (ret < 0 && nfailed < 64)
		snprintf(failed_ids[nfailed++], sizeof(failed_ids[0]), "%s",
		    id);
	*err_r = ret == 0 ? FC_ERR_NONE : fc_store_error(st, NULL);
	return ret;
}

static bool
full_was_expunged(uint32_t uid, const uint32_t *gone, size_t ngone)
{
	size_t i;

	for (i = 0; i < ngone; i++)
		if (gone[i] == uid)
			return true;
	return false;
}

/*
 * What must hold at any time: every acknowledged message (not expunged)
 * is there, whole, at its UID; nothing that failed is there; no file in
 * cur/ or new/ is partial; the view lists exactly the files of cur/.
 */
static void
full_check(const char *label, struct fc_store *st, const uint32_t *gone,
    size_t ngone)
{
	const char *root = senv_root(&env, USER);
	struct fc_mailbox *box;
	size_t i, k, missing = 0, damaged = 0, ghosts = 0, partial = 0;
	size_t nfiles = 0, n;
	char dir[4096], path[8192], id[32], **names, *text;
	uint32_t seq, count;
	size_t len;

	if (!ok(fc_mailbox_open(st, "INBOX", FC_OPEN_READONLY, &box) == 0,
	    "%s: INBOX opens", label)) {
		const char *why;

		fc_store_error(st, &why);
		diag("%s", why);
		return;
	}
	count = fc_mailbox_count(box);
	for (i = 0; i < nacked; i++) {
		if (full_was_expunged(acked[i].uid, gone, ngone))
			continue;
		seq = fc_mailbox_seq(box, acked[i].uid);
		text = seq != 0 ? sx_read_msg(box, seq, &len) : NULL;
		if (text == NULL) {
			if (missing++ < 5)
				diag("%s (UID %u) is missing", acked[i].id,
				    acked[i].uid);
		} else if (!full_whole(text, len, id, sizeof(id))
		    || strcmp(id, acked[i].id) != 0)
			damaged++;
		free(text);
	}
	for (seq = 1; seq <= count; seq++) {
		text = sx_read_msg(box, seq, &len);
		if (text != NULL && full_id_of(text, id, sizeof(id)))
			for (i = 0; i < nfailed; i++)
				if (strcmp(id, failed_ids[i]) == 0
				    && ghosts++ < 5)
					diag("%s failed, and is there as UID "
					    "%u", id, fc_msg_uid(box, seq));
		free(text);
	}
	is_int((long long)missing, 0, "%s: every acknowledged message is "
	    "there (%zu acknowledged, %u in INBOX)", label, nacked, count);
	is_int((long long)damaged, 0, "%s: each is intact at its UID", label);
	is_int((long long)ghosts, 0, "%s: no append that failed is there "
	    "(%zu failed)", label, nfailed);
	for (k = 0; k < 2; k++) {
		snprintf(dir, sizeof(dir), "%s/%s", root, k == 0 ? "cur" :
		    "new");
		names = sx_list_dir(dir, &n);
		for (i = 0; i < n; i++) {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
			text = sx_read_file(path, &len);
			if (text == NULL || !full_whole(text, len, id,
			    sizeof(id)))
				partial++;
			free(text);
		}
		if (k == 0)
			nfiles = n;
		sx_free_names(names, n);
	}
	is_int((long long)partial, 0, "%s: no partial message in cur/ or "
	    "new/", label);
	is_int((long long)nfiles, count, "%s: the view lists as many "
	    "messages as cur/ holds", label);
	fc_mailbox_close(&box);
}

/* The tmpfs's free pages. */
static unsigned long
full_free_pages(void)
{
	struct statvfs sv;

	if (statvfs(env.mail, &sv) < 0)
		return 0;
	return (unsigned long)(sv.f_bavail * sv.f_frsize / PAGE);
}

/* Fills the tmpfs with a file, then gives back keep pages of it. */
static int
full_fill(const char *path, unsigned long keep)
{
	static char zero[PAGE];
	off_t size = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	while ((n = write(fd, zero, sizeof(zero))) > 0)
		size += n;
	size = (size / PAGE) * PAGE - (off_t)keep * PAGE;
	if (size < 0 || ftruncate(fd, size) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Expunges n of the acknowledged messages; their UIDs into gone. */
static size_t
full_expunge(struct fc_store *st, size_t n, uint32_t *gone, size_t ngone)
{
	struct fc_mailbox *box;
	uint32_t seqs[16], uids[16];
	size_t i, k = 0;

	if (fc_mailbox_open(st, "INBOX", 0, &box) < 0)
		return ngone;
	for (i = 0; i < nacked && k < n && k < 16; i++) {
		if (full_was_expunged(acked[i].uid, gone, ngone))
			continue;
		if ((seqs[k] = fc_mailbox_seq(box, acked[i].uid)) == 0)
			continue;
		uids[k++] = acked[i].uid;
	}
	if (fc_mailbox_store(box, seqs, k, FC_STORE_ADD, FC_FLAG_DELETED, NULL,
	    0, NULL, NULL, NULL) == 0 && fc_mailbox_expunge(box, uids, k) == 0)
		for (i = 0; i < k; i++)
			gone[ngone++] = uids[i];
	fc_mailbox_close(&box);
	return ngone;
}

static void
full_until_failure(struct fc_store *st, uint32_t *gone, size_t *ngone)
{
	enum fc_error e = FC_ERR_NONE;
	size_t before, n = 0, k, temp = 0;
	char id[32];
	bool good = true;

	while (n < 1000) {
		snprintf(id, sizeof(id), "fill-%04zu", n++);
		if (full_append(st, id, &e) < 0)
			break;
	}
	ok(n < 1000, "fill: an append fails once the disk is full (after "
	    "%zu)", nacked);
	is_int(e, FC_ERR_TEMP, "fill: the failure is FC_ERR_TEMP");
	for (k = 0; k < 5; k++) {
		snprintf(id, sizeof(id), "more-%04zu", k);
		if (full_append(st, id, &e) == 0)
			continue;	/* the failure freed a page */
		if (e == FC_ERR_TEMP)
			temp++;
		else
			good = false;
	}
	ok(good && temp > 0, "fill: more appends on the full disk fail with "
	    "FC_ERR_TEMP too (%zu of 5)", temp);
	full_check("full disk", st, gone, *ngone);

	before = *ngone;
	*ngone = full_expunge(st, 5, gone, *ngone);
	is_int((long long)(*ngone - before), 5, "fill: five messages can be "
	    "expunged on the full disk");
	for (k = 0; k < 3; k++) {
		snprintf(id, sizeof(id), "after-%04zu", k);
		if (full_append(st, id, &e) < 0)
			good = false;
	}
	ok(good, "fill: after the expunge, appends work again");
	full_check("after the expunge", st, gone, *ngone);
}

/* The log is brought to within a few bytes of a page's end. */
static bool
full_log_near_page_end(struct fc_store *st)
{
	char path[4096];
	struct fc_mailbox *box;
	struct stat sb;
	uint32_t seq = 1;
	int i;

	snprintf(path, sizeof(path), "%s/facteur-log", senv_root(&env, USER));
	if (fc_mailbox_open(st, "INBOX", 0, &box) < 0)
		return false;
	for (i = 0; i < 400; i++) {
		size_t left;

		if (stat(path, &sb) < 0)
			break;
		left = PAGE - (size_t)(sb.st_size % PAGE);
		if (left > 0 && left < 80)
			break;
		/* each flag change adds two short lines */
		fc_mailbox_store(box, &seq, 1, i % 2 ? FC_STORE_REMOVE :
		    FC_STORE_ADD, FC_FLAG_FLAGGED, NULL, 0, NULL, NULL, NULL);
	}
	fc_mailbox_close(&box);
	return stat(path, &sb) == 0 && PAGE - sb.st_size % PAGE < 80;
}

static void
full_log_line(struct fc_store *st, uint32_t *gone, size_t *ngonep)
{
	char filler[1024], id[32];
	enum fc_error e;
	unsigned long pages;
	size_t before = nacked, k, ngone;
	int ret;
	bool good = true;

	snprintf(filler, sizeof(filler), "%s/filler", env.mail);
	/* room for the filler, given back at the end */
	*ngonep = full_expunge(st, 10, gone, *ngonep);
	ngone = *ngonep;
	if (!ok(full_log_near_page_end(st), "log line: the index log ends "
	    "a few bytes before a page boundary"))
		return;
	if (full_fill(filler, 1) < 0 || (pages = full_free_pages()) != 1) {
		ok(false, "log line: a filler leaves exactly one free page");
		diag("free pages: %lu", full_free_pages());
		unlink(filler);
		return;
	}
	ok(true, "log line: a filler leaves exactly one free page");
	ret = full_append(st, "edge-0000", &e);
	ok(ret == 0 || e == FC_ERR_TEMP, "log line: the message takes the "
	    "page; the append succeeds, or fails with FC_ERR_TEMP (%s)",
	    ret == 0 ? "succeeded" : "failed");
	full_check("log line, disk full", st, gone, ngone);
	unlink(filler);
	for (k = 0; k < 3; k++) {
		snprintf(id, sizeof(id), "edge-%04zu", k + 1);
		if (full_append(st, id, &e) < 0)
			good = false;
	}
	ok(good && nacked == before + 3 + (ret == 0), "log line: with room "
	    "again, appends work");
	full_check("log line, room again", st, gone, ngone);
}

/* In the fresh process: INBOX's count, and how many do not read whole. */
static int
full_fresh_main(const char *dir)
{
	struct fc_store *st;
	struct fc_mailbox *box;
	unsigned int bad = 0;
	uint32_t seq;
	char id[32], *text;
	size_t len;

	if (senv_attach(&env, dir) < 0 || (st = senv_store(&env, USER)) ==
	    NULL || fc_mailbox_open(st, "INBOX", FC_OPEN_READONLY, &box) < 0)
		return 1;
	for (seq = 1; seq <= fc_mailbox_count(box); seq++) {
		text = sx_read_msg(box, seq, &len);
		if (text == NULL || !full_whole(text, len, id, sizeof(id)))
			bad++;
		free(text);
	}
	printf("%u %u\n", fc_mailbox_count(box), bad);
	fc_mailbox_close(&box);
	fc_store_close(&st);
	senv_teardown(&env, true);
	return 0;
}

/*
 * A fresh process (nothing of the index in memory) lists the same
 * messages as the folder holds, and reads each one whole.
 */
static void
full_fresh(void)
{
	unsigned int listed = 0, unreadable = 0;
	int p[2], status;
	char buf[64] = "", dir[4096], **names;
	size_t ncur;
	ssize_t n;
	pid_t pid;

	if (pipe(p) < 0)
		return;
	pid = senv_spawn_fresh(&env, "inbox", p[1]);
	close(p[1]);
	n = read(p[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(p[0]);
	if (pid > 0)
		waitpid(pid, &status, 0);
	snprintf(dir, sizeof(dir), "%s/cur", senv_root(&env, USER));
	names = sx_list_dir(dir, &ncur);
	sx_free_names(names, ncur);
	if (!ok(sscanf(buf, "%u %u", &listed, &unreadable) == 2, "a fresh "
	    "process opens INBOX"))
		return;
	is_int(listed, (long long)ncur, "a fresh process lists every file of "
	    "cur/");
	is_int(unreadable, 0, "a fresh process reads every message whole");
}

int
main(int argc, char **argv)
{
	struct fc_store *st;
	uint32_t gone[64] = { 0 };
	size_t ngone = 0;

	if (argc == 4 && strcmp(argv[1], SENV_FRESH_ARG) == 0)
		return full_fresh_main(argv[2]);
	if (getenv("FACTEUR_MODULE_PATH") == NULL) {
		printf("1..0 # SKIP FACTEUR_MODULE_PATH is not set (run me "
		    "from make check)\n");
		return 0;
	}
	if (senv_pgsql()) {
		printf("1..0 # SKIP a full disk is the database server's, "
		    "not this process's\n");
		return 0;
	}
	if (geteuid() != 0) {
		printf("1..0 # SKIP mounting a small tmpfs needs root\n");
		return 0;
	}
	if (senv_setup(&env, "full", USER ":{PLAIN}secret\n", NULL) < 0) {
		printf("1..0 # SKIP cannot set up a store\n");
		return 99;
	}
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC |
	    MS_PRIVATE, NULL) < 0) {
		printf("1..0 # SKIP cannot make a mount namespace: %s\n",
		    strerror(errno));
		senv_teardown(&env, false);
		return 0;
	}
	if (mkdir(env.mail, 0700) < 0 || mount("tmpfs", env.mail, "tmpfs",
	    MS_NOSUID | MS_NODEV, "size=1m,mode=0700") < 0) {
		printf("1..0 # SKIP cannot mount a tmpfs on %s: %s\n",
		    env.mail, strerror(errno));
		senv_teardown(&env, false);
		return 0;
	}
	mounted = true;
	atexit(full_unmount);
	signal(SIGALRM, full_alarm);
	alarm(120);

	st = senv_store(&env, USER);
	if (ok(st != NULL, "the store is made on the 1 MiB tmpfs")) {
		full_until_failure(st, gone, &ngone);
		full_log_line(st, gone, &ngone);
		full_fresh();
		fc_store_close(&st);
	}
	full_unmount();
	ok(!mounted, "the tmpfs is unmounted");
	senv_teardown(&env, getenv("STORAGE_TEST_KEEP") != NULL);
	return done();
}
