/*
 * storage_bench.c - the storage benchmark's helper (bench/storage.sh):
 * appends and opens through the storage API, against the maildir module,
 * timed from inside so that process start-up does not count.
 *
 *	storage_bench init [fsync|nofsync]
 *		makes a scratch store under $TMPDIR, prints its folder
 *	storage_bench append DIR COUNT SIZE PROCS [MAILBOX]
 *		PROCS processes append COUNT messages of SIZE bytes in all,
 *		each asking for its UID (IMAP APPEND's path)
 *	storage_bench open DIR [MAILBOX]
 *		opens the mailbox in this fresh process and counts it
 *	storage_bench newsync DIR COUNT [MAILBOX]
 *		opens the mailbox, then writes COUNT messages into new/ as
 *		another MDA would, and times the first sync that takes them
 *	storage_bench rmindex DIR [MAILBOX]
 *		removes the folder's facteur-uidlist and facteur-log
 * Each command prints one JSON line. Memory is this process's RSS and
 * PSS from /proc/self/smaps_rollup, before and after the timed part.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/storage.h>

#include "core.h"
#include "storage_env.h"

#define USER	"bench@example.org"

static struct senv env;

static double
bench_now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* RSS and PSS of this process in KiB. */
static void
bench_mem(long *rss, long *pss)
{
	char line[256];
	FILE *f = fopen("/proc/self/smaps_rollup", "r");

	*rss = *pss = -1;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		sscanf(line, "Rss: %ld kB", rss);
		sscanf(line, "Pss: %ld kB", pss);
	}
	if (f != NULL)
		fclose(f);
}

static char *
bench_message(unsigned int proc, unsigned int n, size_t size, size_t *len_r)
{
	char *text = malloc(size + 1);
	size_t len, i;

	if (text == NULL)
		abort();
	len = (size_t)snprintf(text, size + 1, "From: bench@example.org\r\n"
	    "Subject: bench %u-%u\r\nMessage-ID: <%u.%u@bench>\r\n\r\n", proc,
	    n, proc, n);
	for (i = len; i < size; i++)
		text[i] = (i + 2) % 72 == 0 ? '\r' : (i + 1) % 72 == 0 ? '\n' :
		    'a' + (char)(i % 26);
	if (size >= 2) {
		text[size - 2] = '\r';
		text[size - 1] = '\n';
	}
	text[size] = '\0';
	*len_r = size;
	return text;
}

static int
bench_init(const char *how)
{
	const char *extra = how != NULL && strcmp(how, "nofsync") == 0 ?
	    "fsync no;" : "";

	if (senv_setup(&env, "storage-bench", USER ":{PLAIN}bench\n",
	    extra) < 0)
		return 1;
	/* make the store (INBOX, the special-use mailboxes) now */
	{
		struct fc_store *st = senv_store(&env, USER);

		if (st == NULL)
			return 1;
		fc_store_close(&st);
	}
	printf("%s\n", env.dir);
	senv_teardown(&env, true);
	return 0;
}

static int
bench_append_one(unsigned int proc, unsigned int count, size_t size,
    const char *box)
{
	struct fc_store *st = senv_store(&env, USER);
	unsigned int n;
	uint32_t uid;
	size_t len;
	char *text;

	if (st == NULL)
		return 1;
	for (n = 0; n < count; n++) {
		text = bench_message(proc, n, size, &len);
		if (sx_append(st, box, 0, NULL, 0, text, len, NULL, &uid) < 0) {
			const char *why;

			fc_store_error(st, &why);
			fprintf(stderr, "append: %s\n", why);
			free(text);
			return 1;
		}
		free(text);
	}
	fc_store_close(&st);
	return 0;
}

static int
bench_append(unsigned int count, size_t size, unsigned int procs,
    const char *box)
{
	pid_t pids[64];
	int go[2], status, failed = 0;
	unsigned int k;
	double t0, t1;
	char c = 'g';

	if (procs < 1 || procs > 64 || pipe(go) < 0)
		return 1;
	fflush(stdout);
	for (k = 0; k < procs; k++) {
		if ((pids[k] = fork()) == 0) {
			close(go[1]);
			/* wait for the start, all together */
			if (read(go[0], &c, 1) != 1)
				_exit(1);
			_exit(bench_append_one(k, count / procs + (k < count %
			    procs ? 1 : 0), size, box));
		}
	}
	close(go[0]);
	usleep(100000);
	t0 = bench_now();
	for (k = 0; k < procs; k++)
		if (write(go[1], &c, 1) != 1)
			failed = 1;
	close(go[1]);
	for (k = 0; k < procs; k++)
		if (waitpid(pids[k], &status, 0) != pids[k] || !WIFEXITED(status)
		    || WEXITSTATUS(status) != 0)
			failed = 1;
	t1 = bench_now();
	printf("{\"what\": \"append\", \"messages\": %u, \"size\": %zu, "
	    "\"processes\": %u, \"seconds\": %.3f, \"per_second\": %.1f, "
	    "\"failed\": %d}\n", count, size, procs, t1 - t0,
	    (double)count / (t1 - t0), failed);
	return failed;
}

