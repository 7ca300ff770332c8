/*
 * lua_engine.c - the Lua filter plugin: its directives, one Lua state per
 * worker, the sandbox scripts run in, the limits, the rule runner and the
 * verdict.
 *
 * Scripts are loaded (and so checked) in the master's init(), at start-up
 * and at each reload: a syntax error fails the reload with file:line and
 * the running generation keeps its rules. Each worker loads them again in
 * its own state.
 *
 * Each rule runs in a coroutine of its own, so that one rule can wait for
 * DNS (it yields; the answer resumes it) and so that a rule cut off by a
 * limit is simply abandoned: the instruction hook yields it (or raises an
 * error where a yield is not possible), the allocator refuses memory past
 * the message's ceiling (max_memory for all its rules together, past
 * what the state held when the transaction began). A rule that fails is
 * logged and skipped; it never turns into a rejection.
 */
#include "config.h"

#include <errno.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <lauxlib.h>
#include <lualib.h>

#include <facteur/arena.h>
#include <facteur/command.h>
#include <facteur/conf.h>
#include <facteur/dns.h>
#include <facteur/hook.h>
#include <facteur/kv.h>
#include <facteur/log.h>
#include <facteur/module.h>

#include "lua_plugin.h"

#define LUA_HOOK_STEP		1000	/* instructions between hook calls */
#define LUA_LOAD_INSTRUCTIONS	10000000ULL	/* a script's top level */
#define LUA_RULE_NAME_MAX	64

static const char *const lua_stage_names[LUA_STAGE__COUNT] = {
	"connect", "helo", "mail", "rcpt", "data",
};

static const char *const lua_action_names[] = {
	"none", "accept", "header", "junk", "greylist", "reject",
};

const char *
lua_stage_name(enum lua_stage st)
{
	return st < LUA_STAGE__COUNT ? lua_stage_names[st] : "?";
}

const char *
lua_action_name(enum lua_action a)
{
	return a <= LUA_ACTION_REJECT ? lua_action_names[a] : "?";
}

uint64_t
lua_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* ------------------------------------------------------------------ */
/* Directives */

static const char *
lua_set_scripts(struct fc_conf_ctx *cx, void *conf, const char *const *args,
    size_t nargs)
{
	struct lua_conf *c = conf;
	size_t i;

	c->scripts = fc_conf_alloc(cx, (nargs + 1) * sizeof(char *));
	for (i = 0; i < nargs; i++)
		c->scripts[i] = fc_conf_path(cx, args[i]);
	c->scripts[nargs] = NULL;
	return NULL;
}

static const char *
lua_set_option(struct fc_conf_ctx *cx, void *conf, const char *const *args,
    size_t nargs)
{
	struct lua_conf *c = conf;
	char **n, *v;
	size_t i, len = 0;

	if (nargs < 2)
		return fc_conf_error(cx, "set: a name and at least one value");
	for (i = 1; i < nargs; i++)
		len += strlen(args[i]) + 1;
	v = fc_conf_alloc(cx, len + 1);
	for (i = 1; i < nargs; i++) {
		strcat(v, args[i]);
		if (i + 1 < nargs)
			strcat(v, " ");
	}
	n = fc_conf_alloc(cx, (c->nsettings + 1) * 2 * sizeof(char *));
	if (c->nsettings > 0)
		memcpy(n, c->settings, c->nsettings * 2 * sizeof(char *));
	n[c->nsettings * 2] = fc_conf_strdup(cx, args[0]);
	n[c->nsettings * 2 + 1] = v;
	c->settings = n;
	c->nsettings++;
	return NULL;
}

static const char *
lua_parse_score(struct fc_conf_ctx *cx, const char *const *args, size_t nargs,
    double *score_r, bool *set_r)
{
	char *end;
	double d;

	if (nargs != 1)
		return fc_conf_error(cx, "one score, or off");
	if (strcasecmp(args[0], "off") == 0) {
		*set_r = false;
		return NULL;
	}
	errno = 0;
	d = strtod(args[0], &end);
	if (errno != 0 || end == args[0] || *end != '\0' || !isfinite(d))
		return fc_conf_error(cx, "\"%s\" is not a score", args[0]);
	*score_r = d;
	*set_r = true;
	return NULL;
}

static const char *
lua_set_header_score(struct fc_conf_ctx *cx, void *conf,
    const char *const *args, size_t nargs)
{
	struct lua_conf *c = conf;

	return lua_parse_score(cx, args, nargs, &c->header_score,
	    &c->header_set);
}

static const char *
lua_set_junk_score(struct fc_conf_ctx *cx, void *conf,
    const char *const *args, size_t nargs)
{
	struct lua_conf *c = conf;

	return lua_parse_score(cx, args, nargs, &c->junk_score, &c->junk_set);
}

