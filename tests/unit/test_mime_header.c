/*
 * test_mime_header.c - header text: unfolding, RFC 2047 encoded words
 * and raw 8-bit to UTF-8, Content-Type parameters (RFC 2231), the
 * fields a part keeps, address lists and dates.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <facteur/arena.h>
#include <facteur/mime.h>

#include "tap.h"

#define N(a)	(sizeof(a) / sizeof((a)[0]))

static void
test_unfold(void)
{
	static const struct {
		const char *name, *in, *want;
	} cases[] = {
		{ "plain", "Hello", "Hello" },
		{ "trimmed", " \t Hello \t ", "Hello" },
		{ "folded CRLF", " Hello\r\n world", "Hello world" },
		{ "folded LF", "Hello\n\tworld", "Hello\tworld" },
		{ "inner white space kept", "a  b", "a  b" },
		{ "only folding", "\r\n \r\n\t", "" },
		{ "empty", "", "" },
	};
	struct fc_arena *a = fc_arena_new("test", 1024);
	size_t i;

	for (i = 0; i < N(cases); i++)
		is_str(fc_mime_header_unfold(a, cases[i].in), cases[i].want,
		    "unfold: %s", cases[i].name);
	fc_arena_free(&a);
}

static void
test_decode(void)
{
	static const struct {
		const char *name, *in, *want;
	} cases[] = {
		{ "ascii", "Hello world", "Hello world" },
		{ "folded", "Hello\r\n world", "Hello world" },
		{ "Q latin-1", "=?iso-8859-1?q?Andr=E9?=", "Andr\xc3\xa9" },
		{ "B utf-8", "=?UTF-8?B?w6l0w6k=?=", "\xc3\xa9t\xc3\xa9" },
		{ "Q upper hex, lower letters", "=?utf-8?Q?=C3=A9?=",
		    "\xc3\xa9" },
		{ "Q lower hex", "=?UTF-8?q?=c3=a9?=", "\xc3\xa9" },
		{ "Q underscore", "=?utf-8?q?hello_world?=", "hello world" },
		{ "space between words dropped",
		    "=?utf-8?q?a?= =?utf-8?q?b?=", "ab" },
		{ "folding between words dropped",
		    "=?utf-8?q?a?=\r\n =?utf-8?q?b?=", "ab" },
		{ "word then text", "=?utf-8?q?a?= b", "a b" },
		{ "text then word", "a =?utf-8?q?b?=", "a b" },
		{ "text between words kept",
		    "=?utf-8?q?a?= and =?utf-8?q?b?=", "a and b" },
		{ "character split between Q words",
		    "=?utf-8?q?=C3?= =?utf-8?q?=A9?=", "\xc3\xa9" },
		{ "character split between B words",
		    "=?UTF-8?B?w6nD?= =?UTF-8?B?qQ==?=",
		    "\xc3\xa9\xc3\xa9" },
		{ "two charsets side by side",
		    "=?iso-8859-1?q?=E9?= =?utf-8?q?=C3=A9?=",
		    "\xc3\xa9\xc3\xa9" },
		{ "RFC 2231 language", "=?utf-8*fr?q?=C3=A9t=C3=A9?=",
		    "\xc3\xa9t\xc3\xa9" },
		{ "glued to text", "foo=?utf-8?q?bar?=baz", "foobarbaz" },
		{ "empty word", "a =?utf-8?q?\?= b", "a  b" },
		{ "unknown encoding kept", "=?utf-8?x?abc?=",
		    "=?utf-8?x?abc?=" },
		{ "unterminated kept", "=?utf-8?q?abc", "=?utf-8?q?abc" },
		{ "space inside kept", "=?utf-8?q?a b?=", "=?utf-8?q?a b?=" },
		{ "no charset kept", "=?\?q?abc?=", "=?\?q?abc?=" },
		{ "lone =? kept", "a =? b ?= c", "a =? b ?= c" },
		{ "bad Q escape kept", "=?utf-8?q?a=ZZb?=", "a=ZZb" },
		{ "invalid UTF-8 repaired", "=?utf-8?q?a=FFb?=",
		    "a\xef\xbf\xbd" "b" },
		{ "overlong UTF-8 repaired", "=?utf-8?q?=C0=AF?=",
		    "\xef\xbf\xbd\xef\xbf\xbd" },
		{ "unknown charset as UTF-8", "=?x-nonsense?q?=C3=A9=FF?=",
		    "\xc3\xa9\xef\xbf\xbd" },
		{ "charset name with a slash", "=?utf-8//ignore?q?=E9?=",
		    "\xef\xbf\xbd" },
		{ "us-ascii word with latin-1", "=?us-ascii?q?caf=E9?=",
		    "caf\xc3\xa9" },
		{ "NUL replaced", "=?utf-8?q?a=00b?=", "a\xef\xbf\xbd" "b" },
		{ "KOI8-R", "=?koi8-r?b?8NLJ18XU?=",
		    "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82" },
		{ "windows-1251", "=?windows-1251?Q?=CF=F0=E8=E2=E5=F2?=",
		    "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82" },
		{ "ISO-2022-JP", "=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=",
		    "\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88" },
		{ "Shift_JIS", "=?shift_jis?B?k/qWe4zq?=",
		    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" },
		{ "GB2312", "=?gb2312?B?1tDOxA==?=",
		    "\xe4\xb8\xad\xe6\x96\x87" },
		{ "raw UTF-8", "J\xc3\xbcrgen", "J\xc3\xbcrgen" },
		{ "raw latin-1", "R\xe9union", "R\xc3\xa9union" },
		{ "raw Windows-1252", "\x93quoted\x94",
		    "\xe2\x80\x9cquoted\xe2\x80\x9d" },
		{ "raw 8-bit next to a word",
		    "=?utf-8?q?=C3=A9?= caf\xe9", "\xc3\xa9 caf\xc3\xa9" },
	};
	struct fc_arena *a = fc_arena_new("test", 1024);
	size_t i;

	for (i = 0; i < N(cases); i++)
		is_str(fc_mime_header_decode(a, cases[i].in), cases[i].want,
		    "decode: %s", cases[i].name);
	fc_arena_free(&a);
}

/* The first part of a message made of one header field and a body. */
static const struct fc_mime_part *
parse_str(struct fc_arena *a, const char *msg)
{
	struct fc_mime_parser *p = fc_mime_parser_new(a, NULL);

	fc_mime_parser_feed(p, msg, strlen(msg));
	return fc_mime_parser_finish(p);
}

