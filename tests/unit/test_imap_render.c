/*
 * test_imap_render.c - ENVELOPE, BODY, BODYSTRUCTURE and sections
 * (modules/imap/imap_render.h) against the corpus of tests/imap/.
 *
 * Each tests/imap/<name>.expect names a message ("message FILE", relative
 * to tests/, else <name>.eml beside it) and lists what must come out, one
 * item a line, with C escapes (\r \n \t \\ \xNN) in the expected text:
 *
 *	envelope TEXT			ENVELOPE, client without UTF-8
 *	envelope-utf8 TEXT		ENVELOPE, UTF8=ACCEPT
 *	body TEXT			BODY
 *	bodystructure TEXT		BODYSTRUCTURE
 *	bodystructure-utf8 TEXT
 *	section SPEC|PARTIAL|TEXT	BODY[SPEC]<PARTIAL> ("-": none,
 *					"o.n" a partial)
 *	name SPEC|PARTIAL|TEXT		the response's item name of it
 *	binary SPEC|TEXT		BINARY[SPEC]
 *	binary-size SPEC|N		BINARY.SIZE[SPEC]
 *	binary-error SPEC		BINARY[SPEC] gives UNKNOWN-CTE
 *	bad SPEC			BODY[SPEC] does not parse
 *
 * Every item is checked twice: on the file as written (often LF line
 * ends, as maildir stores mail) and on a copy with CRLF line ends; both
 * must give the same bytes, and every section's announced size must be
 * what the reader gives, read in pieces of varying sizes.
 *
 * By hand: "test_imap_render FILE [SPEC...]" prints the items of FILE
 * in the format above, for writing a new .expect (check it by hand; a
 * SPEC "B:1" is BINARY[1], "SPEC|o.n" a partial), and
 * "test_imap_render --bench FILE..." times parsing, ENVELOPE and
 * BODYSTRUCTURE of each file.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/mime.h>

#include "imap_render.h"
#include "imap_str.h"
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

/* A file holding data, unlinked at once; the descriptor. */
static int
temp_file(const void *data, size_t len)
{
	char path[] = "/tmp/test_imap_render.XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0)
		abort();
	unlink(path);
	if (len > 0 && write(fd, data, len) != (ssize_t)len)
		abort();
	return fd;
}

/* data with every bare LF made CRLF, in a new buffer */
static char *
to_crlf(const char *data, size_t len, size_t *len_r)
{
	char *r = malloc(2 * len + 1);
	size_t i, n = 0;

	if (r == NULL)
		abort();
	for (i = 0; i < len; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			r[n++] = '\r';
		r[n++] = data[i];
	}
	*len_r = n;
	return r;
}

/* C escapes undone in place; the new length. */
static size_t
unescape(char *s)
{
	size_t i = 0, n = 0;

	while (s[i] != '\0') {
		if (s[i] != '\\' || s[i + 1] == '\0') {
			s[n++] = s[i++];
			continue;
		}
		i++;
		switch (s[i]) {
		case 'r': s[n++] = '\r'; i++; break;
		case 'n': s[n++] = '\n'; i++; break;
		case 't': s[n++] = '\t'; i++; break;
		case 'x': {
			char hex[3] = { s[i + 1], s[i + 2], '\0' };

			s[n++] = (char)strtol(hex, NULL, 16);
			i += 3;
			break;
		}
		default: s[n++] = s[i++]; break;
		}
	}
	s[n] = '\0';
	return n;
}

static void
escape_print(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r')
			fputs("\\r", stdout);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c == '\t')
			fputs("\\t", stdout);
		else if (c == '\\')
			fputs("\\\\", stdout);
		else if (c < 0x20 || c == 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

/* s made printable for a test's name: escapes, at most 60 bytes. */
static const char *
shown(const char *s)
{
	static char buf[4][256];
	static int which;
	char *b = buf[which++ % 4];
	size_t n = 0;

	for (; *s != '\0' && n < 60; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c >= 0x7f)
			n += (size_t)snprintf(b + n, 8, "\\x%02x", c);
		else
			b[n++] = (char)c;
	}
	if (*s != '\0')
		n += (size_t)snprintf(b + n, 8, "...");
	b[n] = '\0';
	return b;
}

