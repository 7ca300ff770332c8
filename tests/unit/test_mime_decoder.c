/*
 * test_mime_decoder.c - the body decoders: base64, quoted-printable,
 * pass-through, and the charset conversion of text parts. Each input is
 * decoded whole, cut in two at every byte, cut in three at every pair
 * of places, and fed one byte at a time: the output must not change.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <facteur/arena.h>
#include <facteur/mime.h>

#include "tap.h"

#define N(a)	(sizeof(a) / sizeof((a)[0]))

struct out {
	char buf[1024];
	size_t len;
	bool overflow;
};

static void
collect(void *arg, const void *data, size_t len)
{
	struct out *o = arg;

	if (o->len + len > sizeof(o->buf)) {
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->len, data, len);
	o->len += len;
}

/* Decodes in[0..len) cut at the given places (cuts sorted, ncuts of
 * them); true when the output is want[0..wlen). */
static bool
decode_cut(const struct fc_mime_part *part, bool to_utf8, const char *in,
    size_t len, const size_t *cuts, size_t ncuts, const char *want,
    size_t wlen)
{
	struct fc_arena *a = fc_arena_new("test", 4096);
	struct fc_mime_decoder *d;
	struct out o = { .len = 0 };
	size_t pos = 0, i;
	bool same;

	d = fc_mime_decoder_new(a, part, to_utf8, collect, &o);
	for (i = 0; i < ncuts; i++) {
		fc_mime_decoder_feed(d, in + pos, cuts[i] - pos);
		pos = cuts[i];
	}
	fc_mime_decoder_feed(d, in + pos, len - pos);
	fc_mime_decoder_finish(d);
	same = !o.overflow && o.len == wlen && memcmp(o.buf, want, wlen) == 0;
	fc_arena_free(&a);
	return same;
}

static void
show(const char *what, const char *s, size_t n)
{
	char text[4096];
	size_t i, k = 0;

	for (i = 0; i < n && k + 5 < sizeof(text); i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f)
			text[k++] = (char)c;
		else
			k += (size_t)snprintf(text + k, sizeof(text) - k,
			    "\\x%02x", c);
	}
	text[k] = '\0';
	diag("%s: \"%s\"", what, text);
}

static void
check(const char *name, const char *header, bool to_utf8, const char *in,
    size_t len, const char *want, size_t wlen)
{
	struct fc_arena *a = fc_arena_new("test", 4096);
	struct fc_mime_parser *p = fc_mime_parser_new(a, NULL);
	const struct fc_mime_part *part;
	size_t cuts[2], i, j, bad = 0;
	struct fc_arena *b;

	fc_mime_parser_feed(p, header, strlen(header));
	fc_mime_parser_feed(p, "\n", 1);
	part = fc_mime_parser_finish(p);

	if (!ok(decode_cut(part, to_utf8, in, len, NULL, 0, want, wlen),
	    "%s: whole", name)) {
		struct fc_mime_decoder *d;
		struct out o = { .len = 0 };

		b = fc_arena_new("test", 4096);
		d = fc_mime_decoder_new(b, part, to_utf8, collect, &o);
		fc_mime_decoder_feed(d, in, len);
		fc_mime_decoder_finish(d);
		show("got", o.buf, o.len);
		show("want", want, wlen);
		fc_arena_free(&b);
	}
	for (i = 0; i <= len; i++) {
		cuts[0] = i;
		if (!decode_cut(part, to_utf8, in, len, cuts, 1, want, wlen))
			bad++;
	}
	is_int((long long)bad, 0, "%s: cut in two anywhere", name);
	bad = 0;
	for (i = 0; i <= len && len <= 64; i++)
		for (j = i; j <= len; j++) {
			cuts[0] = i;
			cuts[1] = j;
			if (!decode_cut(part, to_utf8, in, len, cuts, 2, want,
			    wlen))
				bad++;
		}
	is_int((long long)bad, 0, "%s: cut in three anywhere", name);
	{
		struct fc_mime_decoder *d;
		struct out o = { .len = 0 };

		b = fc_arena_new("test", 4096);
		d = fc_mime_decoder_new(b, part, to_utf8, collect, &o);
		for (i = 0; i < len; i++)
			fc_mime_decoder_feed(d, in + i, 1);
		fc_mime_decoder_finish(d);
		ok(o.len == wlen && memcmp(o.buf, want, wlen) == 0,
		    "%s: byte by byte", name);
		fc_arena_free(&b);
	}
	fc_arena_free(&a);
}

#define B64	"Content-Transfer-Encoding: base64\n"
#define QP	"Content-Transfer-Encoding: quoted-printable\n"