static const char *
lua_set_greylist_score(struct fc_conf_ctx *cx, void *conf,
    const char *const *args, size_t nargs)
{
	struct lua_conf *c = conf;

	return lua_parse_score(cx, args, nargs, &c->greylist_score,
	    &c->greylist_set);
}

static const char *
lua_set_reject_score(struct fc_conf_ctx *cx, void *conf,
    const char *const *args, size_t nargs)
{
	struct lua_conf *c = conf;

	return lua_parse_score(cx, args, nargs, &c->reject_score,
	    &c->reject_set);
}

static const char *const lua_kv_choices[] = { "memory", "shared", NULL };

static const struct fc_directive lua_directives[] = {
	{ .name = "scripts", .type = FC_D_CUSTOM, .set = lua_set_scripts,
	  .syntax = "FILE|PATTERN ...",
	  .help = "rule scripts, in order; shell patterns are expanded at "
	  "each load" },
	{ .name = "set", .type = FC_D_CUSTOM, .set = lua_set_option,
	  .flags = FC_DF_MULTI, .syntax = "NAME VALUE ...",
	  .help = "an option for the scripts (facteur.option(NAME))" },
	{ .name = "header_score", .type = FC_D_CUSTOM,
	  .set = lua_set_header_score, .def = "5", .syntax = "SCORE|off",
	  .help = "from this score, add X-Spam-Score and X-Spam-Status" },
	{ .name = "junk_score", .type = FC_D_CUSTOM,
	  .set = lua_set_junk_score, .def = "8", .syntax = "SCORE|off",
	  .help = "from this score, deliver to the junk folder" },
	{ .name = "greylist_score", .type = FC_D_CUSTOM,
	  .set = lua_set_greylist_score, .def = "off", .syntax = "SCORE|off",
	  .help = "from this score, answer a temporary failure" },
	{ .name = "reject_score", .type = FC_D_CUSTOM,
	  .set = lua_set_reject_score, .def = "15", .syntax = "SCORE|off",
	  .help = "from this score, reject the message" },
	{ .name = "reject_reply", .type = FC_D_STRING,
	  .offset = offsetof(struct lua_conf, reject_reply),
	  .def = "550 5.7.1 Message refused as spam", .syntax = "REPLY",
	  .help = "the reply when the score rejects a message" },
	{ .name = "junk_folder", .type = FC_D_STRING,
	  .offset = offsetof(struct lua_conf, junk_folder), .def = "Junk",
	  .syntax = "FOLDER", .help = "where junk is delivered" },
	{ .name = "max_instructions", .type = FC_D_UINT,
	  .offset = offsetof(struct lua_conf, max_instructions),
	  .def = "1000000", .min = 10000, .max = 1000000000,
	  .help = "Lua instructions one rule may run per message" },
	{ .name = "max_memory", .type = FC_D_SIZE,
	  .offset = offsetof(struct lua_conf, max_memory), .def = "16M",
	  .min = 65536, .max = 1LL << 32,
	  .help = "memory the rules may allocate together per message" },
	{ .name = "kv", .type = FC_D_ENUM,
	  .offset = offsetof(struct lua_conf, kv_mode), .def = "memory",
	  .syntax = "memory | shared", .choices = lua_kv_choices,
	  .help = "where facteur.kv keeps its data: in each worker's memory, "
	  "or shared by every worker and node (needs the pgsql module, "
	  "loaded before lua)" },
	{ .name = "dns_timeout", .type = FC_D_TIME,
	  .offset = offsetof(struct lua_conf, dns_timeout), .def = "5s",
	  .min = 10, .max = 60000,
	  .help = "how long a rule waits for a DNS answer" },
	{ .name = NULL }
};

/* ------------------------------------------------------------------ */
/* The state: allocator, limits, sandbox */

static struct lua_engine *
lua_engine_of(lua_State *L)
{
	return *(struct lua_engine **)lua_getextraspace(L);
}

static void *
lua_engine_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct lua_engine *e = ud;
	void *p;

	if (ptr == NULL)
		osize = 0;
	if (nsize == 0) {
		free(ptr);
		e->mem_used -= osize;
		return NULL;
	}
	if (e->mem_limit != 0 && nsize > osize &&
	    e->mem_used + (nsize - osize) > e->mem_limit)
		return NULL;
	if ((p = realloc(ptr, nsize)) == NULL)
		return NULL;
	e->mem_used = e->mem_used - osize + nsize;
	return p;
}

static int
lua_engine_panic(lua_State *L)
{
	fc_panic("lua: unprotected error: %s", lua_tostring(L, -1));
}

