/*
 * test_iptable.c - the per-IP counters shared by workers (iptable.c).
 *
 * One process plays two workers by attaching to slot 0, then slot 1: a
 * reader must see the sum of both. The table is keyed by (IP, service
 * name); IPv4-mapped IPv6 addresses must count as the IPv4 address, or
 * a client would get twice its limit on a dual-stack listener. Keys
 * that share a probe range are built directly (any non-zero 64-bit value
 * is a key) to fill a range on purpose.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "core.h"
#include "tap.h"

#define NELEMS(a)	(sizeof(a) / sizeof((a)[0]))
#define NSLOTS		1024	/* what fc_iptable_create(2, 1024) gives */
#define PROBE		16	/* iptable.c's probe range */

static uint64_t
key_of(const char *ip, const char *name)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, ip, &s6->sin6_addr) != 1)
			diag("bad test address %s", ip);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		if (inet_pton(AF_INET, ip, &s4->sin_addr) != 1)
			diag("bad test address %s", ip);
	}
	return fc_iptable_key((struct sockaddr *)&ss, name);
}

static const struct {
	const char *name;
	const char *ip1, *svc1, *ip2, *svc2;
	bool same;
} keys[] = {
	{ "same IP and name", "192.0.2.1", "imap", "192.0.2.1", "imap", true },
	{ "other name", "192.0.2.1", "imap", "192.0.2.1", "pop3", false },
	{ "other IPv4", "192.0.2.1", "imap", "192.0.2.2", "imap", false },
	{ "mapped IPv6 is IPv4", "192.0.2.1", "imap", "::ffff:192.0.2.1",
	  "imap", true },
	{ "other IPv6", "2001:db8::1", "imap", "2001:db8::2", "imap", false },
	{ "IPv6 is not IPv4", "::1", "smtp", "0.0.0.1", "smtp", false },
	{ "compatible IPv6 is not IPv4", "::192.0.2.1", "imap", "192.0.2.1",
	  "imap", false },
	{ "name is not IP", "192.0.2.1", "", "192.0.2.1", "a", false },
};

static void
test_keys(void)
{
	size_t i;

	for (i = 0; i < NELEMS(keys); i++) {
		uint64_t a = key_of(keys[i].ip1, keys[i].svc1);
		uint64_t b = key_of(keys[i].ip2, keys[i].svc2);

		ok((a == b) == keys[i].same, "key: %s", keys[i].name);
		ok(a != 0 && b != 0, "key: %s: never 0", keys[i].name);
	}
}

static void
test_connections(void)
{
	uint64_t k = key_of("192.0.2.10", "imap");
	uint64_t mapped = key_of("::ffff:192.0.2.10", "imap");
	uint64_t other = key_of("192.0.2.10", "pop3");
	int i;

	fc_iptable_attach(0);
	ok(fc_iptable_connect(k), "connect: worker 0, first");
	ok(fc_iptable_connect(k), "connect: worker 0, second");
	fc_iptable_open();
	fc_iptable_open();
	fc_iptable_attach(1);
	ok(fc_iptable_connect(mapped), "connect: worker 1, mapped address");
	fc_iptable_open();
	is_int(fc_iptable_connections(k), 3,
	    "connect: both workers' counts summed");
	is_int(fc_iptable_connections(other), 0,
	    "connect: another service of the same IP is apart");
	is_int(fc_iptable_total(), 3, "connect: total of open connections");

	fc_iptable_disconnect(k);
	fc_iptable_close();
	is_int(fc_iptable_connections(k), 2,
	    "disconnect: worker 1 gave one back");
	for (i = 0; i < 5; i++)
		fc_iptable_disconnect(k);
	is_int(fc_iptable_connections(k), 2,
	    "disconnect: a worker cannot give back what it does not hold");
	fc_iptable_attach(0);
	fc_iptable_disconnect(k);
	is_int(fc_iptable_connections(k), 1, "disconnect: worker 0 gave one");

	/* a dead worker's slot is cleared before the next one gets it */
	fc_iptable_attach(1);
	ok(fc_iptable_connect(k), "clear: worker 1 connects again");
	fc_iptable_open();
	is_int(fc_iptable_connections(k), 2, "clear: counted");
	is_int(fc_iptable_total(), 3, "clear: total counts it");
	fc_iptable_clear(1);
	is_int(fc_iptable_connections(k), 1, "clear: slot 1 forgotten");
	is_int(fc_iptable_total(), 2, "clear: its total forgotten");
	fc_iptable_attach(1);
	is_int(fc_iptable_connections(k), 1, "clear: reattached slot is empty");
	fc_iptable_attach(0);
	fc_iptable_disconnect(k);
	fc_iptable_close();
	fc_iptable_close();
	is_int(fc_iptable_connections(k), 0, "clear: all gone");
	is_int(fc_iptable_total(), 0, "clear: total zero");
}

