/*
 * dns.c - asynchronous DNS over UDP (include/facteur/dns.h).
 *
 * Packets are built and read with the resolver library's own functions
 * (res_mkquery, ns_initparse, dn_expand), not by hand. The I/O is ours:
 * one UDP socket per query, on a random port with a random ID, answers
 * only accepted from the server asked. Servers are tried in turn, each
 * given a slice of the timeout. A truncated answer is used for what it
 * holds; lookups here (MX, TXT of block lists, A) fit in one datagram.
 */
#include "config.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include <facteur/arena.h>
#include <facteur/dns.h>
#include <facteur/log.h>

#include "core.h"

#define DNS_MAX_SERVERS		4
#define DNS_TRY_MS		1500	/* one server's share of a try */
#define DNS_PACKET_MAX		4096

struct fc_dns_query {
	unsigned char packet[NS_PACKETSZ];
	int len;
	uint16_t id;
	int fd;
	struct event *ev;
	size_t server;
	uint64_t deadline;
	enum fc_dns_type type;
	fc_dns_fn *fn;
	void *arg;
};

static struct sockaddr_storage dns_servers[DNS_MAX_SERVERS];
static socklen_t dns_server_len[DNS_MAX_SERVERS];
static size_t dns_nservers;

/* "1.2.3.4", "1.2.3.4:5353", "::1" or "[::1]:5353" */
static int
dns_add_server(const char *text)
{
	struct sockaddr_storage ss;
	struct fc_arena *a;
	const char *colon = strchr(text, ':'), *err;
	char host[160];
	socklen_t len;

	if (dns_nservers == DNS_MAX_SERVERS || strlen(text) > 128)
		return -1;
	if (text[0] == '[')
		snprintf(host, sizeof(host), strstr(text, "]:") != NULL ?
		    "%s" : "%s:53", text);
	else if (colon != NULL && strchr(colon + 1, ':') != NULL)
		snprintf(host, sizeof(host), "[%s]:53", text);
	else if (colon != NULL)
		snprintf(host, sizeof(host), "%s", text);
	else
		snprintf(host, sizeof(host), "%s:53", text);
	a = fc_arena_new("dns", 256);
	err = fc_listen_parse(a, host, &ss, &len);
	fc_arena_free(&a);
	if (err != NULL)
		return -1;
	dns_servers[dns_nservers] = ss;
	dns_server_len[dns_nservers++] = len;
	return 0;
}

/* From the dns_servers directive, else /etc/resolv.conf, else the
 * local host. Called when a worker or module process starts. */
void
fc_dns_configure(char *const *servers)
{
	char line[256], addr[128];
	FILE *f;
	size_t i;

	dns_nservers = 0;
	for (i = 0; servers != NULL && servers[i] != NULL; i++)
		if (dns_add_server(servers[i]) < 0)
			fc_log(FC_LOG_WARNING, "dns_servers: %s is not an "
			    "address", servers[i]);
	if (dns_nservers > 0)
		return;
	if ((f = fopen("/etc/resolv.conf", "re")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, "nameserver %127s", addr) == 1)
				dns_add_server(addr);
		fclose(f);
	}
	if (dns_nservers == 0)
		dns_add_server("127.0.0.1");
}

static void dns_cb(evutil_socket_t fd, short what, void *arg);

/* Sends the query to the current server, on a new socket. */
static int
dns_send(struct fc_dns_query *q)
{
	struct timeval tv = { DNS_TRY_MS / 1000, (DNS_TRY_MS % 1000) * 1000 };
	const struct sockaddr *sa;

	if (q->ev != NULL)
		event_free(q->ev);
	q->ev = NULL;
	if (q->fd >= 0)
		close(q->fd);
	sa = (const struct sockaddr *)&dns_servers[q->server];
	q->fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (q->fd < 0)
		return -1;
	if (connect(q->fd, sa, dns_server_len[q->server]) < 0
	    || send(q->fd, q->packet, (size_t)q->len, 0) != q->len)
		return -1;
	q->ev = event_new(fc_worker_base(), q->fd, EV_READ | EV_PERSIST,
	    dns_cb, q);
	return q->ev != NULL && event_add(q->ev, &tv) == 0 ? 0 : -1;
}

static void
dns_finish(struct fc_dns_query *q, enum fc_dns_status st,
    const struct fc_dns_answer *answers)
{
	fc_dns_fn *fn = q->fn;
	void *arg = q->arg;

	fc_dns_cancel(&q);
	fn(arg, st, answers);
}

/* The next server, or the end when the time is up. */
static void
dns_next(struct fc_dns_query *q)
{
	if (fc_now_ms() >= q->deadline) {
		dns_finish(q, FC_DNS_TEMPFAIL, NULL);
		return;
	}
	q->server = (q->server + 1) % dns_nservers;
	if (dns_send(q) < 0)
		dns_finish(q, FC_DNS_TEMPFAIL, NULL);
}

