/*
 * test_smtp_7bit.c - 8-bit mail made 7-bit for a next hop without
 * 8BITMIME (modules/smtp/smtp_7bit.c, compiled into this test).
 *
 * Each converted message is also checked part by part against the
 * original (tests/unit/smtp_7bit_check.c): same tree, same types, same
 * decoded bodies, no 8-bit byte left.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_7bit.h"
#include "smtp_7bit_check.h"
#include "tap.h"

struct out {
	char *data;
	size_t len;
	int fail_after;			/* calls that succeed, -1: all */
};

static int
out_fn(void *arg, const char *data, size_t len)
{
	struct out *o = arg;

	if (o->fail_after == 0)
		return -1;
	if (o->fail_after > 0)
		o->fail_after--;
	o->data = realloc(o->data, o->len + len + 1);
	if (o->data == NULL)
		abort();
	memcpy(o->data + o->len, data, len);
	o->len += len;
	o->data[o->len] = '\0';
	return 0;
}

static enum smtp_7bit_result
convert(const char *msg, struct out *o, const char **why)
{
	memset(o, 0, sizeof(*o));
	o->fail_after = -1;
	return smtp_7bit_convert(msg, strlen(msg), out_fn, o, why);
}

/* Converted, faithful, and equal to want when want is not NULL. */
static void
converts(const char *name, const char *msg, const char *want)
{
	enum smtp_7bit_result r;
	const char *why, *diff;
	struct out o;

	r = convert(msg, &o, &why);
	is_int(r, SMTP_7BIT_CONVERTED, "%s: converted", name);
	diff = o.data != NULL ? smtp_7bit_check(msg, strlen(msg), o.data,
	    o.len) : "nothing written";
	ok(diff == NULL, "%s: same content (%s)", name, diff != NULL ? diff :
	    "yes");
	if (want != NULL)
		is_str(o.data != NULL ? o.data : "", want, "%s: byte-exact",
		    name);
	free(o.data);
}

static void
cannot(const char *name, const char *msg, const char *why_part)
{
	enum smtp_7bit_result r;
	const char *why;
	struct out o;

	r = convert(msg, &o, &why);
	is_int(r, SMTP_7BIT_CANNOT, "%s: cannot be converted", name);
	ok(why != NULL && strstr(why, why_part) != NULL, "%s: says \"%s\" "
	    "(%s)", name, why_part, why != NULL ? why : "nothing");
	free(o.data);
}

/* Every line of s is at most max bytes long (CRLF not counted). */
static bool
lines_within(const char *s, size_t max)
{
	const char *nl;

	for (; (nl = strstr(s, "\r\n")) != NULL; s = nl + 2)
		if ((size_t)(nl - s) > max)
			return false;
	return strlen(s) <= max;
}

