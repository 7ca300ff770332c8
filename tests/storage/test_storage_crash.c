/*
 * test_storage_crash.c - kill -9 in the middle of appends.
 *
 * A child appends in a loop (most asking for a UID, some delivered into
 * new/ without one, some large, and now and then a flag change on an
 * older message) and, after each fc_append_commit() that succeeded,
 * writes "<uid> <id>" to a pipe (uid 0 for deliveries). The parent
 * SIGKILLs it after a random short time, several rounds over, and after
 * each round opens the folder and checks what the storage API promises
 * a crash leaves:
 *   - every message the child was told is stored is there, intact, at
 *     the UID it was given;
 *   - no partial message is in cur/ or new/ (each message ends with a
 *     trailer line naming it; the whole text follows from its id);
 *   - the index agrees with the folder: the view lists exactly the files
 *     of cur/, new/ is taken in, and a fresh process lists the same;
 *   - UIDs are not given again after the crash;
 *   - the lock of a killed process does not block anyone.
 * CRASH_SEED picks the kill times again (it is printed).
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/storage.h>

#include "core.h"
#include "storage_env.h"
#include "tap.h"

#define USER		"crash@example.org"
#define BOX		"Crash"
#define ROUNDS		6
#define MAX_SENT	100000

static struct senv env;

struct told {
	uint32_t uid;		/* 0: delivered without one */
	char id[32];
};

static struct told told[MAX_SENT];
static size_t ntold;

/* The message of an id: 1 to 3 KiB, every seventh about 300 KiB. */
static char *
crash_text(const char *id, unsigned int n, size_t *len_r)
{
	size_t lines = n % 7 == 6 ? 4000 : 15 + (n * 37) % 30, alloc, len, i;
	char *text;

	alloc = 256 + lines * 80;
	if ((text = malloc(alloc)) == NULL)
		abort();
	len = (size_t)snprintf(text, alloc, "From: crash@example.org\r\n"
	    "Subject: %s\r\n\r\n", id);
	for (i = 0; i < lines; i++)
		len += (size_t)snprintf(text + len, alloc - len, "%s %zu: "
		    "pack my box with five dozen liquor jugs\r\n", id, i);
	len += (size_t)snprintf(text + len, alloc - len, "-- end %s\r\n", id);
	*len_r = len;
	return text;
}

/* "r3-000017" carries its number after the '-'. */
static unsigned int
crash_number(const char *id)
{
	const char *dash = strchr(id, '-');

	return dash != NULL ? (unsigned int)strtoul(dash + 1, NULL, 10) : 0;
}

static char *
crash_stored(const char *id, size_t *len_r)
{
	size_t len, i, o = 0;
	char *text = crash_text(id, crash_number(id), &len);

	for (i = 0; i < len; i++)
		if (!(text[i] == '\r' && i + 1 < len && text[i + 1] == '\n'))
			text[o++] = text[i];
	text[o] = '\0';
	*len_r = o;
	return text;
}

/* The id in a message's Subject, into buf. */
static bool
crash_id_of(const char *text, char *buf, size_t size)
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

/* Is this stored text whole: the text of its id, to the trailer? */
static bool
crash_whole(const char *text, size_t len, char *id, size_t idsize)
{
	char trailer[64], *want;
	size_t wlen;
	bool good;

	if (!crash_id_of(text, id, idsize))
		return false;
	snprintf(trailer, sizeof(trailer), "-- end %s\n", id);
	if (len < strlen(trailer) || strcmp(text + len - strlen(trailer),
	    trailer) != 0)
		return false;
	want = crash_stored(id, &wlen);
	good = len == wlen && memcmp(text, want, len) == 0;
	free(want);
	return good;
}

