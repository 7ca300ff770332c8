/*
 * imap_section_read.c - the bytes of BODY[section]<partial>,
 * BINARY[section] and BINARY.SIZE (RFC 3501 6.4.5, RFC 9051 6.4.5, RFC
 * 3516), streamed from the message file with their size announced first.
 * imap_section.c parses the section.
 *
 * Rules:
 * - What the client gets is the CRLF form: every LF without a CR before
 *   it becomes CRLF, whatever the stored file uses (a file stored with
 *   CRLF has none, so it is copied as it is). The sizes come from the
 *   parser's counts, so nothing is read to announce a size, except for
 *   BINARY of an encoded part and for HEADER.FIELDS: those are decoded
 *   or filtered once to count, then again to give the bytes. Memory
 *   stays bounded whatever the sizes (a few buffers of 16 KiB).
 * - A part number that does not exist, and HEADER, TEXT or HEADER.FIELDS
 *   of a part that is not a message/rfc822, give an empty string.
 * - HEADER.FIELDS and HEADER.FIELDS.NOT match names without case, keep
 *   each field as written (folding included) and end with the blank
 *   line, unless the header had none (a message without a body: RFC 3501
 *   6.4.5). A line with no colon is no field and is never shown.
 * - "N.1" of a leaf part is the part itself, as Dovecot answers; a
 *   multipart without any part (no boundary) has no part 1.
 * - A partial past the end gives an empty string; one running past the
 *   end is cut there.
 * - BINARY decodes base64 and quoted-printable of a leaf part, fed in its
 *   CRLF form (so quoted-printable hard line breaks come out as CRLF);
 *   an encoding we do not know is IMAP_SECTION_ERR_UNKNOWN_CTE. The
 *   whole message (BINARY[]) and multiparts are not decoded.
 * - The reader never produces more or fewer bytes than it announced: a
 *   file that shrank under us is an EIO error.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/mime.h>

#include "imap_render.h"
#include "imap_section_int.h"
#include "imap_str.h"

/* ------------------------------------------------------------------ */
/* Reading a file range in CRLF form */

struct section_range {
	int fd;
	uint64_t pos;			/* next byte to read */
	uint64_t end;
	bool convert;			/* bare LFs become CRLF */
	unsigned char prev;		/* the byte before pos */
	bool owe_lf;			/* a CR was given for a bare LF */
	unsigned char *buf;
	size_t buf_pos, buf_len;
};

static int
range_init(struct section_range *rg, struct fc_arena *a, int fd,
    uint64_t start, uint64_t end, bool convert)
{
	ssize_t n;

	rg->fd = fd;
	rg->pos = start;
	rg->end = end;
	rg->convert = convert;
	rg->prev = '\n';
	rg->owe_lf = false;
	rg->buf = fc_arena_alloc(a, SECTION_READ_SIZE);
	rg->buf_pos = rg->buf_len = 0;
	if (convert && start > 0 && start < end) {
		do
			n = pread(fd, &rg->prev, 1, (off_t)(start - 1));
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
	}
	return 0;
}

/* Up to size bytes into out; 0 at the end of the range, -1 with errno. */
static ssize_t
range_read(struct section_range *rg, unsigned char *out, size_t size)
{
	size_t n = 0;

	while (n < size) {
		const unsigned char *p, *lf;
		size_t avail, take;

		if (rg->owe_lf) {
			out[n++] = '\n';
			rg->owe_lf = false;
			rg->prev = '\n';
			continue;
		}
		if (rg->buf_pos == rg->buf_len) {
			ssize_t r;
			uint64_t want = rg->end - rg->pos;

			if (want == 0)
				break;
			if (want > SECTION_READ_SIZE)
				want = SECTION_READ_SIZE;
			r = pread(rg->fd, rg->buf, (size_t)want, (off_t)rg->pos);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				return -1;
			}
			if (r == 0) {
				errno = EIO;	/* the file shrank */
				return -1;
			}
			rg->pos += (uint64_t)r;
			rg->buf_pos = 0;
			rg->buf_len = (size_t)r;
		}
		p = rg->buf + rg->buf_pos;
		avail = rg->buf_len - rg->buf_pos;
		if (avail > size - n)
			avail = size - n;
		if (!rg->convert) {
			memcpy(out + n, p, avail);
			n += avail;
			rg->buf_pos += avail;
			continue;
		}
		lf = memchr(p, '\n', avail);
		take = lf == NULL ? avail : (size_t)(lf - p);
		if (take > 0) {
			memcpy(out + n, p, take);
			n += take;
			rg->buf_pos += take;
			rg->prev = p[take - 1];
			continue;
		}
		/* at an LF */
		rg->buf_pos++;
		if (rg->prev != '\r') {
			out[n++] = '\r';
			rg->owe_lf = true;
		} else {
			out[n++] = '\n';
			rg->prev = '\n';
		}
	}
	return (ssize_t)n;
}

