/*
 * fuzz_passwd.c - libFuzzer target for the passwd-file parser
 * (modules/passwd-file/passwd_file_table.c).
 *
 * The file is written by an admin or a provisioning script; a line it
 * cannot parse must give "path:line: reason", never a crash. Byte 0
 * says whether {PLAIN} passwords are allowed; the rest is the file. On
 * success, the name of each line that looks like a user is looked up
 * to exercise the table.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passwd_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_passwd_check(bool cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_passwd: %s\n", what);
		abort();
	}
}

/* Looks up the text before the first ':' of each line. */
static void
fuzz_passwd_lookups(const struct passwd_file_table *t, const char *text,
    size_t len)
{
	char name[300];
	size_t pos = 0;

	while (pos < len) {
		const char *line = text + pos, *nl, *colon, *p;
		size_t n;

		nl = memchr(line, '\n', len - pos);
		n = nl != NULL ? (size_t)(nl - line) : len - pos;
		pos += n + 1;
		/* the parser skips comments, even indented ones */
		for (p = line; p < line + n && (*p == ' ' || *p == '\t'); p++)
			;
		if (p < line + n && *p == '#')
			continue;
		colon = memchr(line, ':', n);
		if (colon == NULL || colon == line ||
		    (size_t)(colon - line) >= sizeof(name))
			continue;
		memcpy(name, line, (size_t)(colon - line));
		name[colon - line] = '\0';
		/* a valid line's user must be there, in any case */
		fuzz_passwd_check(passwd_file_table_find(t, name) != NULL,
		    "a parsed user is not found");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char path[] = "fuzz-passwd";
	struct passwd_file_table *t;
	const char *err = NULL;
	bool allow;

	if (size < 1)
		return 0;
	allow = data[0] & 1;
	data++;
	size--;
	t = passwd_file_table_parse((const char *)data, size, path, allow,
	    &err);
	if (t == NULL) {
		fuzz_passwd_check(err != NULL &&
		    strncmp(err, path, sizeof(path) - 1) == 0 &&
		    err[sizeof(path) - 1] == ':', "error without path:line");
		free((char *)err);
		return 0;
	}
	fuzz_passwd_lookups(t, (const char *)data, size);
	passwd_file_table_free(&t);
	fuzz_passwd_check(t == NULL, "free did not clear the pointer");
	return 0;
}
