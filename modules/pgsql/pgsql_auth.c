/*
 * pgsql_auth.c - users, domains and aliases in the database: the "pgsql"
 * auth back end, and `facteurctl user|domain|alias`.
 *
 * A user is a row of `users`: a name (local@domain, lower case), a
 * crypt(3) hash from libxcrypt ($y$ yescrypt by default), an optional
 * home and mail location ("maildir:/srv/mail/alice", "pgsql:"), and
 * quota limits (0: none). The mail may be in either storage module.
 * An alias maps an address to a user's name; delivery follows one
 * alias, logins never do. An unknown user costs the same crypt() as a
 * wrong password. A database that cannot be reached is a temporary
 * failure, never "unknown user".
 */
#define _GNU_SOURCE
#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include <libpq-fe.h>

#include <facteur/arena.h>
#include <facteur/auth.h>
#include <facteur/command.h>
#include <facteur/log.h>

#include "pgsql.h"

struct pgsql_auth {
	struct crypt_data *crypt;
	char dummy_hash[CRYPT_OUTPUT_SIZE];
};

static struct pgsql_auth auth_ctx;

static bool
auth_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i;
	unsigned char diff = la != lb;

	for (i = 0; i < la && i < lb; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

/* 1 matches, 0 does not, -1 the hash is unusable. */
static int
auth_check(const char *hash, const char *password)
{
	const char *out;

	if (auth_ctx.crypt == NULL)
		auth_ctx.crypt = fc_calloc(1, sizeof(*auth_ctx.crypt));
	memset(auth_ctx.crypt, 0, sizeof(*auth_ctx.crypt));
	out = crypt_rn(password, hash, auth_ctx.crypt,
	    sizeof(*auth_ctx.crypt));
	if (out == NULL || out[0] == '*')
		return -1;
	return auth_equal(out, hash) ? 1 : 0;
}

static struct fc_user *
auth_user(struct fc_arena *a, const PGresult *r)
{
	struct fc_user *u = fc_user_new(a, PQgetvalue(r, 0, 0));

	if (!PQgetisnull(r, 0, 2) && PQgetvalue(r, 0, 2)[0] != '\0')
		fc_user_set_home(u, PQgetvalue(r, 0, 2));
	if (!PQgetisnull(r, 0, 3) && PQgetvalue(r, 0, 3)[0] != '\0')
		fc_user_set_mail(u, PQgetvalue(r, 0, 3));
	fc_user_set_quota(u, strtoull(PQgetvalue(r, 0, 4), NULL, 10),
	    strtoull(PQgetvalue(r, 0, 5), NULL, 10));
	return u;
}

/* The user's row (1), none (0) or -1 with *error_r. */
static int
auth_get(const char *name, PGresult **r_r, const char **error_r)
{
	const char *v[1] = { name };
	enum fc_error code;
	PGresult *r;

	r = pgsql_exec(PS_USER_GET, 1, v, NULL, NULL, 0, &code, error_r);
	if (r == NULL)
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return 0;
	}
	*r_r = r;
	return 1;
}

static enum fc_auth_result
pgsql_verify(void *arg, const char *name, const char *password,
    struct fc_arena *a, struct fc_user **user_r, const char **error_r)
{
	PGresult *r = NULL;
	int found, ok;

	(void)arg;
	found = auth_get(name, &r, error_r);
	if (found < 0)
		return FC_AUTH_TEMPFAIL;
	if (found == 0 || PQgetvalue(r, 0, 1)[0] == '\0') {
		(void)auth_check(auth_ctx.dummy_hash, password);
		if (r != NULL)
			PQclear(r);
		return FC_AUTH_FAILED;
	}
	ok = auth_check(PQgetvalue(r, 0, 1), password);
	if (ok < 0) {
		fc_log(FC_LOG_ERROR, "pgsql: the hash of user %s is not usable "
		    "by crypt(3)", PQgetvalue(r, 0, 0));
		*error_r = "unusable password hash";
	}
	if (ok == 1)
		*user_r = auth_user(a, r);
	PQclear(r);
	return ok == 1 ? FC_AUTH_OK : FC_AUTH_FAILED;
}

static int
pgsql_lookup(void *arg, const char *name, struct fc_arena *a,
    struct fc_user **user_r, const char **error_r)
{
	const char *v[1] = { name };
	enum fc_error code;
	PGresult *r = NULL, *al;
	char *target;
	int found;

