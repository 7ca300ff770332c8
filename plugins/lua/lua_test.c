/*
 * lua_test.c - `facteurctl filter test MESSAGE.eml [options]`: the rule
 * set of facteurd's config on a saved message, without a server.
 *
 * The stages run in SMTP order with what the options say (client IP,
 * HELO, sender, each recipient), then the message; the tool prints each
 * rule that fired or failed with its score and stage, the total and the
 * action. There is no resolver here: DNS lookups answer "unavailable".
 * Exit status: 0 done, 1 the rules or the message could not be read,
 * 2 wrong arguments.
 *
 * `facteurctl filter bench [--runs N] MESSAGE.eml...` times the whole
 * rule set (every stage, parsing included) on each message N times and
 * prints the median, the 99th percentile and the mean per message, in
 * microseconds: the figure bench/lua.sh reports.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <facteur/arena.h>

#include "lua_plugin.h"

static void
lua_test_usage(void)
{
	fprintf(stderr, "usage: facteurctl filter test MESSAGE.eml [--from "
	    "ADDR] [--rcpt ADDR]... [--ip IP] [--helo NAME] [--user NAME] "
	    "[--tls]\n");
}

/* The first verdict before DATA: SMTP would have ended there. */
static enum lua_action lua_test_early;
static enum lua_stage lua_test_early_stage;
static const char *lua_test_early_reply;

/* Prints the hits of this stage. A rejection or temporary failure
 * before DATA is noted, and the rules of the later stages still run so
 * that every rule is seen. */
static void
lua_test_stage(struct lua_msg *m, enum lua_stage st, struct lua_hit **seen)
{
	struct lua_hit *h;

	(void)lua_engine_run(m, st, NULL, NULL);
	for (h = *seen != NULL ? (*seen)->next : m->hits; h != NULL;
	    h = h->next) {
		if (h->failed != NULL)
			printf("%-24s %8s  %-7s failed: %s\n", h->name, "-",
			    lua_stage_name(st), h->failed);
		else
			printf("%-24s %8.2f  %s\n", h->name, h->score,
			    lua_stage_name(st));
		*seen = h;
	}
	if (st != LUA_STAGE_DATA && (m->forced == LUA_ACTION_REJECT ||
	    m->forced == LUA_ACTION_GREYLIST)) {
		if (lua_test_early == LUA_ACTION_NONE) {
			lua_test_early = m->forced;
			lua_test_early_stage = st;
			lua_test_early_reply = m->forced_reply;
		}
		m->forced = LUA_ACTION_NONE;
		m->forced_reply = NULL;
	}
}

static int
lua_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
lua_bench(const struct lua_conf *conf, int argc, char **argv)
{
	unsigned long runs = 100;
	struct lua_engine *e;
	uint64_t *t, sum = 0;
	const char *err;
	size_t n = 0, i, nfiles = 0;
	int *fds, k, ret = 0;
	unsigned long r;

	fds = fc_calloc((size_t)argc, sizeof(int));
	for (k = 2; k < argc; k++) {
		if (strcmp(argv[k], "--runs") == 0 && k + 1 < argc) {
			runs = strtoul(argv[++k], NULL, 10);
			continue;
		}
		if ((fds[nfiles] = open(argv[k], O_RDONLY)) < 0) {
			fprintf(stderr, "facteurctl: %s: %s\n", argv[k],
			    strerror(errno));
			ret = 1;
			goto out;
		}
		nfiles++;
	}
	if (nfiles == 0 || runs == 0 || runs > 1000000) {
		fprintf(stderr, "usage: facteurctl filter bench [--runs N] "
		    "MESSAGE.eml...\n");
		ret = 2;
		goto out;
	}
	if ((e = lua_engine_new(conf, &err)) == NULL) {
		fprintf(stderr, "facteurctl: %s\n", err);
		ret = 1;
		goto out;
	}
	t = fc_calloc(runs * nfiles, sizeof(*t));
	for (r = 0; r < runs; r++)
		for (i = 0; i < nfiles; i++) {
			struct fc_arena *a = fc_arena_new("lua-bench", 4096);
			struct lua_msg *m = lua_msg_new(e, a);
			static const char *rcpt = "postmaster@example.org";
			uint64_t t0 = lua_now_us();
			enum lua_stage st;
			double required;

			m->id = "bench";
			m->ip = "192.0.2.1";
			m->helo = "client.example.net";
			m->sender = "sender@example.net";
			m->rcpts = &rcpt;
			m->nrcpts = 1;
			for (st = 0; st < LUA_STAGE__COUNT; st++) {
				if (st == LUA_STAGE_DATA) {
					m->fd = fds[i];
					m->size = (uint64_t)lseek(fds[i], 0,
					    SEEK_END);
				}
				(void)lua_engine_run(m, st, NULL, NULL);
				/* as in SMTP: that command only */
				if (st != LUA_STAGE_DATA && (m->forced ==
				    LUA_ACTION_REJECT || m->forced ==
				    LUA_ACTION_GREYLIST))
					m->forced = LUA_ACTION_NONE;
			}
			(void)lua_engine_verdict(m, &required);
			t[n] = lua_now_us() - t0;
			sum += t[n++];
			fc_arena_free(&a);
		}
	qsort(t, n, sizeof(*t), lua_cmp_u64);
	printf("messages %zu runs %lu rules %zu median_us %llu p99_us %llu "
	    "mean_us %.1f\n", nfiles, runs, e->nrules,
	    (unsigned long long)t[n / 2],
	    (unsigned long long)t[n * 99 / 100 < n ? n * 99 / 100 : n - 1],
	    (double)sum / (double)n);
	free(t);
	lua_engine_free(&e);
out:
	for (i = 0; i < nfiles; i++)
		close(fds[i]);
	free(fds);
	return ret;
}

