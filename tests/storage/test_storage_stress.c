/*
 * test_storage_stress.c - several processes on one maildir folder at
 * once, for STRESS_SECONDS (default 30): two "IMAP sessions" that append
 * (asking for UIDs), expunge some of their own messages, set \Seen on
 * anyone's and read messages back, and one "delivery agent" that commits
 * without asking for a UID (into new/, as SMTP delivery does).
 *
 * Each process writes what it was told to a record file of its own:
 *	A <uid> <id>	appended, with this UID
 *	D <id>		delivered (no UID asked)
 *	X <uid>		expunged by me, and gone from my view
 *	E <text>	something went wrong
 * Every message carries its id in its Subject and a trailer line, and
 * its text follows from the id alone, so damage shows. At the end a
 * fresh open must hold exactly the messages appended or delivered and
 * not expunged, each once, intact and under the UID it was given; UIDs
 * are unique and go up in each process's order and in the folder's log.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
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

#define USER		"stress@example.org"
#define BOX		"Stress"
#define NPROC		3		/* two sessions and a delivery agent */
#define DELIVERER	2

static struct senv env;

/* The text of the message with this id: its length follows from it. */
static char *
stress_text(const char *id, size_t *len_r)
{
	unsigned int h = 5381, lines, i;
	size_t len, alloc;
	const char *p;
	char *text;

	for (p = id; *p != '\0'; p++)
		h = h * 33 + (unsigned char)*p;
	lines = h % 60;
	alloc = 256 + (size_t)lines * 80;
	text = malloc(alloc);
	if (text == NULL)
		abort();
	len = (size_t)snprintf(text, alloc, "From: stress@example.org\r\n"
	    "Subject: %s\r\nMessage-ID: <%s@stress>\r\n\r\n", id, id);
	for (i = 0; i < lines; i++)
		len += (size_t)snprintf(text + len, alloc - len, "%s line %u "
		    "of %u: the quick brown fox jumps\r\n", id, i, lines);
	len += (size_t)snprintf(text + len, alloc - len, "-- end %s\r\n", id);
	*len_r = len;
	return text;
}

/* The same with LF line ends, as the maildir stores it. */
static char *
stress_stored(const char *id, size_t *len_r)
{
	size_t len, i, o = 0;
	char *text = stress_text(id, &len);

	for (i = 0; i < len; i++)
		if (!(text[i] == '\r' && i + 1 < len && text[i + 1] == '\n'))
			text[o++] = text[i];
	text[o] = '\0';
	*len_r = o;
	return text;
}

/* The id in a stored message's Subject, into buf; false if none. */
static bool
stress_id_of(const char *text, char *buf, size_t size)
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