	(void)arg;
	found = auth_get(name, &r, error_r);
	if (found != 0) {
		if (found > 0) {
			*user_r = auth_user(a, r);
			PQclear(r);
		}
		return found;
	}
	al = pgsql_exec(PS_ALIAS_GET, 1, v, NULL, NULL, 0, &code, error_r);
	if (al == NULL)
		return -1;
	if (PQntuples(al) != 1) {
		PQclear(al);
		return 0;
	}
	target = fc_arena_strdup(a, PQgetvalue(al, 0, 0));
	PQclear(al);
	found = auth_get(target, &r, error_r);
	if (found > 0) {
		*user_r = auth_user(a, r);
		PQclear(r);
	}
	return found;
}

static const struct fc_auth_backend_ops pgsql_auth_ops = {
	.size = sizeof(struct fc_auth_backend_ops),
	.verify = pgsql_verify,
	.lookup = pgsql_lookup,
};

int
pgsql_auth_register(struct fc_core *core, struct pgsql_conf *conf,
    const char **error_r)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	const char *out;

	if (auth_ctx.crypt == NULL)
		auth_ctx.crypt = fc_calloc(1, sizeof(*auth_ctx.crypt));
	if (auth_ctx.dummy_hash[0] == '\0') {
		if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt))
		    == NULL || (out = crypt_rn("no such user", salt,
		    auth_ctx.crypt, sizeof(*auth_ctx.crypt))) == NULL
		    || out[0] == '*') {
			*error_r = "crypt(3) cannot make a yescrypt hash";
			return -1;
		}
		snprintf(auth_ctx.dummy_hash, sizeof(auth_ctx.dummy_hash),
		    "%s", out);
	}
	return fc_auth_register(core, "pgsql", &pgsql_auth_ops, conf, error_r);
}

/* ------------------------------------------------------------------ */
/* facteurctl user|domain|alias */

/* Runs one parameterised statement on c; the result, or NULL (printed). */
static PGresult *
ctl_exec(PGconn *c, const char *sql, int n, const char *const *v)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, v, NULL, NULL, 0);
	ExecStatusType s = PQresultStatus(r);
	const char *state;

	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
		return r;
	state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	if (state != NULL && strcmp(state, "23505") == 0)
		fprintf(stderr, "facteurctl: %s exists already\n", v[0]);
	else if (state != NULL && strcmp(state, "23503") == 0)
		fprintf(stderr, "facteurctl: no such domain (facteurctl domain "
		    "add DOMAIN first)\n");
	else if (state != NULL && strcmp(state, "23514") == 0)
		fprintf(stderr, "facteurctl: a name must not be empty\n");
	else
		fprintf(stderr, "facteurctl: %s", PQresultErrorMessage(r));
	PQclear(r);
	return NULL;
}

/* Size with an optional K, M, G or T (1024s); false when bad. */
static bool
ctl_size(const char *s, char *out, size_t size)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (!isdigit((unsigned char)s[0]))
		return false;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return false;
	switch (toupper((unsigned char)*end)) {
	case 'T': v <<= 10;	/* FALLTHROUGH */
	case 'G': v <<= 10;	/* FALLTHROUGH */
	case 'M': v <<= 10;	/* FALLTHROUGH */
	case 'K': v <<= 10; end++; break;
	case '\0': break;
	default: return false;
	}
	if (*end != '\0' && !(end[-1] != '\0' && (*end == 'B' || *end == 'b')
	    && end[1] == '\0'))
		return false;
	if (v > INT64_MAX)
		return false;
	snprintf(out, size, "%llu", v);
	return true;
}

/* A password from -p, or a line of stdin (no echo on a terminal). */
static char *
ctl_password(const char *given, char *buf, size_t size)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO);
	size_t len;

	if (given != NULL) {
		snprintf(buf, size, "%s", given);
		return buf;
	}
	if (tty) {
		fprintf(stderr, "Password: ");
		tcgetattr(STDIN_FILENO, &old);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	if (fgets(buf, (int)size, stdin) == NULL)
		buf[0] = '\0';
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	len = strcspn(buf, "\r\n");
	buf[len] = '\0';
	return len > 0 ? buf : NULL;
}

static bool
ctl_hash(const char *password, char *out, size_t size)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd = fc_calloc(1, sizeof(*cd));
	const char *h;
	bool ok;

	h = crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)) != NULL ?
	    crypt_rn(password, salt, cd, sizeof(*cd)) : NULL;
	ok = h != NULL && h[0] != '*';
	if (ok)
		snprintf(out, size, "%s", h);
	free(cd);
	return ok;
}

static void
ctl_lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

static int
ctl_rows_changed(PGresult *r, const char *what, const char *name)
{
	int n = atoi(PQcmdTuples(r));

	PQclear(r);
	if (n == 0) {
		fprintf(stderr, "facteurctl: no %s %s\n", what, name);
		return 1;
	}
	return 0;
}