/* Every LUA_HOOK_STEP instructions of a rule (or a script's top level). */
static void
lua_engine_count_hook(lua_State *L, lua_Debug *ar)
{
	struct lua_engine *e = lua_engine_of(L);
	struct lua_msg *m = e->running;

	(void)ar;
	if (m == NULL) {
		if (e->loading == NULL)
			return;
		e->load_instructions += LUA_HOOK_STEP;
		if (e->load_instructions > LUA_LOAD_INSTRUCTIONS)
			luaL_error(L, "instruction limit reached while loading");
		return;
	}
	m->instructions += LUA_HOOK_STEP;
	if (m->instructions <= e->conf->max_instructions)
		return;
	m->limit_hit = true;
	if (lua_isyieldable(L))
		(void)lua_yield(L, 0);	/* abandoned, never resumed */
	else
		luaL_error(L, "instruction limit reached");
}

static int
lua_facteur_print(lua_State *L)
{
	struct lua_engine *e = lua_engine_of(L);
	luaL_Buffer b;
	int i, n = lua_gettop(L);

	luaL_buffinit(L, &b);
	for (i = 1; i <= n; i++) {
		if (i > 1)
			luaL_addchar(&b, ' ');
		luaL_tolstring(L, i, NULL);
		luaL_addvalue(&b);
	}
	luaL_pushresult(&b);
	fc_log(FC_LOG_INFO, "lua: session=%s script: %s",
	    e->running != NULL && e->running->id != NULL ? e->running->id :
	    "-", lua_tostring(L, -1));
	return 0;
}

/* facteur.log(level, text): level is "error", "warning", "info" or
 * "debug". */
static int
lua_facteur_log(lua_State *L)
{
	static const char *const levels[] = { "error", "warning", "info",
	    "debug", NULL };
	static const enum fc_log_level map[] = { FC_LOG_ERROR,
	    FC_LOG_WARNING, FC_LOG_INFO, FC_LOG_DEBUG };
	struct lua_engine *e = lua_engine_of(L);
	int level = luaL_checkoption(L, 1, NULL, levels);
	const char *text = luaL_checkstring(L, 2);

	fc_log(map[level], "lua: session=%s script: %s",
	    e->running != NULL && e->running->id != NULL ? e->running->id :
	    "-", text);
	return 0;
}

/* facteur.hostname(): the name this server announces. */
static int
lua_facteur_hostname(lua_State *L)
{
	struct lua_engine *e = lua_engine_of(L);

	lua_pushstring(L, e->conf->hostname != NULL ? e->conf->hostname :
	    "localhost");
	return 1;
}

/* facteur.now(): seconds since the epoch, with a fraction. */
static int
lua_facteur_now(lua_State *L)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	lua_pushnumber(L, (lua_Number)ts.tv_sec + ts.tv_nsec / 1e9);
	return 1;
}

/*
 * facteur.option(name, default): the value of `set name ...;` in the
 * lua block. With a table as default the answer is a list of words, with
 * a number a number, else the string as written.
 */
static int
lua_facteur_option(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	const char *v;

	lua_getfield(L, LUA_REGISTRYINDEX, "facteur.options");
	lua_getfield(L, -1, name);
	if (lua_isnil(L, -1)) {
		lua_settop(L, 2);
		return 1;
	}
	v = lua_tostring(L, -1);
	if (lua_type(L, 2) == LUA_TTABLE) {
		const char *p = v;
		int n = 0;

		lua_newtable(L);
		while (*p != '\0') {
			size_t len = strcspn(p, " ");

			if (len > 0) {
				lua_pushlstring(L, p, len);
				lua_rawseti(L, -2, ++n);
			}
			p += len;
			p += strspn(p, " ");
		}
		return 1;
	}
	if (lua_type(L, 2) == LUA_TNUMBER) {
		if (lua_stringtonumber(L, v) == 0)
			return luaL_error(L, "option %s: \"%s\" is not a number",
			    name, v);
		return 1;
	}
	return 1;
}

/*
 * facteur.settings(key, table): settings for a recipient domain
 * ("example.com") or address ("bob@example.com"): the thresholds
 * header, junk, greylist, reject, and any value rules read with
 * msg:setting().
 */
static int
lua_facteur_settings(lua_State *L)
{
	const char *key = luaL_checkstring(L, 1);
	char lower[320];
	size_t i;

	luaL_checktype(L, 2, LUA_TTABLE);
	for (i = 0; key[i] != '\0' && i < sizeof(lower) - 1; i++)
		lower[i] = (char)(key[i] >= 'A' && key[i] <= 'Z' ?
		    key[i] - 'A' + 'a' : key[i]);
	lower[i] = '\0';
	lua_getfield(L, LUA_REGISTRYINDEX, "facteur.settings");
	lua_pushvalue(L, 2);
	lua_setfield(L, -2, lower);
	return 0;
}

static bool
lua_valid_rule_name(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return n > 0 && n <= LUA_RULE_NAME_MAX;
}

/*
 * facteur.rule { name = "X", stage = "data", score = 1.5,
 *                description = "...", check = function(msg) ... end }
 */
