/*
 * test_imap_parse.c - IMAP command text, literal announcements and
 * sequence sets (modules/imap/imap_parse.c, compiled into this test).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <facteur/arena.h>

#include "imap_parse.h"
#include "tap.h"

#define NELEMS(a)	(sizeof(a) / sizeof((a)[0]))

/* Commands that parse, with their tree written back in a canonical form:
 * atoms as they are, strings in <>, lists in (). */
static const struct {
	const char *in;
	const char *tag, *name, *tree;
} good[] = {
	{ "a1 NOOP", "a1", "NOOP", "" },
	{ "a1 noop", "a1", "NOOP", "" },
	{ "A001 LOGIN alice \"p a\\\"ss\"", "A001", "LOGIN", "alice <p a\"ss>" },
	{ "t LOGIN {5}\r\nalice {3+}\r\nx y", "t", "LOGIN", "<alice> <x y>" },
	{ "t SELECT \"\"", "t", "SELECT", "<>" },
	{ "t FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>)",
	  "t", "FETCH", "1:* (FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>)" },
	{ "t STORE 1 +FLAGS.SILENT (\\Seen \\Deleted)", "t", "STORE",
	  "1 +FLAGS.SILENT (\\Seen \\Deleted)" },
	{ "t SEARCH OR (FROM a) (TO b) NOT DELETED", "t", "SEARCH",
	  "OR (FROM a) (TO b) NOT DELETED" },
	{ "t LIST \"\" %", "t", "LIST", "<> %" },
	{ "t APPEND INBOX () {0}\r\n", "t", "APPEND", "INBOX () <>" },
	{ "t X ((()))", "t", "X", "((()))" },
	{ "t X   a   b  ", "t", "X", "a b" },
	{ "t UID FETCH 1 FLAGS", "t", "UID", "FETCH 1 FLAGS" },
	{ "t X NIL", "t", "X", "NIL" },
	/* literal8 (RFC 3516): APPEND's message, shown in [] */
	{ "t APPEND INBOX ~{3}\r\nabc", "t", "APPEND", "INBOX [abc]" },
	{ "t APPEND INBOX (\\Seen) ~{2+}\r\nxy", "t", "APPEND",
	  "INBOX (\\Seen) [xy]" },
	{ "t APPEND INBOX ~{0}\r\n", "t", "APPEND", "INBOX []" },
	/* a "~" not before "{" is an atom character */
	{ "t SELECT ~user", "t", "SELECT", "~user" },
	{ "t SELECT ~", "t", "SELECT", "~" },
};

static const struct {
	const char *in;
	const char *tag;		/* NULL: none could be read */
} bad[] = {
	{ "", NULL },
	{ " NOOP", NULL },
	{ "a+b NOOP", NULL },
	{ "a", "a" },
	{ "a ", "a" },
	{ "a NO-OP", "a" },
	{ "a X \"unterminated", "a" },
	{ "a X \"bad\\escape\"", "a" },
	{ "a X (a b", "a" },
	{ "a X a)", "a" },
	{ "a X {5}\r\nabc", "a" },
	{ "a X {5}abcde", "a" },
	{ "a X {99999999999999999999}\r\n", "a" },
	{ "a X \"a\"\"b\"", "a" },
	{ "a X (a)(b)", "a" },
	{ "a X BODY[HEADER", "a" },
	{ "a X BODY[)]", "a" },
	{ "a X \001", "a" },
	{ "a X caf\xc3\xa9", "a" },
	/* literal8 only as APPEND's message */
	{ "a LOGIN ~{5}\r\nalice pw", "a" },
	{ "a SELECT ~{5+}\r\nINBOX", "a" },
	{ "a APPEND ~{5}\r\nINBOX {1}\r\nx", "a" },
	{ "a APPEND INBOX ~{1}\r\nx {1}\r\ny", "a" },
	{ "a APPEND INBOX (~{1}\r\nx) {1}\r\ny", "a" },
	{ "a APPEND INBOX ~{5}\r\nabc", "a" },
	{ "a APPEND INBOX ~{}\r\n", "a" },
	{ "a APPEND INBOX ~{3}abc", "a" },
	{ "a APPEND INBOX ~{4294967296}\r\nabc", "a" },
	{ "a APPEND INBOX x~{1}\r\nx", "a" },
};

