/*
 * loader.c - finds, checks and loads modules with libltdl.
 *
 * For `load imap;` each folder of the module path is tried for
 * <dir>/imap(.la|.so), then <dir>/imap/imap(.la|.so) (the layout of a
 * build tree). Before a file is loaded, and only when running as root,
 * it and its folder must be owned by root and not writable by group or
 * others: loading a module runs its code with our privileges.
 *
 * After loading, every symbol the module uses must resolve (we ask the
 * dynamic linker to bind them all now, so a module built against a newer
 * core fails here with a clear line rather than later in a worker), and
 * the descriptor must pass the checks below. Each failure is one message
 * naming the file and the reason. A module stays loaded for the life of
 * the process: reloads reuse it.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <ltdl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/log.h>
#include <facteur/module.h>
#include <facteur/session.h>

#include "core.h"

static struct fc_loaded *loaded_modules;
static char loader_error[1024];

int
fc_loader_init(void)
{
	return lt_dlinit() == 0 ? 0 : -1;
}

const char *
fc_loader_kind_name(enum fc_module_kind kind)
{
	switch (kind) {
	case FC_MODULE_PROTOCOL:
		return "protocol";
	case FC_MODULE_STORAGE:
		return "storage";
	case FC_MODULE_AUTH:
		return "auth";
	case FC_MODULE_FILTER:
		return "filter";
	}
	return "unknown";
}

static const char *
loader_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *
loader_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(loader_error, sizeof(loader_error), fmt, ap);
	va_end(ap);
	return loader_error;
}

static bool
loader_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Root must not run code that someone else could have replaced. */
static const char *
loader_check_owner(const char *path)
{
	struct stat st;

	if (geteuid() != 0)
		return NULL;
	if (stat(path, &st) < 0)
		return NULL;	/* reported when it is opened */
	if (st.st_uid != 0)
		return loader_fail("refusing to load: %s is not owned by root",
		    path);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return loader_fail("refusing to load: %s is writable by group "
		    "or others", path);
	return NULL;
}

static const char *
loader_check_file_and_dir(const char *path)
{
	char dir[4096];
	const char *err, *slash;

	if ((err = loader_check_owner(path)) != NULL)
		return err;
	slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	return loader_check_owner(dir);
}

/*
 * Finds "<base>.so" or "<base>.la" (whose library libtool keeps in
 * .libs/ beside it). Returns 1 and the paths to check, or 0.
 */
static int
loader_find(const char *base, char *so, size_t sosize)
{
	char la[4096];
	const char *slash;

	snprintf(so, sosize, "%s.so", base);
	if (loader_exists(so))
		return 1;
	snprintf(la, sizeof(la), "%s.la", base);
	if (!loader_exists(la))
		return 0;
	slash = strrchr(base, '/');
	snprintf(so, sosize, "%.*s/.libs/%s.so",
	    slash == NULL ? 1 : (int)(slash - base),
	    slash == NULL ? "." : base, slash == NULL ? base : slash + 1);
	return 1;
}

static const char *
loader_check_descriptor(const struct fc_module *m, const char *name,
    const char *path)
{
	size_t i, minimum;

	if (m->magic != FC_MODULE_MAGIC)
		return loader_fail("%s: not a facteur module (bad magic "
		    "number)", path);
	if (m->abi_major != FC_ABI_MAJOR)
		return loader_fail("%s: built for ABI %u.%u, this facteurd "
		    "has ABI %u.%u: rebuild the module", path, m->abi_major,
		    m->abi_minor, FC_ABI_MAJOR, FC_ABI_MINOR);
	if (m->abi_minor > FC_ABI_MINOR)
		return loader_fail("%s: needs facteurd ABI %u.%u or later "
		    "(this one has %u.%u)", path, m->abi_major, m->abi_minor,
		    FC_ABI_MAJOR, FC_ABI_MINOR);
	if (m->struct_size < sizeof(struct fc_module))
		return loader_fail("%s: descriptor is %u bytes, expected %zu",
		    path, m->struct_size, sizeof(struct fc_module));
	if (m->name == NULL || strcmp(m->name, name) != 0)
		return loader_fail("%s: declares the name \"%s\", but is "
		    "loaded as %s", path, m->name ? m->name : "(none)", name);
	for (i = 0; i < 4; i++)
		if (m->reserved[i] != NULL)
			return loader_fail("%s: reserved fields are set",
			    path);
	switch (m->kind) {
	case FC_MODULE_PROTOCOL: {
		const struct fc_protocol_ops *ops = m->ops;

		minimum = offsetof(struct fc_protocol_ops, end) +
		    sizeof(ops->end);
		if (ops == NULL || ops->size < minimum)
			return loader_fail("%s: protocol ops missing or too "
			    "small (%zu bytes, need %zu)", path,
			    ops ? ops->size : 0, minimum);
		if (ops->start == NULL || ops->line == NULL)
			return loader_fail("%s: protocol ops lack start or "
			    "line", path);
		break;
	}
	case FC_MODULE_STORAGE:
		if (m->ops == NULL)
			return loader_fail("%s: storage module without ops",
			    path);
		break;
	case FC_MODULE_AUTH:
	case FC_MODULE_FILTER:
		break;
	default:
		return loader_fail("%s: unknown module kind %d", path,
		    (int)m->kind);
	}
	return NULL;
}

