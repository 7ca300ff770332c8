/*
 * test_arena.c - arenas (arena.c): zeroed, aligned, non-overlapping
 * memory; the string helpers; cleanups run last-first on reset and free;
 * an arena reset many times stays usable. Run it under valgrind to see
 * that reset and free give everything back.
 */
#include "config.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <facteur/arena.h>

#include "tap.h"

#define NELEMS(a)	(sizeof(a) / sizeof((a)[0]))

static bool
all_zero(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

static bool
aligned(const void *p)
{
	return (uintptr_t)p % alignof(max_align_t) == 0;
}

/* sizes around the block sizes and the "large" threshold */
static const struct {
	const char *name;
	size_t size;
} sizes[] = {
	{ "zero bytes", 0 },
	{ "one byte", 1 },
	{ "odd size", 13 },
	{ "alignment", 16 },
	{ "a first block", 1024 },
	{ "just under large", 16 * 1024 },
	{ "just over large", 16 * 1024 + 1 },
	{ "a big block", 64 * 1024 },
	{ "one megabyte", 1024 * 1024 },
};

/*
 * Allocates each size, fills it with its own byte, and checks at the end
 * that no allocation overwrote another; then resets and does it again,
 * so reused (dirty) memory must come back zeroed.
 */
static void
test_alloc(void)
{
	struct fc_arena *a = fc_arena_new("test", 256);
	unsigned char *p[NELEMS(sizes)][4];
	int round;
	size_t i, k;

	for (round = 0; round < 2; round++) {
		bool zero = true, align = true, intact = true;
		size_t before = fc_arena_used(a);

		for (i = 0; i < NELEMS(sizes); i++) {
			for (k = 0; k < 4; k++) {
				size_t n = sizes[i].size;

				p[i][k] = fc_arena_alloc(a, n);
				if (p[i][k] == NULL || !aligned(p[i][k]))
					align = false;
				else if (!all_zero(p[i][k], n))
					zero = false;
				if (p[i][k] != NULL)
					memset(p[i][k], (int)(i * 4 + k + 1),
					    n);
			}
		}
		for (i = 0; i < NELEMS(sizes); i++) {
			for (k = 0; k < 4 && p[i][k] != NULL; k++) {
				size_t n = sizes[i].size, j;

				for (j = 0; j < n; j++)
					if (p[i][k][j] != i * 4 + k + 1)
						intact = false;
			}
		}
		ok(align, "alloc, round %d: never NULL, aligned to %zu", round,
		    alignof(max_align_t));
		ok(zero, "alloc, round %d: zeroed", round);
		ok(intact, "alloc, round %d: no two allocations overlap",
		    round);
		ok(fc_arena_used(a) >= before + 4 * (1024 * 1024 + 64 * 1024),
		    "alloc, round %d: used counts the bytes (%zu)", round,
		    fc_arena_used(a));
		ok(p[0][0] != p[0][1], "alloc, round %d: zero-byte "
		    "allocations are distinct", round);
		fc_arena_reset(a);
		is_int((long long)fc_arena_used(a), 0,
		    "alloc, round %d: reset clears used", round);
	}
	fc_arena_free(&a);
	ok(a == NULL, "free sets the pointer to NULL");
	fc_arena_free(&a);
	ok(a == NULL, "free of NULL is harmless");
}

static void
test_strings(void)
{
	struct fc_arena *a = fc_arena_new("test", 64);
	char longer[600], want[700], *s;
	const char src[] = "hello";
	unsigned char bytes[] = { 1, 0, 2, 0, 3 };
	unsigned char *m;

	s = fc_arena_strdup(a, src);
	is_str(s, "hello", "strdup copies");
	ok(s != src, "strdup makes a new string");
	is_str(fc_arena_strdup(a, ""), "", "strdup of empty");
	s = fc_arena_strndup(a, "hello world", 5);
	is_str(s, "hello", "strndup cuts and terminates");
	s = fc_arena_strndup(a, "ab\0cd", 5);
	ok(memcmp(s, "ab\0cd", 6) == 0, "strndup copies n bytes, NULs too");
	m = fc_arena_memdup(a, bytes, sizeof(bytes));
	ok(memcmp(m, bytes, sizeof(bytes)) == 0, "memdup copies");
	is_str(fc_arena_printf(a, "%s=%d", "n", 42), "n=42", "printf");
	is_str(fc_arena_printf(a, "%s", ""), "", "printf of empty");

	/* longer than printf's first try of 256 bytes */
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	snprintf(want, sizeof(want), "<%s>%d", longer, 7);
	s = fc_arena_printf(a, "<%s>%d", longer, 7);
	is_str(s, want, "printf longer than 256 bytes");
	is_int((long long)strlen(s), 601 + 1, "printf long length");
	fc_arena_free(&a);
}

/* Cleanups write their number into a log, to check the order. */
struct cleanup_log {
	char order[64];
	size_t n;
	struct fc_arena *arena;
};

static struct cleanup_log cleanups_seen;

static void
cleanup_mark(void *arg)
{
	if (cleanups_seen.n + 1 < sizeof(cleanups_seen.order))
		cleanups_seen.order[cleanups_seen.n++] = *(const char *)arg;
	cleanups_seen.order[cleanups_seen.n] = '\0';
}

/* A cleanup that registers another one while cleanups run. */
static void
cleanup_chain(void *arg)
{
	cleanup_mark(arg);
	fc_arena_on_free(cleanups_seen.arena, cleanup_mark, "z");
}

static void
test_cleanups(void)
{
	struct fc_arena *a = fc_arena_new("test", 64);

	memset(&cleanups_seen, 0, sizeof(cleanups_seen));
	cleanups_seen.arena = a;
	fc_arena_on_free(a, cleanup_mark, "1");
	fc_arena_on_free(a, cleanup_mark, "2");
	(void)fc_arena_alloc(a, 100000);	/* a block of its own */
	fc_arena_on_free(a, cleanup_mark, "3");
	is_str(cleanups_seen.order, "", "cleanups: none run before reset");
	fc_arena_reset(a);
	is_str(cleanups_seen.order, "321",
	    "cleanups: reset runs them last first");
	fc_arena_reset(a);
	is_str(cleanups_seen.order, "321", "cleanups: each runs once");

	cleanups_seen.n = 0;
	cleanups_seen.order[0] = '\0';
	fc_arena_on_free(a, cleanup_mark, "a");
	fc_arena_on_free(a, cleanup_chain, "b");
	fc_arena_on_free(a, cleanup_mark, "c");
	fc_arena_free(&a);
	is_str(cleanups_seen.order, "cbza",
	    "cleanups: free runs them, and one added meanwhile");
	ok(a == NULL, "cleanups: free sets the pointer to NULL");
}

/* A command arena reset after each of many commands. */
static void
test_many_resets(void)
{
	struct fc_arena *a = fc_arena_new("command", 512);
	bool good = true;
	int i, k;

	for (i = 0; i < 2000; i++) {
		for (k = 0; k < 20; k++) {
			char *s = fc_arena_printf(a, "command %d part %d",
			    i, k);
			unsigned char *p = fc_arena_alloc(a,
			    (size_t)(k * 97 + i % 13));

			if (!all_zero(p, (size_t)(k * 97 + i % 13)))
				good = false;
			memset(p, 0xff, (size_t)(k * 97 + i % 13));
			if (strncmp(s, "command ", 8) != 0)
				good = false;
		}
		if (i % 100 == 0)
			(void)fc_arena_alloc(a, 200000);
		fc_arena_reset(a);
		if (fc_arena_used(a) != 0)
			good = false;
	}
	ok(good, "2000 resets: memory zeroed and strings right each time");
	fc_arena_free(&a);
}

int
main(void)
{
	test_alloc();
	test_strings();
	test_cleanups();
	test_many_resets();
	return done();
}
