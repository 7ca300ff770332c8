/*
 * mime_content.c - the Content-Type, Content-Disposition and
 * Content-Transfer-Encoding fields of a part (RFC 2045, 2183), with
 * their parameters (RFC 2231), and the accessors for what they say.
 *
 * It reads the fields mime_header.c kept; it does not find boundaries
 * (mime_parser.c uses the raw boundary this file leaves in the part).
 *
 * Rules:
 * - The first field of each name counts. A Content-Type that is not
 *   type/subtype is ignored (RFC 2045 5.2: text/plain), and so are its
 *   parameters. Without one, a part of multipart/digest is message/rfc822.
 * - Parameters: names in lower case; comments and white space skipped;
 *   values quoted or not (unquoted values may hold '=', '/', '?': real
 *   boundaries do). RFC 2231 forms (name*, name*0, name*1*) win over a
 *   plain one of the same name; their pieces are joined in index order,
 *   percent-decoded when marked so, and converted from the charset the
 *   first one names. Plain values are decoded as header text would be
 *   (encoded words, which mailers put in quoted file names, and raw
 *   8-bit). The boundary is kept as written: it is matched byte for
 *   byte against lines, never decoded.
 * - At most MIME_PARAMS_MAX parameters per field are read, so that a
 *   hostile header cannot make merging them quadratic.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <facteur/arena.h>

#include "mime_private.h"

#define MIME_PARAMS_MAX		256
#define MIME_SECTION_MAX	999	/* highest RFC 2231 index read */

struct mime_raw_param {
	char *name;			/* lower case, suffix cut off */
	const char *value;		/* unquoted */
	size_t value_len;
	int index;			/* RFC 2231 section, or -1 */
	bool extended;			/* "*" at the end: percent-encoded */
	bool done;			/* merged into an earlier one */
};

/* RFC 2045 tspecials, and what no token holds either */
static bool
mime_content_is_tchar(unsigned char c)
{
	if (c <= ' ' || c >= 127)
		return false;
	return strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* Skips white space, line ends and (nested) comments. */
static void
mime_content_skip_cfws(const char *s, size_t *ip)
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

static char *
mime_content_lower(struct fc_arena *a, const char *s, size_t n)
{
	char *r = fc_arena_strndup(a, s, n);
	size_t i;

	for (i = 0; i < n; i++)
		r[i] = (char)tolower((unsigned char)r[i]);
	return r;
}

static size_t
mime_content_token(const char *s, size_t i)
{
	size_t start = i;

	while (mime_content_is_tchar((unsigned char)s[i]))
		i++;
	return i - start;
}

/* A quoted string starting at s[*ip] == '"': its content, with the
 * backslashes of quoted pairs removed, into the arena. */
static const char *
mime_content_quoted(struct fc_arena *a, const char *s, size_t *ip,
    size_t *len_r)
{
	struct mime_buf b = { 0 };
	size_t i = *ip + 1;
	const char *r;

	while (s[i] != '\0' && s[i] != '"') {
		if (s[i] == '\\' && s[i + 1] != '\0')
			i++;
		/* folding inside a quoted string is not part of it */
		if (s[i] != '\r' && s[i] != '\n')
			mime_buf_addc(&b, (unsigned char)s[i]);
		i++;
	}
	if (s[i] == '"')
		i++;
	*ip = i;
	*len_r = b.len;
	r = mime_buf_arena(a, &b);
	mime_buf_free(&b);
	return r;
}

/* Splits "name*2*" into name, index and the extended mark. */
static void
mime_content_param_name(struct mime_raw_param *rp)
{
	char *star = strchr(rp->name, '*'), *end;
	long idx;

	rp->index = -1;
	rp->extended = false;
	if (star == NULL || star == rp->name)
		return;
	if (star[1] == '\0') {
		rp->extended = true;
		*star = '\0';
		return;
	}
	if (!isdigit((unsigned char)star[1]))
		return;
	idx = strtol(star + 1, &end, 10);
	if (idx > MIME_SECTION_MAX || (star[1] == '0' && star[2] != '*' &&
	    star[2] != '\0'))
		return;
	if (*end == '*' && end[1] == '\0')
		rp->extended = true;
	else if (*end != '\0')
		return;
	rp->index = (int)idx;
	*star = '\0';
}

/* Reads "; name=value" pairs from s[i]; returns how many. */
static size_t
mime_content_read_params(struct fc_arena *a, const char *s, size_t i,
    struct mime_raw_param *out)
{
	size_t n = 0, start, len;

	while (s[i] != '\0' && n < MIME_PARAMS_MAX) {
		mime_content_skip_cfws(s, &i);
		if (s[i] == ';') {
			i++;
			continue;
		}
		if (s[i] == '\0')
			break;
		start = i;
		while (s[i] != '\0' && s[i] != '=' && s[i] != ';' &&
		    s[i] != '"' && s[i] != '(' &&
		    (unsigned char)s[i] > ' ')
			i++;
		len = i - start;
		mime_content_skip_cfws(s, &i);
		if (len == 0 || s[i] != '=') {
			/* no value: skip to the next parameter */
			if (len == 0 && s[i] != '\0' && s[i] != ';')
				i++;
			while (s[i] != '\0' && s[i] != ';')
				i++;
			continue;
		}
		out[n].name = mime_content_lower(a, s + start, len);
		i++;
		mime_content_skip_cfws(s, &i);
		if (s[i] == '"') {
			out[n].value = mime_content_quoted(a, s, &i,
			    &out[n].value_len);
		} else {
			start = i;
			while (s[i] != '\0' && s[i] != ';' && s[i] != '"' &&
			    s[i] != '(' && (unsigned char)s[i] > ' ')
				i++;
			out[n].value = fc_arena_strndup(a, s + start,
			    i - start);
			out[n].value_len = i - start;
		}
		out[n].done = false;
		mime_content_param_name(&out[n]);
		n++;
	}
	return n;
}

static int
mime_content_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void
mime_content_percent(struct mime_buf *b, const char *s, size_t n)
{
	size_t i;
	int hi, lo;

	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n &&
		    (hi = mime_content_hex((unsigned char)s[i + 1])) >= 0 &&
		    (lo = mime_content_hex((unsigned char)s[i + 2])) >= 0) {
			mime_buf_addc(b, (unsigned char)(hi << 4 | lo));
			i += 2;
		} else
			mime_buf_addc(b, (unsigned char)s[i]);
	}
}

