/*
 * io.c - descriptors and timers in the worker's event loop for modules
 * (include/facteur/io.h), without letting libevent types into the ABI.
 */
#include "config.h"

#include <stdlib.h>

#include <event2/event.h>

#include <facteur/arena.h>
#include <facteur/io.h>

#include "core.h"

struct fc_io {
	struct event *ev;
	fc_io_fn *fn;
	void *arg;
};

struct fc_alarm {
	struct event *ev;
	fc_alarm_fn *fn;
	void *arg;
};

static void
io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fc_io *io = arg;

	(void)what;
	io->fn(fd, io->arg);
}

struct fc_io *
fc_io_watch(int fd, fc_io_fn *fn, void *arg)
{
	struct fc_io *io;

	if (fc_worker_base() == NULL)
		return NULL;
	io = fc_calloc(1, sizeof(*io));
	io->fn = fn;
	io->arg = arg;
	io->ev = event_new(fc_worker_base(), fd, EV_READ | EV_PERSIST, io_cb,
	    io);
	if (io->ev == NULL || event_add(io->ev, NULL) < 0) {
		if (io->ev != NULL)
			event_free(io->ev);
		free(io);
		return NULL;
	}
	return io;
}

void
fc_io_unwatch(struct fc_io **iop)
{
	struct fc_io *io = *iop;

	if (io == NULL)
		return;
	*iop = NULL;
	event_free(io->ev);
	free(io);
}

static void
alarm_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fc_alarm *al = arg;
	fc_alarm_fn *fn = al->fn;
	void *fnarg = al->arg;

	(void)fd;
	(void)what;
	/* gone before the call: the callback may add a new alarm */
	event_free(al->ev);
	free(al);
	fn(fnarg);
}

struct fc_alarm *
fc_alarm_add(uint64_t ms, fc_alarm_fn *fn, void *arg)
{
	struct fc_alarm *al;
	struct timeval tv;

	if (fc_worker_base() == NULL)
		return NULL;
	al = fc_calloc(1, sizeof(*al));
	al->fn = fn;
	al->arg = arg;
	al->ev = evtimer_new(fc_worker_base(), alarm_cb, al);
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	if (al->ev == NULL || evtimer_add(al->ev, &tv) < 0) {
		if (al->ev != NULL)
			event_free(al->ev);
		free(al);
		return NULL;
	}
	return al;
}

void
fc_alarm_cancel(struct fc_alarm **alp)
{
	struct fc_alarm *al = *alp;

	if (al == NULL)
		return;
	*alp = NULL;
	event_free(al->ev);
	free(al);
}