/* PROBE keys that all start at one slot fill its range; one more is
 * not tracked (and not refused: connect says false, nothing counts). */
static void
test_full_range(void)
{
	uint64_t base = 77;
	bool all = true;
	unsigned int i;

	fc_iptable_attach(0);
	for (i = 0; i < PROBE; i++)
		if (!fc_iptable_connect(base + (uint64_t)i * NSLOTS))
			all = false;
	ok(all, "full range: %d colliding keys tracked", PROBE);
	for (i = 0; i < PROBE; i++)
		if (fc_iptable_connections(base + (uint64_t)i * NSLOTS) != 1)
			all = false;
	ok(all, "full range: each counted once");
	ok(!fc_iptable_connect(base + (uint64_t)PROBE * NSLOTS),
	    "full range: one more is not tracked");
	is_int(fc_iptable_connections(base + (uint64_t)PROBE * NSLOTS), 0,
	    "full range: and not counted");
	/* a freed entry makes room again */
	fc_iptable_disconnect(base);
	ok(fc_iptable_connect(base + (uint64_t)PROBE * NSLOTS),
	    "full range: a freed entry is reused");
	is_int(fc_iptable_connections(base + (uint64_t)PROBE * NSLOTS), 1,
	    "full range: reused entry counts");
	is_int(fc_iptable_connections(base), 0,
	    "full range: the old key is gone");
	for (i = 1; i <= PROBE; i++)
		fc_iptable_disconnect(base + (uint64_t)i * NSLOTS);
}

static void
test_failures(void)
{
	uint64_t k = key_of("198.51.100.7", "smtp");
	uint64_t t0 = 1000000, window = 60000, t1 = t0 + 3 * window;
	uint64_t base = 501;
	unsigned int i;

	fc_iptable_attach(0);
	fc_iptable_event(k, t0, window);
	fc_iptable_event(k, t0 + 10, window);
	fc_iptable_event(k, t0 + 20, window);
	fc_iptable_attach(1);
	fc_iptable_event(k, t0 + 30, window);
	fc_iptable_event(k, t0 + 40, window);
	is_int(fc_iptable_events(k, t0 + 50, window), 5,
	    "failures: summed across workers");
	is_int(fc_iptable_events(k, t0 + window, window), 5,
	    "failures: still counted at the window's end");
	is_int(fc_iptable_events(k + 1, t0 + 50, window), 0,
	    "failures: another key has none");
	/* worker 0's entry started at t0, worker 1's at t0 + 30 */
	is_int(fc_iptable_events(k, t0 + window + 1, window), 2,
	    "failures: an entry is forgotten after its window");
	is_int(fc_iptable_events(k, t0 + window + 31, window), 0,
	    "failures: all forgotten after the window");
	fc_iptable_attach(0);
	fc_iptable_event(k, t0 + 2 * window, window);
	is_int(fc_iptable_events(k, t0 + 2 * window, window), 1,
	    "failures: a new window starts from one");

	/* a full probe range: the oldest entry makes way */
	for (i = 0; i < PROBE; i++)
		fc_iptable_event(base + (uint64_t)i * NSLOTS, t1 + i, window);
	fc_iptable_event(base + (uint64_t)PROBE * NSLOTS, t1 + 100, window);
	is_int(fc_iptable_events(base + (uint64_t)PROBE * NSLOTS, t1 + 100,
	    window), 1, "failures: a new key gets an entry in a full range");
	is_int(fc_iptable_events(base, t1 + 100, window), 0,
	    "failures: the oldest entry was the one replaced");
	is_int(fc_iptable_events(base + NSLOTS, t1 + 100, window), 1,
	    "failures: the others stay");
	fc_iptable_clear(0);
	fc_iptable_clear(1);
	is_int(fc_iptable_events(base + NSLOTS, t1 + 100, window), 0,
	    "failures: clear forgets them");
}

int
main(void)
{
	if (fc_iptable_create(2, NSLOTS) < 0) {
		ok(0, "fc_iptable_create");
		return done();
	}
	test_keys();
	test_connections();
	test_full_range();
	test_failures();
	return done();
}
