/*
 * core.h - declarations shared by the core's own files; never installed.
 *
 * A configuration generation (struct fc_core) is everything read from one
 * version of the config file: the settings, the loaded modules' confs,
 * the protocol services with their listeners and TLS contexts, and the
 * registered auth back ends. The master builds a new one on SIGHUP;
 * workers keep the one they were forked with until they exit.
 */
#ifndef FACTEUR_CORE_CORE_H
#define FACTEUR_CORE_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include <facteur/auth.h>
#include <facteur/conf.h>
#include <facteur/hook.h>
#include <facteur/log.h>
#include <facteur/module.h>
#include <facteur/session.h>

struct fc_arena;
struct fc_conf_node;

/* log.c */
enum fc_log_target {
	FC_LOG_TO_STDERR = 0,
	FC_LOG_TO_SYSLOG,
};
void fc_log_open(const char *ident, enum fc_log_target target, int facility,
    enum fc_log_level level);

/* loader.c: modules stay loaded for the life of the process */
struct fc_loaded {
	const struct fc_module *mod;
	char *name;
	char *path;			/* the file actually loaded */
	void *handle;			/* lt_dlhandle */
	struct fc_loaded *next;
};
int fc_loader_init(void);
struct fc_loaded *fc_loader_load(const char *name, char *const *dirs,
    const char **error_r);
const char *fc_loader_kind_name(enum fc_module_kind kind);

/* Settings every protocol block has; top-level values are inherited. */
enum fc_plaintext_auth {
	FC_PLAINTEXT_NO = 0,		/* passwords only over TLS */
	FC_PLAINTEXT_LOOPBACK,		/* TLS, or a loopback peer */
	FC_PLAINTEXT_YES,		/* anywhere (insecure) */
};

struct fc_listen {
	char *text;			/* as written, for messages */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	bool tls;			/* implicit TLS */
	const char *kind;		/* listener kind, or NULL */
	int fd;				/* bound by the master */
	struct fc_service *svc;
	const char *file;
	unsigned int line;
	struct fc_listen *next;
};

struct fc_service_conf {
	unsigned int max_connections_per_ip;
	uint64_t idle_timeout;
	uint64_t max_line_length;
	uint64_t max_input_buffer;
	unsigned int max_errors;
	unsigned int plaintext_auth;	/* enum fc_plaintext_auth */
	char *tls_certificate;
	char *tls_key;
	unsigned int tls_min_version;	/* index into tls_versions */
	char *tls_ciphers;
	char *tls_ciphersuites;
	struct fc_listen *listens;	/* blocks only */
};

/* A protocol module's block: its settings, listeners and TLS context. */
struct fc_service {
	struct fc_core *core;
	struct fc_loaded *module;
	const struct fc_protocol_ops *ops;
	void *conf;			/* the module's own */
	struct fc_service_conf sc;
	SSL_CTX *tls;			/* NULL without a certificate */
	unsigned int index;
};

struct fc_storage_backend;
struct fc_hook_entry;
struct fc_hook_run;
struct fc_process;

/* A module's admin command (command.h), found by facteurctl. */
struct fc_command {
	const char *name;
	const char *usage;
	int (*fn)(struct fc_core *core, void *arg, int argc, char **argv);
	void *arg;
	struct fc_command *next;
};

struct fc_auth_backend {
	const char *name;
	const struct fc_auth_backend_ops *ops;
	void *ctx;
	struct fc_auth_backend *next;
};

struct fc_core_conf {
	char *user;
	unsigned int workers;		/* 0: one per core */
	char *pid_file;			/* "" or "none": no pid file */
	char **module_path;
	char **load;
	unsigned int log;		/* auto, stderr, syslog */
	unsigned int log_level;		/* enum fc_log_level */
	unsigned int log_facility;	/* index into log facilities */
	char *state_dir;
	char *hostname;
	char **auth;
	char *storage;
	char **dns_servers;
	uint64_t auth_failure_delay;
	unsigned int auth_max_failures;
	uint64_t auth_failure_window;
	uint64_t shutdown_timeout;
	uint64_t reload_drain_timeout;
	unsigned int max_connections;
	struct fc_service_conf service;	/* defaults for protocol blocks */
};

/* One loaded module in one generation. */
struct fc_core_module {
	struct fc_loaded *loaded;
	void *conf;
	struct fc_service *svc;		/* protocol modules */
	bool initialised;
};