/* ------------------------------------------------------------------ */
/* HEADER.FIELDS and HEADER.FIELDS.NOT: a filter over the header bytes */

enum fields_state {
	FIELDS_AT_START,		/* at the start of a line */
	FIELDS_AT_CR,			/* a CR at the start of a line */
	FIELDS_IN_NAME,
	FIELDS_IN_FIELD,
	FIELDS_DONE,			/* the blank line seen */
};

struct fields_filter {
	const struct imap_section *sec;
	enum fields_state st;
	bool keep;			/* the current field is shown */
	bool name_long;
	bool last_lf;			/* the last byte given was an LF */
	size_t name_len;
	char name[SECTION_FIELD_MAX];
};

static void
fields_init(struct fields_filter *f, const struct imap_section *sec)
{
	f->sec = sec;
	f->st = FIELDS_AT_START;
	f->keep = false;
	f->name_long = false;
	f->last_lf = true;
	f->name_len = 0;
}

static bool
fields_match(const struct imap_section *sec, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < sec->nfields; i++)
		if (strlen(sec->fields[i]) == len &&
		    strncasecmp(sec->fields[i], name, len) == 0)
			return true;
	return false;
}

static void
fields_put(struct fields_filter *f, struct imap_str *out, const void *p,
    size_t n)
{
	if (n == 0)
		return;
	imap_str_add(out, p, n);
	f->last_lf = ((const char *)p)[n - 1] == '\n';
}

/* The selected bytes of in (header bytes in CRLF form) appended to out:
 * at most n + SECTION_FIELD_MAX + 1 bytes. */
static void
fields_feed(struct fields_filter *f, const unsigned char *in, size_t n,
    struct imap_str *out)
{
	size_t i, l;

	for (i = 0; i < n && f->st != FIELDS_DONE; i++) {
		unsigned char c = in[i];

		switch (f->st) {
		case FIELDS_AT_CR:
			if (c == '\n') {
				f->st = FIELDS_DONE;
				break;
			}
			/* a CR alone starts no field */
			f->keep = false;
			f->st = FIELDS_IN_FIELD;
			break;
		case FIELDS_AT_START:
			if (c == ' ' || c == '\t') {
				if (f->keep)
					fields_put(f, out, &c, 1);
				f->st = FIELDS_IN_FIELD;
				break;
			}
			if (c == '\r' || c == '\n') {
				f->st = c == '\r' ? FIELDS_AT_CR : FIELDS_DONE;
				break;
			}
			f->keep = false;
			f->name_len = 0;
			f->name_long = false;
			f->st = FIELDS_IN_NAME;
			/* FALLTHROUGH */
		case FIELDS_IN_NAME:
			if (c == ':') {
				l = f->name_len;
				while (l > 0 && (f->name[l - 1] == ' ' ||
				    f->name[l - 1] == '\t'))
					l--;
				f->keep = !f->name_long && l > 0 &&
				    fields_match(f->sec, f->name, l);
				if (f->sec->kind == SECTION_FIELDS_NOT)
					f->keep = !f->keep && l > 0 &&
					    !f->name_long;
				if (f->keep) {
					fields_put(f, out, f->name,
					    f->name_len);
					fields_put(f, out, ":", 1);
				}
				f->st = FIELDS_IN_FIELD;
			} else if (c == '\n')
				f->st = FIELDS_AT_START; /* no colon: dropped */
			else if (f->name_len < sizeof(f->name))
				f->name[f->name_len++] = (char)c;
			else
				f->name_long = true;
			break;
		case FIELDS_IN_FIELD: {
			/* the rest of the line at once */
			const unsigned char *lf = memchr(in + i, '\n', n - i);
			size_t take = lf == NULL ? n - i :
			    (size_t)(lf - (in + i)) + 1;

			if (f->keep)
				fields_put(f, out, in + i, take);
			i += take - 1;
			if (lf != NULL)
				f->st = FIELDS_AT_START;
			break;
		}
		case FIELDS_DONE:
			break;
		}
	}
}

