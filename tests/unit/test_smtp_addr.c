/*
 * test_smtp_addr.c - paths and parameters of MAIL and RCPT
 * (modules/smtp/smtp_addr.c, compiled into this test).
 *
 * The rows follow RFC 5321 4.1.2 (Path, Mailbox, Local-part, Domain,
 * address literals of 4.1.3, esmtp-param), the lengths of 4.5.3.1, and
 * RFC 6531/6532 for UTF-8 in addresses: UTF-8 means well-formed UTF-8
 * (RFC 3629), not any byte above 0x7f. The parser is more lenient than
 * the grammar in one documented way only: one space after the colon.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <facteur/arena.h>

#include "smtp.h"
#include "tap.h"

#define NELEMS(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * Paths that parse. local and domain NULL mean absent; params is what
 * is left after the path.
 */
static const struct {
	const char *name, *keyword, *arg;
	bool null_ok;
	const char *local, *domain, *address, *params;
	bool utf8;
} good[] = {
	{ "plain", "FROM", "FROM:<alice@example.org>", true,
	  "alice", "example.org", "alice@example.org", "", false },
	{ "keyword in lower case", "FROM", "from:<alice@example.org>", true,
	  "alice", "example.org", "alice@example.org", "", false },
	{ "RCPT", "TO", "TO:<bob@example.org>", false,
	  "bob", "example.org", "bob@example.org", "", false },
	{ "dots and atext", "TO", "TO:<a.b+c_d/e=f!#$%&'*-?^`{|}~@x.example>",
	  false, "a.b+c_d/e=f!#$%&'*-?^`{|}~", "x.example",
	  "a.b+c_d/e=f!#$%&'*-?^`{|}~@x.example", "", false },
	{ "quoted local part", "TO", "TO:<\"john doe\"@example.org>", false,
	  "\"john doe\"", "example.org", "\"john doe\"@example.org", "",
	  false },
	{ "quoted pair", "TO", "TO:<\"a\\\"b\\\\c\"@example.org>", false,
	  "\"a\\\"b\\\\c\"", "example.org", "\"a\\\"b\\\\c\"@example.org", "",
	  false },
	{ "quoted @ and dots", "TO", "TO:<\"a@b..c.\"@example.org>", false,
	  "\"a@b..c.\"", "example.org", "\"a@b..c.\"@example.org", "", false },
	{ "IPv4 address literal", "TO", "TO:<alice@[192.0.2.1]>", false,
	  "alice", "[192.0.2.1]", "alice@[192.0.2.1]", "", false },
	{ "IPv6 address literal", "TO", "TO:<alice@[IPv6:2001:db8::1]>",
	  false, "alice", "[IPv6:2001:db8::1]", "alice@[IPv6:2001:db8::1]",
	  "", false },
	{ "source route ignored", "TO",
	  "TO:<@relay1.example,@relay2.example:alice@example.org>", false,
	  "alice", "example.org", "alice@example.org", "", false },
	{ "null sender", "FROM", "FROM:<>", true,
	  NULL, NULL, "", "", false },
	{ "null sender with parameters", "FROM", "FROM:<> SIZE=10", true,
	  NULL, NULL, "", "SIZE=10", false },
	{ "postmaster", "TO", "TO:<postmaster>", false,
	  "postmaster", NULL, "postmaster", "", false },
	{ "Postmaster in any case", "TO", "TO:<PostMaster>", false,
	  "PostMaster", NULL, "postmaster", "", false },
	{ "postmaster with a domain", "TO", "TO:<postmaster@example.org>",
	  false, "postmaster", "example.org", "postmaster@example.org", "",
	  false },
	{ "space after the colon", "FROM", "FROM: <alice@example.org>", true,
	  "alice", "example.org", "alice@example.org", "", false },
	{ "parameters split off", "FROM",
	  "FROM:<alice@example.org> SIZE=1000 BODY=8BITMIME", true,
	  "alice", "example.org", "alice@example.org",
	  "SIZE=1000 BODY=8BITMIME", false },
	{ "spaces before parameters", "FROM",
	  "FROM:<alice@example.org>   SMTPUTF8", true,
	  "alice", "example.org", "alice@example.org", "SMTPUTF8", false },
	{ "UTF-8 local part", "TO", "TO:<j\xc3\xb6rg@example.org>", false,
	  "j\xc3\xb6rg", "example.org", "j\xc3\xb6rg@example.org", "", true },
	{ "UTF-8 domain", "TO", "TO:<a@b\xc3\xbc\x63her.example>", false,
	  "a", "b\xc3\xbc\x63her.example", "a@b\xc3\xbc\x63her.example", "",
	  true },
	{ "4-byte UTF-8", "TO", "TO:<\xf0\x9f\x93\xa7@example.org>", false,
	  "\xf0\x9f\x93\xa7", "example.org", "\xf0\x9f\x93\xa7@example.org",
	  "", true },
	{ "hyphens inside labels", "TO", "TO:<a@x-y.a-b-c.example>", false,
	  "a", "x-y.a-b-c.example", "a@x-y.a-b-c.example", "", false },
	{ "digits in labels", "TO", "TO:<a@1.2example.org>", false,
	  "a", "1.2example.org", "a@1.2example.org", "", false },
	{ "IPv6 literal with IPv4 at its end", "TO",
	  "TO:<a@[IPv6:::ffff:192.0.2.1]>", false, "a",
	  "[IPv6:::ffff:192.0.2.1]", "a@[IPv6:::ffff:192.0.2.1]", "", false },
	{ "general address literal", "TO", "TO:<a@[x-tag:some.thing]>",
	  false, "a", "[x-tag:some.thing]", "a@[x-tag:some.thing]", "",
	  false },
	{ "UTF-8 in a quoted string", "TO",
	  "TO:<\"j\xc3\xb6 rg\"@example.org>", false, "\"j\xc3\xb6 rg\"",
	  "example.org", "\"j\xc3\xb6 rg\"@example.org", "", true },
	{ "largest code point", "TO", "TO:<\xf4\x8f\xbf\xbf@example.org>",
	  false, "\xf4\x8f\xbf\xbf", "example.org",
	  "\xf4\x8f\xbf\xbf@example.org", "", true },
};