static const struct {
	const char *name, *header;
	bool to_utf8;
	const char *in;
	size_t len;
	const char *want;
	size_t wlen;
} cases[] = {
#define S(s)	s, sizeof(s) - 1
	/* base64 */
	{ "base64", B64, false, S("aGVsbG8="), S("hello") },
	{ "base64 lines", B64, false, S("aGVs\nbG8=\n"), S("hello") },
	{ "base64 CRLF, no padding", B64, false, S("aGVs\r\nbG8"),
	    S("hello") },
	{ "base64 junk ignored", B64, false, S("aG Vs*bG\t8=\r\n"),
	    S("hello") },
	{ "base64 stops at =", B64, false, S("aGVsbG8=IGlnbm9yZWQ="),
	    S("hello") },
	{ "base64 = mid-group", B64, false, S("YW=Jj"), S("a") },
	{ "base64 one byte", B64, false, S("YQ"), S("a") },
	{ "base64 two bytes", B64, false, S("YWI"), S("ab") },
	{ "base64 lone sextet", B64, false, S("YWJjZ"), S("abc") },
	{ "base64 binary", B64, false, S("AP8A/w=="), S("\0\xff\0\xff") },
	{ "base64 empty", B64, false, S(""), S("") },
	/* quoted-printable */
	{ "qp escape", QP, false, S("a=3Db"), S("a=b") },
	{ "qp lower-case escape", QP, false, S("a=3db=e9"), S("a=b\xe9") },
	{ "qp soft break LF", QP, false, S("soft=\nbreak"), S("softbreak") },
	{ "qp soft break CRLF", QP, false, S("soft=\r\nbreak"),
	    S("softbreak") },
	{ "qp soft break, padding", QP, false, S("soft= \t\r\nbreak"),
	    S("softbreak") },
	{ "qp trailing white space", QP, false,
	    S("trailing   \nnext \t\r\nlast"),
	    S("trailing\nnext\r\nlast") },
	{ "qp inner white space", QP, false, S("keep  inner\t."),
	    S("keep  inner\t.") },
	{ "qp white space before soft break kept", QP, false,
	    S("a  =\nb"), S("a  b") },
	{ "qp malformed kept", QP, false, S("bad =G1 =4 =\tx =\r."),
	    S("bad =G1 =4 =\tx =\r.") },
	{ "qp = at the end", QP, false, S("end="), S("end") },
	{ "qp =X at the end", QP, false, S("end=4"), S("end=4") },
	{ "qp = and CR at the end", QP, false, S("end=\r"), S("end") },
	{ "qp white space at the end", QP, false, S("end \t "), S("end") },
	{ "qp bare CR", QP, false, S("a \rb\r"), S("a \rb\r") },
	{ "qp escaped line end", QP, false, S("a=0D=0Ab"), S("a\r\nb") },
	{ "qp 8-bit passes", QP, false, S("caf\xe9"), S("caf\xe9") },
	/* pass-through */
	{ "7bit", "Content-Type: text/plain\n", false,
	    S("a=3D \nb\r\n"), S("a=3D \nb\r\n") },
	{ "binary", "Content-Transfer-Encoding: binary\n", false,
	    S("\0\x01\xff"), S("\0\x01\xff") },
	{ "unknown encoding", "Content-Transfer-Encoding: x-uue\n", false,
	    S("begin 644"), S("begin 644") },
	/* charsets */
	{ "latin-1 qp to UTF-8",
	    "Content-Type: text/plain; charset=iso-8859-1\n" QP, true,
	    S("caf=E9 =80"), S("caf\xc3\xa9 \xe2\x82\xac") },
	{ "UTF-8 base64",
	    "Content-Type: text/plain; charset=utf-8\n" B64, true,
	    S("w6l0w6k="), S("\xc3\xa9t\xc3\xa9") },
	{ "UTF-8 repaired",
	    "Content-Type: text/plain; charset=utf-8\n", true,
	    S("a\xff\xc3\xa9\xe2\x82"), S("a\xef\xbf\xbd\xc3\xa9"
	    "\xef\xbf\xbd\xef\xbf\xbd") },
	{ "no charset: UTF-8 kept", "Content-Type: text/plain\n", true,
	    S("caf\xc3\xa9"), S("caf\xc3\xa9") },
	{ "no charset: latin-1 guessed", "Content-Type: text/plain\n", true,
	    S("caf\xe9 \x93x\x94"),
	    S("caf\xc3\xa9 \xe2\x80\x9cx\xe2\x80\x9d") },
	{ "KOI8-R", "Content-Type: text/plain; charset=koi8-r\n" B64, true,
	    S("8NLJ18XU"),
	    S("\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82") },
	{ "ISO-2022-JP", "Content-Type: text/plain; charset=ISO-2022-JP\n",
	    true, S("\x1b$B%F%9%H\x1b(B!"),
	    S("\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88!") },
	{ "Shift_JIS", "Content-Type: text/plain; charset=Shift_JIS\n",
	    true, S("\x93\xfa\x96\x7b"), S("\xe6\x97\xa5\xe6\x9c\xac") },
	{ "UTF-16LE", "Content-Type: text/plain; charset=utf-16le\n" B64,
	    true, S("6QBhAA=="), S("\xc3\xa9" "a") },
	{ "UTF-7", "Content-Type: text/plain; charset=utf-7\n", true,
	    S("Hi Mom -+Jjo--!"), S("Hi Mom -\xe2\x98\xba-!") },
	{ "UTF-7 with errors", "Content-Type: text/plain; charset=utf-7\n",
	    true, S("a+AGEAYgBj\x80+-~\\"),
	    S("aabc\xef\xbf\xbd+\xef\xbf\xbd\xef\xbf\xbd") },
	{ "GB2312 cut short",
	    "Content-Type: text/plain; charset=gb2312\n", true,
	    S("\xd6\xd0\xd6"), S("\xe4\xb8\xad\xef\xbf\xbd") },
	{ "unknown charset as UTF-8",
	    "Content-Type: text/plain; charset=x-nonsense\n", true,
	    S("\xc3\xa9\xff"), S("\xc3\xa9\xef\xbf\xbd") },
	{ "not text: no conversion",
	    "Content-Type: application/octet-stream; charset=koi8-r\n",
	    true, S("\xf0\xd2"), S("\xf0\xd2") },
	{ "not asked: no conversion",
	    "Content-Type: text/plain; charset=koi8-r\n", false,
	    S("\xf0\xd2"), S("\xf0\xd2") },
#undef S
};