/* The bytes of a section in pieces of varying sizes; -1 on an error,
 * -2 when the reader gave more or fewer than it announced. */
static int
read_section(struct fc_arena *a, const char *spec, bool binary,
    const struct fc_mime_part *root, int fd, bool crlf, uint64_t off,
    uint64_t len, struct imap_str *out, uint64_t *size_r)
{
	struct imap_section *sec;
	struct imap_section_reader *r;
	const char *error;
	char buf[300];
	size_t step = 1;
	ssize_t n;
	int ret;

	if (imap_section_parse(a, spec, strlen(spec), binary, &sec,
	    &error) < 0)
		return -1;
	ret = imap_section_open(a, sec, root, fd, crlf, off, len, &r, size_r,
	    &error);
	if (ret < 0)
		return ret == IMAP_SECTION_ERR_UNKNOWN_CTE ? -3 : -1;
	while ((n = imap_section_read(r, buf, step)) > 0) {
		imap_str_add(out, buf, (size_t)n);
		step = step * 7 % 293 + 1;
	}
	if (n < 0)
		return -1;
	return out->len == *size_r ? 0 : -2;
}

static void
parse_partial(const char *s, uint64_t *off_r, uint64_t *len_r)
{
	char *end;

	*off_r = 0;
	*len_r = UINT64_MAX;
	if (strcmp(s, "-") == 0)
		return;
	*off_r = strtoull(s, &end, 10);
	*len_r = *end == '.' ? strtoull(end + 1, NULL, 10) : UINT64_MAX;
}

struct msg {
	const char *what;		/* "as written" or "CRLF" */
	int fd;
	struct fc_mime_part *root;
};

/* Checks one expect line against one form of the message. */
static void
check_item(struct fc_arena *a, const char *name, struct msg *m,
    const char *key, char *arg)
{
	struct imap_str out;
	char *f1, *f2, none[] = "-";
	size_t want_len;
	uint64_t off, len, size;
	int ret;

	imap_str_init(&out);
	if (strncmp(key, "envelope", 8) == 0 ||
	    strncmp(key, "body", 4) == 0) {
		bool utf8 = strstr(key, "-utf8") != NULL;

		if (strncmp(key, "envelope", 8) == 0)
			imap_envelope_write(&out, m->root, utf8);
		else
			imap_bodystructure_write(&out, m->root,
			    strncmp(key, "bodystructure", 13) == 0, utf8);
		want_len = unescape(arg);
		if (!ok(out.len == want_len && (want_len == 0 ||
		    memcmp(out.data, arg, want_len) == 0), "%s %s (%s)",
		    name, key, m->what)) {
			printf("# got: ");
			escape_print(out.data, out.len);
			printf("\n");
		}
		imap_str_free(&out);
		return;
	}
	f1 = strchr(arg, '|');
	if (f1 != NULL)
		*f1++ = '\0';
	unescape(arg);
	if (strcmp(key, "bad") == 0) {
		struct imap_section *sec;
		const char *error;

		ok(imap_section_parse(a, arg, strlen(arg), false, &sec,
		    &error) < 0, "%s: [%s] is refused", name, shown(arg));
		return;
	}
	if (strcmp(key, "binary-error") == 0) {
		ret = read_section(a, arg, true, m->root, m->fd, false, 0,
		    UINT64_MAX, &out, &size);
		ok(ret == -3, "%s: BINARY[%s] is UNKNOWN-CTE (%s)", name,
		    shown(arg), m->what);
		imap_str_free(&out);
		return;
	}
	if (f1 == NULL) {
		ok(false, "%s: %s needs a |", name, key);
		return;
	}
	if (strcmp(key, "binary-size") == 0) {
		ret = read_section(a, arg, true, m->root, m->fd, false, 0,
		    UINT64_MAX, &out, &size);
		ok(ret == 0 && size == strtoull(f1, NULL, 10),
		    "%s: BINARY.SIZE[%s] is %s (%s): %d %llu", name, shown(arg), f1,
		    m->what, ret, (unsigned long long)size);
		imap_str_free(&out);
		return;
	}
	if (strcmp(key, "binary") == 0) {
		ret = read_section(a, arg, true, m->root, m->fd, false, 0,
		    UINT64_MAX, &out, &size);
		f2 = f1;
		f1 = none;
		goto compare;
	}
	f2 = strchr(f1, '|');
	if (f2 == NULL) {
		ok(false, "%s: %s needs two |", name, key);
		return;
	}
	*f2++ = '\0';
	parse_partial(f1, &off, &len);
	if (strcmp(key, "name") == 0) {
		struct imap_section *sec;
		const char *error;

		if (imap_section_parse(a, arg, strlen(arg), false, &sec,
		    &error) == 0)
			imap_section_name_write(&out, "BODY", sec,
			    len == UINT64_MAX ? UINT64_MAX : off);
		ret = 0;
	} else if (strcmp(key, "section") == 0) {
		ret = read_section(a, arg, false, m->root, m->fd, false, off,
		    len, &out, &size);
	} else {
		ok(false, "%s: unknown item %s", name, key);
		return;
	}
compare:
	want_len = unescape(f2);
	if (!ok(ret == 0 && out.len == want_len && (want_len == 0 ||
	    memcmp(out.data, f2, want_len) == 0), "%s %s [%s]<%s> (%s)", name,
	    key, shown(arg), f1, m->what)) {
		printf("# ret %d, got: ", ret);
		escape_print(out.data, out.len);
		printf("\n");
	}
	imap_str_free(&out);
}

