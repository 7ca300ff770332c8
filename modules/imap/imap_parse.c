/*
 * imap_parse.c - IMAP commands as a tree of arguments, and sequence
 * sets (RFC 3501 section 9, RFC 9051 section 9, RFC 7888 literals).
 *
 * The grammar is read generically: a tag, a command name, then atoms,
 * quoted strings, literals and parenthesised lists separated by single
 * spaces. What each command makes of its arguments is the command's
 * business. Two liberties, as every server takes them:
 *   - an atom may hold a bracketed part with spaces and parentheses
 *     ("BODY[HEADER.FIELDS (FROM TO)]<0.100>"), read up to its "]";
 *   - runs of spaces count as one.
 * Lists nest at most IMAP_DEPTH_MAX deep, checked before recursing, so
 * no input can exhaust the stack. Nothing here reads beyond len.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <facteur/arena.h>

#include "imap_parse.h"

struct parser {
	const char *p, *end;
	struct fc_arena *a;
	const char *error;
	bool literal8_ok;	/* APPEND: its message may be ~{n} */
};

static bool
atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){\"", c) == NULL;
}

static bool
tag_char(unsigned char c)
{
	return atom_char(c) && c != '+' && c != '%' && c != '*' && c != ']'
	    && c != '\\' && c != '[';
}

static void
skip_spaces(struct parser *ps)
{
	while (ps->p < ps->end && *ps->p == ' ')
		ps->p++;
}

static int
fail(struct parser *ps, const char *error)
{
	if (ps->error == NULL)
		ps->error = error;
	return -1;
}

static int
parse_atom(struct parser *ps, struct imap_arg *arg)
{
	const char *start = ps->p;
	int depth = 0;

	while (ps->p < ps->end) {
		unsigned char c = (unsigned char)*ps->p;

		if (c == '[') {
			/* a section: up to its "]", spaces and lists within */
			ps->p++;
			depth = 0;
			while (ps->p < ps->end && *ps->p != ']') {
				c = (unsigned char)*ps->p;
				if (c == '(')
					depth++;
				else if (c == ')' && --depth < 0)
					return fail(ps, "Unbalanced "
					    "parenthesis in section");
				else if (c < 0x20 || c >= 0x7f || c == '{')
					return fail(ps, "Invalid character "
					    "in section");
				ps->p++;
			}
			if (ps->p == ps->end)
				return fail(ps, "Missing ] in section");
			ps->p++;
			continue;
		}
		if (!atom_char(c))
			break;
		ps->p++;
	}
	if (ps->p == start)
		return fail(ps, "Invalid character");
	arg->type = IMAP_ARG_ATOM;
	arg->len = (size_t)(ps->p - start);
	arg->str = fc_arena_strndup(ps->a, start, arg->len);
	return 0;
}

static int
parse_quoted(struct parser *ps, struct imap_arg *arg)
{
	const char *q;
	char *out;
	size_t n = 0;

	ps->p++;	/* the opening quote */
	for (q = ps->p; q < ps->end && *q != '"'; q++) {
		if (*q == '\\') {
			if (++q == ps->end)
				break;
			if (*q != '\\' && *q != '"')
				return fail(ps, "Invalid escape in quoted "
				    "string");
		} else if (*q == '\r' || *q == '\n' || *q == '\0')
			return fail(ps, "Invalid character in quoted string");
		n++;
	}
	if (q >= ps->end)
		return fail(ps, "Missing closing quote");
	out = fc_arena_alloc(ps->a, n + 1);
	n = 0;
	while (ps->p < q) {
		if (*ps->p == '\\')
			ps->p++;
		out[n++] = *ps->p++;
	}
	out[n] = '\0';
	ps->p = q + 1;
	arg->type = IMAP_ARG_QUOTED;
	arg->str = out;
	arg->len = n;
	return 0;
}

/* {n}, {n+}, and with binary ~{n} and ~{n+} (RFC 3516 literal8):
 * ps->p is on the "{" */
