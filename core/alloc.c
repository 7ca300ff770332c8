/*
 * alloc.c - malloc wrappers that never return NULL.
 *
 * Out of memory in a mail server is not something a caller can handle
 * better than by dying: the master restarts the worker, and no
 * acknowledged message is lost because acknowledgement follows fsync.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <facteur/arena.h>
#include <facteur/log.h>

static void
alloc_failed(size_t n)
{
	fc_panic("out of memory (%zu bytes)", n);
}

void *
fc_malloc(size_t n)
{
	void *p = malloc(n == 0 ? 1 : n);

	if (p == NULL)
		alloc_failed(n);
	return p;
}

void *
fc_calloc(size_t n, size_t size)
{
	void *p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);

	if (p == NULL)
		alloc_failed(n * size);
	return p;
}

void *
fc_realloc(void *old, size_t n)
{
	void *p = realloc(old, n == 0 ? 1 : n);

	if (p == NULL)
		alloc_failed(n);
	return p;
}

char *
fc_strdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(fc_malloc(n), s, n);
}
