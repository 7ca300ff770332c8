/*
 * listener.c - listen addresses: parsing and binding.
 *
 * Accepted forms, numeric only (no DNS at start-up):
 *	143		all IPv4 addresses
 *	*:143		the same
 *	127.0.0.1:143
 *	[::]:143	all IPv6 addresses (IPv6 only: add 143 for IPv4)
 *	[::1]:143
 * Ports run from 1 to 65535.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <facteur/arena.h>

#include "core.h"

#define LISTEN_BACKLOG	1024

static const char *
listen_port(const char *s, in_port_t *port_r)
{
	unsigned long long v;

	if (fc_conf_parse_uint(s, 65535, &v) != NULL || v == 0)
		return "port must be a number from 1 to 65535";
	*port_r = htons((in_port_t)v);
	return NULL;
}

const char *
fc_listen_parse(struct fc_arena *a, const char *text,
    struct sockaddr_storage *ss, socklen_t *len_r)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	const char *colon, *err;
	char host[64];
	in_port_t port;

	memset(ss, 0, sizeof(*ss));
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (close == NULL || close[1] != ':')
			return "expected [IPv6]:PORT";
		if ((size_t)(close - text - 1) >= sizeof(host))
			return "address too long";
		memcpy(host, text + 1, (size_t)(close - text - 1));
		host[close - text - 1] = '\0';
		if ((err = listen_port(close + 2, &port)) != NULL)
			return err;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = port;
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return fc_arena_printf(a, "%s is not an IPv6 address "
			    "(host names are not accepted)", host);
		*len_r = sizeof(*sin6);
		return NULL;
	}

	colon = strrchr(text, ':');
	sin->sin_family = AF_INET;
	*len_r = sizeof(*sin);
	if (colon == NULL) {
		if (strchr(text, '.') != NULL)
			return "expected ADDRESS:PORT or a port alone";
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		return listen_port(text, &sin->sin_port);
	}
	if (strchr(text, ':') != colon)
		return "write IPv6 addresses in brackets: [::1]:143";
	if ((err = listen_port(colon + 1, &port)) != NULL)
		return err;
	sin->sin_port = port;
	if ((size_t)(colon - text) >= sizeof(host))
		return "address too long";
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = '\0';
	if (strcmp(host, "*") == 0) {
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		return NULL;
	}
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return fc_arena_printf(a, "%s is not an IPv4 address (host "
		    "names are not accepted)", host);
	return NULL;
}

int
fc_listen_bind(struct fc_listen *l, const char **error_r)
{
	int fd, on = 1;

	fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (l->addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&l->addr, l->addrlen) < 0
	    || listen(fd, LISTEN_BACKLOG) < 0) {
		*error_r = strerror(errno);
		close(fd);
		return -1;
	}
	l->fd = fd;
	return 0;
}

const char *
fc_sockaddr_ip(const struct sockaddr *sa, char *buf, size_t size)
{
	const void *addr;

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		/* an IPv4 client on a dual-stack socket: show it as IPv4 */
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			if (inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], buf,
			    (socklen_t)size) == NULL)
				snprintf(buf, size, "?");
			return buf;
		}
		addr = &s6->sin6_addr;
	} else if (sa->sa_family == AF_INET)
		addr = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else {
		snprintf(buf, size, "local");
		return buf;
	}
	if (inet_ntop(sa->sa_family, addr, buf, (socklen_t)size) == NULL)
		snprintf(buf, size, "?");
	return buf;
}

unsigned int
fc_sockaddr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)sa)
		    ->sin6_port);
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)sa)
		    ->sin_port);
	return 0;
}

bool
fc_sockaddr_same(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a;
		const struct sockaddr_in *y = (const void *)b;

		return x->sin_port == y->sin_port
		    && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a;
		const struct sockaddr_in6 *y = (const void *)b;

		return x->sin6_port == y->sin6_port
		    && memcmp(&x->sin6_addr, &y->sin6_addr,
		    sizeof(x->sin6_addr)) == 0;
	}
	return false;
}