static int
parse_literal(struct parser *ps, struct imap_arg *arg, bool binary)
{
	uint64_t n = 0;
	const char *q = ps->p + 1;

	if (q == ps->end || !isdigit((unsigned char)*q))
		return fail(ps, "Invalid literal");
	while (q < ps->end && isdigit((unsigned char)*q)) {
		n = n * 10 + (uint64_t)(*q - '0');
		if (n > (uint64_t)(ps->end - ps->p))
			return fail(ps, "Literal longer than the command");
		q++;
	}
	if (q < ps->end && *q == '+')
		q++;
	if (ps->end - q < 3 || q[0] != '}' || q[1] != '\r' || q[2] != '\n')
		return fail(ps, "Invalid literal");
	q += 3;
	if (n > (uint64_t)(ps->end - q))
		return fail(ps, "Literal longer than the command");
	arg->type = binary ? IMAP_ARG_LITERAL8 : IMAP_ARG_LITERAL;
	arg->len = (size_t)n;
	{
		/* the bytes as they are, NULs included */
		char *copy = fc_arena_alloc(ps->a, arg->len + 1);

		memcpy(copy, q, arg->len);
		copy[arg->len] = '\0';
		arg->str = copy;
	}
	ps->p = q + n;
	return 0;
}

static int parse_list(struct parser *ps, struct imap_arg *arg, int depth,
    char close);

static int
parse_arg(struct parser *ps, struct imap_arg *arg, int depth)
{
	memset(arg, 0, sizeof(*arg));
	switch (*ps->p) {
	case '"':
		return parse_quoted(ps, arg);
	case '{':
		return parse_literal(ps, arg, false);
	case '~':
		if (ps->end - ps->p < 2 || ps->p[1] != '{')
			return parse_atom(ps, arg);
		/* literal8 is only a message's, at the top of an APPEND */
		if (!ps->literal8_ok || depth > 0)
			return fail(ps, "Binary literal not allowed here");
		ps->p++;
		return parse_literal(ps, arg, true);
	case '(':
		if (depth + 1 > IMAP_DEPTH_MAX)
			return fail(ps, "Lists nested too deeply");
		ps->p++;
		return parse_list(ps, arg, depth + 1, ')');
	case ')':
		return fail(ps, "Unexpected )");
	default:
		return parse_atom(ps, arg);
	}
}

/* Members up to close (')' or the end of the command: '\0'). */
static int
parse_list(struct parser *ps, struct imap_arg *arg, int depth, char close)
{
	struct imap_arg *items = NULL, *grown;
	size_t count = 0, size = 0;

	for (;;) {
		skip_spaces(ps);
		if (ps->p == ps->end) {
			if (close != '\0')
				return fail(ps, "Missing )");
			break;
		}
		if (close != '\0' && *ps->p == close) {
			ps->p++;
			break;
		}
		if (count == size) {
			size = size == 0 ? 8 : size * 2;
			grown = fc_arena_alloc(ps->a, size * sizeof(*grown));
			if (count > 0)
				memcpy(grown, items, count * sizeof(*grown));
			items = grown;
		}
		if (parse_arg(ps, &items[count], depth) < 0)
			return -1;
		count++;
		/* arguments are separated: "a(b)" or ""x"y" is not two */
		if (ps->p < ps->end && *ps->p != ' ' && *ps->p != ')')
			return fail(ps, "Missing space between arguments");
	}
	arg->type = IMAP_ARG_LIST;
	arg->list = items;
	arg->count = count;
	return 0;
}

int
imap_parse_command(const char *buf, size_t len, struct fc_arena *a,
    struct imap_command *cmd, const char **error_r)
{
	struct parser ps = { .p = buf, .end = buf + len, .a = a };
	struct imap_arg all;
	const char *start;
	char *name;
	size_t i;

