/*
 * ctl_mailbox.c - facteurctl's mailbox and deliver commands: a user's
 * mail through the same storage API the protocols use.
 *
 * Output is one line per item, fields separated by tabs, for people and
 * scripts alike. Exit status: 0 done, 1 failed, 2 usage; deliver uses
 * the sysexits codes mail programs expect (67 no such user, 75 try
 * again later, 65 refused for good).
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/auth.h>
#include <facteur/deliver.h>
#include <facteur/storage.h>

#include "core.h"
#include "ctl.h"

static const struct {
	const char *word;
	unsigned int bit;
} ctl_flag_words[] = {
	{ "\\Seen", FC_FLAG_SEEN },
	{ "\\Answered", FC_FLAG_ANSWERED },
	{ "\\Flagged", FC_FLAG_FLAGGED },
	{ "\\Deleted", FC_FLAG_DELETED },
	{ "\\Draft", FC_FLAG_DRAFT },
};

static const struct {
	const char *word;
	unsigned int attr;
} ctl_attr_words[] = {
	{ "\\Noselect", FC_MBOX_NOSELECT },
	{ "\\HasChildren", FC_MBOX_HASCHILDREN },
	{ "\\HasNoChildren", FC_MBOX_HASNOCHILDREN },
	{ "\\Subscribed", FC_MBOX_SUBSCRIBED },
	{ "\\NonExistent", FC_MBOX_NONEXISTENT },
	{ "\\Sent", FC_MBOX_SENT },
	{ "\\Drafts", FC_MBOX_DRAFTS },
	{ "\\Trash", FC_MBOX_TRASH },
	{ "\\Junk", FC_MBOX_JUNK },
	{ "\\Archive", FC_MBOX_ARCHIVE },
};

static int
ctl_fail(struct fc_store *st, const char *what)
{
	const char *text;

	fc_store_error(st, &text);
	fprintf(stderr, "facteurctl: %s: %s\n", what, text);
	return 1;
}

static struct fc_store *
ctl_open_store(struct fc_core *core, struct fc_arena *a, const char *name)
{
	struct fc_store *st;
	struct fc_user *u;
	const char *err = "lookup failed";
	int r;

	r = fc_auth_lookup(core, name, a, &u, &err);
	if (r <= 0) {
		fprintf(stderr, "facteurctl: user %s: %s\n", name,
		    r == 0 ? "no such user" : err);
		return NULL;
	}
	if (fc_store_open(core, u, &st, &err) < 0) {
		fprintf(stderr, "facteurctl: user %s: %s\n", name, err);
		return NULL;
	}
	return st;
}

static void
ctl_print_flags(struct fc_mailbox *box, uint32_t seq)
{
	unsigned int flags = fc_msg_flags(box, seq);
	uint64_t kw = fc_msg_keywords(box, seq);
	const char *sep = "";
	size_t i;

	putchar('(');
	for (i = 0; i < sizeof(ctl_flag_words) / sizeof(ctl_flag_words[0]);
	    i++) {
		if (flags & ctl_flag_words[i].bit) {
			printf("%s%s", sep, ctl_flag_words[i].word);
			sep = " ";
		}
	}
	for (i = 0; i < 64; i++) {
		if ((kw & (1ULL << i)) && fc_mailbox_keyword(box, i) != NULL) {
			printf("%s%s", sep, fc_mailbox_keyword(box, i));
			sep = " ";
		}
	}
	putchar(')');
}

static int
ctl_list(struct fc_store *st, struct fc_arena *a)
{
	const struct fc_mailbox_info *list;
	size_t n, i, k;

	if (fc_store_list(st, a, &list, &n) < 0)
		return ctl_fail(st, "list");
	for (i = 0; i < n; i++) {
		const char *sep = "";

		printf("%s\t", list[i].name);
		for (k = 0; k < sizeof(ctl_attr_words) /
		    sizeof(ctl_attr_words[0]); k++) {
			if (list[i].attrs & ctl_attr_words[k].attr) {
				printf("%s%s", sep, ctl_attr_words[k].word);
				sep = " ";
			}
		}
		putchar('\n');
	}
	return 0;
}

static unsigned int
ctl_special_use(const char *word)
{
	size_t i;

	for (i = 0; i < sizeof(ctl_attr_words) / sizeof(ctl_attr_words[0]);
	    i++)
		if ((ctl_attr_words[i].attr & FC_MBOX_SPECIAL_USE)
		    && strcasecmp(ctl_attr_words[i].word + 1, word) == 0)
			return ctl_attr_words[i].attr;
	return 0;
}

static int
ctl_status(struct fc_store *st, struct fc_arena *a, const char *name)
{
	const struct fc_mailbox_status *s;

	if (fc_store_status(st, name, a, &s) < 0)
		return ctl_fail(st, name);
	printf("messages=%" PRIu32 "\tunseen=%" PRIu32 "\tuidnext=%" PRIu32
	    "\tuidvalidity=%" PRIu32 "\thighestmodseq=%" PRIu64 "\tsize=%"
	    PRIu64 "\tdeleted=%" PRIu32 "\n", s->messages, s->unseen,
	    s->uidnext, s->uidvalidity, s->highestmodseq, s->size,
	    s->deleted);
	return 0;
}

static int
ctl_messages(struct fc_store *st, const char *name)
{
	struct fc_mailbox *box;
	uint32_t seq, n;

	if (fc_mailbox_open(st, name, FC_OPEN_READONLY, &box) < 0)
		return ctl_fail(st, name);
	n = fc_mailbox_count(box);
	for (seq = 1; seq <= n; seq++) {
		time_t t = fc_msg_internal_date(box, seq);
		struct tm tm;
		char date[32];

		gmtime_r(&t, &tm);
		strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
		printf("%" PRIu32 "\t", fc_msg_uid(box, seq));
		ctl_print_flags(box, seq);
		printf("\t%" PRIu64 "\t%s\t%" PRIu64 "\t%s\n",
		    fc_msg_size(box, seq, true), date, fc_msg_modseq(box, seq),
		    fc_msg_guid(box, seq));
	}
	fc_mailbox_close(&box);
	return 0;
}

static int
ctl_import(struct fc_store *st, const char *name, int nfiles, char **files)
{
	struct fc_append *ap;
	uint32_t uidv, uid;
	int i, fd;

	for (i = 0; i < nfiles; i++) {
		fd = open(files[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "facteurctl: %s: %s\n", files[i],
			    strerror(errno));
			return 1;
		}
		if (fc_append_begin(st, name, 0, NULL, 0, &ap) < 0
		    || fc_append_write_fd(ap, fd) < 0) {
			close(fd);
			fc_append_abort(&ap);
			return ctl_fail(st, files[i]);
		}
		close(fd);
		if (fc_append_commit(&ap, &uidv, &uid) < 0)
			return ctl_fail(st, files[i]);
		printf("%s\t%" PRIu32 "\t%" PRIu32 "\n", files[i], uidv, uid);
	}
	return 0;
}

static uint32_t
ctl_uid_seq(struct fc_mailbox *box, const char *arg)
{
	char *end;
	unsigned long uid = strtoul(arg, &end, 10);

	if (*arg == '\0' || *end != '\0' || uid == 0 || uid > UINT32_MAX)
		return 0;
	return fc_mailbox_seq(box, (uint32_t)uid);
}

static int
ctl_fetch(struct fc_store *st, const char *name, const char *uidarg)
{
	struct fc_mailbox *box;
	char buf[65536];
	uint32_t seq;
	ssize_t n;
	int fd;

	if (fc_mailbox_open(st, name, FC_OPEN_READONLY, &box) < 0)
		return ctl_fail(st, name);
	if ((seq = ctl_uid_seq(box, uidarg)) == 0) {
		fprintf(stderr, "facteurctl: no message with UID %s\n", uidarg);
		fc_mailbox_close(&box);
		return 1;
	}
	if ((fd = fc_msg_open(box, seq, NULL)) < 0) {
		fc_mailbox_close(&box);
		return ctl_fail(st, uidarg);
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	close(fd);
	fc_mailbox_close(&box);
	return n < 0 ? 1 : 0;
}

static int
ctl_flags(struct fc_store *st, struct fc_arena *a, const char *name,
    const char *uidarg, int nchanges, char **changes)
{
	struct fc_mailbox *box;
	uint32_t seq;
	int i, ret = 0;

	if (fc_mailbox_open(st, name, 0, &box) < 0)
		return ctl_fail(st, name);
	if ((seq = ctl_uid_seq(box, uidarg)) == 0) {
		fprintf(stderr, "facteurctl: no message with UID %s\n", uidarg);
		fc_mailbox_close(&box);
		return 1;
	}
	for (i = 0; i < nchanges && ret == 0; i++) {
		const char *word = changes[i] + 1, *kw[2] = { NULL, NULL };
		enum fc_store_op op;
		unsigned int bit = 0;
		size_t k;

		if (changes[i][0] != '+' && changes[i][0] != '-') {
			fprintf(stderr, "facteurctl: %s: write +FLAG or -FLAG\n",
			    changes[i]);
			ret = 2;
			break;
		}
		op = changes[i][0] == '+' ? FC_STORE_ADD : FC_STORE_REMOVE;
		for (k = 0; k < sizeof(ctl_flag_words) /
		    sizeof(ctl_flag_words[0]); k++)
			if (strcasecmp(word, ctl_flag_words[k].word) == 0)
				bit = ctl_flag_words[k].bit;
		if (bit == 0)
			kw[0] = word;
		if (fc_mailbox_store(box, &seq, 1, op, bit, kw, 0, a, NULL,
		    NULL) < 0)
			ret = ctl_fail(st, changes[i]);
	}
	fc_mailbox_close(&box);
	return ret;
}

static int
ctl_expunge(struct fc_store *st, struct fc_arena *a, const char *name,
    int nuids, char **uidargs)
{
	struct fc_mailbox *box;
	uint32_t *seqs, *uids;
	int i, ret = 0;

	if (fc_mailbox_open(st, name, 0, &box) < 0)
		return ctl_fail(st, name);
	seqs = fc_arena_alloc(a, (size_t)nuids * sizeof(*seqs));
	uids = fc_arena_alloc(a, (size_t)nuids * sizeof(*uids));
	for (i = 0; i < nuids; i++) {
		if ((seqs[i] = ctl_uid_seq(box, uidargs[i])) == 0) {
			fprintf(stderr, "facteurctl: no message with UID "
			    "%s\n", uidargs[i]);
			fc_mailbox_close(&box);
			return 1;
		}
		uids[i] = fc_msg_uid(box, seqs[i]);
	}
	if (fc_mailbox_store(box, seqs, (size_t)nuids, FC_STORE_ADD,
	    FC_FLAG_DELETED, NULL, 0, a, NULL, NULL) < 0
	    || fc_mailbox_expunge(box, uids, (size_t)nuids) < 0)
		ret = ctl_fail(st, name);
	fc_mailbox_close(&box);
	return ret;
}

int
ctl_mailbox(const char *conf, int argc, char **argv)
{
	struct fc_core *core;
	struct fc_arena *a;
	struct fc_store *st;
	const char *cmd;
	int ret = 2;

	if (argc < 2) {
		fprintf(stderr, "facteurctl: mailbox needs a command and a "
		    "user (facteurctl -h)\n");
		return 2;
	}
	cmd = argv[0];
	if ((core = ctl_load(conf)) == NULL)
		return 1;
	a = fc_arena_new("facteurctl", 4096);
	if ((st = ctl_open_store(core, a, argv[1])) == NULL) {
		fc_arena_free(&a);
		ctl_unload(&core);
		return 1;
	}
	if (strcmp(cmd, "list") == 0 && argc == 2)
		ret = ctl_list(st, a);
	else if (strcmp(cmd, "create") == 0 && (argc == 3 || argc == 4)) {
		unsigned int use = argc == 4 ? ctl_special_use(argv[3]) : 0;

		if (argc == 4 && use == 0)
			fprintf(stderr, "facteurctl: %s is not a special use\n",
			    argv[3]);
		else
			ret = fc_store_create(st, argv[2], use) < 0 ?
			    ctl_fail(st, argv[2]) : 0;
	} else if (strcmp(cmd, "delete") == 0 && argc == 3)
		ret = fc_store_delete(st, argv[2]) < 0 ?
		    ctl_fail(st, argv[2]) : 0;
	else if (strcmp(cmd, "rename") == 0 && argc == 4)
		ret = fc_store_rename(st, argv[2], argv[3]) < 0 ?
		    ctl_fail(st, argv[2]) : 0;
	else if (strcmp(cmd, "status") == 0 && argc == 3)
		ret = ctl_status(st, a, argv[2]);
	else if (strcmp(cmd, "messages") == 0 && argc == 3)
		ret = ctl_messages(st, argv[2]);
	else if (strcmp(cmd, "import") == 0 && argc >= 4)
		ret = ctl_import(st, argv[2], argc - 3, argv + 3);
	else if (strcmp(cmd, "fetch") == 0 && argc == 4)
		ret = ctl_fetch(st, argv[2], argv[3]);
	else if (strcmp(cmd, "flags") == 0 && argc >= 5)
		ret = ctl_flags(st, a, argv[2], argv[3], argc - 4, argv + 4);
	else if (strcmp(cmd, "expunge") == 0 && argc >= 4)
		ret = ctl_expunge(st, a, argv[2], argc - 3, argv + 3);
	else
		fprintf(stderr, "facteurctl: mailbox %s: wrong arguments "
		    "(facteurctl -h)\n", cmd);
	fc_store_close(&st);
	fc_arena_free(&a);
	ctl_unload(&core);
	return ret;
}

int
ctl_deliver(const char *conf, int argc, char **argv)
{
	enum fc_deliver_result r;
	struct fc_core *core;
	const char *err = "";
	char buf[65536];
	ssize_t n;
	int fd;

	if (argc < 1 || argc > 2) {
		fprintf(stderr, "facteurctl: deliver USER [FOLDER] < MESSAGE\n");
		return 2;
	}
	if ((core = ctl_load(conf)) == NULL)
		return EX_TEMPFAIL;
	/* a file of our own to read from offset 0, whatever stdin is */
	fd = memfd_create("facteurctl-deliver", MFD_CLOEXEC);
	if (fd < 0) {
		ctl_unload(&core);
		return EX_TEMPFAIL;
	}
	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0)
		if (write(fd, buf, (size_t)n) != n) {
			close(fd);
			ctl_unload(&core);
			return EX_TEMPFAIL;
		}
	r = fc_deliver(core, argv[0], argc == 2 ? argv[1] : NULL, 0, NULL, fd,
	    "", NULL, NULL, &err);
	close(fd);
	ctl_unload(&core);
	switch (r) {
	case FC_DELIVER_OK:
		printf("delivered to %s\n", err);
		return 0;
	case FC_DELIVER_NOUSER:
		fprintf(stderr, "facteurctl: %s: %s\n", argv[0], err);
		return EX_NOUSER;
	case FC_DELIVER_PERMFAIL:
		fprintf(stderr, "facteurctl: %s: %s\n", argv[0], err);
		return EX_DATAERR;
	default:
		fprintf(stderr, "facteurctl: %s: %s\n", argv[0], err);
		return EX_TEMPFAIL;
	}
}
