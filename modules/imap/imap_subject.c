/*
 * imap_subject.c - base subjects (RFC 5256 2.1), sort string comparison
 * and message id lists, for SORT and THREAD. No I/O.
 *
 * The comparison folds ASCII letters only (i;ascii-casemap): other UTF-8
 * characters compare by their bytes.
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include <facteur/arena.h>
#include <facteur/mime.h>

#include "imap_sort.h"

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* subj-blob: "[" *BLOBCHAR "]" *WSP; the length, or 0 */
static size_t
blob_len(const char *s)
{
	size_t i = 1;

	if (s[0] != '[')
		return 0;
	while (s[i] != '\0' && s[i] != '[' && s[i] != ']')
		i++;
	if (s[i] != ']')
		return 0;
	i++;
	while (is_wsp(s[i]))
		i++;
	return i;
}

/* subj-refwd: ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"; the length,
 * or 0 */
static size_t
refwd_len(const char *s)
{
	size_t i;

	if (strncasecmp(s, "re", 2) == 0)
		i = 2;
	else if (strncasecmp(s, "fwd", 3) == 0)
		i = 3;
	else if (strncasecmp(s, "fw", 2) == 0)
		i = 2;
	else
		return 0;
	while (is_wsp(s[i]))
		i++;
	i += blob_len(s + i);
	if (s[i] != ':')
		return 0;
	return i + 1;
}

/* subj-leader: (*subj-blob subj-refwd) / WSP; the length, or 0 */
static size_t
leader_len(const char *s)
{
	size_t i = 0, b, r;

	if (is_wsp(s[0]))
		return 1;
	while ((b = blob_len(s + i)) > 0)
		i += b;
	r = refwd_len(s + i);
	return r == 0 ? 0 : i + r;
}

const char *
imap_base_subject(struct fc_arena *a, const char *raw, bool *reply_r)
{
	char *s, *w, *r, *end;
	bool reply = false, again;
	size_t n;

	*reply_r = false;
	if (raw == NULL)
		return "";
	/* (1) decoded, white space runs as one space */
	s = fc_mime_header_decode(a, raw);
	for (r = w = s; *r != '\0'; r++) {
		char c = *r == '\t' || *r == '\r' || *r == '\n' ? ' ' : *r;

		if (c == ' ' && w > s && w[-1] == ' ')
			continue;
		*w++ = c;
	}
	*w = '\0';
	end = w;
	for (;;) {
		/* (2) trailers: "(fwd)" and white space */
		for (;;) {
			n = (size_t)(end - s);
			if (n > 0 && is_wsp(end[-1])) {
				*--end = '\0';
				continue;
			}
			if (n >= 5 && strncasecmp(end - 5, "(fwd)", 5) == 0) {
				end -= 5;
				*end = '\0';
				reply = true;
				continue;
			}
			break;
		}
		/* (3) leaders, (4) a blob that does not leave nothing */
		do {
			again = false;
			while ((n = leader_len(s)) > 0) {
				if (!is_wsp(s[0]))
					reply = true;
				s += n;
				again = true;
			}
			n = blob_len(s);
			if (n > 0 && s[n] != '\0') {
				s += n;
				again = true;
			}
		} while (again);
		/* (5) "[fwd:" subject "]" */
		n = (size_t)(end - s);
		if (n >= 6 && strncasecmp(s, "[fwd:", 5) == 0
		    && end[-1] == ']') {
			s += 5;
			*--end = '\0';
			reply = true;
			continue;
		}
		break;
	}
	*reply_r = reply;
	return s;
}

int
imap_sort_strcmp(const char *x, const char *y)
{
	return strcasecmp(x, y);
}

const char **
imap_msgids_parse(struct fc_arena *a, const char *value, size_t *n_r)
{
	const char **ids, *p, *q;
	size_t n = 0, max = 0;

	*n_r = 0;
	if (value == NULL)
		return NULL;
	for (p = value; *p != '\0'; p++)
		if (*p == '<')
			max++;
	if (max == 0)
		return NULL;
	ids = fc_arena_alloc(a, max * sizeof(*ids));
	for (p = value; (p = strchr(p, '<')) != NULL; p = q) {
		q = p + 1;
		while (*q != '\0' && *q != '<' && *q != '>' && *q != ' '
		    && *q != '\t' && *q != '\r' && *q != '\n')
			q++;
		if (*q != '>' || q == p + 1)
			continue;
		q++;
		ids[n++] = fc_arena_strndup(a, p, (size_t)(q - p));
	}
	*n_r = n;
	return n > 0 ? ids : NULL;
}
