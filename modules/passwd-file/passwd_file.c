/*
 * passwd_file.c - the passwd-file auth back end.
 *
 * One user per line, in the format Dovecot's passwd-file uses:
 *
 *	name:hash:uid:gid:gecos:home:shell:extra fields
 *
 * Only name and hash are required; uid, gid, gecos and shell are
 * ignored (every mailbox belongs to the server's user). The hash is a
 * crypt(3) string from libxcrypt ($y$ yescrypt, $2b$ bcrypt, $6$
 * SHA512-CRYPT, ...), optionally written {CRYPT}...; {PLAIN}secret is
 * accepted only with `allow_plaintext_passwords yes` (tests, migrations).
 * An empty hash disables logins but keeps the user known for delivery.
 * Extra fields, separated by spaces: mail=LOCATION quota=SIZE
 * quota_messages=N. Names are matched without regard to case.
 *
 * The file is read in the master at start-up (an error stops start-up
 * with file:line) and read again by a worker when it sees the file
 * changed; a file that became broken is reported and the previous
 * contents stay in use.
 *
 * An unknown user costs the same crypt() as a wrong password, so timing
 * does not tell which names exist.
 */
#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <facteur/arena.h>
#include <facteur/auth.h>
#include <facteur/conf.h>
#include <facteur/log.h>
#include <facteur/module.h>

#include "passwd_file.h"

struct passwd_file_ctx;

struct passwd_file_conf {
	char *path;
	bool allow_plaintext;
	struct passwd_file_ctx *ctx;	/* set by init, not a directive */
};

struct passwd_file_ctx {
	const struct passwd_file_conf *conf;
	struct passwd_file_table *table;
	struct stat seen;		/* the file the table was read from */
	char dummy_hash[CRYPT_OUTPUT_SIZE];
	struct crypt_data *crypt;
};

static const struct fc_directive passwd_file_directives[] = {
	{ .name = "path", .type = FC_D_PATH,
	  .offset = offsetof(struct passwd_file_conf, path),
	  .def = "passwd", .syntax = "PATH",
	  .help = "the passwd file (relative paths are relative to the "
	  "config file's folder)" },
	{ .name = "allow_plaintext_passwords", .type = FC_D_BOOL,
	  .offset = offsetof(struct passwd_file_conf, allow_plaintext),
	  .def = "no", .syntax = "yes | no",
	  .help = "accept {PLAIN} passwords in the file (for tests only)" },
	{ .name = NULL }
};

/* Compares without an early exit, so the time does not tell where two
 * strings first differ. */
static bool
passwd_file_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i;
	unsigned char diff = la != lb;

	for (i = 0; i < la && i < lb; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

/* 1: the password matches; 0: it does not; -1: the hash is unusable. */
static int
passwd_file_check(struct passwd_file_ctx *ctx, const char *hash,
    const char *password)
{
	const char *out;

	if (strncmp(hash, "{PLAIN}", 7) == 0)
		return passwd_file_equal(hash + 7, password) ? 1 : 0;
	memset(ctx->crypt, 0, sizeof(*ctx->crypt));
	out = crypt_rn(password, hash, ctx->crypt, sizeof(*ctx->crypt));
	if (out == NULL || out[0] == '*')
		return -1;
	return passwd_file_equal(out, hash) ? 1 : 0;
}

static int
passwd_file_read(struct passwd_file_ctx *ctx, struct stat *st_r,
    const char **error_r, struct fc_arena *errarena)
{
	struct passwd_file_table *t;
	const char *err;
	FILE *f;

	f = fopen(ctx->conf->path, "re");
	if (f == NULL) {
		*error_r = fc_arena_printf(errarena, "%s: %s",
		    ctx->conf->path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), st_r) < 0) {
		fclose(f);
		*error_r = fc_arena_printf(errarena, "%s: %s",
		    ctx->conf->path, strerror(errno));
		return -1;
	}
	t = passwd_file_table_read(f, ctx->conf->path,
	    ctx->conf->allow_plaintext, &err);
	fclose(f);
	if (t == NULL) {
		*error_r = fc_arena_strdup(errarena, err);
		free((char *)err);
		return -1;
	}
	passwd_file_table_free(&ctx->table);
	ctx->table = t;
	return 0;
}

/* Reads the file again if it changed since we last read it. */
static void
passwd_file_refresh(struct passwd_file_ctx *ctx, struct fc_arena *a)
{
	struct stat st;
	const char *err;

	if (stat(ctx->conf->path, &st) < 0) {
		fc_log(FC_LOG_WARNING, "passwd-file: %s: %s; keeping the "
		    "users read before", ctx->conf->path, strerror(errno));
		return;
	}
	if (st.st_ino == ctx->seen.st_ino && st.st_dev == ctx->seen.st_dev
	    && st.st_size == ctx->seen.st_size
	    && st.st_mtim.tv_sec == ctx->seen.st_mtim.tv_sec
	    && st.st_mtim.tv_nsec == ctx->seen.st_mtim.tv_nsec)
		return;
	if (passwd_file_read(ctx, &st, &err, a) < 0) {
		fc_log(FC_LOG_ERROR, "passwd-file: %s; keeping the users read "
		    "before", err);
		ctx->seen = st;	/* report once per change */
		return;
	}
	ctx->seen = st;
	fc_log(FC_LOG_NOTICE, "passwd-file: %s read again, %zu users",
	    ctx->conf->path, passwd_file_table_count(ctx->table));
}