static int
ctl_user(PGconn *c, int argc, char **argv)
{
	char name[512], hash[CRYPT_OUTPUT_SIZE], pw[1024], qb[24] = "0",
	    qm[24] = "0", *dom;
	const char *password = NULL, *home = NULL, *mail = NULL;
	PGresult *r;
	int i, n;

	if (argc < 2)
		return 2;
	if (strcmp(argv[1], "list") == 0) {
		const char *v[1] = { argc > 2 ? argv[2] : NULL };

		if (argc > 3)
			return 2;
		r = ctl_exec(c, "SELECT name, quota_bytes, quota_messages, "
		    "coalesce(mail, ''), password <> '' FROM users "
		    "WHERE $1::text IS NULL OR domain = lower($1) ORDER BY name",
		    1, v);
		if (r == NULL)
			return 1;
		for (n = 0; n < PQntuples(r); n++)
			printf("%s\tquota=%s\tquota_messages=%s\tmail=%s\t%s\n",
			    PQgetvalue(r, n, 0), PQgetvalue(r, n, 1),
			    PQgetvalue(r, n, 2), PQgetvalue(r, n, 3),
			    strcmp(PQgetvalue(r, n, 4), "t") == 0 ?
			    "login" : "no-login");
		PQclear(r);
		return 0;
	}
	if (argc < 3)
		return 2;
	snprintf(name, sizeof(name), "%s", argv[2]);
	ctl_lower(name);
	if (strcmp(argv[1], "quota") == 0) {
		const char *v[3] = { name, qb, qm };

		if (argc != 4 && argc != 5)
			return 2;
		if (!ctl_size(argv[3], qb, sizeof(qb)) || (argc == 5
		    && !ctl_size(argv[4], qm, sizeof(qm))))
			return 2;
		r = ctl_exec(c, argc == 5 ? "UPDATE users SET quota_bytes = $2, "
		    "quota_messages = $3 WHERE name = $1" : "UPDATE users SET "
		    "quota_bytes = $2 WHERE name = $1 AND $3::text IS NOT NULL",
		    3, v);
		return r == NULL ? 1 : ctl_rows_changed(r, "user", name);
	}
	for (i = 3; i < argc; i++) {
		if (i + 1 >= argc)
			return 2;
		if (strcmp(argv[i], "-p") == 0)
			password = argv[++i];
		else if (strcmp(argv[i], "-q") == 0) {
			if (!ctl_size(argv[++i], qb, sizeof(qb)))
				return 2;
		} else if (strcmp(argv[i], "-m") == 0) {
			if (!ctl_size(argv[++i], qm, sizeof(qm)))
				return 2;
		} else if (strcmp(argv[i], "-d") == 0)
			home = argv[++i];
		else if (strcmp(argv[i], "-l") == 0)
			mail = argv[++i];
		else
			return 2;
	}
	if (strcmp(argv[1], "add") == 0) {
		const char *v[6];

		if (ctl_password(password, pw, sizeof(pw)) == NULL) {
			fprintf(stderr, "facteurctl: no password given\n");
			return 1;
		}
		if (!ctl_hash(pw, hash, sizeof(hash))) {
			fprintf(stderr, "facteurctl: crypt(3) failed\n");
			return 1;
		}
		dom = strchr(name, '@');
		v[0] = name;
		v[1] = dom != NULL ? dom + 1 : NULL;
		v[2] = hash;
		v[3] = home;
		v[4] = mail;
		v[5] = qb;
		{
			const char *vv[7] = { v[0], v[1], v[2], v[3], v[4],
			    v[5], qm };

			r = ctl_exec(c, "INSERT INTO users (name, domain, "
			    "password, home, mail, quota_bytes, "
			    "quota_messages) VALUES ($1, $2, $3, $4, $5, $6, "
			    "$7)", 7, vv);
		}
		if (r == NULL)
			return 1;
		PQclear(r);
		return 0;
	}
	if (strcmp(argv[1], "delete") == 0) {
		const char *v[1] = { name };

		if (argc != 3)
			return 2;
		r = ctl_exec(c, "DELETE FROM users WHERE name = $1", 1, v);
		return r == NULL ? 1 : ctl_rows_changed(r, "user", name);
	}
	if (strcmp(argv[1], "password") == 0) {
		const char *v[2] = { name, hash };

		if (ctl_password(password, pw, sizeof(pw)) == NULL) {
			fprintf(stderr, "facteurctl: no password given\n");
			return 1;
		}
		if (!ctl_hash(pw, hash, sizeof(hash)))
			return 1;
		r = ctl_exec(c, "UPDATE users SET password = $2 WHERE name = "
		    "$1", 2, v);
		return r == NULL ? 1 : ctl_rows_changed(r, "user", name);
	}
	return 2;
}

