/*
 * lua_hooks.c - the rules at the SMTP hook points.
 *
 * Each connection gets a lua_msg when it connects, kept in a small table
 * keyed by session and freed with the session's arena (so a session that
 * ends while a rule waits for DNS cancels the lookup). What the connect
 * and HELO rules found counts for every message of the connection; MAIL
 * starts a new transaction.
 *
 * Before DATA only a rule that forces an action decides (reject or
 * greylist that command); at the end of DATA the score maps to the
 * action, the headers are added, and one log line lists the rules that
 * fired with their scores and the time spent.
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include <facteur/arena.h>
#include <facteur/auth.h>
#include <facteur/envelope.h>
#include <facteur/hook.h>
#include <facteur/log.h>
#include <facteur/module.h>
#include <facteur/session.h>

#include "lua_plugin.h"

#define LUA_SESS_BUCKETS	256

struct lua_sess {
	struct fc_session *s;
	struct fc_envelope *env;
	struct lua_msg *m;
	struct fc_arena *a;		/* the connection's */
	struct fc_arena *tx;		/* the transaction's */
	struct lua_sess *next;
};

static struct lua_engine *lua_worker_engine;
static struct lua_sess *lua_sessions[LUA_SESS_BUCKETS];

static size_t
lua_sess_bucket(const struct fc_session *s)
{
	uintptr_t p = (uintptr_t)s;

	return (size_t)((p >> 4) ^ (p >> 12)) % LUA_SESS_BUCKETS;
}

static void
lua_sess_free(void *arg)
{
	struct lua_sess *ls = arg, **pp;

	for (pp = &lua_sessions[lua_sess_bucket(ls->s)]; *pp != NULL;
	    pp = &(*pp)->next)
		if (*pp == ls) {
			*pp = ls->next;
			break;
		}
	lua_msg_cancel(ls->m);
	fc_arena_free(&ls->tx);
	fc_arena_free(&ls->a);
}

static struct lua_sess *
lua_sess_get(struct fc_session *s)
{
	struct lua_sess *ls;
	struct fc_arena *a;
	size_t b = lua_sess_bucket(s);

	for (ls = lua_sessions[b]; ls != NULL; ls = ls->next)
		if (ls->s == s)
			return ls;
	a = fc_arena_new("lua-session", 1024);
	ls = fc_arena_alloc(a, sizeof(*ls));
	ls->s = s;
	ls->a = a;
	ls->tx = fc_arena_new("lua-transaction", 4096);
	ls->m = lua_msg_new(lua_worker_engine, ls->a);
	ls->m->s = s;
	ls->m->id = fc_arena_strdup(a, fc_session_id(s));
	ls->m->ip = fc_arena_strdup(a, fc_session_peer_ip(s));
	ls->next = lua_sessions[b];
	lua_sessions[b] = ls;
	fc_arena_on_free(fc_session_arena(s), lua_sess_free, ls);
	return ls;
}

/* What the envelope holds now, copied where the rules read it. */
static void
lua_sess_fill(struct lua_sess *ls, struct fc_envelope *env)
{
	struct lua_msg *m = ls->m;
	const struct fc_user *u = fc_session_user(ls->s);
	const char *v;
	size_t i, n;

	m->tls = fc_session_tls_active(ls->s);
	m->user = u != NULL ? fc_arena_strdup(m->a, fc_user_name(u)) : NULL;
	if ((v = fc_envelope_helo(env)) != NULL &&
	    (m->helo == NULL || strcmp(m->helo, v) != 0))
		m->helo = fc_arena_strdup(ls->a, v);
	v = fc_envelope_sender(env);
	m->sender = v != NULL ? fc_arena_strdup(m->a, v) : NULL;
	n = fc_envelope_recipient_count(env);
	if (n > m->rcpts_size) {
		m->rcpts = fc_arena_alloc(m->a, n * 2 * sizeof(char *));
		m->rcpts_size = n * 2;
	}
	for (i = 0; i < n; i++)
		m->rcpts[i] = fc_arena_strdup(m->a,
		    fc_envelope_recipient(env, i));
	m->nrcpts = n;
	m->fd = fc_envelope_message_fd(env);
	m->size = fc_envelope_message_size(env);
}

static void
lua_add_spam_headers(struct lua_msg *m, struct fc_envelope *env,
    enum lua_action action, double required)
{
	char score[64], *status;

	snprintf(score, sizeof(score), "%.2f", m->total);
	fc_envelope_add_header(env, "X-Spam-Score", score);
	status = fc_arena_printf(m->a, "%s, score=%.2f required=%.2f "
	    "tests=%s", action >= LUA_ACTION_JUNK ? "Yes" : "No", m->total,
	    isfinite(required) ? required : 0.0, lua_hits_text(m, false));
	fc_envelope_add_header(env, "X-Spam-Status", status);
}

