/*
 * imap_section_int.h - what imap_section.c (parsing and naming sections)
 * and imap_section_read.c (reading them) share, and nobody else sees.
 */
#ifndef FACTEUR_IMAP_SECTION_INT_H
#define FACTEUR_IMAP_SECTION_INT_H

#include <stdbool.h>
#include <stddef.h>

#define SECTION_MAX_FIELDS	1000
#define SECTION_FIELD_MAX	1000	/* bytes in a field name */
#define SECTION_READ_SIZE	16384

enum section_kind {
	SECTION_ALL,			/* "" or a part number */
	SECTION_HEADER,
	SECTION_FIELDS,
	SECTION_FIELDS_NOT,
	SECTION_TEXT,
	SECTION_MIME,
};

struct imap_section {
	const char *part;		/* "1.2", or "" */
	enum section_kind kind;
	bool binary;
	char **fields;			/* upper case */
	size_t nfields;
};

#endif
