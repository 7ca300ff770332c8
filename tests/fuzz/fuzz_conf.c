/*
 * fuzz_conf.c - libFuzzer target for the config file reader
 * (core/conf_parse.c) on arbitrary bytes.
 *
 * The config file is semi-trusted (root writes it, but it may come from a
 * template or a generator), and a reader that crashes on a typo fails
 * every reload. The parser must return a well-formed tree or a
 * "name:line: message" error, never crash or run away.
 * Inputs that contain "include" are left out: an include would read
 * whatever the pattern matches on this machine, which makes runs
 * neither repeatable nor quick. The include code is covered by
 * tests/unit/test_conf_parse.c.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <facteur/arena.h>

#include "conf_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_conf_check(bool cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_conf: %s\n", what);
		abort();
	}
}

/* Walks the tree; returns the number of nodes. */
static size_t
fuzz_conf_walk(const struct fc_conf_node *n, unsigned int depth)
{
	size_t count = 0, i;

	fuzz_conf_check(depth < 64, "tree deeper than the nesting limit");
	for (; n != NULL; n = n->next) {
		fuzz_conf_check(n->name != NULL && n->args != NULL,
		    "node without name or args");
		for (i = 0; i < n->nargs; i++)
			fuzz_conf_check(n->args[i] != NULL, "NULL argument");
		fuzz_conf_check(n->args[n->nargs] == NULL,
		    "args not NULL-terminated");
		fuzz_conf_check(n->line >= 1, "line 0");
		fuzz_conf_check(n->block || n->children == NULL,
		    "children without a block");
		count += 1 + fuzz_conf_walk(n->children, depth + 1);
	}
	return count;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char name[] = "fuzz.conf";
	struct fc_conf_node *root = NULL;
	struct fc_arena *a;
	const char *err = NULL;
	int r;

	if (memmem(data, size, "include", 7) != NULL)
		return 0;
	a = fc_arena_new("fuzz", 4096);
	r = fc_conf_parse_text(a, name, "/nonexistent", (const char *)data,
	    size, &root, &err);
	if (r == 0) {
		fuzz_conf_walk(root, 0);
	} else {
		fuzz_conf_check(r == -1, "result neither 0 nor -1");
		fuzz_conf_check(err != NULL &&
		    strncmp(err, name, sizeof(name) - 1) == 0 &&
		    err[sizeof(name) - 1] == ':',
		    "error without file:line");
	}
	fc_arena_free(&a);
	return 0;
}