static struct fc_user *
passwd_file_user(struct fc_arena *a, const struct passwd_file_entry *e)
{
	struct fc_user *u = fc_user_new(a, e->name);

	fc_user_set_home(u, e->home);
	fc_user_set_mail(u, e->mail);
	fc_user_set_quota(u, e->quota_bytes, e->quota_messages);
	return u;
}

static enum fc_auth_result
passwd_file_verify(void *arg, const char *name, const char *password,
    struct fc_arena *a, struct fc_user **user_r, const char **error_r)
{
	struct passwd_file_ctx *ctx = arg;
	const struct passwd_file_entry *e;
	int r;

	passwd_file_refresh(ctx, a);
	e = passwd_file_table_find(ctx->table, name);
	if (e == NULL || e->hash[0] == '\0') {
		/* same cost as a real check */
		(void)passwd_file_check(ctx, ctx->dummy_hash, password);
		return FC_AUTH_FAILED;
	}
	r = passwd_file_check(ctx, e->hash, password);
	if (r < 0) {
		fc_log(FC_LOG_ERROR, "passwd-file: %s: the hash of user %s "
		    "is not usable by crypt(3)", ctx->conf->path, e->name);
		*error_r = "unusable password hash";
		return FC_AUTH_FAILED;
	}
	if (r == 0)
		return FC_AUTH_FAILED;
	*user_r = passwd_file_user(a, e);
	return FC_AUTH_OK;
}

static int
passwd_file_lookup(void *arg, const char *name, struct fc_arena *a,
    struct fc_user **user_r, const char **error_r)
{
	struct passwd_file_ctx *ctx = arg;
	const struct passwd_file_entry *e;

	(void)error_r;
	passwd_file_refresh(ctx, a);
	e = passwd_file_table_find(ctx->table, name);
	if (e == NULL)
		return 0;
	*user_r = passwd_file_user(a, e);
	return 1;
}

static const struct fc_auth_backend_ops passwd_file_ops = {
	.size = sizeof(struct fc_auth_backend_ops),
	.verify = passwd_file_verify,
	.lookup = passwd_file_lookup,
};

static void
passwd_file_ctx_free(struct passwd_file_ctx **ctxp)
{
	struct passwd_file_ctx *ctx = *ctxp;

	if (ctx == NULL)
		return;
	*ctxp = NULL;
	passwd_file_table_free(&ctx->table);
	free(ctx->crypt);
	free(ctx);
}

static int
passwd_file_init(struct fc_core *core, void *confp, const char **error_r)
{
	struct passwd_file_conf *conf = confp;
	struct passwd_file_ctx *ctx;
	struct fc_arena *tmp;
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	const char *out, *err;
	static char message[1024];

	ctx = fc_calloc(1, sizeof(*ctx));
	ctx->conf = conf;
	ctx->crypt = fc_calloc(1, sizeof(*ctx->crypt));
	conf->ctx = ctx;
	tmp = fc_arena_new("passwd-file", 1024);
	if (passwd_file_read(ctx, &ctx->seen, &err, tmp) < 0) {
		/* the message must outlive tmp */
		snprintf(message, sizeof(message), "%s", err);
		*error_r = message;
		fc_arena_free(&tmp);
		passwd_file_ctx_free(&conf->ctx);
		return -1;
	}
	fc_arena_free(&tmp);

	/* the hash that unknown users are checked against */
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)) == NULL
	    || (out = crypt_rn("no such user", salt, ctx->crypt,
	    sizeof(*ctx->crypt))) == NULL || out[0] == '*') {
		*error_r = "crypt(3) cannot make a yescrypt hash";
		passwd_file_ctx_free(&conf->ctx);
		return -1;
	}
	snprintf(ctx->dummy_hash, sizeof(ctx->dummy_hash), "%s", out);

	if (fc_auth_register(core, "passwd-file", &passwd_file_ops, ctx,
	    error_r) < 0) {
		passwd_file_ctx_free(&conf->ctx);
		return -1;
	}
	return 0;
}

static void
passwd_file_fini(struct fc_core *core, void *confp)
{
	struct passwd_file_conf *conf = confp;

	(void)core;
	passwd_file_ctx_free(&conf->ctx);
}

const struct fc_module fc_module_passwd_file = {
	FC_MODULE_HEADER,
	.name = "passwd-file",
	.version = "1.0",
	.kind = FC_MODULE_AUTH,
	.directives = passwd_file_directives,
	.conf_size = sizeof(struct passwd_file_conf),
	.init = passwd_file_init,
	.fini = passwd_file_fini,
};