static void
crash_child(int round, int fd)
{
	struct fc_store *st = senv_store(&env, USER);
	struct fc_mailbox *box = NULL;
	struct fc_append *ap;
	unsigned int n;
	uint32_t uid, seq;
	char id[32], line[64], *text;
	size_t len;

	if (st == NULL)
		_exit(2);
	fc_mailbox_open(st, BOX, 0, &box);
	for (n = 0;; n++) {
		bool want_uid = n % 5 != 4;

		snprintf(id, sizeof(id), "r%d-%06u", round, n);
		text = crash_text(id, n, &len);
		uid = 0;
		if (fc_append_begin(st, BOX, 0, NULL, 0, &ap) == 0
		    && fc_append_write(ap, text, len) == 0
		    && fc_append_commit(&ap, NULL, want_uid ? &uid : NULL)
		    == 0) {
			int l = snprintf(line, sizeof(line), "%u %s\n", uid,
			    id);

			if (write(fd, line, (size_t)l) != l)
				_exit(3);
		} else
			fc_append_abort(&ap);
		free(text);
		/* a flag change now and then: a rename to be caught in */
		if (box != NULL && n % 3 == 1 && fc_mailbox_sync(box, 0, NULL,
		    NULL) == 0 && fc_mailbox_count(box) > 0) {
			seq = 1 + n % fc_mailbox_count(box);
			fc_mailbox_store(box, &seq, 1, n % 2 ? FC_STORE_ADD :
			    FC_STORE_REMOVE, FC_FLAG_SEEN, NULL, 0, NULL, NULL,
			    NULL);
		}
	}
}

/* Reads "<uid> <id>" lines until the pipe closes. */
static void
crash_read(int fd, char *buf, size_t size, size_t *have)
{
	ssize_t n;
	char *nl;

	while ((n = read(fd, buf + *have, size - 1 - *have)) > 0) {
		*have += (size_t)n;
		buf[*have] = '\0';
		while ((nl = strchr(buf, '\n')) != NULL) {
			unsigned int uid;
			char id[32];

			*nl = '\0';
			if (sscanf(buf, "%u %31s", &uid, id) == 2
			    && ntold < MAX_SENT) {
				told[ntold].uid = uid;
				snprintf(told[ntold].id, sizeof(told[ntold].id),
				    "%s", id);
				ntold++;
			}
			*have -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, *have + 1);
		}
	}
}

/* Runs one round: the child appends, and is killed after ms. */
static bool
crash_round(int round, unsigned int ms)
{
	char buf[8192];
	size_t have = 0;
	int p[2], status;
	pid_t pid;

	if (pipe(p) < 0)
		return false;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		crash_child(round, p[1]);
		_exit(0);
	}
	close(p[1]);
	usleep(ms * 1000);
	kill(pid, SIGKILL);
	crash_read(p[0], buf, sizeof(buf), &have);
	close(p[0]);
	return waitpid(pid, &status, 0) == pid && WIFSIGNALED(status)
	    && WTERMSIG(status) == SIGKILL;
}

/* In the fresh process: the UIDs of the folder, one a line. */
static int
crash_fresh_main(const char *dir)
{
	struct fc_store *st;
	struct fc_mailbox *box;
	uint32_t seq;

	if (senv_attach(&env, dir) < 0 || (st = senv_store(&env, USER)) ==
	    NULL || fc_mailbox_open(st, BOX, FC_OPEN_READONLY, &box) < 0)
		return 1;
	for (seq = 1; seq <= fc_mailbox_count(box); seq++)
		printf("%u\n", fc_msg_uid(box, seq));
	fc_mailbox_close(&box);
	fc_store_close(&st);
	senv_teardown(&env, true);
	return 0;
}

/* The UIDs of a fresh process's open, into a file, one a line. */
static bool
crash_fresh_listing(const char *path)
{
	int fd, status;
	pid_t pid;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return false;
	pid = senv_spawn_fresh(&env, "uids", fd);
	close(fd);
	return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)
	    && WEXITSTATUS(status) == 0;
}

