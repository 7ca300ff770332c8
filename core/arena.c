/*
 * arena.c - memory freed all at once (see include/facteur/arena.h).
 *
 * Blocks are chained; an allocation that does not fit the current block
 * gets a new block at least twice the previous size (capped), or a block
 * of its own when it is large. Cleanups form a list run last-first.
 * Alignment is that of max_align_t.
 */
#include "config.h"

#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <facteur/arena.h>
#include <facteur/log.h>

#define ARENA_ALIGN	alignof(max_align_t)
#define ARENA_MAX_BLOCK	(64 * 1024)

struct arena_block {
	struct arena_block *next;
	size_t size;		/* usable bytes after the header */
	size_t used;
};

struct arena_cleanup {
	struct arena_cleanup *next;
	void (*fn)(void *);
	void *arg;
};

struct fc_arena {
	const char *tag;
	struct arena_block *first;	/* allocated with the arena itself */
	struct arena_block *current;
	struct arena_cleanup *cleanups;
	size_t used;
	size_t next_size;
};

static size_t
arena_round(size_t n)
{
	return (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
}

#define BLOCK_HEADER	arena_round(sizeof(struct arena_block))
#define ARENA_HEADER	arena_round(sizeof(struct fc_arena))

static char *
arena_block_data(struct arena_block *b)
{
	return (char *)b + BLOCK_HEADER;
}

struct fc_arena *
fc_arena_new(const char *tag, size_t first_block)
{
	struct fc_arena *a;
	struct arena_block *b;

	first_block = arena_round(first_block < 64 ? 64 : first_block);
	a = fc_malloc(ARENA_HEADER + BLOCK_HEADER + first_block);
	b = (struct arena_block *)((char *)a + ARENA_HEADER);
	b->next = NULL;
	b->size = first_block;
	b->used = 0;
	a->tag = tag;
	a->first = b;
	a->current = b;
	a->cleanups = NULL;
	a->used = 0;
	a->next_size = first_block * 2;
	return a;
}

static struct arena_block *
arena_block_new(size_t size)
{
	struct arena_block *b;

	b = fc_malloc(BLOCK_HEADER + size);
	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

void *
fc_arena_alloc(struct fc_arena *a, size_t n)
{
	struct arena_block *b = a->current;
	size_t need;
	void *p;

	if (n == 0)
		n = 1;
	if (n > SIZE_MAX / 2)
		fc_panic("arena %s: allocation of %zu bytes", a->tag, n);
	need = arena_round(n);
	if (b->size - b->used < need) {
		if (need > ARENA_MAX_BLOCK / 4) {
			/* large: a block of its own, chained after current
			 * so the current block keeps serving small ones */
			struct arena_block *big = arena_block_new(need);

			big->used = need;
			big->next = b->next;
			b->next = big;
			a->used += need;
			memset(arena_block_data(big), 0, need);
			return arena_block_data(big);
		}
		while (a->next_size < need)
			a->next_size *= 2;
		b = arena_block_new(a->next_size);
		if (a->next_size < ARENA_MAX_BLOCK)
			a->next_size *= 2;
		b->next = a->current->next;
		a->current->next = b;
		a->current = b;
	}
	p = arena_block_data(b) + b->used;
	b->used += need;
	a->used += need;
	memset(p, 0, need);
	return p;
}

char *
fc_arena_strdup(struct fc_arena *a, const char *s)
{
	return fc_arena_memdup(a, s, strlen(s) + 1);
}

char *
fc_arena_strndup(struct fc_arena *a, const char *s, size_t n)
{
	char *p;

	p = fc_arena_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void *
fc_arena_memdup(struct fc_arena *a, const void *src, size_t n)
{
	void *p;

	p = fc_arena_alloc(a, n);
	memcpy(p, src, n);
	return p;
}

char *
fc_arena_printf(struct fc_arena *a, const char *fmt, ...)
{
	va_list ap;
	char small[256], *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		fc_panic("arena %s: bad format %s", a->tag, fmt);
	p = fc_arena_alloc(a, (size_t)n + 1);
	if ((size_t)n < sizeof(small)) {
		memcpy(p, small, (size_t)n + 1);
		return p;
	}
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void
fc_arena_on_free(struct fc_arena *a, void (*fn)(void *), void *arg)
{
	struct arena_cleanup *c;

	c = fc_arena_alloc(a, sizeof(*c));
	c->fn = fn;
	c->arg = arg;
	c->next = a->cleanups;
	a->cleanups = c;
}

size_t
fc_arena_used(const struct fc_arena *a)
{
	return a->used;
}

static void
arena_run_cleanups(struct fc_arena *a)
{
	struct arena_cleanup *c;

	/* a cleanup may register another: take the list each round */
	while ((c = a->cleanups) != NULL) {
		a->cleanups = c->next;
		c->fn(c->arg);
	}
}

static void
arena_free_blocks(struct arena_block *b)
{
	struct arena_block *next;

	for (; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
}

void
fc_arena_reset(struct fc_arena *a)
{
	arena_run_cleanups(a);
	arena_free_blocks(a->first->next);
	a->first->next = NULL;
	a->first->used = 0;
	a->current = a->first;
	a->used = 0;
	a->next_size = a->first->size * 2;
}

void
fc_arena_free(struct fc_arena **ap)
{
	struct fc_arena *a = *ap;

	if (a == NULL)
		return;
	*ap = NULL;
	arena_run_cleanups(a);
	arena_free_blocks(a->first->next);
	free(a);
}