	memset(cmd, 0, sizeof(*cmd));
	start = ps.p;
	while (ps.p < ps.end && tag_char((unsigned char)*ps.p))
		ps.p++;
	if (ps.p == start || ps.p - start > IMAP_TAG_MAX) {
		*error_r = "Invalid tag";
		return -1;
	}
	if (ps.p < ps.end && *ps.p != ' ') {
		*error_r = "Invalid tag";
		return -1;
	}
	cmd->tag = fc_arena_strndup(a, start, (size_t)(ps.p - start));
	if (ps.p == ps.end) {
		*error_r = "Missing command";
		return -1;
	}
	ps.p++;
	start = ps.p;
	while (ps.p < ps.end && isalnum((unsigned char)*ps.p))
		ps.p++;
	if (ps.p == start || (ps.p < ps.end && *ps.p != ' ')) {
		*error_r = "Invalid command name";
		return -1;
	}
	name = fc_arena_strndup(a, start, (size_t)(ps.p - start));
	for (i = 0; name[i] != '\0'; i++)
		name[i] = (char)toupper((unsigned char)name[i]);
	cmd->name = name;
	ps.literal8_ok = strcmp(name, "APPEND") == 0;
	if (parse_list(&ps, &all, 0, '\0') < 0) {
		*error_r = ps.error != NULL ? ps.error : "Syntax error";
		return -1;
	}
	/* the message is the last argument, after the mailbox */
	for (i = 0; i < all.count; i++) {
		if (all.list[i].type == IMAP_ARG_LITERAL8
		    && (i == 0 || i + 1 != all.count)) {
			*error_r = "Binary literal not allowed here";
			return -1;
		}
	}
	cmd->args = all.list;
	cmd->count = all.count;
	return 0;
}

int
imap_literal_marker(const char *line, size_t len, uint64_t *size_r,
    bool *nonsync_r, size_t *marker_len_r)
{
	size_t i, digits = 0;
	uint64_t n = 0;

	if (len < 3 || line[len - 1] != '}')
		return 0;
	i = len - 1;
	*nonsync_r = false;
	if (line[i - 1] == '+') {
		*nonsync_r = true;
		i--;
	}
	while (i > 0 && isdigit((unsigned char)line[i - 1])) {
		i--;
		digits++;
	}
	if (digits == 0 || i == 0 || line[i - 1] != '{')
		return 0;
	if (digits > 19)
		return -1;
	for (size_t k = i; k < i + digits; k++)
		n = n * 10 + (uint64_t)(line[k] - '0');
	*size_r = n;
	*marker_len_r = len - (i - 1);
	return 1;
}

bool
imap_literal_marker_binary(const char *line, size_t len, size_t marker_len)
{
	size_t t;

	if (marker_len >= len)
		return false;
	t = len - marker_len - 1;	/* where the "~" would be */
	/* after "(" too: APPEND's UTF8 (~{n}) of RFC 6855 */
	return line[t] == '~' && (t == 0 || line[t - 1] == ' '
	    || line[t - 1] == '(');
}

bool
imap_arg_is_string(const struct imap_arg *arg)
{
	return arg != NULL && arg->type != IMAP_ARG_LIST;
}

bool
imap_arg_is_atom(const struct imap_arg *arg, const char *word)
{
	return arg != NULL && arg->type == IMAP_ARG_ATOM
	    && strcasecmp(arg->str, word) == 0;
}

int
imap_parse_number(const char *s, uint64_t max, uint64_t *r)
{
	uint64_t n = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		n = n * 10 + (uint64_t)(*s - '0');
		if (n > max)
			return -1;
	}
	*r = n;
	return 0;
}

/* nz-number or "*": 0 for "*" */
static int
seq_number(const char **sp, uint32_t *r)
{
	const char *s = *sp;
	uint64_t n = 0;

	if (*s == '*') {
		*r = 0;
		*sp = s + 1;
		return 0;
	}
	if (*s < '1' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		n = n * 10 + (uint64_t)(*s - '0');
		if (n > UINT32_MAX)
			return -1;
	}
	*r = (uint32_t)n;
	*sp = s;
	return 0;
}

int
imap_seqset_parse(const char *s, struct fc_arena *a, struct imap_seqset *set)
{
	size_t n = 1, i = 0;
	const char *p;

	set->saved = false;
	if (strcmp(s, "$") == 0) {
		set->ranges = NULL;
		set->count = 0;
		set->saved = true;
		return 0;
	}
	for (p = s; *p != '\0'; p++)
		if (*p == ',')
			n++;
	set->ranges = fc_arena_alloc(a, n * sizeof(*set->ranges));
	set->count = 0;
	for (p = s;;) {
		struct imap_range *r = &set->ranges[i];

		if (seq_number(&p, &r->lo) < 0)
			return -1;
		r->hi = r->lo;
		if (*p == ':') {
			p++;
			if (seq_number(&p, &r->hi) < 0)
				return -1;
		}
		i++;
		if (*p == '\0')
			break;
		if (*p != ',')
			return -1;
		p++;
	}
	set->count = i;
	return 0;
}