/* Every file of cur/ or new/: whole? (A partial one is counted.) */
static size_t
crash_partial_files(const char *folder, size_t *nfiles_r)
{
	static const char *const subs[] = { "cur", "new" };
	char dir[4096], path[8192], id[32], **names, *text;
	size_t n, i, k, bad = 0, len;

	*nfiles_r = 0;
	for (k = 0; k < 2; k++) {
		snprintf(dir, sizeof(dir), "%s/%s", folder, subs[k]);
		names = sx_list_dir(dir, &n);
		for (i = 0; i < n; i++) {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
			text = sx_read_file(path, &len);
			if (text == NULL || !crash_whole(text, len, id,
			    sizeof(id))) {
				if (bad++ < 5)
					diag("%s/%s is not a whole message",
					    subs[k], names[i]);
			}
			free(text);
		}
		*nfiles_r += n;
		sx_free_names(names, n);
	}
	return bad;
}

static void
crash_check(int round, struct fc_store *st, uint32_t *max_uid)
{
	const char *folder = senv_folder(&env, USER, BOX);
	struct fc_mailbox *box;
	size_t i, missing = 0, damaged = 0, nfiles, partial, ncur, nnew;
	size_t ntmp, reused = 0;
	uint32_t seq, n, prev_max = *max_uid;
	char dir[4096], **names, *text, id[32], path[4096];
	size_t len;
	bool listing_same = true;

	/* the database may still be running the killed child's last
	 * call (it learns the child is gone when it answers): let that
	 * end, committed or not, before the views are compared */
	if (senv_pgsql())
		usleep(300 * 1000);
	/* before anything opens it: the files as the crash left them */
	if (!senv_pgsql()) {		/* maildir's files */
		partial = crash_partial_files(folder, &nfiles);
		is_int((long long)partial, 0, "round %d: no partial message "
		    "in cur/ or new/ (%zu files)", round, nfiles);
	}

	if (!ok(fc_mailbox_open(st, BOX, 0, &box) == 0, "round %d: the "
	    "folder opens (the killed process's lock is gone)", round))
		return;
	n = fc_mailbox_count(box);
	for (i = 0; i < ntold; i++) {
		if (told[i].uid == 0)
			continue;
		seq = fc_mailbox_seq(box, told[i].uid);
		text = seq != 0 ? sx_read_msg(box, seq, &len) : NULL;
		if (text == NULL) {
			if (missing++ < 5)
				diag("UID %u (%s) is missing", told[i].uid,
				    told[i].id);
		} else if (!crash_whole(text, len, id, sizeof(id))
		    || strcmp(id, told[i].id) != 0) {
			if (damaged++ < 5)
				diag("UID %u is not %s, whole", told[i].uid,
				    told[i].id);
		}
		free(text);
	}
	/* deliveries: by id */
	for (seq = 1; seq <= n; seq++) {
		text = sx_read_msg(box, seq, &len);
		if (text == NULL || !crash_whole(text, len, id, sizeof(id))) {
			if (damaged++ < 5)
				diag("message %u (UID %u) is not whole", seq,
				    fc_msg_uid(box, seq));
		} else
			for (i = 0; i < ntold; i++)
				if (told[i].uid == 0 && strcmp(told[i].id,
				    id) == 0)
					told[i].uid = fc_msg_uid(box, seq);
		free(text);
	}
	for (i = 0; i < ntold; i++)
		if (told[i].uid == 0 && missing++ < 5)
			diag("%s, delivered, is missing", told[i].id);
	is_int((long long)missing, 0, "round %d: every message the child was "
	    "told is stored is there (%zu told, %u in the view)", round,
	    ntold, n);
	is_int((long long)damaged, 0, "round %d: each is whole, at the UID "
	    "it was given", round);

	/* UIDs of this round's appends are above everything seen before */
	for (i = 0; i < ntold; i++)
		if (told[i].id[1] - '0' == round && told[i].uid <= prev_max
		    && told[i].uid != 0)
			reused++;
	is_int((long long)reused, 0, "round %d: no UID given in this round "
	    "was seen before it", round);
	for (seq = 1; seq <= n; seq++)
		if (fc_msg_uid(box, seq) > *max_uid)
			*max_uid = fc_msg_uid(box, seq);

	/* the index and the folder agree */
	if (senv_pgsql())
		goto fresh;
	snprintf(dir, sizeof(dir), "%s/cur", folder);
	names = sx_list_dir(dir, &ncur);
	for (seq = 1; seq <= n; seq++) {
		const char *guid = fc_msg_guid(box, seq);
		size_t k, hits = 0;

		for (k = 0; k < ncur; k++)
			if (strncmp(names[k], guid, strlen(guid)) == 0
			    && names[k][strlen(guid)] == ':')
				hits++;
		if (hits != 1)
			listing_same = false;
	}
	sx_free_names(names, ncur);
	snprintf(dir, sizeof(dir), "%s/new", folder);
	names = sx_list_dir(dir, &nnew);
	sx_free_names(names, nnew);
	snprintf(dir, sizeof(dir), "%s/tmp", folder);
	names = sx_list_dir(dir, &ntmp);
	sx_free_names(names, ntmp);
	ok(listing_same && ncur == n && nnew == 0, "round %d: the view lists "
	    "exactly the files of cur/ (%u messages, %zu files, %zu left in "
	    "new/)", round, n, ncur, nnew);
	ok(ntmp <= (size_t)round + 1, "round %d: at most one file per crash "
	    "is left in tmp/ (%zu)", round, ntmp);
fresh:

	snprintf(path, sizeof(path), "%s/fresh-uids", env.dir);
	if (crash_fresh_listing(path)) {
		FILE *f = fopen(path, "r");
		unsigned int uid;
		bool same = f != NULL;

		for (seq = 1; same && seq <= n; seq++)
			same = fscanf(f, "%u", &uid) == 1 && uid ==
			    fc_msg_uid(box, seq);
		if (same && fscanf(f, "%u", &uid) == 1)
			same = false;
		if (f != NULL)
			fclose(f);
		ok(same, "round %d: a fresh process lists the same UIDs",
		    round);
	} else
		ok(false, "round %d: a fresh process opens the folder", round);
	fc_mailbox_close(&box);
}