static void
check_expect(const char *dir, const char *name)
{
	char path[8192], *text, *line, *next, *data, *crlf;
	size_t len, data_len, crlf_len;
	struct fc_arena *a = fc_arena_new("test", 0);
	struct msg m[2];
	int i;

	snprintf(path, sizeof(path), "%s/imap/%s.expect", dir, name);
	text = read_file(path, &len);
	if (!ok(text != NULL, "%s read", path))
		return;
	if (strncmp(text, "message ", 8) == 0) {
		line = text + 8;
		next = strchr(line, '\n');
		*next = '\0';
		snprintf(path, sizeof(path), "%s/%s", dir, line);
		next++;
	} else {
		snprintf(path, sizeof(path), "%s/imap/%s.eml", dir, name);
		next = text;
	}
	data = read_file(path, &data_len);
	if (!ok(data != NULL, "%s read", path)) {
		free(text);
		return;
	}
	crlf = to_crlf(data, data_len, &crlf_len);
	m[0].what = "as written";
	m[0].fd = temp_file(data, data_len);
	m[1].what = "CRLF";
	m[1].fd = temp_file(crlf, crlf_len);
	for (i = 0; i < 2; i++)
		m[i].root = fc_mime_parse_fd(a, m[i].fd, NULL);
	for (line = next; line != NULL && *line != '\0'; line = next) {
		char *sp, *copy;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (*line == '#' || *line == '\0')
			continue;
		sp = strchr(line, ' ');
		if (sp == NULL)
			continue;
		*sp = '\0';
		for (i = 0; i < 2; i++) {
			copy = strdup(sp + 1);
			check_item(a, name, &m[i], line, copy);
			free(copy);
		}
	}
	close(m[0].fd);
	close(m[1].fd);
	free(crlf);
	free(data);
	free(text);
	fc_arena_free(&a);
}

/* ------------------------------------------------------------------ */
/* Checks that need no corpus */