/* Paths that must be refused; error is the start of the reply. */
static const struct {
	const char *name, *keyword, *arg;
	bool null_ok;
	const char *error;
} bad[] = {
	{ "no brackets", "FROM", "FROM:alice@example.org", true, "501 5.1.7" },
	{ "no closing bracket", "FROM", "FROM:<alice@example.org", true,
	  "501 " },
	{ "no opening bracket", "FROM", "FROM:alice@example.org>", true,
	  "501 5.1.7" },
	{ "wrong keyword", "FROM", "TO:<alice@example.org>", true,
	  "501 5.5.4" },
	{ "no colon", "FROM", "FROM<alice@example.org>", true, "501 5.5.4" },
	{ "keyword only", "FROM", "FROM", true, "501 5.5.4" },
	{ "nothing after the colon", "FROM", "FROM:", true, "501 5.1.7" },
	{ "two spaces after the colon", "FROM", "FROM:  <a@example.org>", true,
	  "501 5.1.7" },
	{ "null path where not allowed", "TO", "TO:<>", false, "501 5.1.3" },
	{ "empty local part", "TO", "TO:<@example.org>", false, "501 " },
	{ "empty local part after a route", "TO", "TO:<@r.example:@x.org>",
	  false, "501 " },
	{ "no domain", "TO", "TO:<alice>", false, "501 5.1.3" },
	{ "empty domain", "TO", "TO:<alice@>", false, "501 5.1.2" },
	{ "two dots", "TO", "TO:<a..b@example.org>", false, "501 5.1.7" },
	{ "leading dot", "TO", "TO:<.ab@example.org>", false, "501 5.1.7" },
	{ "trailing dot in the local part", "TO", "TO:<ab.@example.org>",
	  false, "501 5.1.7" },
	{ "trailing dot in the domain", "TO", "TO:<ab@example.org.>", false,
	  "501 5.1.2" },
	{ "two dots in the domain", "TO", "TO:<ab@example..org>", false,
	  "501 5.1.2" },
	{ "label starting with -", "TO", "TO:<ab@-example.org>", false,
	  "501 5.1.2" },
	{ "label ending with -", "TO", "TO:<ab@example-.org>", false,
	  "501 5.1.2" },
	{ "underscore in the domain", "TO", "TO:<ab@ex_ample.org>", false,
	  "501 5.1.2" },
	{ "two @", "TO", "TO:<a@b@example.org>", false, "501 5.1.2" },
	{ "space in the local part", "TO", "TO:<a b@example.org>", false,
	  "501 5.1.7" },
	{ "garbage after >", "FROM", "FROM:<a@example.org>x", true,
	  "501 5.5.4" },
	{ "second path after >", "FROM", "FROM:<a@example.org><b@x.org>", true,
	  "501 5.5.4" },
	{ "control character in the local part", "TO",
	  "TO:<a\x01" "b@example.org>", false, "501 5.1.7" },
	{ "tab in the local part", "TO", "TO:<a\tb@example.org>", false,
	  "501 5.1.7" },
	{ "DEL in the local part", "TO", "TO:<a\x7f" "b@example.org>", false,
	  "501 5.1.7" },
	{ "control character in the domain", "TO", "TO:<ab@exa\x02mple.org>",
	  false, "501 5.1.2" },
	{ "CR in the domain", "TO", "TO:<ab@example.org\r>", false,
	  "501 5.1.2" },
	{ "control character in a quoted string", "TO",
	  "TO:<\"a\x01\"@example.org>", false, "501 5.1.7" },
	{ "control character in a quoted pair", "TO",
	  "TO:<\"a\\\x01\"@example.org>", false, "501 5.1.7" },
	{ "unterminated quote", "TO", "TO:<\"abc@example.org>", false,
	  "501 5.1.7" },
	{ "quote in the middle", "TO", "TO:<ab\"c\"@example.org>", false,
	  "501 5.1.7" },
	{ "empty address literal", "TO", "TO:<a@[]>", false, "501 5.1.2" },
	{ "unterminated address literal", "TO", "TO:<a@[192.0.2.1>", false,
	  "501 5.1.2" },
	/* RFC 5321 4.1.3: an address literal is an IPv4 address, IPv6:
	 * and an IPv6 address, or tag:content; "[mail]" is none */
	{ "address literal that is no address", "TO", "TO:<a@[mail]>", false,
	  "501 5.1.2" },
	/* RFC 6531 3.3 and RFC 6532 3.1: UTF8-non-ascii is well-formed
	 * UTF-8; a lone 0xff or a cut sequence is not */
	{ "byte 0xff in the local part", "TO", "TO:<a\xff@example.org>", false,
	  "501 " },
	{ "cut UTF-8 sequence", "TO", "TO:<a\xc3@example.org>", false,
	  "501 " },
	{ "overlong UTF-8", "TO", "TO:<a\xc0\xaf@example.org>", false,
	  "501 " },
	{ "IPv4 literal of three parts", "TO", "TO:<a@[192.0.2]>", false,
	  "501 5.1.2" },
	{ "IPv4 literal out of range", "TO", "TO:<a@[192.0.2.256]>", false,
	  "501 5.1.2" },
	{ "IPv6 tag with an IPv4 address", "TO", "TO:<a@[IPv6:192.0.2.1]>",
	  false, "501 5.1.2" },
	{ "bad IPv6 literal", "TO", "TO:<a@[IPv6:2001:db8:::1]>", false,
	  "501 5.1.2" },
	{ "general literal without content", "TO", "TO:<a@[x-tag:]>", false,
	  "501 5.1.2" },
	{ "general literal with a space", "TO", "TO:<a@[x:a b]>", false,
	  "501 5.1.2" },
	{ "UTF-8 surrogate", "TO", "TO:<a\xed\xa0\x80@example.org>", false,
	  "501 " },
	{ "past U+10FFFF", "TO", "TO:<a\xf4\x90\x80\x80@example.org>", false,
	  "501 " },
	{ "lone continuation byte", "TO", "TO:<a\x80@example.org>", false,
	  "501 " },
	{ "bad UTF-8 in the domain", "TO", "TO:<a@b\xc3(example.org>", false,
	  "501 5.1.2" },
	{ "bad UTF-8 in a quoted string", "TO", "TO:<\"a\xff\"@example.org>",
	  false, "501 5.1.7" },
	{ "route without a colon", "TO", "TO:<@relay.example>", false,
	  "501 5.1.7" },
	{ "postmaster prefix is not postmaster", "TO", "TO:<postmasters>",
	  false, "501 5.1.3" },
};

