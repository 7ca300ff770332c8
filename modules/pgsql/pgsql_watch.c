/*
 * pgsql_watch.c - the change watch: LISTEN facteur.
 *
 * Every change to a mailbox (the schema's functions) sends NOTIFY
 * facteur with the mailbox's id when it commits, whichever process or
 * node made it. A worker with watched mailboxes keeps a second
 * connection that LISTENs, its socket in the event loop; each
 * notification wakes the sessions watching that mailbox, and they sync.
 *
 * When that connection is lost, every watcher is woken (something may
 * have changed unseen) and it is opened again after a back-off.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include <facteur/io.h>
#include <facteur/log.h>

#include "pgsql.h"

static PGconn *listen_conn;
static struct fc_io *listen_io;
static struct fc_alarm *listen_alarm;
static uint64_t listen_backoff;
static struct pgsql_watcher *watchers;

static void watch_read(int fd, void *arg);

static void
watch_wake(int64_t id, bool all)
{
	struct pgsql_watcher *w, *next;

	for (w = watchers; w != NULL; w = next) {
		next = w->next;
		if (all || w->mailbox_id == id)
			w->fn(w->arg);
	}
}

static void
watch_close(void)
{
	fc_io_unwatch(&listen_io);
	if (listen_conn != NULL)
		PQfinish(listen_conn);
	listen_conn = NULL;
}

static int
watch_open(const char **error_r)
{
	static char msg[600];
	PGresult *r;

	listen_conn = pgsql_connect(error_r);
	if (listen_conn == NULL)
		return -1;
	r = PQexec(listen_conn, "LISTEN facteur");
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		snprintf(msg, sizeof(msg), "LISTEN: %s",
		    PQresultErrorMessage(r));
		msg[strcspn(msg, "\n")] = '\0';
		*error_r = msg;
		PQclear(r);
		watch_close();
		return -1;
	}
	PQclear(r);
	PQsetnonblocking(listen_conn, 1);
	listen_io = fc_io_watch(PQsocket(listen_conn), watch_read, NULL);
	if (listen_io == NULL) {
		*error_r = "cannot watch the database's socket";
		watch_close();
		return -1;
	}
	return 0;
}

static void
watch_retry(void *arg)
{
	const char *err;

	(void)arg;
	listen_alarm = NULL;
	if (watchers == NULL || listen_conn != NULL)
		return;
	if (watch_open(&err) < 0) {
		listen_backoff = pgsql_backoff_next(listen_backoff);
		listen_alarm = fc_alarm_add(listen_backoff, watch_retry, NULL);
		return;
	}
	fc_log(FC_LOG_NOTICE, "pgsql: listening for changes again");
	listen_backoff = 0;
	watch_wake(0, true);
}

static void
watch_lost(void)
{
	fc_log(FC_LOG_WARNING, "pgsql: the connection listening for changes "
	    "was lost; connecting again");
	watch_close();
	listen_backoff = pgsql_backoff_next(0);
	if (listen_alarm == NULL)
		listen_alarm = fc_alarm_add(listen_backoff, watch_retry, NULL);
	watch_wake(0, true);
}

static void
watch_read(int fd, void *arg)
{
	PGnotify *n;

	(void)fd;
	(void)arg;
	if (!PQconsumeInput(listen_conn)
	    || PQstatus(listen_conn) != CONNECTION_OK) {
		watch_lost();
		return;
	}
	while ((n = PQnotifies(listen_conn)) != NULL) {
		int64_t id = strtoll(n->extra, NULL, 10);

		PQfreemem(n);
		watch_wake(id, false);
		if (listen_conn == NULL)
			return;
	}
}

int
pgsql_watch_add(struct pgsql_watcher *w, const char **error_r)
{
	if (listen_conn == NULL && listen_alarm == NULL
	    && watch_open(error_r) < 0)
		return -1;
	w->next = watchers;
	watchers = w;
	return 0;
}

void
pgsql_watch_remove(struct pgsql_watcher *w)
{
	struct pgsql_watcher **wp;

	for (wp = &watchers; *wp != NULL; wp = &(*wp)->next) {
		if (*wp == w) {
			*wp = w->next;
			break;
		}
	}
	if (watchers == NULL) {
		fc_alarm_cancel(&listen_alarm);
		watch_close();
	}
}
