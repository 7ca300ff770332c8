/*
 * dns.c - asynchronous DNS over UDP, and TCP for truncated answers
 * (include/facteur/dns.h).
 *
 * Packets are built and read with the resolver library's own functions
 * (res_mkquery, ns_initparse, dn_expand), not by hand. The I/O is ours:
 * one socket per question asked, on a random port with a random ID,
 * answers only accepted from the server asked.
 *
 * The servers are asked in turn, as the stub resolver does: a round asks
 * each server at most once, each given a slice of the query's time, and
 * there are `attempts` rounds (resolv.conf's options, default 2). A
 * server that refuses (REFUSED, SERVFAIL, any rcode but NOERROR and
 * NXDOMAIN) or cannot be reached (ICMP port unreachable) is not asked
 * again by this query: asking again at once would only bring the same
 * answer, as fast as the network carries it. When every server has
 * failed that way the query ends with a temporary failure at once. Only
 * a server that said nothing in its slice is asked again in the next
 * round.
 *
 * A truncated answer (TC) is asked again over TCP from the same server
 * (RFC 7766); a truncated answer is never used, since it may lack the
 * very records asked for (an MX list cut short would send mail to the
 * domain's own address). A server whose TCP fails counts as failed.
 */
#include "config.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdbool.h>
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
#define DNS_ATTEMPTS		2	/* rounds: resolv.conf's default */
#define DNS_ATTEMPTS_MAX	5	/* resolv.conf's own ceiling */
#define DNS_TRY_MIN_MS		500	/* the shortest slice for a server */
#define DNS_TRY_MAX_MS		5000	/* the longest: resolv.conf's timeout */
#define DNS_UDP_MAX		4096	/* larger than any answer we ask for */
#define DNS_TCP_MAX		65535	/* a TCP message's length is 16 bits */

struct fc_dns_query {
	unsigned char packet[NS_PACKETSZ];
	int len;
	uint16_t id;
	int fd;
	struct event *ev;
	size_t server;			/* the one asked now */
	size_t pos;			/* the next one in the round */
	unsigned int round;
	bool failed[DNS_MAX_SERVERS];	/* refused or unreachable: done */
	uint64_t deadline;
	uint64_t try_ms;		/* one server's slice */
	enum fc_dns_type type;
	fc_dns_fn *fn;
	void *arg;
	/* over TCP: the length-prefixed question, then the answer */
	unsigned char *tcp;
	size_t tcp_sent, tcp_got;
	bool tcp_reading;
};

static struct sockaddr_storage dns_servers[DNS_MAX_SERVERS];
static socklen_t dns_server_len[DNS_MAX_SERVERS];
static size_t dns_nservers;
static unsigned int dns_attempts = DNS_ATTEMPTS;
static uint64_t dns_try_max_ms = DNS_TRY_MAX_MS;

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

/* "options timeout:N attempts:N" of resolv.conf; the rest is for the
 * stub resolver's own features, which we do not have. */
static void
dns_options(const char *line)
{
	const char *p;
	char word[64];
	int n, used;

	for (p = line + strlen("options"); sscanf(p, " %63s%n", word, &used)
	    == 1; p += used) {
		if (sscanf(word, "timeout:%d", &n) == 1 && n > 0)
			dns_try_max_ms = (uint64_t)(n > 30 ? 30 : n) * 1000;
		else if (sscanf(word, "attempts:%d", &n) == 1 && n > 0)
			dns_attempts = n > DNS_ATTEMPTS_MAX ? DNS_ATTEMPTS_MAX :
			    (unsigned int)n;
	}
}

/* From the dns_servers directive, else /etc/resolv.conf (its servers
 * and options), else the local host. Called when a worker or module
 * process starts. */
void
fc_dns_configure(char *const *servers)
{
	char line[256], addr[128];
	FILE *f;
	size_t i;

	dns_nservers = 0;
	dns_attempts = DNS_ATTEMPTS;
	dns_try_max_ms = DNS_TRY_MAX_MS;
	for (i = 0; servers != NULL && servers[i] != NULL; i++)
		if (dns_add_server(servers[i]) < 0)
			fc_log(FC_LOG_WARNING, "dns_servers: %s is not an "
			    "address", servers[i]);
	if (dns_nservers > 0)
		return;
	if ((f = fopen("/etc/resolv.conf", "re")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			if (sscanf(line, "nameserver %127s", addr) == 1)
				dns_add_server(addr);
			else if (strncmp(line, "options", 7) == 0
			    && (line[7] == ' ' || line[7] == '\t'))
				dns_options(line);
		}
		fclose(f);
	}
	if (dns_nservers == 0)
		dns_add_server("127.0.0.1");
}

