/*
 * worker.c - a worker process: one event loop serving many sessions.
 *
 * The privilege story, top to bottom in fc_worker_main(): forked by the
 * master with the listening sockets already bound; drop to the
 * configured user; attach to the shared per-IP table; run the modules'
 * worker_init; tell the master we are ready; serve. Nothing is read from
 * the network before the drop.
 *
 * Signals from the master:
 *   SIGTERM  stop: close the listeners, let sessions finish their current
 *            command (idle ones are told goodbye at once), force the rest
 *            closed after shutdown_timeout;
 *   SIGUSR1  drain (after a reload): close the listeners, keep serving the
 *            sessions we have until they end or reload_drain_timeout.
 * A worker also stops when the master dies (its pipe reads end of file).
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include <facteur/arena.h>
#include <facteur/log.h>

#include "core.h"

enum {
	EXIT_STARTUP_FAILED = 2,	/* the master must not retry at once */
};

static struct event_base *worker_base;
static struct fc_core *worker_core;
static struct evconnlistener **worker_listeners;
static size_t worker_nlisteners;
static bool worker_stop_requested;
static bool worker_draining;
static struct event *worker_final_timer;

struct event_base *
fc_worker_base(void)
{
	return worker_base;
}

bool
fc_worker_stopping(void)
{
	return worker_stop_requested || worker_draining;
}

static void
worker_close_listeners(void)
{
	size_t i;

	for (i = 0; i < worker_nlisteners; i++) {
		if (worker_listeners[i] != NULL) {
			evconnlistener_free(worker_listeners[i]);
			worker_listeners[i] = NULL;
		}
	}
}

void
fc_worker_session_closed(void)
{
	if (fc_worker_stopping() && fc_sessions_count() == 0)
		event_base_loopexit(worker_base, NULL);
}

static void
worker_final_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	fc_log(FC_LOG_NOTICE, "worker: %u session%s still open after the "
	    "timeout: closing them", fc_sessions_count(),
	    fc_sessions_count() == 1 ? "" : "s");
	fc_sessions_close_all();
	event_base_loopexit(worker_base, NULL);
}

static void
worker_begin_exit(uint64_t timeout_ms, bool stop_sessions)
{
	struct timeval tv;

	worker_close_listeners();
	if (stop_sessions)
		fc_sessions_stop();
	if (fc_sessions_count() == 0) {
		event_base_loopexit(worker_base, NULL);
		return;
	}
	if (worker_final_timer == NULL) {
		worker_final_timer = evtimer_new(worker_base, worker_final_cb,
		    NULL);
		tv.tv_sec = (time_t)(timeout_ms / 1000);
		tv.tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000;
		evtimer_add(worker_final_timer, &tv);
	}
}

static void
worker_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	if (sig == SIGTERM || sig == SIGINT) {
		if (worker_stop_requested)
			return;
		worker_stop_requested = true;
		worker_begin_exit(worker_core->cc.shutdown_timeout, true);
	} else if (sig == SIGUSR1) {
		if (worker_draining || worker_stop_requested)
			return;
		worker_draining = true;
		worker_begin_exit(worker_core->cc.reload_drain_timeout, false);
	}
}

static void
worker_master_cb(evutil_socket_t fd, short what, void *arg)
{
	char buf[64];
	ssize_t n;

	(void)what;
	(void)arg;
	n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0 && !worker_stop_requested) {
		fc_log(FC_LOG_WARNING, "worker: the master is gone, stopping");
		worker_stop_requested = true;
		worker_begin_exit(worker_core->cc.shutdown_timeout, true);
	}
}

static void
worker_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct fc_listen *l = arg;

	(void)lev;
	fc_session_accept(l->svc, l, fd, sa, (socklen_t)salen);
}

static void
worker_reenable_cb(evutil_socket_t fd, short what, void *arg)
{
	struct evconnlistener *lev = arg;

	(void)fd;
	(void)what;
	if (!fc_worker_stopping())
		evconnlistener_enable(lev);
}

/* Out of file descriptors: pause accepting briefly instead of spinning. */
static void
worker_accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct fc_listen *l = arg;
	struct timeval tv = { 0, 100 * 1000 };
	int e = EVUTIL_SOCKET_ERROR();

	fc_log(FC_LOG_WARNING, "worker: accept on %s: %s", l->text,
	    evutil_socket_error_to_string(e));
	evconnlistener_disable(lev);
	event_base_once(worker_base, -1, EV_TIMEOUT, worker_reenable_cb, lev,
	    &tv);
}

static int
worker_listen(struct fc_core *core)
{
	struct fc_listen *l;
	size_t i, n = 0;

	for (i = 0; i < core->nservices; i++)
		for (l = core->services[i]->sc.listens; l != NULL; l = l->next)
			n++;
	worker_listeners = fc_calloc(n + 1, sizeof(*worker_listeners));
	for (i = 0; i < core->nservices; i++) {
		for (l = core->services[i]->sc.listens; l != NULL; l = l->next) {
			struct evconnlistener *lev;

			lev = evconnlistener_new(worker_base, worker_accept_cb,
			    l, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
			    -1, l->fd);
			if (lev == NULL) {
				fc_log(FC_LOG_ERROR, "worker: cannot listen on "
				    "%s", l->text);
				return -1;
			}
			evconnlistener_set_error_cb(lev,
			    worker_accept_error_cb);
			worker_listeners[worker_nlisteners++] = lev;
		}
	}
	return 0;
}

void
fc_worker_main(struct fc_core *core, unsigned int slot, int master_fd,
    int ready_fd)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGUSR1 };
	struct event *ev;
	sigset_t none;
	const char *err;
	size_t i;

	worker_core = core;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);

	if (fc_privs_drop(core->cc.user, &err) < 0) {
		fc_log(FC_LOG_ERROR, "worker: cannot drop privileges to %s: %s",
		    core->cc.user, err);
		_exit(EXIT_STARTUP_FAILED);
	}
	fc_iptable_attach(slot);

	worker_base = event_base_new();
	if (worker_base == NULL) {
		fc_log(FC_LOG_ERROR, "worker: cannot create the event loop");
		_exit(EXIT_STARTUP_FAILED);
	}
	if (fc_core_worker_init_modules(core) < 0)
		_exit(EXIT_STARTUP_FAILED);
	if (worker_listen(core) < 0)
		_exit(EXIT_STARTUP_FAILED);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		ev = evsignal_new(worker_base, sigs[i], worker_signal_cb, NULL);
		evsignal_add(ev, NULL);
	}
	ev = event_new(worker_base, master_fd, EV_READ | EV_PERSIST,
	    worker_master_cb, NULL);
	event_add(ev, NULL);

	/* ready: the master waits for this before it calls start-up done */
	{
		int32_t me = (int32_t)getpid();

		if (write(ready_fd, &me, sizeof(me)) != sizeof(me))
			fc_log(FC_LOG_WARNING, "worker: cannot tell the master "
			    "we are ready");
		close(ready_fd);
	}
	fc_log(FC_LOG_DEBUG, "worker: serving (generation %u)",
	    core->generation);

	event_base_dispatch(worker_base);
	fc_log(FC_LOG_DEBUG, "worker: exiting");
	exit(0);
}
