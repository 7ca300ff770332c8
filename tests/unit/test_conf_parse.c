/*
 * test_conf_parse.c - the config file reader (conf_parse.c): the tree it
 * builds, its "name:line: message" errors, its limits, and include.
 *
 * A parsed tree is compared as text: each directive is written as
 * name [arg] [arg] {children}, siblings separated by "; ", with LF, TAB,
 * CR and backslash shown as \n, \t, \r and \\ so a row fits on one line.
 * The include tests write files into a mkdtemp folder and remove it.
 */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <facteur/arena.h>

#include "conf_parse.h"
#include "tap.h"

#define NELEMS(a)	(sizeof(a) / sizeof((a)[0]))

/* A growing string, enough for trees of a few hundred bytes. */
struct dump {
	char buf[8192];
	size_t len;
};

static void
dump_char(struct dump *d, char c)
{
	if (d->len + 1 < sizeof(d->buf))
		d->buf[d->len++] = c;
	d->buf[d->len] = '\0';
}

static void
dump_str(struct dump *d, const char *s)
{
	for (; *s != '\0'; s++)
		dump_char(d, *s);
}

static void
dump_escaped(struct dump *d, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '\n':
			dump_str(d, "\\n");
			break;
		case '\t':
			dump_str(d, "\\t");
			break;
		case '\r':
			dump_str(d, "\\r");
			break;
		case '\\':
			dump_str(d, "\\\\");
			break;
		default:
			dump_char(d, *s);
			break;
		}
	}
}

static void
dump_tree(struct dump *d, const struct fc_conf_node *n)
{
	size_t i;

	for (; n != NULL; n = n->next) {
		dump_escaped(d, n->name);
		for (i = 0; i < n->nargs; i++) {
			dump_str(d, " [");
			dump_escaped(d, n->args[i]);
			dump_char(d, ']');
		}
		if (n->block) {
			dump_str(d, " {");
			dump_tree(d, n->children);
			dump_char(d, '}');
		}
		if (n->next != NULL)
			dump_str(d, "; ");
	}
}

/* Checks what the parser promises of every node: args end in NULL. */
static int
tree_sane(const struct fc_conf_node *n)
{
	for (; n != NULL; n = n->next) {
		if (n->name == NULL || n->args == NULL
		    || n->args[n->nargs] != NULL || n->line == 0
		    || n->file == NULL)
			return 0;
		if (n->children != NULL && !n->block)
			return 0;
		if (!tree_sane(n->children))
			return 0;
	}
	return 1;
}