static void
write_tree(char *out, size_t size, const struct imap_arg *args, size_t n)
{
	size_t i, used;

	for (i = 0; i < n; i++) {
		used = strlen(out);
		if (i > 0)
			snprintf(out + used, size - used, " ");
		used = strlen(out);
		switch (args[i].type) {
		case IMAP_ARG_ATOM:
			snprintf(out + used, size - used, "%s", args[i].str);
			break;
		case IMAP_ARG_QUOTED:
		case IMAP_ARG_LITERAL:
			snprintf(out + used, size - used, "<%s>", args[i].str);
			break;
		case IMAP_ARG_LITERAL8:
			snprintf(out + used, size - used, "[%s]", args[i].str);
			break;
		case IMAP_ARG_LIST:
			snprintf(out + used, size - used, "(");
			write_tree(out, size, args[i].list, args[i].count);
			used = strlen(out);
			snprintf(out + used, size - used, ")");
			break;
		}
	}
}

/* for test names: a command with its CR and LF shown as such */
static const char *
shown(const char *in)
{
	static char buf[256];
	size_t o = 0;

	for (; *in != '\0' && o + 3 < sizeof(buf); in++) {
		if (*in == '\r' || *in == '\n') {
			buf[o++] = '\\';
			buf[o++] = *in == '\r' ? 'r' : 'n';
		} else
			buf[o++] = (unsigned char)*in < 0x20 ? '?' : *in;
	}
	buf[o] = '\0';
	return buf;
}

static void
test_commands(struct fc_arena *a)
{
	struct imap_command cmd;
	const char *err;
	char tree[512];
	size_t i;

	for (i = 0; i < NELEMS(good); i++) {
		const char *in = good[i].in;

		err = NULL;
		if (!ok(imap_parse_command(in, strlen(in), a, &cmd, &err) == 0,
		    "parses: %s", shown(in))) {
			diag("error: %s", err);
			continue;
		}
		is_str(cmd.tag, good[i].tag, "tag of %s", shown(in));
		is_str(cmd.name, good[i].name, "name of %s", shown(in));
		tree[0] = '\0';
		write_tree(tree, sizeof(tree), cmd.args, cmd.count);
		is_str(tree, good[i].tree, "arguments of %s", shown(in));
	}
	for (i = 0; i < NELEMS(bad); i++) {
		const char *in = bad[i].in;

		err = NULL;
		ok(imap_parse_command(in, strlen(in), a, &cmd, &err) < 0
		    && err != NULL, "refused: %s (%s)", shown(in), err != NULL ? err : "");
		if (bad[i].tag == NULL)
			ok(cmd.tag == NULL, "no tag in %s", shown(in));
		else
			ok(cmd.tag != NULL && strcmp(cmd.tag, bad[i].tag) == 0,
			    "tag of %s", shown(in));
	}
}

/* A literal with NUL bytes keeps them; len is the truth. */
static void
test_literal_nul(struct fc_arena *a)
{
	static const char in[] = "t APPEND INBOX {3}\r\na\0b";
	struct imap_command cmd;
	const char *err;

	ok(imap_parse_command(in, sizeof(in) - 1, a, &cmd, &err) == 0
	    && cmd.count == 2 && cmd.args[1].type == IMAP_ARG_LITERAL
	    && cmd.args[1].len == 3 && memcmp(cmd.args[1].str, "a\0b", 3) == 0,
	    "a literal keeps its NUL");
}