static void
rec(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
rec(FILE *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fflush(f);
}

/* Reads one message of the view and checks it against its id. */
static void
stress_check_one(FILE *f, struct fc_mailbox *box, uint32_t seq)
{
	char id[64], *text, *want;
	size_t len, wlen;

	text = sx_read_msg(box, seq, &len);
	if (text == NULL)
		return;		/* expunged meanwhile: fine */
	if (!stress_id_of(text, id, sizeof(id))) {
		rec(f, "E uid %u has no id\n", fc_msg_uid(box, seq));
		free(text);
		return;
	}
	want = stress_stored(id, &wlen);
	if (len != wlen || memcmp(text, want, len) != 0)
		rec(f, "E uid %u (%s) reads back damaged\n",
		    fc_msg_uid(box, seq), id);
	free(want);
	free(text);
}

static double
now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* One "IMAP session": appends, expunges its own, flags anyone's. */
static int
stress_session(int k, double until, FILE *f)
{
	struct fc_store *st = senv_store(&env, USER);
	struct fc_mailbox *box;
	uint32_t *live = NULL, uid, uidv, pick[3], seqs[3];
	size_t nlive = 0, alloc = 0, i, np;
	unsigned int seed = (unsigned int)getpid() * 7919u, n = 0;
	char id[64], *text;
	size_t len;

	if (st == NULL || fc_mailbox_open(st, BOX, 0, &box) < 0) {
		rec(f, "E process %d cannot open the folder\n", k);
		return 1;
	}
	while (now() < until) {
		snprintf(id, sizeof(id), "p%d-%06u", k, n++);
		text = stress_text(id, &len);
		if (sx_append(st, BOX, 0, NULL, 0, text, len, &uidv, &uid) < 0) {
			const char *why;

			fc_store_error(st, &why);
			rec(f, "E append %s: %s\n", id, why);
		} else {
			rec(f, "A %u %s\n", uid, id);
			if (nlive == alloc) {
				alloc = alloc == 0 ? 256 : alloc * 2;
				live = realloc(live, alloc * sizeof(*live));
				if (live == NULL)
					abort();
			}
			live[nlive++] = uid;
		}
		free(text);
		if (fc_mailbox_sync(box, 0, NULL, NULL) < 0)
			rec(f, "E sync failed\n");

		/* expunge three of mine half the time, once I have a few: the
		 * folder stays small enough to remove quickly at the end */
		if (rand_r(&seed) % 2 == 0 && nlive > 50) {
			for (np = 0; np < 3; np++) {
				size_t j = (size_t)rand_r(&seed) % nlive;

				pick[np] = live[j];
				live[j] = live[--nlive];
				seqs[np] = fc_mailbox_seq(box, pick[np]);
				if (seqs[np] == 0)
					rec(f, "E my uid %u is not in my view\n",
					    pick[np]);
			}
			if (fc_mailbox_store(box, seqs, np, FC_STORE_ADD,
			    FC_FLAG_DELETED, NULL, 0, NULL, NULL, NULL) < 0
			    || fc_mailbox_expunge(box, pick, np) < 0) {
				const char *why;

				fc_store_error(st, &why);
				rec(f, "E expunge: %s\n", why);
			}
			fc_mailbox_sync(box, 0, NULL, NULL);
			for (i = 0; i < np; i++) {
				if (fc_mailbox_seq(box, pick[i]) == 0)
					rec(f, "X %u\n", pick[i]);
				else
					rec(f, "E uid %u survived its "
					    "expunge\n", pick[i]);
			}
		}
		/* \Seen on anyone's message: renames under the others */
		if (rand_r(&seed) % 3 == 0 && fc_mailbox_count(box) > 0) {
			seqs[0] = 1 + (uint32_t)rand_r(&seed) %
			    fc_mailbox_count(box);
			if (fc_mailbox_store(box, seqs, 1, FC_STORE_ADD,
			    FC_FLAG_SEEN, NULL, 0, NULL, NULL, NULL) < 0)
				rec(f, "E store \\Seen failed\n");
		}
		/* and read one back */
		if (rand_r(&seed) % 3 == 0 && fc_mailbox_count(box) > 0)
			stress_check_one(f, box, 1 + (uint32_t)rand_r(&seed) %
			    fc_mailbox_count(box));
	}
	fc_mailbox_close(&box);
	fc_store_close(&st);
	free(live);
	return 0;
}

/*
 * The "delivery agent": commits without a UID, into new/. Every 50
 * deliveries it syncs a view of its own: since nobody else writes to
 * new/, the sync must leave it empty (the sessions' appends go to cur/).
 */
static int
stress_deliverer(int k, double until, FILE *f)
{
	struct fc_store *st = senv_store(&env, USER);
	struct fc_mailbox *box;
	struct fc_append *ap;
	unsigned int n = 0, stuck = 0;
	char id[64], *text, dir[4096], **names;
	size_t len, left;

	if (st == NULL || fc_mailbox_open(st, BOX, FC_OPEN_READONLY,
	    &box) < 0) {
		rec(f, "E process %d cannot open the folder\n", k);
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s/new", senv_folder(&env, USER, BOX));
	while (now() < until) {
		snprintf(id, sizeof(id), "d%d-%06u", k, n++);
		text = stress_text(id, &len);
		if (fc_append_begin(st, BOX, 0, NULL, 0, &ap) < 0
		    || fc_append_write(ap, text, len) < 0) {
			fc_append_abort(&ap);
			rec(f, "E deliver %s: begin/write failed\n", id);
		} else if (fc_append_commit(&ap, NULL, NULL) < 0)
			rec(f, "E deliver %s: commit failed\n", id);
		else
			rec(f, "D %s\n", id);
		free(text);
		usleep(15000);
		if (n % 50 != 0)
			continue;
		if (fc_mailbox_sync(box, 0, NULL, NULL) < 0)
			rec(f, "E sync failed\n");
		names = sx_list_dir(dir, &left);
		sx_free_names(names, left);
		if (left > 0 && stuck++ < 3)
			rec(f, "E after %u deliveries and a sync, %zu left in "
			    "new/ without a UID\n", n, left);
	}
	fc_mailbox_close(&box);
	fc_store_close(&st);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Checking */

struct sent {
	char id[64];
	uint32_t uid;		/* 0: delivered without a UID */
	bool expunged;
	bool seen;		/* found at the end */
};

static struct sent *sents;
static size_t nsent, sent_alloc;

static struct sent *
sent_add(const char *id, uint32_t uid)
{
	struct sent *s;

	if (nsent == sent_alloc) {
		sent_alloc = sent_alloc == 0 ? 1024 : sent_alloc * 2;
		sents = realloc(sents, sent_alloc * sizeof(*sents));
		if (sents == NULL)
			abort();
	}
	s = &sents[nsent++];
	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "%s", id);
	s->uid = uid;
	return s;
}

static int
sent_cmp_id(const void *a, const void *b)
{
	return strcmp(((const struct sent *)a)->id,
	    ((const struct sent *)b)->id);
}

static int
sent_cmp_uid(const void *a, const void *b)
{
	uint32_t x = ((const struct sent *)a)->uid;
	uint32_t y = ((const struct sent *)b)->uid;

	return x < y ? -1 : x > y;
}

/* After sents is sorted by id. */
static struct sent *
sent_by_id(const char *id)
{
	struct sent key;

	snprintf(key.id, sizeof(key.id), "%s", id);
	return bsearch(&key, sents, nsent, sizeof(*sents), sent_cmp_id);
}

static int
uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Reads the records; checks each process's UIDs go up. */
static void
check_records(void)
{
	char path[1024], line[256], id[64];
	size_t errors = 0, i, n, nx = 0, bad_x = 0;
	uint32_t *uids, *xs = NULL;
	unsigned int uid;
	int k;

	for (k = 0; k < NPROC; k++) {
		uint32_t last = 0;
		bool increasing = true;
		size_t appended = 0;
		FILE *f;

		snprintf(path, sizeof(path), "%s/rec-%d", env.dir, k);
		if ((f = fopen(path, "r")) == NULL) {
			ok(false, "process %d left a record", k);
			continue;
		}
		while (fgets(line, sizeof(line), f) != NULL) {
			line[strcspn(line, "\n")] = '\0';
			if (sscanf(line, "A %u %63s", &uid, id) == 2) {
				sent_add(id, uid);
				if (uid <= last)
					increasing = false;
				last = uid;
				appended++;
			} else if (sscanf(line, "D %63s", id) == 1) {
				sent_add(id, 0);
				appended++;
			} else if (sscanf(line, "X %u", &uid) == 1) {
				xs = realloc(xs, (nx + 1) * sizeof(*xs));
				if (xs == NULL)
					abort();
				xs[nx++] = uid;
			} else if (line[0] == 'E') {
				if (errors++ < 10)
					diag("process %d: %s", k, line + 2);
			}
		}
		fclose(f);
		if (k != DELIVERER)
			ok(increasing, "process %d: the UIDs it was given go "
			    "up (%zu appends)", k, appended);
		else
			ok(appended > 0, "process %d delivered %zu messages",
			    k, appended);
	}
	is_int((long long)errors, 0, "no process met an error");

	/* every UID was given once */
	uids = calloc(nsent + 1, sizeof(*uids));
	for (i = 0, n = 0; i < nsent; i++)
		if (sents[i].uid != 0)
			uids[n++] = sents[i].uid;
	qsort(uids, n, sizeof(*uids), uid_cmp);
	for (i = 1; i < n; i++)
		if (uids[i] == uids[i - 1]) {
			diag("UID %u was given twice", uids[i]);
			break;
		}
	ok(n < 2 || i == n, "no UID was given twice (%zu UIDs)", n);
	free(uids);

	qsort(sents, nsent, sizeof(*sents), sent_cmp_uid);
	for (i = 0; i < nx; i++) {
		struct sent key, *s;

		key.uid = xs[i];
		s = xs[i] == 0 ? NULL : bsearch(&key, sents, nsent,
		    sizeof(*sents), sent_cmp_uid);
		if (s == NULL)
			bad_x++;
		else
			s->expunged = true;
	}
	qsort(sents, nsent, sizeof(*sents), sent_cmp_id);
	ok(bad_x == 0, "every expunge names a UID that was appended (%zu "
	    "expunged)", nx);
	free(xs);
}

/* The '+' lines of the folder's log: UIDs in the order written. */
static void
check_log(void)
{
	char path[1024], line[2048];
	unsigned int uid, last = 0;
	bool increasing = true;
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/facteur-log", senv_folder(&env, USER,
	    BOX));
	if ((f = fopen(path, "r")) == NULL) {
		ok(false, "the folder has a log");
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "+ %u", &uid) != 1)
			continue;
		if (uid <= last) {
			if (increasing)
				diag("log: UID %u after %u", uid, last);
			increasing = false;
		}
		last = uid;
		n++;
	}
	fclose(f);
	ok(increasing, "the folder's log gives UIDs in increasing order (%zu "
	    "since its last compaction)", n);
}