static int
bench_open(const char *box)
{
	struct fc_store *st;
	struct fc_mailbox *mb;
	long rss0, pss0, rss1, pss1;
	double t0, t1;

	bench_mem(&rss0, &pss0);
	t0 = bench_now();
	if ((st = senv_store(&env, USER)) == NULL || fc_mailbox_open(st, box,
	    FC_OPEN_READONLY, &mb) < 0)
		return 1;
	t1 = bench_now();
	bench_mem(&rss1, &pss1);
	printf("{\"what\": \"open\", \"messages\": %u, \"seconds\": %.4f, "
	    "\"rss_kib\": %ld, \"pss_kib\": %ld, \"rss_growth_kib\": %ld, "
	    "\"pss_growth_kib\": %ld}\n", fc_mailbox_count(mb), t1 - t0,
	    rss1, pss1, rss1 - rss0, pss1 - pss0);
	fc_mailbox_close(&mb);
	fc_store_close(&st);
	return 0;
}

static int
bench_newsync(unsigned int count, const char *box)
{
	struct fc_store *st;
	struct fc_mailbox *mb;
	long rss0, pss0, rss1, pss1;
	char path[8192], *text;
	const char *folder;
	unsigned int n, before;
	size_t len;
	double t0, t1;

	if ((st = senv_store(&env, USER)) == NULL || fc_mailbox_open(st, box,
	    FC_OPEN_READONLY, &mb) < 0)
		return 1;
	before = fc_mailbox_count(mb);
	folder = senv_folder(&env, USER, box);
	/* another MDA's names: no S= nor W= */
	for (n = 0; n < count; n++) {
		snprintf(path, sizeof(path), "%s/new/%ld.M%uP1.othermda",
		    folder, (long)time(NULL), n);
		text = bench_message(99, n, 4096, &len);
		if (sx_write_file(path, text, len) < 0) {
			fprintf(stderr, "%s: %s\n", path, strerror(errno));
			return 1;
		}
		free(text);
	}
	bench_mem(&rss0, &pss0);
	t0 = bench_now();
	if (fc_mailbox_sync(mb, 0, NULL, NULL) < 0)
		return 1;
	t1 = bench_now();
	bench_mem(&rss1, &pss1);
	printf("{\"what\": \"newsync\", \"before\": %u, \"after\": %u, "
	    "\"seconds\": %.4f, \"rss_kib\": %ld, \"pss_kib\": %ld}\n",
	    before, fc_mailbox_count(mb), t1 - t0, rss1, pss1);
	fc_mailbox_close(&mb);
	fc_store_close(&st);
	return 0;
}

static int
bench_rmindex(const char *box)
{
	char path[8192];
	const char *folder = senv_folder(&env, USER, box);

	snprintf(path, sizeof(path), "%s/facteur-uidlist", folder);
	unlink(path);
	snprintf(path, sizeof(path), "%s/facteur-log", folder);
	unlink(path);
	return 0;
}

static int
usage(void)
{
	fprintf(stderr, "usage: storage_bench init [fsync|nofsync]\n"
	    "       storage_bench append DIR COUNT SIZE PROCS [MAILBOX]\n"
	    "       storage_bench open DIR [MAILBOX]\n"
	    "       storage_bench newsync DIR COUNT [MAILBOX]\n"
	    "       storage_bench rmindex DIR [MAILBOX]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	int ret;

	if (argc >= 2 && strcmp(argv[1], "init") == 0)
		return bench_init(argc > 2 ? argv[2] : NULL);
	if (argc < 3)
		return usage();
	if (senv_attach(&env, argv[2]) < 0)
		return 1;
	if (strcmp(argv[1], "append") == 0 && argc >= 6)
		ret = bench_append((unsigned int)strtoul(argv[3], NULL, 10),
		    strtoul(argv[4], NULL, 10),
		    (unsigned int)strtoul(argv[5], NULL, 10),
		    argc > 6 ? argv[6] : "INBOX");
	else if (strcmp(argv[1], "open") == 0)
		ret = bench_open(argc > 3 ? argv[3] : "INBOX");
	else if (strcmp(argv[1], "newsync") == 0 && argc >= 4)
		ret = bench_newsync((unsigned int)strtoul(argv[3], NULL, 10),
		    argc > 4 ? argv[4] : "INBOX");
	else if (strcmp(argv[1], "rmindex") == 0)
		ret = bench_rmindex(argc > 3 ? argv[3] : "INBOX");
	else
		ret = usage();
	senv_teardown(&env, true);
	return ret;
}