static void
test_good(void)
{
	size_t i;

	for (i = 0; i < NELEMS(good); i++) {
		struct fc_arena *a = fc_arena_new("test", 256);
		struct smtp_path p;
		char *params = NULL;
		const char *err = NULL;
		int r;

		r = smtp_parse_path(a, good[i].arg, good[i].keyword,
		    good[i].null_ok, &p, &params, &err);
		if (!is_int(r, 0, "%s: parsed", good[i].name)) {
			diag("error: %s", err != NULL ? err : "(none)");
			fc_arena_free(&a);
			continue;
		}
		if (good[i].local == NULL)
			ok(p.local == NULL, "%s: no local part", good[i].name);
		else
			is_str(p.local, good[i].local, "%s: local part",
			    good[i].name);
		if (good[i].domain == NULL)
			ok(p.domain == NULL, "%s: no domain", good[i].name);
		else
			is_str(p.domain, good[i].domain, "%s: domain",
			    good[i].name);
		is_str(p.address, good[i].address, "%s: address", good[i].name);
		is_str(params, good[i].params, "%s: parameters", good[i].name);
		ok(p.utf8 == good[i].utf8, "%s: utf8 is %s", good[i].name,
		    good[i].utf8 ? "set" : "clear");
		fc_arena_free(&a);
	}
}

