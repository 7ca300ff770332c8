/*
 * conf_parse.h - the config file as a tree of directives (conf_parse.c).
 */
#ifndef FACTEUR_CORE_CONF_PARSE_H
#define FACTEUR_CORE_CONF_PARSE_H

#include <stdbool.h>
#include <stddef.h>

struct fc_arena;

struct fc_conf_node {
	const char *name;
	char **args;			/* NULL-terminated */
	size_t nargs;
	bool block;			/* had { ... }, maybe empty */
	struct fc_conf_node *children;
	struct fc_conf_node *next;
	const char *file;
	unsigned int line;
};

/* 0 with the tree in *root_r, or -1 with "file:line: message". */
int fc_conf_parse_file(struct fc_arena *a, const char *path,
    struct fc_conf_node **root_r, const char **error_r);
int fc_conf_parse_text(struct fc_arena *a, const char *name, const char *dir,
    const char *text, size_t len, struct fc_conf_node **root_r,
    const char **error_r);

#endif
