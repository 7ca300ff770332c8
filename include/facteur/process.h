/*
 * process.h - a module's own process, started and supervised by the
 * master (the SMTP outbound queue runs in one).
 *
 * Registered in the module's init(); the master forks it with the
 * generation's workers, restarts it when it dies (with the same back-off
 * as workers), and stops it on SIGTERM and when a reload replaces the
 * generation. A new generation's process may start while the old one is
 * still finishing: a process that must run alone takes a lock of its
 * own (flock on a file in its state folder).
 */
#ifndef FACTEUR_PROCESS_H
#define FACTEUR_PROCESS_H

#include <stddef.h>

struct fc_core;

struct fc_process_ops {
	size_t size;			/* sizeof(struct fc_process_ops) */
	/*
	 * In the new process, privileges dropped, its event loop ready
	 * (io.h): sets up its work and returns. -1 with *error_r fails
	 * the process (the master retries after a while).
	 */
	int (*start)(struct fc_core *core, void *arg, const char **error_r);
	/*
	 * The process should stop: finish or drop what is going on and
	 * call fc_process_done(). After the core's shutdown_timeout the
	 * process ends anyway. NULL: end at once.
	 */
	void (*stop)(void *arg);
};

int fc_process_add(struct fc_core *core, const char *name,
    const struct fc_process_ops *ops, void *arg, const char **error_r);

/* In the process: nothing is left to do, end its loop now. */
void fc_process_done(void);

#endif