static void
check_parse(void)
{
	static const char *const good[][2] = {
		{ "", "BODY[]" },
		{ "1", "BODY[1]" },
		{ "1.2.3", "BODY[1.2.3]" },
		{ "header", "BODY[HEADER]" },
		{ "Text", "BODY[TEXT]" },
		{ "2.MIME", "BODY[2.MIME]" },
		{ "2.header.fields (from \"To\")",
		    "BODY[2.HEADER.FIELDS (FROM TO)]" },
		{ "HEADER.FIELDS.NOT (X-A {3}\r\nx-b)",
		    "BODY[HEADER.FIELDS.NOT (X-A X-B)]" },
		{ "HEADER.FIELDS (\"a b\")", "BODY[HEADER.FIELDS (\"A B\")]" },
	};
	static const char *const bad[] = {
		"MIME", "0", "01", "1.", ".1", "1..2", "HEADER.FIELDS",
		"HEADER.FIELDS ()", "HEADER.FIELDS (A", "HEADER.FIELDS (A )",
		"HEADER.FIELDS  (A)", "HEADERS", "TEXT ", "1.TEXT.MIME",
		"1234567890", "HEADER.FIELDS ({5}\r\nab)",
		"HEADER.FIELDS (\"a\nb\")",
	};
	struct fc_arena *a = fc_arena_new("test", 0);
	struct imap_section *sec;
	struct imap_str out;
	const char *error;
	size_t i;

	imap_str_init(&out);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		imap_str_reset(&out);
		if (!ok(imap_section_parse(a, good[i][0], strlen(good[i][0]),
		    false, &sec, &error) == 0, "[%s] parses", shown(good[i][0])))
			continue;
		imap_section_name_write(&out, "BODY", sec, UINT64_MAX);
		is_str(imap_str_cstr(&out), good[i][1], "[%s] is named %s",
		    shown(good[i][0]), good[i][1]);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(imap_section_parse(a, bad[i], strlen(bad[i]), false, &sec,
		    &error) < 0 && error != NULL, "[%s] is refused",
		    shown(bad[i]));
	ok(imap_section_parse(a, "1.2", 3, true, &sec, &error) == 0,
	    "BINARY[1.2] parses");
	imap_str_reset(&out);
	imap_section_name_write(&out, "BINARY", sec, 10);
	is_str(imap_str_cstr(&out), "BINARY[1.2]<10>", "BINARY named");
	ok(imap_section_parse(a, "1.TEXT", 6, true, &sec, &error) < 0,
	    "BINARY[1.TEXT] is refused");
	ok(imap_section_parse(a, "2.MIME", 6, false, &sec, &error) == 0 &&
	    imap_section_is_header(sec), "2.MIME is a header section");
	ok(imap_section_parse(a, "HEADER.FIELDS (A)", 17, false, &sec,
	    &error) == 0 && imap_section_is_header(sec),
	    "HEADER.FIELDS is a header section");
	ok(imap_section_parse(a, "1.TEXT", 6, false, &sec, &error) == 0 &&
	    !imap_section_is_header(sec), "1.TEXT is not");
	ok(imap_section_parse(a, "", 0, false, &sec, &error) == 0 &&
	    !imap_section_is_header(sec), "[] is not");
	ok(imap_section_parse(a, "HEADER", 6, true, &sec, &error) < 0,
	    "BINARY[HEADER] is refused");
	/* what a file holding the message's header alone can answer */
	ok(imap_section_parse(a, "HEADER.FIELDS.NOT (A)", 21, false, &sec,
	    &error) == 0 && imap_section_is_top_header(sec),
	    "HEADER.FIELDS.NOT is of the message's header");
	ok(imap_section_parse(a, "HEADER", 6, false, &sec, &error) == 0 &&
	    imap_section_is_top_header(sec), "HEADER is too");
	ok(imap_section_parse(a, "1.HEADER", 8, false, &sec, &error) == 0 &&
	    !imap_section_is_top_header(sec), "1.HEADER is not (a part's)");
	ok(imap_section_parse(a, "2.MIME", 6, false, &sec, &error) == 0 &&
	    !imap_section_is_top_header(sec), "2.MIME is not");
	ok(imap_section_parse(a, "", 0, false, &sec, &error) == 0 &&
	    !imap_section_is_top_header(sec), "[] is not");
	imap_str_free(&out);
	fc_arena_free(&a);
}

