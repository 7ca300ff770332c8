/*
 * test_base64.c - base64 (base64.c): the RFC 4648 section 10 vectors,
 * round trips of every length, and the strict decoder's refusals (SASL
 * responses must be exact: no whitespace, no stray bits, no misplaced
 * padding). Decoding writes into a buffer of exactly (n / 4) * 3 bytes
 * followed by a guard, so an overrun shows.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "tap.h"

#define NELEMS(a)	(sizeof(a) / sizeof((a)[0]))
#define GUARD		0xa5

static const struct {
	const char *name, *plain, *encoded;
} vectors[] = {
	{ "empty",	"",		"" },
	{ "f",		"f",		"Zg==" },
	{ "fo",		"fo",		"Zm8=" },
	{ "foo",	"foo",		"Zm9v" },
	{ "foob",	"foob",		"Zm9vYg==" },
	{ "fooba",	"fooba",	"Zm9vYmE=" },
	{ "foobar",	"foobar",	"Zm9vYmFy" },
	{ "PLAIN",	"\0user\0pass",	"AHVzZXIAcGFzcw==" },
	{ "all bits",	"\xff\xff\xff",	"////" },
	{ "plus",	"\xfb\xef",	"++8=" },
};

/* strlen() does not work for the PLAIN row; its length is 10 */
static size_t
vector_len(size_t i)
{
	return strcmp(vectors[i].name, "PLAIN") == 0 ? 10 :
	    strlen(vectors[i].plain);
}

/* Decodes into an exact-size buffer; -2 when the guard was hit. */
static int
decode(const char *in, size_t n, unsigned char **out_r, size_t *len_r)
{
	size_t room = n / 4 * 3, i;
	unsigned char *out = malloc(room + 8);
	int r;

	memset(out, GUARD, room + 8);
	*len_r = (size_t)-1;
	r = fc_base64_decode(in, n, out, len_r);
	for (i = room; i < room + 8; i++)
		if (out[i] != GUARD)
			r = -2;
	*out_r = out;
	return r;
}

static void
test_vectors(void)
{
	size_t i;

	for (i = 0; i < NELEMS(vectors); i++) {
		size_t n = vector_len(i), len;
		char enc[64];
		unsigned char *dec;

		is_int((long long)fc_base64_encoded_len(n),
		    (long long)strlen(vectors[i].encoded),
		    "%s: encoded length", vectors[i].name);
		fc_base64_encode(vectors[i].plain, n, enc);
		is_str(enc, vectors[i].encoded, "%s: encode", vectors[i].name);
		is_int(decode(vectors[i].encoded, strlen(vectors[i].encoded),
		    &dec, &len), 0, "%s: decode accepted", vectors[i].name);
		ok(len == n && memcmp(dec, vectors[i].plain, n) == 0,
		    "%s: decode gives the text back", vectors[i].name);
		free(dec);
	}
}

/* Every length 0..200 of pseudo-random bytes (fixed seed). */
static void
test_round_trips(void)
{
	unsigned char plain[200];
	char enc[300];
	unsigned int seed = 12345;
	bool good = true, sized = true;
	size_t n, i;

	for (n = 0; n <= sizeof(plain); n++) {
		unsigned char *dec;
		size_t len;

		for (i = 0; i < n; i++) {
			seed = seed * 1103515245 + 12345;
			plain[i] = (unsigned char)(seed >> 16);
		}
		memset(enc, 'X', sizeof(enc));
		fc_base64_encode(plain, n, enc);
		if (strlen(enc) != fc_base64_encoded_len(n))
			sized = false;
		if (decode(enc, strlen(enc), &dec, &len) != 0 || len != n
		    || memcmp(dec, plain, n) != 0)
			good = false;
		free(dec);
	}
	ok(sized, "round trips: encoding is encoded_len bytes and terminated");
	ok(good, "round trips: lengths 0 to 200 decode to themselves");
}

static const struct {
	const char *name, *in;
} bad[] = {
	{ "one char",			"Z" },
	{ "two chars",			"Zg" },
	{ "three chars",		"Zg=" },
	{ "five chars",			"Zm9vY" },
	{ "padding only",		"====" },
	{ "three pads",			"Z===" },
	{ "pad then data",		"Zg=A" },
	{ "pad in first half",		"Z=9v" },
	{ "padding in the middle",	"Zg==Zm9v" },
	{ "single pad in the middle",	"Zm8=Zm9v" },
	{ "stray bits, two chars",	"Zh==" },
	{ "stray bits, three chars",	"Zm9=" },
	{ "pad after full group",	"Zm9v=" },
	{ "space",			"Zm 9v" },
	{ "space at the end",		"Zm9v    " },
	{ "newline",			"Zm9v\nZm9v" },
	{ "CRLF at the end",		"Zm9vYg\r\n" },
	{ "tab",			"Zm9\tv" },
	{ "URL-safe minus",		"Zm-v" },
	{ "URL-safe underscore",	"Zm_v" },
	{ "dot",			"Zm.v" },
	{ "high byte",			"\xffm9v" },
	{ "star",			"*" },
};

static void
test_bad(void)
{
	size_t i;

	for (i = 0; i < NELEMS(bad); i++) {
		unsigned char *dec;
		size_t len;

		is_int(decode(bad[i].in, strlen(bad[i].in), &dec, &len), -1,
		    "refused: %s", bad[i].name);
		free(dec);
	}
	/* a NUL inside: the length is what counts */
	{
		unsigned char *dec;
		size_t len;

		is_int(decode("Zm\0v", 4, &dec, &len), -1, "refused: NUL");
		free(dec);
	}
	/* the stray-bit rows decode once their spare bits are clear */
	{
		unsigned char *dec;
		size_t len;

		is_int(decode("Zg==", 4, &dec, &len), 0, "accepted: Zg==");
		free(dec);
		is_int(decode("Zm8=", 4, &dec, &len), 0, "accepted: Zm8=");
		free(dec);
	}
}

int
main(void)
{
	test_vectors();
	test_round_trips();
	test_bad();
	return done();
}
