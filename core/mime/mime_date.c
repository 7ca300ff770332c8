/*
 * mime_date.c - RFC 5322 dates (section 3.3) and the obsolete forms of
 * section 4.3, to a time_t and the zone's offset.
 *
 * It does not read other formats (asctime, ISO 8601): those are not
 * dates in mail headers, and guessing at them would be wrong as often
 * as right.
 *
 * Rules:
 * - [day-name ","] day month year hour ":" minute [":" second] zone,
 *   with comments and white space anywhere; the day name and its comma
 *   may be missing, '-' may separate day, month and year.
 * - Two-digit years: 00-49 are 2000-2049, 50-99 are 1950-1999; three
 *   digits add 1900 (RFC 5322 4.3).
 * - Zones: +hhmm or -hhmm; UT, GMT, and the US names with their
 *   offsets; military letters and unknown names count as -0000 (zero),
 *   as RFC 5322 4.3 says; a missing zone too. Text after the zone is
 *   ignored.
 * - The time is computed without the local time zone (days from the
 *   civil date, as timegm() does, but without touching TZ).
 */
#include "config.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "mime_private.h"

static const char mime_date_months[12][4] = {
	"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec",
};

static const char mime_date_days[7][4] = {
	"mon", "tue", "wed", "thu", "fri", "sat", "sun",
};

static const struct {
	const char *name;
	int minutes;
} mime_date_zones[] = {
	{ "ut", 0 }, { "utc", 0 }, { "gmt", 0 }, { "z", 0 },
	{ "est", -5 * 60 }, { "edt", -4 * 60 },
	{ "cst", -6 * 60 }, { "cdt", -5 * 60 },
	{ "mst", -7 * 60 }, { "mdt", -6 * 60 },
	{ "pst", -8 * 60 }, { "pdt", -7 * 60 },
};

static void
mime_date_skip_cfws(const char *s, size_t *ip)
{
	size_t i = *ip;
	int depth;

	for (;;) {
		while (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' ||
		    s[i] == '\n')
			i++;
		if (s[i] != '(')
			break;
		depth = 0;
		while (s[i] != '\0') {
			if (s[i] == '\\' && s[i + 1] != '\0')
				i++;
			else if (s[i] == '(')
				depth++;
			else if (s[i] == ')' && --depth == 0) {
				i++;
				break;
			}
			i++;
		}
	}
	*ip = i;
}

static bool
mime_date_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Up to max digits at s[*ip]; -1 when there are none. */
static int
mime_date_number(const char *s, size_t *ip, int max, int *ndigits_r)
{
	size_t i = *ip;
	int v = 0, n = 0;

	while (s[i] >= '0' && s[i] <= '9' && n < max) {
		v = v * 10 + (s[i] - '0');
		i++;
		n++;
	}
	if (n == 0 || (s[i] >= '0' && s[i] <= '9'))
		return -1;
	*ip = i;
	if (ndigits_r != NULL)
		*ndigits_r = n;
	return v;
}

/* A word of letters at s[*ip], its length (0: none). */
static size_t
mime_date_word(const char *s, size_t *ip)
{
	size_t i = *ip;

	while (mime_date_alpha((unsigned char)s[i]))
		i++;
	i -= *ip;
	*ip += i;
	return i;
}

static void
mime_date_skip_sep(const char *s, size_t *ip)
{
	mime_date_skip_cfws(s, ip);
	if (s[*ip] == '-') {
		(*ip)++;
		mime_date_skip_cfws(s, ip);
	}
}

static bool
mime_date_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d (month 1-12), proleptic Gregorian. */
static int64_t
mime_date_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
mime_date_zone(const char *s, size_t i, int *zone_r)
{
	size_t start, len, k;
	int sign, v, n;

	mime_date_skip_cfws(s, &i);
	if (s[i] == '+' || s[i] == '-') {
		sign = s[i] == '-' ? -1 : 1;
		i++;
		v = mime_date_number(s, &i, 4, &n);
		if (v < 0 || n != 4 || v % 100 > 59)
			return -1;
		*zone_r = sign * (v / 100 * 60 + v % 100);
		return 0;
	}
	start = i;
	len = mime_date_word(s, &i);
	*zone_r = 0;
	for (k = 0; k < sizeof(mime_date_zones) / sizeof(mime_date_zones[0]);
	    k++)
		if (strlen(mime_date_zones[k].name) == len &&
		    strncasecmp(s + start, mime_date_zones[k].name, len) == 0)
			*zone_r = mime_date_zones[k].minutes;
	/* military letters, unknown names and no zone at all: -0000 */
	return 0;
}

int
fc_mime_date_parse(const char *value, time_t *t_r, int *zone_r)
{
	static const int mdays[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	const char *s = value;
	size_t i = 0, start, len, k;
	int day, month = -1, year, hour, min, sec = 0, n, zone;
	int64_t t;

	mime_date_skip_cfws(s, &i);
	start = i;
	len = mime_date_word(s, &i);
	if (len > 0) {
		for (k = 0; k < 7; k++)
			if (len >= 3 && strncasecmp(s + start,
			    mime_date_days[k], 3) == 0)
				break;
		if (k == 7)
			return -1;
		mime_date_skip_cfws(s, &i);
		if (s[i] == ',')
			i++;
		mime_date_skip_cfws(s, &i);
	}

	if ((day = mime_date_number(s, &i, 2, NULL)) < 1)
		return -1;
	mime_date_skip_sep(s, &i);
	start = i;
	len = mime_date_word(s, &i);
	for (k = 0; len >= 3 && k < 12; k++)
		if (strncasecmp(s + start, mime_date_months[k], 3) == 0)
			month = (int)k;
	if (month < 0)
		return -1;
	mime_date_skip_sep(s, &i);
	if ((year = mime_date_number(s, &i, 4, &n)) < 0)
		return -1;
	if (n == 2)
		year += year < 50 ? 2000 : 1900;
	else if (n == 3)
		year += 1900;
	if (year < 1900)
		return -1;

	mime_date_skip_cfws(s, &i);
	if ((hour = mime_date_number(s, &i, 2, NULL)) < 0)
		return -1;
	mime_date_skip_cfws(s, &i);
	if (s[i++] != ':')
		return -1;
	mime_date_skip_cfws(s, &i);
	if ((min = mime_date_number(s, &i, 2, NULL)) < 0)
		return -1;
	start = i;
	mime_date_skip_cfws(s, &i);
	if (s[i] == ':') {
		i++;
		mime_date_skip_cfws(s, &i);
		if ((sec = mime_date_number(s, &i, 2, NULL)) < 0)
			return -1;
	} else
		i = start;
	if (hour > 23 || min > 59 || sec > 60)
		return -1;
	if (day > mdays[month] + (month == 1 && mime_date_leap(year)))
		return -1;
	if (mime_date_zone(s, i, &zone) < 0)
		return -1;

	t = mime_date_days_from_civil(year, month + 1, day) * 86400 +
	    hour * 3600 + min * 60 + sec - (int64_t)zone * 60;
	*t_r = (time_t)t;
	*zone_r = zone;
	return 0;
}
