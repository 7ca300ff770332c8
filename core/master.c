/*
 * master.c - the master process: binds, forks, supervises, reloads.
 *
 * The master reads the config, loads modules, binds every listener (it
 * may be root for ports below 1024), and forks the workers. It never
 * reads a byte from the network, and it keeps root so that a reload can
 * bind new privileged ports and re-read keys; the workers give it up.
 *
 * The master's loop is a plain poll() on two descriptors: a signalfd for
 * SIGCHLD, SIGHUP, SIGTERM, SIGINT and SIGQUIT, and a pipe on which each
 * worker writes its pid once it serves (a worker has given up root by
 * then, so it could not signal us). Its only timers are worker restarts
 * and the shutdown deadline. No event library runs in the master, so a
 * fork leaves no shared event state behind.
 *
 * Generations: each successful config read is a generation. On SIGHUP the
 * master reads the config again; if it is good, it forks the new
 * generation's workers and, once they are all ready, tells the old ones
 * to drain (stop accepting, finish their sessions). Listening sockets
 * that both generations use stay open throughout, so no connection is
 * refused during a reload. A bad config leaves the running one in place.
 *
 * Restarts: a worker that dies is replaced, at once if it had lived a
 * while, else after a delay that doubles with each quick death (up to
 * RESTART_DELAY_MAX_MS), so a crash loop does not eat the machine.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/log.h>

#include "core.h"

#define WORKER_SLOTS_MAX	260
#define RESTART_QUICK_MS	10000	/* dying sooner is a quick death */
#define RESTART_DELAY_MIN_MS	250
#define RESTART_DELAY_MAX_MS	30000
#define KILL_GRACE_MS		5000	/* after shutdown_timeout */

struct generation;

struct worker {
	pid_t pid;			/* 0: slot free */
	bool used;			/* its per-IP table needs clearing */
	struct generation *gen;
	unsigned int index;		/* within the generation */
	bool ready;
	uint64_t started_ms;
};

struct generation {
	struct fc_core *core;
	unsigned int nworkers;		/* wanted */
	unsigned int nchildren;		/* workers, then module processes */
	unsigned int alive;
	unsigned int ready;
	unsigned int quick_deaths;	/* in a row */
	bool starting;			/* being waited for */
	bool failed;			/* a worker died before serving */
	uint64_t *restart_at;		/* per index; 0: none pending */
	bool retiring;
	struct generation *next;
};

/* A bound listening socket, shared by the generations that use it. */
struct bound {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int fd;
	struct bound *next;
};

static struct worker workers[WORKER_SLOTS_MAX];
static unsigned int nslots;
static struct generation *generations;	/* newest first */
static struct generation *current;
static struct bound *bound_sockets;
static const char *master_conf_path;
static bool master_foreground;
static bool shutting_down;
static uint64_t shutdown_deadline;
static int alive_pipe[2] = { -1, -1 };	/* EOF tells workers we died */
static int ready_pipe[2] = { -1, -1 };	/* workers write their pid */
static int signal_fd = -1;
static char *pid_file;

static void
master_apply_log(struct fc_core *core)
{
	enum fc_log_target t;

	switch (core->cc.log) {
	case 1:
		t = FC_LOG_TO_STDERR;
		break;
	case 2:
		t = FC_LOG_TO_SYSLOG;
		break;
	default:
		t = master_foreground ? FC_LOG_TO_STDERR : FC_LOG_TO_SYSLOG;
		break;
	}
	fc_log_open("facteurd", t, core->facility,
	    (enum fc_log_level)core->cc.log_level);
}

/* ------------------------------------------------------------------ */
/* Listening sockets */

/* Gives every listener of core a socket: an existing one for the same
 * address, or a new one. */
