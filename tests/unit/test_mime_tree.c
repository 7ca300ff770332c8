/*
 * test_mime_tree.c - the MIME parser's tree against the hand-written
 * corpus of tests/mime/: each <name>.eml is parsed and dumped
 * (mime_dump.c), and the dump must equal <name>.tree. The same dump
 * must come out when the message is fed in one piece, one byte at a
 * time, in pieces of random sizes, and read from a file with
 * fc_mime_parse_fd(). Every part must sit inside its parent, and every
 * section the dump names must lead back to its part.
 *
 * make check sets FACTEUR_SRCDIR. By hand, "test_mime_tree FILE" prints
 * the dump of FILE instead.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/mime.h>

#include "mime_dump.h"
#include "tap.h"

static char *
read_file(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL)
		return NULL;
	for (;;) {
		if (cap - len < 4096) {
			cap = cap == 0 ? 8192 : cap * 2;
			data = realloc(data, cap + 1);
			if (data == NULL)
				abort();
		}
		n = fread(data + len, 1, cap - len, f);
		if (n == 0)
			break;
		len += n;
	}
	fclose(f);
	data[len] = '\0';
	*len_r = len;
	return data;
}

/* Parses data in pieces: sizes from seed (0: whole, 1: bytes). */
static char *
dump_fed(const char *data, size_t len, unsigned int seed)
{
	struct fc_arena *a = fc_arena_new("test", 4096);
	struct fc_mime_parser *p = fc_mime_parser_new(a, NULL);
	size_t pos = 0, n;
	char *dump;

	while (pos < len) {
		n = len - pos;
		if (seed == 1)
			n = 1;
		else if (seed > 1) {
			seed = seed * 1103515245 + 12345;
			if (n > 1 + (seed >> 16) % 97)
				n = 1 + (seed >> 16) % 97;
		}
		fc_mime_parser_feed(p, data + pos, n);
		pos += n;
	}
	dump = mime_dump(fc_mime_parser_finish(p));
	fc_arena_free(&a);
	return dump;
}

static char *
dump_fd(const char *data, size_t len)
{
	struct fc_arena *a = fc_arena_new("test", 4096);
	const struct fc_mime_part *root;
	char path[] = "/tmp/facteur-mime.XXXXXX";
	char *dump = NULL;
	int fd;

	fd = mkstemp(path);
	if (fd < 0)
		return NULL;
	unlink(path);
	if (write(fd, data, len) == (ssize_t)len) {
		/* the offset is left at the end: parse_fd must not care */
		root = fc_mime_parse_fd(a, fd, NULL);
		if (root != NULL)
			dump = mime_dump(root);
	}
	close(fd);
	fc_arena_free(&a);
	return dump;
}

/* Parts nest: each inside its parent's body, siblings in order. */
static bool
check_nesting(const struct fc_mime_part *p, const char **why_r)
{
	const struct fc_mime_part *c, *prev = NULL;

	if (fc_mime_part_header_offset(p) > fc_mime_part_body_offset(p) ||
	    fc_mime_part_body_offset(p) > fc_mime_part_end_offset(p)) {
		*why_r = "offsets out of order";
		return false;
	}
	for (c = fc_mime_part_child(p); c != NULL; c = fc_mime_part_next(c)) {
		if (fc_mime_part_parent(c) != p) {
			*why_r = "wrong parent";
			return false;
		}
		if (fc_mime_part_header_offset(c) <
		    fc_mime_part_body_offset(p) ||
		    fc_mime_part_end_offset(c) > fc_mime_part_end_offset(p)) {
			*why_r = "child outside its parent";
			return false;
		}
		if (prev != NULL && fc_mime_part_header_offset(c) <
		    fc_mime_part_end_offset(prev)) {
			*why_r = "siblings overlap";
			return false;
		}
		if (!check_nesting(c, why_r))
			return false;
		prev = c;
	}
	return true;
}

