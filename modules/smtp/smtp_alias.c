/*
 * smtp_alias.c - virtual aliases: an address stands for other addresses.
 *
 *	# comment
 *	info@example.org	alice@example.org, bob@example.org
 *	@example.net		alice@example.org	(the whole domain)
 *	sales@example.org	list@lists.example.com	(forwarded away)
 *
 * The same lines as Postfix's virtual table, so existing files can be
 * used as they are. Keys match without regard to case; an exact address
 * wins over its domain's catch-all. Targets may be aliases themselves, to
 * a depth of ALIAS_DEPTH; a loop ends there. The file is read again when
 * it changes; a broken file keeps the previous contents in use.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <facteur/arena.h>
#include <facteur/log.h>

#include "smtp.h"

#define ALIAS_DEPTH	8
#define ALIAS_TARGETS	1000	/* after expansion, per address */

struct alias_entry {
	char *key;			/* lower case */
	char **targets;
	size_t ntargets;
};

struct smtp_alias {
	char *path;
	struct fc_arena *arena;
	struct alias_entry *entries;	/* sorted by key */
	size_t count;
	struct timespec mtime;
	ino_t ino;
};

static int
alias_cmp(const void *a, const void *b)
{
	return strcmp(((const struct alias_entry *)a)->key,
	    ((const struct alias_entry *)b)->key);
}