static int
master_bind(struct fc_core *core)
{
	struct bound *b;
	struct fc_listen *l;
	const char *err;
	size_t i;

	for (i = 0; i < core->nservices; i++) {
		for (l = core->services[i]->sc.listens; l; l = l->next) {
			for (b = bound_sockets; b != NULL; b = b->next)
				if (fc_sockaddr_same(&b->addr, &l->addr))
					break;
			if (b == NULL) {
				if (fc_listen_bind(l, &err) < 0) {
					fc_log(FC_LOG_ERROR, "%s:%u: %s: "
					    "cannot listen on %s: %s",
					    l->file ? l->file : core->conf_file,
					    l->line, core->services[i]->module
					    ->name, l->text, err);
					return -1;
				}
				b = fc_calloc(1, sizeof(*b));
				b->addr = l->addr;
				b->addrlen = l->addrlen;
				b->fd = l->fd;
				b->next = bound_sockets;
				bound_sockets = b;
			}
			l->fd = b->fd;
		}
	}
	return 0;
}

static bool
master_core_uses(const struct fc_core *core, int fd)
{
	const struct fc_listen *l;
	size_t i;

	for (i = 0; i < core->nservices; i++)
		for (l = core->services[i]->sc.listens; l != NULL; l = l->next)
			if (l->fd == fd)
				return true;
	return false;
}

/*
 * Closes the sockets core does not use: in the master once a generation
 * is in place (old workers keep their own copies until they exit), and
 * in a new worker, so that a port dropped by a reload is really freed.
 */
static void
master_close_unused(const struct fc_core *core, bool forget)
{
	struct bound **bp = &bound_sockets, *b;

	while ((b = *bp) != NULL) {
		if (master_core_uses(core, b->fd)) {
			bp = &b->next;
			continue;
		}
		close(b->fd);
		if (!forget) {
			bp = &b->next;
			continue;
		}
		*bp = b->next;
		free(b);
	}
}

/* ------------------------------------------------------------------ */
/* Workers */

static int
master_spawn(struct generation *g, unsigned int index)
{
	unsigned int slot;
	pid_t pid;

	for (slot = 0; slot < nslots; slot++)
		if (workers[slot].pid == 0)
			break;
	if (slot == nslots) {
		fc_log(FC_LOG_ERROR, "master: no free worker slot (too many "
		    "generations still draining)");
		return -1;
	}
	/* a fresh mapping is zero already: clearing it would only make
	 * the master touch, and pay for, every page */
	if (workers[slot].used)
		fc_iptable_clear(slot);
	workers[slot].used = true;
	pid = fork();
	if (pid < 0) {
		fc_log(FC_LOG_ERROR, "master: fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		close(alive_pipe[1]);
		close(ready_pipe[0]);
		close(signal_fd);
		master_close_unused(g->core, false);
		if (index < g->nworkers)
			fc_worker_main(g->core, slot, alive_pipe[0],
			    ready_pipe[1]);
		fc_process_main(g->core, index - g->nworkers, alive_pipe[0],
		    ready_pipe[1]);
	}
	workers[slot].pid = pid;
	workers[slot].gen = g;
	workers[slot].index = index;
	workers[slot].ready = false;
	workers[slot].started_ms = fc_now_ms();
	g->alive++;
	return 0;
}

static void
master_signal_generation(struct generation *g, int sig)
{
	unsigned int i;

	for (i = 0; i < nslots; i++)
		if (workers[i].pid != 0 && workers[i].gen == g)
			kill(workers[i].pid, sig);
}

static void
master_free_generation(struct generation *g)
{
	struct generation **gp;

	for (gp = &generations; *gp != NULL; gp = &(*gp)->next) {
		if (*gp == g) {
			*gp = g->next;
			break;
		}
	}
	fc_core_fini_modules(g->core);
	fc_core_free(&g->core);
	free(g->restart_at);
	free(g);
}

/*
 * An old generation's last worker is gone. A notice, not debug: after a
 * reload it tells the admin (and the tests) that no connection can meet
 * the old configuration any more.
 */
static void
master_retire_generation(struct generation *g)
{
	fc_log(FC_LOG_NOTICE, "master: generation %u retired",
	    g->core->generation);
	master_free_generation(g);
}

/* Workers, then the modules' processes (known after their init). */
static void
master_size_generation(struct generation *g)
{
	g->nworkers = fc_core_worker_count(g->core);
	g->nchildren = g->nworkers + fc_process_count(g->core);
	free(g->restart_at);
	g->restart_at = fc_calloc(g->nchildren, sizeof(*g->restart_at));
}

static struct generation *
master_new_generation(struct fc_core *core)
{
	struct generation *g;

	g = fc_calloc(1, sizeof(*g));
	g->core = core;
	master_size_generation(g);
	g->next = generations;
	generations = g;
	return g;
}

static void
master_worker_died(struct worker *w, int status)
{
	struct generation *g = w->gen;
	uint64_t lived = fc_now_ms() - w->started_ms, delay;
	bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;

	if (WIFSIGNALED(status))
		fc_log(FC_LOG_ERROR, "master: worker %ld killed by signal %d",
		    (long)w->pid, WTERMSIG(status));
	else if (!clean)
		fc_log(FC_LOG_ERROR, "master: worker %ld exited with status %d",
		    (long)w->pid, WEXITSTATUS(status));
	else
		fc_log(FC_LOG_DEBUG, "master: worker %ld exited",
		    (long)w->pid);

	w->pid = 0;
	g->alive--;
	if (w->ready)
		g->ready--;
	else
		g->failed = true;	/* died before serving */

	if (g->starting)
		return;			/* master_wait_ready() decides */
	if (g != current || shutting_down || (clean && g->retiring)) {
		if (g != current && g->alive == 0)
			master_retire_generation(g);
		return;
	}
	/* the current generation lost a worker: replace it */
	if (lived >= RESTART_QUICK_MS) {
		g->quick_deaths = 0;
		delay = 0;
	} else {
		unsigned int shift = g->quick_deaths < 7 ? g->quick_deaths : 7;

		delay = (uint64_t)RESTART_DELAY_MIN_MS << shift;
		if (delay > RESTART_DELAY_MAX_MS)
			delay = RESTART_DELAY_MAX_MS;
		g->quick_deaths++;
	}
	if (delay > 0)
		fc_log(FC_LOG_WARNING, "master: restarting worker in %llums",
		    (unsigned long long)delay);
	g->restart_at[w->index] = fc_now_ms() + delay + 1;
}

static void
master_reap(void)
{
	unsigned int i;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < nslots; i++) {
			if (workers[i].pid == pid) {
				master_worker_died(&workers[i], status);
				break;
			}
		}
	}
}