static void
test_bad(void)
{
	size_t i;

	for (i = 0; i < NELEMS(bad); i++) {
		struct fc_arena *a = fc_arena_new("test", 256);
		struct smtp_path p;
		char *params = NULL;
		const char *err = NULL;
		int r;

		r = smtp_parse_path(a, bad[i].arg, bad[i].keyword,
		    bad[i].null_ok, &p, &params, &err);
		if (!is_int(r, -1, "%s: refused", bad[i].name))
			diag("parsed, as %zu bytes", strlen(p.address));
		else if (!ok(err != NULL && strncmp(err, bad[i].error,
		    strlen(bad[i].error)) == 0, "%s: reply starts with %s",
		    bad[i].name, bad[i].error))
			diag("reply: %s", err != NULL ? err : "(none)");
		fc_arena_free(&a);
	}
}

/* 63 'd': a label as long as DNS allows */
#define DS	"ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"

/* RFC 5321 4.5.3.1: local part 64, domain 255, the path 256 with its
 * brackets. */
static void
test_lengths(void)
{
	struct fc_arena *a = fc_arena_new("test", 1024);
	char arg[1024], local[128], domain[512];
	struct smtp_path p;
	char *params;
	const char *err;

	/* 64 'l', @, a domain of 189: <64@189> is 256 octets */
	memset(local, 'l', 64);
	local[64] = '\0';
	snprintf(domain, sizeof(domain), "%.63s.%.63s.%.61s", DS, DS, DS);
	snprintf(arg, sizeof(arg), "TO:<%s@%s>", local, domain);
	ok(strlen(arg) - 3 == 256, "lengths: the long path is 256 octets");
	is_int(smtp_parse_path(a, arg, "TO", false, &p, &params, &err), 0,
	    "lengths: local part 64 and path 256 accepted");

	snprintf(arg, sizeof(arg), "TO:<%sl@example.org>", local);
	is_int(smtp_parse_path(a, arg, "TO", false, &p, &params, &err), -1,
	    "lengths: local part 65 refused");

	snprintf(arg, sizeof(arg), "TO:<\"%.62s\"@example.org>", local);
	is_int(smtp_parse_path(a, arg, "TO", false, &p, &params, &err), 0,
	    "lengths: quoted local part of 64 with its quotes accepted");
	snprintf(arg, sizeof(arg), "TO:<\"%.63s\"@example.org>", local);
	is_int(smtp_parse_path(a, arg, "TO", false, &p, &params, &err), -1,
	    "lengths: quoted local part of 65 refused");

	/* a domain of 256: labels of 63, 63, 63, 62 and 1, dots between */
	snprintf(domain, sizeof(domain), "%.63s.%.63s.%.63s.%.62s.d", DS, DS,
	    DS, DS);
	ok(strlen(domain) == 256, "lengths: the long domain is 256");
	snprintf(arg, sizeof(arg), "TO:<a@%s>", domain);
	is_int(smtp_parse_path(a, arg, "TO", false, &p, &params, &err), -1,
	    "lengths: domain 256 refused");

	/* the path: 257 octets with short enough parts */
	snprintf(arg, sizeof(arg), "TO:<%s@%sd>", local, domain + 67);
	ok(strlen(arg) - 3 == 257, "lengths: the longer path is 257 octets");
	is_int(smtp_parse_path(a, arg, "TO", false, &p, &params, &err), -1,
	    "lengths: path 257 refused");
	fc_arena_free(&a);
}