/* want: the tree as dumped, or NULL when err is the expected error */
static const struct {
	const char *name, *text, *want, *err;
} cases[] = {
	{ "empty file", "", "", NULL },
	{ "only a comment", "# nothing here\n", "", NULL },
	{ "only blank lines", "\n\n  \t\n", "", NULL },
	{ "one directive", "workers 4;", "workers [4]", NULL },
	{ "no arguments", "foo;", "foo", NULL },
	{ "several", "a 1;\nb 2 3;\n", "a [1]; b [2] [3]", NULL },
	{ "no space before ;", "a b;c;", "a [b]; c", NULL },
	{ "CRLF lines", "a 1;\r\nb 2;\r\n", "a [1]; b [2]", NULL },
	{ "form feed, vertical tab", "a\f1\v2;", "a [1] [2]", NULL },
	{ "block", "echo { listen 1; }", "echo {listen [1]}", NULL },
	{ "empty block", "x {}", "x {}", NULL },
	{ "block with arguments", "x a b { y; }", "x [a] [b] {y}", NULL },
	{ "block then directive", "x { y; } z;", "x {y}; z", NULL },
	{ "block needs no ;", "x { }\ny;", "x {}; y", NULL },
	{ "nested blocks", "a { b { c { d 1; } } e; }",
	  "a {b {c {d [1]}}; e}", NULL },
	{ "double quotes", "a \"b c\";", "a [b c]", NULL },
	{ "single quotes", "a 'b c';", "a [b c]", NULL },
	{ "empty quotes", "a \"\" '';", "a [] []", NULL },
	{ "escapes", "a \"q\\\"b\\\\n\\nt\\t\";",
	  "a [q\"b\\\\n\\nt\\t]", NULL },
	{ "unknown escape kept", "a \"\\q\";", "a [\\\\q]", NULL },
	{ "single quotes raw", "a 'x\\\"y\\n';", "a [x\\\\\"y\\\\n]", NULL },
	{ "double quote in single", "a '\"';", "a [\"]", NULL },
	{ "specials in quotes", "a \"x;y{z}#w\";", "a [x;y{z}#w]", NULL },
	{ "newline in quotes", "a \"x\ny\";", "a [x\\ny]", NULL },
	{ "quoted name", "\"a b\" c;", "a b [c]", NULL },
	{ "comment after", "a 1; # two\nb 2;", "a [1]; b [2]", NULL },
	{ "comment inside", "a 1 # c;\n 2;", "a [1] [2]", NULL },
	{ "comment at end, no LF", "a;# end", "a", NULL },
	{ "hash ends a word", "a b#c\n;", "a [b]", NULL },

	{ "unterminated quote", "a \"abc;\nb;\n", NULL,
	  "t.conf:1: unterminated quoted string" },
	{ "unterminated quote, its line", "a;\nb 'x\ny", NULL,
	  "t.conf:2: unterminated quoted string" },
	{ "backslash at the end", "a \"x\\", NULL,
	  "t.conf:1: unterminated quoted string" },
	{ "missing ; at end of file", "a 1", NULL,
	  "t.conf:1: directive \"a\" is not ended by ';'" },
	{ "missing ; before }", "x {\n  a 1\n}", NULL,
	  "t.conf:2: directive \"a\" is not ended by ';'" },
	{ "missing ; over lines", "x;\na\n1\n", NULL,
	  "t.conf:2: directive \"a\" is not ended by ';'" },
	{ "unexpected }", "a;\n}", NULL, "t.conf:2: unexpected '}'" },
	{ "} after a block", "a {\n}\n}\n", NULL,
	  "t.conf:3: unexpected '}'" },
	{ "unexpected ;", "a;\n;", NULL, "t.conf:2: unexpected ';'" },
	{ "block without a name", "\n{ a; }", NULL,
	  "t.conf:2: unexpected '{' (a block needs a name)" },
	{ "unclosed block", "a {\n b;\n c {\n  d;\n }\n", NULL,
	  "t.conf:1: block opened here is never closed (missing '}')" },
	{ "unclosed inner block", "a;\nb {\n c {\n  d;\n", NULL,
	  "t.conf:3: block opened here is never closed (missing '}')" },
	{ "unclosed second block", "a {\n}\nb {\n c;\n", NULL,
	  "t.conf:3: block opened here is never closed (missing '}')" },
	{ "line after quoted newlines", "a \"x\ny\nz\";\n}", NULL,
	  "t.conf:4: unexpected '}'" },
	{ "include without a name", "include;", NULL,
	  "t.conf:1: include takes one file name or pattern" },
	{ "include with two names", "include a b;", NULL,
	  "t.conf:1: include takes one file name or pattern" },
};

static void
test_cases(void)
{
	size_t i;

	for (i = 0; i < NELEMS(cases); i++) {
		struct fc_arena *a = fc_arena_new("test", 1024);
		struct fc_conf_node *root = NULL;
		const char *err = NULL;
		struct dump d;
		int r;

		memset(&d, 0, sizeof(d));
		r = fc_conf_parse_text(a, "t.conf", "/nonexistent",
		    cases[i].text, strlen(cases[i].text), &root, &err);
		if (cases[i].want != NULL) {
			if (!is_int(r, 0, "%s: parsed", cases[i].name))
				diag("error: %s", err);
			dump_tree(&d, root);
			is_str(d.buf, cases[i].want, "%s: tree", cases[i].name);
			ok(tree_sane(root), "%s: nodes well formed",
			    cases[i].name);
		} else {
			is_int(r, -1, "%s: refused", cases[i].name);
			is_str(err, cases[i].err, "%s: message", cases[i].name);
		}
		fc_arena_free(&a);
	}
}

static int
parse(struct fc_arena *a, const char *text, size_t len,
    struct fc_conf_node **root_r, const char **err_r)
{
	*err_r = NULL;
	return fc_conf_parse_text(a, "t.conf", "/nonexistent", text, len,
	    root_r, err_r);
}

