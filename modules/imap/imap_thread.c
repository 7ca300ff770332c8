/*
 * imap_thread.c - SORT comparisons and the THREAD algorithms of RFC 5256
 * (ORDEREDSUBJECT, REFERENCES), over the keys imap_sort.c gathered. No
 * I/O: the result is written into a string.
 *
 * Messages that compare equal keep the mailbox's order (sequence
 * numbers). Message ids compare as octets.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <facteur/arena.h>

#include "imap_sort.h"

int
imap_sortkey_parse(const char *name, enum imap_sortkey *key_r)
{
	static const struct {
		const char *name;
		enum imap_sortkey key;
	} keys[] = {
		{ "ARRIVAL", IMAP_SORT_ARRIVAL }, { "CC", IMAP_SORT_CC },
		{ "DATE", IMAP_SORT_DATE }, { "FROM", IMAP_SORT_FROM },
		{ "SIZE", IMAP_SORT_SIZE }, { "SUBJECT", IMAP_SORT_SUBJECT },
		{ "TO", IMAP_SORT_TO },
	};
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcasecmp(name, keys[i].name) == 0) {
			*key_r = keys[i].key;
			return 0;
		}
	return -1;
}

#define CMP(x, y)	((x) < (y) ? -1 : (x) > (y) ? 1 : 0)

static int
key_compare(enum imap_sortkey key, const struct imap_sortmsg *x,
    const struct imap_sortmsg *y)
{
	switch (key) {
	case IMAP_SORT_ARRIVAL:
		return CMP(x->arrival, y->arrival);
	case IMAP_SORT_CC:
		return imap_sort_strcmp(x->cc, y->cc);
	case IMAP_SORT_DATE:
		return CMP(x->sent, y->sent);
	case IMAP_SORT_FROM:
		return imap_sort_strcmp(x->from, y->from);
	case IMAP_SORT_SIZE:
		return CMP(x->size, y->size);
	case IMAP_SORT_SUBJECT:
		return imap_sort_strcmp(x->subject, y->subject);
	case IMAP_SORT_TO:
		return imap_sort_strcmp(x->to, y->to);
	}
	return 0;
}

int
imap_sort_compare(const struct imap_sortspec *spec,
    const struct imap_sortmsg *x, const struct imap_sortmsg *y)
{
	size_t i;
	int r;

	for (i = 0; i < spec->n; i++) {
		r = key_compare(spec->key[i], x, y);
		if (r != 0)
			return spec->reverse[i] ? -r : r;
	}
	return CMP(x->seq, y->seq);
}

/* qsort has no argument: a merge sort that takes one */
typedef int cmp_fn(const void *arg, const void *x, const void *y);

static void
merge_sort(void **v, void **tmp, size_t n, cmp_fn *cmp, const void *arg)
{
	size_t h = n / 2, i = 0, j = h, k = 0;

	if (n < 2)
		return;
	merge_sort(v, tmp, h, cmp, arg);
	merge_sort(v + h, tmp, n - h, cmp, arg);
	while (i < h && j < n)
		tmp[k++] = cmp(arg, v[j], v[i]) < 0 ? v[j++] : v[i++];
	while (i < h)
		tmp[k++] = v[i++];
	while (j < n)
		tmp[k++] = v[j++];
	memcpy(v, tmp, n * sizeof(*v));
}

static void
sort_ptrs(void **v, size_t n, cmp_fn *cmp, const void *arg)
{
	void **tmp;

	if (n < 2)
		return;
	tmp = malloc(n * sizeof(*tmp));
	if (tmp == NULL)
		abort();
	merge_sort(v, tmp, n, cmp, arg);
	free(tmp);
}

static int
spec_cmp(const void *arg, const void *x, const void *y)
{
	return imap_sort_compare(arg, x, y);
}

void
imap_sort_msgs(const struct imap_sortspec *spec, struct imap_sortmsg **msgs,
    size_t n)
{
	sort_ptrs((void **)msgs, n, spec_cmp, spec);
}

static void
put_num(struct imap_str *out, const struct imap_sortmsg *m, bool uid)
{
	imap_str_printf(out, "%u", uid ? m->uid : m->seq);
}

/* ------------------------------------------------------------------ */
/* ORDEREDSUBJECT (RFC 5256 3) */

static int
subject_date_cmp(const void *arg, const void *xp, const void *yp)
{
	const struct imap_sortmsg *x = xp, *y = yp;
	int r = imap_sort_strcmp(x->subject, y->subject);

	(void)arg;
	if (r != 0)
		return r;
	if (x->sent != y->sent)
		return CMP(x->sent, y->sent);
	return CMP(x->seq, y->seq);
}

