/*
 * fuzz_imap_cmd.c - libFuzzer target for the IMAP module's command
 * parser (modules/imap/imap_parse.c).
 *
 * The input is parsed as a whole command; what comes back must hang
 * together: a tag made of tag characters, a name of letters and digits,
 * lists no deeper than IMAP_DEPTH_MAX, string lengths within the input.
 * Every line of the input is also checked for a literal announcement,
 * and every atom is tried as a sequence set, whose membership must
 * agree with its ranges ("$", the saved search result, has none). A
 * list after a first argument is tried as SELECT's parameters
 * (CONDSTORE, QRESYNC).
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <facteur/arena.h>

#include "imap_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_check(bool cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_imap_cmd: %s\n", what);
		abort();
	}
}

static void
fuzz_args(const struct imap_arg *args, size_t n, size_t size, int depth,
    struct fc_arena *a)
{
	struct imap_seqset set;
	size_t i;

	fuzz_check(depth <= IMAP_DEPTH_MAX, "list too deep");
	for (i = 0; i < n; i++) {
		const struct imap_arg *arg = &args[i];

		if (arg->type == IMAP_ARG_LIST) {
			fuzz_args(arg->list, arg->count, size, depth + 1, a);
			continue;
		}
		fuzz_check(arg->len <= size && arg->str != NULL
		    && arg->str[arg->len] == '\0', "string out of bounds");
		if (arg->type == IMAP_ARG_ATOM) {
			fuzz_check(arg->len > 0, "empty atom");
			if (imap_seqset_parse(arg->str, a, &set) == 0
			    && set.saved) {
				/* "$": the whole atom, no ranges */
				fuzz_check(strcmp(arg->str, "$") == 0
				    && set.count == 0, "$ not alone");
			} else if (imap_seqset_parse(arg->str, a, &set) == 0) {
				fuzz_check(set.count > 0, "empty set");
				fuzz_check(imap_seqset_contains(&set,
				    set.ranges[0].lo == 0 ? 7 :
				    set.ranges[0].lo, 7) || set.ranges[0].lo > 7
				    || set.ranges[0].hi > 7,
				    "first range not in its set");
			}
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fc_arena *a = fc_arena_new("fuzz", 4096);
	struct imap_command cmd;
	const char *err = NULL, *p, *end, *nl;
	uint64_t lit;
	bool nonsync;
	size_t marker, i;

	if (imap_parse_command((const char *)data, size, a, &cmd, &err) == 0) {
		fuzz_check(cmd.tag != NULL && *cmd.tag != '\0', "no tag");
		for (i = 0; cmd.name[i] != '\0'; i++)
			fuzz_check((cmd.name[i] >= 'A' && cmd.name[i] <= 'Z')
			    || (cmd.name[i] >= '0' && cmd.name[i] <= '9'),
			    "bad command name");
		fuzz_check(i > 0, "empty command name");
		fuzz_args(cmd.args, cmd.count, size, 0, a);
		if (cmd.count == 2 && cmd.args[1].type == IMAP_ARG_LIST) {
			struct imap_select_params sp;

			err = NULL;
			if (imap_select_params_parse(&cmd.args[1], a, &sp,
			    &err) == 0)
				fuzz_check(sp.condstore || sp.qresync,
				    "select params without a parameter");
			else
				fuzz_check(err != NULL, "select params refused "
				    "without a reason");
		}
	} else
		fuzz_check(err != NULL, "failure without a reason");
	p = (const char *)data;
	end = p + size;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		if (imap_literal_marker(p, (size_t)(nl - p), &lit, &nonsync,
		    &marker) == 1)
			fuzz_check(marker >= 3 && marker <= (size_t)(nl - p)
			    && p[nl - p - marker] == '{', "bad marker");
		p = nl + 1;
	}
	fc_arena_free(&a);
	return 0;
}
