/*
 * imap_qresync.c - QRESYNC (RFC 7162 3.2): the VANISHED response, the
 * resynchronisation that SELECT and EXAMINE do with the QRESYNC
 * parameter, and the VANISHED (EARLIER) of UID FETCH.
 *
 * The stores keep no history of expunges: a message gone is gone from
 * the index. What we can say exactly is which UIDs do not exist now, so
 * "VANISHED (EARLIER)" names every UID of the client's set, below
 * UIDNEXT, that the mailbox does not hold, whether it went before or
 * after the client's modseq (RFC 7162 3.2.5.1 and 3.2.10 allow it; the
 * client already knows the older ones and drops nothing it has). The
 * answer is built from the set's ranges and the holes between the
 * messages, never one number at a time: a set "1:4294967295" costs the
 * size of the mailbox, not four billion numbers.
 *
 * The client's (seq-match uid-match) pairs narrow it: a number that
 * still has the UID the client paired it with shows that no message
 * below that UID went since the client looked (UIDs only grow, so
 * nothing came in below it either), and nothing at or below it is
 * reported.
 */
#include <stdlib.h>
#include <string.h>

#include <facteur/arena.h>
#include <facteur/session.h>
#include <facteur/storage.h>

#include "imap.h"

/* Writes "* VANISHED [(EARLIER)] set", splitting a long set over
 * several responses so no line grows without bound. */
struct imap_vanished {
	struct imap_session *is;
	bool earlier;
	bool open;			/* a response line is started */
};

static void
imap_vanished_add(struct imap_vanished *v, uint32_t lo, uint32_t hi)
{
	struct imap_str *out = &v->is->out;

	if (v->open && out->len > 16384) {
		imap_str_adds(out, "\r\n");
		imap_write_str(v->is);
		v->open = false;
	}
	if (!v->open) {
		imap_str_adds(out, v->earlier ? "* VANISHED (EARLIER) " :
		    "* VANISHED ");
		v->open = true;
	} else
		imap_str_addc(out, ',');
	if (lo == hi)
		imap_str_printf(out, "%u", lo);
	else
		imap_str_printf(out, "%u:%u", lo, hi);
}

static void
imap_vanished_end(struct imap_vanished *v)
{
	if (!v->open)
		return;
	imap_str_adds(&v->is->out, "\r\n");
	imap_write_str(v->is);
	v->open = false;
}

void
imap_vanished_uids(struct imap_session *is, const uint32_t *uids, size_t n)
{
	struct imap_vanished v = { .is = is, .earlier = false };
	size_t i = 0, j;

	while (i < n) {
		for (j = i; j + 1 < n && uids[j + 1] == uids[j] + 1; j++)
			;
		imap_vanished_add(&v, uids[i], uids[j]);
		i = j + 1;
	}
	imap_vanished_end(&v);
}

