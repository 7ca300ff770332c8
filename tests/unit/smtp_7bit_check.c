/*
 * smtp_7bit_check.c - compares a message with its 7-bit form, part by
 * part, through the core's MIME parser and decoders.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <facteur/arena.h>
#include <facteur/mime.h>

#include "smtp_7bit_check.h"

struct check_buf {
	char *data;
	size_t len, cap;
};

static void
check_out(void *arg, const void *data, size_t len)
{
	struct check_buf *b = arg;

	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2 + 64;
		b->data = realloc(b->data, b->cap);
		if (b->data == NULL)
			abort();
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
}

static void
check_decode(struct fc_arena *a, const char *msg,
    const struct fc_mime_part *p, struct check_buf *b)
{
	struct fc_mime_decoder *d;
	uint64_t start = fc_mime_part_body_offset(p);
	uint64_t end = fc_mime_part_end_offset(p);

	b->len = 0;
	d = fc_mime_decoder_new(a, p, false, check_out, b);
	if (end > start)
		fc_mime_decoder_feed(d, msg + start, (size_t)(end - start));
	fc_mime_decoder_finish(d);
}

static const char *
check_parts(struct fc_arena *a, const char *in,
    const struct fc_mime_part *p, const char *out,
    const struct fc_mime_part *q)
{
	const struct fc_mime_part *pc, *qc;
	struct check_buf x = { 0 }, y = { 0 };
	const char *why = NULL;

	if (strcmp(fc_mime_part_type(p), fc_mime_part_type(q)) != 0
	    || strcmp(fc_mime_part_subtype(p), fc_mime_part_subtype(q)) != 0)
		return "a part changed its type";
	if (fc_mime_part_is_multipart(p) != fc_mime_part_is_multipart(q)
	    || fc_mime_part_is_message(p) != fc_mime_part_is_message(q))
		return "a part changed its kind";
	pc = fc_mime_part_child(p);
	qc = fc_mime_part_child(q);
	if (pc != NULL || qc != NULL) {
		for (; pc != NULL && qc != NULL; pc = fc_mime_part_next(pc),
		    qc = fc_mime_part_next(qc))
			if ((why = check_parts(a, in, pc, out, qc)) != NULL)
				return why;
		return pc != NULL || qc != NULL ? "the parts differ in number" :
		    NULL;
	}
	check_decode(a, in, p, &x);
	check_decode(a, out, q, &y);
	if (x.len != y.len || (x.len > 0 && memcmp(x.data, y.data, x.len)
	    != 0))
		why = "a part's decoded body changed";
	free(x.data);
	free(y.data);
	return why;
}

const char *
smtp_7bit_check(const char *in, size_t inlen, const char *out,
    size_t outlen)
{
	struct fc_arena *a;
	struct fc_mime_parser *pa;
	struct fc_mime_part *pin, *pout;
	const char *why;
	size_t i;

	for (i = 0; i < outlen; i++)
		if ((unsigned char)out[i] >= 0x80)
			return "an 8-bit byte in the result";
	a = fc_arena_new("7bit-check", 16384);
	pa = fc_mime_parser_new(a, NULL);
	fc_mime_parser_feed(pa, in, inlen);
	pin = fc_mime_parser_finish(pa);
	pa = fc_mime_parser_new(a, NULL);
	fc_mime_parser_feed(pa, out, outlen);
	pout = fc_mime_parser_finish(pa);
	why = check_parts(a, in, pin, out, pout);
	fc_arena_free(&a);
	return why;
}
