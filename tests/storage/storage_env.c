/*
 * storage_env.c - the storage tests' scratch store and helpers (see
 * storage_env.h).
 *
 * The config loads passwd-file and maildir from FACTEUR_MODULE_PATH
 * (`make check` points it at the build tree), keeps every user's mail in
 * DIR/mail/<domain>/<local part>, and leaves fsync on: the tests check
 * the promises as shipped, not a faster variant.
 */
#define _GNU_SOURCE
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/auth.h>
#include <facteur/command.h>
#include <facteur/io.h>
#include <facteur/kv.h>
#include <facteur/storage.h>

#include "core.h"
#include "storage_env.h"

/*
 * The core is a static library: the linker takes only the objects this
 * program calls into, and the maildir module needs the change watch's
 * fc_io_watch(), which nothing here calls. Taking its address brings it
 * in (and -export-dynamic shows it to the module).
 */
struct fc_io *(*const senv_io_watch)(int, fc_io_fn *, void *) = fc_io_watch;
/* the same for what the pgsql module calls: its `db` command, the
 * watch's retries */
int (*const senv_command_add)(struct fc_core *, const char *, const char *,
    fc_command_fn *, void *, const char **) = fc_command_add;
struct fc_alarm *(*const senv_alarm_add)(uint64_t, fc_alarm_fn *, void *) =
    fc_alarm_add;
/* and its shared key/value store's registration */
int (*const senv_kv_register)(struct fc_core *, const char *,
    const struct fc_kv_ops *, void *, const char **) = fc_kv_register;

int
sx_write_file(const char *path, const char *data, size_t len)
{
	size_t done = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	while (done < len) {
		n = write(fd, data + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return -1;
		}
		done += (size_t)n;
	}
	return close(fd);
}

bool
senv_pgsql(void)
{
	const char *b = getenv("FACTEUR_TEST_STORAGE");

	return b != NULL && strcmp(b, "pgsql") == 0;
}

static int
senv_load(struct senv *e, const char *conf_path)
{
	if (fc_loader_init() < 0) {
		fprintf(stderr, "cannot initialise the module loader\n");
		return -1;
	}
	e->core = fc_core_load(conf_path, 1);
	if (e->core == NULL)
		return -1;
	if (fc_core_init_modules(e->core) < 0) {
		fc_core_fini_modules(e->core);
		fc_core_free(&e->core);
		return -1;
	}
	e->arena = fc_arena_new("storage-test", 4096);
	return 0;
}

