/*
 * test_imap_sort.c - SORT and THREAD without I/O (RFC 5256): base
 * subjects (modules/imap/imap_subject.c), comparisons and the threading
 * algorithms (modules/imap/imap_thread.c), compiled into this test.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <facteur/arena.h>

#include "imap_sort.h"
#include "tap.h"

#define NELEMS(a)	(sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *in, *base;
	bool reply;
} subjects[] = {
	{ "hello", "hello", false },
	{ "Re: hello", "hello", true },
	{ "RE: Re[2]: FWD: hello", "hello", true },
	{ "re :hello", "hello", true },
	{ "Re [2]: hello", "hello", true },
	{ "Fw: hello", "hello", true },
	{ "[list] Re: hello", "hello", true },
	{ "[list] hello", "hello", false },
	{ "[a][b] hello", "hello", false },
	{ "[a] [b]", "[b]", false },
	{ "[list]", "[list]", false },
	{ "Re: [list]", "[list]", true },
	{ "hello (fwd)", "hello", true },
	{ "hello (fwd) (FWD)  ", "hello", true },
	{ "[Fwd: Re: hello]", "hello", true },
	{ "[fwd: hello (fwd)]", "hello", true },
	{ "Re: [Fwd: [list] Re: hello (fwd)]", "hello", true },
	{ "  hello  \t world \t ", "hello world", false },
	{ "=?UTF-8?Q?Re=3A_caf=C3=A9?=", "caf\xc3\xa9", true },
	{ "=?ISO-8859-1?Q?Fwd:_d=E9j=E0?= vu", "d\xc3\xa9j\xc3\xa0 vu", true },
	{ "Re:", "", true },
	{ "Reply: hello", "Reply: hello", false },
	{ "Ref: hello", "Ref: hello", false },
	{ "[unclosed Re: hello", "[unclosed Re: hello", false },
	{ "", "", false },
};

static struct imap_sortmsg *
msg(struct fc_arena *a, uint32_t seq, const char *subject, time_t sent,
    const char *id, const char *refs)
{
	struct imap_sortmsg *m = fc_arena_alloc(a, sizeof(*m));
	bool reply;

	memset(m, 0, sizeof(*m));
	m->seq = seq;
	m->uid = seq * 10;
	m->sent = sent;
	m->arrival = 1000 - seq;
	m->subject = imap_base_subject(a, subject, &reply);
	m->reply = reply;
	m->from = m->to = m->cc = "";
	m->msgid = id;
	m->refs = imap_msgids_parse(a, refs, &m->nrefs);
	return m;
}

static void
test_subjects(struct fc_arena *a)
{
	size_t i;
	bool reply;
	const char *s;

	for (i = 0; i < NELEMS(subjects); i++) {
		s = imap_base_subject(a, subjects[i].in, &reply);
		is_str(s, subjects[i].base, "base subject of \"%s\"",
		    subjects[i].in);
		ok(reply == subjects[i].reply, "\"%s\" is %sa reply",
		    subjects[i].in, subjects[i].reply ? "" : "not ");
	}
	s = imap_base_subject(a, NULL, &reply);
	is_str(s, "", "no Subject: an empty base subject");
	ok(imap_sort_strcmp("Hello", "hELLO") == 0, "ASCII case folded");
	ok(imap_sort_strcmp("abc", "abd") < 0, "abc before abd");
	ok(imap_sort_strcmp("", "a") < 0, "empty first");
}

static void
test_msgids(struct fc_arena *a)
{
	const char **ids;
	size_t n;

	ids = imap_msgids_parse(a, " <a@b>\r\n\t<c@d> junk <e f> <> <g@h>",
	    &n);
	is_int((long long)n, 3, "three ids");
	if (n == 3) {
		is_str(ids[0], "<a@b>", "first id");
		is_str(ids[1], "<c@d>", "second id");
		is_str(ids[2], "<g@h>", "third id");
	} else
		ok(false, "ids"), ok(false, "ids"), ok(false, "ids");
	ids = imap_msgids_parse(a, "none here", &n);
	ok(ids == NULL && n == 0, "no id");
	ids = imap_msgids_parse(a, NULL, &n);
	ok(ids == NULL && n == 0, "no field");
}

static void
test_sort(struct fc_arena *a)
{
	struct imap_sortmsg *m[4];
	struct imap_sortspec spec;
	enum imap_sortkey k;
	char buf[64];

	m[0] = msg(a, 1, "b", 300, NULL, NULL);
	m[1] = msg(a, 2, "Re: a", 300, NULL, NULL);
	m[2] = msg(a, 3, "B", 100, NULL, NULL);
	m[3] = msg(a, 4, "[x] A", 200, NULL, NULL);
	m[0]->size = 50; m[1]->size = 10; m[2]->size = 50; m[3]->size = 20;
	m[0]->from = "zed"; m[1]->from = "Amy"; m[2]->from = "bob";
	m[3]->from = "";
	ok(imap_sortkey_parse("subject", &k) == 0 && k == IMAP_SORT_SUBJECT,
	    "SUBJECT key");
	ok(imap_sortkey_parse("REVERSE", &k) < 0, "REVERSE is no key");
	ok(imap_sortkey_parse("DISPLAYFROM", &k) < 0, "no DISPLAYFROM");

	memset(&spec, 0, sizeof(spec));
	spec.key[0] = IMAP_SORT_SUBJECT;
	spec.key[1] = IMAP_SORT_DATE;
	spec.reverse[1] = true;
	spec.n = 2;
	imap_sort_msgs(&spec, m, 4);
	snprintf(buf, sizeof(buf), "%u %u %u %u", m[0]->seq, m[1]->seq,
	    m[2]->seq, m[3]->seq);
	is_str(buf, "2 4 1 3", "SUBJECT REVERSE DATE");

	spec.key[0] = IMAP_SORT_SIZE;
	spec.reverse[0] = true;
	spec.n = 1;
	imap_sort_msgs(&spec, m, 4);
	snprintf(buf, sizeof(buf), "%u %u %u %u", m[0]->seq, m[1]->seq,
	    m[2]->seq, m[3]->seq);
	is_str(buf, "1 3 4 2", "REVERSE SIZE, ties in mailbox order");

	spec.key[0] = IMAP_SORT_FROM;
	spec.reverse[0] = false;
	imap_sort_msgs(&spec, m, 4);
	snprintf(buf, sizeof(buf), "%u %u %u %u", m[0]->seq, m[1]->seq,
	    m[2]->seq, m[3]->seq);
	is_str(buf, "4 2 3 1", "FROM, empty first, case folded");

	spec.key[0] = IMAP_SORT_ARRIVAL;
	imap_sort_msgs(&spec, m, 4);
	snprintf(buf, sizeof(buf), "%u %u %u %u", m[0]->seq, m[1]->seq,
	    m[2]->seq, m[3]->seq);
	is_str(buf, "4 3 2 1", "ARRIVAL");
}

static void
test_orderedsubject(struct fc_arena *a)
{
	struct imap_sortmsg *m[6];
	struct imap_str out;

	m[0] = msg(a, 1, "a", 300, NULL, NULL);
	m[1] = msg(a, 2, "Re: a", 100, NULL, NULL);
	m[2] = msg(a, 3, "b", 200, NULL, NULL);
	m[3] = msg(a, 4, "A", 400, NULL, NULL);
	m[4] = msg(a, 5, "RE: b", 250, NULL, NULL);
	m[5] = msg(a, 6, "c", 50, NULL, NULL);
	imap_str_init(&out);
	imap_thread_orderedsubject(a, m, 6, false, &out);
	is_str(imap_str_cstr(&out), "(6)(2 (1)(4))(3 5)", "ORDEREDSUBJECT");
	imap_str_reset(&out);
	imap_thread_orderedsubject(a, m, 6, true, &out);
	is_str(imap_str_cstr(&out), "(60)(20 (10)(40))(30 50)",
	    "ORDEREDSUBJECT by UID");
	imap_str_reset(&out);
	imap_thread_orderedsubject(a, m, 0, false, &out);
	is_str(imap_str_cstr(&out), "", "no message, no thread");
	imap_str_free(&out);
}

static void
test_references(struct fc_arena *a)
{
	struct imap_sortmsg *m[9], *l[3];
	struct imap_str out;

	m[0] = msg(a, 1, "a", 100, "<1@x>", NULL);
	m[1] = msg(a, 2, "Re: a", 200, "<2@x>", "<1@x>");
	m[2] = msg(a, 3, "Re: a", 300, "<3@x>", "<1@x> <2@x>");
	m[3] = msg(a, 4, "Re: a", 150, "<4@x>", "<1@x>");
	/* a parent not in the mailbox: a dummy with two children */
	m[4] = msg(a, 5, "b", 50, "<5@x>", "<gone@x>");
	m[5] = msg(a, 6, "Re: b", 60, "<6@x>", "<gone@x>");
	/* no id, a reply: under the thread of its subject */
	m[6] = msg(a, 7, "Re: a", 500, NULL, NULL);
	/* a dummy with one child at the root gives way to it; then two
	 * threads of one subject, neither a reply, under a new dummy */
	m[7] = msg(a, 8, "c", 10, "<8@x>", "<gone2@x>");
	m[8] = msg(a, 9, "c", 20, NULL, NULL);
	imap_str_init(&out);
	imap_thread_references(a, m, 9, false, &out);
	is_str(imap_str_cstr(&out), "((8)(9))((5)(6))(1 (4)(2 3)(7))",
	    "REFERENCES");
	imap_str_reset(&out);

	/* references that loop; a duplicate id */
	l[0] = msg(a, 1, "loop", 1000, "<10@x>", "<11@x>");
	l[1] = msg(a, 2, "Re: loop", 1001, "<11@x>", "<10@x>");
	l[2] = msg(a, 3, "other", 999, "<10@x>", NULL);
	imap_thread_references(a, l, 3, false, &out);
	is_str(imap_str_cstr(&out), "(3)(2 1)", "a loop is not followed");
	imap_str_reset(&out);

	/* the chain is kept when the middle message is missing */
	l[0] = msg(a, 1, "x", 10, "<a@x>", NULL);
	l[1] = msg(a, 2, "y", 5, "<c@x>", "<a@x> <b@x>");
	imap_thread_references(a, l, 2, true, &out);
	is_str(imap_str_cstr(&out), "(10 20)", "a missing link is skipped");
	imap_str_reset(&out);
	imap_thread_references(a, l, 0, false, &out);
	is_str(imap_str_cstr(&out), "", "no message, no thread");
	imap_str_free(&out);
}

