/*
 * conf_value.c - the value syntax of the config file: booleans, numbers,
 * sizes and durations. Strict on purpose: "10 M", "-1", "1.5G" and
 * "30sec" are errors, and nothing overflows silently.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <facteur/conf.h>

const char *
fc_conf_parse_bool(const char *s, bool *r)
{
	static const char *const yes[] = { "yes", "on", "true", NULL };
	static const char *const no[] = { "no", "off", "false", NULL };
	size_t i;

	for (i = 0; yes[i] != NULL; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*r = true;
			return NULL;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*r = false;
			return NULL;
		}
	}
	return "expected yes or no";
}

/* Reads the leading digits of s; *end_r points after them. */
static const char *
conf_digits(const char *s, unsigned long long *r, const char **end_r)
{
	unsigned long long v = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return "expected a number";
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return "number too large";
		v = v * 10 + d;
	}
	*r = v;
	*end_r = p;
	return NULL;
}

const char *
fc_conf_parse_uint(const char *s, unsigned long long max,
    unsigned long long *r)
{
	const char *err, *end;

	if ((err = conf_digits(s, r, &end)) != NULL)
		return err;
	if (*end != '\0')
		return "expected a number";
	if (max != 0 && *r > max)
		return "number too large";
	return NULL;
}

/* digits with an optional unit from units[]; a bare number is "plain" */
static const char *
conf_scaled(const char *s, const char *const *units,
    const unsigned long long *scale, unsigned long long plain,
    const char *unit_error, uint64_t *r)
{
	unsigned long long v, mul = plain;
	const char *err, *end;
	size_t i;

	if ((err = conf_digits(s, &v, &end)) != NULL)
		return *s >= '0' && *s <= '9' ? err : unit_error;
	if (*end != '\0') {
		for (i = 0; units[i] != NULL; i++)
			if (strcmp(end, units[i]) == 0)
				break;
		if (units[i] == NULL)
			return unit_error;
		mul = scale[i];
	}
	if (v > UINT64_MAX / mul)
		return "number too large";
	*r = v * mul;
	return NULL;
}

const char *
fc_conf_parse_size(const char *s, uint64_t *r)
{
	static const char *const units[] = {
		"k", "K", "m", "M", "g", "G", "t", "T", NULL
	};
	static const unsigned long long scale[] = {
		1ULL << 10, 1ULL << 10, 1ULL << 20, 1ULL << 20,
		1ULL << 30, 1ULL << 30, 1ULL << 40, 1ULL << 40,
	};

	return conf_scaled(s, units, scale, 1,
	    "expected a size such as 512, 64k, 50M or 2G", r);
}

const char *
fc_conf_parse_time(const char *s, uint64_t *ms_r)
{
	static const char *const units[] = {
		"ms", "s", "m", "h", "d", NULL
	};
	static const unsigned long long scale[] = {
		1, 1000, 60 * 1000, 3600 * 1000, 86400 * 1000,
	};

	return conf_scaled(s, units, scale, 1000,
	    "expected a duration such as 500ms, 30s, 5m, 2h or 1d", ms_r);
}