static char *
alias_lower(struct fc_arena *a, const char *s, size_t n)
{
	char *out = fc_arena_strndup(a, s, n);
	char *p;

	for (p = out; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return out;
}

/* Reads the file into a new arena; NULL with *error_r on bad lines. */
static int
alias_read(struct smtp_alias *map, const char **error_r)
{
	static char message[512];
	struct fc_arena *a;
	struct alias_entry *entries = NULL;
	size_t count = 0, alloc = 0;
	char *line = NULL;
	size_t cap = 0;
	unsigned int lineno = 0;
	struct stat st;
	ssize_t n;
	FILE *f;

	f = fopen(map->path, "re");
	if (f == NULL || fstat(fileno(f), &st) < 0) {
		snprintf(message, sizeof(message), "%s: %s", map->path,
		    strerror(errno));
		*error_r = message;
		if (f != NULL)
			fclose(f);
		return -1;
	}
	a = fc_arena_new("smtp-aliases", 4096);
	while ((n = getline(&line, &cap, f)) >= 0) {
		char *p = line, *key, *t;
		struct alias_entry *e;
		size_t nt = 0, talloc = 4;

		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		key = p;
		while (*p != '\0' && !isspace((unsigned char)*p))
			p++;
		if (*p == '\0' || strchr(key, '@') == NULL) {
			snprintf(message, sizeof(message), "%s:%u: expected "
			    "an address, then its targets", map->path, lineno);
			goto fail;
		}
		if (count == alloc) {
			alloc = alloc == 0 ? 64 : alloc * 2;
			entries = fc_realloc(entries, alloc * sizeof(*entries));
		}
		e = &entries[count++];
		e->key = alias_lower(a, key, (size_t)(p - key));
		e->targets = fc_arena_alloc(a, talloc * sizeof(char *));
		for (t = strtok(p, ", \t"); t != NULL; t = strtok(NULL, ", \t")) {
			if (nt == talloc) {
				char **more = fc_arena_alloc(a, talloc * 2 *
				    sizeof(char *));

				memcpy(more, e->targets, nt * sizeof(char *));
				e->targets = more;
				talloc *= 2;
			}
			e->targets[nt++] = fc_arena_strdup(a, t);
		}
		if (nt == 0) {
			snprintf(message, sizeof(message), "%s:%u: %s has no "
			    "target", map->path, lineno, e->key);
			goto fail;
		}
		e->ntargets = nt;
	}
	free(line);
	fclose(f);
	if (count > 1)
		qsort(entries, count, sizeof(*entries), alias_cmp);
	fc_arena_free(&map->arena);
	free(map->entries);
	map->arena = a;
	map->entries = entries;
	map->count = count;
	map->mtime = st.st_mtim;
	map->ino = st.st_ino;
	return 0;
fail:
	*error_r = message;
	free(line);
	fclose(f);
	free(entries);
	fc_arena_free(&a);
	return -1;
}

struct smtp_alias *
smtp_alias_open(const char *path, const char **error_r)
{
	struct smtp_alias *map = fc_calloc(1, sizeof(*map));

	map->path = fc_strdup(path);
	if (alias_read(map, error_r) < 0) {
		smtp_alias_close(&map);
		return NULL;
	}
	return map;
}

void
smtp_alias_close(struct smtp_alias **mapp)
{
	struct smtp_alias *map = *mapp;

	if (map == NULL)
		return;
	*mapp = NULL;
	fc_arena_free(&map->arena);
	free(map->entries);
	free(map->path);
	free(map);
}

static void
alias_refresh(struct smtp_alias *map)
{
	const char *err;
	struct stat st;

	if (stat(map->path, &st) < 0 || (st.st_ino == map->ino
	    && st.st_mtim.tv_sec == map->mtime.tv_sec
	    && st.st_mtim.tv_nsec == map->mtime.tv_nsec))
		return;
	if (alias_read(map, &err) < 0) {
		fc_log(FC_LOG_ERROR, "smtp: %s; keeping the aliases read "
		    "before", err);
		map->mtime = st.st_mtim;	/* say it once per change */
		map->ino = st.st_ino;
	}
}

static const struct alias_entry *
alias_find(const struct smtp_alias *map, const char *key)
{
	struct alias_entry k = { .key = (char *)key };

	if (map->count == 0)
		return NULL;
	return bsearch(&k, map->entries, map->count, sizeof(k), alias_cmp);
}

static const struct alias_entry *
alias_match(const struct smtp_alias *map, struct fc_arena *a,
    const char *address)
{
	const struct alias_entry *e;
	const char *at = strrchr(address, '@');
	char *key = alias_lower(a, address, strlen(address));

	if ((e = alias_find(map, key)) != NULL || at == NULL)
		return e;
	return alias_find(map, key + (at - address));	/* "@domain" */
}

static void
alias_walk(const struct smtp_alias *map, struct fc_arena *a,
    const char *address, unsigned int depth, char ***out, size_t *n,
    size_t *alloc)
{
	const struct alias_entry *e = alias_match(map, a, address);
	size_t i;

	if (e == NULL || depth == ALIAS_DEPTH) {
		/* an end point; the same target twice counts once */
		for (i = 0; i < *n; i++)
			if (strcasecmp((*out)[i], address) == 0)
				return;
		if (*n == ALIAS_TARGETS)
			return;
		if (*n == *alloc) {
			char **more = fc_arena_alloc(a, *alloc * 2 *
			    sizeof(char *));

			memcpy(more, *out, *n * sizeof(char *));
			*out = more;
			*alloc *= 2;
		}
		(*out)[(*n)++] = fc_arena_strdup(a, address);
		return;
	}
	for (i = 0; i < e->ntargets; i++) {
		/* "alice@x  alice@x" keeps the mailbox as well */
		if (strcasecmp(e->targets[i], address) == 0) {
			alias_walk(map, a, address, ALIAS_DEPTH, out, n, alloc);
			continue;
		}
		alias_walk(map, a, e->targets[i], depth + 1, out, n, alloc);
	}
}

int
smtp_alias_expand(struct smtp_alias *map, struct fc_arena *a,
    const char *address, char ***targets_r, size_t *n_r)
{
	size_t n = 0, alloc = 8;
	char **out;

	if (map == NULL)
		return 0;
	alias_refresh(map);
	if (alias_match(map, a, address) == NULL)
		return 0;
	out = fc_arena_alloc(a, alloc * sizeof(char *));
	alias_walk(map, a, address, 0, &out, &n, &alloc);
	*targets_r = out;
	*n_r = n;
	return 1;
}