static struct fc_dns_answer *
dns_parse(struct fc_arena *a, const unsigned char *buf, int len,
    enum fc_dns_type want)
{
	struct fc_dns_answer *head = NULL, **tail = &head;
	ns_msg msg;
	ns_rr rr;
	int i, n;

	if (ns_initparse(buf, len, &msg) < 0)
		return NULL;
	n = ns_msg_count(msg, ns_s_an);
	for (i = 0; i < n; i++) {
		const unsigned char *rd;
		struct fc_dns_answer *ans;
		char name[NS_MAXDNAME];
		int rdlen;

		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
			break;
		if ((enum fc_dns_type)ns_rr_type(rr) != want)
			continue;	/* CNAMEs on the way */
		rd = ns_rr_rdata(rr);
		rdlen = ns_rr_rdlen(rr);
		ans = fc_arena_alloc(a, sizeof(*ans));
		ans->type = want;
		ans->ttl = ns_rr_ttl(rr);
		switch (want) {
		case FC_DNS_A:
		case FC_DNS_AAAA:
			if (rdlen != (want == FC_DNS_A ? 4 : 16)
			    || inet_ntop(want == FC_DNS_A ? AF_INET :
			    AF_INET6, rd, name, sizeof(name)) == NULL)
				continue;
			ans->text = fc_arena_strdup(a, name);
			break;
		case FC_DNS_MX:
			if (rdlen < 3 || dn_expand(ns_msg_base(msg),
			    ns_msg_end(msg), rd + 2, name, sizeof(name)) < 0)
				continue;
			ans->preference = (uint16_t)ns_get16(rd);
			ans->text = fc_arena_strdup(a, name);
			break;
		case FC_DNS_PTR:
			if (dn_expand(ns_msg_base(msg), ns_msg_end(msg), rd,
			    name, sizeof(name)) < 0)
				continue;
			ans->text = fc_arena_strdup(a, name);
			break;
		case FC_DNS_TXT: {
			/* character-strings: a length byte, then the bytes */
			char *out = fc_arena_alloc(a, (size_t)rdlen + 1);
			size_t o = 0;
			int p = 0;

			while (p < rdlen) {
				int l = rd[p++];

				if (p + l > rdlen)
					break;
				memcpy(out + o, rd + p, (size_t)l);
				o += (size_t)l;
				p += l;
			}
			out[o] = '\0';
			ans->text = out;
			break;
		}
		}
		*tail = ans;
		tail = &ans->next;
	}
	return head;
}

static void
dns_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fc_dns_query *q = arg;
	unsigned char buf[DNS_PACKET_MAX];
	struct fc_arena *a;
	struct fc_dns_answer *answers;
	enum fc_dns_status st;
	ssize_t n;
	int rcode;

	if (what & EV_TIMEOUT) {
		dns_next(q);
		return;
	}
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* the socket is connected: only the server can answer it */
	if (n < NS_HFIXEDSZ || ns_get16(buf) != q->id
	    || !(buf[2] & 0x80)) {
		if (n < 0)
			dns_next(q);
		return;
	}
	rcode = buf[3] & 0x0f;
	if (rcode == ns_r_nxdomain) {
		dns_finish(q, FC_DNS_NXDOMAIN, NULL);
		return;
	}
	if (rcode != ns_r_noerror) {
		dns_next(q);
		return;
	}
	a = fc_arena_new("dns-answer", 1024);
	answers = dns_parse(a, buf, (int)n, q->type);
	st = FC_DNS_OK;
	dns_finish(q, st, answers);
	fc_arena_free(&a);
}

struct fc_dns_query *
fc_dns_resolve(const char *name, enum fc_dns_type type, uint64_t timeout_ms,
    fc_dns_fn *fn, void *arg)
{
	struct fc_dns_query *q;
	uint16_t id;

	if (fc_worker_base() == NULL || dns_nservers == 0)
		return NULL;
	q = fc_calloc(1, sizeof(*q));
	q->fd = -1;
	q->type = type;
	q->fn = fn;
	q->arg = arg;
	q->deadline = fc_now_ms() + (timeout_ms == 0 ? 5000 : timeout_ms);
	q->len = res_mkquery(ns_o_query, name, ns_c_in, (int)type, NULL, 0,
	    NULL, q->packet, sizeof(q->packet));
	if (q->len < NS_HFIXEDSZ) {
		free(q);
		return NULL;
	}
	/* a random ID (res_mkquery's is predictable) */
	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = (uint16_t)(fc_now_ms() ^ (uint64_t)getpid());
	q->id = id;
	q->packet[0] = (unsigned char)(id >> 8);
	q->packet[1] = (unsigned char)id;
	if (dns_send(q) < 0) {
		fc_dns_cancel(&q);
		return NULL;
	}
	return q;
}

void
fc_dns_cancel(struct fc_dns_query **qp)
{
	struct fc_dns_query *q = *qp;

	if (q == NULL)
		return;
	*qp = NULL;
	if (q->ev != NULL)
		event_free(q->ev);
	if (q->fd >= 0)
		close(q->fd);
	free(q);
}