static void
master_worker_ready(pid_t pid)
{
	unsigned int i;

	for (i = 0; i < nslots; i++) {
		if (workers[i].pid == pid && !workers[i].ready) {
			workers[i].ready = true;
			workers[i].gen->ready++;
		}
	}
}

static void
master_run_restarts(void)
{
	struct generation *g = current;
	uint64_t now = fc_now_ms();
	unsigned int i;

	if (g == NULL || shutting_down)
		return;
	for (i = 0; i < g->nchildren; i++) {
		if (g->restart_at[i] != 0 && g->restart_at[i] <= now) {
			g->restart_at[i] = 0;
			if (master_spawn(g, i) < 0)
				g->restart_at[i] = now + RESTART_DELAY_MAX_MS;
		}
	}
}

/* ------------------------------------------------------------------ */
/* Waiting */

static uint64_t
master_next_timer(void)
{
	uint64_t next = 0;
	unsigned int i;

	if (current != NULL && !shutting_down)
		for (i = 0; i < current->nchildren; i++)
			if (current->restart_at[i] != 0 &&
			    (next == 0 || current->restart_at[i] < next))
				next = current->restart_at[i];
	if (shutting_down && (next == 0 || shutdown_deadline < next))
		next = shutdown_deadline;
	return next;
}

/*
 * Waits for a signal, a worker's ready message or the next timer (at
 * most wait_max_ms when not 0), and handles what is common to every
 * caller: reaping workers and counting ready ones. Returns the signal
 * number for SIGHUP, SIGTERM, SIGINT and SIGQUIT, else 0.
 */
