/*
 * test_imap_search_text.c - SEARCH's text keys without a server: the
 * Unicode simple case folding (modules/imap/imap_casefold.c) and the
 * matcher on decoded text (modules/imap/imap_search_text.c), driven on
 * messages written to a temporary file.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <facteur/arena.h>

#include "imap_casefold.h"
#include "imap_search_text.h"
#include "tap.h"

#define NELEMS(a)	(sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *name, *in, *want;
} folds[] = {
	{ "ascii", "Hello WORLD 42", "hello world 42" },
	{ "latin-1", "\xc3\x89T\xc3\x89 \xc3\xa9t\xc3\xa9",
	  "\xc3\xa9t\xc3\xa9 \xc3\xa9t\xc3\xa9" },
	{ "latin extended-a pairs", "\xc5\x81\xc3\xb3\xc5\xba",
	  "\xc5\x82\xc3\xb3\xc5\xba" },
	{ "greek, final sigma", "\xce\xa3\xce\x9f\xcf\x86\xce\xbf\xcf\x82",
	  "\xcf\x83\xce\xbf\xcf\x86\xce\xbf\xcf\x83" },
	{ "cyrillic", "\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2",
	  "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82" },
	{ "kelvin sign", "\xe2\x84\xaa", "k" },
	{ "long s", "\xc5\xbf", "s" },
	{ "capital sharp s: simple folding", "\xe1\xba\x9e", "\xc3\x9f" },
	{ "fullwidth", "\xef\xbc\xa1", "\xef\xbd\x81" },
	{ "deseret (4 bytes)", "\xf0\x90\x90\x80", "\xf0\x90\x90\xa8" },
	{ "cjk unchanged", "\xe6\x97\xa5\xe6\x9c\xac",
	  "\xe6\x97\xa5\xe6\x9c\xac" },
	{ "invalid byte", "a\xffZ", "a\xef\xbf\xbdz" },
	{ "lone continuation", "\x80", "\xef\xbf\xbd" },
	{ "overlong", "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd" },
	{ "surrogate", "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
	{ "cut at the end", "ab\xc3", "ab\xef\xbf\xbd" },
	{ "cut, then ascii", "\xe2\x84" "A", "\xef\xbf\xbd\xef\xbf\xbd" "a" },
};

struct out {
	char buf[256];
	size_t len;
};

static void
collect(void *arg, const char *data, size_t len)
{
	struct out *o = arg;

	if (o->len + len < sizeof(o->buf)) {
		memcpy(o->buf + o->len, data, len);
		o->len += len;
	}
	o->buf[o->len] = '\0';
}

static void
fold(const char *in, size_t piece, struct out *o)
{
	struct imap_casefold cf;
	size_t len = strlen(in), i;

	memset(o, 0, sizeof(*o));
	imap_casefold_init(&cf, collect, o);
	for (i = 0; i < len; i += piece)
		imap_casefold_feed(&cf, in + i, len - i < piece ? len - i :
		    piece);
	imap_casefold_finish(&cf);
}

static const char msg_plain[] =
    "From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.org>\r\n"
    "To: =?UTF-8?B?0JjQstCw0L0=?= <ivan@example.org>\r\n"
    "Subject: =?ISO-8859-1?Q?=C9t=E9?= en =?KOI8-R?B?8NLJ18XU?=\r\n"
    "Date: Mon, 1 Mar 2021 23:30:00 -0500\r\n"
    "Content-Type: text/plain; charset=ISO-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Le caf=E9 est pr=EAt, sti=\r\n"
    "ll hot.\r\n";

static const char msg_multi[] =
    "From: bob@example.org\r\n"
    "Subject: report\r\n"
    "Date: 2 Mar 2021 01:00:00 +0100\r\n"
    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
    "\r\n"
    "preamble zebra\r\n"
    "--b1\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "R3LDvMOfZSBhdXMgTcO8bmNoZW4=\r\n"
    "--b1\r\n"
    "Content-Type: application/octet-stream; name=\"=?UTF-8?B?"
    "Z2lyYWZmZS5iaW4=?=\"\r\n"
    "Content-Disposition: attachment; "
    "filename*=UTF-8''%C3%A9l%C3%A9phant.bin\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "b2NlbG90\r\n"
    "--b1--\r\n";

static const struct {
	const char *name;
	const char *msg;
	enum imap_text_where where;
	const char *field, *needle;
	bool want;
} matches[] = {
	{ "subject, latin-1 word", msg_plain, IMAP_TEXT_FIELD, "Subject",
	  "\xc3\xa9t\xc3\xa9", true },
	{ "subject, upper case needle", msg_plain, IMAP_TEXT_FIELD,
	  "SUBJECT", "\xc3\x89T\xc3\x89 EN", true },
	{ "subject, koi8-r word", msg_plain, IMAP_TEXT_FIELD, "Subject",
	  "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82", true },
	{ "subject, raw bytes do not match", msg_plain, IMAP_TEXT_FIELD,
	  "Subject", "=C9t=E9", false },
	{ "from, decoded name", msg_plain, IMAP_TEXT_FIELD, "From",
	  "andr\xc3\xa9 <andre@", true },
	{ "to, base64 word", msg_plain, IMAP_TEXT_FIELD, "To",
	  "\xd0\xb8\xd0\xb2\xd0\xb0\xd0\xbd", true },
	{ "cc absent", msg_plain, IMAP_TEXT_FIELD, "Cc", "", false },
	{ "header present, empty string", msg_plain, IMAP_TEXT_FIELD,
	  "Content-Type", "", true },
	{ "field name is whole", msg_plain, IMAP_TEXT_FIELD, "Subj", "en",
	  false },
	{ "body, quoted-printable latin-1", msg_plain, IMAP_TEXT_BODY, NULL,
	  "CAF\xc3\x89 EST PR\xc3\x8aT", true },
	{ "body, soft line break joined", msg_plain, IMAP_TEXT_BODY, NULL,
	  "still hot", true },
	{ "body does not hold the header", msg_plain, IMAP_TEXT_BODY, NULL,
	  "andre@", false },
	{ "text holds the header", msg_plain, IMAP_TEXT_ALL, NULL,
	  "subject: \xc3\xa9t\xc3\xa9", true },
	{ "text holds the body", msg_plain, IMAP_TEXT_ALL, NULL, "pr\xc3\xaat",
	  true },
	{ "text, nothing", msg_plain, IMAP_TEXT_ALL, NULL, "absent", false },
	{ "body, base64 utf-8 part", msg_multi, IMAP_TEXT_BODY, NULL,
	  "GR\xc3\x9c\xc3\x9f" "E AUS", true },
	{ "body, not the preamble", msg_multi, IMAP_TEXT_BODY, NULL, "zebra",
	  false },
	{ "body, not a binary part", msg_multi, IMAP_TEXT_BODY, NULL, "ocelot",
	  false },
	{ "text, not a binary part", msg_multi, IMAP_TEXT_ALL, NULL, "ocelot",
	  false },
	{ "text, rfc 2047 name of an attachment", msg_multi, IMAP_TEXT_ALL,
	  NULL, "GIRAFFE", true },
	{ "text, rfc 2231 file name", msg_multi, IMAP_TEXT_ALL, NULL,
	  "\xc3\x89L\xc3\x89PHANT", true },
	{ "body, not the attachment's name", msg_multi, IMAP_TEXT_BODY, NULL,
	  "giraffe", false },
	{ "body, empty string", msg_multi, IMAP_TEXT_BODY, NULL, "", true },
	{ "field, only the top header", msg_multi, IMAP_TEXT_FIELD,
	  "Content-Transfer-Encoding", "", false },
};

static int
write_tmp(const char *data, size_t len)
{
	char path[] = "/tmp/test_imap_search_text.XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0)
		return -1;
	unlink(path);
	if (write(fd, data, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool
scan_one(struct fc_arena *a, const char *msg, size_t len,
    enum imap_text_where where, const char *field, const char *needle,
    time_t *day_r, bool *has_r)
{
	struct imap_text_key k, *keys[1] = { &k };
	struct fc_arena *tmp = fc_arena_new("test", 4096);
	int fd = write_tmp(msg, len), r;

	imap_text_key_init(&k, a, where, field, needle);
	r = imap_text_scan(fd, tmp, keys, 1, day_r, has_r);
	close(fd);
	fc_arena_free(&tmp);
	return r == 0 && k.matched;
}

/* Where raw byte i of a base64 body lands in the file: 76 characters
 * (57 bytes) a line. */