/* A 20 MB message with LF line ends, read whole and by partials: the
 * memory used stays small, and the bytes are those of the CRLF form. */
static void
check_large(void)
{
	const size_t lines = 400000;
	const char head[] = "From: a@b\nSubject: big\n\n";
	const char line[] = "0123456789012345678901234567890123456789012345\n";
	struct fc_arena *a = fc_arena_new("test", 0);
	struct fc_mime_part *root;
	struct imap_section *sec;
	struct imap_section_reader *r;
	const char *error;
	char *data, buf[65536];
	size_t i, len, used;
	uint64_t size, total = 0, want;
	ssize_t n;
	bool same = true;
	int fd, ret;
	clock_t t0;

	len = sizeof(head) - 1 + lines * (sizeof(line) - 1);
	data = malloc(len);
	if (data == NULL)
		abort();
	memcpy(data, head, sizeof(head) - 1);
	for (i = 0; i < lines; i++)
		memcpy(data + sizeof(head) - 1 + i * (sizeof(line) - 1), line,
		    sizeof(line) - 1);
	fd = temp_file(data, len);
	free(data);
	root = fc_mime_parse_fd(a, fd, NULL);
	used = fc_arena_used(a);
	imap_section_parse(a, "TEXT", 4, false, &sec, &error);
	want = lines * sizeof(line);
	t0 = clock();
	ret = imap_section_open(a, sec, root, fd, false, 0, UINT64_MAX, &r,
	    &size, &error);
	ok(ret == 0 && size == want, "TEXT of 20 MB: %llu bytes",
	    (unsigned long long)size);
	while ((n = imap_section_read(r, buf, sizeof(buf))) > 0) {
		for (i = 0; i < (size_t)n; i++) {
			uint64_t at = (total + i) % 48;
			char c = at < 46 ? line[at] : at == 46 ? '\r' : '\n';

			if (buf[i] != c)
				same = false;
		}
		total += (uint64_t)n;
	}
	ok(n == 0 && total == want && same, "read %llu bytes",
	    (unsigned long long)total);
	diag("TEXT of a 20 MB LF message read in %.1f ms",
	    (double)(clock() - t0) * 1000.0 / CLOCKS_PER_SEC);
	ok(fc_arena_used(a) - used < 256 * 1024,
	    "the reader holds %zu bytes", fc_arena_used(a) - used);

	/* a partial near the end: the last line */
	ok(imap_section_open(a, sec, root, fd, false, want - 48, 100, &r,
	    &size, &error) == 0 && size == 48, "the last line: 48 bytes");
	n = imap_section_read(r, buf, sizeof(buf));
	ok(n == 48 && memcmp(buf, line, 46) == 0 &&
	    memcmp(buf + 46, "\r\n", 2) == 0, "is the last line in CRLF");
	ok(imap_section_read(r, buf, sizeof(buf)) == 0, "then the end");
	close(fd);
	fc_arena_free(&a);
}

/* A 1.6 MB header: HEADER.FIELDS.NOT that keeps it all streams it (the
 * same bytes as HEADER), with little memory; HEADER.FIELDS picks one. */
