/*
 * iptable.c - per-client-IP counters that all workers see.
 *
 * Limits per client IP (connections, failed logins, messages per minute) must hold across
 * workers, or a client would get workers x the limit. The master maps one
 * shared region before forking; each worker owns one table in it and is
 * the only process that writes it. A reader sums the matching entries of
 * every table. With one writer per table there are no locks, a worker
 * that dies cannot leave one held, and the master simply clears a dead
 * worker's table before giving it to the next worker.
 *
 * Entries are keyed by a 64-bit hash of (IP, name) and found by probing a
 * short fixed range, so a lookup touches PROBE entries per table. A race
 * between two workers accepting at the same instant can let a client
 * exceed its limit by the number of workers, never more; when a table is
 * full a connection goes untracked rather than refused.
 *
 * Two kinds of entries: connections open (counted up and down), and
 * events in a time window (failed logins, messages): a count and the
 * start of its window, forgotten once the window has passed.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <facteur/log.h>

#include "core.h"

#define PROBE	16

struct conn_slot {
	uint64_t key;
	uint32_t count;
	uint32_t pad;
};

struct event_slot {
	uint64_t key;
	uint64_t start_ms;
	uint32_t count;
	uint32_t pad;
};

struct worker_table {
	uint32_t in_use;
	uint32_t total;
	/* then nslots struct conn_slot, then nslots struct event_slot */
};

static char *region;
static unsigned int nworkers;
static unsigned int nslots;		/* power of two */
static size_t table_size;
static struct worker_table *mine;

static struct worker_table *
table_at(unsigned int i)
{
	return (struct worker_table *)(region + (size_t)i * table_size);
}

static struct conn_slot *
table_conns(struct worker_table *t)
{
	return (struct conn_slot *)(t + 1);
}

static struct event_slot *
table_events(struct worker_table *t)
{
	return (struct event_slot *)(table_conns(t) + nslots);
}

int
fc_iptable_create(unsigned int max_workers, unsigned int slots)
{
	size_t total;

	nslots = 1024;
	while (nslots < slots && nslots < (1u << 22))
		nslots *= 2;
	nworkers = max_workers;
	table_size = sizeof(struct worker_table) +
	    nslots * (sizeof(struct conn_slot) + sizeof(struct event_slot));
	table_size = (table_size + 4095) & ~(size_t)4095;
	total = table_size * nworkers;
	region = mmap(NULL, total, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED) {
		region = NULL;
		return -1;
	}
	return 0;
}

void
fc_iptable_clear(unsigned int slot)
{
	if (region == NULL || slot >= nworkers)
		return;
	memset(table_at(slot), 0, table_size);
}

void
fc_iptable_attach(unsigned int slot)
{
	if (region == NULL || slot >= nworkers)
		return;
	mine = table_at(slot);
	__atomic_store_n(&mine->in_use, 1, __ATOMIC_RELEASE);
}

uint64_t
fc_iptable_key(const struct sockaddr *sa, const char *name)
{
	const unsigned char *p = NULL;
	uint64_t h = 14695981039346656037ULL;	/* FNV-1a */
	size_t n = 0, i;

	if (sa->sa_family == AF_INET) {
		p = (const void *)&((const struct sockaddr_in *)
		    (const void *)sa)->sin_addr;
		n = 4;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		p = s6->sin6_addr.s6_addr;
		n = 16;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			p += 12;
			n = 4;
		}
	}
	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL;
	for (; *name != '\0'; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ULL;
	/* finaliser: spread the bits used for the slot index */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h == 0 ? 1 : h;
}

static unsigned int
slot_index(uint64_t key, unsigned int i)
{
	return (unsigned int)((key + i) & (nslots - 1));
}

unsigned int
fc_iptable_connections(uint64_t key)
{
	unsigned int w, i, sum = 0;

	if (region == NULL)
		return 0;
	for (w = 0; w < nworkers; w++) {
		struct worker_table *t = table_at(w);
		struct conn_slot *c = table_conns(t);

		if (!__atomic_load_n(&t->in_use, __ATOMIC_ACQUIRE))
			continue;
		for (i = 0; i < PROBE; i++) {
			struct conn_slot *s = &c[slot_index(key, i)];

			if (__atomic_load_n(&s->key, __ATOMIC_ACQUIRE) == key)
				sum += __atomic_load_n(&s->count,
				    __ATOMIC_RELAXED);
		}
	}
	return sum;
}