static int
imap_range_cmp(const void *a, const void *b)
{
	const struct imap_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

void
imap_vanished_earlier(struct imap_session *is, const struct imap_seqset *set,
    uint32_t above)
{
	struct imap_vanished v = { .is = is, .earlier = true };
	uint32_t count = fc_mailbox_count(is->box);
	uint32_t uidnext = fc_mailbox_uidnext(is->box);
	uint32_t top = uidnext > 0 ? uidnext - 1 : 0;
	struct imap_range *r;
	size_t i, n = 0;

	if (top == 0 || above >= top)
		return;
	/* the set's ranges in order, "*" as the last UID given out: the
	 * client may know UIDs past the last message still here */
	r = fc_arena_alloc(is->arena, (set->count + 1) * sizeof(*r));
	for (i = 0; i < set->count; i++) {
		uint32_t lo = set->ranges[i].lo, hi = set->ranges[i].hi, t;

		lo = lo == 0 ? top : lo;
		hi = hi == 0 ? top : hi;
		if (lo > hi) {
			t = lo;
			lo = hi;
			hi = t;
		}
		if (lo <= above)
			lo = above + 1;
		if (hi > top)
			hi = top;
		if (lo > hi)
			continue;
		r[n].lo = lo;
		r[n].hi = hi;
		n++;
	}
	qsort(r, n, sizeof(*r), imap_range_cmp);
	for (i = 0; i < n; i++) {
		uint32_t lo = r[i].lo, hi = r[i].hi, seq, uid;

		/* merge the ranges that overlap or touch this one */
		while (i + 1 < n && r[i + 1].lo <= hi + 1) {
			if (r[i + 1].hi > hi)
				hi = r[i + 1].hi;
			i++;
		}
		/* the holes between the messages within lo:hi */
		seq = imap_uid_lower(is->box, count, lo);
		for (; lo <= hi; seq++) {
			if (seq > count || (uid = fc_msg_uid(is->box, seq))
			    > hi) {
				imap_vanished_add(&v, lo, hi);
				break;
			}
			if (uid > lo)
				imap_vanished_add(&v, lo, uid - 1);
			if (uid == hi)
				break;
			lo = uid + 1;
		}
	}
	imap_vanished_end(&v);
}

/*
 * The largest UID that a (seq-match uid-match) pair shows unchanged: 0
 * when none. The pairs are walked a run at a time (a stretch where both
 * sets go up by one together); within a run, the message's UID minus
 * the client's never goes down (UIDs rise at least as fast as numbers),
 * so the last pair that still holds is found by bisection.
 */
static uint32_t
imap_qresync_matched(struct imap_session *is, const struct imap_seqset *seqs,
    const struct imap_seqset *uids)
{
	uint32_t count = fc_mailbox_count(is->box), best = 0;
	size_t si = 0, ui = 0;
	uint64_t soff = 0, uoff = 0;

	while (si < seqs->count && ui < uids->count) {
		const struct imap_range *sr = &seqs->ranges[si];
		const struct imap_range *ur = &uids->ranges[ui];
		uint32_t slo = sr->lo < sr->hi ? sr->lo : sr->hi;
		uint32_t shi = sr->lo < sr->hi ? sr->hi : sr->lo;
		uint32_t ulo = ur->lo < ur->hi ? ur->lo : ur->hi;
		uint32_t uhi = ur->lo < ur->hi ? ur->hi : ur->lo;
		uint64_t s0 = slo + soff, u0 = ulo + uoff;
		uint64_t len = shi - s0 + 1, lo, hi;

		if (uhi - u0 + 1 < len)
			len = uhi - u0 + 1;
		/* pairs (s0 + k, u0 + k) for k < len; numbers past the
		 * mailbox match nothing */
		if (s0 <= count) {
			uint64_t last = len;

			if (s0 + last - 1 > count)
				last = count - s0 + 1;
			/* the largest k with uid(s0 + k) <= u0 + k */
			lo = 0;
			hi = last;
			while (lo < hi) {
				uint64_t mid = lo + (hi - lo) / 2;

				if (fc_msg_uid(is->box, (uint32_t)(s0 + mid))
				    <= u0 + mid)
					lo = mid + 1;
				else
					hi = mid;
			}
			if (lo > 0 && fc_msg_uid(is->box,
			    (uint32_t)(s0 + lo - 1)) == u0 + lo - 1
			    && u0 + lo - 1 > best)
				best = (uint32_t)(u0 + lo - 1);
		}
		soff += len;
		uoff += len;
		if (slo + soff > shi) {
			si++;
			soff = 0;
		}
		if (ulo + uoff > uhi) {
			ui++;
			uoff = 0;
		}
	}
	return best;
}

void
imap_qresync_select(struct imap_session *is,
    const struct imap_select_params *p)
{
	struct imap_seqset all;
	struct imap_range star = { 1, 0 };
	uint32_t count, seq, above = 0;

	/* RFC 7162 3.2.5: another UIDVALIDITY means the client's cache is
	 * worth nothing; it gets a plain SELECT */
	if (p->uidvalidity != fc_mailbox_uidvalidity(is->box))
		return;
	if (p->seq_match.count > 0)
		above = imap_qresync_matched(is, &p->seq_match, &p->uid_match);
	if (p->known_uids.count > 0)
		imap_vanished_earlier(is, &p->known_uids, above);
	else {
		/* without known-uids the client may know any UID */
		all.ranges = &star;
		all.count = 1;
		imap_vanished_earlier(is, &all, above);
	}
	count = fc_mailbox_count(is->box);
	for (seq = 1; seq <= count; seq++) {
		uint64_t modseq = fc_msg_modseq(is->box, seq);

		if (modseq <= p->modseq)
			continue;
		imap_str_printf(&is->out, "* %u FETCH (UID %u FLAGS ", seq,
		    fc_msg_uid(is->box, seq));
		imap_flags_write(is, seq);
		imap_str_printf(&is->out, " MODSEQ (%llu))\r\n",
		    (unsigned long long)modseq);
		if (is->out.len > 16384)
			imap_write_str(is);
	}
	imap_write_str(is);
}
