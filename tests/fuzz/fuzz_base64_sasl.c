/*
 * fuzz_base64_sasl.c - libFuzzer target for the base64 decoder
 * (core/base64.c), which decodes every SASL response a client sends.
 *
 * The decoder writes into a buffer of exactly (n / 4) * 3 bytes, the
 * size its callers give it, so ASan sees an overrun. Because it is
 * strict, whatever it accepts is canonical: encoding the result must
 * give back the input byte for byte. And the input taken as plain bytes
 * must survive an encode and decode.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_b64_check(bool cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_base64_sasl: %s\n", what);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *dec, *back;
	char *enc;
	size_t declen = 0, backlen = 0, enclen;

	/* the input as a response on the wire */
	dec = malloc(size / 4 * 3 + 1);
	if (fc_base64_decode((const char *)data, size, dec, &declen) == 0) {
		fuzz_b64_check(declen <= size / 4 * 3, "decoded too long");
		fuzz_b64_check(size % 4 == 0, "accepted a partial group");
		enclen = fc_base64_encoded_len(declen);
		fuzz_b64_check(enclen == size, "accepted a non-canonical size");
		enc = malloc(enclen + 1);
		fc_base64_encode(dec, declen, enc);
		fuzz_b64_check(memcmp(enc, data, size) == 0,
		    "accepted a non-canonical encoding");
		free(enc);
	}
	free(dec);

	/* the input as bytes to encode */
	enclen = fc_base64_encoded_len(size);
	enc = malloc(enclen + 1);
	fc_base64_encode(data, size, enc);
	fuzz_b64_check(strlen(enc) == enclen, "encoded length");
	back = malloc(enclen / 4 * 3 + 1);
	fuzz_b64_check(fc_base64_decode(enc, enclen, back, &backlen) == 0,
	    "own encoding refused");
	fuzz_b64_check(backlen == size && memcmp(back, data, size) == 0,
	    "round trip changed the bytes");
	free(back);
	free(enc);
	return 0;
}