/* The end of the header: a last field without its line end gets one,
 * and the blank line follows (RFC 3501 6.4.5), unless the message has
 * none. */
static void
fields_finish(struct fields_filter *f, struct imap_str *out)
{
	if (!f->last_lf)
		fields_put(f, out, "\r\n", 2);
	if (f->st == FIELDS_DONE)
		imap_str_adds(out, "\r\n");
}

/* The size of the selected fields: the filter run once over rg. */
static int
fields_count(const struct imap_section *sec, struct section_range *rg,
    unsigned char *buf, uint64_t *size_r)
{
	struct fields_filter f;
	struct imap_str out;
	ssize_t n;

	fields_init(&f, sec);
	imap_str_init(&out);
	*size_r = 0;
	while (f.st != FIELDS_DONE &&
	    (n = range_read(rg, buf, SECTION_READ_SIZE)) != 0) {
		if (n < 0) {
			imap_str_free(&out);
			return -1;
		}
		fields_feed(&f, buf, (size_t)n, &out);
		*size_r += out.len;
		out.len = 0;
	}
	fields_finish(&f, &out);
	*size_r += out.len;
	imap_str_free(&out);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The reader */

enum reader_source {
	SOURCE_NONE,
	SOURCE_RANGE,
	SOURCE_DECODE,			/* BINARY of an encoded part */
	SOURCE_FIELDS,			/* HEADER.FIELDS[.NOT] */
};

struct imap_section_reader {
	enum reader_source source;
	struct section_range rg;
	/* SOURCE_DECODE and SOURCE_FIELDS: bytes read from rg go through
	 * the decoder or the filter into pending, given out from there */
	struct fc_mime_decoder *dec;
	struct fields_filter *fields;
	unsigned char *in;
	struct imap_str pending;
	size_t pending_pos;
	bool in_done;
	uint64_t skip;			/* partial offset still to drop */
	uint64_t left;			/* bytes still to give */
};

static void
reader_free(void *arg)
{
	struct imap_section_reader *r = arg;

	imap_str_free(&r->pending);
}

static void
reader_decoded(void *arg, const void *data, size_t len)
{
	struct imap_section_reader *r = arg;

	imap_str_add(&r->pending, data, len);
}

static void
count_decoded(void *arg, const void *data, size_t len)
{
	uint64_t *n = arg;

	(void)data;
	*n += len;
}

/* Refills pending from the next bytes of rg; false at the end. */
static int
reader_refill(struct imap_section_reader *r)
{
	ssize_t got;

	r->pending.len = 0;
	r->pending_pos = 0;
	if (r->in_done)
		return 0;
	if (r->fields != NULL && r->fields->st == FIELDS_DONE)
		got = 0;	/* the rest of the header is not shown */
	else
		got = range_read(&r->rg, r->in, SECTION_READ_SIZE);
	if (got < 0)
		return -1;
	if (got == 0) {
		if (r->dec != NULL)
			fc_mime_decoder_finish(r->dec);
		else
			fields_finish(r->fields, &r->pending);
		r->in_done = true;
	} else if (r->dec != NULL)
		fc_mime_decoder_feed(r->dec, r->in, (size_t)got);
	else
		fields_feed(r->fields, r->in, (size_t)got, &r->pending);
	return 1;
}

/* The source's bytes before partial and limit; 0 at its end. */
static ssize_t
reader_source_read(struct imap_section_reader *r, unsigned char *buf,
    size_t size)
{
	size_t n;
	int ret;

	switch (r->source) {
	case SOURCE_NONE:
		return 0;
	case SOURCE_RANGE:
		return range_read(&r->rg, buf, size);
	case SOURCE_DECODE:
	case SOURCE_FIELDS:
		while (r->pending_pos == r->pending.len) {
			ret = reader_refill(r);
			if (ret < 0)
				return -1;
			if (ret == 0)
				return 0;
		}
		n = r->pending.len - r->pending_pos;
		if (n > size)
			n = size;
		memcpy(buf, r->pending.data + r->pending_pos, n);
		r->pending_pos += n;
		return (ssize_t)n;
	}
	return 0;
}

ssize_t
imap_section_read(struct imap_section_reader *r, void *buf, size_t size)
{
	ssize_t n;

	if (r->left == 0 || size == 0)
		return 0;
	while (r->skip > 0) {
		n = reader_source_read(r, buf, r->skip < size ? (size_t)r->skip
		    : size);
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		r->skip -= (uint64_t)n;
	}
	if (size > r->left)
		size = (size_t)r->left;
	n = reader_source_read(r, buf, size);
	if (n == 0) {
		errno = EIO;		/* less than announced: the file changed */
		return -1;
	}
	if (n > 0)
		r->left -= (uint64_t)n;
	return n;
}

/* ------------------------------------------------------------------ */
/* Opening */

/* A multipart that the parser left a leaf (no boundary, no part):
 * BODYSTRUCTURE shows one empty part, so it has no part to read. */
static bool
section_is_empty_multipart(const struct fc_mime_part *p)
{
	return !fc_mime_part_is_multipart(p) &&
	    strcmp(fc_mime_part_type(p), "multipart") == 0;
}

/* Part n of a message (the root, or the message of a message/rfc822
 * part): its n-th part when it is a multipart, else for 1 its body. */
static const struct fc_mime_part *
section_of_message(const struct fc_mime_part *msg, unsigned long n)
{
	const struct fc_mime_part *c;

	if (section_is_empty_multipart(msg))
		return NULL;
	if (!fc_mime_part_is_multipart(msg))
		return n == 1 ? msg : NULL;
	for (c = fc_mime_part_child(msg); c != NULL && n > 1;
	    c = fc_mime_part_next(c))
		n--;
	return c;
}

/*
 * The part a section number names (RFC 3501 6.4.5), or NULL. As
 * fc_mime_part_find(), and like Dovecot, "N.1" of a part that is neither
 * a multipart nor a message is that part itself, once: a message's "1"
 * that is its own body already counts as that once.
 */
static const struct fc_mime_part *
section_find(const struct fc_mime_part *root, const char *part)
{
	const struct fc_mime_part *cur = root, *prev;
	const char *s = part;
	bool first = true, self = false;

	while (*s != '\0') {
		unsigned long n = strtoul(s, (char **)&s, 10);

		if (*s == '.')
			s++;
		prev = cur;
		if (first)
			cur = section_of_message(cur, n);
		else if (fc_mime_part_is_message(cur)) {
			prev = fc_mime_part_child(cur);
			cur = section_of_message(prev, n);
		} else if (fc_mime_part_is_multipart(cur) ||
		    section_is_empty_multipart(cur))
			cur = section_of_message(cur, n);
		else if (n != 1 || self)
			cur = NULL;	/* else "N.1" of a leaf: itself */
		if (cur == NULL)
			return NULL;
		self = cur == prev;
		first = false;
	}
	return cur;
}

/* The message a HEADER/TEXT section applies to, or NULL. */
static const struct fc_mime_part *
section_message(const struct fc_mime_part *root, const char *part)
{
	const struct fc_mime_part *p;

	if (part[0] == '\0')
		return root;
	p = section_find(root, part);
	if (p == NULL || !fc_mime_part_is_message(p))
		return NULL;
	return fc_mime_part_child(p);
}

int
imap_section_open(struct fc_arena *a, const struct imap_section *sec,
    const struct fc_mime_part *root, int fd, bool crlf,
    uint64_t partial_offset, uint64_t partial_len,
    struct imap_section_reader **r_r, uint64_t *size_r,
    const char **error_r)
{
	struct imap_section_reader *r = fc_arena_alloc(a, sizeof(*r));
	const struct fc_mime_part *p = NULL;
	uint64_t start = 0, end = 0, size = 0;
	enum fc_mime_encoding enc;

	/* The parser's counts hold for any stored form: a file stored with
	 * CRLF simply has no bare LF to convert. */
	(void)crlf;
	imap_str_init(&r->pending);
	fc_arena_on_free(a, reader_free, r);
	r->source = SOURCE_NONE;

	switch (sec->kind) {
	case SECTION_ALL:
		if (sec->part[0] == '\0') {
			p = root;
			start = fc_mime_part_header_offset(p);
			end = fc_mime_part_end_offset(p);
			size = fc_mime_part_header_size(p, true) +
			    fc_mime_part_body_size(p, true);
			r->source = SOURCE_RANGE;
			break;
		}
		p = section_find(root, sec->part);
		if (p == NULL)
			break;
		start = fc_mime_part_body_offset(p);
		end = fc_mime_part_end_offset(p);
		size = fc_mime_part_body_size(p, true);
		r->source = SOURCE_RANGE;
		break;
	case SECTION_MIME:
		p = section_find(root, sec->part);
		if (p == NULL)
			break;
		/* fallthrough */
	case SECTION_HEADER:
	case SECTION_FIELDS:
	case SECTION_FIELDS_NOT:
		if (p == NULL)
			p = section_message(root, sec->part);
		if (p == NULL)
			break;
		start = fc_mime_part_header_offset(p);
		end = fc_mime_part_body_offset(p);
		size = fc_mime_part_header_size(p, true);
		r->source = SOURCE_RANGE;
		break;
	case SECTION_TEXT:
		p = section_message(root, sec->part);
		if (p == NULL)
			break;
		start = fc_mime_part_body_offset(p);
		end = fc_mime_part_end_offset(p);
		size = fc_mime_part_body_size(p, true);
		r->source = SOURCE_RANGE;
		break;
	}

	if (r->source == SOURCE_RANGE &&
	    range_init(&r->rg, a, fd, start, end, true) < 0) {
		*error_r = "The message cannot be read";
		return IMAP_SECTION_ERR_IO;
	}

	if (r->source == SOURCE_RANGE && (sec->kind == SECTION_FIELDS ||
	    sec->kind == SECTION_FIELDS_NOT)) {
		struct section_range count;

		/* the filter runs twice: to count, then to give the bytes */
		r->in = fc_arena_alloc(a, SECTION_READ_SIZE);
		if (range_init(&count, a, fd, start, end, true) < 0 ||
		    fields_count(sec, &count, r->in, &size) < 0)
			goto io;
		r->fields = fc_arena_alloc(a, sizeof(*r->fields));
		fields_init(r->fields, sec);
		r->source = SOURCE_FIELDS;
	}

	if (r->source == SOURCE_RANGE && sec->binary && sec->part[0] != '\0' &&
	    fc_mime_part_child(p) == NULL) {
		enc = fc_mime_part_encoding(p);
		if (enc == FC_MIME_ENC_OTHER) {
			*error_r = "Unknown Content-Transfer-Encoding";
			return IMAP_SECTION_ERR_UNKNOWN_CTE;
		}
		if (enc == FC_MIME_ENC_BASE64 || enc == FC_MIME_ENC_QP) {
			struct fc_mime_decoder *d;
			struct section_range count;
			ssize_t n;

			/* count the decoded bytes first */
			size = 0;
			if (range_init(&count, a, fd, start, end, true) < 0)
				goto io;
			d = fc_mime_decoder_new(a, p, false, count_decoded,
			    &size);
			r->in = fc_arena_alloc(a, SECTION_READ_SIZE);
			while ((n = range_read(&count, r->in,
			    SECTION_READ_SIZE)) > 0)
				fc_mime_decoder_feed(d, r->in, (size_t)n);
			if (n < 0)
				goto io;
			fc_mime_decoder_finish(d);
			r->dec = fc_mime_decoder_new(a, p, false,
			    reader_decoded, r);
			r->source = SOURCE_DECODE;
		}
	}

	if (r->source == SOURCE_NONE)
		size = 0;
	if (partial_len != UINT64_MAX) {
		if (partial_offset >= size)
			size = 0;
		else {
			r->skip = partial_offset;
			size -= partial_offset;
			if (size > partial_len)
				size = partial_len;
		}
		if (size == 0)
			r->skip = 0;
	}
	r->left = size;
	*size_r = size;
	*r_r = r;
	return 0;
io:
	*error_r = "The message cannot be read";
	return IMAP_SECTION_ERR_IO;
}
