/*
 * io.h - descriptors and timers in a worker's event loop, for modules
 * that wait on something other than a client: an inotify descriptor, a
 * database connection.
 *
 * Only in workers (after worker_init has started): the master has no
 * event loop. Callbacks run from the loop, never from inside these calls.
 * Session timers (session.h) are the right tool for anything that belongs
 * to one session: they die with it.
 */
#ifndef FACTEUR_IO_H
#define FACTEUR_IO_H

#include <stdint.h>

struct fc_io;
struct fc_alarm;

typedef void fc_io_fn(int fd, void *arg);
typedef void fc_alarm_fn(void *arg);

/* Calls fn each time fd is readable, until fc_io_unwatch(). NULL when
 * the loop refuses the descriptor. */
struct fc_io *fc_io_watch(int fd, fc_io_fn *fn, void *arg);
/* Stops watching (the descriptor stays open); sets *io to NULL. */
void fc_io_unwatch(struct fc_io **io);

/* Calls fn once, ms milliseconds from now. */
struct fc_alarm *fc_alarm_add(uint64_t ms, fc_alarm_fn *fn, void *arg);
/* Before it fired; sets *alarm to NULL. An alarm that fired is gone:
 * do not cancel it. */
void fc_alarm_cancel(struct fc_alarm **alarm);

#endif