/* Each numbered label finds its part; "X.TEXT" finds X's message. */
static bool
check_sections(const struct fc_mime_part *root, const struct fc_mime_part *p,
    char *bad, size_t size)
{
	const struct fc_mime_part *c, *want;
	char label[1024], *dot;

	mime_dump_label(p, label, sizeof(label));
	want = p;
	if (strcmp(label, "TEXT") == 0)
		label[0] = '\0';
	else if ((dot = strstr(label, ".TEXT")) != NULL) {
		*dot = '\0';
		want = fc_mime_part_parent(p);
	}
	if (fc_mime_part_find(root, label) != want) {
		snprintf(bad, size, "%s", label);
		return false;
	}
	for (c = fc_mime_part_child(p); c != NULL; c = fc_mime_part_next(c))
		if (!check_sections(root, c, bad, size))
			return false;
	return true;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
test_message(const char *dir, const char *name)
{
	char *path, *data, *want, *got;
	size_t len, wlen;
	unsigned int seed;
	struct fc_arena *a;
	const struct fc_mime_part *root;
	const char *why = "";
	char bad[1024] = "";

	if (asprintf(&path, "%s/%s.eml", dir, name) < 0)
		abort();
	data = read_file(path, &len);
	free(path);
	if (asprintf(&path, "%s/%s.tree", dir, name) < 0)
		abort();
	want = read_file(path, &wlen);
	free(path);
	if (!ok(data != NULL && want != NULL, "%s: .eml and .tree read",
	    name)) {
		free(data);
		free(want);
		return;
	}

	got = dump_fed(data, len, 0);
	if (!is_str(got, want, "%s: tree as expected", name))
		diag("got:\n%s", got);
	free(got);

	got = dump_fed(data, len, 1);
	is_str(got, want, "%s: fed byte by byte", name);
	free(got);
	for (seed = 2; seed < 6; seed++) {
		got = dump_fed(data, len, seed * 7919);
		is_str(got, want, "%s: fed in random pieces (seed %u)", name,
		    seed);
		free(got);
	}
	got = dump_fd(data, len);
	is_str(got, want, "%s: fc_mime_parse_fd", name);
	free(got);

	a = fc_arena_new("test", 4096);
	{
		struct fc_mime_parser *p = fc_mime_parser_new(a, NULL);

		fc_mime_parser_feed(p, data, len);
		root = fc_mime_parser_finish(p);
	}
	if (!ok(check_nesting(root, &why), "%s: parts nest", name))
		diag("%s", why);
	if (!ok(check_sections(root, root, bad, sizeof(bad)),
	    "%s: sections lead back to their parts", name))
		diag("section %s", bad);
	fc_arena_free(&a);
	free(data);
	free(want);
}

static void
test_find_edges(void)
{
	static const char msg[] =
	    "Content-Type: multipart/mixed; boundary=b\n"
	    "\n"
	    "--b\n"
	    "\n"
	    "one\n"
	    "--b\n"
	    "Content-Type: message/rfc822\n"
	    "\n"
	    "Subject: inner\n"
	    "\n"
	    "two\n"
	    "--b--\n";
	static const struct {
		const char *section;
		bool found;
	} cases[] = {
		{ "", true }, { "1", true }, { "2", true }, { "2.1", true },
		{ "3", false }, { "0", false }, { "01", false },
		{ "1.", false }, { ".1", false }, { "1..2", false },
		{ "1.1", false }, { "2.2", false }, { "2.1.1", false },
		{ "x", false }, { "1x", false },
		{ "99999999999999999999", false },
	};
	struct fc_arena *a = fc_arena_new("test", 4096);
	struct fc_mime_parser *p = fc_mime_parser_new(a, NULL);
	const struct fc_mime_part *root, *two;
	size_t i;

	fc_mime_parser_feed(p, msg, sizeof(msg) - 1);
	root = fc_mime_parser_finish(p);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ok((fc_mime_part_find(root, cases[i].section) != NULL) ==
		    cases[i].found, "find \"%s\": %s", cases[i].section,
		    cases[i].found ? "found" : "none");
	two = fc_mime_part_find(root, "2");
	ok(two != NULL && fc_mime_part_is_message(two) &&
	    fc_mime_part_find(root, "2.1") == fc_mime_part_child(two),
	    "2.1 is the body of the message in part 2");
	ok(fc_mime_part_find(root, "") == root, "\"\" is the root");
	fc_arena_free(&a);
}

int
main(int argc, char **argv)
{
	const char *srcdir = getenv("FACTEUR_SRCDIR");
	char dir[4096], **names = NULL, *dot;
	size_t n = 0, cap = 0, i, len;
	struct dirent *de;
	DIR *d;

	if (argc == 2) {
		char *data = read_file(argv[1], &len), *dump;

		if (data == NULL) {
			fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
			return 1;
		}
		dump = dump_fed(data, len, 0);
		fputs(dump, stdout);
		free(dump);
		free(data);
		return 0;
	}

	snprintf(dir, sizeof(dir), "%s/tests/mime",
	    srcdir != NULL ? srcdir : "..");
	d = opendir(dir);
	if (!ok(d != NULL, "corpus %s opened", dir))
		return done();
	while ((de = readdir(d)) != NULL) {
		dot = strrchr(de->d_name, '.');
		if (dot == NULL || strcmp(dot, ".eml") != 0)
			continue;
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			names = realloc(names, cap * sizeof(*names));
			if (names == NULL)
				abort();
		}
		names[n++] = strndup(de->d_name, (size_t)(dot - de->d_name));
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);
	ok(n >= 25, "at least 25 messages in the corpus (%zu)", n);
	for (i = 0; i < n; i++) {
		test_message(dir, names[i]);
		free(names[i]);
	}
	free(names);
	test_find_edges();
	return done();
}