static int
lua_facteur_rule(lua_State *L)
{
	struct lua_engine *e = lua_engine_of(L);
	struct lua_rule r;
	const char *name, *stage;
	size_t i;
	int st;

	luaL_checktype(L, 1, LUA_TTABLE);
	if (e->loading == NULL)
		return luaL_error(L, "facteur.rule outside of loading");
	memset(&r, 0, sizeof(r));
	lua_getfield(L, 1, "name");
	name = lua_tostring(L, -1);
	if (name == NULL || !lua_valid_rule_name(name))
		return luaL_error(L, "rule: name must be 1 to %d letters, "
		    "digits or _", LUA_RULE_NAME_MAX);
	for (i = 0; i < e->nrules; i++)
		if (strcmp(e->rules[i].name, name) == 0)
			return luaL_error(L, "rule %s: already defined in %s",
			    name, e->rules[i].file);
	lua_getfield(L, 1, "stage");
	stage = lua_isnil(L, -1) ? "data" : lua_tostring(L, -1);
	for (st = 0; st < LUA_STAGE__COUNT; st++)
		if (stage != NULL && strcmp(stage, lua_stage_names[st]) == 0)
			break;
	if (st == LUA_STAGE__COUNT)
		return luaL_error(L, "rule %s: stage must be connect, helo, "
		    "mail, rcpt or data", name);
	lua_getfield(L, 1, "check");
	if (!lua_isfunction(L, -1))
		return luaL_error(L, "rule %s: check must be a function",
		    name);
	lua_getfield(L, 1, "score");
	r.score = 1;
	r.score_ref = LUA_NOREF;
	if (lua_isnumber(L, -1))
		r.score = lua_tonumber(L, -1);
	else if (!lua_isnil(L, -1) && !lua_isfunction(L, -1))
		return luaL_error(L, "rule %s: score must be a number or a "
		    "function", name);
	lua_getfield(L, 1, "description");
	if (!lua_isnil(L, -1) && !lua_isstring(L, -1))
		return luaL_error(L, "rule %s: description must be a string",
		    name);

	/* nothing raises from here */
	r.name = fc_strdup(name);
	r.file = fc_strdup(e->loading);
	r.stage = (enum lua_stage)st;
	r.description = fc_strdup(lua_isstring(L, -1) ? lua_tostring(L, -1) :
	    "");
	lua_pop(L, 1);
	if (lua_isfunction(L, -1))
		r.score_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	else
		lua_pop(L, 1);
	r.check_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	if (e->nrules == e->rules_size) {
		e->rules_size = e->rules_size ? e->rules_size * 2 : 16;
		e->rules = fc_realloc(e->rules,
		    e->rules_size * sizeof(*e->rules));
	}
	e->rules[e->nrules++] = r;
	return 0;
}

static const luaL_Reg lua_facteur_functions[] = {
	{ "rule", lua_facteur_rule },
	{ "log", lua_facteur_log },
	{ "now", lua_facteur_now },
	{ "hostname", lua_facteur_hostname },
	{ "option", lua_facteur_option },
	{ "settings", lua_facteur_settings },
	{ NULL, NULL }
};

/* Copies the named fields of the table on top into a new table. */
static void
lua_copy_fields(lua_State *L, const char *const *names)
{
	int src = lua_gettop(L);

	lua_newtable(L);
	for (; *names != NULL; names++) {
		lua_getfield(L, src, *names);
		lua_setfield(L, -2, *names);
	}
	lua_remove(L, src);
}

/* Copies every field of the table on top into a new table. */
static void
lua_copy_table(lua_State *L)
{
	int src = lua_gettop(L);

	lua_newtable(L);
	lua_pushnil(L);
	while (lua_next(L, src) != 0) {
		lua_pushvalue(L, -2);
		lua_insert(L, -2);
		lua_rawset(L, -4);
	}
	lua_remove(L, src);
}

/*
 * The sandbox: a table every script's environment inherits from, built
 * from an allow-list. No io, os, package, require, load, dofile,
 * loadfile, debug, collectgarbage; string.dump is gone from the string
 * library itself (strings index it through their metatable).
 */
