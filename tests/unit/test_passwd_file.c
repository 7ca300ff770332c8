/*
 * test_passwd_file.c - the passwd-file back end's parser
 * (modules/passwd-file/passwd_file_table.c, compiled into this test).
 *
 * Lines are name:hash:uid:gid:gecos:home:shell:extra. A bad line fails
 * the whole file with path:line, so each error row checks the exact
 * message, and where it matters that the line number is not always 1.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passwd_file.h"
#include "tap.h"

#define NELEMS(a)	(sizeof(a) / sizeof((a)[0]))
#define GIB		(1024ULL * 1024 * 1024)

/* err NULL: parses, with count users; else the whole message */
static const struct {
	const char *name, *text;
	bool allow_plain;
	size_t count;
	const char *err;
} cases[] = {
	{ "empty file", "", false, 0, NULL },
	{ "one user", "alice:$6$salt$hash\n", false, 1, NULL },
	{ "no final newline", "alice:$6$salt$hash", false, 1, NULL },
	{ "comments and blank lines",
	  "# users\n\n   \n\t# indented comment\nalice:h\n\nbob:h\n", false,
	  2, NULL },
	{ "CRLF lines", "alice:h\r\nbob:h\r\n", false, 2, NULL },
	{ "disabled login", "alice:\n", false, 1, NULL },
	{ "all fields", "alice:h:1000:1000:Alice:/home/alice:/bin/sh:"
	  "mail=a@example.org\n", false, 1, NULL },
	{ "{PLAIN} when allowed", "alice:{PLAIN}secret\n", true, 1, NULL },
	{ "many users", NULL, false, 300, NULL },

	{ "bad name: empty", "alice:h\n:h\n", false, 0,
	  "users:2: bad user name" },
	{ "bad name: space", "al ice:h\n", false, 0, "users:1: bad user name" },
	{ "bad name: control", "al\001ice:h\n", false, 0,
	  "users:1: bad user name" },
	{ "bad name: leading space", "  alice:h\n", false, 0,
	  "users:1: bad user name" },
	{ "no hash", "alice\n", false, 0, "users:1: expected name:hash" },
	{ "duplicate user", "alice:h\nbob:h\nalice:h2\n", false, 0,
	  "users:3: user alice appears twice" },
	{ "duplicate in another case", "Alice:h\nALICE:h\n", false, 0,
	  "users:2: user alice appears twice" },
	{ "{PLAIN} not allowed", "alice:h\nbob:{PLAIN}secret\n", false, 0,
	  "users:2: {PLAIN} passwords need allow_plaintext_passwords yes" },
	/* {CRYPT} promises a crypt(3) hash: a plaintext one inside is
	 * refused whether or not plaintext passwords are allowed */
	{ "{CRYPT}{PLAIN} refused", "bob:{CRYPT}{PLAIN}secret\n", false,
	  0, "users:1: unknown password scheme (use a crypt(3) hash, "
	  "{CRYPT}hash or {PLAIN}password)" },
	{ "{CRYPT}{PLAIN} refused when allowed", "bob:{CRYPT}{PLAIN}secret\n",
	  true, 0, "users:1: unknown password scheme (use a crypt(3) hash, "
	  "{CRYPT}hash or {PLAIN}password)" },
	{ "unknown scheme", "alice:{MD5}abc\n", false, 0,
	  "users:1: unknown password scheme (use a crypt(3) hash, "
	  "{CRYPT}hash or {PLAIN}password)" },
	{ "unknown scheme after {CRYPT}", "alice:{CRYPT}{SHA}abc\n", false, 0,
	  "users:1: unknown password scheme (use a crypt(3) hash, "
	  "{CRYPT}hash or {PLAIN}password)" },
	{ "relative home", "alice:h::::home/alice\n", false, 0,
	  "users:1: home must be an absolute path" },
	{ "unknown extra field", "alice:h::::::color=blue\n", false, 0,
	  "users:1: unknown extra field (known: mail, quota, "
	  "quota_messages)" },
	{ "extra field without =", "alice:h::::::mail\n", false, 0,
	  "users:1: extra fields are key=value" },
	{ "bad quota", "alice:h::::::quota=1.5G\n", false, 0,
	  "users:1: quota: expected a size such as 1G" },
	{ "bad quota_messages", "alice:h::::::quota_messages=-1\n", false, 0,
	  "users:1: quota_messages: expected a number" },
};

