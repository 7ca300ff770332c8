/*
 * workerfail.c - a test module whose worker_init() fails in every worker.
 * `facteurd -t` passes (worker_init only runs in workers), but start-up
 * must fail with exit status 1 and a line naming the file and the
 * message.
 */
#include <stddef.h>

#include <facteur/module.h>

static int
workerfail_worker_init(struct fc_core *core, void *conf,
    const char **error_r)
{
	(void)core;
	(void)conf;
	*error_r = "workerfail says no (test module)";
	return -1;
}

const struct fc_module fc_module_workerfail = {
	FC_MODULE_HEADER,
	.name = "workerfail",
	.version = "1.0",
	.kind = FC_MODULE_FILTER,
	.worker_init = workerfail_worker_init,
};