/* A literal8 keeps its NULs too; the session tells one by its "~". */
static void
test_literal8(struct fc_arena *a)
{
	static const char in[] = "t APPEND INBOX ~{4}\r\n\0a\0b";
	static const struct {
		const char *line;
		bool binary;
	} m[] = {
		{ "a APPEND INBOX ~{5}", true },
		{ "a APPEND INBOX ~{5+}", true },
		{ "~{5}", true },
		{ "a APPEND INBOX {5}", false },
		{ "a APPEND INBOX x~{5}", false },
		{ "a APPEND INBOX \"~\"{5}", false },
		{ "a APPEND INBOX UTF8 (~{5}", true },
		{ "a APPEND INBOX UTF8 (~{5+}", true },
		{ "a APPEND INBOX UTF8 ({5}", false },
	};
	struct imap_command cmd;
	const char *err;
	uint64_t size;
	bool nonsync;
	size_t i, marker;

	ok(imap_parse_command(in, sizeof(in) - 1, a, &cmd, &err) == 0
	    && cmd.count == 2 && cmd.args[1].type == IMAP_ARG_LITERAL8
	    && cmd.args[1].len == 4 && memcmp(cmd.args[1].str, "\0a\0b", 4)
	    == 0, "a literal8 keeps its NULs");
	for (i = 0; i < NELEMS(m); i++) {
		size_t len = strlen(m[i].line);

		if (!ok(imap_literal_marker(m[i].line, len, &size, &nonsync,
		    &marker) == 1 && size == 5, "marker in %s", m[i].line))
			continue;
		ok(imap_literal_marker_binary(m[i].line, len, marker)
		    == m[i].binary, "%s is %sa literal8", m[i].line,
		    m[i].binary ? "" : "not ");
	}
}

static void
test_depth(struct fc_arena *a)
{
	size_t n = 10000, i;
	char *buf = malloc(2 * n + 16);
	struct imap_command cmd;
	const char *err = NULL;
	size_t len;

	strcpy(buf, "t X ");
	len = strlen(buf);
	for (i = 0; i < n; i++)
		buf[len++] = '(';
	for (i = 0; i < n; i++)
		buf[len++] = ')';
	ok(imap_parse_command(buf, len, a, &cmd, &err) < 0 && err != NULL
	    && strstr(err, "deeply") != NULL,
	    "10,000 nested parentheses are refused (%s)", err != NULL ? err : "");
	/* just at the limit is fine */
	len = 4;
	for (i = 0; i < IMAP_DEPTH_MAX; i++)
		buf[len++] = '(';
	for (i = 0; i < IMAP_DEPTH_MAX; i++)
		buf[len++] = ')';
	ok(imap_parse_command(buf, len, a, &cmd, &err) == 0,
	    "%d nested parentheses are fine", IMAP_DEPTH_MAX);
	free(buf);
}

static void
test_markers(void)
{
	static const struct {
		const char *line;
		int ret;
		uint64_t size;
		bool nonsync;
		size_t marker;
	} m[] = {
		{ "a LOGIN {5}", 1, 5, false, 3 },
		{ "a LOGIN {5+}", 1, 5, true, 4 },
		{ "a APPEND INBOX {4294967296}", 1, 4294967296ULL, false, 12 },
		{ "a APPEND INBOX {18446744073709551615}", -1, 0, false, 0 },
		{ "a APPEND INBOX {99999999999999999999999}", -1, 0, false, 0 },
		{ "a LOGIN {}", 0, 0, false, 0 },
		{ "a LOGIN {+}", 0, 0, false, 0 },
		{ "a LOGIN 5}", 0, 0, false, 0 },
		{ "a LOGIN \"{5}\"", 0, 0, false, 0 },
		{ "}", 0, 0, false, 0 },
		{ "{1}", 1, 1, false, 3 },
	};
	uint64_t size;
	bool nonsync;
	size_t i, marker;
	int ret;

	for (i = 0; i < NELEMS(m); i++) {
		size = 0;
		nonsync = false;
		marker = 0;
		ret = imap_literal_marker(m[i].line, strlen(m[i].line), &size,
		    &nonsync, &marker);
		is_int(ret, m[i].ret, "marker in %s", m[i].line);
		if (ret == 1 && m[i].ret == 1)
			ok(size == m[i].size && nonsync == m[i].nonsync
			    && marker == m[i].marker, "size, kind, length "
			    "of %s", m[i].line);
	}
}