static size_t
b64_pos(size_t hl, size_t i)
{
	return hl + (i / 57) * 78 + (i % 57) * 4 / 3;
}

/* A needle cut by the 64 KiB pieces of the reading, deep in a large
 * base64 part. */
static void
test_large(struct fc_arena *a)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *head = "Subject: big\r\nContent-Transfer-Encoding: "
	    "base64\r\n\r\n";
	size_t body = 300000, n, i, hl = strlen(head), cut = 0, col = 0;
	char *raw = malloc(body), *msg = malloc(hl + body * 2);
	unsigned int acc = 0, bits = 0;

	for (i = 0; i < body; i++)
		raw[i] = "abcdefgh"[i % 8];
	while (b64_pos(hl, cut + 3) < 2 * 65536)
		cut++;
	memcpy(raw + cut, "N\xc3\x89" "EDLE", 7);
	memcpy(msg, head, hl);
	n = hl;
	/* body is a multiple of 3: no padding */
	for (i = 0; i < body; i++) {
		acc = (acc << 8) | (unsigned char)raw[i];
		bits += 8;
		while (bits >= 6) {
			msg[n++] = b64[(acc >> (bits - 6)) & 0x3f];
			bits -= 6;
			if (++col == 76) {
				msg[n++] = '\r';
				msg[n++] = '\n';
				col = 0;
			}
		}
	}
	ok(scan_one(a, msg, n, IMAP_TEXT_BODY, NULL, "n\xc3\xa9" "edle", NULL,
	    NULL), "large base64 body: a needle across two pieces");
	ok(!scan_one(a, msg, n, IMAP_TEXT_BODY, NULL, "needles", NULL, NULL),
	    "large base64 body: absent");
	free(raw);
	free(msg);
}

