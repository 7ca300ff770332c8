/*
 * wrongname.c - a test module whose file and symbol say "wrongname" but
 * whose descriptor declares another name. The loader must refuse it: the
 * name is what the config block, the file and the logs all go by.
 */
#include <stddef.h>

#include <facteur/module.h>

const struct fc_module fc_module_wrongname = {
	FC_MODULE_HEADER,
	.name = "rightname",
	.version = "1.0",
	.kind = FC_MODULE_FILTER,
};
