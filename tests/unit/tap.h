/*
 * tap.h - the Test Anything Protocol, as much as our unit tests need.
 *
 *	plan(3);
 *	ok(x == 1, "x is one");
 *	is_int(f(), 2, "f gives two");
 *	is_str(g(), "abc", "g gives abc");
 *	return done();
 */
#ifndef FACTEUR_TAP_H
#define FACTEUR_TAP_H

#include <stdbool.h>

void plan(int n);
bool ok(bool cond, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
bool is_int(long long got, long long want, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool is_str(const char *got, const char *want, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* exit status: 0 when every test passed and the plan was kept */
int done(void);

#endif