/* The line of each node, and the file name it carries. */
static void
test_lines(void)
{
	static const char text[] = "a;\n\n# c\nb;\nc {\n\td\n\t 1;\n}\n";
	struct fc_arena *a = fc_arena_new("test", 1024);
	struct fc_conf_node *root;
	const char *err;

	if (!is_int(parse(a, text, strlen(text), &root, &err), 0,
	    "lines: parsed")) {
		fc_arena_free(&a);
		return;
	}
	is_int(root->line, 1, "lines: first directive on line 1");
	is_int(root->next->line, 4, "lines: after blank and comment, 4");
	is_int(root->next->next->line, 5, "lines: block on line 5");
	is_int(root->next->next->children->line, 6,
	    "lines: a directive is where its name is");
	is_str(root->next->next->children->file, "t.conf",
	    "lines: node carries the file name");
	fc_arena_free(&a);
}

/* NUL bytes are refused wherever a token is read. */
static void
test_nul(void)
{
	static const struct {
		const char *name, *text;
		size_t len;
		const char *err;
	} nul_cases[] = {
		{ "NUL in a word", "a b\0c;", 6,
		  "t.conf:1: NUL byte in the file" },
		{ "NUL alone", "a;\n\0", 4, "t.conf:2: NUL byte in the file" },
		{ "NUL in quotes", "a \"b\0c\";", 8,
		  "t.conf:1: NUL byte in quoted string" },
		{ "escaped NUL", "a \"\\\0\";", 7,
		  "t.conf:1: NUL byte in quoted string" },
	};
	size_t i;

	for (i = 0; i < NELEMS(nul_cases); i++) {
		struct fc_arena *a = fc_arena_new("test", 1024);
		struct fc_conf_node *root;
		const char *err;

		is_int(parse(a, nul_cases[i].text, nul_cases[i].len, &root,
		    &err), -1, "%s: refused", nul_cases[i].name);
		is_str(err, nul_cases[i].err, "%s: message", nul_cases[i].name);
		fc_arena_free(&a);
	}
}

/* Builds n nested blocks "b { b { ... } }" and parses them. */
static int
parse_nested(unsigned int n, const char **err_r)
{
	struct fc_arena *a = fc_arena_new("test", 1024);
	struct fc_conf_node *root;
	char text[8192];
	size_t len = 0;
	unsigned int i;
	int r;

	for (i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
		    "b {\n");
	len += (size_t)snprintf(text + len, sizeof(text) - len, "x;\n");
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "}\n");
	r = parse(a, text, len, &root, err_r);
	/* the message lives in the arena: keep a copy for the caller */
	if (*err_r != NULL) {
		static char copy[256];

		snprintf(copy, sizeof(copy), "%s", *err_r);
		*err_r = copy;
	}
	fc_arena_free(&a);
	return r;
}

