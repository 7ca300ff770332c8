/*
 * process.c - modules' own processes (include/facteur/process.h): the
 * registry in a generation, and the process's life after the master
 * forked it. Also the registry of modules' admin commands (command.h),
 * which facteurctl runs in a process of its own.
 *
 * The story of such a process, top to bottom in fc_process_main(): drop
 * to the configured user, make an event loop, let the module start its
 * work, tell the master we are up, serve. On SIGTERM (stop) or SIGUSR1 (a
 * reload replaces us) the module is asked to stop; the loop ends when it
 * says it is done, when the master goes away, or after shutdown_timeout.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include <facteur/arena.h>
#include <facteur/command.h>
#include <facteur/log.h>
#include <facteur/process.h>

#include "core.h"

struct fc_process {
	const char *name;
	const struct fc_process_ops *ops;
	void *arg;
	struct fc_process *next;
};

static struct event_base *process_base;
static const struct fc_process *process_self;
static bool process_stopping;

int
fc_process_add(struct fc_core *core, const char *name,
    const struct fc_process_ops *ops, void *arg, const char **error_r)
{
	struct fc_process *p, **tail;

	if (ops == NULL || ops->size < offsetof(struct fc_process_ops, stop) +
	    sizeof(ops->stop) || ops->start == NULL) {
		*error_r = "process ops missing or too small";
		return -1;
	}
	p = fc_arena_alloc(core->arena, sizeof(*p));
	p->name = fc_arena_strdup(core->arena, name);
	p->ops = ops;
	p->arg = arg;
	for (tail = &core->processes; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = p;
	return 0;
}

int
fc_command_add(struct fc_core *core, const char *name, const char *usage,
    fc_command_fn *fn, void *arg, const char **error_r)
{
	struct fc_command *c, **tail;

	for (tail = &core->commands; *tail != NULL; tail = &(*tail)->next) {
		if (strcmp((*tail)->name, name) == 0) {
			*error_r = "a command of that name exists already";
			return -1;
		}
	}
	c = fc_arena_alloc(core->arena, sizeof(*c));
	c->name = fc_arena_strdup(core->arena, name);
	c->usage = fc_arena_strdup(core->arena, usage);
	c->fn = fn;
	c->arg = arg;
	*tail = c;
	return 0;
}

unsigned int
fc_process_count(const struct fc_core *core)
{
	const struct fc_process *p;
	unsigned int n = 0;

	for (p = core->processes; p != NULL; p = p->next)
		n++;
	return n;
}

void
fc_process_done(void)
{
	if (process_base != NULL)
		event_base_loopexit(process_base, NULL);
}

static void
process_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	fc_log(FC_LOG_WARNING, "%s: still busy after the shutdown timeout: "
	    "stopping anyway", process_self->name);
	event_base_loopexit(process_base, NULL);
}

static void
process_stop(struct fc_core *core)
{
	struct timeval tv;
	struct event *ev;

	if (process_stopping)
		return;
	process_stopping = true;
	if (process_self->ops->stop == NULL) {
		event_base_loopexit(process_base, NULL);
		return;
	}
	ev = evtimer_new(process_base, process_timeout_cb, NULL);
	tv.tv_sec = (time_t)(core->cc.shutdown_timeout / 1000);
	tv.tv_usec = (suseconds_t)(core->cc.shutdown_timeout % 1000) * 1000;
	evtimer_add(ev, &tv);
	process_self->ops->stop(process_self->arg);
}

static void
process_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	process_stop(arg);
}

static void
process_master_cb(evutil_socket_t fd, short what, void *arg)
{
	char buf[64];
	ssize_t n;

	(void)what;
	n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		fc_log(FC_LOG_WARNING, "%s: the master is gone, stopping",
		    process_self->name);
		process_stop(arg);
	}
}

void
fc_process_main(struct fc_core *core, unsigned int index, int master_fd,
    int ready_fd)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGUSR1 };
	const struct fc_process *p = core->processes;
	struct event *ev;
	const char *err = "no reason given";
	sigset_t none;
	int32_t me;
	size_t i;

	while (index-- > 0 && p != NULL)
		p = p->next;
	if (p == NULL)
		_exit(2);
	process_self = p;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);

	if (fc_privs_drop(core->cc.user, &err) < 0) {
		fc_log(FC_LOG_ERROR, "%s: cannot drop privileges to %s: %s",
		    p->name, core->cc.user, err);
		_exit(2);
	}
	process_base = event_base_new();
	if (process_base == NULL)
		_exit(2);
	fc_worker_use_base(process_base);
	fc_dns_configure(core->cc.dns_servers);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		ev = evsignal_new(process_base, sigs[i], process_signal_cb, core);
		evsignal_add(ev, NULL);
	}
	ev = event_new(process_base, master_fd, EV_READ | EV_PERSIST,
	    process_master_cb, core);
	event_add(ev, NULL);
	if (p->ops->start(core, p->arg, &err) < 0) {
		fc_log(FC_LOG_ERROR, "%s: cannot start: %s", p->name, err);
		_exit(2);
	}
	me = (int32_t)getpid();
	if (write(ready_fd, &me, sizeof(me)) != sizeof(me))
		fc_log(FC_LOG_WARNING, "%s: cannot tell the master we are "
		    "ready", p->name);
	close(ready_fd);
	fc_log(FC_LOG_DEBUG, "%s: running (generation %u)", p->name,
	    core->generation);
	event_base_dispatch(process_base);
	exit(0);
}