static void
test_seqsets(struct fc_arena *a)
{
	struct imap_seqset set;

	ok(imap_seqset_parse("1:4294967295", a, &set) == 0 && set.count == 1
	    && set.ranges[0].hi == 4294967295u, "1:4294967295 parses");
	ok(imap_seqset_contains(&set, 7, 10), "1:4294967295 holds 7");
	ok(imap_seqset_parse("4294967296", a, &set) < 0, "2^32 is refused");
	ok(imap_seqset_parse("0", a, &set) < 0, "0 is refused");
	ok(imap_seqset_parse("1,,2", a, &set) < 0, "empty member refused");
	ok(imap_seqset_parse("1:", a, &set) < 0, "open range refused");
	ok(imap_seqset_parse("$", a, &set) == 0 && set.saved
	    && set.count == 0, "$ is the saved result (SEARCHRES)");
	ok(!imap_seqset_contains(&set, 1, 10), "$ holds nothing by itself");
	ok(imap_seqset_parse("1:3", a, &set) == 0 && !set.saved,
	    "a set of numbers is not the saved result");
	ok(imap_seqset_parse("1,$", a, &set) < 0, "$ with numbers refused");
	ok(imap_seqset_parse("$,1", a, &set) < 0, "$ with numbers refused");
	ok(imap_seqset_parse("$:4", a, &set) < 0, "$ in a range refused");
	ok(imap_seqset_parse("$$", a, &set) < 0, "$$ refused");
	ok(imap_seqset_parse("", a, &set) < 0, "empty set refused");
	ok(imap_seqset_parse("1,3:5,9:*", a, &set) == 0 && set.count == 3,
	    "1,3:5,9:* parses");
	ok(imap_seqset_contains(&set, 1, 20) && !imap_seqset_contains(&set, 2,
	    20) && imap_seqset_contains(&set, 4, 20)
	    && imap_seqset_contains(&set, 20, 20)
	    && !imap_seqset_contains(&set, 8, 20), "1,3:5,9:* membership");
	ok(imap_seqset_parse("*:3", a, &set) == 0
	    && imap_seqset_contains(&set, 3, 5)
	    && imap_seqset_contains(&set, 5, 5)
	    && !imap_seqset_contains(&set, 2, 5), "*:3 is 3:*");
	ok(imap_seqset_parse("*", a, &set) == 0
	    && !imap_seqset_contains(&set, 1, 0), "* in an empty mailbox");
}

