/*
 * lua_plugin.h - the parts of the Lua filter plugin (private).
 *
 *   lua_engine.c   the module, its directives, one Lua state per worker,
 *                  the sandbox, the limits, the rule runner, the verdict
 *   lua_message.c  the message object rules receive (msg:...)
 *   lua_dns.c      facteur.dns.*: lookups that yield the rule's coroutine
 *   lua_store.c    facteur.kv (counters with expiry) and facteur.map
 *                  (files reloaded when they change)
 *   lua_hooks.c    the SMTP hook points: state per session, verdicts
 *   lua_test.c     `facteurctl filter test MESSAGE.eml`
 */
#ifndef FACTEUR_LUA_PLUGIN_H
#define FACTEUR_LUA_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lua.h>

struct fc_arena;
struct fc_core;
struct fc_dns_query;
struct fc_kv;
struct fc_mime_part;

/* Stages, in SMTP order. */
enum lua_stage {
	LUA_STAGE_CONNECT = 0,
	LUA_STAGE_HELO,
	LUA_STAGE_MAIL,
	LUA_STAGE_RCPT,
	LUA_STAGE_DATA,
	LUA_STAGE__COUNT
};

/* Actions, mildest first: a verdict is the strongest that applies. */
enum lua_action {
	LUA_ACTION_NONE = 0,	/* nothing decided (a forced action only) */
	LUA_ACTION_ACCEPT,	/* deliver as is */
	LUA_ACTION_HEADER,	/* add X-Spam-Score and X-Spam-Status */
	LUA_ACTION_JUNK,	/* the headers, and the Junk folder */
	LUA_ACTION_GREYLIST,	/* tempfail: the client retries */
	LUA_ACTION_REJECT,	/* 5xx */
};

struct lua_conf {
	char **scripts;			/* expanded with glob() at load */
	char **settings;		/* "name\0value value..." pairs */
	size_t nsettings;
	double header_score, junk_score, greylist_score, reject_score;
	bool header_set, junk_set, greylist_set, reject_set;
	unsigned int max_instructions;
	uint64_t max_memory;
	uint64_t dns_timeout;		/* ms */
	char *reject_reply;
	char *junk_folder;
	const char *hostname;		/* ours, set by init */
	unsigned int kv_mode;		/* 0 memory, 1 shared */
	struct fc_kv *kv;		/* the shared store, in workers */
};

struct lua_rule {
	char *name;
	char *description;
	char *file;
	enum lua_stage stage;
	double score;
	int score_ref;			/* a function, or LUA_NOREF */
	int check_ref;
};

struct lua_engine {
	lua_State *L;
	const struct lua_conf *conf;
	struct lua_rule *rules;
	size_t nrules, rules_size;
	const char *loading;		/* the script being loaded */
	uint64_t load_instructions;	/* its top level's, so far */
	/* the allocator's account */
	size_t mem_used, mem_limit;	/* limit 0: none */
	size_t mem_live;		/* mem_used after the last full GC */
	/* the rule that runs now, for the instruction hook */
	struct lua_msg *running;
	uint64_t generation;		/* bumps per message: stale userdata */
};

/* One rule that fired or failed. */
struct lua_hit {
	const char *name;
	double score;
	const char *failed;		/* NULL, or why the rule was skipped */
	struct lua_hit *next;
};

typedef void lua_done_fn(struct lua_msg *m, void *arg);

/*
 * What the rules see and what they decided: one transaction (the
 * connection's first stages included). The fields up to "results" are
 * filled by the caller; strings live in the arena.
 */
struct lua_msg {
	struct lua_engine *e;
	struct fc_arena *a;
	uint64_t generation;
	struct fc_session *s;		/* NULL in the test tool */
	const char *id;			/* for the log: session or file */

	const char *ip, *helo, *sender, *user;
	const char **rcpts;
	size_t nrcpts, rcpts_size;
	bool tls;
	int fd;				/* the message, or -1 */
	uint64_t size;
	enum lua_stage stage;

	/* parsed on first use */
	const struct fc_mime_part *root;
	bool parsed, text_done;
	char *text, *html;
	size_t text_len, html_len;
	char *ptr_name;
	bool ptr_done;

	/* results */
	struct lua_hit *hits, **hits_tail;
	size_t nhits_session;		/* hits before MAIL stay */
	struct lua_hit *session_tail;	/* last hit of the session part */
	struct lua_hit *connect_tail;	/* last hit of the connect stage */
	double total, session_total, connect_total;
	enum lua_action session_forced;
	enum lua_action forced;
	const char *forced_reply;
	bool stop;			/* a rule stopped this stage's run */
	const char **add_headers;	/* name, value pairs */
	size_t nadd_headers, add_headers_size;

	/* the run in progress */
	size_t next_rule;
	lua_State *co;			/* the current rule's coroutine */
	int co_ref;
	uint64_t instructions;
	bool limit_hit, dns_wait;
	struct fc_dns_query *dnsq;
	int dns_type;
	struct fc_timer *dns_timer;
	lua_done_fn *done;
	void *done_arg;
	uint64_t time_us;		/* spent in rules so far */
	/* the state's memory when the transaction began: its rules
	 * together may grow it by max_memory */
	size_t mem_base;
};

/* lua_engine.c */
struct lua_engine *lua_engine_new(const struct lua_conf *conf,
    const char **error_r);
void lua_engine_free(struct lua_engine **e);
/* A transaction's state; one per connection, reset at each MAIL. */
struct lua_msg *lua_msg_new(struct lua_engine *e, struct fc_arena *a);
void lua_msg_new_transaction(struct lua_msg *m);
void lua_msg_cancel(struct lua_msg *m);
/*
 * Runs the rules of a stage. Returns true when done (the results are in
 * m), false when a rule waits for DNS: done(m, arg) is called from the
 * event loop when the stage ends.
 */
bool lua_engine_run(struct lua_msg *m, enum lua_stage stage,
    lua_done_fn *done, void *arg);
/* After DATA: the action the score and the rules give. */
enum lua_action lua_engine_verdict(struct lua_msg *m, double *required_r);
const char *lua_action_name(enum lua_action a);
/* "GTUBE(1000) MISSING_DATE(1)" */
char *lua_hits_text(struct lua_msg *m, bool with_failed);
const char *lua_stage_name(enum lua_stage st);
void lua_engine_resume(struct lua_msg *m, int nargs);
uint64_t lua_now_us(void);

/* lua_message.c */
/* With the facteur.dns table on top of the stack. */
void lua_message_open(lua_State *L);
void lua_message_push(lua_State *L, struct lua_msg *m);
struct lua_msg *lua_message_check(lua_State *L, int idx);
const struct fc_mime_part *lua_message_root(struct lua_msg *m);
const char *lua_message_text(struct lua_msg *m, bool html, size_t *len_r);

/* lua_dns.c */
void lua_dns_open(lua_State *L);
void lua_dns_cancel(struct lua_msg *m);

/* lua_store.c */
void lua_store_open(lua_State *L);

/* lua_hooks.c */
int lua_hooks_register(struct fc_core *core, struct lua_conf *conf,
    const char **error_r);
int lua_hooks_worker_init(struct lua_conf *conf, const char **error_r);

/* lua_test.c */
int lua_test_command(struct fc_core *core, void *arg, int argc, char **argv);

#endif
