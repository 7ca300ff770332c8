/*
 * hook.c - filter hooks (include/facteur/hook.h).
 *
 * A generation keeps, per hook point, its hooks sorted by order. A run
 * walks them; when one answers FC_PENDING, the run's place is kept in
 * the session (one run at a time: the protocol module waits for it) and
 * fc_hook_resume() carries on from the next hook.
 */
#include "config.h"

#include <facteur/arena.h>
#include <facteur/envelope.h>
#include <facteur/hook.h>
#include <facteur/log.h>

#include "core.h"

struct fc_hook_entry {
	int order;
	fc_hook_fn *fn;
	void *ctx;
	struct fc_hook_entry *next;
};

struct fc_hook_run {
	enum fc_hook hook;
	struct fc_envelope *env;
	struct fc_hook_entry *at;	/* the hook that answered PENDING */
	fc_hook_done_fn *done;
	void *arg;
	bool active;
};

static bool
hook_is_verdict(enum fc_hook hook)
{
	return hook != FC_HOOK_DELIVERED;
}

int
fc_hook_add(struct fc_core *core, enum fc_hook hook, int order,
    fc_hook_fn *fn, void *ctx, const char **error_r)
{
	struct fc_hook_entry *e, **pp;

	if ((unsigned int)hook >= FC_HOOK__COUNT || fn == NULL) {
		*error_r = "no such hook point";
		return -1;
	}
	if (order < 0 || order > 1000) {
		*error_r = "hook order goes from 0 to 1000";
		return -1;
	}
	e = fc_arena_alloc(core->arena, sizeof(*e));
	e->order = order;
	e->fn = fn;
	e->ctx = ctx;
	/* after those of the same order: ties keep load order */
	for (pp = &core->hooks[hook]; *pp != NULL && (*pp)->order <= order;
	    pp = &(*pp)->next)
		;
	e->next = *pp;
	*pp = e;
	return 0;
}

/* Runs hooks from e on; FC_PENDING leaves the place in run. */
static enum fc_verdict
hook_walk(struct fc_session *s, struct fc_hook_run *run,
    struct fc_hook_entry *e)
{
	enum fc_verdict v;

	for (; e != NULL; e = e->next) {
		v = e->fn(s, run->env, e->ctx);
		if (!hook_is_verdict(run->hook))
			continue;
		if (v == FC_PENDING) {
			run->at = e;
			run->active = true;
			return FC_PENDING;
		}
		if (v != FC_CONTINUE)
			return v;
	}
	return FC_CONTINUE;
}

enum fc_verdict
fc_hook_run(struct fc_session *s, enum fc_hook hook, struct fc_envelope *env,
    fc_hook_done_fn *done, void *arg)
{
	struct fc_core *core = fc_session_core(s);
	struct fc_hook_run *run = fc_session_hook_run(s);

	fc_assert((unsigned int)hook < FC_HOOK__COUNT);
	if (core->hooks[hook] == NULL)
		return FC_CONTINUE;
	fc_assert(!run->active);
	run->hook = hook;
	run->env = env;
	run->done = done;
	run->arg = arg;
	return hook_walk(s, run, core->hooks[hook]);
}

void
fc_hook_resume(struct fc_session *s, enum fc_verdict v)
{
	struct fc_hook_run *run = fc_session_hook_run(s);

	if (!run->active)
		return;
	run->active = false;
	if (v == FC_CONTINUE)
		v = hook_walk(s, run, run->at->next);
	if (v == FC_PENDING)
		return;
	run->done(s, v, run->arg);
}

size_t
fc_hook_run_size(void)
{
	return sizeof(struct fc_hook_run);
}
