/*
 * imap_section.c - the section of BODY[section]<partial>, BINARY[section]
 * and BINARY.SIZE (RFC 3501 6.4.5, RFC 9051 6.4.5, RFC 3516): parsing it
 * and naming it in the response. imap_section_read.c reads it.
 *
 * Rules:
 * - Keywords in any case; part numbers without leading zeros, at most
 *   nine digits each; BINARY takes part numbers only.
 * - Field names are astrings (atoms, quoted strings, literals), kept in
 *   upper case and written back as atoms or quoted strings.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include <facteur/arena.h>

#include "imap_render.h"
#include "imap_section_int.h"
#include "imap_str.h"

/* ------------------------------------------------------------------ */
/* Parsing */

static bool
section_is_astring_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\", c) == NULL;
}

/* One header-fld-name (astring) at *pos into a new string, or NULL. */
static char *
section_field_name(struct fc_arena *a, const char *t, size_t len,
    size_t *pos)
{
	size_t i = *pos, start, n, k;
	char *r;

	if (i < len && t[i] == '"') {
		r = fc_arena_alloc(a, len - i);
		n = 0;
		for (i++; i < len && t[i] != '"'; i++) {
			if (t[i] == '\\' && i + 1 < len)
				i++;
			if (t[i] == '\r' || t[i] == '\n' || t[i] == '\0')
				return NULL;
			r[n++] = t[i];
		}
		if (i >= len)
			return NULL;
		*pos = i + 1;
		r[n] = '\0';
		return r;
	}
	if (i < len && t[i] == '{') {
		/* a literal: {n} or {n+}, CRLF, n bytes */
		n = 0;
		for (i++; i < len && t[i] >= '0' && t[i] <= '9'; i++) {
			n = n * 10 + (size_t)(t[i] - '0');
			if (n > SECTION_FIELD_MAX)
				return NULL;
		}
		if (i < len && t[i] == '+')
			i++;
		if (i + 2 >= len || t[i] != '}' || t[i + 1] != '\r' ||
		    t[i + 2] != '\n')
			return NULL;
		i += 3;
		if (n > len - i)
			return NULL;
		for (k = 0; k < n; k++)
			if (t[i + k] == '\0')
				return NULL;
		*pos = i + n;
		return fc_arena_strndup(a, t + i, n);
	}
	start = i;
	while (i < len && section_is_astring_char((unsigned char)t[i]))
		i++;
	if (i == start)
		return NULL;
	*pos = i;
	return fc_arena_strndup(a, t + start, i - start);
}

static bool
section_keyword(const char *t, size_t len, size_t *pos, const char *kw)
{
	size_t n = strlen(kw);

	if (len - *pos < n || strncasecmp(t + *pos, kw, n) != 0)
		return false;
	*pos += n;
	return true;
}