int
main(void)
{
	enum smtp_7bit_result r;
	const char *why;
	struct out o;
	char *big, *p;
	size_t i;

	plan(45);

	/* a 7-bit message is never touched */
	r = convert("Subject: hi\r\nMIME-Version: 1.0\r\n\r\nplain\r\n", &o,
	    &why);
	is_int(r, SMTP_7BIT_ASIS, "7-bit: as it is");
	ok(o.len == 0, "7-bit: nothing written");
	free(o.data);

	converts("CRLF line ends kept, 8-bit at a line's end",
	    "MIME-Version: 1.0\r\n\r\nline one \xc3\xa9\r\n\r\nthree\xc3\xa9",
	    "MIME-Version: 1.0\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n"
	    "\r\nline one =C3=A9\r\n\r\nthree=C3=A9");
	converts("single text part, exact",
	    "Subject: cafe\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n"
	    "X-After: kept\r\n"
	    "\r\n"
	    "caf\xc3\xa9 = 1 \r\n"
	    "-- sig\r\n"
	    ".dot\tend\t\r\n",
	    "Subject: cafe\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "X-After: kept\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n"
	    "\r\n"
	    "caf=C3=A9 =3D 1=20\r\n"
	    "=2D- sig\r\n"
	    "=2Edot\tend=09\r\n");
	converts("folded CTE field, no CTE at all before",
	    "MIME-Version: 1.0\r\n"
	    "Content-Transfer-Encoding:\r\n"
	    "\t8bit\r\n"
	    "\r\n"
	    "\xff\r\n",
	    "MIME-Version: 1.0\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n"
	    "\r\n"
	    "=FF\r\n");

	converts("multipart: text, binary, 7-bit part, preamble, epilogue",
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n"
	    "\r\n"
	    "preamble\r\n"
	    "--b1\r\n"
	    "Content-Type: text/plain; charset=iso-8859-1\r\n"
	    "\r\n"
	    "\xe9t\xe9\r\n"
	    "--b1\r\n"
	    "Content-Type: application/octet-stream\r\n"
	    "Content-Transfer-Encoding: binary\r\n"
	    "\r\n"
	    "\x01\x80\xff\r\n"
	    "--b1\r\n"
	    "Content-Type: text/plain\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n"
	    "\r\n"
	    "untouched  \r\n"
	    "--b1--\r\n"
	    "epilogue\r\n",
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n"
	    "\r\n"
	    "preamble\r\n"
	    "--b1\r\n"
	    "Content-Type: text/plain; charset=iso-8859-1\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n"
	    "\r\n"
	    "=E9t=E9\r\n"
	    "--b1\r\n"
	    "Content-Type: application/octet-stream\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "\r\n"
	    "AYD/\r\n"
	    "--b1\r\n"
	    "Content-Type: text/plain\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n"
	    "\r\n"
	    "untouched  \r\n"
	    "--b1--\r\n"
	    "epilogue\r\n");
	converts("nested multipart and message/rfc822",
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=outer\r\n"
	    "\r\n"
	    "--outer\r\n"
	    "Content-Type: multipart/alternative; boundary=inner\r\n"
	    "\r\n"
	    "--inner\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "\r\n"
	    "gr\xc3\xbc\xc3\x9f dich\r\n"
	    "--inner\r\n"
	    "Content-Type: text/html; charset=utf-8\r\n"
	    "\r\n"
	    "<p>gr\xc3\xbc\xc3\x9f</p>\r\n"
	    "--inner--\r\n"
	    "--outer\r\n"
	    "Content-Type: message/rfc822\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n"
	    "\r\n"
	    "Subject: inner\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "\r\n"
	    "\xe2\x82\xac 5\r\n"
	    "--outer--\r\n",
	    NULL);

	/* long lines: soft breaks keep every line within 76 */
	big = malloc(20000);
	p = big + sprintf(big, "MIME-Version: 1.0\r\n\r\n");
	for (i = 0; i < 3000; i++)
		*p++ = i % 7 == 0 ? '\xc3' : i % 7 == 1 ? '\xa9' : i % 11 == 0 ?
		    ' ' : i % 13 == 0 ? '=' : 'a';
	strcpy(p, "\r\nend\r\n");
	r = convert(big, &o, &why);
	is_int(r, SMTP_7BIT_CONVERTED, "long line: converted");
	ok(o.data != NULL && lines_within(o.data, 76), "long line: QP lines "
	    "of at most 76");
	ok(o.data != NULL && smtp_7bit_check(big, strlen(big), o.data, o.len)
	    == NULL, "long line: same content");
	free(o.data);

	/* a large binary part: base64 lines of 76 */
	p = big + sprintf(big, "MIME-Version: 1.0\r\nContent-Type: image/png"
	    "\r\n\r\n");
	for (i = 0; i < 5000; i++)
		*p++ = (char)(0x80 + i % 100);
	*p = '\0';
	r = convert(big, &o, &why);
	is_int(r, SMTP_7BIT_CONVERTED, "binary: converted");
	ok(o.data != NULL && lines_within(o.data, 76), "binary: base64 lines "
	    "of at most 76");
	ok(o.data != NULL && smtp_7bit_check(big, strlen(big), o.data, o.len)
	    == NULL, "binary: same content");
	ok(o.data != NULL && strstr(o.data, "Content-Transfer-Encoding: "
	    "base64\r\n\r\n") != NULL, "binary: marked base64");
	free(o.data);
	free(big);

	/* what cannot be converted */
	cannot("8-bit header", "Subject: caf\xc3\xa9\r\nMIME-Version: 1.0\r\n"
	    "\r\ncaf\xc3\xa9\r\n", "header");
	cannot("8-bit header, 7-bit body", "Subject: caf\xc3\xa9\r\n"
	    "MIME-Version: 1.0\r\n\r\nplain\r\n", "header");
	cannot("8-bit part header", "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
	    "Content-Type: text/plain; name=\"\xc3\xa9\"\r\n\r\n\xc3\xa9\r\n"
	    "--b--\r\n", "header");
	cannot("not MIME", "Subject: x\r\n\r\ncaf\xc3\xa9\r\n", "not MIME");
	cannot("8-bit preamble", "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n\xc3\xa9\r\n"
	    "--b\r\n\r\nx\r\n--b--\r\n", "outside the parts");
	cannot("8-bit epilogue", "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\n\r\nx\r\n--b--\r\n\xc3\xa9\r\n", "outside the parts");
	cannot("message/partial", "MIME-Version: 1.0\r\n"
	    "Content-Type: message/partial; id=x; number=1\r\n\r\n"
	    "\xc3\xa9\r\n", "must not be encoded");
	cannot("multipart without a boundary", "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed\r\n\r\n\xc3\xa9\r\n",
	    "must not be encoded");
	cannot("base64 with 8-bit bytes", "MIME-Version: 1.0\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n\xc3\xa9\r\n",
	    "already encoded");
	cannot("inner message's 8-bit header", "MIME-Version: 1.0\r\n"
	    "Content-Type: message/rfc822\r\n\r\nSubject: \xc3\xa9\r\n\r\n"
	    "x\r\n", "header");

	/* the writer failing stops it */
	memset(&o, 0, sizeof(o));
	o.fail_after = 0;
	r = smtp_7bit_convert("MIME-Version: 1.0\r\n\r\n\xc3\xa9\r\n", 22,
	    out_fn, &o, &why);
	is_int(r, SMTP_7BIT_ERROR, "write error: reported");
	ok(why != NULL, "write error: says why");
	free(o.data);

	return done();
}
