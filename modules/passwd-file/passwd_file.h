/*
 * passwd_file.h - the passwd file's lines as a lookup table
 * (passwd_file_table.c), apart from the module so it can be unit-tested.
 */
#ifndef FACTEUR_PASSWD_FILE_H
#define FACTEUR_PASSWD_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct passwd_file_entry {
	const char *name;		/* lower case */
	const char *hash;		/* "" for a disabled login */
	const char *home;		/* or NULL */
	const char *mail;		/* or NULL */
	uint64_t quota_bytes;
	uint64_t quota_messages;
	struct passwd_file_entry *next;	/* in its bucket */
};

struct passwd_file_table;

/*
 * Parses a whole file. NULL on error, with *error_r ("path:line: why")
 * allocated with malloc for the caller to free.
 */
struct passwd_file_table *passwd_file_table_parse(const char *text,
    size_t len, const char *path, bool allow_plaintext,
    const char **error_r);
struct passwd_file_table *passwd_file_table_read(FILE *f, const char *path,
    bool allow_plaintext, const char **error_r);
const struct passwd_file_entry *passwd_file_table_find(
    const struct passwd_file_table *t, const char *name);
size_t passwd_file_table_count(const struct passwd_file_table *t);
void passwd_file_table_free(struct passwd_file_table **t);

#endif
