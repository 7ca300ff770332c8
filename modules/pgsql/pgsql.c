/*
 * pgsql.c - the PostgreSQL module: its directives, start-up (the schema
 * check) and `facteurctl db`.
 *
 * Load it with `load pgsql;`. Users whose mail location says "pgsql:"
 * (or everyone, with `storage pgsql;`) keep their mail in the database;
 * `auth pgsql;` takes users from it (pgsql_auth.c). Several facteur
 * nodes may share one database: changes reach the others' sessions
 * through NOTIFY.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <facteur/command.h>
#include <facteur/conf.h>
#include <facteur/log.h>
#include <facteur/module.h>
#include <facteur/storage.h>

#include "pgsql.h"

static const char *const pgsql_schema_choices[] = {
	"check", "auto", NULL
};

static const struct fc_directive pgsql_directives[] = {
	{ .name = "connect", .type = FC_D_STRING,
	  .offset = offsetof(struct pgsql_conf, connect),
	  .syntax = "CONNINFO",
	  .help = "libpq connection string (\"host=/run/postgresql "
	  "dbname=facteur\"); unset: libpq's PGHOST, PGPORT, PGDATABASE... "
	  "environment" },
	{ .name = "schema", .type = FC_D_ENUM,
	  .offset = offsetof(struct pgsql_conf, schema_mode),
	  .def = "check", .syntax = "check | auto",
	  .choices = pgsql_schema_choices,
	  .help = "at start-up, refuse a schema older than this build "
	  "(check: run facteurctl db migrate) or bring it up to date (auto)" },
	{ .name = "autocreate", .type = FC_D_BOOL,
	  .offset = offsetof(struct pgsql_conf, autocreate),
	  .def = "yes", .syntax = "yes | no",
	  .help = "make a new user's store, with Sent, Drafts, Trash, Junk "
	  "and Archive" },
	{ .name = "max_message_size", .type = FC_D_SIZE,
	  .offset = offsetof(struct pgsql_conf, max_message_size),
	  .def = "0", .syntax = "SIZE",
	  .help = "largest message stored; 0: no limit (PostgreSQL keeps "
	  "at most 1 GiB a message)" },
	{ .name = "reconnect_max", .type = FC_D_TIME,
	  .offset = offsetof(struct pgsql_conf, backoff_max),
	  .def = "5s", .syntax = "TIME",
	  .help = "longest wait between two tries to reach a lost database "
	  "(the wait doubles from 250 ms); calls meanwhile fail at once "
	  "with a temporary error" },
	{ .name = NULL }
};

/* facteurctl runs `db migrate` on a schema the daemon would refuse */
static bool
pgsql_in_ctl(void)
{
	return strstr(program_invocation_short_name, "facteurctl") != NULL;
}

static int
pgsql_db_command(struct fc_core *core, void *arg, int argc, char **argv)
{
	const char *err;
	PGconn *c;
	int v, from;

	(void)core;
	(void)arg;
	if (argc != 2 || (strcmp(argv[1], "migrate") != 0
	    && strcmp(argv[1], "version") != 0)) {
		fprintf(stderr, "usage: facteurctl db migrate|version\n");
		return 2;
	}
	c = pgsql_connect(&err);
	if (c == NULL) {
		fprintf(stderr, "facteurctl: cannot reach the database: %s\n",
		    err);
		return 1;
	}
	if (strcmp(argv[1], "version") == 0) {
		v = pgsql_schema_version(c, &err);
		PQfinish(c);
		if (v < 0) {
			fprintf(stderr, "facteurctl: %s\n", err);
			return 1;
		}
		printf("schema %d (this facteur knows %d)\n", v,
		    PGSQL_SCHEMA_VERSION);
		return 0;
	}
	if (pgsql_schema_migrate(c, &from, &err) < 0) {
		PQfinish(c);
		fprintf(stderr, "facteurctl: db migrate: %s\n", err);
		return 1;
	}
	PQfinish(c);
	if (from == PGSQL_SCHEMA_VERSION)
		printf("schema %d: up to date\n", from);
	else
		printf("schema migrated from version %d to %d\n", from,
		    PGSQL_SCHEMA_VERSION);
	return 0;
}

static int
pgsql_init(struct fc_core *core, void *confp, const char **error_r)
{
	struct pgsql_conf *conf = confp;
	static char message[800];
	const char *err;

	pgsql_conf = conf;
	if (pgsql_schema_check(conf, pgsql_in_ctl(), &err) < 0) {
		snprintf(message, sizeof(message), "pgsql: %s", err);
		*error_r = message;
		return -1;
	}
	if (fc_storage_register(core, "pgsql", &pgsql_storage_ops, conf,
	    error_r) < 0)
		return -1;
	if (fc_command_add(core, "db", "db migrate|version",
	    pgsql_db_command, conf, error_r) < 0)
		return -1;
	if (pgsql_auth_register(core, conf, error_r) < 0
	    || pgsql_ctl_register(core, conf, error_r) < 0
	    || pgsql_kv_register(core, error_r) < 0)
		return -1;
	return 0;
}

static int
pgsql_worker_init(struct fc_core *core, void *confp, const char **error_r)
{
	(void)core;
	(void)error_r;
	pgsql_conf = confp;
	return 0;
}

static void
pgsql_fini(struct fc_core *core, void *confp)
{
	(void)core;
	if (pgsql_conf == confp) {
		pgsql_disconnect();
		pgsql_conf = NULL;
	}
}

const struct fc_module fc_module_pgsql = {
	FC_MODULE_HEADER,
	.name = "pgsql",
	.version = "1.0",
	.kind = FC_MODULE_STORAGE,
	.directives = pgsql_directives,
	.conf_size = sizeof(struct pgsql_conf),
	.init = pgsql_init,
	.worker_init = pgsql_worker_init,
	.fini = pgsql_fini,
	.ops = &pgsql_storage_ops,
};