/* a thread as deep as a large mailbox: no recursion on its depth */
#define CHAIN	100000

static void
test_deep(struct fc_arena *a)
{
	struct imap_sortmsg **m = fc_arena_alloc(a, CHAIN * sizeof(*m));
	struct imap_str out;
	const char *s;
	size_t i;

	for (i = 0; i < CHAIN; i++) {
		char *id = fc_arena_printf(a, "<%zu@deep>", i);
		char *ref = i == 0 ? NULL : fc_arena_printf(a, "<%zu@deep>",
		    i - 1);

		m[i] = msg(a, (uint32_t)i + 1, i == 0 ? "deep" : "Re: deep",
		    (time_t)i, id, ref);
	}
	imap_str_init(&out);
	imap_thread_references(a, m, CHAIN, false, &out);
	s = imap_str_cstr(&out);
	ok(strncmp(s, "(1 2 3 ", 7) == 0 && strcmp(s + strlen(s) - 14,
	    " 99999 100000)") == 0, "a chain of %d messages", CHAIN);
	imap_str_reset(&out);
	/* the same, delivered backwards */
	for (i = 0; i < CHAIN / 2; i++) {
		struct imap_sortmsg *t = m[i];

		m[i] = m[CHAIN - 1 - i];
		m[CHAIN - 1 - i] = t;
	}
	imap_thread_references(a, m, CHAIN, false, &out);
	s = imap_str_cstr(&out);
	ok(strncmp(s, "(1 2 3 ", 7) == 0 && strcmp(s + strlen(s) - 14,
	    " 99999 100000)") == 0, "backwards");
	imap_str_free(&out);
}

int
main(void)
{
	struct fc_arena *a = fc_arena_new("test", 4096);

	plan((int)NELEMS(subjects) * 2 + 4 + 6 + 7 + 3 + 4 + 2);
	test_subjects(a);
	test_msgids(a);
	test_sort(a);
	test_orderedsubject(a);
	test_references(a);
	test_deep(a);
	fc_arena_free(&a);
	return done();
}
