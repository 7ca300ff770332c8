/*
 * passwd_file_table.c - parses the passwd file into a hash table.
 *
 * Every line is checked; the first bad one fails the whole file with
 * path:line and the reason, because a half-read user list would lock
 * users out silently. Lines are at most PASSWD_LINE_MAX bytes.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <facteur/arena.h>
#include <facteur/conf.h>

#include "passwd_file.h"

#define PASSWD_LINE_MAX		4096
#define PASSWD_FILE_MAX		(256 * 1024 * 1024)

struct passwd_file_table {
	struct fc_arena *arena;
	struct passwd_file_entry **buckets;
	size_t nbuckets;		/* power of two */
	size_t count;
};

static uint64_t
passwd_file_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)tolower((unsigned char)*s)) *
		    1099511628211ULL;
	return h;
}

const struct passwd_file_entry *
passwd_file_table_find(const struct passwd_file_table *t, const char *name)
{
	const struct passwd_file_entry *e;

	if (t == NULL)
		return NULL;
	e = t->buckets[passwd_file_hash(name) & (t->nbuckets - 1)];
	for (; e != NULL; e = e->next)
		if (strcasecmp(e->name, name) == 0)
			return e;
	return NULL;
}

size_t
passwd_file_table_count(const struct passwd_file_table *t)
{
	return t == NULL ? 0 : t->count;
}

void
passwd_file_table_free(struct passwd_file_table **tp)
{
	struct passwd_file_table *t = *tp;

	if (t == NULL)
		return;
	*tp = NULL;
	free(t->buckets);
	fc_arena_free(&t->arena);
	free(t);
}