/* The first open of the folder in this process, after the others are
 * done: exactly what should be there, intact. */
static void
check_folder(void)
{
	struct fc_store *st = senv_store(&env, USER);
	struct fc_mailbox *box;
	const char *folder = senv_folder(&env, USER, BOX);
	size_t unknown = 0, dup = 0, damaged = 0, wrong_uid = 0, lost = 0;
	size_t resurrected = 0, i, len, wlen, ncur, nnew, ntmp;
	uint32_t seq, n;
	char id[64], *text, *want, dir[4096], **names;

	if (st == NULL || fc_mailbox_open(st, BOX, FC_OPEN_READONLY, &box) < 0) {
		ok(false, "a fresh process opens the folder");
		fc_store_close(&st);
		return;
	}
	n = fc_mailbox_count(box);
	for (seq = 1; seq <= n; seq++) {
		struct sent *s;

		if (seq > 1 && fc_msg_uid(box, seq) <= fc_msg_uid(box, seq - 1))
			wrong_uid++;
		text = sx_read_msg(box, seq, &len);
		if (text == NULL || !stress_id_of(text, id, sizeof(id))) {
			damaged++;
			free(text);
			continue;
		}
		if ((s = sent_by_id(id)) == NULL) {
			if (unknown++ < 5)
				diag("message %s was never appended", id);
			free(text);
			continue;
		}
		if (s->seen)
			dup++;
		s->seen = true;
		if (s->expunged && resurrected++ < 5)
			diag("%s (UID %u) was expunged, and is there", id,
			    s->uid);
		if (s->uid != 0 && s->uid != fc_msg_uid(box, seq) &&
		    wrong_uid++ < 5)
			diag("%s was given UID %u, is at UID %u", id, s->uid,
			    fc_msg_uid(box, seq));
		want = stress_stored(id, &wlen);
		if (len != wlen || memcmp(text, want, len) != 0)
			damaged++;
		if (fc_msg_size(box, seq, false) != wlen)
			damaged++;
		free(want);
		free(text);
	}
	for (i = 0; i < nsent; i++)
		if (!sents[i].seen && !sents[i].expunged && lost++ < 10)
			diag("%s (UID %u) is missing%s", sents[i].id,
			    sents[i].uid, sents[i].uid == 0 ? " (delivered "
			    "into new/)" : "");
	is_int((long long)lost, 0, "every message appended or delivered, "
	    "and not expunged, is there (%u messages)", n);
	is_int((long long)resurrected, 0, "no expunged message is there");
	is_int((long long)unknown, 0, "nothing else is there");
	is_int((long long)dup, 0, "no message is there twice");
	is_int((long long)damaged, 0, "every message reads back intact");
	is_int((long long)wrong_uid, 0, "each is at the UID it was given, in "
	    "order");
	if (!senv_pgsql()) {		/* maildir's files */
		snprintf(dir, sizeof(dir), "%s/cur", folder);
		names = sx_list_dir(dir, &ncur);
		sx_free_names(names, ncur);
		snprintf(dir, sizeof(dir), "%s/new", folder);
		names = sx_list_dir(dir, &nnew);
		sx_free_names(names, nnew);
		snprintf(dir, sizeof(dir), "%s/tmp", folder);
		names = sx_list_dir(dir, &ntmp);
		sx_free_names(names, ntmp);
		ok(ncur == n && nnew == 0 && ntmp == 0, "the folder holds the "
		    "same: %zu in cur/, %zu in new/, %zu in tmp/", ncur, nnew,
		    ntmp);
	}
	fc_mailbox_close(&box);
	fc_store_close(&st);
}