static void dns_udp_cb(evutil_socket_t fd, short what, void *arg);
static void dns_tcp_cb(evutil_socket_t fd, short what, void *arg);

/* Drops the socket of the question asked last, if any. */
static void
dns_close(struct fc_dns_query *q)
{
	if (q->ev != NULL)
		event_free(q->ev);
	q->ev = NULL;
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
}

/* Waits for fd, at most the server's slice and never past the end. */
static int
dns_wait(struct fc_dns_query *q, short what, event_callback_fn cb)
{
	uint64_t now = fc_now_ms(), ms = q->try_ms;
	struct timeval tv;

	if (now >= q->deadline)
		ms = 1;
	else if (q->deadline - now < ms)
		ms = q->deadline - now;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	if (q->ev != NULL)
		event_free(q->ev);
	q->ev = event_new(fc_worker_base(), q->fd, what | EV_PERSIST, cb, q);
	return q->ev != NULL && event_add(q->ev, &tv) == 0 ? 0 : -1;
}

/* Sends the question to the current server over UDP, on a new socket. */
static int
dns_send_udp(struct fc_dns_query *q)
{
	const struct sockaddr *sa;

	dns_close(q);
	sa = (const struct sockaddr *)&dns_servers[q->server];
	q->fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (q->fd < 0)
		return -1;
	if (connect(q->fd, sa, dns_server_len[q->server]) < 0
	    || send(q->fd, q->packet, (size_t)q->len, 0) != q->len)
		return -1;
	return dns_wait(q, EV_READ, dns_udp_cb);
}

/*
 * Asks the next server that may still answer: each once a round, the
 * ones that failed never again. 0 when a question is out, -1 when no
 * server or no time is left.
 */
static int
dns_ask(struct fc_dns_query *q)
{
	while (q->round < dns_attempts && fc_now_ms() < q->deadline) {
		size_t s = q->pos;

		if (++q->pos == dns_nservers) {
			q->pos = 0;
			q->round++;
		}
		if (q->failed[s])
			continue;
		q->server = s;
		if (dns_send_udp(q) == 0)
			return 0;
		q->failed[s] = true;	/* cannot even send to it */
	}
	dns_close(q);
	return -1;
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

/* The server asked could not help: the next one, or the end. */
static void
dns_next(struct fc_dns_query *q, bool failed)
{
	if (failed)
		q->failed[q->server] = true;
	if (dns_ask(q) < 0)
		dns_finish(q, FC_DNS_TEMPFAIL, NULL);
}

/* The answer's records of the type asked for; false when the packet
 * cannot be read at all. */
static bool
dns_parse(struct fc_arena *a, const unsigned char *buf, int len,
    enum fc_dns_type want, struct fc_dns_answer **answers_r)
{
	struct fc_dns_answer *head = NULL, **tail = &head;
	ns_msg msg;
	ns_rr rr;
	int i, n;

	*answers_r = NULL;
	if (ns_initparse(buf, len, &msg) < 0)
		return false;
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
	*answers_r = head;
	return true;
}

/* Asks the current server again over TCP, after a truncated answer. */
static void
dns_start_tcp(struct fc_dns_query *q)
{
	const struct sockaddr *sa;

	dns_close(q);
	if (q->tcp == NULL)
		q->tcp = fc_malloc(2 + DNS_TCP_MAX);
	q->tcp[0] = (unsigned char)(q->len >> 8);
	q->tcp[1] = (unsigned char)q->len;
	memcpy(q->tcp + 2, q->packet, (size_t)q->len);
	q->tcp_sent = q->tcp_got = 0;
	q->tcp_reading = false;
	sa = (const struct sockaddr *)&dns_servers[q->server];
	q->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (q->fd < 0 || (connect(q->fd, sa, dns_server_len[q->server]) < 0
	    && errno != EINPROGRESS) || dns_wait(q, EV_WRITE, dns_tcp_cb) < 0)
		dns_next(q, true);
}

/* An answer from the server asked (UDP, or TCP without its length). */
static void
dns_answer(struct fc_dns_query *q, const unsigned char *buf, size_t n,
    bool tcp)
{
	struct fc_arena *a;
	struct fc_dns_answer *answers;
	int rcode;

	if (n < NS_HFIXEDSZ || ns_get16(buf) != q->id || !(buf[2] & 0x80)) {
		/* over UDP not ours (stray, late): wait on; over TCP the
		 * stream carries nothing else */
		if (tcp)
			dns_next(q, true);
		return;
	}
	rcode = buf[3] & 0x0f;
	if (rcode == ns_r_nxdomain) {
		dns_finish(q, FC_DNS_NXDOMAIN, NULL);
		return;
	}
	if (rcode != ns_r_noerror) {
		/* REFUSED, SERVFAIL...: this server will not help us */
		dns_next(q, true);
		return;
	}
	if ((buf[2] & 0x02) && !tcp) {
		dns_start_tcp(q);
		return;
	}
	a = fc_arena_new("dns-answer", 1024);
	if (dns_parse(a, buf, (int)n, q->type, &answers))
		dns_finish(q, FC_DNS_OK, answers);
	else
		dns_next(q, true);	/* garbled: not "no records" */
	fc_arena_free(&a);
}

static void
dns_udp_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fc_dns_query *q = arg;
	unsigned char buf[DNS_UDP_MAX];
	ssize_t n;

	if (what & EV_TIMEOUT) {
		/* silent: maybe lost on the way, it may answer next round */
		dns_next(q, false);
		return;
	}
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		/* ECONNREFUSED and the like: nothing listens there */
		dns_next(q, true);
		return;
	}
	/* the socket is connected: only the server can answer it */
	dns_answer(q, buf, (size_t)n, false);
}

