/*
 * fuzz_smtp_addr.c - libFuzzer target for the SMTP module's path and
 * parameter parser (modules/smtp/smtp_addr.c).
 *
 * The input is what a client types after "MAIL " or "RCPT ": it is parsed
 * as FROM (null path allowed) and as TO (not allowed), the parameters
 * left over are split, and the whole input is also decoded as xtext.
 * Nothing may crash, and what comes back must hang together: a parsed
 * address is local@domain when both are set, "postmaster" or "" when
 * not, within the lengths of RFC 5321 4.5.3.1, without controls; a
 * refusal has a 501 reply; parameter keywords are esmtp-keywords.
 */
#include "config.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <facteur/arena.h>

#include "smtp.h"

#define FUZZ_PARAMS_MAX	16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_smtp_check(bool cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_smtp_addr: %s\n", what);
		abort();
	}
}

static bool
fuzz_smtp_has_8bit(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

static bool
fuzz_smtp_has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static void
fuzz_smtp_params(struct fc_arena *a, const char *params)
{
	char *keys[FUZZ_PARAMS_MAX], *values[FUZZ_PARAMS_MAX];
	char *copy = fc_arena_strdup(a, params);
	int n, i;
	const char *k;

	n = smtp_parse_params(a, copy, keys, values, FUZZ_PARAMS_MAX);
	fuzz_smtp_check(n >= -1 && n <= FUZZ_PARAMS_MAX,
	    "parameter count out of range");
	for (i = 0; i < n; i++) {
		fuzz_smtp_check(isalnum((unsigned char)keys[i][0]),
		    "keyword does not start with a letter or digit");
		for (k = keys[i]; *k != '\0'; k++)
			fuzz_smtp_check(isalnum((unsigned char)*k) || *k == '-',
			    "bad character in a keyword");
		fuzz_smtp_check(values[i] == NULL ||
		    strchr(values[i], ' ') == NULL, "space in a value");
	}
}

static void
fuzz_smtp_path(struct fc_arena *a, const char *arg, const char *keyword,
    bool null_ok)
{
	struct smtp_path p;
	char *params = NULL;
	const char *err = NULL;

	if (smtp_parse_path(a, arg, keyword, null_ok, &p, &params, &err) < 0) {
		fuzz_smtp_check(err != NULL && strncmp(err, "501 5.", 6) == 0,
		    "refusal without a 501 reply");
		return;
	}
	fuzz_smtp_check(p.address != NULL && params != NULL,
	    "accepted without an address or parameters");
	fuzz_smtp_check(params[0] != ' ', "parameters start with a space");
	fuzz_smtp_check(!fuzz_smtp_has_control(p.address),
	    "control character in an address");
	fuzz_smtp_check(p.utf8 == fuzz_smtp_has_8bit(p.address),
	    "utf8 flag does not match the address");
	if (p.local != NULL && p.domain != NULL) {
		size_t ll = strlen(p.local), dl = strlen(p.domain);

		fuzz_smtp_check(ll >= 1 && ll <= 64, "local part length");
		fuzz_smtp_check(dl >= 1 && dl <= 255, "domain length");
		fuzz_smtp_check(strlen(p.address) == ll + 1 + dl &&
		    strncmp(p.address, p.local, ll) == 0 &&
		    p.address[ll] == '@' &&
		    strcmp(p.address + ll + 1, p.domain) == 0,
		    "address is not local@domain");
		fuzz_smtp_check(strlen(p.address) + 2 <= 256,
		    "path longer than 256");
	} else if (p.local != NULL) {
		fuzz_smtp_check(strcasecmp(p.local, "postmaster") == 0 &&
		    strcmp(p.address, "postmaster") == 0,
		    "a domainless address other than postmaster");
	} else {
		fuzz_smtp_check(p.domain == NULL && p.address[0] == '\0',
		    "domain without a local part");
		fuzz_smtp_check(null_ok, "null path where it is not allowed");
	}
	fuzz_smtp_params(a, params);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fc_arena *a;
	char *arg, *out = NULL;

	/* a command line holds no NUL: the session refuses those first */
	if (memchr(data, '\0', size) != NULL || size > 4096)
		return 0;
	a = fc_arena_new("fuzz-smtp-addr", 1024);
	arg = fc_arena_strndup(a, (const char *)data, size);

	fuzz_smtp_path(a, arg, "FROM", true);
	fuzz_smtp_path(a, arg, "TO", false);
	/* the input as parameters on their own, as after any path */
	fuzz_smtp_params(a, arg);
	if (smtp_xtext_decode(a, arg, &out))
		fuzz_smtp_check(out != NULL && strlen(out) <= size,
		    "xtext decoded longer than its input");
	fc_arena_free(&a);
	return 0;
}
