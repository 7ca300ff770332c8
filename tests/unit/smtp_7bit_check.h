/*
 * smtp_7bit_check.h - whether a message converted by smtp_7bit.c says
 * the same as the original: shared by test_smtp_7bit and fuzz_smtp_7bit.
 */
#ifndef FACTEUR_TEST_SMTP_7BIT_CHECK_H
#define FACTEUR_TEST_SMTP_7BIT_CHECK_H

#include <stddef.h>

/*
 * NULL when out is 7-bit and parses into the same tree as in, each leaf part of the same type
 * with the same decoded body; else what differs.
 */
const char *smtp_7bit_check(const char *in, size_t inlen, const char *out,
    size_t outlen);

#endif