static void
dns_tcp_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fc_dns_query *q = arg;
	size_t want;
	ssize_t n;

	if (what & EV_TIMEOUT) {
		dns_next(q, true);
		return;
	}
	if (!q->tcp_reading) {
		n = send(fd, q->tcp + q->tcp_sent, 2 + (size_t)q->len -
		    q->tcp_sent, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			dns_next(q, true);
			return;
		}
		q->tcp_sent += (size_t)n;
		if (q->tcp_sent < 2 + (size_t)q->len)
			return;
		q->tcp_reading = true;
		if (dns_wait(q, EV_READ, dns_tcp_cb) < 0)
			dns_next(q, true);
		return;
	}
	want = q->tcp_got < 2 ? 2 : 2 + ns_get16(q->tcp);
	n = recv(fd, q->tcp + q->tcp_got, want - q->tcp_got, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		dns_next(q, true);	/* an error, or closed too soon */
		return;
	}
	q->tcp_got += (size_t)n;
	if (q->tcp_got == 2 && ns_get16(q->tcp) < NS_HFIXEDSZ) {
		dns_next(q, true);
		return;
	}
	if (q->tcp_got > 2 && q->tcp_got == 2 + (size_t)ns_get16(q->tcp))
		dns_answer(q, q->tcp + 2, q->tcp_got - 2, true);
}

struct fc_dns_query *
fc_dns_resolve(const char *name, enum fc_dns_type type, uint64_t timeout_ms,
    fc_dns_fn *fn, void *arg)
{
	struct fc_dns_query *q;
	uint64_t total = timeout_ms == 0 ? 5000 : timeout_ms;
	uint16_t id;

	if (fc_worker_base() == NULL || dns_nservers == 0)
		return NULL;
	q = fc_calloc(1, sizeof(*q));
	q->fd = -1;
	q->type = type;
	q->fn = fn;
	q->arg = arg;
	q->deadline = fc_now_ms() + total;
	/* every server gets its slice in every round, within reason */
	q->try_ms = total / (dns_attempts * dns_nservers);
	if (q->try_ms < DNS_TRY_MIN_MS)
		q->try_ms = DNS_TRY_MIN_MS;
	if (q->try_ms > dns_try_max_ms)
		q->try_ms = dns_try_max_ms;
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
	if (dns_ask(q) < 0) {
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
	dns_close(q);
	free(q->tcp);
	free(q);
}
