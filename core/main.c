/*
 * main.c - facteurd's command line.
 *
 *	facteurd [-f] [-c FILE]		run (in the foreground with -f)
 *	facteurd -t [-c FILE]		check the config and exit 0 or 1
 *	facteurd --directives[=markdown|conf] [MODULE ...]
 *	facteurd --default-config	print the embedded config
 *	facteurd -V			print the version
 *
 * Without -c, FC_CONF_DIR/facteurd.conf is read if it exists, else the
 * embedded default config is used.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include <facteur/arena.h>
#include <facteur/conf.h>
#include <facteur/log.h>
#include <facteur/version.h>

#include "core.h"

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: facteurd [-f] [-c FILE]      run (-f: in the foreground)\n"
	    "       facteurd -t [-c FILE]        check the config\n"
	    "       facteurd --directives[=markdown|conf] [MODULE ...]\n"
	    "       facteurd --default-config    print the embedded config\n"
	    "       facteurd -V                  print the version\n");
}

static const char *
main_default_path(void)
{
	static const char path[] = FC_CONF_DIR "/facteurd.conf";

	return access(path, F_OK) == 0 ? path : NULL;
}

static int
main_check(const char *path)
{
	struct fc_core *core;
	const char *err;
	size_t i;
	int ret = 0;

	core = fc_core_load(path, 1);
	if (core == NULL)
		return 1;
	if (fc_privs_lookup(core->cc.user, &err) < 0) {
		fc_log(FC_LOG_ERROR, "%s: user %s: %s", core->conf_file,
		    core->cc.user, err);
		ret = 1;
	}
	if (fc_core_init_modules(core) < 0)
		ret = 1;
	for (i = 0; i < core->nmodules; i++) {
		const struct fc_loaded *lm = core->modules[i].loaded;
		const struct fc_directive *d = lm->mod->directives;
		size_t n = 0;

		while (d != NULL && d[n].name != NULL)
			n++;
		printf("module %s %s (%s, ABI %u.%u, %zu directive%s) %s\n",
		    lm->name, lm->mod->version ? lm->mod->version : "?",
		    fc_loader_kind_name(lm->mod->kind), lm->mod->abi_major,
		    lm->mod->abi_minor, n, n == 1 ? "" : "s", lm->path);
	}
	fc_core_fini_modules(core);
	if (ret == 0)
		printf("facteurd: %s is valid\n", core->conf_file);
	fc_core_free(&core);
	return ret;
}

static int
main_directives(const char *format, const char *path, char **names,
    int nnames)
{
	struct fc_core *core;
	char *text;
	size_t len = 32;
	int i;

	if (strcmp(format, "markdown") != 0 && strcmp(format, "conf") != 0) {
		fprintf(stderr, "facteurd: --directives takes markdown or "
		    "conf\n");
		return 1;
	}
	if (nnames == 0) {
		core = fc_core_load(path, 1);
	} else {
		for (i = 0; i < nnames; i++)
			len += strlen(names[i]) + 1;
		text = fc_malloc(len);
		strcpy(text, "auth none; load");
		for (i = 0; i < nnames; i++) {
			strcat(text, " ");
			strcat(text, names[i]);
		}
		strcat(text, ";");
		core = fc_core_load_text(text, 1);
		free(text);
	}
	if (core == NULL)
		return 1;
	fc_conf_print_reference(core, format);
	fc_core_free(&core);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "directives", optional_argument, NULL, 'D' },
		{ "default-config", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *path = NULL, *directives = NULL;
	bool check = false, foreground = false;
	int c;

	while ((c = getopt_long(argc, argv, "c:ftVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 't':
			check = true;
			break;
		case 'V':
			printf("facteurd %s (module ABI %u.%u)\n", FC_VERSION,
			    FC_ABI_MAJOR, FC_ABI_MINOR);
			return 0;
		case 'D':
			directives = optarg != NULL ? optarg : "markdown";
			break;
		case 'P':
			fputs(fc_default_config, stdout);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind < argc && directives == NULL) {
		usage(stderr);
		return 1;
	}

	if (path == NULL)
		path = main_default_path();
	/* the daemon changes to / and reloads later: keep the path valid */
	if (path != NULL && path[0] != '/') {
		char *abs = realpath(path, NULL);

		if (abs != NULL)
			path = abs;
	}
	if (fc_loader_init() < 0) {
		fprintf(stderr, "facteurd: cannot initialise libltdl\n");
		return 1;
	}
	OPENSSL_init_ssl(0, NULL);

	if (directives != NULL)
		return main_directives(directives, path, argv + optind,
		    argc - optind);
	if (check)
		return main_check(path);
	return fc_master_run(path, foreground);
}