static void
lua_engine_sandbox(struct lua_engine *e)
{
	static const char *const base[] = { "assert", "error", "ipairs",
	    "next", "pairs", "pcall", "rawequal", "rawget", "rawlen",
	    "rawset", "select", "setmetatable", "getmetatable", "tonumber",
	    "tostring", "type", "xpcall", "_VERSION", NULL };
	static const struct {
		const char *name;
		lua_CFunction open;
	} libs[] = {
		{ LUA_GNAME, luaopen_base },
		{ LUA_STRLIBNAME, luaopen_string },
		{ LUA_TABLIBNAME, luaopen_table },
		{ LUA_MATHLIBNAME, luaopen_math },
		{ LUA_UTF8LIBNAME, luaopen_utf8 },
	};
	lua_State *L = e->L;
	size_t i;

	for (i = 0; i < sizeof(libs) / sizeof(libs[0]); i++) {
		luaL_requiref(L, libs[i].name, libs[i].open, 1);
		lua_pop(L, 1);
	}
	lua_getglobal(L, "string");
	lua_pushnil(L);
	lua_setfield(L, -2, "dump");
	lua_pop(L, 1);

	lua_pushglobaltable(L);
	lua_copy_fields(L, base);		/* the sandbox */
	for (i = 1; i < sizeof(libs) / sizeof(libs[0]); i++) {
		lua_getglobal(L, libs[i].name);
		lua_copy_table(L);
		lua_setfield(L, -2, libs[i].name);
	}
	lua_getfield(L, -1, "math");
	lua_pushnil(L);				/* per-worker seeds: keep */
	lua_setfield(L, -2, "randomseed");
	lua_pop(L, 1);
	lua_pushcfunction(L, lua_facteur_print);
	lua_setfield(L, -2, "print");

	luaL_newlib(L, lua_facteur_functions);
	lua_newtable(L);
	for (i = 0; i < e->conf->nsettings; i++) {
		lua_pushstring(L, e->conf->settings[i * 2 + 1]);
		lua_setfield(L, -2, e->conf->settings[i * 2]);
	}
	lua_setfield(L, LUA_REGISTRYINDEX, "facteur.options");
	lua_newtable(L);
	lua_setfield(L, LUA_REGISTRYINDEX, "facteur.settings");
	lua_dns_open(L);			/* facteur.dns */
	lua_setfield(L, -2, "dns");
	lua_setfield(L, -2, "facteur");
	lua_setfield(L, LUA_REGISTRYINDEX, "facteur.sandbox");

	lua_getfield(L, LUA_REGISTRYINDEX, "facteur.sandbox");
	lua_getfield(L, -1, "facteur");
	lua_getfield(L, -1, "dns");
	lua_message_open(L);			/* msg:hostname() uses dns */
	lua_pop(L, 3);
	/* facteur.kv and facteur.map, written in Lua, in the sandbox */
	lua_store_open(L);
}

/* Loads one script in an environment of its own. */
static int
lua_engine_load_file(struct lua_engine *e, const char *path,
    const char **error_r)
{
	lua_State *L = e->L;
	int st;

	st = luaL_loadfilex(L, path, "t");
	if (st == LUA_OK) {
		lua_newtable(L);			/* its _ENV */
		lua_newtable(L);
		lua_getfield(L, LUA_REGISTRYINDEX, "facteur.sandbox");
		lua_setfield(L, -2, "__index");
		lua_setmetatable(L, -2);
		lua_setupvalue(L, -2, 1);
		e->loading = path;
		e->load_instructions = 0;
		lua_sethook(L, lua_engine_count_hook, LUA_MASKCOUNT,
		    LUA_HOOK_STEP);
		st = lua_pcall(L, 0, 0, 0);
		lua_sethook(L, NULL, 0, 0);
		e->loading = NULL;
	}
	if (st != LUA_OK) {
		static char msg[1024];

		/* a syntax error reads "path:line: message" already */
		if (st == LUA_ERRFILE)
			snprintf(msg, sizeof(msg), "%s", lua_tostring(L, -1));
		else if (strncmp(lua_tostring(L, -1), path,
		    strlen(path)) == 0)
			snprintf(msg, sizeof(msg), "%s", lua_tostring(L, -1));
		else
			snprintf(msg, sizeof(msg), "%s: %s", path,
			    lua_tostring(L, -1));
		lua_pop(L, 1);
		*error_r = msg;
		return -1;
	}
	return 0;
}

struct lua_engine *
lua_engine_new(const struct lua_conf *conf, const char **error_r)
{
	struct lua_engine *e = fc_calloc(1, sizeof(*e));
	char **p;
	size_t i;

	e->conf = conf;
	e->L = lua_newstate(lua_engine_alloc, e);
	if (e->L == NULL) {
		free(e);
		*error_r = "cannot create a Lua state";
		return NULL;
	}
	*(struct lua_engine **)lua_getextraspace(e->L) = e;
	lua_atpanic(e->L, lua_engine_panic);
	lua_engine_sandbox(e);
	for (p = conf->scripts; p != NULL && *p != NULL; p++) {
		glob_t g;
		int r = glob(*p, GLOB_ERR, NULL, &g);

		if (r == GLOB_NOMATCH) {
			static char msg[1024];

			snprintf(msg, sizeof(msg), "%s: no such script", *p);
			*error_r = msg;
			lua_engine_free(&e);
			return NULL;
		}
		if (r != 0) {
			static char msg[1024];

			snprintf(msg, sizeof(msg), "%s: cannot read: %s", *p,
			    strerror(errno));
			*error_r = msg;
			lua_engine_free(&e);
			return NULL;
		}
		for (i = 0; i < g.gl_pathc; i++)
			if (lua_engine_load_file(e, g.gl_pathv[i],
			    error_r) < 0) {
				globfree(&g);
				lua_engine_free(&e);
				return NULL;
			}
		globfree(&g);
	}
	lua_gc(e->L, LUA_GCCOLLECT);
	e->mem_live = e->mem_used;
	return e;
}