int
lua_test_command(struct fc_core *core, void *arg, int argc, char **argv)
{
	const struct lua_conf *conf = arg;
	struct lua_engine *e;
	struct fc_arena *a;
	struct lua_msg *m;
	struct lua_hit *seen = NULL;
	const char *file = NULL, *err;
	enum lua_action action;
	double required;
	struct stat st;
	int i, fd, ret = 0;
	size_t r, k;

	(void)core;
	if (argc >= 2 && strcmp(argv[1], "bench") == 0)
		return lua_bench(conf, argc, argv);
	if (argc < 3 || strcmp(argv[1], "test") != 0) {
		lua_test_usage();
		return 2;
	}
	a = fc_arena_new("lua-test", 4096);
	if ((e = lua_engine_new(conf, &err)) == NULL) {
		fprintf(stderr, "facteurctl: %s\n", err);
		fc_arena_free(&a);
		return 1;
	}
	m = lua_msg_new(e, a);
	m->id = "test";
	m->ip = "127.0.0.1";
	m->rcpts = fc_arena_alloc(a, (size_t)argc * sizeof(char *));
	for (i = 2; i < argc; i++) {
		const char *opt = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(opt, "--tls") == 0) {
			m->tls = true;
			continue;
		}
		if (opt[0] != '-' && file == NULL) {
			file = opt;
			continue;
		}
		if (val == NULL) {
			lua_test_usage();
			ret = 2;
			goto out;
		}
		if (strcmp(opt, "--from") == 0)
			m->sender = val;
		else if (strcmp(opt, "--rcpt") == 0)
			m->rcpts[m->nrcpts++] = val;
		else if (strcmp(opt, "--ip") == 0)
			m->ip = val;
		else if (strcmp(opt, "--helo") == 0)
			m->helo = val;
		else if (strcmp(opt, "--user") == 0)
			m->user = val;
		else {
			lua_test_usage();
			ret = 2;
			goto out;
		}
		i++;
	}
	if (file == NULL) {
		lua_test_usage();
		ret = 2;
		goto out;
	}
	if ((fd = open(file, O_RDONLY)) < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "facteurctl: %s: %s\n", file, strerror(errno));
		ret = 1;
		goto out;
	}
	if (m->sender == NULL)
		m->sender = "sender@example.org";
	if (m->nrcpts == 0)
		m->rcpts[m->nrcpts++] = "postmaster@example.org";
	if (m->helo == NULL)
		m->helo = "client.example.org";
	printf("%-24s %8s  %s\n", "rule", "score", "stage");
	r = m->nrcpts;
	lua_test_early = LUA_ACTION_NONE;
	lua_test_stage(m, LUA_STAGE_CONNECT, &seen);
	lua_test_stage(m, LUA_STAGE_HELO, &seen);
	lua_test_stage(m, LUA_STAGE_MAIL, &seen);
	/* RCPT once per recipient, seeing those so far */
	for (k = 1; k <= r; k++) {
		m->nrcpts = k;
		lua_test_stage(m, LUA_STAGE_RCPT, &seen);
	}
	m->fd = fd;
	m->size = (uint64_t)st.st_size;
	lua_test_stage(m, LUA_STAGE_DATA, &seen);
	action = lua_engine_verdict(m, &required);
	printf("total %.2f\n", m->total);
	if (lua_test_early != LUA_ACTION_NONE)
		printf("action %s at %s%s%s\n", lua_action_name(lua_test_early),
		    lua_stage_name(lua_test_early_stage),
		    lua_test_early_reply != NULL ? ": " : "",
		    lua_test_early_reply != NULL ? lua_test_early_reply : "");
	else {
		printf("action %s", lua_action_name(action));
		if (m->forced != LUA_ACTION_NONE)
			printf(" (forced)");
		else if (isfinite(required))
			printf(" (required %.2f)", required);
		printf("\n");
	}
	printf("time %llu us\n", (unsigned long long)m->time_us);
	close(fd);
out:
	lua_engine_free(&e);
	fc_arena_free(&a);
	return ret;
}