static int
mime_content_index_cmp(const void *x, const void *y)
{
	const struct mime_raw_param *const *a = x, *const *b = y;

	return (*a)->index - (*b)->index;
}

/*
 * RFC 2231: the pieces of one parameter (an extended single value is
 * one piece) to UTF-8. The charset and language prefix is the first
 * extended piece's, and only when it is the first piece.
 */
static const char *
mime_content_rfc2231(struct fc_arena *a, struct mime_raw_param **pieces,
    size_t n)
{
	struct mime_buf bytes = { 0 }, out = { 0 };
	char *charset = NULL;
	const char *v, *q1, *q2;
	size_t i, vlen;
	const char *r;

	for (i = 0; i < n; i++) {
		v = pieces[i]->value;
		vlen = pieces[i]->value_len;
		if (!pieces[i]->extended) {
			mime_buf_add(&bytes, v, vlen);
			continue;
		}
		if (i == 0 && (q1 = memchr(v, '\'', vlen)) != NULL &&
		    (q2 = memchr(q1 + 1, '\'', vlen - (size_t)(q1 + 1 - v)))
		    != NULL) {
			if (q1 > v)
				charset = fc_arena_strndup(a, v,
				    (size_t)(q1 - v));
			vlen -= (size_t)(q2 + 1 - v);
			v = q2 + 1;
		}
		mime_content_percent(&bytes, v, vlen);
	}
	if (charset != NULL)
		mime_charset_to_utf8(&out, charset,
		    (const unsigned char *)bytes.data, bytes.len);
	else
		mime_raw_to_utf8(&out, (const unsigned char *)bytes.data,
		    bytes.len);
	r = mime_buf_arena(a, &out);
	mime_buf_free(&out);
	mime_buf_free(&bytes);
	return r;
}