static int
date_cmp(const void *arg, const void *xp, const void *yp)
{
	const struct imap_sortmsg *x = xp, *y = yp;

	(void)arg;
	if (x->sent != y->sent)
		return CMP(x->sent, y->sent);
	return CMP(x->seq, y->seq);
}

struct othread {
	struct imap_sortmsg *head;
	size_t start, len;
};

static int
othread_cmp(const void *arg, const void *x, const void *y)
{
	return date_cmp(arg, ((const struct othread *)x)->head,
	    ((const struct othread *)y)->head);
}

void
imap_thread_orderedsubject(struct fc_arena *a, struct imap_sortmsg **msgs,
    size_t n, bool uid, struct imap_str *out)
{
	struct imap_sortmsg **v;
	struct othread *th, **order;
	size_t nt = 0, i, j;

	if (n == 0)
		return;
	v = fc_arena_alloc(a, n * sizeof(*v));
	memcpy(v, msgs, n * sizeof(*v));
	sort_ptrs((void **)v, n, subject_date_cmp, NULL);
	th = fc_arena_alloc(a, n * sizeof(*th));
	order = fc_arena_alloc(a, n * sizeof(*order));
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && imap_sort_strcmp(v[i]->subject,
		    v[j]->subject) == 0; j++)
			;
		th[nt].head = v[i];
		th[nt].start = i;
		th[nt].len = j - i;
		order[nt] = &th[nt];
		nt++;
	}
	/* the threads by the sent date of their first message */
	sort_ptrs((void **)order, nt, othread_cmp, NULL);
	for (i = 0; i < nt; i++) {
		const struct othread *t = order[i];

		imap_str_addc(out, '(');
		put_num(out, t->head, uid);
		if (t->len == 2) {
			imap_str_addc(out, ' ');
			put_num(out, v[t->start + 1], uid);
		} else if (t->len > 2) {
			imap_str_addc(out, ' ');
			for (j = 1; j < t->len; j++) {
				imap_str_addc(out, '(');
				put_num(out, v[t->start + j], uid);
				imap_str_addc(out, ')');
			}
		}
		imap_str_addc(out, ')');
	}
}

/* ------------------------------------------------------------------ */
/* REFERENCES (RFC 5256 3) */

struct tnode {
	struct imap_sortmsg *msg;	/* NULL: a dummy */
	const char *id;
	struct tnode *parent, *child, *next;
	struct tnode *hnext;		/* in the id table */
	struct tnode *anext;		/* every node, in creation order */
	const struct imap_sortmsg *first; /* the date it sorts by */
};

struct idtable {
	struct tnode **b;
	size_t size;			/* a power of two */
	struct tnode *all, **tail;
};

static size_t
hash_str(const char *s, bool nocase)
{
	size_t h = 5381;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (nocase && c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		h = h * 33 + c;
	}
	return h;
}

static struct tnode *
node_new(struct fc_arena *a, struct idtable *tb)
{
	struct tnode *t = fc_arena_alloc(a, sizeof(*t));

	memset(t, 0, sizeof(*t));
	if (tb != NULL) {
		*tb->tail = t;
		tb->tail = &t->anext;
	}
	return t;
}

static struct tnode *
id_lookup(struct fc_arena *a, struct idtable *tb, const char *id)
{
	size_t h = hash_str(id, false) & (tb->size - 1);
	struct tnode *t;

	for (t = tb->b[h]; t != NULL; t = t->hnext)
		if (strcmp(t->id, id) == 0)
			return t;
	t = node_new(a, tb);
	t->id = id;
	t->hnext = tb->b[h];
	tb->b[h] = t;
	return t;
}

/* true when a is b or one of b's ancestors */
static bool
is_ancestor(const struct tnode *a, const struct tnode *b)
{
	if (a->child == NULL)
		return a == b;	/* the common case, without a walk */
	for (; b != NULL; b = b->parent)
		if (a == b)
			return true;
	return false;
}