/* The verdict of a stage for the SMTP module. */
static enum fc_verdict
lua_stage_verdict(struct lua_sess *ls)
{
	struct lua_msg *m = ls->m;
	struct fc_envelope *env = ls->env;
	enum lua_action action;
	double required;
	size_t i;

	if (m->stage != LUA_STAGE_DATA) {
		action = m->forced;
		if (action != LUA_ACTION_REJECT &&
		    action != LUA_ACTION_GREYLIST)
			return FC_CONTINUE;
		/* that command only */
		m->forced = LUA_ACTION_NONE;
		fc_log_session(ls->s, FC_LOG_INFO, "event=filter stage=%s "
		    "action=%s rules=\"%s\"", lua_stage_name(m->stage),
		    lua_action_name(action), lua_hits_text(m, true));
		if (m->forced_reply != NULL)
			fc_envelope_set_reply(env, m->forced_reply);
		else if (action == LUA_ACTION_GREYLIST)
			fc_envelope_set_reply(env, "451 4.7.1 Try again "
			    "later");
		m->forced_reply = NULL;
		return action == LUA_ACTION_REJECT ? FC_REJECT : FC_TEMPFAIL;
	}

	action = lua_engine_verdict(m, &required);
	fc_log_session(ls->s, FC_LOG_INFO, "event=filter action=%s "
	    "score=%.2f rules=\"%s\" time_us=%llu", lua_action_name(action),
	    m->total, lua_hits_text(m, true),
	    (unsigned long long)m->time_us);
	switch (action) {
	case LUA_ACTION_REJECT:
		fc_envelope_set_reply(env, m->forced_reply != NULL ?
		    m->forced_reply : m->e->conf->reject_reply);
		return FC_REJECT;
	case LUA_ACTION_GREYLIST:
		fc_envelope_set_reply(env, m->forced_reply != NULL ?
		    m->forced_reply : "451 4.7.1 Try again later");
		return FC_TEMPFAIL;
	case LUA_ACTION_JUNK:
		fc_envelope_set_folder(env, m->e->conf->junk_folder);
		/* FALLTHROUGH */
	case LUA_ACTION_HEADER:
		lua_add_spam_headers(m, env, action, required);
		break;
	default:
		break;
	}
	for (i = 0; i < m->nadd_headers; i++)
		fc_envelope_add_header(env, m->add_headers[i * 2],
		    m->add_headers[i * 2 + 1]);
	return FC_CONTINUE;
}

/* The stage's verdict; after connect and HELO, what the rules found
 * stays for every message of the connection. */
static enum fc_verdict
lua_stage_finish(struct lua_sess *ls)
{
	struct lua_msg *m = ls->m;
	enum fc_verdict v = lua_stage_verdict(ls);
	struct lua_hit *h;

	if (m->stage > LUA_STAGE_HELO)
		return v;
	m->session_tail = NULL;
	for (h = m->hits; h != NULL; h = h->next)
		m->session_tail = h;
	m->session_total = m->total;
	m->session_forced = m->forced;
	if (m->stage == LUA_STAGE_CONNECT) {
		m->connect_tail = m->session_tail;
		m->connect_total = m->total;
	}
	m->a = ls->tx;
	return v;
}

static void
lua_stage_done(struct lua_msg *m, void *arg)
{
	struct lua_sess *ls = arg;

	(void)m;
	fc_hook_resume(ls->s, lua_stage_finish(ls));
}

static enum fc_verdict
lua_hook_stage(struct fc_session *s, struct fc_envelope *env,
    enum lua_stage stage)
{
	struct lua_sess *ls;

	if (lua_worker_engine == NULL || lua_worker_engine->nrules == 0)
		return FC_CONTINUE;
	ls = lua_sess_get(s);
	ls->env = env;
	if (stage == LUA_STAGE_HELO) {
		/* a new HELO replaces what the last one found */
		ls->m->session_tail = ls->m->connect_tail;
		ls->m->session_total = ls->m->connect_total;
	}
	if (stage == LUA_STAGE_MAIL || stage == LUA_STAGE_HELO) {
		lua_msg_new_transaction(ls->m);
		fc_arena_reset(ls->tx);
	}
	ls->m->a = stage <= LUA_STAGE_HELO ? ls->a : ls->tx;
	lua_sess_fill(ls, env);
	if (!lua_engine_run(ls->m, stage, lua_stage_done, ls))
		return FC_PENDING;
	return lua_stage_finish(ls);
}

static enum fc_verdict
lua_hook_connect(struct fc_session *s, struct fc_envelope *env, void *ctx)
{
	(void)ctx;
	return lua_hook_stage(s, env, LUA_STAGE_CONNECT);
}

static enum fc_verdict
lua_hook_helo(struct fc_session *s, struct fc_envelope *env, void *ctx)
{
	(void)ctx;
	return lua_hook_stage(s, env, LUA_STAGE_HELO);
}

static enum fc_verdict
lua_hook_mail(struct fc_session *s, struct fc_envelope *env, void *ctx)
{
	(void)ctx;
	return lua_hook_stage(s, env, LUA_STAGE_MAIL);
}

static enum fc_verdict
lua_hook_rcpt(struct fc_session *s, struct fc_envelope *env, void *ctx)
{
	(void)ctx;
	return lua_hook_stage(s, env, LUA_STAGE_RCPT);
}

static enum fc_verdict
lua_hook_data(struct fc_session *s, struct fc_envelope *env, void *ctx)
{
	(void)ctx;
	return lua_hook_stage(s, env, LUA_STAGE_DATA);
}

int
lua_hooks_register(struct fc_core *core, struct lua_conf *conf,
    const char **error_r)
{
	static const struct {
		enum fc_hook hook;
		fc_hook_fn *fn;
	} hooks[] = {
		{ FC_HOOK_SMTP_CONNECT, lua_hook_connect },
		{ FC_HOOK_SMTP_HELO, lua_hook_helo },
		{ FC_HOOK_SMTP_MAIL, lua_hook_mail },
		{ FC_HOOK_SMTP_RCPT, lua_hook_rcpt },
		{ FC_HOOK_SMTP_DATA, lua_hook_data },
	};
	size_t i;

	for (i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++)
		if (fc_hook_add(core, hooks[i].hook, 500, hooks[i].fn, conf,
		    error_r) < 0)
			return -1;
	return 0;
}

/* One Lua state per worker, with the scripts as they are now. */
int
lua_hooks_worker_init(struct lua_conf *conf, const char **error_r)
{
	lua_engine_free(&lua_worker_engine);
	if ((lua_worker_engine = lua_engine_new(conf, error_r)) == NULL)
		return -1;
	return 0;
}