int
main(void)
{
	const char *secs = getenv("STRESS_SECONDS");
	double seconds = secs != NULL ? atof(secs) : 30, until;
	struct fc_store *st;
	pid_t pids[NPROC];
	int k, status;

	if (getenv("FACTEUR_MODULE_PATH") == NULL) {
		printf("1..0 # SKIP FACTEUR_MODULE_PATH is not set (run me "
		    "from make check)\n");
		return 0;
	}
	if (seconds <= 0)
		seconds = 30;
	if (senv_setup(&env, "stress", USER ":{PLAIN}secret\n", NULL) < 0) {
		printf("1..0 # SKIP cannot set up a store\n");
		return 99;
	}
	/* made by another process: this one's open at the end is the
	 * first, from the files alone */
	fflush(stdout);
	if ((pids[0] = fork()) == 0) {
		int ret;

		st = senv_store(&env, USER);
		ret = st != NULL && fc_store_create(st, BOX, 0) == 0 ? 0 : 1;
		fc_store_close(&st);
		_exit(ret);
	}
	if (!ok(pids[0] > 0 && waitpid(pids[0], &status, 0) == pids[0]
	    && WIFEXITED(status) && WEXITSTATUS(status) == 0, "the folder "
	    "is created")) {
		senv_teardown(&env, true);
		return done();
	}
	diag("%d processes for %.0f seconds (STRESS_SECONDS)", NPROC,
	    seconds);
	fflush(stdout);
	until = now() + seconds;
	for (k = 0; k < NPROC; k++) {
		pids[k] = fork();
		if (pids[k] == 0) {
			char path[1024];
			FILE *f;

			snprintf(path, sizeof(path), "%s/rec-%d", env.dir, k);
			if ((f = fopen(path, "w")) == NULL)
				_exit(2);
			_exit(k == DELIVERER ? stress_deliverer(k, until, f) :
			    stress_session(k, until, f));
		}
	}
	for (k = 0; k < NPROC; k++) {
		bool good = pids[k] > 0 && waitpid(pids[k], &status, 0) ==
		    pids[k] && WIFEXITED(status) && WEXITSTATUS(status) == 0;

		ok(good, "process %d ran to its end", k);
	}
	check_records();
	if (!senv_pgsql())		/* maildir's log file */
		check_log();
	check_folder();
	free(sents);
	senv_teardown(&env, getenv("STORAGE_TEST_KEEP") != NULL);
	return done();
}