static int
master_wait(uint64_t wait_max_ms)
{
	struct signalfd_siginfo si;
	struct pollfd pfd[2];
	uint64_t next = master_next_timer(), now = fc_now_ms(), ms;
	int32_t pid;
	int sig = 0;

	ms = 3600 * 1000;
	if (next != 0)
		ms = next > now ? next - now : 0;
	if (wait_max_ms != 0 && ms > wait_max_ms)
		ms = wait_max_ms;
	pfd[0].fd = signal_fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = ready_pipe[0];
	pfd[1].events = POLLIN;
	if (poll(pfd, 2, (int)ms) <= 0)
		return 0;
	/* one pid per write, and writes this small are atomic */
	while (read(ready_pipe[0], &pid, sizeof(pid)) == sizeof(pid))
		master_worker_ready((pid_t)pid);
	while (read(signal_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			master_reap();
		else
			sig = (int)si.ssi_signo;
	}
	return sig;
}

/*
 * Waits until every worker of g is ready (0), or one of them died before
 * serving, or 60 s passed (-1). A SIGHUP or SIGTERM meanwhile is kept in
 * *pending for the main loop.
 */
static int
master_wait_ready(struct generation *g, int *pending)
{
	uint64_t deadline = fc_now_ms() + 60 * 1000;
	int sig;

	g->starting = true;
	while (g->ready < g->nchildren && !g->failed) {
		if (fc_now_ms() > deadline) {
			fc_log(FC_LOG_ERROR, "master: workers not ready after "
			    "60s");
			break;
		}
		if ((sig = master_wait(1000)) != 0 && *pending != SIGTERM)
			*pending = sig == SIGHUP ? SIGHUP : SIGTERM;
	}
	g->starting = false;
	return g->ready == g->nchildren && !g->failed ? 0 : -1;
}

/* Stops the workers of a generation that failed to start, for good. */
static void
master_kill_generation(struct generation *g)
{
	uint64_t deadline = fc_now_ms() + KILL_GRACE_MS;
	unsigned int i;
	int status;

	g->starting = true;		/* no restarts, no freeing */
	master_signal_generation(g, SIGTERM);
	while (g->alive > 0 && fc_now_ms() < deadline)
		(void)master_wait(200);
	master_signal_generation(g, SIGKILL);
	/* nothing may point at g once it is freed */
	for (i = 0; i < nslots; i++) {
		if (workers[i].pid == 0 || workers[i].gen != g)
			continue;
		waitpid(workers[i].pid, &status, 0);
		workers[i].pid = 0;
		g->alive--;
	}
}

/* ------------------------------------------------------------------ */
/* Reload and shutdown */

static void
master_reload(int *pending)
{
	struct fc_core *core;
	struct generation *g, *old = current;
	unsigned int i;

	fc_log(FC_LOG_NOTICE, "master: reloading %s", master_conf_path ?
	    master_conf_path : "the embedded default config");
	core = fc_core_load(master_conf_path, old->core->generation + 1);
	if (core == NULL) {
		fc_log(FC_LOG_ERROR, "master: reload failed: keeping the "
		    "running configuration");
		return;
	}
	if (fc_core_init_modules(core) < 0 || master_bind(core) < 0) {
		fc_log(FC_LOG_ERROR, "master: reload failed: keeping the "
		    "running configuration");
		fc_core_fini_modules(core);
		fc_core_free(&core);
		master_close_unused(old->core, true);
		return;
	}
	master_apply_log(core);
	g = master_new_generation(core);
	for (i = 0; i < g->nchildren; i++)
		if (master_spawn(g, i) < 0)
			break;
	if (i < g->nchildren || master_wait_ready(g, pending) < 0) {
		fc_log(FC_LOG_ERROR, "master: reload failed: new workers did "
		    "not start; keeping the running configuration");
		master_kill_generation(g);
		master_free_generation(g);
		master_apply_log(old->core);
		master_close_unused(old->core, true);
		return;
	}
	current = g;
	old->retiring = true;
	master_signal_generation(old, SIGUSR1);
	master_close_unused(core, true);
	if (old->alive == 0)
		master_retire_generation(old);
	fc_log(FC_LOG_NOTICE, "master: reloaded (generation %u, %u workers)",
	    core->generation, g->nworkers);
}

static void
master_begin_shutdown(void)
{
	struct generation *g;

	if (shutting_down)
		return;
	shutting_down = true;
	fc_log(FC_LOG_NOTICE, "master: stopping");
	shutdown_deadline = fc_now_ms() + current->core->cc.shutdown_timeout
	    + KILL_GRACE_MS;
	for (g = generations; g != NULL; g = g->next)
		master_signal_generation(g, SIGTERM);
}

static unsigned int
master_alive(void)
{
	unsigned int i, n = 0;

	for (i = 0; i < nslots; i++)
		if (workers[i].pid != 0)
			n++;
	return n;
}

/* ------------------------------------------------------------------ */
/* Start-up helpers */

static void
master_raise_nofile(struct fc_core *core)
{
	struct rlimit rl;
	/* one worker may end up holding every connection, plus a few
	 * files of its own (spool files, logs, module files) */
	rlim_t want = (rlim_t)core->cc.max_connections + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ?
	    want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < want)
		fc_log(FC_LOG_WARNING, "master: open files limited to %llu; "
		    "max_connections %u needs about %llu",
		    (unsigned long long)rl.rlim_cur, core->cc.max_connections,
		    (unsigned long long)want);
}