/* 300 users, to make the table grow past its first 64 buckets */
static char *
many_users(void)
{
	char *text = malloc(300 * 32);
	size_t len = 0;
	int i;

	for (i = 0; i < 300; i++)
		len += (size_t)snprintf(text + len, 300 * 32 - len,
		    "user%d:$6$x$y\n", i);
	return text;
}

static void
test_cases(void)
{
	size_t i;

	for (i = 0; i < NELEMS(cases); i++) {
		struct passwd_file_table *t;
		const char *err = NULL;
		char *text = cases[i].text != NULL ? NULL : many_users();
		const char *in = text != NULL ? text : cases[i].text;

		t = passwd_file_table_parse(in, strlen(in), "users",
		    cases[i].allow_plain, &err);
		if (cases[i].err == NULL) {
			if (!ok(t != NULL, "%s: parsed", cases[i].name))
				diag("error: %s", err);
			is_int((long long)passwd_file_table_count(t),
			    (long long)cases[i].count, "%s: users",
			    cases[i].name);
		} else {
			ok(t == NULL, "%s: refused", cases[i].name);
			is_str(err, cases[i].err, "%s: message", cases[i].name);
		}
		if (t == NULL && err != NULL)
			free((char *)err);
		passwd_file_table_free(&t);
		ok(t == NULL, "%s: free sets NULL", cases[i].name);
		free(text);
	}
}

static void
test_entries(void)
{
	static const char text[] =
	    "alice:{CRYPT}$6$salt$hash\n"
	    "Bob:$2y$05$abc::::/home/bob\n"
	    "carol:h:1:2:Carol C:/var/mail/carol:/bin/false:"
	    "mail=carol@example.org quota=1G\tquota_messages=1000\n"
	    "dave:{PLAIN}pw:::::: quota=0\n"
	    "eve:\n";
	const struct passwd_file_entry *e;
	struct passwd_file_table *t;
	const char *err = NULL;
	char *many;
	int i;
	bool found = true;

	t = passwd_file_table_parse(text, strlen(text), "users", true, &err);
	if (!ok(t != NULL, "entries: parsed")) {
		diag("error: %s", err);
		free((char *)err);
		return;
	}
	e = passwd_file_table_find(t, "alice");
	ok(e != NULL, "entries: alice found");
	if (e != NULL) {
		is_str(e->hash, "$6$salt$hash", "entries: {CRYPT} removed");
		ok(e->home == NULL && e->mail == NULL,
		    "entries: absent fields are NULL");
		ok(e->quota_bytes == 0 && e->quota_messages == 0,
		    "entries: absent quotas are 0");
	}
	e = passwd_file_table_find(t, "BOB");
	ok(e != NULL, "entries: find ignores case");
	if (e != NULL) {
		is_str(e->name, "bob", "entries: names kept in lower case");
		is_str(e->hash, "$2y$05$abc", "entries: bcrypt hash kept");
		is_str(e->home, "/home/bob", "entries: home");
	}
	e = passwd_file_table_find(t, "Carol");
	ok(e != NULL, "entries: carol found");
	if (e != NULL) {
		is_str(e->home, "/var/mail/carol", "entries: carol's home");
		is_str(e->mail, "carol@example.org", "entries: mail=");
		ok(e->quota_bytes == GIB, "entries: quota=1G");
		ok(e->quota_messages == 1000, "entries: quota_messages=");
	}
	e = passwd_file_table_find(t, "dave");
	ok(e != NULL && strcmp(e->hash, "{PLAIN}pw") == 0,
	    "entries: {PLAIN} kept for the checker");
	e = passwd_file_table_find(t, "eve");
	ok(e != NULL && strcmp(e->hash, "") == 0,
	    "entries: empty hash is a disabled login");
	ok(passwd_file_table_find(t, "mallory") == NULL,
	    "entries: unknown user not found");
	ok(passwd_file_table_find(t, "alic") == NULL,
	    "entries: prefix not found");
	ok(passwd_file_table_find(t, "") == NULL,
	    "entries: empty name not found");
	passwd_file_table_free(&t);
	ok(passwd_file_table_find(NULL, "alice") == NULL,
	    "entries: find in no table");

	/* after the table grew, every user is still found */
	many = many_users();
	t = passwd_file_table_parse(many, strlen(many), "users", false, &err);
	for (i = 0; t != NULL && i < 300; i++) {
		char name[32];

		snprintf(name, sizeof(name), "USER%d", i);
		if (passwd_file_table_find(t, name) == NULL)
			found = false;
	}
	ok(t != NULL && found, "entries: all 300 users found after growth");
	passwd_file_table_free(&t);
	free(many);
}

