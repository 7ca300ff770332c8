/*
 * arena.h - memory that is freed all at once.
 *
 * One arena per lifetime: a session, a command, a configuration
 * generation. Allocations are zeroed and never fail (out of memory is
 * logged and aborts, like fc_malloc). Cleanups registered with
 * fc_arena_on_free() run, last registered first, when the arena is reset
 * or freed: use them to close files or free library objects tied to the
 * same lifetime. Message bodies never live in an arena: they go to spool
 * files.
 */
#ifndef FACTEUR_ARENA_H
#define FACTEUR_ARENA_H

#include <stddef.h>

struct fc_arena;

struct fc_arena *fc_arena_new(const char *tag, size_t first_block);
void *fc_arena_alloc(struct fc_arena *a, size_t n);
char *fc_arena_strdup(struct fc_arena *a, const char *s);
char *fc_arena_strndup(struct fc_arena *a, const char *s, size_t n);
void *fc_arena_memdup(struct fc_arena *a, const void *p, size_t n);
char *fc_arena_printf(struct fc_arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void fc_arena_on_free(struct fc_arena *a, void (*fn)(void *), void *arg);
/* Bytes handed out since the last reset (for limits and tests). */
size_t fc_arena_used(const struct fc_arena *a);
/* Runs the cleanups and keeps only the first block. */
void fc_arena_reset(struct fc_arena *a);
/* Runs the cleanups, frees everything, sets *a to NULL. */
void fc_arena_free(struct fc_arena **a);

/* malloc and friends that log and abort on out of memory. */
void *fc_malloc(size_t n);
void *fc_calloc(size_t n, size_t size);
void *fc_realloc(void *p, size_t n);
char *fc_strdup(const char *s);

#endif
