/*
 * smtp_policy.c - who may send what to whom.
 *
 * A recipient in a local domain must exist: it is expanded through the
 * aliases, and each local target must be a user of the auth back ends
 * (550 5.1.1 otherwise). A recipient elsewhere is relayed only for an
 * authenticated client or one from trusted_networks; anything else is
 * refused (554 5.7.1), so the server is never an open relay, whatever the
 * rest of the configuration says. LMTP takes local recipients only.
 *
 * A local user whose mailbox is full already is told 452 4.2.2 at RCPT,
 * as Dovecot's lmtp_rcpt_check_quota does: the client keeps the message
 * rather than sending it all to hear 452 at its end. Whether a message
 * of some size fits is left to delivery: the SIZE a client announces is
 * only an estimate, and a partial refusal over SMTP is better done by
 * queueing (smtp_data.c).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <facteur/arena.h>
#include <facteur/auth.h>
#include <facteur/conf.h>
#include <facteur/log.h>
#include <facteur/session.h>
#include <facteur/storage.h>

#include "smtp.h"

static int
policy_parse_net(const char *text, struct smtp_net *net)
{
	char buf[128], *slash;
	unsigned long long bits;
	unsigned int max;

	snprintf(buf, sizeof(buf), "%s", text);
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash++ = '\0';
	memset(net, 0, sizeof(*net));
	if (inet_pton(AF_INET, buf, net->addr) == 1) {
		net->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, net->addr) == 1) {
		net->family = AF_INET6;
		max = 128;
	} else
		return -1;
	if (slash == NULL)
		bits = max;
	else if (fc_conf_parse_uint(slash, max, &bits) != NULL)
		return -1;
	net->bits = (unsigned int)bits;
	return 0;
}

int
smtp_policy_init(struct smtp_conf *conf, const char **error_r)
{
	static char message[512];
	size_t n = 0, i;

	while (conf->trusted_networks[n] != NULL)
		n++;
	conf->nets = fc_calloc(n + 1, sizeof(*conf->nets));
	for (i = 0; i < n; i++) {
		if (policy_parse_net(conf->trusted_networks[i],
		    &conf->nets[i]) < 0) {
			snprintf(message, sizeof(message), "trusted_networks: "
			    "%s is not an address or ADDRESS/BITS",
			    conf->trusted_networks[i]);
			*error_r = message;
			free(conf->nets);
			conf->nets = NULL;
			return -1;
		}
	}
	conf->nnets = n;
	if (conf->aliases != NULL) {
		conf->alias_map = smtp_alias_open(conf->aliases, error_r);
		if (conf->alias_map == NULL) {
			free(conf->nets);
			conf->nets = NULL;
			return -1;
		}
	}
	return 0;
}

void
smtp_policy_fini(struct smtp_conf *conf)
{
	free(conf->nets);
	conf->nets = NULL;
	smtp_alias_close(&conf->alias_map);
}

static bool
policy_net_match(const struct smtp_net *net, const unsigned char *addr,
    int family)
{
	unsigned int full = net->bits / 8, rest = net->bits % 8;

	if (net->family != family)
		return false;
	if (memcmp(net->addr, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((net->addr[full] ^ addr[full]) &
	    (unsigned char)(0xff << (8 - rest))) == 0;
}

bool
smtp_peer_trusted(const struct smtp_conf *conf, struct fc_session *s)
{
	const struct sockaddr *sa = fc_session_peer_addr(s, NULL);
	const unsigned char *addr;
	int family = sa->sa_family;
	size_t i;

	if (family == AF_INET)
		addr = (const void *)&((const struct sockaddr_in *)
		    (const void *)sa)->sin_addr;
	else if (family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		addr = s6->sin6_addr.s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			addr += 12;
			family = AF_INET;
		}
	} else
		return false;
	for (i = 0; i < conf->nnets; i++)
		if (policy_net_match(&conf->nets[i], addr, family))
			return true;
	return false;
}

bool
smtp_domain_is_local(const struct smtp_conf *conf, const char *domain)
{
	size_t i, n;

	if (domain == NULL)
		return false;
	n = strlen(domain);
	if (n > 0 && domain[n - 1] == '.')
		n--;		/* a trailing root dot names the same domain */
	for (i = 0; conf->local_domains[i] != NULL; i++)
		if (strlen(conf->local_domains[i]) == n
		    && strncasecmp(conf->local_domains[i], domain, n) == 0)
			return true;
	return false;
}

static const char *
policy_domain(const char *address)
{
	const char *at = strrchr(address, '@');

	return at != NULL ? at + 1 : NULL;
}

