/*
 * module.h - what a facteur module exports, and what it may ask of the core.
 *
 * A module is one shared object exporting one const descriptor named
 * fc_module_<name> (a '-' in the name becomes '_' in the symbol, so the
 * passwd-file module exports fc_module_passwd_file). Nothing else is
 * exported. The core keeps what it learns about a module (handle, path,
 * configuration) in its own records, never in the descriptor.
 *
 * Life cycle, once per configuration generation (start-up, then each
 * reload with SIGHUP):
 *   1. the core allocates conf_size bytes (zeroed), applies the defaults of
 *      the directive table, then the module's block from the config file;
 *   2. init() runs in the master, before privileges are dropped: open
 *      privileged files, register auth back ends, check settings;
 *   3. worker_init() runs in each worker, after privileges are dropped;
 *   4. fini() runs in the master when the generation is retired.
 * Any of the three functions may be NULL.
 */
#ifndef FACTEUR_MODULE_H
#define FACTEUR_MODULE_H

#include <stddef.h>
#include <stdint.h>
#include <facteur/abi.h>

#define FC_MODULE_MAGIC	0x46434d44u	/* "FCMD": is this ours at all? */

enum fc_module_kind {
	FC_MODULE_PROTOCOL = 1,		/* ops: struct fc_protocol_ops */
	FC_MODULE_STORAGE,		/* ops: struct fc_storage_ops */
	FC_MODULE_AUTH,			/* ops: NULL; registers back ends */
	FC_MODULE_FILTER,		/* ops: NULL; registers hooks */
};

struct fc_core;			/* one configuration generation */
struct fc_directive;		/* conf.h */

struct fc_module {
	uint32_t magic;			/* FC_MODULE_MAGIC */
	uint16_t abi_major;		/* must equal the core's */
	uint16_t abi_minor;		/* must be <= the core's */
	uint32_t struct_size;		/* sizeof(struct fc_module) when built */

	const char *name;		/* file name, symbol and config block */
	const char *version;		/* the module's own version, for logs */
	enum fc_module_kind kind;

	const struct fc_directive *directives;	/* ends with .name = NULL */
	size_t conf_size;		/* the core allocates and fills this */

	/* after config is parsed, before privileges are dropped */
	int (*init)(struct fc_core *core, void *conf, const char **error_r);
	/* in each worker, after privileges are dropped */
	int (*worker_init)(struct fc_core *core, void *conf,
	    const char **error_r);
	/* when the configuration generation is retired */
	void (*fini)(struct fc_core *core, void *conf);

	const void *ops;		/* per kind, see above */
	void *reserved[4];		/* must be NULL: room to grow */
};

/* Fills the first four fields; everything else is named by the module. */
#define FC_MODULE_HEADER \
	.magic = FC_MODULE_MAGIC, .abi_major = FC_ABI_MAJOR, \
	.abi_minor = FC_ABI_MINOR, .struct_size = sizeof(struct fc_module)

/*
 * The configuration of another loaded module of this generation, or NULL
 * when it is not loaded. Modules do not include each other's headers: use
 * this only to learn whether a module is there.
 */
void *fc_core_module_conf(struct fc_core *core, const char *name);

/* The directory for state files (state_dir), e.g. /var/lib/facteur. */
const char *fc_core_state_dir(struct fc_core *core);

/* The host name this server announces (hostname directive). */
const char *fc_core_hostname(struct fc_core *core);

#endif
