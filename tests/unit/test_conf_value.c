/*
 * test_conf_value.c - the value syntax of the config file (conf_value.c):
 * booleans, numbers, sizes and durations.
 *
 * The parsers are strict on purpose, so most rows here are values an
 * admin might plausibly write that must be refused ("10 M", "1.5G",
 * "30sec"), and values one past the largest that fits.
 */
#include "config.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <facteur/conf.h>

#include "tap.h"

/* err: NULL when the value is good, else a word the message must hold */
static const struct {
	const char *name, *input;
	bool want;
	const char *err;
} bool_cases[] = {
	{ "yes",		"yes",		true,	NULL },
	{ "on",			"on",		true,	NULL },
	{ "true",		"true",		true,	NULL },
	{ "upper case YES",	"YES",		true,	NULL },
	{ "no",			"no",		false,	NULL },
	{ "off",		"off",		false,	NULL },
	{ "false",		"false",	false,	NULL },
	{ "mixed case Off",	"Off",		false,	NULL },
	{ "empty",		"",		false,	"yes or no" },
	{ "y",			"y",		false,	"yes or no" },
	{ "1",			"1",		false,	"yes or no" },
	{ "0",			"0",		false,	"yes or no" },
	{ "trailing space",	"yes ",		false,	"yes or no" },
	{ "leading space",	" no",		false,	"yes or no" },
	{ "maybe",		"maybe",	false,	"yes or no" },
};

static const struct {
	const char *name, *input;
	unsigned long long max, want;
	const char *err;
} uint_cases[] = {
	{ "zero",		"0",		0, 0,		NULL },
	{ "small",		"42",		0, 42,		NULL },
	{ "leading zeros",	"007",		0, 7,		NULL },
	{ "at the bound",	"4294967295",	UINT_MAX, UINT_MAX, NULL },
	{ "past the bound",	"4294967296",	UINT_MAX, 0,	"too large" },
	{ "bound 10, 10",	"10",		10, 10,		NULL },
	{ "bound 10, 11",	"11",		10, 0,		"too large" },
	{ "largest 64-bit",	"18446744073709551615", 0, UINT64_MAX, NULL },
	{ "64-bit overflow",	"18446744073709551616", 0, 0,	"too large" },
	{ "far overflow",	"99999999999999999999999", 0, 0, "too large" },
	{ "overflow by digit",	"18446744073709551620", 0, 0,	"too large" },
	{ "negative",		"-1",		0, 0,		"number" },
	{ "plus sign",		"+1",		0, 0,		"number" },
	{ "leading space",	" 1",		0, 0,		"number" },
	{ "trailing space",	"1 ",		0, 0,		"number" },
	{ "empty",		"",		0, 0,		"number" },
	{ "fraction",		"1.5",		0, 0,		"number" },
	{ "hex",		"0x10",		0, 0,		"number" },
	{ "trailing letters",	"12abc",	0, 0,		"number" },
	{ "size suffix",	"1k",		0, 0,		"number" },
};

#define KIB	1024ULL
#define MIB	(1024ULL * 1024)
#define GIB	(1024ULL * 1024 * 1024)
#define TIB	(1024ULL * 1024 * 1024 * 1024)

static const struct {
	const char *name, *input;
	uint64_t want;
	const char *err;
} size_cases[] = {
	{ "zero",		"0",		0,		NULL },
	{ "bytes",		"512",		512,		NULL },
	{ "k",			"1k",		KIB,		NULL },
	{ "K",			"1K",		KIB,		NULL },
	{ "64k",		"64k",		64 * KIB,	NULL },
	{ "M",			"50M",		50 * MIB,	NULL },
	{ "m",			"3m",		3 * MIB,	NULL },
	{ "G",			"2G",		2 * GIB,	NULL },
	{ "g",			"2g",		2 * GIB,	NULL },
	{ "T",			"1T",		TIB,		NULL },
	{ "t",			"5t",		5 * TIB,	NULL },
	{ "0k",			"0k",		0,		NULL },
	{ "largest T",		"16777215T",	16777215 * TIB,	NULL },
	{ "T overflow",		"16777216T",	0,		"too large" },
	{ "largest bytes",	"18446744073709551615", UINT64_MAX, NULL },
	{ "bytes overflow",	"18446744073709551616", 0,	"too large" },
	{ "space before unit",	"10 M",		0,		"size" },
	{ "negative",		"-1",		0,		"size" },
	{ "fraction",		"1.5G",		0,		"size" },
	{ "KB",			"1KB",		0,		"size" },
	{ "KiB",		"1KiB",		0,		"size" },
	{ "double unit",	"1kk",		0,		"size" },
	{ "P",			"1P",		0,		"size" },
	{ "unit alone",		"k",		0,		"size" },
	{ "empty",		"",		0,		"size" },
	{ "leading space",	" 1k",		0,		"size" },
	{ "trailing space",	"1k ",		0,		"size" },
};

