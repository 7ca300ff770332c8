/*
 * maildir_name.c - mailbox names on disk.
 *
 * The API's "Work/Project é.2" becomes the folder ".Work.Project &AOk-&AC4-2":
 * levels are joined with '.', each in modified UTF-7, and a '.' inside a
 * level is written "&AC4-" (the encoder never writes that itself, since
 * '.' is printable ASCII, so the escape cannot be confused with a real
 * shift). Names have passed fc_mailbox_name_check() already, so no level
 * is empty, ".", "..", or holds '/' or a control character.
 */
#include <limits.h>
#include <string.h>

#include <facteur/arena.h>
#include <facteur/log.h>

#include "maildir.h"

#define MAILDIR_DOT_ESCAPE	"&AC4-"

char *
maildir_name_to_disk(struct fc_arena *a, const char *name,
    const char **reason_r)
{
	char *copy = fc_arena_strdup(a, name), *level, *save, *out;
	size_t o = 0, len = strlen(name) * 24 + 2;

	out = fc_arena_alloc(a, len);
	for (level = strtok_r(copy, "/", &save); level != NULL;
	    level = strtok_r(NULL, "/", &save)) {
		const char *enc = fc_mutf7_encode(a, level), *p;

		out[o++] = '.';
		for (p = enc; *p != '\0'; p++) {
			if (*p == '.') {
				memcpy(out + o, MAILDIR_DOT_ESCAPE, 5);
				o += 5;
			} else
				out[o++] = *p;
		}
	}
	out[o] = '\0';
	/* every level is in one directory entry: the whole must fit */
	if (o > NAME_MAX) {
		*reason_r = "name too long for the file system";
		return NULL;
	}
	return out;
}

/* ".Work.Project &AOk-&AC4-2" back to "Work/Project é.2"; NULL for a
 * folder name we would not have written. */
char *
maildir_name_from_disk(struct fc_arena *a, const char *folder)
{
	char *copy, *level, *save, *out;
	const char *reason;
	size_t o = 0;

	if (folder[0] != '.' || folder[1] == '\0')
		return NULL;
	copy = fc_arena_strdup(a, folder + 1);
	out = fc_arena_alloc(a, strlen(folder) * 4 + 1);
	for (level = strtok_r(copy, ".", &save); level != NULL;
	    level = strtok_r(NULL, ".", &save)) {
		char *unesc = fc_arena_alloc(a, strlen(level) + 1), *p;
		const char *dec;
		size_t u = 0;

		for (p = level; *p != '\0';) {
			if (strncmp(p, MAILDIR_DOT_ESCAPE, 5) == 0) {
				unesc[u++] = '.';
				p += 5;
			} else
				unesc[u++] = *p++;
		}
		unesc[u] = '\0';
		dec = fc_mutf7_decode(a, unesc, &reason);
		if (dec == NULL)
			return NULL;
		if (o > 0)
			out[o++] = '/';
		memcpy(out + o, dec, strlen(dec));
		o += strlen(dec);
	}
	out[o] = '\0';
	if (o == 0 || fc_mailbox_name_check(out, &reason) < 0
	    || fc_mailbox_is_inbox(out))
		return NULL;
	return out;
}

char *
maildir_folder_path(struct fc_arena *a, const struct maildir_store *ms,
    const char *name, const char **reason_r)
{
	char *disk;

	if (fc_mailbox_is_inbox(name))
		return fc_arena_strdup(a, ms->root);
	/* INBOX's children live at the top: "INBOX/x" is a mailbox of its
	 * own, not below the root's own messages */
	disk = maildir_name_to_disk(a, name, reason_r);
	if (disk == NULL)
		return NULL;
	return fc_arena_printf(a, "%s/%s", ms->root, disk);
}