int
senv_setup(struct senv *e, const char *tag, const char *users,
    const char *maildir_extra)
{
	const char *tmp = getenv("TMPDIR");
	char path[1024], *conf;
	int n, ret;

	memset(e, 0, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "%s/facteur-%s.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp", tag);
	if (mkdtemp(e->dir) == NULL) {
		fprintf(stderr, "mkdtemp %s: %s\n", e->dir, strerror(errno));
		return -1;
	}
	snprintf(e->mail, sizeof(e->mail), "%s/mail", e->dir);
	snprintf(path, sizeof(path), "%s/passwd", e->dir);
	if (sx_write_file(path, users, strlen(users)) < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	n = asprintf(&conf, "auth passwd-file;\nworkers 1;\n"
	    "state_dir %s/state;\nload passwd-file maildir;\n"
	    "passwd-file {\n\tpath %s/passwd;\n"
	    "\tallow_plaintext_passwords yes;\n}\n"
	    "maildir {\n\tlocation %s/%%d/%%n;\n\t%s\n}\n%s", e->dir, e->dir,
	    e->mail, maildir_extra != NULL ? maildir_extra : "",
	    senv_pgsql() ? "load pgsql;\nstorage pgsql;\n"
	    "pgsql {\n\tschema auto;\n}\n" : "");
	if (n < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/facteur.conf", e->dir);
	ret = sx_write_file(path, conf, (size_t)n);
	free(conf);
	if (ret < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	return senv_load(e, path);
}

int
senv_attach(struct senv *e, const char *dir)
{
	char path[1024];

	memset(e, 0, sizeof(*e));
	e->attached = true;
	snprintf(e->dir, sizeof(e->dir), "%s", dir);
	snprintf(e->mail, sizeof(e->mail), "%s/mail", e->dir);
	snprintf(path, sizeof(path), "%s/facteur.conf", e->dir);
	return senv_load(e, path);
}

pid_t
senv_spawn_fresh(struct senv *e, const char *mode, int out_fd)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid != 0)
		return pid;
	if (out_fd != STDOUT_FILENO && dup2(out_fd, STDOUT_FILENO) < 0)
		_exit(127);
	execl("/proc/self/exe", "storage-fresh", SENV_FRESH_ARG, e->dir, mode,
	    (char *)NULL);
	_exit(127);
}

void
senv_teardown(struct senv *e, bool keep)
{
	if (e->core != NULL) {
		fc_core_fini_modules(e->core);
		fc_core_free(&e->core);
	}
	fc_arena_free(&e->arena);
	if (e->dir[0] != '\0' && !e->attached) {
		if (keep)
			fprintf(stderr, "kept %s\n", e->dir);
		else
			sx_rmtree(e->dir);
	}
}

struct fc_store *
senv_store(struct senv *e, const char *user)
{
	struct fc_user *u;
	struct fc_store *st;
	const char *err = "unknown";

	if (fc_auth_lookup(e->core, user, e->arena, &u, &err) <= 0) {
		fprintf(stderr, "user %s: %s\n", user, err);
		return NULL;
	}
	if (fc_store_open(e->core, u, &st, &err) < 0) {
		fprintf(stderr, "store of %s: %s\n", user, err);
		return NULL;
	}
	return st;
}

const char *
senv_root(struct senv *e, const char *user)
{
	static char buf[2048];
	const char *at = strchr(user, '@');

	snprintf(buf, sizeof(buf), "%s/%s/%.*s", e->mail,
	    at != NULL ? at + 1 : "nodomain",
	    (int)(at != NULL ? (size_t)(at - user) : strlen(user)), user);
	return buf;
}

const char *
senv_folder(struct senv *e, const char *user, const char *box)
{
	static char buf[4096];
	size_t o;
	const char *p;

	o = (size_t)snprintf(buf, sizeof(buf), "%s", senv_root(e, user));
	if (fc_mailbox_is_inbox(box))
		return buf;
	buf[o++] = '/';
	buf[o++] = '.';
	for (p = box; *p != '\0' && o + 1 < sizeof(buf); p++)
		buf[o++] = *p == '/' ? '.' : *p;
	buf[o] = '\0';
	return buf;
}

int
sx_append(struct fc_store *st, const char *box, unsigned int flags,
    const char *const *keywords, time_t date, const char *data, size_t len,
    uint32_t *uidv_r, uint32_t *uid_r)
{
	struct fc_append *ap;

	if (fc_append_begin(st, box, flags, keywords, date, &ap) < 0)
		return -1;
	if (fc_append_write(ap, data, len) < 0) {
		fc_append_abort(&ap);
		return -1;
	}
	return fc_append_commit(&ap, uidv_r, uid_r);
}

static char *
sx_read_fd(int fd, size_t *len_r)
{
	size_t len = 0, alloc = 4096;
	char *buf = malloc(alloc);
	ssize_t n;

	if (buf == NULL)
		return NULL;
	for (;;) {
		if (alloc - len < 4096) {
			char *nb = realloc(buf, alloc * 2);

			if (nb == NULL) {
				free(buf);
				return NULL;
			}
			buf = nb;
			alloc *= 2;
		}
		n = read(fd, buf + len, alloc - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (len_r != NULL)
		*len_r = len;
	return buf;
}

char *
sx_read_msg(struct fc_mailbox *box, uint32_t seq, size_t *len_r)
{
	char *buf;
	bool crlf;
	int fd;

	fd = fc_msg_open(box, seq, &crlf);
	if (fd < 0)
		return NULL;
	buf = sx_read_fd(fd, len_r);
	close(fd);
	return buf;
}

char *
sx_read_file(const char *path, size_t *len_r)
{
	char *buf;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	buf = sx_read_fd(fd, len_r);
	close(fd);
	return buf;
}

static int
sx_cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **
sx_list_dir(const char *dir, size_t *n_r)
{
	char **names = NULL;
	size_t n = 0, alloc = 0;
	struct dirent *de;
	DIR *d;

	*n_r = 0;
	if ((d = opendir(dir)) == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == alloc) {
			alloc = alloc == 0 ? 64 : alloc * 2;
			names = realloc(names, alloc * sizeof(*names));
			if (names == NULL)
				abort();
		}
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), sx_cmp_names);
	*n_r = n;
	return names;
}

void
sx_free_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* nftw() has no argument for its callback: one listing at a time. */
static char **tree_lines;
static size_t tree_n, tree_alloc;

static int
sx_tree_one(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
	char *line;

	(void)f;
	if (asprintf(&line, "%s %lld%s", path, flag == FTW_F ?
	    (long long)sb->st_size : 0LL, flag == FTW_D ? "/" : "") < 0)
		abort();
	if (tree_n == tree_alloc) {
		tree_alloc = tree_alloc == 0 ? 256 : tree_alloc * 2;
		tree_lines = realloc(tree_lines, tree_alloc * sizeof(char *));
		if (tree_lines == NULL)
			abort();
	}
	tree_lines[tree_n++] = line;
	return 0;
}

char *
sx_tree_listing(const char *dir)
{
	size_t len = 1, i;
	char *out;

	tree_lines = NULL;
	tree_n = tree_alloc = 0;
	nftw(dir, sx_tree_one, 16, FTW_PHYS);
	if (tree_n > 0)
		qsort(tree_lines, tree_n, sizeof(char *), sx_cmp_names);
	for (i = 0; i < tree_n; i++)
		len += strlen(tree_lines[i]) + 1;
	out = malloc(len);
	if (out == NULL)
		abort();
	out[0] = '\0';
	for (i = 0, len = 0; i < tree_n; i++) {
		size_t l = strlen(tree_lines[i]);

		memcpy(out + len, tree_lines[i], l);
		out[len + l] = '\n';
		len += l + 1;
		free(tree_lines[i]);
	}
	out[len] = '\0';
	free(tree_lines);
	tree_lines = NULL;
	return out;
}

static int
sx_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	remove(path);
	return 0;
}

void
sx_rmtree(const char *dir)
{
	nftw(dir, sx_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
sx_on_expunged(void *arg, uint32_t seq, uint32_t uid)
{
	struct sx_synclog *l = arg;

	if (l->nexp < SX_LOG_MAX) {
		l->exp_seq[l->nexp] = seq;
		l->exp_uid[l->nexp] = uid;
	}
	l->nexp++;
}

static void
sx_on_changed(void *arg, uint32_t seq)
{
	struct sx_synclog *l = arg;

	if (l->nchanged < SX_LOG_MAX)
		l->changed[l->nchanged] = seq;
	l->nchanged++;
}

static void
sx_on_exists(void *arg, uint32_t count)
{
	struct sx_synclog *l = arg;

	l->exists = count;
	l->nexists++;
}

const struct fc_sync_ops sx_sync_ops = {
	.expunged = sx_on_expunged,
	.changed = sx_on_changed,
	.exists = sx_on_exists,
};

int
sx_sync(struct fc_mailbox *box, unsigned int flags, struct sx_synclog *log)
{
	memset(log, 0, sizeof(*log));
	return fc_mailbox_sync(box, flags, &sx_sync_ops, log);
}