static void
test_params(void)
{
	static const struct {
		const char *name, *field, *param, *want;
	} cases[] = {
		{ "quoted", "text/plain; charset=\"utf-8\"", "charset",
		    "utf-8" },
		{ "comment after", "text/plain; charset=utf-8 (comment)",
		    "charset", "utf-8" },
		{ "name in upper case", "text/plain; CHARSET=x", "charset",
		    "x" },
		{ "unquoted with '='", "multipart/mixed; boundary=--=_a=b",
		    "boundary", "--=_a=b" },
		{ "quoted pair", "a/b; name=\"a\\\"b\"", "name", "a\"b" },
		{ "missing ';'", "a/b; x=1 y=2", "x", "1" },
		{ "empty quoted", "a/b; name=\"\"", "name", "" },
		{ "extended", "a/b; name*=utf-8''%E2%82%AC", "name",
		    "\xe2\x82\xac" },
		{ "extended with language", "a/b; name*=UTF-8'en'a%20b",
		    "name", "a b" },
		{ "extended without charset", "a/b; name*=''a%41", "name",
		    "aA" },
		{ "extended without quotes", "a/b; name*=a%20b", "name",
		    "a b" },
		{ "extended latin-1", "a/b; name*=iso-8859-1''caf%E9", "name",
		    "caf\xc3\xa9" },
		{ "extended, bad escape kept", "a/b; name*=utf-8''%ZZ%4",
		    "name", "%ZZ%4" },
		{ "extended, unknown charset",
		    "a/b; name*=x-nonsense''%C3%A9%FF", "name",
		    "\xc3\xa9\xef\xbf\xbd" },
		{ "continuations", "a/b; name*0=\"abc\"; name*1=\"def\"",
		    "name", "abcdef" },
		{ "continuations out of order",
		    "a/b; name*1=\"def\"; name*0=\"abc\"", "name", "abcdef" },
		{ "character split between pieces",
		    "a/b; name*0*=utf-8''%C3; name*1*=%A9", "name",
		    "\xc3\xa9" },
		{ "mixed pieces",
		    "a/b; name*0*=utf-8''caf%C3%A9; name*1=\" 100%\"", "name",
		    "caf\xc3\xa9 100%" },
		{ "repeated piece: first wins",
		    "a/b; name*0=a; name*0=b; name*1=c", "name", "ac" },
		{ "RFC 2231 wins over plain",
		    "a/b; name=\"plain\"; name*=utf-8''ext", "name", "ext" },
		{ "plain repeated: first wins", "a/b; name=one; name=two",
		    "name", "one" },
		{ "encoded word in quotes",
		    "a/b; name=\"=?utf-8?b?w6k=?=.txt\"", "name",
		    "\xc3\xa9.txt" },
		{ "raw latin-1 value", "a/b; name=\"caf\xe9\"", "name",
		    "caf\xc3\xa9" },
		{ "boundary not decoded",
		    "multipart/mixed; boundary=\"=?utf-8?q?x?=\"",
		    "boundary", "=?utf-8?q?x?=" },
		{ "unterminated quote", "a/b; name=\"abc; x=y", "name",
		    "abc; x=y" },
		{ "no value", "a/b; flag; x=1", "x", "1" },
		{ "absent", "a/b; x=1", "y", NULL },
	};
	struct fc_arena *a = fc_arena_new("test", 1024);
	const struct fc_mime_part *root;
	char *msg;
	size_t i;

	for (i = 0; i < N(cases); i++) {
		msg = fc_arena_printf(a, "Content-Type: %s\n\nbody\n",
		    cases[i].field);
		root = parse_str(a, msg);
		is_str(fc_mime_part_param(root, cases[i].param), cases[i].want,
		    "param: %s", cases[i].name);
		msg = fc_arena_printf(a,
		    "Content-Disposition: attachment; %s\n\nbody\n",
		    strchr(cases[i].field, ';') + 1);
		root = parse_str(a, msg);
		if (strcmp(cases[i].param, "boundary") == 0)
			continue;	/* a boundary only in Content-Type */
		is_str(fc_mime_part_disposition_param(root, cases[i].param),
		    cases[i].want, "disposition param: %s", cases[i].name);
	}
	root = parse_str(a, "Content-Disposition: attachment; "
	    "boundary=\"=?utf-8?q?x?=\"\n\n");
	is_str(fc_mime_part_disposition_param(root, "boundary"), "x",
	    "disposition param: a boundary there is like any other");
	fc_arena_free(&a);
}

