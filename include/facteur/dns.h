/*
 * dns.h - asynchronous DNS lookups in the event loop: MX and A/AAAA for
 * outbound mail, TXT and A for DNS block lists, PTR for client names.
 *
 * Queries go over UDP to the servers of the `dns_servers` directive, or
 * of /etc/resolv.conf (with its "options timeout:N attempts:N"), as the
 * stub resolver asks them: in rounds (2 by default), each server once a
 * round with a share of the timeout. A server that refuses (any rcode
 * but NOERROR and NXDOMAIN) or is unreachable is not asked again by that
 * query; when none is left, or the timeout passes, the answer is
 * FC_DNS_TEMPFAIL. A truncated answer is asked again over TCP. The
 * callback runs from the event loop, never from inside fc_dns_resolve().
 * Only in workers and module processes.
 */
#ifndef FACTEUR_DNS_H
#define FACTEUR_DNS_H

#include <stdint.h>

enum fc_dns_type {
	FC_DNS_A = 1,
	FC_DNS_PTR = 12,
	FC_DNS_MX = 15,
	FC_DNS_TXT = 16,
	FC_DNS_AAAA = 28,
};

enum fc_dns_status {
	FC_DNS_OK = 0,		/* answers (maybe none: no such record) */
	FC_DNS_NXDOMAIN,	/* no such name */
	FC_DNS_TEMPFAIL,	/* no answer in time, or every server
				   failed */
};

/* One record of the answer, in the order the server gave. */
struct fc_dns_answer {
	enum fc_dns_type type;
	uint32_t ttl;
	uint16_t preference;		/* MX */
	const char *text;		/* A/AAAA: the address as text; MX,
					   PTR: the name; TXT: the strings
					   joined */
	struct fc_dns_answer *next;
};

struct fc_dns_query;
typedef void fc_dns_fn(void *arg, enum fc_dns_status status,
    const struct fc_dns_answer *answers);

/* NULL when the query cannot even start (no event loop, bad name). */
struct fc_dns_query *fc_dns_resolve(const char *name, enum fc_dns_type type,
    uint64_t timeout_ms, fc_dns_fn *fn, void *arg);
/* Before the callback ran; sets *q to NULL. */
void fc_dns_cancel(struct fc_dns_query **q);

#endif