int
main(void)
{
	struct fc_arena *a = fc_arena_new("test", 4096);
	struct out whole, bytes;
	time_t day = 0;
	bool has = false;
	size_t i;

	plan((int)(NELEMS(folds) * 2 + NELEMS(matches) + 2 + 6));
	for (i = 0; i < NELEMS(folds); i++) {
		fold(folds[i].in, strlen(folds[i].in) + 1, &whole);
		is_str(whole.buf, folds[i].want, "fold: %s", folds[i].name);
		fold(folds[i].in, 1, &bytes);
		is_str(bytes.buf, folds[i].want, "fold a byte at a time: %s",
		    folds[i].name);
	}
	for (i = 0; i < NELEMS(matches); i++)
		ok(scan_one(a, matches[i].msg, strlen(matches[i].msg),
		    matches[i].where, matches[i].field, matches[i].needle, NULL,
		    NULL) == matches[i].want, "match: %s", matches[i].name);
	test_large(a);

	/* the sent day as written, in the field's own zone */
	scan_one(a, msg_plain, strlen(msg_plain), IMAP_TEXT_FIELD, "Subject",
	    "x", &day, &has);
	ok(has, "sent date found");
	is_int(day, 1614556800, "Mon, 1 Mar 2021 23:30 -0500 is 1 March");
	scan_one(a, msg_multi, strlen(msg_multi), IMAP_TEXT_BODY, NULL, "x",
	    &day, &has);
	ok(has, "sent date found, multipart");
	is_int(day, 1614643200, "2 Mar 2021 01:00 +0100 is 2 March");
	scan_one(a, "Subject: x\r\n\r\nbody\r\n", 20, IMAP_TEXT_FIELD,
	    "Subject", "x", &day, &has);
	ok(!has, "no Date field");
	scan_one(a, "Date: someday\r\n\r\n", 17, IMAP_TEXT_FIELD,
	    "Subject", "x", &day, &has);
	ok(!has, "a Date field that is not a date");
	fc_arena_free(&a);
	return done();
}