/* Lines are at most 4096 bytes, without the line end. */
static void
test_long_lines(void)
{
	struct passwd_file_table *t;
	const char *err = NULL;
	char *text = malloc(8192);
	size_t len;

	/* "alice:" then a hash filling the line to 4096 */
	len = (size_t)snprintf(text, 8192, "bob:h\nalice:");
	memset(text + len, 'x', 4096 - 6);
	len += 4096 - 6;
	memcpy(text + len, "\r\n", 2);
	t = passwd_file_table_parse(text, len + 2, "users", false, &err);
	ok(t != NULL && passwd_file_table_count(t) == 2,
	    "long lines: 4096 bytes and CRLF accepted");
	passwd_file_table_free(&t);

	memcpy(text + len, "x\n", 2);
	t = passwd_file_table_parse(text, len + 2, "users", false, &err);
	ok(t == NULL, "long lines: 4097 bytes refused");
	is_str(err, "users:2: line longer than 4096 bytes",
	    "long lines: message");
	if (t == NULL)
		free((char *)err);
	free(text);
}

static void
test_nul(void)
{
	static const char text[] = "alice:h\nbo\0b:h\n";
	struct passwd_file_table *t;
	const char *err = NULL;

	t = passwd_file_table_parse(text, sizeof(text) - 1, "users", false,
	    &err);
	ok(t == NULL, "NUL: refused");
	is_str(err, "users:2: NUL byte", "NUL: message");
	if (t == NULL)
		free((char *)err);
	passwd_file_table_free(&t);
}

/* The same parser through a stdio stream, as the module reads it. */
static void
test_read(void)
{
	static const char good[] = "alice:h\nbob:h\n";
	static const char bad[] = "alice:h\n\nalice:h\n";
	struct passwd_file_table *t;
	const char *err = NULL;
	FILE *f;

	f = fmemopen((void *)good, sizeof(good) - 1, "r");
	t = passwd_file_table_read(f, "mem", false, &err);
	fclose(f);
	ok(t != NULL && passwd_file_table_count(t) == 2, "read: parsed");
	passwd_file_table_free(&t);
	f = fmemopen((void *)bad, sizeof(bad) - 1, "r");
	t = passwd_file_table_read(f, "mem", false, &err);
	fclose(f);
	ok(t == NULL, "read: bad file refused");
	is_str(err, "mem:3: user alice appears twice", "read: message");
	if (t == NULL)
		free((char *)err);
}

int
main(void)
{
	test_cases();
	test_entries();
	test_long_lines();
	test_nul();
	test_read();
	return done();
}