/* SELECT's parameters, from the command's second argument */
static const struct {
	const char *name, *in;
	int want;
	bool condstore, qresync;
	uint32_t uidvalidity;
	uint64_t modseq;
	size_t known, match;		/* ranges in known-uids, seq-match */
} select_params[] = {
	{ "condstore", "(CONDSTORE)", 0, true, false, 0, 0, 0, 0 },
	{ "qresync, two numbers", "(QRESYNC (67890007 20050715194045000))",
	  0, false, true, 67890007, 20050715194045000ULL, 0, 0 },
	{ "qresync, modseq 0", "(QRESYNC (1 0))", 0, false, true, 1, 0, 0,
	  0 },
	{ "qresync, known-uids", "(QRESYNC (67890001 20050715194045000 "
	  "41,43:211,214:541))", 0, false, true, 67890001,
	  20050715194045000ULL, 3, 0 },
	{ "qresync, known-uids and seq-match", "(QRESYNC (67890001 "
	  "20050715194045000 1:29997 (5000,7500,9000,9990:9999 "
	  "15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,"
	  "29994,29997)))", 0, false, true, 67890001, 20050715194045000ULL,
	  1, 4 },
	{ "qresync, seq-match without known-uids", "(QRESYNC (9 8 (1:3 "
	  "10,20,30)))", 0, false, true, 9, 8, 0, 1 },
	{ "qresync and condstore", "(CONDSTORE QRESYNC (9 8))", 0, true, true,
	  9, 8, 0, 0 },
	{ "lower case", "(qresync (9 8 1:*))", 0, false, true, 9, 8, 1, 0 },
	{ "empty list", "()", -1, false, false, 0, 0, 0, 0 },
	{ "unknown parameter", "(FOO)", -1, false, false, 0, 0, 0, 0 },
	{ "condstore twice", "(CONDSTORE CONDSTORE)", -1, false, false, 0, 0,
	  0, 0 },
	{ "qresync twice", "(QRESYNC (1 2) QRESYNC (1 2))", -1, false, false,
	  0, 0, 0, 0 },
	{ "qresync without its list", "(QRESYNC)", -1, false, false, 0, 0, 0,
	  0 },
	{ "qresync, one number", "(QRESYNC (1))", -1, false, false, 0, 0, 0,
	  0 },
	{ "uidvalidity 0", "(QRESYNC (0 5))", -1, false, false, 0, 0, 0, 0 },
	{ "uidvalidity past 2^32", "(QRESYNC (4294967296 5))", -1, false,
	  false, 0, 0, 0, 0 },
	{ "modseq past 2^63", "(QRESYNC (1 9223372036854775808))", -1, false,
	  false, 0, 0, 0, 0 },
	{ "modseq not a number", "(QRESYNC (1 x))", -1, false, false, 0, 0, 0,
	  0 },
	{ "bad known-uids", "(QRESYNC (1 2 3:))", -1, false, false, 0, 0, 0,
	  0 },
	{ "known-uids quoted", "(QRESYNC (1 2 \"3\"))", -1, false, false, 0,
	  0, 0, 0 },
	{ "seq-match with one set", "(QRESYNC (1 2 1:5 (1:3)))", -1, false,
	  false, 0, 0, 0, 0 },
	{ "seq-match sizes differ", "(QRESYNC (1 2 1:5 (1:3 4,5)))", -1,
	  false, false, 0, 0, 0, 0 },
	{ "seq-match with *", "(QRESYNC (1 2 1:5 (1:* 1:3)))", -1, false,
	  false, 0, 0, 0, 0 },
	{ "seq-match huge but equal", "(QRESYNC (1 2 (1:4294967295 "
	  "4294967295:1)))", 0, false, true, 1, 2, 0, 1 },
	{ "too many members", "(QRESYNC (1 2 1:5 (1 2) x))", -1, false,
	  false, 0, 0, 0, 0 },
	{ "seq-match before known-uids", "(QRESYNC (1 2 (1 2) 1:5))", -1,
	  false, false, 0, 0, 0, 0 },
	{ "not a list", "CONDSTORE", -1, false, false, 0, 0, 0, 0 },
};

static void
test_select_params(struct fc_arena *a)
{
	struct imap_select_params p;
	struct imap_command cmd;
	const char *err;
	char line[512];
	size_t i;
	int r;

	for (i = 0; i < NELEMS(select_params); i++) {
		snprintf(line, sizeof(line), "t SELECT INBOX %s",
		    select_params[i].in);
		if (!ok(imap_parse_command(line, strlen(line), a, &cmd, &err)
		    == 0 && cmd.count == 2, "select params: %s: parses",
		    select_params[i].name))
			continue;
		err = NULL;
		r = imap_select_params_parse(&cmd.args[1], a, &p, &err);
		if (select_params[i].want < 0) {
			ok(r < 0 && err != NULL, "select params: %s: refused",
			    select_params[i].name);
			continue;
		}
		ok(r == 0 && p.condstore == select_params[i].condstore
		    && p.qresync == select_params[i].qresync
		    && p.uidvalidity == select_params[i].uidvalidity
		    && p.modseq == select_params[i].modseq
		    && p.known_uids.count == select_params[i].known
		    && p.seq_match.count == select_params[i].match,
		    "select params: %s", select_params[i].name);
	}
}

int
main(void)
{
	struct fc_arena *a = fc_arena_new("test", 4096);
	uint64_t n;

	test_commands(a);
	test_literal_nul(a);
	test_literal8(a);
	test_depth(a);
	test_markers();
	test_seqsets(a);
	test_select_params(a);
	ok(imap_parse_number("4294967295", UINT32_MAX, &n) == 0
	    && n == 4294967295u, "number at the limit");
	ok(imap_parse_number("4294967296", UINT32_MAX, &n) < 0,
	    "number over the limit");
	ok(imap_parse_number("-1", UINT32_MAX, &n) < 0, "no sign");
	fc_arena_free(&a);
	return done();
}
