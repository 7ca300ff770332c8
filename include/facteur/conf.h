/*
 * conf.h - directive tables: how a module declares its configuration.
 *
 * A module lists its directives in a table; the core parses the values,
 * applies the defaults (written as an admin would type them, and run
 * through the same parser, so a default can never be out of bounds),
 * checks the bounds, refuses duplicates and unknown names with file:line,
 * and generates the reference documentation from the help strings.
 * Modules write no parsing code for ordinary values.
 *
 * Value syntax:
 *   bool      yes | no | on | off | true | false
 *   uint      decimal
 *   size      decimal with an optional k, M, G or T suffix (powers of 1024)
 *   time      decimal with ms, s, m, h or d; a bare number is seconds
 *   list      one or more words; a block that sets a list replaces it
 */
#ifndef FACTEUR_CONF_H
#define FACTEUR_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

enum fc_dtype {
	FC_D_BOOL = 1,	/* bool */
	FC_D_UINT,	/* unsigned int */
	FC_D_SIZE,	/* uint64_t, bytes */
	FC_D_TIME,	/* uint64_t, milliseconds */
	FC_D_STRING,	/* char * */
	FC_D_PATH,	/* char *, relative to the config file's folder */
	FC_D_LIST,	/* char **, NULL-terminated */
	FC_D_ENUM,	/* unsigned int, index into .choices */
	FC_D_CUSTOM,	/* .set parses the arguments */
};

/* flags */
#define FC_DF_MULTI	0x1	/* may appear more than once (FC_D_CUSTOM) */

struct fc_conf_ctx;		/* opaque: where the directive was read */

struct fc_directive {
	const char *name;
	enum fc_dtype type;
	size_t offset;			/* into the module's conf struct */
	const char *def;		/* default, as written in the file */
	long long min, max;		/* numbers, sizes (bytes), times (ms);
					   0, 0 = unbounded */
	const char *const *choices;	/* FC_D_ENUM: NULL-terminated */
	unsigned int flags;
	/* FC_D_CUSTOM only: NULL on success, else the message */
	const char *(*set)(struct fc_conf_ctx *cx, void *conf,
	    const char *const *args, size_t nargs);
	const char *syntax;		/* arguments, for the reference */
	const char *help;		/* one line, for the reference */
};

/*
 * For FC_D_CUSTOM setters: memory that lives as long as the configuration
 * generation, and an error message in the same memory.
 */
void *fc_conf_alloc(struct fc_conf_ctx *cx, size_t size);
char *fc_conf_strdup(struct fc_conf_ctx *cx, const char *s);
const char *fc_conf_error(struct fc_conf_ctx *cx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The path of a file named in the config, made absolute. */
char *fc_conf_path(struct fc_conf_ctx *cx, const char *path);

/* The value parsers behind the types above; NULL or the message. */
const char *fc_conf_parse_bool(const char *s, bool *r);
const char *fc_conf_parse_uint(const char *s, unsigned long long max,
    unsigned long long *r);
const char *fc_conf_parse_size(const char *s, uint64_t *r);
const char *fc_conf_parse_time(const char *s, uint64_t *ms_r);

#endif