bool
imap_seqset_contains(const struct imap_seqset *set, uint32_t n, uint32_t max)
{
	size_t i;

	for (i = 0; i < set->count; i++) {
		uint32_t lo = set->ranges[i].lo, hi = set->ranges[i].hi, t;

		if (lo == 0)
			lo = max;
		if (hi == 0)
			hi = max;
		if (lo > hi) {
			t = lo;
			lo = hi;
			hi = t;
		}
		if (n >= lo && n <= hi)
			return true;
	}
	return false;
}

/* How many numbers the set names, or -1 if it holds "*". */
static int64_t
seqset_size(const struct imap_seqset *set)
{
	int64_t n = 0;
	size_t i;

	for (i = 0; i < set->count; i++) {
		uint32_t lo = set->ranges[i].lo, hi = set->ranges[i].hi;

		if (lo == 0 || hi == 0)
			return -1;
		n += lo <= hi ? (int64_t)hi - lo + 1 : (int64_t)lo - hi + 1;
	}
	return n;
}

/* QRESYNC's list: (uidvalidity modseq [known-uids] [(seqs uids)]) */
static int
select_qresync_parse(const struct imap_arg *l, struct fc_arena *a,
    struct imap_select_params *p, const char **error_r)
{
	uint64_t n;
	size_t i = 2;
	int64_t nseq, nuid;

	*error_r = "QRESYNC (uidvalidity modseq [known-uids] "
	    "[(seq-match uid-match)])";
	if (l->type != IMAP_ARG_LIST || l->count < 2 || l->count > 4)
		return -1;
	if (l->list[0].type != IMAP_ARG_ATOM
	    || imap_parse_number(l->list[0].str, UINT32_MAX, &n) < 0 || n == 0)
		return -1;
	p->uidvalidity = (uint32_t)n;
	/* mod-sequence-value: 0 asks for every message */
	if (l->list[1].type != IMAP_ARG_ATOM
	    || imap_parse_number(l->list[1].str, INT64_MAX, &p->modseq) < 0)
		return -1;
	if (i < l->count && l->list[i].type == IMAP_ARG_ATOM) {
		if (imap_seqset_parse(l->list[i].str, a, &p->known_uids) < 0) {
			*error_r = "Invalid known-uids";
			return -1;
		}
		i++;
	}
	if (i < l->count) {
		const struct imap_arg *m = &l->list[i];

		if (m->type != IMAP_ARG_LIST || m->count != 2
		    || m->list[0].type != IMAP_ARG_ATOM
		    || m->list[1].type != IMAP_ARG_ATOM
		    || imap_seqset_parse(m->list[0].str, a, &p->seq_match) < 0
		    || imap_seqset_parse(m->list[1].str, a, &p->uid_match) < 0) {
			*error_r = "Invalid (seq-match uid-match)";
			return -1;
		}
		nseq = seqset_size(&p->seq_match);
		nuid = seqset_size(&p->uid_match);
		if (nseq < 0 || nuid < 0 || nseq != nuid) {
			*error_r = "seq-match and uid-match must name as many "
			    "numbers, without *";
			return -1;
		}
		i++;
	}
	if (i != l->count)
		return -1;
	p->qresync = true;
	return 0;
}

int
imap_select_params_parse(const struct imap_arg *list, struct fc_arena *a,
    struct imap_select_params *p, const char **error_r)
{
	size_t i;

	memset(p, 0, sizeof(*p));
	*error_r = "SELECT mailbox [(CONDSTORE | QRESYNC (...))]";
	if (list->type != IMAP_ARG_LIST || list->count == 0)
		return -1;
	for (i = 0; i < list->count; i++) {
		const struct imap_arg *arg = &list->list[i];

		if (imap_arg_is_atom(arg, "CONDSTORE") && !p->condstore) {
			p->condstore = true;
			continue;
		}
		if (imap_arg_is_atom(arg, "QRESYNC") && !p->qresync
		    && i + 1 < list->count) {
			if (select_qresync_parse(&list->list[++i], a, p,
			    error_r) < 0)
				return -1;
			continue;
		}
		*error_r = "Unknown or repeated SELECT parameter";
		return -1;
	}
	return 0;
}