static const struct {
	const char *name, *input;
	uint64_t want;
	const char *err;
} time_cases[] = {
	{ "zero",		"0",		0,		NULL },
	{ "bare is seconds",	"30",		30000,		NULL },
	{ "ms",			"500ms",	500,		NULL },
	{ "0ms",		"0ms",		0,		NULL },
	{ "s",			"30s",		30000,		NULL },
	{ "m is minutes",	"5m",		300000,		NULL },
	{ "h",			"2h",		7200000,	NULL },
	{ "d",			"1d",		86400000,	NULL },
	{ "largest ms",		"18446744073709551615ms", UINT64_MAX, NULL },
	{ "largest d",		"213503982334d", 213503982334ULL * 86400000,
	  NULL },
	{ "d overflow",		"213503982335d", 0,		"too large" },
	{ "bare overflow",	"18446744073709551615", 0,	"too large" },
	{ "sec",		"30sec",	0,		"duration" },
	{ "fraction",		"1.5s",		0,		"duration" },
	{ "negative",		"-1",		0,		"duration" },
	{ "space before unit",	"1 s",		0,		"duration" },
	{ "unit alone",		"s",		0,		"duration" },
	{ "empty",		"",		0,		"duration" },
	{ "upper case S",	"1S",		0,		"duration" },
	{ "weeks",		"1w",		0,		"duration" },
	{ "size unit",		"1k",		0,		"duration" },
	{ "msec",		"5msec",	0,		"duration" },
};

#define NELEMS(a)	(sizeof(a) / sizeof((a)[0]))

/* One check per row: the result, or an error holding the expected word. */
static void
check_error(const char *got, const char *want, const char *what,
    const char *name)
{
	if (want == NULL) {
		if (!ok(got == NULL, "%s: %s: accepted", what, name))
			diag("error: %s", got);
		return;
	}
	if (!ok(got != NULL && strstr(got, want) != NULL,
	    "%s: %s: refused (\"%s\")", what, name, want))
		diag("error: %s", got != NULL ? got : "(none)");
}

static void
test_bool(void)
{
	size_t i;

	for (i = 0; i < NELEMS(bool_cases); i++) {
		const char *err;
		bool b = !bool_cases[i].want;

		err = fc_conf_parse_bool(bool_cases[i].input, &b);
		check_error(err, bool_cases[i].err, "bool", bool_cases[i].name);
		if (err == NULL && bool_cases[i].err == NULL)
			is_int(b, bool_cases[i].want, "bool: %s: value",
			    bool_cases[i].name);
	}
}

static void
test_uint(void)
{
	size_t i;

	for (i = 0; i < NELEMS(uint_cases); i++) {
		unsigned long long v = 12345;
		const char *err;

		err = fc_conf_parse_uint(uint_cases[i].input,
		    uint_cases[i].max, &v);
		check_error(err, uint_cases[i].err, "uint", uint_cases[i].name);
		if (err == NULL && uint_cases[i].err == NULL)
			ok(v == uint_cases[i].want, "uint: %s: value %llu",
			    uint_cases[i].name, v);
	}
}

static void
test_size(void)
{
	size_t i;

	for (i = 0; i < NELEMS(size_cases); i++) {
		uint64_t v = 12345;
		const char *err;

		err = fc_conf_parse_size(size_cases[i].input, &v);
		check_error(err, size_cases[i].err, "size", size_cases[i].name);
		if (err == NULL && size_cases[i].err == NULL)
			ok(v == size_cases[i].want, "size: %s: value %llu",
			    size_cases[i].name, (unsigned long long)v);
	}
}

static void
test_time(void)
{
	size_t i;

	for (i = 0; i < NELEMS(time_cases); i++) {
		uint64_t v = 12345;
		const char *err;

		err = fc_conf_parse_time(time_cases[i].input, &v);
		check_error(err, time_cases[i].err, "time", time_cases[i].name);
		if (err == NULL && time_cases[i].err == NULL)
			ok(v == time_cases[i].want, "time: %s: value %llu",
			    time_cases[i].name, (unsigned long long)v);
	}
}

int
main(void)
{
	test_bool();
	test_uint();
	test_size();
	test_time();
	return done();
}