static const char *
mime_content_plain_value(struct fc_arena *a, const struct mime_raw_param *rp,
    bool raw_boundary)
{
	struct mime_buf out = { 0 };
	const char *r;
	size_t i;
	bool decode = false;

	if (raw_boundary && strcmp(rp->name, "boundary") == 0)
		return rp->value;
	for (i = 0; i < rp->value_len && !decode; i++)
		if ((unsigned char)rp->value[i] >= 0x80 ||
		    (rp->value[i] == '=' && rp->value[i + 1] == '?'))
			decode = true;
	if (!decode)
		return rp->value;
	mime_words_decode(&out, rp->value, rp->value_len);
	r = mime_buf_arena(a, &out);
	mime_buf_free(&out);
	return r;
}

/* Merges the raw parameters into one entry per name, in the order their
 * names first appear; with raw_boundary (Content-Type), a plain
 * boundary is kept as written. */
static struct mime_param *
mime_content_merge(struct fc_arena *a, struct mime_raw_param *raw, size_t n,
    bool raw_boundary, size_t *count_r)
{
	struct mime_raw_param *pieces[MIME_PARAMS_MAX], *plain, *single;
	struct mime_param *params;
	size_t i, j, npieces, count = 0;

	params = fc_arena_alloc(a, (n > 0 ? n : 1) * sizeof(*params));
	for (i = 0; i < n; i++) {
		if (raw[i].done)
			continue;
		plain = single = NULL;
		npieces = 0;
		for (j = i; j < n; j++) {
			if (raw[j].done ||
			    strcmp(raw[j].name, raw[i].name) != 0)
				continue;
			raw[j].done = true;
			if (raw[j].index >= 0)
				pieces[npieces++] = &raw[j];
			else if (raw[j].extended) {
				if (single == NULL)
					single = &raw[j];
			} else if (plain == NULL)
				plain = &raw[j];
		}
		params[count].name = raw[i].name;
		if (npieces > 0) {
			qsort(pieces, npieces, sizeof(*pieces),
			    mime_content_index_cmp);
			/* a repeated index: the first one counts */
			for (j = 1; j < npieces; j++)
				if (pieces[j]->index == pieces[j - 1]->index) {
					memmove(pieces + j, pieces + j + 1,
					    (npieces - j - 1) *
					    sizeof(*pieces));
					npieces--;
					j--;
				}
			params[count].value = mime_content_rfc2231(a, pieces,
			    npieces);
		} else if (single != NULL)
			params[count].value = mime_content_rfc2231(a, &single,
			    1);
		else
			params[count].value = mime_content_plain_value(a,
			    plain, raw_boundary);
		count++;
	}
	*count_r = count;
	return params;
}

static struct mime_param *
mime_content_params(struct fc_arena *a, const char *s, size_t i,
    size_t *count_r, const char **boundary_r)
{
	struct mime_raw_param *raw;
	struct mime_param *params;
	size_t n, k;

	raw = fc_calloc(MIME_PARAMS_MAX, sizeof(*raw));
	n = mime_content_read_params(a, s, i, raw);
	if (boundary_r != NULL) {
		*boundary_r = NULL;
		for (k = 0; k < n; k++)
			if (raw[k].index < 0 && !raw[k].extended &&
			    strcmp(raw[k].name, "boundary") == 0) {
				*boundary_r = raw[k].value;
				break;
			}
	}
	if (n == 0) {
		free(raw);
		*count_r = 0;
		return NULL;
	}
	/* the merge is quadratic in n, which MIME_PARAMS_MAX bounds */
	params = mime_content_merge(a, raw, n, boundary_r != NULL, count_r);
	free(raw);
	return params;
}

static const char *
mime_content_field(const struct fc_mime_part *part, const char *name)
{
	return fc_mime_part_header(part, name, 0);
}

static void
mime_content_type(struct fc_arena *a, struct fc_mime_part *part,
    const char *s)
{
	size_t i = 0, tlen, slen, tstart, sstart;
	const char *boundary = NULL;
	size_t n;

	mime_content_skip_cfws(s, &i);
	tstart = i;
	tlen = mime_content_token(s, i);
	i += tlen;
	mime_content_skip_cfws(s, &i);
	if (tlen == 0 || s[i] != '/')
		return;
	i++;
	mime_content_skip_cfws(s, &i);
	sstart = i;
	slen = mime_content_token(s, i);
	i += slen;
	if (slen == 0)
		return;
	part->type = mime_content_lower(a, s + tstart, tlen);
	part->subtype = mime_content_lower(a, s + sstart, slen);
	part->params = mime_content_params(a, s, i, &part->nparams,
	    &boundary);
	if (boundary != NULL) {
		/* the boundary cannot end in a space (RFC 2046 5.1.1) */
		n = strlen(boundary);
		while (n > 0 && mime_is_wsp((unsigned char)boundary[n - 1]))
			n--;
		part->boundary = boundary;
		part->boundary_len = n;
	}
}