static void
test_long(void)
{
	struct fc_arena *a = fc_arena_new("test", 4096);
	struct fc_mime_parser *p = fc_mime_parser_new(a, NULL);
	static const char hdr[] = "Content-Type: text/plain; charset=utf-8\n"
	    QP "\n";
	const struct fc_mime_part *part;
	struct fc_mime_decoder *d;
	struct out o = { .len = 0 };
	char *in;
	size_t i, n = 600;

	/* white space runs longer than the decoder holds back */
	fc_mime_parser_feed(p, hdr, sizeof(hdr) - 1);
	part = fc_mime_parser_finish(p);
	in = malloc(n + 1);
	memset(in, ' ', n);
	in[n] = 'x';
	d = fc_mime_decoder_new(a, part, true, collect, &o);
	for (i = 0; i <= n; i++)
		fc_mime_decoder_feed(d, in + i, 1);
	fc_mime_decoder_finish(d);
	ok(o.len == n + 1 && o.buf[n] == 'x',
	    "qp: a long run of white space before text is kept (%zu)", o.len);
	o.len = 0;
	d = fc_mime_decoder_new(a, part, true, collect, &o);
	fc_mime_decoder_feed(d, in, n);
	fc_mime_decoder_feed(d, "\n", 1);
	fc_mime_decoder_finish(d);
	ok(o.len > 0 && o.buf[o.len - 1] == '\n' && o.len < n,
	    "qp: the held back part of a trailing run is removed");
	free(in);

	fc_arena_free(&a);
}

struct big {
	char *data;
	size_t len;
};

static void
collect_big(void *arg, const void *data, size_t len)
{
	struct big *b = arg;

	b->data = realloc(b->data, b->len + len);
	if (b->data == NULL)
		abort();
	memcpy(b->data + b->len, data, len);
	b->len += len;
}

/* Text longer than every buffer on its way, through each converter. */
static void
test_long_text(void)
{
	static const char *const charsets[] = {
		"iso-8859-1", "utf-8", "koi8-r", NULL,
	};
	struct fc_arena *a;
	struct fc_mime_parser *p;
	const struct fc_mime_part *part;
	struct fc_mime_decoder *d;
	struct big whole, bytes;
	char *in, *hdr;
	size_t i, k, n = 10000;

	in = malloc(n);
	for (i = 0; i < n; i++)
		in[i] = i % 1000 == 999 ? '\n' : 'a' + (char)(i % 26);
	for (k = 0; k < sizeof(charsets) / sizeof(charsets[0]); k++) {
		a = fc_arena_new("test", 4096);
		p = fc_mime_parser_new(a, NULL);
		hdr = fc_arena_printf(a, "Content-Type: text/plain%s%s\n\n",
		    charsets[k] != NULL ? "; charset=" : "",
		    charsets[k] != NULL ? charsets[k] : "");
		fc_mime_parser_feed(p, hdr, strlen(hdr));
		part = fc_mime_parser_finish(p);
		memset(&whole, 0, sizeof(whole));
		memset(&bytes, 0, sizeof(bytes));
		d = fc_mime_decoder_new(a, part, true, collect_big, &whole);
		fc_mime_decoder_feed(d, in, n);
		fc_mime_decoder_finish(d);
		d = fc_mime_decoder_new(a, part, true, collect_big, &bytes);
		for (i = 0; i < n; i++)
			fc_mime_decoder_feed(d, in + i, 1);
		fc_mime_decoder_finish(d);
		ok(whole.len == n && memcmp(whole.data, in, n) == 0 &&
		    bytes.len == n && memcmp(bytes.data, in, n) == 0,
		    "10,000 bytes of text through charset %s",
		    charsets[k] != NULL ? charsets[k] : "(none)");
		free(whole.data);
		free(bytes.data);
		fc_arena_free(&a);
	}
	free(in);
}

int
main(void)
{
	size_t i;

	for (i = 0; i < N(cases); i++)
		check(cases[i].name, cases[i].header, cases[i].to_utf8,
		    cases[i].in, cases[i].len, cases[i].want, cases[i].wlen);
	test_long();
	test_long_text();
	return done();
}
