/*
 * fuzz_imap_render.c - libFuzzer target for the IMAP rendering of a
 * message (modules/imap/imap_render.h).
 *
 * Input: byte 0 picks the partial range's offset (low four bits) and
 * length (high four); the rest is the message, stored in a file as it
 * is. ENVELOPE, BODY and BODYSTRUCTURE are written with and without
 * UTF-8. Then sections of every kind on a set of part numbers, and the
 * first line of the message taken as a section spec, are read whole and
 * as a partial, for BODY and BINARY: each reader must give exactly the
 * bytes it announced, a partial must be the same bytes as the whole
 * section cut, and BODY[] must be the message in CRLF form, equal to
 * BODY[HEADER] followed by BODY[TEXT].
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/mime.h>

#include "imap_render.h"
#include "imap_str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_check(bool cond, const char *what, const char *spec)
{
	if (!cond) {
		fprintf(stderr, "fuzz_imap_render: %s [%s]\n", what, spec);
		abort();
	}
}

/* The section's bytes into out; false when it does not parse or open. */
static bool
fuzz_read(struct fc_arena *a, const char *spec, size_t spec_len,
    bool binary, const struct fc_mime_part *root, int fd, uint64_t off,
    uint64_t len, struct imap_str *out)
{
	struct imap_section *sec;
	struct imap_section_reader *r;
	struct imap_str name;
	const char *error;
	uint64_t size;
	char buf[777];
	size_t step = 1;
	ssize_t n;

	if (imap_section_parse(a, spec, spec_len, binary, &sec, &error) < 0)
		return false;
	imap_str_init(&name);
	imap_section_name_write(&name, binary ? "BINARY" : "BODY", sec, off);
	imap_str_free(&name);
	if (imap_section_open(a, sec, root, fd, false, off, len, &r, &size,
	    &error) < 0)
		return false;
	while ((n = imap_section_read(r, buf, step)) > 0) {
		imap_str_add(out, buf, (size_t)n);
		step = step * 5 % 700 + 1;
	}
	fuzz_check(n == 0, "read error", spec);
	fuzz_check(out->len == size, "size announced differs from bytes read",
	    spec);
	return true;
}

/* Whole and partial agree. */
static void
fuzz_section(struct fc_arena *a, const char *spec, size_t spec_len,
    bool binary, const struct fc_mime_part *root, int fd, uint64_t off,
    uint64_t len)
{
	struct imap_str whole, part;
	char shown[64];

	snprintf(shown, sizeof(shown), "%.*s", (int)(spec_len < 60 ?
	    spec_len : 60), spec);
	imap_str_init(&whole);
	imap_str_init(&part);
	if (fuzz_read(a, spec, spec_len, binary, root, fd, 0, UINT64_MAX,
	    &whole)) {
		fuzz_check(fuzz_read(a, spec, spec_len, binary, root, fd, off,
		    len, &part), "partial fails where whole works", shown);
		if (off >= whole.len)
			fuzz_check(part.len == 0, "partial past the end", shown);
		else {
			uint64_t want = whole.len - off;

			if (want > len)
				want = len;
			fuzz_check(part.len == want &&
			    memcmp(part.data, whole.data + off, want) == 0,
			    "partial is not the whole cut", shown);
		}
	}
	imap_str_free(&whole);
	imap_str_free(&part);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const parts[] = {
		"", "1", "2", "3", "1.1", "1.2", "2.1", "2.2", "1.1.1",
		"2.1.1", "2.1.2", "1.2.1", "3.1", "4",
	};
	static const char *const kinds[] = {
		"", "HEADER", "TEXT", "MIME", "HEADER.FIELDS (FROM SUBJECT)",
		"HEADER.FIELDS.NOT (content-type \"Received\")",
	};
	static int fd = -1;
	struct fc_arena *a;
	struct fc_mime_part *root;
	struct imap_str out, whole, head, text, crlf;
	uint64_t off, len;
	const uint8_t *msg;
	size_t msg_len, i, k;
	char spec[128];
	const char *nl;

	if (size < 1)
		return 0;
	off = (uint64_t)(data[0] & 15) * 7;
	len = (uint64_t)(data[0] >> 4) * 5 + 1;
	msg = data + 1;
	msg_len = size - 1;
	if (fd < 0) {
		char path[] = "/tmp/fuzz_imap_render.XXXXXX";

		fd = mkstemp(path);
		if (fd < 0)
			abort();
		unlink(path);
	}
	if (ftruncate(fd, 0) < 0 || (msg_len > 0 &&
	    pwrite(fd, msg, msg_len, 0) != (ssize_t)msg_len))
		abort();

	a = fc_arena_new("fuzz", 0);
	root = fc_mime_parse_fd(a, fd, NULL);
	fuzz_check(root != NULL, "parse", "");
	imap_str_init(&out);
	imap_envelope_write(&out, root, false);
	imap_envelope_write(&out, root, true);
	imap_bodystructure_write(&out, root, false, false);
	imap_bodystructure_write(&out, root, true, false);
	imap_bodystructure_write(&out, root, true, true);
	imap_str_free(&out);

	/* BODY[] is the message in CRLF form, and HEADER then TEXT */
	imap_str_init(&whole);
	imap_str_init(&head);
	imap_str_init(&text);
	imap_str_init(&crlf);
	for (i = 0; i < msg_len; i++) {
		if (msg[i] == '\n' && (i == 0 || msg[i - 1] != '\r'))
			imap_str_addc(&crlf, '\r');
		imap_str_addc(&crlf, (char)msg[i]);
	}
	fuzz_check(fuzz_read(a, "", 0, false, root, fd, 0, UINT64_MAX,
	    &whole), "BODY[]", "");
	fuzz_check(whole.len == crlf.len && (crlf.len == 0 ||
	    memcmp(whole.data, crlf.data, crlf.len) == 0),
	    "BODY[] is not the message in CRLF form", "");
	fuzz_check(fuzz_read(a, "HEADER", 6, false, root, fd, 0, UINT64_MAX,
	    &head) && fuzz_read(a, "TEXT", 4, false, root, fd, 0,
	    UINT64_MAX, &text), "HEADER, TEXT", "");
	fuzz_check(head.len + text.len == whole.len &&
	    (head.len == 0 || memcmp(head.data, whole.data, head.len) == 0) &&
	    (text.len == 0 || memcmp(text.data, whole.data + head.len,
	    text.len) == 0), "HEADER and TEXT do not make BODY[]", "");
	imap_str_free(&whole);
	imap_str_free(&head);
	imap_str_free(&text);
	imap_str_free(&crlf);

	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
			snprintf(spec, sizeof(spec), "%s%s%s", parts[i],
			    parts[i][0] != '\0' && kinds[k][0] != '\0' ?
			    "." : "", kinds[k]);
			fuzz_section(a, spec, strlen(spec), false, root, fd,
			    off, len);
		}
		fuzz_section(a, parts[i], strlen(parts[i]), true, root, fd,
		    off, len);
	}
	/* the first line as a spec, to reach the section parser */
	nl = memchr(msg, '\n', msg_len);
	k = nl != NULL ? (size_t)(nl - (const char *)msg) : msg_len;
	if (k > 0 && k < 200) {
		fuzz_section(a, (const char *)msg, k, false, root, fd, off,
		    len);
		fuzz_section(a, (const char *)msg, k, true, root, fd, off,
		    len);
	}
	fc_arena_free(&a);
	return 0;
}