static void
test_limits(void)
{
	struct fc_arena *a;
	struct fc_conf_node *root;
	const char *err;
	char *text;
	size_t len, i;

	is_int(parse_nested(15, &err), 0, "limits: 15 nested blocks");
	is_int(parse_nested(16, &err), -1, "limits: 16 nested blocks refused");
	is_str(err, "t.conf:16: blocks nested too deeply",
	    "limits: nesting message");
	is_int(parse_nested(1000, &err), -1,
	    "limits: 1000 nested blocks refused");

	/* a word of 65536 bytes is the longest */
	text = malloc(65536 + 16);
	memset(text, 'w', 65537);
	memcpy(text + 65536, ";", 1);
	a = fc_arena_new("test", 1024);
	is_int(parse(a, text, 65537, &root, &err), 0,
	    "limits: 64k word accepted");
	ok(root != NULL && strlen(root->name) == 65536,
	    "limits: 64k word kept whole");
	fc_arena_free(&a);
	memset(text, 'w', 65537);
	memcpy(text + 65537, ";", 1);
	a = fc_arena_new("test", 1024);
	is_int(parse(a, text, 65538, &root, &err), -1,
	    "limits: 64k+1 word refused");
	is_str(err, "t.conf:1: token too long", "limits: word message");
	fc_arena_free(&a);
	text[0] = '"';
	memset(text + 1, 'q', 65537);
	memcpy(text + 65538, "\";", 2);
	a = fc_arena_new("test", 1024);
	is_int(parse(a, text, 65540, &root, &err), -1,
	    "limits: 64k+1 quoted string refused");
	is_str(err, "t.conf:1: token too long", "limits: quoted message");
	fc_arena_free(&a);
	free(text);

	/* 256 arguments, then 257 */
	text = malloc(4096);
	len = (size_t)snprintf(text, 4096, "a");
	for (i = 0; i < 256; i++)
		len += (size_t)snprintf(text + len, 4096 - len, " x");
	a = fc_arena_new("test", 1024);
	memcpy(text + len, ";", 1);
	is_int(parse(a, text, len + 1, &root, &err), 0,
	    "limits: 256 arguments accepted");
	ok(root != NULL && root->nargs == 256, "limits: 256 arguments kept");
	fc_arena_free(&a);
	memcpy(text + len, " y;", 3);
	a = fc_arena_new("test", 1024);
	is_int(parse(a, text, len + 3, &root, &err), -1,
	    "limits: 257 arguments refused");
	is_str(err, "t.conf:1: too many arguments",
	    "limits: arguments message");
	fc_arena_free(&a);
	free(text);
}

/* ------------------------------------------------------------------ */
/* include, in a temporary folder */

static char tmpdir[4096];

static void
write_file(const char *rel, const char *text)
{
	char path[8192];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	f = fopen(path, "w");
	if (f == NULL) {
		diag("cannot write %s: %s", path, strerror(errno));
		return;
	}
	fputs(text, f);
	fclose(f);
}

static void
make_dir(const char *rel)
{
	char path[8192];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	if (mkdir(path, 0700) < 0)
		diag("cannot make %s: %s", path, strerror(errno));
}

static int
remove_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	if (remove(path) < 0)
		diag("cannot remove %s: %s", path, strerror(errno));
	return 0;
}