bool
fc_iptable_connect(uint64_t key)
{
	struct conn_slot *c, *free_slot = NULL;
	unsigned int i;

	if (mine == NULL)
		return false;
	c = table_conns(mine);
	for (i = 0; i < PROBE; i++) {
		struct conn_slot *s = &c[slot_index(key, i)];

		if (s->key == key) {
			__atomic_add_fetch(&s->count, 1, __ATOMIC_RELAXED);
			return true;
		}
		if (s->count == 0 && free_slot == NULL)
			free_slot = s;
	}
	if (free_slot == NULL)
		return false;
	/* count before key: a reader that sees the key sees the count */
	__atomic_store_n(&free_slot->count, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&free_slot->key, key, __ATOMIC_RELEASE);
	return true;
}

void
fc_iptable_disconnect(uint64_t key)
{
	struct conn_slot *c;
	unsigned int i;

	if (mine == NULL)
		return;
	c = table_conns(mine);
	for (i = 0; i < PROBE; i++) {
		struct conn_slot *s = &c[slot_index(key, i)];

		if (s->key == key && s->count > 0) {
			__atomic_sub_fetch(&s->count, 1, __ATOMIC_RELAXED);
			return;
		}
	}
}

void
fc_iptable_open(void)
{
	if (mine != NULL)
		__atomic_add_fetch(&mine->total, 1, __ATOMIC_RELAXED);
}

void
fc_iptable_close(void)
{
	if (mine != NULL)
		__atomic_sub_fetch(&mine->total, 1, __ATOMIC_RELAXED);
}

unsigned int
fc_iptable_total(void)
{
	unsigned int w, sum = 0;

	if (region == NULL)
		return 0;
	for (w = 0; w < nworkers; w++)
		sum += __atomic_load_n(&table_at(w)->total, __ATOMIC_RELAXED);
	return sum;
}

unsigned int
fc_iptable_events(uint64_t key, uint64_t now_ms, uint64_t window_ms)
{
	unsigned int w, i, sum = 0;

	if (region == NULL)
		return 0;
	for (w = 0; w < nworkers; w++) {
		struct worker_table *t = table_at(w);
		struct event_slot *f = table_events(t);

		if (!__atomic_load_n(&t->in_use, __ATOMIC_ACQUIRE))
			continue;
		for (i = 0; i < PROBE; i++) {
			struct event_slot *s = &f[slot_index(key, i)];
			uint64_t start;

			if (__atomic_load_n(&s->key, __ATOMIC_ACQUIRE) != key)
				continue;
			start = __atomic_load_n(&s->start_ms, __ATOMIC_RELAXED);
			if (now_ms - start <= window_ms)
				sum += __atomic_load_n(&s->count,
				    __ATOMIC_RELAXED);
		}
	}
	return sum;
}

static bool
event_slot_free(const struct event_slot *s, uint64_t now_ms, uint64_t window_ms)
{
	return s->count == 0 || now_ms - s->start_ms > window_ms;
}

void
fc_iptable_event(uint64_t key, uint64_t now_ms, uint64_t window_ms)
{
	struct event_slot *f, *victim = NULL;
	unsigned int i;

	if (mine == NULL)
		return;
	f = table_events(mine);
	for (i = 0; i < PROBE; i++) {
		struct event_slot *s = &f[slot_index(key, i)];

		if (s->key == key) {
			if (now_ms - s->start_ms > window_ms) {
				__atomic_store_n(&s->count, 0,
				    __ATOMIC_RELAXED);
				__atomic_store_n(&s->start_ms, now_ms,
				    __ATOMIC_RELAXED);
			}
			__atomic_add_fetch(&s->count, 1, __ATOMIC_RELAXED);
			return;
		}
		/* reuse an empty or expired entry, else the oldest */
		if (victim == NULL || (!event_slot_free(victim, now_ms,
		    window_ms) && (event_slot_free(s, now_ms, window_ms)
		    || s->start_ms < victim->start_ms)))
			victim = s;
	}
	__atomic_store_n(&victim->key, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&victim->start_ms, now_ms, __ATOMIC_RELAXED);
	__atomic_store_n(&victim->count, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&victim->key, key, __ATOMIC_RELEASE);
}