static int
ctl_domain(PGconn *c, int argc, char **argv)
{
	char name[512];
	const char *v[1] = { name };
	PGresult *r;
	int n;

	if (argc == 2 && strcmp(argv[1], "list") == 0) {
		r = ctl_exec(c, "SELECT d.name, (SELECT count(*) FROM users u "
		    "WHERE u.domain = d.name) FROM domains d ORDER BY d.name", 0,
		    NULL);
		if (r == NULL)
			return 1;
		for (n = 0; n < PQntuples(r); n++)
			printf("%s\tusers=%s\n", PQgetvalue(r, n, 0),
			    PQgetvalue(r, n, 1));
		PQclear(r);
		return 0;
	}
	if (argc != 3)
		return 2;
	snprintf(name, sizeof(name), "%s", argv[2]);
	ctl_lower(name);
	if (strcmp(argv[1], "add") == 0) {
		r = ctl_exec(c, "INSERT INTO domains (name) VALUES ($1)", 1, v);
		if (r == NULL)
			return 1;
		PQclear(r);
		return 0;
	}
	if (strcmp(argv[1], "delete") == 0) {
		r = ctl_exec(c, "DELETE FROM domains WHERE name = $1", 1, v);
		return r == NULL ? 1 : ctl_rows_changed(r, "domain", name);
	}
	return 2;
}

static int
ctl_alias(PGconn *c, int argc, char **argv)
{
	char name[512], target[512], *dom;
	PGresult *r;
	int n;

	if (argc == 2 && strcmp(argv[1], "list") == 0) {
		r = ctl_exec(c, "SELECT address, target FROM aliases ORDER BY "
		    "address", 0, NULL);
		if (r == NULL)
			return 1;
		for (n = 0; n < PQntuples(r); n++)
			printf("%s\t%s\n", PQgetvalue(r, n, 0),
			    PQgetvalue(r, n, 1));
		PQclear(r);
		return 0;
	}
	if (argc < 3)
		return 2;
	snprintf(name, sizeof(name), "%s", argv[2]);
	ctl_lower(name);
	if (strcmp(argv[1], "add") == 0 && argc == 4) {
		const char *v[3];

		snprintf(target, sizeof(target), "%s", argv[3]);
		ctl_lower(target);
		dom = strchr(name, '@');
		v[0] = name;
		v[1] = dom != NULL ? dom + 1 : NULL;
		v[2] = target;
		r = ctl_exec(c, "INSERT INTO aliases (address, domain, target) "
		    "VALUES ($1, $2, $3)", 3, v);
		if (r == NULL)
			return 1;
		PQclear(r);
		return 0;
	}
	if (strcmp(argv[1], "delete") == 0 && argc == 3) {
		const char *v[1] = { name };

		r = ctl_exec(c, "DELETE FROM aliases WHERE address = $1", 1, v);
		return r == NULL ? 1 : ctl_rows_changed(r, "alias", name);
	}
	return 2;
}

static const char ctl_user_usage[] =
	"user add|delete|password|quota|list NAME [-p PASSWORD] [-q SIZE] "
	"[-m MESSAGES] [-d HOME] [-l MAIL]";
static const char ctl_domain_usage[] = "domain add|delete|list [DOMAIN]";
static const char ctl_alias_usage[] = "alias add|delete|list [ADDRESS "
	"[USER]]";

static int
ctl_command(struct fc_core *core, void *arg, int argc, char **argv)
{
	const char *err, *usage;
	PGconn *c;
	int ret;

	(void)core;
	(void)arg;
	usage = strcmp(argv[0], "user") == 0 ? ctl_user_usage :
	    strcmp(argv[0], "domain") == 0 ? ctl_domain_usage :
	    ctl_alias_usage;
	c = pgsql_connect(&err);
	if (c == NULL) {
		fprintf(stderr, "facteurctl: cannot reach the database: %s\n",
		    err);
		return 1;
	}
	if (strcmp(argv[0], "user") == 0)
		ret = ctl_user(c, argc, argv);
	else if (strcmp(argv[0], "domain") == 0)
		ret = ctl_domain(c, argc, argv);
	else
		ret = ctl_alias(c, argc, argv);
	PQfinish(c);
	if (ret == 2)
		fprintf(stderr, "usage: facteurctl %s\n", usage);
	return ret;
}

int
pgsql_ctl_register(struct fc_core *core, struct pgsql_conf *conf,
    const char **error_r)
{
	if (fc_command_add(core, "user", ctl_user_usage, ctl_command, conf,
	    error_r) < 0
	    || fc_command_add(core, "domain", ctl_domain_usage, ctl_command,
	    conf, error_r) < 0
	    || fc_command_add(core, "alias", ctl_alias_usage, ctl_command,
	    conf, error_r) < 0)
		return -1;
	return 0;
}
