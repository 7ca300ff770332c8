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
#include <malloc.h>
#include <stdint.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <event2/event.h>

#include <facteur/arena.h>
#include <facteur/log.h>

#include "core.h"

enum {
	EXIT_STARTUP_FAILED = 2,	/* the master must not retry at once */
};

static struct event_base *worker_base;
static struct fc_core *worker_core;
struct worker_listener {
	struct fc_listen *l;
	struct event *ev;		/* readable: connections to accept */
	struct event *pause;		/* after an accept error */
};

#define ACCEPT_BATCH		8
#define TRIM_INTERVAL_S		60
#define TRIM_AFTER_CLOSED	1000	/* sessions closed since last time */

static struct worker_listener *worker_listeners;
static size_t worker_nlisteners;
static bool worker_stop_requested;
static bool worker_draining;
static struct event *worker_final_timer;
static unsigned long worker_closed;	/* sessions, since start */

struct event_base *
fc_worker_base(void)
{
	return worker_base;
}

/* For programs other than facteurd's workers (tests, tools) that run an
 * event loop of their own and want the core's timers and watches in it. */
void
fc_worker_use_base(struct event_base *base)
{
	worker_base = base;
}

bool
fc_worker_stopping(void)
{
	return worker_stop_requested || worker_draining;
}

/* Our copies of the listening sockets: the other workers keep theirs. */
static void
worker_close_listeners(void)
{
	size_t i;

	for (i = 0; i < worker_nlisteners; i++) {
		struct worker_listener *wl = &worker_listeners[i];

		if (wl->ev == NULL)
			continue;
		event_free(wl->ev);
		event_free(wl->pause);
		wl->ev = NULL;
		wl->pause = NULL;
		close(wl->l->fd);
	}
}

void
fc_worker_session_closed(void)
{
	worker_closed++;
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

/*
 * Accepts at most ACCEPT_BATCH connections per wake-up. Every worker is
 * woken for a shared listening socket; taking a few at a time lets the
 * others have the rest of a burst instead of one worker taking it all.
 */
static void
worker_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker_listener *wl = arg;
	struct sockaddr_storage ss;
	struct timeval pause = { 0, 100 * 1000 };
	socklen_t len;
	unsigned int i;
	int c;

	(void)what;
	for (i = 0; i < ACCEPT_BATCH; i++) {
		len = sizeof(ss);
		c = accept4(fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c >= 0) {
			fc_session_accept(wl->l->svc, wl->l, c,
			    (struct sockaddr *)&ss, len);
			continue;
		}
		switch (errno) {
		case EINTR:
		case ECONNABORTED:
			continue;
		case EAGAIN:
#if EAGAIN != EWOULDBLOCK
		case EWOULDBLOCK:
#endif
			return;
		default:
			/* out of descriptors or memory: pause briefly rather
			 * than spin on a socket that stays readable */
			fc_log(FC_LOG_WARNING, "worker: accept on %s: %s",
			    wl->l->text, strerror(errno));
			event_del(wl->ev);
			evtimer_add(wl->pause, &pause);
			return;
		}
	}
}

static void
worker_resume_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker_listener *wl = arg;

	(void)fd;
	(void)what;
	if (!fc_worker_stopping() && wl->ev != NULL)
		event_add(wl->ev, NULL);
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
			struct worker_listener *wl =
			    &worker_listeners[worker_nlisteners++];

			wl->l = l;
			wl->ev = event_new(worker_base, l->fd,
			    EV_READ | EV_PERSIST, worker_accept_cb, wl);
			wl->pause = evtimer_new(worker_base,
			    worker_resume_accept_cb, wl);
			if (wl->ev == NULL || wl->pause == NULL
			    || event_add(wl->ev, NULL) < 0) {
				fc_log(FC_LOG_ERROR, "worker: cannot listen on "
				    "%s", l->text);
				return -1;
			}
		}
	}
	return 0;
}

/*
 * After a burst of connections has come and gone, give the freed memory
 * back to the system (malloc keeps it otherwise).
 */
static void
worker_trim_cb(evutil_socket_t fd, short what, void *arg)
{
	static unsigned long closed_at_last_trim;

	(void)fd;
	(void)what;
	(void)arg;
	if (worker_closed - closed_at_last_trim < TRIM_AFTER_CLOSED)
		return;
	closed_at_last_trim = worker_closed;
	malloc_trim(0);
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
	fc_dns_configure(core->cc.dns_servers);
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

	ev = event_new(worker_base, -1, EV_PERSIST, worker_trim_cb, NULL);
	{
		struct timeval every = { TRIM_INTERVAL_S, 0 };

		event_add(ev, &every);
	}

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