static bool
loader_valid_name(const char *name)
{
	const char *p;

	if (*name == '\0' || strlen(name) > 64)
		return false;
	for (p = name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
		    || *p == '_' || *p == '-'))
			return false;
	return true;
}

struct fc_loaded *
fc_loader_load(const char *name, char *const *dirs, const char **error_r)
{
	struct fc_loaded *lm;
	const struct fc_module *mod;
	const lt_dlinfo *info;
	lt_dlhandle h;
	char base[4096], so[4096], symbol[128], *p;
	const char *err, *path;
	void *promoted;
	size_t i;

	for (lm = loaded_modules; lm != NULL; lm = lm->next)
		if (strcmp(lm->name, name) == 0)
			return lm;
	if (!loader_valid_name(name)) {
		*error_r = loader_fail("bad module name \"%s\" (letters, "
		    "digits, - and _ only)", name);
		return NULL;
	}

	base[0] = '\0';
	for (i = 0; dirs[i] != NULL; i++) {
		snprintf(base, sizeof(base), "%s/%s", dirs[i], name);
		if (loader_find(base, so, sizeof(so)))
			break;
		snprintf(base, sizeof(base), "%s/%s/%s", dirs[i], name, name);
		if (loader_find(base, so, sizeof(so)))
			break;
		base[0] = '\0';
	}
	if (base[0] == '\0') {
		char where[2048] = "";

		for (i = 0; dirs[i] != NULL; i++) {
			strncat(where, i ? ", " : "",
			    sizeof(where) - strlen(where) - 1);
			strncat(where, dirs[i],
			    sizeof(where) - strlen(where) - 1);
		}
		*error_r = loader_fail("not found in %s", where);
		return NULL;
	}
	if ((err = loader_check_file_and_dir(so)) != NULL) {
		*error_r = err;
		return NULL;
	}

	h = lt_dlopenext(base);
	if (h == NULL) {
		*error_r = loader_fail("cannot load %s: %s", so, lt_dlerror());
		return NULL;
	}
	info = lt_dlgetinfo(h);
	path = info != NULL && info->filename != NULL ? info->filename : so;

	/* bind every symbol now: a module needing a function this core
	 * lacks fails here, not in the middle of a session */
	promoted = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
	if (promoted == NULL) {
		*error_r = loader_fail("cannot load %s: %s", path, dlerror());
		lt_dlclose(h);
		return NULL;
	}
	dlclose(promoted);

	snprintf(symbol, sizeof(symbol), "fc_module_%s", name);
	for (p = symbol; *p != '\0'; p++)
		if (*p == '-')
			*p = '_';
	mod = lt_dlsym(h, symbol);
	if (mod == NULL) {
		*error_r = loader_fail("%s is not a facteur module (no symbol "
		    "%s)", path, symbol);
		lt_dlclose(h);
		return NULL;
	}
	if ((err = loader_check_descriptor(mod, name, path)) != NULL) {
		*error_r = err;
		lt_dlclose(h);
		return NULL;
	}

	lm = fc_calloc(1, sizeof(*lm));
	lm->mod = mod;
	lm->name = fc_strdup(name);
	lm->path = fc_strdup(path);
	lm->handle = h;
	lm->next = loaded_modules;
	loaded_modules = lm;
	fc_log(FC_LOG_DEBUG, "loaded module %s %s (%s, ABI %u.%u) from %s",
	    name, mod->version ? mod->version : "", fc_loader_kind_name(mod->kind),
	    mod->abi_major, mod->abi_minor, path);
	return lm;
}