struct fc_core {
	struct fc_arena *arena;
	unsigned int generation;
	const char *conf_file;		/* for messages */
	const char *conf_dir;
	struct fc_core_conf cc;
	struct fc_core_module *modules;
	size_t nmodules;
	struct fc_service **services;
	size_t nservices;
	struct fc_auth_backend *backends;
	struct fc_storage_backend *storages;
	struct fc_hook_entry *hooks[FC_HOOK__COUNT];
	struct fc_process *processes;
	struct fc_command *commands;
	int facility;			/* syslog facility value */
	char *hostname;			/* resolved */
};

/* conf.c */
extern const struct fc_directive fc_core_directives[];
extern const struct fc_directive fc_service_directives[];
/*
 * Reads a config (path, or the embedded default when path is NULL),
 * loads the modules it names and applies every directive. Returns NULL
 * after reporting each error through fc_log (file:line: message).
 */
struct fc_core *fc_core_load(const char *path, unsigned int generation);
struct fc_core *fc_core_load_text(const char *text, unsigned int generation);
void fc_core_free(struct fc_core **core);
int fc_core_init_modules(struct fc_core *core);
int fc_core_worker_init_modules(struct fc_core *core);
void fc_core_fini_modules(struct fc_core *core);
unsigned int fc_core_worker_count(const struct fc_core *core);
extern const char fc_default_config[];
/* writes the directive reference: "markdown" or "conf" */
void fc_conf_print_reference(struct fc_core *core, const char *format);

/* listener.c */
const char *fc_listen_parse(struct fc_arena *a, const char *text,
    struct sockaddr_storage *ss, socklen_t *len_r);
int fc_listen_bind(struct fc_listen *l, const char **error_r);
const char *fc_sockaddr_ip(const struct sockaddr *sa, char *buf,
    size_t size);
unsigned int fc_sockaddr_port(const struct sockaddr *sa);
bool fc_sockaddr_same(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b);

/* tls.c */
int fc_tls_setup(struct fc_service *svc, const char **error_r);
extern const char *const fc_tls_versions[];

/* iptable.c: per-IP counters shared by the workers (see iptable.c) */
int fc_iptable_create(unsigned int max_workers, unsigned int slots);
void fc_iptable_attach(unsigned int worker_slot);
void fc_iptable_clear(unsigned int worker_slot);
uint64_t fc_iptable_key(const struct sockaddr *sa, const char *name);
unsigned int fc_iptable_connections(uint64_t key);
bool fc_iptable_connect(uint64_t key);
void fc_iptable_disconnect(uint64_t key);
void fc_iptable_open(void);
void fc_iptable_close(void);
unsigned int fc_iptable_total(void);
unsigned int fc_iptable_events(uint64_t key, uint64_t now_ms,
    uint64_t window_ms);
void fc_iptable_event(uint64_t key, uint64_t now_ms, uint64_t window_ms);

/* worker.c */
struct event_base;
void fc_worker_main(struct fc_core *core, unsigned int slot, int master_fd,
    int ready_fd) __attribute__((noreturn));
struct event_base *fc_worker_base(void);
void fc_worker_use_base(struct event_base *base);
bool fc_worker_stopping(void);
void fc_worker_session_closed(void);

/* session.c */
struct bufferevent;
void fc_session_accept(struct fc_service *svc, struct fc_listen *l, int fd,
    const struct sockaddr *peer, socklen_t peerlen);
const char *fc_session_module_name(struct fc_session *s);
void fc_session_set_user(struct fc_session *s, const struct fc_user *u);
bool fc_session_plaintext_ok(struct fc_session *s);
struct fc_hook_run *fc_session_hook_run(struct fc_session *s);

/* hook.c */
size_t fc_hook_run_size(void);
void fc_sessions_stop(void);
void fc_sessions_close_all(void);
unsigned int fc_sessions_count(void);
uint64_t fc_now_ms(void);

/* dns.c */
void fc_dns_configure(char *const *servers);

/* process.c */
unsigned int fc_process_count(const struct fc_core *core);
void fc_process_main(struct fc_core *core, unsigned int index,
    int master_fd, int ready_fd) __attribute__((noreturn));

/* master.c */
int fc_master_run(const char *conf_path, bool foreground);

/* privs.c */
int fc_privs_drop(const char *user, const char **error_r);
int fc_privs_lookup(const char *user, const char **error_r);
int fc_privs_state_dir(const char *dir, const char *user,
    const char **error_r);

/* base64.c */
size_t fc_base64_encoded_len(size_t n);
void fc_base64_encode(const void *in, size_t n, char *out);
/* -1 on bad input; out needs (n / 4) * 3 bytes */
int fc_base64_decode(const char *in, size_t n, unsigned char *out,
    size_t *outlen_r);

#endif