static void
test_content_type(void)
{
	static const struct {
		const char *name, *msg, *type, *subtype, *enc_raw;
		enum fc_mime_encoding enc;
	} cases[] = {
		{ "absent", "Subject: x\n\nbody\n", "text", "plain", NULL,
		    FC_MIME_ENC_7BIT },
		{ "upper case", "Content-Type: TEXT/HTML\n\n", "text", "html",
		    NULL, FC_MIME_ENC_7BIT },
		{ "no subtype: the default", "Content-Type: text\n\n", "text",
		    "plain", NULL, FC_MIME_ENC_7BIT },
		{ "garbage: the default", "Content-Type: /;;\n\n", "text",
		    "plain", NULL, FC_MIME_ENC_7BIT },
		{ "comments around", "Content-Type: (c) image (d) / (e) png"
		    "\n\n", "image", "png", NULL, FC_MIME_ENC_7BIT },
		{ "first field counts", "Content-Type: image/png\n"
		    "Content-Type: text/html\n\n", "image", "png", NULL,
		    FC_MIME_ENC_7BIT },
		{ "base64", "Content-Transfer-Encoding:  BASE64 \n\n", "text",
		    "plain", "BASE64", FC_MIME_ENC_BASE64 },
		{ "qp", "Content-Transfer-Encoding: Quoted-Printable\n\n",
		    "text", "plain", "Quoted-Printable", FC_MIME_ENC_QP },
		{ "8bit with comment",
		    "Content-Transfer-Encoding: 8bit (comment)\n\n", "text",
		    "plain", "8bit (comment)", FC_MIME_ENC_8BIT },
		{ "binary", "Content-Transfer-Encoding: binary\n\n", "text",
		    "plain", "binary", FC_MIME_ENC_BINARY },
		{ "unknown", "Content-Transfer-Encoding: x-uue\n\n", "text",
		    "plain", "x-uue", FC_MIME_ENC_OTHER },
		{ "empty", "Content-Transfer-Encoding:\n\n", "text", "plain",
		    "", FC_MIME_ENC_7BIT },
	};
	struct fc_arena *a = fc_arena_new("test", 1024);
	const struct fc_mime_part *root;
	size_t i;

	for (i = 0; i < N(cases); i++) {
		root = parse_str(a, cases[i].msg);
		ok(strcmp(fc_mime_part_type(root), cases[i].type) == 0 &&
		    strcmp(fc_mime_part_subtype(root), cases[i].subtype) == 0,
		    "content type: %s (%s/%s)", cases[i].name,
		    fc_mime_part_type(root), fc_mime_part_subtype(root));
		is_str(fc_mime_part_encoding_raw(root), cases[i].enc_raw,
		    "encoding as written: %s", cases[i].name);
		is_int(fc_mime_part_encoding(root), cases[i].enc,
		    "encoding: %s", cases[i].name);
	}
	root = parse_str(a, "Content-Disposition: INLINE; Filename=a.txt\n\n");
	is_str(fc_mime_part_disposition(root), "inline",
	    "disposition in lower case");
	is_str(fc_mime_part_disposition_param(root, "FILENAME"), "a.txt",
	    "disposition parameters ignore case");
	root = parse_str(a, "Subject: x\n\n");
	ok(fc_mime_part_disposition(root) == NULL, "no disposition: NULL");
	fc_arena_free(&a);
}