/* The folder is made by another process, so that this one's first open
 * after a crash reads the files from scratch. */
static bool
crash_create(void)
{
	int status;
	pid_t pid;

	fflush(stdout);
	if ((pid = fork()) == 0) {
		struct fc_store *st = senv_store(&env, USER);
		int ret = st != NULL && fc_store_create(st, BOX, 0) == 0 ?
		    0 : 1;

		fc_store_close(&st);
		_exit(ret);
	}
	return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)
	    && WEXITSTATUS(status) == 0;
}

int
main(int argc, char **argv)
{
	const char *seedenv = getenv("CRASH_SEED");
	unsigned int seed = seedenv != NULL ? (unsigned int)atoi(seedenv) :
	    (unsigned int)time(NULL) ^ (unsigned int)getpid();
	struct fc_store *st = NULL;
	uint32_t max_uid = 0;
	int round;

	if (argc == 4 && strcmp(argv[1], SENV_FRESH_ARG) == 0)
		return crash_fresh_main(argv[2]);
	if (getenv("FACTEUR_MODULE_PATH") == NULL) {
		printf("1..0 # SKIP FACTEUR_MODULE_PATH is not set (run me "
		    "from make check)\n");
		return 0;
	}
	if (senv_setup(&env, "crash", USER ":{PLAIN}secret\n", NULL) < 0) {
		printf("1..0 # SKIP cannot set up a store\n");
		return 99;
	}
	/* a run that hangs on a stale lock fails rather than waits */
	alarm(120);
	if (!ok(crash_create() && (st = senv_store(&env, USER)) != NULL,
	    "the folder is created")) {
		senv_teardown(&env, true);
		return done();
	}
	diag("CRASH_SEED=%u", seed);
	srand(seed);
	for (round = 0; round < ROUNDS; round++) {
		unsigned int ms = 30 + (unsigned int)rand() % 400;
		size_t before = ntold;
		bool killed = crash_round(round, ms);

		ok(killed, "round %d: the child was killed after %u ms, %zu "
		    "appends in", round, ms, ntold - before);
		if (ntold == before)
			diag("round %d: the child appended nothing", round);
		crash_check(round, st, &max_uid);
	}
	fc_store_close(&st);
	senv_teardown(&env, getenv("STORAGE_TEST_KEEP") != NULL);
	return done();
}