/*
 * Whether the user's mail is at its quota already. Quota limits come
 * with the user (auth.h), so a user without one costs nothing; for the
 * others the store is opened and asked, which for maildir is reading
 * maildirsize. A store that cannot tell is taken as having room:
 * delivery will know.
 */
static bool
policy_mailbox_full(struct fc_core *core, const struct fc_user *u)
{
	uint64_t bytes, bytes_limit, msgs, msgs_limit;
	struct fc_store *st;
	const char *err;
	bool full = false;

	if (fc_user_quota_bytes(u) == 0 && fc_user_quota_messages(u) == 0)
		return false;
	if (fc_store_open(core, u, &st, &err) < 0)
		return false;
	if (fc_store_quota(st, &bytes, &bytes_limit, &msgs, &msgs_limit) == 0)
		full = (bytes_limit != 0 && bytes >= bytes_limit)
		    || (msgs_limit != 0 && msgs >= msgs_limit);
	fc_store_close(&st);
	return full;
}

int
smtp_policy_rcpt(struct smtp_session *ss, const struct smtp_path *p,
    struct fc_arena *a, char ***targets_r, char ***users_r, size_t *n_r,
    const char **reply_r)
{
	const struct smtp_conf *conf = ss->conf;
	struct fc_core *core = fc_session_core(ss->s);
	const char *address = p->address, *err;
	char **targets, **users;
	size_t n, i, full = 0;
	int r;

	/* <postmaster> is the postmaster of our first local domain */
	if (p->domain == NULL)
		address = fc_arena_printf(a, "postmaster@%s",
		    conf->local_domains[0] != NULL ? conf->local_domains[0] :
		    fc_session_hostname(ss->s));

	if (!smtp_domain_is_local(conf, policy_domain(address))) {
		if (ss->kind == SMTP_KIND_LMTP) {
			*reply_r = "550 5.1.1 Not a local address";
			return -1;
		}
		if (fc_session_user(ss->s) == NULL && !ss->trusted) {
			*reply_r = "554 5.7.1 Relay access denied";
			return -1;
		}
		/* relayed: through the outbound queue, no local user */
		targets = fc_arena_alloc(a, sizeof(char *));
		users = fc_arena_alloc(a, sizeof(char *));
		targets[0] = fc_arena_strdup(a, address);
		users[0] = NULL;
		*targets_r = targets;
		*users_r = users;
		*n_r = 1;
		return 0;
	}

	if (smtp_alias_expand(conf->alias_map, a, address, &targets, &n) == 0) {
		targets = fc_arena_alloc(a, sizeof(char *));
		targets[0] = fc_arena_strdup(a, address);
		n = 1;
	}
	users = fc_arena_alloc(a, n * sizeof(char *));
	for (i = 0; i < n; i++) {
		struct fc_user *u;

		if (!smtp_domain_is_local(conf, policy_domain(targets[i]))) {
			/* an alias that forwards away: relayed like any
			 * outgoing mail, whoever sent it (not over LMTP,
			 * which only delivers here) */
			if (ss->kind == SMTP_KIND_LMTP) {
				*reply_r = "550 5.1.1 Not a local address";
				return -1;
			}
			users[i] = NULL;
			continue;
		}
		r = fc_auth_lookup(core, targets[i], a, &u, &err);
		if (r < 0) {
			*reply_r = "451 4.3.0 Cannot look up the recipient "
			    "now, try again later";
			return -1;
		}
		if (r == 0) {
			*reply_r = "550 5.1.1 User unknown";
			return -1;
		}
		users[i] = fc_arena_strdup(a, fc_user_name(u));
		if (policy_mailbox_full(core, u))
			full++;
	}
	/*
	 * Over SMTP one full mailbox of an alias's several does not hold
	 * the others up: the message is taken, and queued for that one.
	 * LMTP has one reply for the whole alias, and a full mailbox makes
	 * it 452 after the message anyway, so it is said now.
	 */
	if (full > 0 && (full == n || ss->kind == SMTP_KIND_LMTP)) {
		*reply_r = "452 4.2.2 Mailbox full, try again later";
		return -1;
	}
	*targets_r = targets;
	*users_r = users;
	*n_r = n;
	return 0;
}

/* The user an address of a local domain belongs to, or NULL. */
char *
smtp_local_user(const struct smtp_conf *conf, struct fc_core *core,
    struct fc_arena *a, const char *address)
{
	struct fc_user *u;
	const char *err;

	if (!smtp_domain_is_local(conf, policy_domain(address)))
		return NULL;
	if (fc_auth_lookup(core, address, a, &u, &err) != 1)
		return NULL;
	return fc_arena_strdup(a, fc_user_name(u));
}
