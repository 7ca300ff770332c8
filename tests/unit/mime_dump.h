/*
 * mime_dump.h - a text dump of a parsed MIME tree, one line per part,
 * shared by the MIME unit tests and the fuzz target. The format is the
 * one of tests/mime/<name>.tree (see mime_dump.c).
 */
#ifndef FACTEUR_TESTS_MIME_DUMP_H
#define FACTEUR_TESTS_MIME_DUMP_H

#include <stddef.h>

struct fc_mime_part;

/* The dump, malloc'ed, NUL-terminated. */
char *mime_dump(const struct fc_mime_part *root);
/* The label the dump gives a part, into buf: its IMAP section, "TEXT"
 * for a multipart message (the root) or "<section>.TEXT" for a multipart
 * message inside a message part. */
void mime_dump_label(const struct fc_mime_part *part, char *buf,
    size_t size);

#endif
