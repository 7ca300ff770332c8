/*
 * pop3_parse.c - POP3 command lines (RFC 1939 section 3, RFC 2449
 * section 3): a keyword of three or four letters in any case, then
 * arguments separated by spaces.
 *
 * We accept runs of spaces between arguments and trailing spaces, as
 * the clients seen in the wild need, but nothing else: a tab is not a
 * separator, a NUL anywhere refuses the line (it would cut the command
 * short behind our back), and numbers are plain decimal digits (no
 * sign, no leading space, at most 32 bits), so "RETR -1", "RETR 0x10"
 * and "RETR 99999999999" are errors, not messages.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "pop3.h"

static const struct {
	const char *name;
	enum pop3_verb verb;
} pop3_verbs[] = {
	{ "USER", POP3_V_USER }, { "PASS", POP3_V_PASS },
	{ "AUTH", POP3_V_AUTH }, { "STLS", POP3_V_STLS },
	{ "CAPA", POP3_V_CAPA }, { "QUIT", POP3_V_QUIT },
	{ "STAT", POP3_V_STAT }, { "LIST", POP3_V_LIST },
	{ "RETR", POP3_V_RETR }, { "DELE", POP3_V_DELE },
	{ "NOOP", POP3_V_NOOP }, { "RSET", POP3_V_RSET },
	{ "TOP", POP3_V_TOP }, { "UIDL", POP3_V_UIDL },
	{ "APOP", POP3_V_APOP },
};

enum pop3_verb
pop3_verb_lookup(const char *word, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(pop3_verbs) / sizeof(pop3_verbs[0]); i++)
		if (strlen(pop3_verbs[i].name) == len
		    && strncasecmp(pop3_verbs[i].name, word, len) == 0)
			return pop3_verbs[i].verb;
	return POP3_V_UNKNOWN;
}

int
pop3_parse_line(char *line, size_t len, bool split_args,
    struct pop3_cmdline *c)
{
	char *p, *sp;

	memset(c, 0, sizeof(*c));
	if (len == 0 || strlen(line) != len)
		return -1;
	sp = strchr(line, ' ');
	c->verb = pop3_verb_lookup(line, sp != NULL ? (size_t)(sp - line) :
	    len);
	c->rest = sp != NULL ? sp + 1 : line + len;
	if (!split_args)
		return 0;
	for (p = c->rest;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		if (c->argc == POP3_ARGS_MAX) {
			c->too_many = true;
			break;
		}
		c->argv[c->argc++] = p;
		while (*p != ' ' && *p != '\0')
			p++;
		if (*p == ' ')
			*p++ = '\0';
	}
	return 0;
}

int
pop3_parse_number(const char *s, uint32_t *r)
{
	uint64_t n = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		n = n * 10 + (uint64_t)(*s - '0');
		if (n > UINT32_MAX)
			return -1;
	}
	*r = (uint32_t)n;
	return 0;
}