static const char *
passwd_file_fail(const char *path, unsigned int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static const char *
passwd_file_fail(const char *path, unsigned int line, const char *fmt, ...)
{
	char msg[512], *out;
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = snprintf(NULL, 0, "%s:%u: %s", path, line, msg);
	out = fc_malloc((size_t)n + 1);
	snprintf(out, (size_t)n + 1, "%s:%u: %s", path, line, msg);
	return out;
}

static const char *
passwd_file_extra(struct passwd_file_entry *e, char *fields,
    struct fc_arena *a)
{
	char *save, *w;

	for (w = strtok_r(fields, " \t", &save); w != NULL;
	    w = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(w, '=');
		unsigned long long n;
		uint64_t size;

		if (eq == NULL)
			return "extra fields are key=value";
		*eq++ = '\0';
		if (strcmp(w, "mail") == 0) {
			e->mail = fc_arena_strdup(a, eq);
		} else if (strcmp(w, "quota") == 0) {
			if (fc_conf_parse_size(eq, &size) != NULL)
				return "quota: expected a size such as 1G";
			e->quota_bytes = size;
		} else if (strcmp(w, "quota_messages") == 0) {
			if (fc_conf_parse_uint(eq, 0, &n) != NULL)
				return "quota_messages: expected a number";
			e->quota_messages = n;
		} else
			return "unknown extra field (known: mail, quota, "
			    "quota_messages)";
	}
	return NULL;
}

static bool
passwd_file_valid_name(const char *name)
{
	const unsigned char *p;

	if (*name == '\0' || strlen(name) > 255)
		return false;
	for (p = (const unsigned char *)name; *p != '\0'; p++)
		if (*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

/* Parses one line (already NUL-terminated, without its LF). */
static const char *
passwd_file_line(struct passwd_file_table *t, char *line,
    bool allow_plaintext, struct passwd_file_entry **e_r)
{
	struct passwd_file_entry *e;
	char *field[8], *p;
	const char *err;
	size_t n = 0, i;

	for (p = line, field[n++] = p; *p != '\0' && n < 8; p++) {
		if (*p == ':') {
			*p = '\0';
			field[n++] = p + 1;
		}
	}
	for (i = n; i < 8; i++)
		field[i] = NULL;
	if (!passwd_file_valid_name(field[0]))
		return "bad user name";
	if (n < 2)
		return "expected name:hash";

	e = fc_arena_alloc(t->arena, sizeof(*e));
	{
		char *lower = fc_arena_strdup(t->arena, field[0]);

		for (p = lower; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		e->name = lower;
	}
	p = field[1];
	if (strncmp(p, "{PLAIN}", 7) == 0) {
		if (!allow_plaintext)
			return "{PLAIN} passwords need "
			    "allow_plaintext_passwords yes";
	} else {
		if (strncmp(p, "{CRYPT}", 7) == 0)
			p += 7;
		if (p[0] == '{')
			return "unknown password scheme (use a crypt(3) hash, "
			    "{CRYPT}hash or {PLAIN}password)";
	}
	e->hash = fc_arena_strdup(t->arena, p);
	if (field[5] != NULL && field[5][0] != '\0') {
		if (field[5][0] != '/')
			return "home must be an absolute path";
		e->home = fc_arena_strdup(t->arena, field[5]);
	}
	if (field[7] != NULL && (err = passwd_file_extra(e, field[7],
	    t->arena)) != NULL)
		return err;
	*e_r = e;
	return NULL;
}

static void
passwd_file_grow(struct passwd_file_table *t)
{
	struct passwd_file_entry **old = t->buckets, *e, *next;
	size_t oldn = t->nbuckets, i;

	t->nbuckets = oldn * 2;
	t->buckets = fc_calloc(t->nbuckets, sizeof(*t->buckets));
	for (i = 0; i < oldn; i++) {
		for (e = old[i]; e != NULL; e = next) {
			size_t b = passwd_file_hash(e->name) &
			    (t->nbuckets - 1);

			next = e->next;
			e->next = t->buckets[b];
			t->buckets[b] = e;
		}
	}
	free(old);
}

struct passwd_file_table *
passwd_file_table_parse(const char *text, size_t len, const char *path,
    bool allow_plaintext, const char **error_r)
{
	struct passwd_file_table *t;
	char line[PASSWD_LINE_MAX + 1];
	unsigned int lineno = 0;
	size_t pos = 0;

	t = fc_calloc(1, sizeof(*t));
	t->arena = fc_arena_new("passwd-file", 16384);
	t->nbuckets = 64;
	t->buckets = fc_calloc(t->nbuckets, sizeof(*t->buckets));

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;
		struct passwd_file_entry *e;
		const char *err, *start;
		size_t b;

		lineno++;
		start = text + pos;
		pos += n + (nl != NULL);
		if (n > 0 && start[n - 1] == '\r')
			n--;
		if (n > PASSWD_LINE_MAX) {
			*error_r = passwd_file_fail(path, lineno,
			    "line longer than %d bytes", PASSWD_LINE_MAX);
			goto fail;
		}
		if (memchr(start, '\0', n) != NULL) {
			*error_r = passwd_file_fail(path, lineno, "NUL byte");
			goto fail;
		}
		memcpy(line, start, n);
		line[n] = '\0';
		{
			char *p = line;

			while (*p == ' ' || *p == '\t')
				p++;
			if (*p == '\0' || *p == '#')
				continue;
		}
		if ((err = passwd_file_line(t, line, allow_plaintext, &e))
		    != NULL) {
			*error_r = passwd_file_fail(path, lineno, "%s", err);
			goto fail;
		}
		if (passwd_file_table_find(t, e->name) != NULL) {
			*error_r = passwd_file_fail(path, lineno,
			    "user %s appears twice", e->name);
			goto fail;
		}
		if (t->count >= t->nbuckets)
			passwd_file_grow(t);
		b = passwd_file_hash(e->name) & (t->nbuckets - 1);
		e->next = t->buckets[b];
		t->buckets[b] = e;
		t->count++;
	}
	return t;
fail:
	passwd_file_table_free(&t);
	return NULL;
}

struct passwd_file_table *
passwd_file_table_read(FILE *f, const char *path, bool allow_plaintext,
    const char **error_r)
{
	struct passwd_file_table *t;
	size_t len = 0, size = 65536, n;
	char *text = fc_malloc(size);

	while ((n = fread(text + len, 1, size - len, f)) > 0) {
		len += n;
		if (len == size) {
			if (size >= PASSWD_FILE_MAX) {
				free(text);
				*error_r = passwd_file_fail(path, 0,
				    "file larger than %d bytes",
				    PASSWD_FILE_MAX);
				return NULL;
			}
			size *= 2;
			text = fc_realloc(text, size);
		}
	}
	if (ferror(f)) {
		free(text);
		*error_r = passwd_file_fail(path, 0, "read error");
		return NULL;
	}
	t = passwd_file_table_parse(text, len, path, allow_plaintext, error_r);
	free(text);
	return t;
}