static void
remove_tree(const char *path)
{
	nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Replaces each "@D" of template with the temporary folder. */
static void
expand(char *out, size_t size, const char *template)
{
	size_t o = 0;
	const char *p;

	for (p = template; *p != '\0' && o + 1 < size; p++) {
		if (p[0] == '@' && p[1] == 'D') {
			o += (size_t)snprintf(out + o, size - o, "%s", tmpdir);
			if (o >= size)
				o = size - 1;
			p++;
		} else
			out[o++] = *p;
	}
	out[o] = '\0';
}

static int
parse_include(struct fc_arena *a, const char *text,
    struct fc_conf_node **root_r, const char **err_r)
{
	*err_r = NULL;
	return fc_conf_parse_text(a, "t.conf", tmpdir, text, strlen(text),
	    root_r, err_r);
}

static const struct {
	const char *name, *text, *want, *err;
} include_cases[] = {
	{ "glob, in name order",
	  "first;\ninclude conf.d/*.conf;\nlast;",
	  "first; a [1]; b [2]; c {d}; last", NULL },
	{ "include in a block",
	  "x { include conf.d/1*.conf; y; }", "x {a [1]; y}", NULL },
	{ "plain file name", "include conf.d/10-a.conf;", "a [1]", NULL },
	{ "glob matching nothing", "include empty.d/*.conf; z;", "z", NULL },
	{ "nested include", "include nest/outer.conf;",
	  "outer; inner [i]; after", NULL },
	{ "missing file", "include nosuch.conf;", NULL,
	  "t.conf:1: include @D/nosuch.conf: no such file" },
	{ "error in an included file", "a;\ninclude bad/*.conf;", NULL,
	  "@D/bad/x.conf:2: directive \"oops\" is not ended by ';'" },
	{ "include loop", "include loop.conf;", NULL,
	  "@D/loop.conf:1: includes nested too deeply (a loop?)" },
	{ "glob loop", "include gloop/*.conf;", NULL,
	  "@D/gloop/a.conf:1: includes nested too deeply (a loop?)" },
};

static void
test_include(void)
{
	const char *base = getenv("TMPDIR");
	size_t i;

	snprintf(tmpdir, sizeof(tmpdir), "%s/facteur-test.XXXXXX",
	    base != NULL && *base != '\0' ? base : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		ok(0, "include: mkdtemp %s: %s", tmpdir, strerror(errno));
		return;
	}
	make_dir("conf.d");
	write_file("conf.d/10-a.conf", "a 1;\n");
	write_file("conf.d/20-b.conf", "b 2;\nc { d; }\n");
	write_file("conf.d/skipped.txt", "not included;\n");
	make_dir("empty.d");
	make_dir("nest");
	write_file("nest/outer.conf", "outer;\ninclude inner.conf;\nafter;\n");
	write_file("nest/inner.conf", "inner i;\n");
	make_dir("bad");
	write_file("bad/x.conf", "fine;\noops\n");
	write_file("loop.conf", "include loop.conf;\n");
	make_dir("gloop");
	write_file("gloop/a.conf", "include *.conf;\n");
	write_file("gloop/b.conf", "include *.conf;\n");

	for (i = 0; i < NELEMS(include_cases); i++) {
		struct fc_arena *a = fc_arena_new("test", 1024);
		struct fc_conf_node *root = NULL;
		const char *err = NULL;
		char want[8192];
		struct dump d;
		int r;

		memset(&d, 0, sizeof(d));
		r = parse_include(a, include_cases[i].text, &root, &err);
		if (include_cases[i].want != NULL) {
			if (!is_int(r, 0, "include: %s: parsed",
			    include_cases[i].name))
				diag("error: %s", err);
			dump_tree(&d, root);
			is_str(d.buf, include_cases[i].want,
			    "include: %s: tree", include_cases[i].name);
		} else {
			expand(want, sizeof(want), include_cases[i].err);
			is_int(r, -1, "include: %s: refused",
			    include_cases[i].name);
			is_str(err, want, "include: %s: message",
			    include_cases[i].name);
		}
		fc_arena_free(&a);
	}

	/* the nodes of an included file name that file */
	{
		struct fc_arena *a = fc_arena_new("test", 1024);
		struct fc_conf_node *root = NULL;
		const char *err;
		char want[8192];

		snprintf(want, sizeof(want), "%s/conf.d/20-b.conf", tmpdir);
		if (is_int(parse_include(a, "x;\ninclude conf.d/2*.conf;",
		    &root, &err), 0, "include: file names: parsed")
		    && root != NULL && root->next != NULL) {
			is_str(root->file, "t.conf",
			    "include: file names: outer node");
			is_str(root->next->file, want,
			    "include: file names: included node");
			is_int(root->next->next->line, 2,
			    "include: file names: line in the included file");
		}
		fc_arena_free(&a);
	}

	/* the same through fc_conf_parse_file: relative to the file */
	{
		struct fc_arena *a = fc_arena_new("test", 1024);
		struct fc_conf_node *root = NULL;
		const char *err = NULL;
		char path[8192];
		struct dump d;

		memset(&d, 0, sizeof(d));
		snprintf(path, sizeof(path), "%s/nest/outer.conf", tmpdir);
		if (!is_int(fc_conf_parse_file(a, path, &root, &err), 0,
		    "parse_file: parsed"))
			diag("error: %s", err);
		dump_tree(&d, root);
		is_str(d.buf, "outer; inner [i]; after", "parse_file: tree");
		snprintf(path, sizeof(path), "%s/bad/x.conf", tmpdir);
		is_int(fc_conf_parse_file(a, path, &root, &err), -1,
		    "parse_file: error refused");
		ok(err != NULL && strstr(err, "/bad/x.conf:2: ") != NULL,
		    "parse_file: error names file and line");
		snprintf(path, sizeof(path), "%s/nosuch.conf", tmpdir);
		is_int(fc_conf_parse_file(a, path, &root, &err), -1,
		    "parse_file: missing file refused");
		snprintf(path, sizeof(path), "%s/conf.d", tmpdir);
		is_int(fc_conf_parse_file(a, path, &root, &err), -1,
		    "parse_file: a folder refused");
		fc_arena_free(&a);
	}
	remove_tree(tmpdir);
}

int
main(void)
{
	test_cases();
	test_lines();
	test_nul();
	test_limits();
	test_include();
	return done();
}
