/*
 * maildir_flags.c - flags and keywords in file names.
 *
 * After ":2," come the flag letters in ASCII order: D (draft), F
 * (flagged), P (passed), R (replied), S (seen), T (trashed), and then
 * the keywords as a..z (index into facteur-keywords). T is \Deleted, as
 * other maildir readers take it. Letters we do not know (P, or others'
 * extensions) are kept as they are when we change the ones we know.
 */
#include <string.h>

#include "maildir.h"

static const struct {
	char letter;
	unsigned int flag;
} maildir_letters[] = {
	{ 'D', FC_FLAG_DRAFT },
	{ 'F', FC_FLAG_FLAGGED },
	{ 'R', FC_FLAG_ANSWERED },
	{ 'S', FC_FLAG_SEEN },
	{ 'T', FC_FLAG_DELETED },
};

static unsigned int
maildir_letter_flag(char c)
{
	size_t i;

	for (i = 0; i < sizeof(maildir_letters) / sizeof(maildir_letters[0]);
	    i++)
		if (maildir_letters[i].letter == c)
			return maildir_letters[i].flag;
	return 0;
}

unsigned int
maildir_info_flags(const char *info)
{
	unsigned int flags = 0;

	for (; *info != '\0'; info++)
		flags |= maildir_letter_flag(*info);
	return flags;
}

uint64_t
maildir_info_keywords(const char *info)
{
	uint64_t kw = 0;

	for (; *info != '\0'; info++)
		if (*info >= 'a' && *info <= 'z')
			kw |= 1ULL << (*info - 'a');
	return kw;
}

/* New letters: the unknown ones of old_info kept, ours from flags and
 * keywords; all in ASCII order, as the convention asks. */
void
maildir_info_make(char *out, size_t size, const char *old_info,
    unsigned int flags, uint64_t keywords)
{
	bool have[128] = { false };
	size_t o = 0;
	int c;

	for (; old_info != NULL && *old_info != '\0'; old_info++) {
		unsigned char u = (unsigned char)*old_info;

		if (u < 128 && u > ' ' && maildir_letter_flag((char)u) == 0
		    && !(u >= 'a' && u <= 'z'))
			have[u] = true;
	}
	for (c = 0; c < (int)(sizeof(maildir_letters) /
	    sizeof(maildir_letters[0])); c++)
		if (flags & maildir_letters[c].flag)
			have[(unsigned char)maildir_letters[c].letter] = true;
	for (c = 0; c < MAILDIR_MAX_KEYWORDS; c++)
		if (keywords & (1ULL << c))
			have['a' + c] = true;
	for (c = '!'; c < 127 && o + 1 < size; c++)
		if (have[c] && c != ',' && c != ':' && c != '/')
			out[o++] = (char)c;
	out[o] = '\0';
}

/* Splits "base:2,info" (or a name without ":2,") into its parts. */
void
maildir_parse_filename(const char *name, char *base, size_t basesize,
    char *info, size_t infosize)
{
	const char *colon = strstr(name, ":2,");
	size_t n = colon != NULL ? (size_t)(colon - name) : strlen(name);

	if (n >= basesize)
		n = basesize - 1;
	memcpy(base, name, n);
	base[n] = '\0';
	info[0] = '\0';
	if (colon != NULL) {
		n = strlen(colon + 3);
		if (n >= infosize)
			n = infosize - 1;
		memcpy(info, colon + 3, n);
		info[n] = '\0';
	}
}

static bool
maildir_base_number(const char *base, const char *key, uint64_t *v_r)
{
	const char *p = strstr(base, key);
	uint64_t v = 0;

	if (p == NULL)
		return false;
	p += strlen(key);
	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++)
		v = v * 10 + (uint64_t)(*p - '0');
	*v_r = v;
	return true;
}

/* The sizes a base name carries (",S=123,W=130"), if it has both. */
bool
maildir_base_sizes(const char *base, uint64_t *size_r, uint64_t *crlf_r)
{
	return maildir_base_number(base, ",S=", size_r)
	    && maildir_base_number(base, ",W=", crlf_r);
}