static void
unlink_node(struct tnode *c)
{
	struct tnode **pp;

	if (c->parent == NULL)
		return;
	for (pp = &c->parent->child; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	c->parent = NULL;
	c->next = NULL;
}

/* c (without a parent) as the last child of p */
static void
add_child(struct tnode *p, struct tnode *c)
{
	struct tnode **pp;

	for (pp = &p->child; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = c;
	c->parent = p;
	c->next = NULL;
}

/* Calls visit on every node under top, children before their parent,
 * top last: a walk by the parent links, without recursion (a thread
 * may be as deep as the mailbox is large). visit may change the list
 * of children of the node it is given, nothing else. */
static void
postorder(struct tnode *top, void (*visit)(struct tnode *, bool))
{
	struct tnode *n = top;

	while (n->child != NULL)
		n = n->child;
	for (;;) {
		visit(n, n == top);
		if (n == top)
			return;
		if (n->next != NULL) {
			n = n->next;
			while (n->child != NULL)
				n = n->child;
		} else
			n = n->parent;
	}
}

/* (4) dummies without children go; those with children give them to
 * their parent, but at the root only a single child. The children
 * have been pruned already. */
static void
prune(struct tnode *parent, bool root)
{
	struct tnode **pp = &parent->child, *n, *c, *last;

	while ((n = *pp) != NULL) {
		if (n->msg == NULL && n->child == NULL) {
			*pp = n->next;
			continue;
		}
		if (n->msg == NULL && (!root || n->child->next == NULL)) {
			for (c = last = n->child; c != NULL; c = c->next) {
				c->parent = parent;
				last = c;
			}
			last->next = n->next;
			*pp = n->child;
			pp = &last->next;
			continue;
		}
		pp = &n->next;
	}
}

static int
node_cmp(const void *arg, const void *xp, const void *yp)
{
	const struct tnode *x = xp, *y = yp;

	return date_cmp(arg, x->first, y->first);
}

/* (6) siblings by sent date; a dummy by its first child's. The
 * children's own children are sorted already. */
static void
sort_children(struct tnode *p, bool top)
{
	struct tnode *c, **v;
	size_t n = 0, i;

	(void)top;
	for (c = p->child; c != NULL; c = c->next) {
		c->first = c->msg != NULL ? c->msg : c->child->first;
		n++;
	}
	if (n < 2)
		return;
	v = malloc(n * sizeof(*v));
	if (v == NULL)
		abort();
	for (c = p->child, i = 0; c != NULL; c = c->next)
		v[i++] = c;
	sort_ptrs((void **)v, n, node_cmp, NULL);
	for (i = 0; i + 1 < n; i++)
		v[i]->next = v[i + 1];
	v[n - 1]->next = NULL;
	p->child = v[0];
	free(v);
}

static const struct imap_sortmsg *
thread_msg(const struct tnode *t)
{
	const struct tnode *c, *best = NULL;

	if (t->msg != NULL)
		return t->msg;
	/* a dummy: its earliest child */
	for (c = t->child; c != NULL; c = c->next)
		if (c->msg != NULL && (best == NULL
		    || date_cmp(NULL, c->msg, best->msg) < 0))
			best = c;
	return best != NULL ? best->msg : NULL;
}

static const char *
thread_subject(const struct tnode *t)
{
	const struct imap_sortmsg *m = thread_msg(t);

	return m != NULL ? m->subject : "";
}

struct subjtable {
	struct tnode **node;
	const char **subj;
	size_t size;
};

static size_t
subj_slot(struct subjtable *st, const char *s)
{
	size_t h = hash_str(s, true) & (st->size - 1);

	while (st->subj[h] != NULL && imap_sort_strcmp(st->subj[h], s) != 0)
		h = (h + 1) & (st->size - 1);
	return h;
}

/* (5) threads at the root with the same base subject, together */
static void
group_subjects(struct fc_arena *a, struct tnode *root)
{
	struct subjtable st;
	struct tnode **roots, *r, *t, *c, *d;
	size_t i, h, n = 0, nroots = 0;

	for (r = root->child; r != NULL; r = r->next)
		nroots++;
	for (st.size = 16; st.size < nroots * 2; st.size *= 2)
		;
	st.node = fc_arena_alloc(a, st.size * sizeof(*st.node));
	st.subj = fc_arena_alloc(a, st.size * sizeof(*st.subj));
	memset(st.node, 0, st.size * sizeof(*st.node));
	memset(st.subj, 0, st.size * sizeof(*st.subj));
	roots = fc_arena_alloc(a, (nroots + 1) * sizeof(*roots));
	for (r = root->child; r != NULL; r = r->next)
		roots[n++] = r;
	for (i = 0; i < n; i++) {
		const char *s = thread_subject(roots[i]);

		r = roots[i];
		if (*s == '\0')
			continue;
		h = subj_slot(&st, s);
		t = st.node[h];
		if (t == NULL || (r->msg == NULL && t->msg != NULL)
		    || (t->msg != NULL && t->msg->reply && r->msg != NULL
		    && !r->msg->reply)) {
			st.subj[h] = s;
			st.node[h] = r;
		}
	}
	for (i = 0; i < n; i++) {
		const char *s = thread_subject(roots[i]);

		r = roots[i];
		if (*s == '\0')
			continue;
		h = subj_slot(&st, s);
		t = st.node[h];
		if (t == NULL || t == r)
			continue;
		if (t->msg == NULL && r->msg == NULL) {
			unlink_node(r);
			while ((c = r->child) != NULL) {
				unlink_node(c);
				add_child(t, c);
			}
		} else if (t->msg == NULL) {
			unlink_node(r);
			add_child(t, r);
		} else if (r->msg == NULL) {
			unlink_node(t);
			add_child(r, t);
			st.node[h] = r;
		} else if (!t->msg->reply && r->msg->reply) {
			unlink_node(r);
			add_child(t, r);
		} else {
			d = node_new(a, NULL);
			/* the dummy takes t's place among the roots */
			d->parent = root;
			d->next = t->next;
			t->next = d;
			unlink_node(t);
			add_child(d, t);
			unlink_node(r);
			add_child(d, r);
			st.node[h] = d;
		}
	}
}

/* In parentheses: a thread, a child among several, a dummy's child. */
static bool
wrapped(const struct tnode *t, const struct tnode *root)
{
	return t->parent == root || t->parent->msg == NULL
	    || t->parent->child->next != NULL;
}

/* "(1 2 (3)(4 5))((6)(7))", without recursion */
static void
write_threads(const struct tnode *root, bool uid, struct imap_str *out)
{
	const struct tnode *t = root->child;

	while (t != NULL) {
		if (wrapped(t, root))
			imap_str_addc(out, '(');
		if (t->msg != NULL) {
			put_num(out, t->msg, uid);
			if (t->child != NULL)
				imap_str_addc(out, ' ');
		}
		if (t->child != NULL) {
			t = t->child;
			continue;
		}
		for (;;) {
			if (wrapped(t, root))
				imap_str_addc(out, ')');
			if (t->next != NULL) {
				t = t->next;
				break;
			}
			t = t->parent;
			if (t == root) {
				t = NULL;
				break;
			}
		}
	}
}

void
imap_thread_references(struct fc_arena *a, struct imap_sortmsg **msgs,
    size_t n, bool uid, struct imap_str *out)
{
	struct idtable tb;
	struct tnode root, *t, *c, *p, **refs = NULL, **last;
	size_t nids = n, i, j, maxrefs = 0;

	if (n == 0)
		return;
	for (i = 0; i < n; i++) {
		nids += msgs[i]->nrefs;
		if (msgs[i]->nrefs > maxrefs)
			maxrefs = msgs[i]->nrefs;
	}
	for (tb.size = 16; tb.size < nids; tb.size *= 2)
		;
	tb.b = fc_arena_alloc(a, tb.size * sizeof(*tb.b));
	memset(tb.b, 0, tb.size * sizeof(*tb.b));
	tb.all = NULL;
	tb.tail = &tb.all;
	if (maxrefs > 0)
		refs = fc_arena_alloc(a, maxrefs * sizeof(*refs));
	memset(&root, 0, sizeof(root));
	/* (1) every message in a container, linked to its references */
	for (i = 0; i < n; i++) {
		struct imap_sortmsg *m = msgs[i];

		t = NULL;
		if (m->msgid != NULL) {
			t = id_lookup(a, &tb, m->msgid);
			if (t->msg != NULL)
				t = NULL;	/* a duplicate: as if none */
		}
		if (t == NULL)
			t = node_new(a, &tb);
		t->msg = m;
		/* (1A) each reference the parent of the next */
		for (j = 0; j < m->nrefs; j++) {
			refs[j] = id_lookup(a, &tb, m->refs[j]);
			if (j == 0)
				continue;
			p = refs[j - 1];
			c = refs[j];
			if (c->parent == NULL && !is_ancestor(c, p))
				add_child(p, c);
		}
		/* (1B) the last reference is the message's parent */
		p = m->nrefs > 0 ? refs[m->nrefs - 1] : NULL;
		if (p == NULL)
			unlink_node(t);
		else if (!is_ancestor(t, p)) {
			unlink_node(t);
			add_child(p, t);
		}
	}
	/* (2) the root set: what has no parent */
	last = &root.child;
	for (t = tb.all; t != NULL; t = t->anext)
		if (t->parent == NULL) {
			t->parent = &root;
			*last = t;
			last = &t->next;
		}
	/* (4), (5), (6) */
	postorder(&root, prune);
	group_subjects(a, &root);
	postorder(&root, sort_children);
	write_threads(&root, uid, out);
}