/* esmtp-param = esmtp-keyword ["=" esmtp-value]; esmtp-keyword =
 * (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"); esmtp-value = 1*(%d33-60 /
 * %d62-126). */
static const struct {
	const char *name, *in;
	int n;			/* the count, or -1 */
	const char *keys[4], *values[4];	/* values: NULL for none */
} params[] = {
	{ "none", "", 0, { NULL }, { NULL } },
	{ "one keyword", "SMTPUTF8", 1, { "SMTPUTF8" }, { NULL } },
	{ "key and value", "SIZE=1000", 1, { "SIZE" }, { "1000" } },
	{ "three", "SIZE=10 BODY=8BITMIME SMTPUTF8", 3,
	  { "SIZE", "BODY", "SMTPUTF8" }, { "10", "8BITMIME", NULL } },
	{ "spaces between", "A=1   B=2 ", 2, { "A", "B" }, { "1", "2" } },
	{ "hyphen and digits", "X-FOO2=bar 8BIT", 2, { "X-FOO2", "8BIT" },
	  { "bar", NULL } },
	{ "value with punctuation", "ORCPT=rfc822;a+40b@x.org", 1,
	  { "ORCPT" }, { "rfc822;a+40b@x.org" } },
	{ "keyword starting with -", "-X=1", -1, { NULL }, { NULL } },
	{ "underscore in a keyword", "X_Y=1", -1, { NULL }, { NULL } },
	{ "dot in a keyword", "X.Y", -1, { NULL }, { NULL } },
	{ "empty keyword", "=1", -1, { NULL }, { NULL } },
	{ "8-bit keyword", "S\xc3\xa9=1", -1, { NULL }, { NULL } },
	{ "bad keyword after a good one", "SIZE=1 B@D", -1, { NULL },
	  { NULL } },
	{ "empty value", "SIZE=", -1, { NULL }, { NULL } },
	{ "= inside a value", "ENVID=a=b", -1, { NULL }, { NULL } },
	{ "control character in a value", "ENVID=a\x01" "b", -1, { NULL },
	  { NULL } },
	{ "tab in a value", "ENVID=a\tb", -1, { NULL }, { NULL } },
	{ "DEL in a value", "ENVID=a\x7f", -1, { NULL }, { NULL } },
	{ "empty value after a good one", "BODY=7BIT SIZE=", -1, { NULL },
	  { NULL } },
	{ "UTF-8 in a value", "ORCPT=utf-8;j\xc3\xb6rg@x.org", 1,
	  { "ORCPT" }, { "utf-8;j\xc3\xb6rg@x.org" } },
	{ "bad UTF-8 in a value", "ORCPT=rfc822;a\xff@x.org", -1, { NULL },
	  { NULL } },
};