static void
check_large_header(void)
{
	const size_t lines = 60000;
	struct fc_arena *a = fc_arena_new("test", 0);
	struct fc_mime_part *root;
	struct imap_str head, all, one;
	char *data, spec[] = "HEADER.FIELDS.NOT (NOPE)";
	size_t i, len = 0, used;
	uint64_t size;
	int fd, ret;

	data = malloc(lines * 40 + 64);
	if (data == NULL)
		abort();
	for (i = 0; i < lines; i++)
		len += (size_t)sprintf(data + len, "X-Field-%zu: value %zu\n", i,
		    i);
	len += (size_t)sprintf(data + len, "\nbody\n");
	fd = temp_file(data, len);
	free(data);
	root = fc_mime_parse_fd(a, fd, NULL);
	imap_str_init(&head);
	imap_str_init(&all);
	imap_str_init(&one);
	used = fc_arena_used(a);
	ret = read_section(a, "HEADER", false, root, fd, false, 0, UINT64_MAX,
	    &head, &size);
	ok(ret == 0 && head.len > 1600000, "HEADER of a big header: %zu bytes",
	    head.len);
	ok(read_section(a, spec, false, root, fd, false, 0, UINT64_MAX, &all,
	    &size) == 0 && all.len == head.len &&
	    memcmp(all.data, head.data, head.len) == 0,
	    "HEADER.FIELDS.NOT keeping every field is HEADER");
	ok(fc_arena_used(a) - used < 256 * 1024,
	    "the readers held %zu bytes", fc_arena_used(a) - used);
	ok(read_section(a, "HEADER.FIELDS (x-field-59999)", false, root, fd,
	    false, 0, UINT64_MAX, &one, &size) == 0,
	    "HEADER.FIELDS of the last field");
	is_str(imap_str_cstr(&one), "X-Field-59999: value 59999\r\n\r\n",
	    "is that field and the blank line");
	imap_str_reset(&one);
	ok(read_section(a, spec, false, root, fd, false, 1000000, 30, &one,
	    &size) == 0 && one.len == 30 &&
	    memcmp(one.data, head.data + 1000000, 30) == 0,
	    "a partial of it in the middle");
	imap_str_free(&head);
	imap_str_free(&all);
	imap_str_free(&one);
	close(fd);
	fc_arena_free(&a);
}

/* A file that shrank after parsing gives an error, never short data. */
static void
check_shrunk(void)
{
	const char msg[] = "Subject: x\n\nline one\nline two\n";
	struct fc_arena *a = fc_arena_new("test", 0);
	struct fc_mime_part *root;
	struct imap_section *sec;
	struct imap_section_reader *r;
	const char *error;
	char buf[100];
	uint64_t size;
	ssize_t n, total = 0;
	int ret, fd = temp_file(msg, sizeof(msg) - 1);

	root = fc_mime_parse_fd(a, fd, NULL);
	imap_section_parse(a, "", 0, false, &sec, &error);
	ret = imap_section_open(a, sec, root, fd, false, 0, UINT64_MAX, &r,
	    &size, &error);
	ok(ret == 0 && size == sizeof(msg) - 1 + 4, "BODY[] announces %llu",
	    (unsigned long long)size);
	if (ftruncate(fd, 15) < 0)
		abort();
	while ((n = imap_section_read(r, buf, 4)) > 0)
		total += n;
	ok(n < 0 && errno == EIO, "a shrunk file is EIO after %zd bytes",
	    total);
	close(fd);
	fc_arena_free(&a);
}

static void
dump(const char *path, int argc, char **argv)
{
	struct fc_arena *a = fc_arena_new("test", 0);
	struct fc_mime_part *root;
	struct imap_str out;
	uint64_t size;
	size_t len;
	char *data = read_file(path, &len);
	int fd, i, ret;

	if (data == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		exit(1);
	}
	fd = temp_file(data, len);
	root = fc_mime_parse_fd(a, fd, NULL);
	imap_str_init(&out);
	imap_envelope_write(&out, root, false);
	printf("envelope ");
	escape_print(out.data, out.len);
	imap_str_reset(&out);
	imap_envelope_write(&out, root, true);
	printf("\nenvelope-utf8 ");
	escape_print(out.data, out.len);
	imap_str_reset(&out);
	imap_bodystructure_write(&out, root, false, false);
	printf("\nbody ");
	escape_print(out.data, out.len);
	imap_str_reset(&out);
	imap_bodystructure_write(&out, root, true, false);
	printf("\nbodystructure ");
	escape_print(out.data, out.len);
	imap_str_reset(&out);
	imap_bodystructure_write(&out, root, true, true);
	printf("\nbodystructure-utf8 ");
	escape_print(out.data, out.len);
	printf("\n");
	for (i = 0; i < argc; i++) {
		uint64_t off, plen;
		char *spec = strdup(argv[i]), *bar = strchr(spec, '|');
		bool binary = strncmp(spec, "B:", 2) == 0;

		parse_partial(bar != NULL ? bar + 1 : "-", &off, &plen);
		if (bar != NULL)
			*bar = '\0';
		unescape(spec);
		imap_str_reset(&out);
		ret = read_section(a, spec + (binary ? 2 : 0), binary, root, fd,
		    false, off, plen, &out, &size);
		if (ret == -3) {
			printf("binary-error %s\n", spec + 2);
			free(spec);
			continue;
		}
		if (ret != 0) {
			printf("# %s: error\n", argv[i]);
			free(spec);
			continue;
		}
		if (binary)
			printf("binary-size %s|%llu\n", spec + 2,
			    (unsigned long long)size);
		printf("%s %s|", binary ? "binary" : "section",
		    spec + (binary ? 2 : 0));
		if (!binary)
			printf("%s|", bar != NULL ? bar + 1 : "-");
		escape_print(out.data, out.len);
		printf("\n");
		free(spec);
	}
	imap_str_free(&out);
	close(fd);
	free(data);
	fc_arena_free(&a);
}

