/*
 * fuzz_imap_search_text.c - libFuzzer target for SEARCH's text keys
 * (modules/imap/imap_casefold.c, modules/imap/imap_search_text.c).
 *
 * The input is folded whole and in pieces of a size taken from its first
 * byte: both must give the same bytes, valid UTF-8, which fold again to
 * themselves. Then it is scanned as a message (from a memory file) with
 * a key of each kind, one whose string is the input's first bytes, so
 * that some keys match.
 */
#define _GNU_SOURCE
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <facteur/arena.h>

#include "imap_casefold.h"
#include "imap_search_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_check(bool cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_imap_search_text: %s\n", what);
		abort();
	}
}

struct out {
	char *data;
	size_t len, alloc;
};

static void
out_add(void *arg, const char *data, size_t len)
{
	struct out *o = arg;

	if (o->len + len > o->alloc) {
		o->alloc = (o->len + len) * 2;
		o->data = realloc(o->data, o->alloc);
		fuzz_check(o->data != NULL, "out of memory");
	}
	memcpy(o->data + o->len, data, len);
	o->len += len;
}

static void
fold(const char *in, size_t len, size_t piece, struct out *o)
{
	struct imap_casefold cf;
	size_t i;

	imap_casefold_init(&cf, out_add, o);
	for (i = 0; i < len; i += piece)
		imap_casefold_feed(&cf, in + i, len - i < piece ? len - i :
		    piece);
	imap_casefold_finish(&cf);
}

/* Valid UTF-8 as the folder checks it: no overlong form, no surrogate. */
static bool
valid_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0, k, len;
	uint32_t cp;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		len = s[i] >= 0xf0 ? 4 : s[i] >= 0xe0 ? 3 : 2;
		if (s[i] < 0xc2 || s[i] > 0xf4 || i + len > n)
			return false;
		cp = s[i] & (0x7f >> len);
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)
		    || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct out whole = { 0 }, cut = { 0 }, again = { 0 };
	struct fc_arena *a, *tmp;
	struct imap_text_key k[4], *keys[4];
	char needle[9];
	size_t i;
	time_t day;
	bool has;
	int fd;

	fold((const char *)data, size, size + 1, &whole);
	fold((const char *)data, size, size > 0 ? data[0] % 7 + 1 : 1, &cut);
	fuzz_check(whole.len == cut.len && (whole.len == 0
	    || memcmp(whole.data, cut.data, whole.len) == 0),
	    "folding depends on the pieces");
	fuzz_check(valid_utf8((unsigned char *)whole.data, whole.len),
	    "folded text is not UTF-8");
	fold(whole.data, whole.len, 4096, &again);
	fuzz_check(again.len == whole.len && (whole.len == 0
	    || memcmp(whole.data, again.data, whole.len) == 0),
	    "folding twice changes the text");
	free(whole.data);
	free(cut.data);
	free(again.data);

	fd = memfd_create("fuzz", 0);
	if (fd < 0)
		return 0;
	if (size > 0 && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	a = fc_arena_new("fuzz", 4096);
	tmp = fc_arena_new("fuzz-scan", 4096);
	i = size < sizeof(needle) - 1 ? size : sizeof(needle) - 1;
	memcpy(needle, data, i);
	needle[i] = '\0';
	imap_text_key_init(&k[0], a, IMAP_TEXT_FIELD, "Subject", "\xc3\xa9");
	imap_text_key_init(&k[1], a, IMAP_TEXT_BODY, NULL, "e");
	imap_text_key_init(&k[2], a, IMAP_TEXT_ALL, NULL, needle);
	imap_text_key_init(&k[3], a, IMAP_TEXT_BODY, NULL, "\xc3\x9f" "x");
	for (i = 0; i < 4; i++)
		keys[i] = &k[i];
	fuzz_check(imap_text_scan(fd, tmp, keys, 4, &day, &has) == 0,
	    "scan failed");
	close(fd);
	fc_arena_free(&tmp);
	fc_arena_free(&a);
	return 0;
}