static void
test_fields(void)
{
	static const char msg[] =
	    "From sender@example.org Sun Mar 22 10:00:00 2026\n"
	    "  a continuation line with nothing before it\n"
	    "From: sender@example.org\n"
	    "To: someone@example.org\n"
	    "This line has no colon\n"
	    "\tand a continuation that goes with it\n"
	    "Subject: still parsed\n"
	    " after a bad line\r\n"
	    "X-Empty:\n"
	    "X-Spaced-Name : value\n"
	    "Bad Name: a name with a space\n"
	    "received: one\n"
	    "Received: two\n"
	    "\n"
	    "body\n";
	static const char *const want[][2] = {
		{ "From", " sender@example.org" },
		{ "To", " someone@example.org" },
		{ "Subject", " still parsed\n after a bad line" },
		{ "X-Empty", "" },
		{ "X-Spaced-Name", " value" },
		{ "received", " one" },
		{ "Received", " two" },
	};
	struct fc_arena *a = fc_arena_new("test", 1024);
	const struct fc_mime_part *root;
	const char *name, *value;
	size_t i;

	root = parse_str(a, msg);
	is_int((long long)fc_mime_part_header_count(root), (long long)N(want),
	    "fields: bad lines dropped");
	for (i = 0; i < N(want); i++) {
		if (!fc_mime_part_header_at(root, i, &name, &value)) {
			ok(false, "field %zu present", i);
			continue;
		}
		ok(strcmp(name, want[i][0]) == 0 &&
		    strcmp(value, want[i][1]) == 0,
		    "field %zu: %s:%s", i, want[i][0], want[i][1]);
	}
	ok(!fc_mime_part_header_at(root, N(want), &name, &value),
	    "no field past the last");
	is_str(fc_mime_part_header(root, "RECEIVED", 0), " one",
	    "lookup ignores case");
	is_str(fc_mime_part_header(root, "received", 1), " two",
	    "lookup of the second field of a name");
	ok(fc_mime_part_header(root, "received", 2) == NULL,
	    "no third one");
	ok(fc_mime_problems(root) == FC_MIME_BAD_HEADER_LINE,
	    "bad header lines flagged");
	fc_arena_free(&a);
}