/* Times parsing, then ENVELOPE and BODYSTRUCTURE, of each file (CPU
 * time, which a busy machine disturbs less than wall time). */
static void
bench(int argc, char **argv)
{
	const int rounds = 2000;
	struct imap_str out;
	int i, k;

	imap_str_init(&out);
	for (i = 0; i < argc; i++) {
		struct fc_arena *a = fc_arena_new("bench", 0);
		struct fc_mime_part *root;
		struct timespec t0, t1, t2;
		size_t len;
		char *data = read_file(argv[i], &len);
		int fd;

		if (data == NULL)
			continue;
		fd = temp_file(data, len);
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
		for (k = 0; k < rounds; k++) {
			fc_arena_reset(a);
			root = fc_mime_parse_fd(a, fd, NULL);
		}
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
		for (k = 0; k < rounds; k++) {
			imap_str_reset(&out);
			imap_envelope_write(&out, root, false);
			imap_bodystructure_write(&out, root, true, false);
		}
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t2);
		printf("%-40s %7zu bytes  parse %6.2f us  "
		    "ENVELOPE+BODYSTRUCTURE %5.2f us (%zu bytes)\n", argv[i], len,
		    ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
		    (double)(t1.tv_nsec - t0.tv_nsec)) / rounds / 1000.0,
		    ((double)(t2.tv_sec - t1.tv_sec) * 1e9 +
		    (double)(t2.tv_nsec - t1.tv_nsec)) / rounds / 1000.0,
		    out.len);
		close(fd);
		free(data);
		fc_arena_free(&a);
	}
	imap_str_free(&out);
}

static int
name_cmp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

int
main(int argc, char **argv)
{
	const char *srcdir = getenv("FACTEUR_SRCDIR");
	char dir[4096], imap_dir[4200], **names = NULL, *dot;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	DIR *d;

	if (argc >= 2 && strcmp(argv[1], "--bench") == 0) {
		bench(argc - 2, argv + 2);
		return 0;
	}
	if (argc >= 2) {
		dump(argv[1], argc - 2, argv + 2);
		return 0;
	}
	snprintf(dir, sizeof(dir), "%s/tests", srcdir != NULL ? srcdir : "..");
	snprintf(imap_dir, sizeof(imap_dir), "%s/imap", dir);
	check_parse();
	check_large();
	check_large_header();
	check_shrunk();
	d = opendir(imap_dir);
	if (!ok(d != NULL, "corpus %s opened", imap_dir))
		return done();
	while ((de = readdir(d)) != NULL) {
		dot = strrchr(de->d_name, '.');
		if (dot == NULL || strcmp(dot, ".expect") != 0)
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
	for (i = 0; i < n; i++) {
		check_expect(dir, names[i]);
		free(names[i]);
	}
	free(names);
	return done();
}
