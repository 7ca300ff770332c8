/*
 * storage_env.h - what the storage tests and the storage benchmark share:
 * a scratch folder with a config, a passwd file and users' maildirs, the
 * core loaded from that config with the build tree's modules, and small
 * helpers around the storage API (append a message, read one back, scan
 * a folder on disk, remove a tree).
 *
 * Nothing here asserts: the helpers return -1 or NULL and leave the
 * judging to the test that called them.
 */
#ifndef FACTEUR_TESTS_STORAGE_ENV_H
#define FACTEUR_TESTS_STORAGE_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <facteur/storage.h>

struct fc_core;
struct fc_arena;

struct senv {
	char dir[512];			/* the scratch folder */
	char mail[600];			/* dir/mail: users' maildirs */
	struct fc_core *core;
	struct fc_arena *arena;		/* users looked up, lists, status */
	bool attached;			/* another process's folder */
};

/*
 * Makes the scratch folder (under $TMPDIR or /tmp), writes the passwd
 * file from users (lines "name:{PLAIN}pw:...", joined by '\n') and a
 * config with extra appended inside the maildir block, loads the core
 * and initialises its modules. 0, or -1 with a message on stderr.
 */
int senv_setup(struct senv *e, const char *tag, const char *users,
    const char *maildir_extra);
/*
 * A process of its own, with nothing of any index in memory (a forked
 * child would inherit the parent's): senv_spawn_fresh() runs this
 * program again as "storage-fresh SENV_FRESH_ARG DIR MODE", with its
 * stdout on out_fd; the program's main() sees SENV_FRESH_ARG, calls
 * senv_attach(DIR) to load the same config, and does what MODE says.
 * The pid, or -1.
 */
#define SENV_FRESH_ARG	"--fresh-process"
pid_t senv_spawn_fresh(struct senv *e, const char *mode, int out_fd);
int senv_attach(struct senv *e, const char *dir);
/*
 * Whether the tests run against the pgsql module (FACTEUR_TEST_STORAGE
 * =pgsql, the database from libpq's PG* variables: see
 * test_storage_pgsql.sh) rather than maildir. Checks of maildir's files
 * on disk are skipped then.
 */
bool senv_pgsql(void);
/* Frees the core and, unless keep, removes the scratch folder (not an
 * attached one's). */
void senv_teardown(struct senv *e, bool keep);

/* A user's store, or NULL (the reason on stderr). */
struct fc_store *senv_store(struct senv *e, const char *user);
/* The root of a user "local@domain"'s maildir (static buffer). */
const char *senv_root(struct senv *e, const char *user);
/* A mailbox's folder on disk: the root, or root/.Name (static buffer,
 * names with only ASCII letters, digits and '/'). */
const char *senv_folder(struct senv *e, const char *user, const char *box);

/* Appends data as one message; uid_r and uidv_r may be NULL. */
int sx_append(struct fc_store *st, const char *box, unsigned int flags,
    const char *const *keywords, time_t date, const char *data, size_t len,
    uint32_t *uidv_r, uint32_t *uid_r);
/* A message of the view, as fc_msg_open() reads it (malloc, NUL-ended),
 * or NULL. */
char *sx_read_msg(struct fc_mailbox *box, uint32_t seq, size_t *len_r);
/* A whole file (malloc, NUL-ended), or NULL. */
char *sx_read_file(const char *path, size_t *len_r);
int sx_write_file(const char *path, const char *data, size_t len);

/* The files of dir (no dot files), sorted; count in *n_r. Free with
 * sx_free_names(). */
char **sx_list_dir(const char *dir, size_t *n_r);
void sx_free_names(char **names, size_t n);
/* Every path under dir, with its size, one "path size" line each,
 * sorted (malloc): to see whether a call touched anything. */
char *sx_tree_listing(const char *dir);
void sx_rmtree(const char *dir);

/* Callbacks of fc_mailbox_sync() that record what they were told. */
#define SX_LOG_MAX	4096
struct sx_synclog {
	uint32_t exp_seq[SX_LOG_MAX], exp_uid[SX_LOG_MAX];
	size_t nexp;
	uint32_t changed[SX_LOG_MAX];
	size_t nchanged;
	uint32_t exists;
	unsigned int nexists;
};
extern const struct fc_sync_ops sx_sync_ops;
/* fc_mailbox_sync() into a cleared log. */
int sx_sync(struct fc_mailbox *box, unsigned int flags,
    struct sx_synclog *log);

#endif
