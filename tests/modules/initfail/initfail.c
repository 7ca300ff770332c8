/*
 * initfail.c - a test module whose init() fails with a message. Start-up
 * and `facteurd -t` must stop with one line naming the file and the
 * message.
 */
#include <stddef.h>

#include <facteur/module.h>

static int
initfail_init(struct fc_core *core, void *conf, const char **error_r)
{
	(void)core;
	(void)conf;
	*error_r = "initfail says no (test module)";
	return -1;
}

const struct fc_module fc_module_initfail = {
	FC_MODULE_HEADER,
	.name = "initfail",
	.version = "1.0",
	.kind = FC_MODULE_FILTER,
	.init = initfail_init,
};