void
lua_engine_free(struct lua_engine **ep)
{
	struct lua_engine *e = *ep;
	size_t i;

	if (e == NULL)
		return;
	*ep = NULL;
	lua_close(e->L);
	for (i = 0; i < e->nrules; i++) {
		free(e->rules[i].name);
		free(e->rules[i].file);
		free(e->rules[i].description);
	}
	free(e->rules);
	free(e);
}

/* ------------------------------------------------------------------ */
/* Messages and the rule runner */

/*
 * The message's memory budget starts from what the state holds now.
 * Garbage left by earlier messages would count as held: when there is
 * more than a quarter of max_memory of it, collect it first, so the
 * budget stays within that of max_memory.
 */
static void
lua_msg_budget(struct lua_msg *m)
{
	struct lua_engine *e = m->e;

	if (e->mem_used < e->mem_live)
		e->mem_live = e->mem_used;
	if (e->mem_used > e->mem_live + e->conf->max_memory / 4) {
		lua_gc(e->L, LUA_GCCOLLECT);
		e->mem_live = e->mem_used;
	}
	m->mem_base = e->mem_used;
}

struct lua_msg *
lua_msg_new(struct lua_engine *e, struct fc_arena *a)
{
	struct lua_msg *m = fc_arena_alloc(a, sizeof(*m));

	m->e = e;
	m->a = a;
	m->fd = -1;
	m->co_ref = LUA_NOREF;
	m->hits_tail = &m->hits;
	m->generation = ++e->generation;
	lua_msg_budget(m);
	return m;
}

/* MAIL: what the connection's rules found stays, the rest goes. */
void
lua_msg_new_transaction(struct lua_msg *m)
{
	m->generation = ++m->e->generation;
	if (m->session_tail != NULL) {
		m->session_tail->next = NULL;
		m->hits_tail = &m->session_tail->next;
	} else {
		m->hits = NULL;
		m->hits_tail = &m->hits;
	}
	m->total = m->session_total;
	m->forced = m->session_forced;
	m->forced_reply = NULL;
	m->sender = NULL;
	m->rcpts = NULL;
	m->nrcpts = m->rcpts_size = 0;
	m->add_headers = NULL;
	m->add_headers_size = 0;
	m->fd = -1;
	m->size = 0;
	m->root = NULL;
	m->parsed = m->text_done = false;
	m->text = m->html = NULL;
	m->text_len = m->html_len = 0;
	m->nadd_headers = 0;
	m->time_us = 0;
	lua_msg_budget(m);
}

/* The session ends while a rule waits: forget the rule. */
void
lua_msg_cancel(struct lua_msg *m)
{
	lua_dns_cancel(m);
	if (m->co_ref != LUA_NOREF) {
		luaL_unref(m->e->L, LUA_REGISTRYINDEX, m->co_ref);
		m->co_ref = LUA_NOREF;
		m->co = NULL;
	}
	m->generation = ++m->e->generation;
}

static void
lua_msg_hit(struct lua_msg *m, const char *name, double score,
    const char *failed)
{
	struct lua_hit *h = fc_arena_alloc(m->a, sizeof(*h));

	h->name = name;
	h->score = score;
	h->failed = failed != NULL ? fc_arena_strdup(m->a, failed) : NULL;
	*m->hits_tail = h;
	m->hits_tail = &h->next;
	if (failed == NULL)
		m->total += score;
}

/* The weight a rule's check returned: 0 for no hit. */
static double
lua_result_weight(lua_State *co, int idx)
{
	switch (lua_type(co, idx)) {
	case LUA_TNONE:
	case LUA_TNIL:
		return 0;
	case LUA_TBOOLEAN:
		return lua_toboolean(co, idx) ? 1 : 0;
	case LUA_TNUMBER:
		return isfinite(lua_tonumber(co, idx)) ?
		    lua_tonumber(co, idx) : 0;
	default:
		return 1;
	}
}

static void
lua_rule_failed(struct lua_msg *m, const struct lua_rule *r,
    const char *why)
{
	fc_log(FC_LOG_WARNING, "lua: session=%s rule=%s result=failed "
	    "reason=\"%s\" (skipped)", m->id != NULL ? m->id : "-", r->name,
	    fc_log_quote(m->a, why, 400));
	lua_msg_hit(m, r->name, 0, why);
}