/* An address list as IMAP shows it: (name route mailbox domain)... */
static char *
address_text(struct fc_arena *a, const struct fc_mime_address *addr)
{
	char *s = "";

	for (; addr != NULL; addr = addr->next)
		s = fc_arena_printf(a, "%s(%s%s%s %s%s%s %s%s%s %s%s%s)", s,
		    addr->name ? "\"" : "", addr->name ? addr->name : "NIL",
		    addr->name ? "\"" : "",
		    addr->route ? "\"" : "", addr->route ? addr->route : "NIL",
		    addr->route ? "\"" : "",
		    addr->mailbox ? "\"" : "",
		    addr->mailbox ? addr->mailbox : "NIL",
		    addr->mailbox ? "\"" : "",
		    addr->domain ? "\"" : "",
		    addr->domain ? addr->domain : "NIL",
		    addr->domain ? "\"" : "");
	return s;
}

static void
test_addresses(void)
{
	static const struct {
		const char *name, *in, *want;
	} cases[] = {
		{ "bare", "alice@example.org",
		    "(NIL NIL \"alice\" \"example.org\")" },
		{ "name and angle", "Alice <alice@example.org>",
		    "(\"Alice\" NIL \"alice\" \"example.org\")" },
		{ "two, quoted name with comma",
		    "\"Martin, Alice\" <alice@example.org>, bob@example.net",
		    "(\"Martin, Alice\" NIL \"alice\" \"example.org\")"
		    "(NIL NIL \"bob\" \"example.net\")" },
		{ "encoded name", "=?utf-8?q?Zo=C3=AB?= <zoe@example.com>",
		    "(\"Zo\xc3\xab\" NIL \"zoe\" \"example.com\")" },
		{ "encoded name in quotes",
		    "\"=?utf-8?q?Zo=C3=AB?=\" <zoe@example.com>",
		    "(\"Zo\xc3\xab\" NIL \"zoe\" \"example.com\")" },
		{ "several words", "Alice  Q.  Martin <a@example.org>",
		    "(\"Alice Q. Martin\" NIL \"a\" \"example.org\")" },
		{ "folded name", "Folded\r\n Name <a@example.org>",
		    "(\"Folded Name\" NIL \"a\" \"example.org\")" },
		{ "comment as the name", "alice@example.org (Alice Martin)",
		    "(\"Alice Martin\" NIL \"alice\" \"example.org\")" },
		{ "comment after angle", "<alice@example.org> (Alice)",
		    "(\"Alice\" NIL \"alice\" \"example.org\")" },
		{ "comment and a name", "Alice (work) <alice@example.org>",
		    "(\"Alice\" NIL \"alice\" \"example.org\")" },
		{ "comments inside", "alice(x)@(y)example.org",
		    "(\"y\" NIL \"alice\" \"example.org\")" },
		{ "source route",
		    "<@relay1.example,@relay2.example:alice@example.org>",
		    "(NIL \"@relay1.example,@relay2.example\" \"alice\" "
		    "\"example.org\")" },
		{ "group", "Team: alice@example.org, Bob <bob@example.org>;",
		    "(NIL NIL \"Team\" NIL)"
		    "(NIL NIL \"alice\" \"example.org\")"
		    "(\"Bob\" NIL \"bob\" \"example.org\")(NIL NIL NIL NIL)" },
		{ "empty group", "undisclosed-recipients:;",
		    "(NIL NIL \"undisclosed-recipients\" NIL)"
		    "(NIL NIL NIL NIL)" },
		{ "group never closed", "Team: alice@example.org",
		    "(NIL NIL \"Team\" NIL)"
		    "(NIL NIL \"alice\" \"example.org\")(NIL NIL NIL NIL)" },
		{ "group between addresses", "a@b, Team: c@d;, e@f",
		    "(NIL NIL \"a\" \"b\")(NIL NIL \"Team\" NIL)"
		    "(NIL NIL \"c\" \"d\")(NIL NIL NIL NIL)"
		    "(NIL NIL \"e\" \"f\")" },
		{ "encoded group name", "=?utf-8?q?=C3=A9quipe?=: a@b;",
		    "(NIL NIL \"\xc3\xa9quipe\" NIL)(NIL NIL \"a\" \"b\")"
		    "(NIL NIL NIL NIL)" },
		{ "quoted local part", "\"john smith\"@example.org",
		    "(NIL NIL \"john smith\" \"example.org\")" },
		{ "domain literal", "a@[192.0.2.1]",
		    "(NIL NIL \"a\" \"[192.0.2.1]\")" },
		{ "raw UTF-8 name", "J\xc3\xbcrgen <j@example.de>",
		    "(\"J\xc3\xbcrgen\" NIL \"j\" \"example.de\")" },
		{ "raw latin-1 name", "R\xe9my <r@example.fr>",
		    "(\"R\xc3\xa9my\" NIL \"r\" \"example.fr\")" },
		{ "missing brackets", "John Doe john@example.com",
		    "(\"John Doe\" NIL \"john\" \"example.com\")" },
		{ "missing >", "John Doe <john@example.com",
		    "(\"John Doe\" NIL \"john\" \"example.com\")" },
		{ "missing <", "John Doe john@example.com>, b@c",
		    "(\"John Doe\" NIL \"john\" \"example.com\")"
		    "(NIL NIL \"b\" \"c\")" },
		{ "extra >", "<alice@example.org>>, bob@x",
		    "(NIL NIL \"alice\" \"example.org\")"
		    "(NIL NIL \"bob\" \"x\")" },
		{ "junk after", "Alice <alice@example.org> junk \"x,y\", bob@x",
		    "(\"Alice\" NIL \"alice\" \"example.org\")"
		    "(NIL NIL \"bob\" \"x\")" },
		{ "bare local part", "postmaster",
		    "(NIL NIL \"postmaster\" \"\")" },
		{ "angle without domain", "Alice <alice>",
		    "(\"Alice\" NIL \"alice\" \"\")" },
		{ "no local part", "@example.org",
		    "(NIL NIL \"\" \"example.org\")" },
		{ "angle, domain only", "<@example.org>",
		    "(NIL NIL \"\" \"example.org\")" },
		{ "words, no address", "Undisclosed recipients",
		    "(\"Undisclosed recipients\" NIL \"\" \"\")" },
		{ "unbalanced quote", "\"unbalanced <a@b>",
		    "(NIL NIL \"unbalanced <a@b>\" \"\")" },
		{ "unbalanced comment", "alice@example.org, (bob@x",
		    "(NIL NIL \"alice\" \"example.org\")" },
		{ "unbalanced bracket", "a@[192.0.2.1",
		    "(NIL NIL \"a\" \"[192.0.2.1\")" },
		{ "empty entries", "a@b,,, c@d",
		    "(NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")" },
		{ "stray ; outside a group", "a@b; c@d",
		    "(NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")" },
		{ "null address", "<>", "" },
		{ "empty", "", "" },
		{ "only separators", " , ;, ", "" },
		{ "only a comment", "(nobody)", "" },
	};
	struct fc_arena *a = fc_arena_new("test", 1024);
	size_t i;

	for (i = 0; i < N(cases); i++)
		is_str(address_text(a, fc_mime_address_parse(a, cases[i].in)),
		    cases[i].want, "address: %s", cases[i].name);
	ok(fc_mime_address_parse(a, "") == NULL, "no address: NULL");
	fc_arena_free(&a);
}