static void
test_params(void)
{
	size_t i;
	int k;

	for (i = 0; i < NELEMS(params); i++) {
		struct fc_arena *a = fc_arena_new("test", 256);
		char *keys[8], *values[8];
		char *copy = fc_arena_strdup(a, params[i].in);
		int n;

		n = smtp_parse_params(a, copy, keys, values, 8);
		if (!is_int(n, params[i].n, "params %s: count",
		    params[i].name) || n <= 0) {
			fc_arena_free(&a);
			continue;
		}
		for (k = 0; k < n; k++) {
			is_str(keys[k], params[i].keys[k], "params %s: key %d",
			    params[i].name, k);
			if (params[i].values[k] == NULL)
				ok(values[k] == NULL, "params %s: no value %d",
				    params[i].name, k);
			else
				is_str(values[k], params[i].values[k],
				    "params %s: value %d", params[i].name, k);
		}
		fc_arena_free(&a);
	}
}

static void
test_params_max(void)
{
	struct fc_arena *a = fc_arena_new("test", 256);
	char *keys[4], *values[4];
	char four[] = "A B C D", five[] = "A B C D E";

	is_int(smtp_parse_params(a, four, keys, values, 4), 4,
	    "params: as many as allowed");
	is_str(keys[3], "D", "params: the last one kept");
	is_int(smtp_parse_params(a, five, keys, values, 4), -1,
	    "params: one too many refused");
	fc_arena_free(&a);
}

/* RFC 3461 4: xtext = *( xchar / hexchar ); xchar is "!" to "~" but
 * "+" and "="; hexchar is "+" and two upper-case hex digits. */
static const struct {
	const char *name, *in, *out;	/* out NULL: refused */
} xtext[] = {
	{ "plain", "abc", "abc" },
	{ "empty", "", "" },
	{ "hexchar", "+41", "A" },
	{ "encoded plus", "a+2Bb", "a+b" },
	{ "encoded equals and space", "+3D+20", "= " },
	{ "address", "alice+40example.org", "alice@example.org" },
	{ "8-bit byte", "+C3+A9", "\xc3\xa9" },
	{ "punctuation", "!#~;<>", "!#~;<>" },
	{ "lower-case hex", "+2b", NULL },
	{ "bad hex digit", "+4G", NULL },
	{ "one hex digit at the end", "a+4", NULL },
	{ "plus at the end", "a+", NULL },
	{ "equals sign", "a=b", NULL },
	{ "space", "a b", NULL },
	{ "control character", "a\x01", NULL },
	{ "8-bit byte unencoded", "a\xc3\xa9", NULL },
};

static void
test_xtext(void)
{
	size_t i;

	for (i = 0; i < NELEMS(xtext); i++) {
		struct fc_arena *a = fc_arena_new("test", 256);
		char *out = NULL;
		bool r;

		r = smtp_xtext_decode(a, xtext[i].in, &out);
		if (xtext[i].out == NULL)
			ok(!r, "xtext %s: refused", xtext[i].name);
		else if (ok(r, "xtext %s: decoded", xtext[i].name))
			is_str(out, xtext[i].out, "xtext %s: value",
			    xtext[i].name);
		fc_arena_free(&a);
	}
}

int
main(void)
{
	test_good();
	test_bad();
	test_lengths();
	test_params();
	test_params_max();
	test_xtext();
	return done();
}