/*
 * Resumes the current rule's coroutine with nargs values on it. True when
 * the rule is over (hit, no hit or failed), false when it waits for DNS.
 */
static bool
lua_rule_resume(struct lua_msg *m, int nargs)
{
	struct lua_engine *e = m->e;
	const struct lua_rule *r = &e->rules[m->next_rule];
	lua_State *co = m->co;
	uint64_t t0 = lua_now_us();
	const char *why = NULL;
	double weight = 0, score = r->score;
	int st, nres = 0;

	e->running = m;
	/* one budget for all the rules of the message: what earlier rules
	 * keep (a global table, a waiting coroutine) counts for the later
	 * ones; a rule cut off is abandoned, and what it held goes back */
	e->mem_limit = m->mem_base + e->conf->max_memory;
	st = lua_resume(co, e->L, nargs, &nres);
	if (st == LUA_OK && nres > 0) {
		weight = lua_result_weight(co, -nres);
		if (weight != 0 && r->score_ref != LUA_NOREF) {
			lua_settop(co, 0);
			lua_rawgeti(co, LUA_REGISTRYINDEX, r->score_ref);
			lua_message_push(co, m);
			st = lua_pcall(co, 1, 1, 0);
			if (st == LUA_OK && lua_isnumber(co, -1))
				score = lua_tonumber(co, -1);
			else if (st == LUA_OK)
				why = "its score function gave no number";
		}
	}
	e->mem_limit = 0;
	e->running = NULL;
	m->time_us += lua_now_us() - t0;

	if (st == LUA_YIELD && m->dns_wait && !m->limit_hit)
		return false;
	if (m->limit_hit)
		why = "instruction limit reached";
	else if (st == LUA_YIELD)
		why = "yielded outside of a DNS lookup";
	else if (st == LUA_ERRMEM)
		why = "memory limit reached";
	else if (st != LUA_OK)
		why = lua_isstring(co, -1) ? lua_tostring(co, -1) :
		    "error without a message";
	if (why != NULL) {
		lua_dns_cancel(m);
		lua_rule_failed(m, r, why);
	} else if (weight != 0 && isfinite(score * weight))
		lua_msg_hit(m, r->name, score * weight, NULL);
	luaL_unref(e->L, LUA_REGISTRYINDEX, m->co_ref);
	m->co_ref = LUA_NOREF;
	m->co = NULL;
	m->dns_wait = false;
	return true;
}

static bool
lua_rule_start(struct lua_msg *m)
{
	struct lua_engine *e = m->e;
	const struct lua_rule *r = &e->rules[m->next_rule];
	lua_State *co;

	co = lua_newthread(e->L);
	m->co_ref = luaL_ref(e->L, LUA_REGISTRYINDEX);
	m->co = co;
	m->instructions = 0;
	m->limit_hit = false;
	m->dns_wait = false;
	lua_sethook(co, lua_engine_count_hook, LUA_MASKCOUNT, LUA_HOOK_STEP);
	lua_rawgeti(co, LUA_REGISTRYINDEX, r->check_ref);
	lua_message_push(co, m);
	return lua_rule_resume(m, 1);
}

/* Runs the stage's rules from m->next_rule on; true when all have run. */
static bool
lua_engine_step(struct lua_msg *m)
{
	struct lua_engine *e = m->e;

	while (!m->stop && m->next_rule < e->nrules) {
		if (e->rules[m->next_rule].stage == m->stage &&
		    !lua_rule_start(m))
			return false;
		m->next_rule++;
	}
	return true;
}

bool
lua_engine_run(struct lua_msg *m, enum lua_stage stage, lua_done_fn *done,
    void *arg)
{
	m->stage = stage;
	m->next_rule = 0;
	m->stop = m->forced != LUA_ACTION_NONE;
	m->done = done;
	m->done_arg = arg;
	return lua_engine_step(m);
}

/* A DNS answer (nargs values on m->co) for the rule that waits. */
void
lua_engine_resume(struct lua_msg *m, int nargs)
{
	if (!lua_rule_resume(m, nargs))
		return;
	m->next_rule++;
	if (lua_engine_step(m) && m->done != NULL)
		m->done(m, m->done_arg);
}

/* ------------------------------------------------------------------ */
/* The verdict */

/* A threshold from facteur.settings for the first recipient (address,
 * then domain), if there is one. */