static void
test_dates(void)
{
	static const struct {
		const char *in;
		int ret;
		long long t;
		int zone;
	} cases[] = {
		{ "Tue, 3 Mar 2026 09:13:58 +0100", 0, 1772525638, 60 },
		{ "3 Mar 2026 09:13:58 +0100", 0, 1772525638, 60 },
		{ "Tue, 03 Mar 2026 09:13 +0100", 0, 1772525580, 60 },
		{ "Tue,3 Mar 2026 09:13:58 +0100", 0, 1772525638, 60 },
		{ "tue, 3 mar 2026 09:13:58 +0100", 0, 1772525638, 60 },
		{ "Tuesday, 3 March 2026 09:13:58 +0100", 0, 1772525638, 60 },
		{ "Tue, 3 Mar 2026 09:13:58 +0100 (CET)", 0, 1772525638, 60 },
		{ "(c) Tue, (c) 3 (c) Mar 2026 09 : 13 : 58 (c) +0100", 0,
		    1772525638, 60 },
		{ "3-Mar-2026 09:13:58 +0100", 0, 1772525638, 60 },
		{ "Tue, 3 Mar 26 09:13:58 +0100", 0, 1772525638, 60 },
		{ "Wed, 3 Mar 99 09:13:58 +0100", 0, 920448838, 60 },
		{ "Tue, 3 Mar 126 09:13:58 +0100", 0, 1772525638, 60 },
		{ "1 Jan 49 00:00:00 +0000", 0, 2493072000LL, 0 },
		{ "1 Jan 50 00:00:00 +0000", 0, -631152000LL, 0 },
		{ "Wed, 4 Mar 2026 17:02:11 -0500", 0, 1772661731, -300 },
		{ "Tue, 3 Mar 2026 09:13:58 UT", 0, 1772529238, 0 },
		{ "Tue, 3 Mar 2026 09:13:58 GMT", 0, 1772529238, 0 },
		{ "Tue, 3 Mar 2026 09:13:58 EST", 0, 1772547238, -300 },
		{ "Tue, 3 Mar 2026 09:13:58 edt", 0, 1772543638, -240 },
		{ "Tue, 3 Mar 2026 09:13:58 PDT", 0, 1772554438, -420 },
		{ "Tue, 3 Mar 2026 09:13:58 A", 0, 1772529238, 0 },
		{ "Tue, 3 Mar 2026 09:13:58 Z", 0, 1772529238, 0 },
		{ "Tue, 3 Mar 2026 09:13:58 CEST", 0, 1772529238, 0 },
		{ "Tue, 3 Mar 2026 09:13:58", 0, 1772529238, 0 },
		{ "Tue, 3 Mar 2026 09:13:58 -0000", 0, 1772529238, 0 },
		{ "Thu, 1 Jan 1970 00:00:00 +0000", 0, 0, 0 },
		{ "Sun, 29 Feb 2032 12:00:00 +0000", 0, 1961668800, 0 },
		{ "Tue, 3 Mar 2026 23:59:60 +0000", 0, 1772582400, 0 },
		{ "Fri, 31 Dec 1999 23:59:59 -1200", 0, 946727999, -720 },
		{ "", -1, 0, 0 },
		{ "yesterday", -1, 0, 0 },
		{ "Tue, 30 Feb 2026 09:13:58 +0100", -1, 0, 0 },
		{ "Tue, 32 Mar 2026 09:13:58 +0100", -1, 0, 0 },
		{ "Tue, 0 Mar 2026 09:13:58 +0100", -1, 0, 0 },
		{ "Tue, 3 Foo 2026 09:13:58 +0100", -1, 0, 0 },
		{ "Tue, 3 Mar 2026 24:00:00 +0100", -1, 0, 0 },
		{ "Tue, 3 Mar 2026 09:60:00 +0100", -1, 0, 0 },
		{ "Tue, 3 Mar 2026 09:13:58 +0160", -1, 0, 0 },
		{ "Tue, 3 Mar 2026 09:13:58 +01", -1, 0, 0 },
		{ "Tue, 3 Mar 2026 09:13:58 +01000", -1, 0, 0 },
		{ "Tue, 3 Mar 2026", -1, 0, 0 },
		{ "Tue, 3 Mar 2026 09", -1, 0, 0 },
		{ "Tue, 3 Mar 20260 09:13:58 +0100", -1, 0, 0 },
		{ "1 Jan 1899 00:00:00 +0000", -1, 0, 0 },
		{ "Mon Jan  2 15:04:05 2006", -1, 0, 0 },
		{ "2026-03-03T09:13:58Z", -1, 0, 0 },
	};
	time_t t;
	int zone, ret;
	size_t i;

	for (i = 0; i < N(cases); i++) {
		t = 12345;
		zone = 12345;
		ret = fc_mime_date_parse(cases[i].in, &t, &zone);
		if (cases[i].ret < 0)
			is_int(ret, -1, "date: \"%s\" is not one", cases[i].in);
		else
			ok(ret == 0 && (long long)t == cases[i].t &&
			    zone == cases[i].zone, "date: \"%s\" (%lld %d)",
			    cases[i].in, (long long)t, zone);
	}
}

int
main(void)
{
	test_unfold();
	test_decode();
	test_params();
	test_content_type();
	test_fields();
	test_addresses();
	test_dates();
	return done();
}