static void
mime_content_disposition(struct fc_arena *a, struct fc_mime_part *part,
    const char *s)
{
	size_t i = 0, len, start;

	mime_content_skip_cfws(s, &i);
	start = i;
	len = mime_content_token(s, i);
	if (len == 0)
		return;
	part->disposition = mime_content_lower(a, s + start, len);
	part->dparams = mime_content_params(a, s, i + len, &part->ndparams,
	    NULL);
}

static void
mime_content_encoding(struct fc_arena *a, struct fc_mime_part *part,
    const char *s)
{
	static const struct {
		const char *name;
		enum fc_mime_encoding enc;
	} names[] = {
		{ "7bit", FC_MIME_ENC_7BIT },
		{ "8bit", FC_MIME_ENC_8BIT },
		{ "binary", FC_MIME_ENC_BINARY },
		{ "base64", FC_MIME_ENC_BASE64 },
		{ "quoted-printable", FC_MIME_ENC_QP },
	};
	size_t i = 0, k, start, len;

	part->encoding_raw = fc_mime_header_unfold(a, s);
	mime_content_skip_cfws(s, &i);
	start = i;
	len = mime_content_token(s, i);
	if (len == 0) {
		part->encoding = FC_MIME_ENC_7BIT;
		return;
	}
	part->encoding = FC_MIME_ENC_OTHER;
	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		if (strlen(names[k].name) == len &&
		    strncasecmp(s + start, names[k].name, len) == 0)
			part->encoding = names[k].enc;
}

void
mime_content_parse(struct fc_arena *a, struct fc_mime_part *part)
{
	const struct fc_mime_part *parent = part->parent;
	const char *v;

	if (parent != NULL && strcmp(parent->type, "multipart") == 0 &&
	    strcmp(parent->subtype, "digest") == 0) {
		part->type = "message";
		part->subtype = "rfc822";
	} else {
		part->type = "text";
		part->subtype = "plain";
	}
	if ((v = mime_content_field(part, "Content-Type")) != NULL)
		mime_content_type(a, part, v);
	if ((v = mime_content_field(part, "Content-Disposition")) != NULL)
		mime_content_disposition(a, part, v);
	if ((v = mime_content_field(part, "Content-Transfer-Encoding")) != NULL)
		mime_content_encoding(a, part, v);
}

/* ------------------------------------------------------------------ */
/* Accessors */

const char *
fc_mime_part_type(const struct fc_mime_part *p)
{
	return p->type;
}

const char *
fc_mime_part_subtype(const struct fc_mime_part *p)
{
	return p->subtype;
}

static const char *
mime_content_param_find(const struct mime_param *params, size_t n,
    const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcasecmp(params[i].name, name) == 0)
			return params[i].value;
	return NULL;
}

bool
fc_mime_part_param_at(const struct fc_mime_part *p, size_t idx,
    const char **name_r, const char **value_r)
{
	if (idx >= p->nparams)
		return false;
	*name_r = p->params[idx].name;
	*value_r = p->params[idx].value;
	return true;
}

const char *
fc_mime_part_param(const struct fc_mime_part *p, const char *name)
{
	return mime_content_param_find(p->params, p->nparams, name);
}

const char *
fc_mime_part_disposition(const struct fc_mime_part *p)
{
	return p->disposition;
}

bool
fc_mime_part_disposition_param_at(const struct fc_mime_part *p, size_t idx,
    const char **name_r, const char **value_r)
{
	if (idx >= p->ndparams)
		return false;
	*name_r = p->dparams[idx].name;
	*value_r = p->dparams[idx].value;
	return true;
}

const char *
fc_mime_part_disposition_param(const struct fc_mime_part *p,
    const char *name)
{
	return mime_content_param_find(p->dparams, p->ndparams, name);
}

enum fc_mime_encoding
fc_mime_part_encoding(const struct fc_mime_part *p)
{
	return p->encoding;
}

const char *
fc_mime_part_encoding_raw(const struct fc_mime_part *p)
{
	return p->encoding_raw;
}