static int
master_write_pid_file(const char *path)
{
	char tmp[4096], buf[32];
	FILE *f;
	long old;
	int n;

	f = fopen(path, "r");
	if (f != NULL) {
		if (fscanf(f, "%ld", &old) == 1 && old > 0 && old != getpid()
		    && kill((pid_t)old, 0) == 0) {
			char comm[64] = "";
			FILE *c;

			snprintf(tmp, sizeof(tmp), "/proc/%ld/comm", old);
			if ((c = fopen(tmp, "r")) != NULL) {
				if (fgets(comm, sizeof(comm), c) == NULL)
					comm[0] = '\0';
				fclose(c);
			}
			if (strncmp(comm, "facteurd", 8) == 0) {
				fclose(f);
				fc_log(FC_LOG_ERROR, "master: facteurd is "
				    "already running (pid %ld in %s)", old,
				    path);
				return -1;
			}
		}
		fclose(f);
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	f = fopen(tmp, "w");
	if (f == NULL || fwrite(buf, 1, (size_t)n, f) != (size_t)n
	    || fclose(f) != 0 || rename(tmp, path) < 0) {
		fc_log(FC_LOG_ERROR, "master: cannot write pid_file %s: %s",
		    path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Forks into the background; the parent exits with the status the
 * daemon reports through report_fd once it is serving (or failed). */
static int
master_daemonize(int *report_fd_r)
{
	int p[2], fd;
	pid_t pid;
	char status;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &status, 1) != 1)
			status = 1;
		_exit(status);
	}
	close(p[0]);
	setsid();
	if (chdir("/") < 0)
		return -1;
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		close(fd);
	}
	*report_fd_r = p[1];
	return 0;
}

static void
master_report(int *fd, char status)
{
	if (*fd < 0)
		return;
	if (write(*fd, &status, 1) != 1) {
		/* the parent is gone; nothing to tell */
	}
	close(*fd);
	*fd = -1;
}

static unsigned int
master_iptable_slots(struct fc_core *core, unsigned int nworkers)
{
	return core->cc.max_connections * 2 / nworkers;
}