static bool
lua_setting_score(struct lua_msg *m, const char *name, double *r)
{
	lua_State *L = m->e->L;
	const char *rcpt, *at;
	char key[320];
	size_t i;
	int pass;
	bool found = false;

	if (m->nrcpts == 0)
		return false;
	rcpt = m->rcpts[0];
	for (i = 0; rcpt[i] != '\0' && i < sizeof(key) - 1; i++)
		key[i] = (char)(rcpt[i] >= 'A' && rcpt[i] <= 'Z' ?
		    rcpt[i] - 'A' + 'a' : rcpt[i]);
	key[i] = '\0';
	at = strrchr(key, '@');
	lua_getfield(L, LUA_REGISTRYINDEX, "facteur.settings");
	for (pass = 0; pass < 2 && !found; pass++) {
		const char *k = pass == 0 ? key : at != NULL ? at + 1 : NULL;

		if (k == NULL)
			break;
		if (lua_getfield(L, -1, k) == LUA_TTABLE) {
			lua_getfield(L, -1, name);
			if (lua_isnumber(L, -1)) {
				*r = lua_tonumber(L, -1);
				found = true;
			} else if (lua_isboolean(L, -1) &&
			    !lua_toboolean(L, -1)) {
				*r = INFINITY;	/* false: off */
				found = true;
			}
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	return found;
}

enum lua_action
lua_engine_verdict(struct lua_msg *m, double *required_r)
{
	const struct lua_conf *c = m->e->conf;
	static const struct {
		const char *name;
		enum lua_action action;
	} order[] = {
		{ "reject", LUA_ACTION_REJECT },
		{ "greylist", LUA_ACTION_GREYLIST },
		{ "junk", LUA_ACTION_JUNK },
		{ "header", LUA_ACTION_HEADER },
	};
	double th[4] = {
		c->reject_set ? c->reject_score : INFINITY,
		c->greylist_set ? c->greylist_score : INFINITY,
		c->junk_set ? c->junk_score : INFINITY,
		c->header_set ? c->header_score : INFINITY,
	};
	size_t i;

	for (i = 0; i < 4; i++)
		(void)lua_setting_score(m, order[i].name, &th[i]);
	/* "required": the lowest threshold that does something */
	*required_r = INFINITY;
	for (i = 0; i < 4; i++)
		if (th[i] < *required_r)
			*required_r = th[i];
	if (m->forced != LUA_ACTION_NONE)
		return m->forced;
	for (i = 0; i < 4; i++)
		if (m->total >= th[i])
			return order[i].action;
	return LUA_ACTION_ACCEPT;
}

char *
lua_hits_text(struct lua_msg *m, bool with_failed)
{
	const struct lua_hit *h;
	size_t len = 1;
	char *s, *p;

	for (h = m->hits; h != NULL; h = h->next)
		len += strlen(h->name) + 48;
	p = s = fc_arena_alloc(m->a, len);
	for (h = m->hits; h != NULL; h = h->next) {
		if (h->failed != NULL && !with_failed)
			continue;
		if (h->failed != NULL)
			p += snprintf(p, len - (size_t)(p - s), "%s%s(failed)",
			    p == s ? "" : " ", h->name);
		else
			p += snprintf(p, len - (size_t)(p - s), "%s%s(%g)",
			    p == s ? "" : " ", h->name, h->score);
	}
	return s;
}

/* ------------------------------------------------------------------ */
/* The module */

static int
lua_init(struct fc_core *core, void *conf, const char **error_r)
{
	struct lua_conf *c = conf;
	struct lua_engine *e;

	c->hostname = fc_core_hostname(core);
	c->kv = NULL;
	if (c->kv_mode == 1 && fc_kv_shared(core, NULL) == NULL) {
		*error_r = "kv shared: no module shares a key/value store "
		    "(load pgsql before lua)";
		return -1;
	}
	/* load every script once here: a broken one fails the start-up or
	 * the reload, and the running rules stay */
	if ((e = lua_engine_new(c, error_r)) == NULL)
		return -1;
	fc_log(FC_LOG_INFO, "lua: %zu rules loaded", e->nrules);
	lua_engine_free(&e);
	if (fc_command_add(core, "filter", "filter test MESSAGE.eml [--from "
	    "ADDR] [--rcpt ADDR]... [--ip IP] [--helo NAME] [--user NAME] | "
	    "filter bench [--runs N] MESSAGE.eml...",
	    lua_test_command, c, error_r) < 0)
		return -1;
	return lua_hooks_register(core, c, error_r);
}

static int
lua_worker_init(struct fc_core *core, void *conf, const char **error_r)
{
	struct lua_conf *c = conf;

	c->hostname = fc_core_hostname(core);
	/* the shared store in workers only: the master and facteurctl's
	 * `filter test` never touch the live counters */
	c->kv = c->kv_mode == 1 ? fc_kv_shared(core, NULL) : NULL;
	return lua_hooks_worker_init(conf, error_r);
}

const struct fc_module fc_module_lua = {
	FC_MODULE_HEADER,
	.name = "lua",
	.version = "1.0",
	.kind = FC_MODULE_FILTER,
	.directives = lua_directives,
	.conf_size = sizeof(struct lua_conf),
	.init = lua_init,
	.worker_init = lua_worker_init,
};
