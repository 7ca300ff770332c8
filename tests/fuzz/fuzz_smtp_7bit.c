/*
 * fuzz_smtp_7bit.c - libFuzzer target for the 8-bit to 7-bit conversion
 * of the SMTP module's queue (modules/smtp/smtp_7bit.c).
 *
 * The input is a whole message. Nothing may crash, and the result must
 * hang together: "as it is" only for a message without 8-bit bytes; a
 * conversion gives a 7-bit message with the same MIME tree and the same
 * decoded body in every part (tests/unit/smtp_7bit_check.c); a refusal
 * says why.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_7bit.h"
#include "smtp_7bit_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_out {
	char *data;
	size_t len;
};

static int
fuzz_out(void *arg, const char *data, size_t len)
{
	struct fuzz_out *o = arg;

	o->data = realloc(o->data, o->len + len + 1);
	if (o->data == NULL)
		abort();
	memcpy(o->data + o->len, data, len);
	o->len += len;
	return 0;
}

static void
fuzz_check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_smtp_7bit: %s\n", what);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_out o = { NULL, 0 };
	enum smtp_7bit_result r;
	const char *why = NULL, *diff;
	size_t i;
	int eight = 0;

	for (i = 0; i < size; i++)
		eight |= data[i] >= 0x80;
	r = smtp_7bit_convert((const char *)data, size, fuzz_out, &o, &why);
	switch (r) {
	case SMTP_7BIT_ASIS:
		fuzz_check(!eight, "an 8-bit message left as it is");
		fuzz_check(o.len == 0, "output for a message left as it is");
		break;
	case SMTP_7BIT_CONVERTED:
		fuzz_check(eight, "a 7-bit message converted");
		diff = smtp_7bit_check((const char *)data, size,
		    o.data != NULL ? o.data : "", o.len);
		if (diff != NULL)
			fuzz_check(0, diff);
		break;
	case SMTP_7BIT_CANNOT:
		fuzz_check(eight, "a 7-bit message refused");
		fuzz_check(why != NULL, "a refusal without a reason");
		break;
	default:
		fuzz_check(0, "a write error without a failing writer");
	}
	free(o.data);
	return 0;
}