/* Creates the pipes and the signalfd the master waits on. */
static int
master_channels(void)
{
	static const int sigs[] = { SIGCHLD, SIGHUP, SIGTERM, SIGINT, SIGQUIT };
	sigset_t set;
	size_t i;

	sigemptyset(&set);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&set, sigs[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (signal_fd < 0)
		return -1;
	if (pipe2(alive_pipe, O_CLOEXEC) < 0
	    || pipe2(ready_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	/* the workers' end: a read that may find nothing */
	fcntl(alive_pipe[0], F_SETFL, O_NONBLOCK);
	return 0;
}

static int
master_fail(int *report_fd, const char *what)
{
	struct generation *g;

	if (what != NULL)
		fc_log(FC_LOG_ERROR, "master: %s: %s", what, strerror(errno));
	while ((g = generations) != NULL)
		master_free_generation(g);
	if (pid_file != NULL) {
		unlink(pid_file);
		free(pid_file);
		pid_file = NULL;
	}
	master_report(report_fd, 1);
	return 1;
}

int
fc_master_run(const char *conf_path, bool foreground)
{
	struct fc_core *core;
	struct generation *g;
	const char *err;
	int report_fd = -1, pending = 0, sig;
	unsigned int i;

	master_conf_path = conf_path;
	master_foreground = foreground;

	/* config, modules and sockets, as root if we are */
	core = fc_core_load(conf_path, 1);
	if (core == NULL)
		return 1;
	if (fc_privs_lookup(core->cc.user, &err) < 0) {
		fc_log(FC_LOG_ERROR, "%s: user %s: %s", core->conf_file,
		    core->cc.user, err);
		fc_core_free(&core);
		return 1;
	}
	if (fc_privs_state_dir(core->cc.state_dir, core->cc.user, &err) < 0) {
		fc_log(FC_LOG_ERROR, "%s: state_dir %s", core->conf_file, err);
		fc_core_free(&core);
		return 1;
	}
	/* from here on, master_fail() cleans up the generation; its
	 * size is known once the modules have registered their processes */
	g = master_new_generation(core);
	if (fc_core_init_modules(core) < 0 || master_bind(core) < 0)
		return master_fail(&report_fd, NULL);
	master_size_generation(g);
	master_raise_nofile(core);
	signal(SIGPIPE, SIG_IGN);
	if (!foreground && master_daemonize(&report_fd) < 0)
		return master_fail(&report_fd, "cannot go to the background");
	master_apply_log(core);
	if (master_channels() < 0)
		return master_fail(&report_fd, "cannot set up signals");

	nslots = g->nchildren * 4 + 4;
	if (nslots > WORKER_SLOTS_MAX)
		nslots = WORKER_SLOTS_MAX;
	if (fc_iptable_create(nslots,
	    master_iptable_slots(core, g->nworkers)) < 0)
		return master_fail(&report_fd, "cannot map the per-IP table");
	if (strcmp(core->cc.pid_file, "none") != 0 && core->cc.pid_file[0]) {
		/* relative to the config file: the daemon runs in / */
		pid_file = fc_strdup(core->cc.pid_file[0] == '/' ?
		    core->cc.pid_file : fc_arena_printf(core->arena, "%s/%s",
		    core->conf_dir, core->cc.pid_file));
		if (master_write_pid_file(pid_file) < 0) {
			/* not ours to remove */
			free(pid_file);
			pid_file = NULL;
			return master_fail(&report_fd, NULL);
		}
	}

	/* the workers drop privileges themselves (worker.c) */
	for (i = 0; i < g->nchildren; i++)
		if (master_spawn(g, i) < 0)
			break;
	if (i < g->nchildren || master_wait_ready(g, &pending) < 0) {
		fc_log(FC_LOG_ERROR, "master: workers failed to start");
		master_kill_generation(g);
		return master_fail(&report_fd, NULL);
	}
	current = g;
	fc_log(FC_LOG_NOTICE, "master: facteurd %s started, %u worker%s, "
	    "generation %u", FC_VERSION, g->nworkers,
	    g->nworkers == 1 ? "" : "s", core->generation);
	master_report(&report_fd, 0);

	for (;;) {
		sig = pending != 0 ? pending : master_wait(0);
		pending = 0;
		if (sig == SIGHUP && !shutting_down)
			master_reload(&pending);
		else if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT)
			master_begin_shutdown();
		master_run_restarts();
		if (!shutting_down)
			continue;
		if (master_alive() == 0)
			break;
		if (fc_now_ms() >= shutdown_deadline) {
			fc_log(FC_LOG_WARNING, "master: workers did not stop in "
			    "time: killing them");
			for (g = generations; g != NULL; g = g->next)
				master_signal_generation(g, SIGKILL);
			shutdown_deadline = fc_now_ms() + 1000;
		}
	}

	while ((g = generations) != NULL)
		master_free_generation(g);
	if (pid_file != NULL)
		unlink(pid_file);
	fc_log(FC_LOG_NOTICE, "master: stopped");
	return 0;
}