int
imap_section_parse(struct fc_arena *a, const char *text, size_t len,
    bool binary, struct imap_section **sec_r, const char **error_r)
{
	struct imap_section *sec = fc_arena_alloc(a, sizeof(*sec));
	size_t pos = 0, part_end = 0, i;
	char *f;

	sec->binary = binary;
	sec->kind = SECTION_ALL;
	/* section-part: nz-number *("." nz-number) */
	while (pos < len && text[pos] >= '0' && text[pos] <= '9') {
		size_t digits = 0;

		if (text[pos] == '0')
			goto bad;
		while (pos < len && text[pos] >= '0' && text[pos] <= '9') {
			if (++digits > 9)
				goto bad;
			pos++;
		}
		part_end = pos;
		if (pos < len && text[pos] == '.') {
			pos++;
			if (pos < len && text[pos] >= '0' && text[pos] <= '9')
				continue;
			if (pos == len || binary)
				goto bad;
		}
		break;
	}
	sec->part = fc_arena_strndup(a, text, part_end);
	if (pos == len) {
		*sec_r = sec;
		return 0;
	}
	if (binary)
		goto bad;
	if (section_keyword(text, len, &pos, "HEADER.FIELDS.NOT"))
		sec->kind = SECTION_FIELDS_NOT;
	else if (section_keyword(text, len, &pos, "HEADER.FIELDS"))
		sec->kind = SECTION_FIELDS;
	else if (section_keyword(text, len, &pos, "HEADER"))
		sec->kind = SECTION_HEADER;
	else if (section_keyword(text, len, &pos, "TEXT"))
		sec->kind = SECTION_TEXT;
	else if (part_end > 0 && section_keyword(text, len, &pos, "MIME"))
		sec->kind = SECTION_MIME;
	else
		goto bad;
	if (sec->kind == SECTION_FIELDS || sec->kind == SECTION_FIELDS_NOT) {
		size_t cap = 8;

		if (pos + 1 >= len || text[pos] != ' ' || text[pos + 1] != '(')
			goto bad;
		pos += 2;
		sec->fields = fc_arena_alloc(a, cap * sizeof(char *));
		for (;;) {
			f = section_field_name(a, text, len, &pos);
			if (f == NULL || sec->nfields >= SECTION_MAX_FIELDS)
				goto bad;
			for (i = 0; f[i] != '\0'; i++)
				if (f[i] >= 'a' && f[i] <= 'z')
					f[i] = (char)(f[i] - 'a' + 'A');
			if (sec->nfields == cap) {
				char **nf = fc_arena_alloc(a,
				    2 * cap * sizeof(char *));

				memcpy(nf, sec->fields, cap * sizeof(char *));
				sec->fields = nf;
				cap *= 2;
			}
			sec->fields[sec->nfields++] = f;
			if (pos < len && text[pos] == ')') {
				pos++;
				break;
			}
			if (pos >= len || text[pos] != ' ')
				goto bad;
			pos++;
		}
	}
	if (pos != len)
		goto bad;
	*sec_r = sec;
	return 0;
bad:
	*error_r = binary ? "Invalid BINARY section" : "Invalid BODY section";
	return -1;
}

void
imap_section_name_write(struct imap_str *out, const char *item,
    const struct imap_section *sec, uint64_t origin)
{
	static const char *const kw[] = {
		[SECTION_ALL] = "",
		[SECTION_HEADER] = "HEADER",
		[SECTION_FIELDS] = "HEADER.FIELDS",
		[SECTION_FIELDS_NOT] = "HEADER.FIELDS.NOT",
		[SECTION_TEXT] = "TEXT",
		[SECTION_MIME] = "MIME",
	};
	size_t i;

	imap_str_adds(out, item);
	imap_str_addc(out, '[');
	imap_str_adds(out, sec->part);
	if (sec->kind != SECTION_ALL) {
		if (sec->part[0] != '\0')
			imap_str_addc(out, '.');
		imap_str_adds(out, kw[sec->kind]);
	}
	if (sec->kind == SECTION_FIELDS || sec->kind == SECTION_FIELDS_NOT) {
		imap_str_adds(out, " (");
		for (i = 0; i < sec->nfields; i++) {
			if (i > 0)
				imap_str_addc(out, ' ');
			imap_str_add_astring(out, sec->fields[i], false);
		}
		imap_str_addc(out, ')');
	}
	imap_str_addc(out, ']');
	if (origin != UINT64_MAX)
		imap_str_printf(out, "<%llu>", (unsigned long long)origin);
}

bool
imap_section_is_header(const struct imap_section *sec)
{
	return sec->kind == SECTION_HEADER || sec->kind == SECTION_FIELDS ||
	    sec->kind == SECTION_FIELDS_NOT || sec->kind == SECTION_MIME;
}

bool
imap_section_is_top_header(const struct imap_section *sec)
{
	return sec->part[0] == '\0' && !sec->binary &&
	    (sec->kind == SECTION_HEADER || sec->kind == SECTION_FIELDS ||
	    sec->kind == SECTION_FIELDS_NOT);
}
