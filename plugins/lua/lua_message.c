/*
 * lua_message.c - the message object a rule's check receives.
 *
 * The userdata holds only a generation number: it is valid while the
 * rule it was given to runs for that message (the engine's running
 * message has the same generation). A msg kept in a global and used
 * later raises "message object used outside its rule" instead of
 * reading freed memory.
 *
 * Absent values are nil; bad arguments raise. The message is parsed on
 * first use with the core's MIME parser (so a malformed message gives
 * whatever tree the parser could make of it); decoded text and HTML are
 * kept up to LUA_TEXT_MAX bytes each.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>

#include <facteur/arena.h>
#include <facteur/log.h>
#include <facteur/mime.h>

#include "lua_plugin.h"

#define LUA_MESSAGE_META	"facteur.message"
#define LUA_TEXT_MAX		(1024 * 1024)
#define LUA_URLS_MAX		1000
#define LUA_READ_MAX		65536

struct lua_message_ud {
	uint64_t generation;
};

void
lua_message_push(lua_State *L, struct lua_msg *m)
{
	struct lua_message_ud *ud = lua_newuserdatauv(L, sizeof(*ud), 0);

	ud->generation = m->generation;
	luaL_setmetatable(L, LUA_MESSAGE_META);
}

struct lua_msg *
lua_message_check(lua_State *L, int idx)
{
	struct lua_message_ud *ud = luaL_checkudata(L, idx,
	    LUA_MESSAGE_META);
	struct lua_engine *e = *(struct lua_engine **)lua_getextraspace(L);

	if (e->running == NULL || e->running->generation != ud->generation)
		luaL_error(L, "message object used outside its rule");
	return e->running;
}

/* ------------------------------------------------------------------ */
/* Parsing and decoding, on first use */

const struct fc_mime_part *
lua_message_root(struct lua_msg *m)
{
	if (!m->parsed) {
		m->parsed = true;
		if (m->fd >= 0)
			m->root = fc_mime_parse_fd(m->a, m->fd, NULL);
	}
	return m->root;
}

struct lua_text_buf {
	char *p;
	size_t len, size;
};

static void
lua_text_out(void *arg, const void *data, size_t len)
{
	struct lua_text_buf *b = arg;

	if (b->len + len > LUA_TEXT_MAX)
		len = LUA_TEXT_MAX - b->len;
	if (len == 0)
		return;
	if (b->len + len + 1 > b->size) {
		size_t size = b->size ? b->size : 4096;
		char *n;

		while (size < b->len + len + 1)
			size *= 2;
		n = fc_malloc(size);
		if (b->len > 0)
			memcpy(n, b->p, b->len);
		free(b->p);
		b->p = n;
		b->size = size;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

static void
lua_decode_part(struct lua_msg *m, const struct fc_mime_part *p,
    struct lua_text_buf *b)
{
	struct fc_mime_decoder *d;
	uint64_t off = fc_mime_part_body_offset(p);
	uint64_t end = fc_mime_part_end_offset(p);
	char buf[16384];

	d = fc_mime_decoder_new(m->a, p, true, lua_text_out, b);
	while (off < end && b->len < LUA_TEXT_MAX) {
		size_t want = end - off < sizeof(buf) ? end - off : sizeof(buf);
		ssize_t n = pread(m->fd, buf, want, (off_t)off);

		if (n <= 0)
			break;
		fc_mime_decoder_feed(d, buf, (size_t)n);
		off += (uint64_t)n;
	}
	fc_mime_decoder_finish(d);
	lua_text_out(b, "\n", 1);
}

static bool
lua_part_is_attachment(const struct fc_mime_part *p)
{
	const char *disp = fc_mime_part_disposition(p);

	return (disp != NULL && strcmp(disp, "attachment") == 0) ||
	    fc_mime_part_disposition_param(p, "filename") != NULL ||
	    fc_mime_part_param(p, "name") != NULL;
}

/* Every leaf, depth first. */
static void
lua_walk(const struct fc_mime_part *p,
    void (*fn)(const struct fc_mime_part *, void *), void *arg)
{
	const struct fc_mime_part *c;

	if ((c = fc_mime_part_child(p)) == NULL) {
		fn(p, arg);
		return;
	}
	for (; c != NULL; c = fc_mime_part_next(c))
		lua_walk(c, fn, arg);
}

struct lua_text_walk {
	struct lua_msg *m;
	struct lua_text_buf text, html;
};

static void
lua_text_leaf(const struct fc_mime_part *p, void *arg)
{
	struct lua_text_walk *w = arg;

	if (strcmp(fc_mime_part_type(p), "text") != 0 ||
	    lua_part_is_attachment(p))
		return;
	if (strcmp(fc_mime_part_subtype(p), "html") == 0)
		lua_decode_part(w->m, p, &w->html);
	else if (strcmp(fc_mime_part_subtype(p), "plain") == 0)
		lua_decode_part(w->m, p, &w->text);
}

const char *
lua_message_text(struct lua_msg *m, bool html, size_t *len_r)
{
	if (!m->text_done) {
		const struct fc_mime_part *root = lua_message_root(m);
		struct lua_text_walk w;

		m->text_done = true;
		memset(&w, 0, sizeof(w));
		w.m = m;
		if (root != NULL)
			lua_walk(root, lua_text_leaf, &w);
		if (w.text.p != NULL) {
			m->text = fc_arena_memdup(m->a, w.text.p,
			    w.text.len + 1);
			m->text_len = w.text.len;
		}
		if (w.html.p != NULL) {
			m->html = fc_arena_memdup(m->a, w.html.p,
			    w.html.len + 1);
			m->html_len = w.html.len;
		}
		free(w.text.p);
		free(w.html.p);
	}
	*len_r = html ? m->html_len : m->text_len;
	return html ? m->html : m->text;
}

/* ------------------------------------------------------------------ */
/* Envelope and client */

static int
lua_message_push_string(lua_State *L, const char *s)
{
	if (s == NULL)
		lua_pushnil(L);
	else
		lua_pushstring(L, s);
	return 1;
}

/* msg:ip() -> "192.0.2.1" */
static int
lua_message_ip(lua_State *L)
{
	return lua_message_push_string(L, lua_message_check(L, 1)->ip);
}

/* msg:helo() -> the HELO/EHLO argument, or nil */
static int
lua_message_helo(lua_State *L)
{
	return lua_message_push_string(L, lua_message_check(L, 1)->helo);
}

/* msg:sender() -> "a@example.org", "" for <>, nil before MAIL */
static int
lua_message_sender(lua_State *L)
{
	return lua_message_push_string(L, lua_message_check(L, 1)->sender);
}

/* msg:recipients() -> { "b@example.org", ... } */
static int
lua_message_recipients(lua_State *L)
{
	struct lua_msg *m = lua_message_check(L, 1);
	size_t i;

	lua_createtable(L, (int)m->nrcpts, 0);
	for (i = 0; i < m->nrcpts; i++) {
		lua_pushstring(L, m->rcpts[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

/* msg:user() -> the authenticated user, or nil */
static int
lua_message_user(lua_State *L)
{
	return lua_message_push_string(L, lua_message_check(L, 1)->user);
}

/* msg:tls() -> true when the connection is encrypted */
static int
lua_message_tls(lua_State *L)
{
	lua_pushboolean(L, lua_message_check(L, 1)->tls);
	return 1;
}

/* msg:stage() -> "connect", "helo", "mail", "rcpt" or "data" */
static int
lua_message_stage(lua_State *L)
{
	lua_pushstring(L, lua_stage_name(lua_message_check(L, 1)->stage));
	return 1;
}

/* msg:size() -> bytes, or nil before DATA */
static int
lua_message_size(lua_State *L)
{
	struct lua_msg *m = lua_message_check(L, 1);

	if (m->fd < 0)
		lua_pushnil(L);
	else
		lua_pushinteger(L, (lua_Integer)m->size);
	return 1;
}

/* ------------------------------------------------------------------ */
/* Header fields */

/* msg:header(name [, n]) -> the n-th (1 = first) field, decoded */
static int
lua_message_header(lua_State *L)
{
	struct lua_msg *m = lua_message_check(L, 1);
	const char *name = luaL_checkstring(L, 2);
	lua_Integer n = luaL_optinteger(L, 3, 1);
	const struct fc_mime_part *root = lua_message_root(m);
	const char *v;

	if (root == NULL || n < 1 ||
	    (v = fc_mime_part_header(root, name, (size_t)n - 1)) == NULL)
		return lua_message_push_string(L, NULL);
	return lua_message_push_string(L, fc_mime_header_decode(m->a, v));
}

/* msg:header_raw(name [, n]) -> the field's value as written */
static int
lua_message_header_raw(lua_State *L)
{
	struct lua_msg *m = lua_message_check(L, 1);
	const char *name = luaL_checkstring(L, 2);
	lua_Integer n = luaL_optinteger(L, 3, 1);
	const struct fc_mime_part *root = lua_message_root(m);

	if (root == NULL || n < 1)
		return lua_message_push_string(L, NULL);
	return lua_message_push_string(L, fc_mime_part_header(root, name,
	    (size_t)n - 1));
}

/* msg:headers([name]) -> every field (of that name), decoded:
 * { {name = "Received", value = "..."}, ... } */
static int
lua_message_headers(lua_State *L)
{
	struct lua_msg *m = lua_message_check(L, 1);
	const char *want = luaL_optstring(L, 2, NULL);
	const struct fc_mime_part *root = lua_message_root(m);
	const char *name, *value;
	size_t i, n;
	int k = 0;

	lua_newtable(L);
	if (root == NULL)
		return 1;
	n = fc_mime_part_header_count(root);
	for (i = 0; i < n; i++) {
		if (!fc_mime_part_header_at(root, i, &name, &value) ||
		    (want != NULL && strcasecmp(name, want) != 0))
			continue;
		lua_createtable(L, 0, 3);
		lua_pushstring(L, name);
		lua_setfield(L, -2, "name");
		lua_pushstring(L, fc_mime_header_decode(m->a, value));
		lua_setfield(L, -2, "value");
		lua_pushstring(L, value);
		lua_setfield(L, -2, "raw");
		lua_rawseti(L, -2, ++k);
	}
	return 1;
}

/* msg:subject() -> the decoded Subject, or nil */
static int
lua_message_subject(lua_State *L)
{
	lua_settop(L, 1);
	lua_pushliteral(L, "Subject");
	return lua_message_header(L);
}

static int
lua_message_push_addresses(lua_State *L, struct lua_msg *m,
    const char *const *fields)
{
	const struct fc_mime_part *root = lua_message_root(m);
	const struct fc_mime_address *ad;
	const char *v;
	size_t n;
	int k = 0;

	lua_newtable(L);
	if (root == NULL)
		return 1;
	for (; *fields != NULL; fields++)
		for (n = 0; (v = fc_mime_part_header(root, *fields, n)) !=
		    NULL; n++)
			for (ad = fc_mime_address_parse(m->a, v); ad != NULL;
			    ad = ad->next) {
				if (ad->mailbox == NULL || ad->domain == NULL)
					continue;	/* group markers */
				lua_createtable(L, 0, 4);
				if (ad->name != NULL) {
					lua_pushstring(L, ad->name);
					lua_setfield(L, -2, "name");
				}
				lua_pushstring(L, ad->mailbox);
				lua_setfield(L, -2, "mailbox");
				lua_pushstring(L, ad->domain);
				lua_setfield(L, -2, "domain");
				if (*ad->domain == '\0')
					lua_pushstring(L, ad->mailbox);
				else
					lua_pushfstring(L, "%s@%s", ad->mailbox,
					    ad->domain);
				lua_setfield(L, -2, "address");
				lua_rawseti(L, -2, ++k);
			}
	return 1;
}

/* msg:from() -> { {name=, mailbox=, domain=, address=}, ... } */
static int
lua_message_from(lua_State *L)
{
	static const char *const fields[] = { "From", NULL };

	return lua_message_push_addresses(L, lua_message_check(L, 1),
	    fields);
}

/* msg:to() -> the addresses of To and Cc, as msg:from() */
static int
lua_message_to(lua_State *L)
{
	static const char *const fields[] = { "To", "Cc", NULL };

	return lua_message_push_addresses(L, lua_message_check(L, 1),
	    fields);
}

/* msg:date() -> the Date field as seconds since the epoch, or nil */
static int
lua_message_date(lua_State *L)
{
	struct lua_msg *m = lua_message_check(L, 1);
	const struct fc_mime_part *root = lua_message_root(m);
	const char *v;
	time_t t;
	int zone;

	if (root == NULL || (v = fc_mime_part_header(root, "Date", 0)) ==
	    NULL || fc_mime_date_parse(v, &t, &zone) < 0)
		return lua_message_push_string(L, NULL);
	lua_pushinteger(L, (lua_Integer)t);
	return 1;
}

/* msg:malformed() -> a list of what the MIME parser found wrong, or nil */
static int
lua_message_malformed(lua_State *L)
{
	static const struct {
		unsigned int bit;
		const char *name;
	} names[] = {
		{ FC_MIME_TOO_DEEP, "too_deep" },
		{ FC_MIME_TOO_MANY_PARTS, "too_many_parts" },
		{ FC_MIME_TOO_MANY_HEADERS, "too_many_headers" },
		{ FC_MIME_HEADER_TOO_LONG, "header_too_long" },
		{ FC_MIME_NO_BOUNDARY, "no_boundary" },
		{ FC_MIME_UNCLOSED, "unclosed" },
		{ FC_MIME_8BIT_HEADER, "8bit_header" },
		{ FC_MIME_NUL, "nul" },
		{ FC_MIME_BAD_HEADER_LINE, "bad_header_line" },
	};
	struct lua_msg *m = lua_message_check(L, 1);
	const struct fc_mime_part *root = lua_message_root(m);
	unsigned int bits;
	size_t i;
	int k = 0;

	if (root == NULL || (bits = fc_mime_problems(root)) == 0)
		return lua_message_push_string(L, NULL);
	lua_newtable(L);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (bits & names[i].bit) {
			lua_pushstring(L, names[i].name);
			lua_rawseti(L, -2, ++k);
		}
	return 1;
}

/* ------------------------------------------------------------------ */
/* Bodies */

/* msg:text() -> the text/plain parts, decoded to UTF-8, or nil */
static int
lua_message_text_m(lua_State *L)
{
	struct lua_msg *m = lua_message_check(L, 1);
	size_t len;
	const char *t = lua_message_text(m, false, &len);

	if (t == NULL)
		lua_pushnil(L);
	else
		lua_pushlstring(L, t, len);
	return 1;
}

/* msg:html() -> the text/html parts, decoded to UTF-8, or nil */
static int
lua_message_html(lua_State *L)
{
	struct lua_msg *m = lua_message_check(L, 1);
	size_t len;
	const char *t = lua_message_text(m, true, &len);

	if (t == NULL)
		lua_pushnil(L);
	else
		lua_pushlstring(L, t, len);
	return 1;
}

/* The URLs in s: http://, https:// and www. */
static void
lua_find_urls(lua_State *L, const char *s, size_t len, int set, int list,
    int *k)
{
	const char *p = s, *end = s + len;

	while (p < end && *k < LUA_URLS_MAX) {
		const char *h = NULL, *q;
		size_t i;

		for (q = p; q + 4 <= end; q++)
			if ((q[0] == 'h' || q[0] == 'H' || q[0] == 'w' ||
			    q[0] == 'W') && ((end - q >= 7 &&
			    strncasecmp(q, "http://", 7) == 0) ||
			    (end - q >= 8 && strncasecmp(q, "https://", 8) ==
			    0) || (end - q >= 4 && strncasecmp(q, "www.", 4) ==
			    0 && (q == s || !isalnum((unsigned char)q[-1]))))) {
				h = q;
				break;
			}
		if (h == NULL)
			return;
		for (i = 0; h + i < end; i++) {
			unsigned char c = (unsigned char)h[i];

			if (c <= ' ' || c == '"' || c == '\'' || c == '<' ||
			    c == '>' || c >= 0x7f)
				break;
		}
		lua_pushlstring(L, h, i);
		lua_pushvalue(L, -1);
		if (lua_rawget(L, set) == LUA_TNIL) {
			lua_pop(L, 1);
			lua_pushvalue(L, -1);
			lua_pushboolean(L, 1);
			lua_rawset(L, set);
			lua_rawseti(L, list, ++*k);
		} else
			lua_pop(L, 2);
		p = h + (i > 0 ? i : 1);
	}
}

/* msg:urls() -> the URLs of the text and HTML parts, each once */
static int
lua_message_urls(lua_State *L)
{
	struct lua_msg *m = lua_message_check(L, 1);
	const char *t;
	size_t len;
	int k = 0;

	lua_newtable(L);		/* seen */
	lua_newtable(L);		/* the list */
	if ((t = lua_message_text(m, false, &len)) != NULL)
		lua_find_urls(L, t, len, 2, 3, &k);
	if ((t = lua_message_text(m, true, &len)) != NULL)
		lua_find_urls(L, t, len, 2, 3, &k);
	return 1;
}

/* msg:domains() -> the host names of msg:urls(), lower case, each once */
static int
lua_message_domains(lua_State *L)
{
	size_t i, n;
	int k = 0;

	lua_settop(L, 1);
	lua_message_urls(L);		/* 2: seen, 3: the URLs */
	lua_remove(L, 2);
	lua_newtable(L);		/* 3: seen */
	lua_newtable(L);		/* 4: the list */
	n = lua_rawlen(L, 2);
	for (i = 1; i <= n; i++) {
		const char *u, *h;
		char host[256];
		size_t j = 0;

		lua_rawgeti(L, 2, (lua_Integer)i);
		u = lua_tostring(L, -1);
		h = strstr(u, "://");
		h = h != NULL ? h + 3 : u;
		if (strchr(h, '@') != NULL &&
		    strchr(h, '@') < h + strcspn(h, "/?#"))
			h = strchr(h, '@') + 1;
		while (h[j] != '\0' && j < sizeof(host) - 1 &&
		    strchr("/?#:", h[j]) == NULL) {
			host[j] = (char)tolower((unsigned char)h[j]);
			j++;
		}
		host[j] = '\0';
		while (j > 0 && host[j - 1] == '.')
			host[--j] = '\0';
		lua_pop(L, 1);
		if (j == 0)
			continue;
		if (lua_getfield(L, 3, host) == LUA_TNIL) {
			lua_pushboolean(L, 1);
			lua_setfield(L, 3, host);
			lua_pushstring(L, host);
			lua_rawseti(L, 4, ++k);
		}
		lua_pop(L, 1);
	}
	return 1;
}

/* msg:links() -> the <a href> links of the HTML: { {href=, text=}, ... }
 * with the text stripped of tags and white space folded */
static int
lua_message_links(lua_State *L)
{
	struct lua_msg *m = lua_message_check(L, 1);
	size_t len;
	const char *h = lua_message_text(m, true, &len), *end, *p;
	int k = 0;

	lua_newtable(L);
	if (h == NULL)
		return 1;
	end = h + len;
	for (p = h; p < end && k < LUA_URLS_MAX; ) {
		const char *a = NULL, *q, *href, *tag_end, *close;
		luaL_Buffer b;
		bool space = false;
		char quote;

		for (q = p; q + 3 < end; q++)
			if (q[0] == '<' && (q[1] == 'a' || q[1] == 'A') &&
			    isspace((unsigned char)q[2])) {
				a = q;
				break;
			}
		if (a == NULL)
			break;
		if ((tag_end = memchr(a, '>', (size_t)(end - a))) == NULL)
			break;
		p = tag_end + 1;
		for (href = a; href + 5 < tag_end; href++)
			if (strncasecmp(href, "href=", 5) == 0)
				break;
		if (href + 5 >= tag_end)
			continue;
		href += 5;
		quote = *href == '"' || *href == '\'' ? *href++ : 0;
		for (q = href; q < tag_end && (quote ? *q != quote :
		    !isspace((unsigned char)*q)); q++)
			;
		for (close = p; close + 4 <= end; close++)
			if (strncasecmp(close, "</a>", 4) == 0)
				break;
		if (close + 4 > end)
			close = end;
		lua_createtable(L, 0, 2);
		lua_pushlstring(L, href, (size_t)(q - href));
		lua_setfield(L, -2, "href");
		luaL_buffinit(L, &b);
		{
			bool in_tag = false;
			const char *c;

			for (c = p; c < close; c++) {
				if (*c == '<')
					in_tag = true;
				else if (*c == '>')
					in_tag = false;
				else if (in_tag)
					continue;
				else if (isspace((unsigned char)*c))
					space = luaL_bufflen(&b) > 0;
				else {
					if (space)
						luaL_addchar(&b, ' ');
					space = false;
					luaL_addchar(&b, *c);
				}
			}
		}
		luaL_pushresult(&b);
		lua_setfield(L, -2, "text");
		lua_rawseti(L, -2, ++k);
		p = close;
	}
	return 1;
}

struct lua_attach_walk {
	lua_State *L;
	int k;
	int want;			/* attachment_content: its number */
	const struct fc_mime_part *found;
};

static void
lua_attach_leaf(const struct fc_mime_part *p, void *arg)
{
	struct lua_attach_walk *w = arg;
	const char *name;

	if (!lua_part_is_attachment(p))
		return;
	if (w->want > 0) {
		if (++w->k == w->want)
			w->found = p;
		return;
	}
	name = fc_mime_part_disposition_param(p, "filename");
	if (name == NULL)
		name = fc_mime_part_param(p, "name");
	lua_createtable(w->L, 0, 3);
	if (name != NULL) {
		lua_pushstring(w->L, name);
		lua_setfield(w->L, -2, "name");
	}
	lua_pushfstring(w->L, "%s/%s", fc_mime_part_type(p),
	    fc_mime_part_subtype(p));
	lua_setfield(w->L, -2, "type");
	lua_pushinteger(w->L, (lua_Integer)fc_mime_part_body_size(p, false));
	lua_setfield(w->L, -2, "size");
	lua_rawseti(w->L, -2, ++w->k);
}

/* msg:attachments() -> { {name=, type="application/zip", size=}, ... } */
static int
lua_message_attachments(lua_State *L)
{
	struct lua_msg *m = lua_message_check(L, 1);
	const struct fc_mime_part *root = lua_message_root(m);
	struct lua_attach_walk w = { L, 0, 0, NULL };

	lua_newtable(L);
	if (root != NULL)
		lua_walk(root, lua_attach_leaf, &w);
	return 1;
}

/* msg:attachment_content(n [, max]) -> the n-th attachment of
 * msg:attachments(), decoded, at most max bytes (default and ceiling
 * 1 MiB), or nil */
static int
lua_message_attachment_content(lua_State *L)
{
	struct lua_msg *m = lua_message_check(L, 1);
	lua_Integer n = luaL_checkinteger(L, 2);
	lua_Integer max = luaL_optinteger(L, 3, LUA_TEXT_MAX);
	const struct fc_mime_part *root = lua_message_root(m);
	struct lua_attach_walk w = { L, 0, 0, NULL };
	struct lua_text_buf b;
	struct fc_mime_decoder *d;
	uint64_t off, end;
	char buf[16384];

	if (root == NULL || n < 1)
		return lua_message_push_string(L, NULL);
	w.want = (int)(n > 100000 ? 100000 : n);
	lua_walk(root, lua_attach_leaf, &w);
	if (w.found == NULL)
		return lua_message_push_string(L, NULL);
	memset(&b, 0, sizeof(b));
	d = fc_mime_decoder_new(m->a, w.found, false, lua_text_out, &b);
	off = fc_mime_part_body_offset(w.found);
	end = fc_mime_part_end_offset(w.found);
	if (max < 0 || max > LUA_TEXT_MAX)
		max = LUA_TEXT_MAX;
	while (off < end && b.len < (size_t)max) {
		size_t want = end - off < sizeof(buf) ? end - off : sizeof(buf);
		ssize_t got = pread(m->fd, buf, want, (off_t)off);

		if (got <= 0)
			break;
		fc_mime_decoder_feed(d, buf, (size_t)got);
		off += (uint64_t)got;
	}
	fc_mime_decoder_finish(d);
	lua_pushlstring(L, b.p != NULL ? b.p : "", b.len < (size_t)max ?
	    b.len : (size_t)max);
	free(b.p);
	return 1;
}

/* msg:read(offset, length) -> raw bytes of the message (at most 64 KiB a
 * call), "" at the end, nil before DATA */
static int
lua_message_read(lua_State *L)
{
	struct lua_msg *m = lua_message_check(L, 1);
	lua_Integer off = luaL_checkinteger(L, 2);
	lua_Integer want = luaL_checkinteger(L, 3);
	luaL_Buffer b;
	char *p;
	ssize_t n;

	luaL_argcheck(L, off >= 0, 2, "negative offset");
	luaL_argcheck(L, want >= 0, 3, "negative length");
	if (m->fd < 0)
		return lua_message_push_string(L, NULL);
	if (want > LUA_READ_MAX)
		want = LUA_READ_MAX;
	p = luaL_buffinitsize(L, &b, (size_t)want);
	n = pread(m->fd, p, (size_t)want, (off_t)off);
	luaL_pushresultsize(&b, n > 0 ? (size_t)n : 0);
	return 1;
}

/* ------------------------------------------------------------------ */
/* Decisions */

/* msg:add_header(name, value): added when the message is delivered */
static int
lua_message_add_header(lua_State *L)
{
	struct lua_msg *m = lua_message_check(L, 1);
	const char *name = luaL_checkstring(L, 2);
	const char *value = luaL_checkstring(L, 3);
	const char *c;

	for (c = name; *c != '\0'; c++)
		luaL_argcheck(L, *c > ' ' && *c < 0x7f && *c != ':', 2,
		    "not a header field name");
	luaL_argcheck(L, *name != '\0', 2, "empty name");
	luaL_argcheck(L, strpbrk(value, "\r\n") == NULL, 3,
	    "line ends in a value");
	luaL_argcheck(L, m->nadd_headers < 32, 2, "too many header fields");
	if (m->nadd_headers == m->add_headers_size) {
		const char **n = fc_arena_alloc(m->a, (m->add_headers_size +
		    8) * 2 * sizeof(char *));

		if (m->nadd_headers > 0)
			memcpy(n, m->add_headers, m->nadd_headers * 2 *
			    sizeof(char *));
		m->add_headers = n;
		m->add_headers_size += 8;
	}
	m->add_headers[m->nadd_headers * 2] = fc_arena_strdup(m->a, name);
	m->add_headers[m->nadd_headers * 2 + 1] = fc_arena_strdup(m->a,
	    value);
	m->nadd_headers++;
	return 0;
}

/*
 * msg:force(action [, reply]): decides now and stops the rules: "accept"
 * (an allow-list hit), "header", "junk", "greylist" or "reject"; reply
 * like "550 5.7.1 Go away" for the last two.
 */
static int
lua_message_force(lua_State *L)
{
	static const char *const actions[] = { "accept", "header", "junk",
	    "greylist", "reject", NULL };
	struct lua_msg *m = lua_message_check(L, 1);
	int a = luaL_checkoption(L, 2, NULL, actions);
	const char *reply = luaL_optstring(L, 3, NULL);

	if (reply != NULL) {
		bool perm = a == 4;

		luaL_argcheck(L, strlen(reply) >= 4 && strlen(reply) < 500 &&
		    reply[0] == (perm ? '5' : '4') &&
		    isdigit((unsigned char)reply[1]) &&
		    isdigit((unsigned char)reply[2]) && reply[3] == ' ' &&
		    strpbrk(reply, "\r\n") == NULL, 3, perm ?
		    "a reply \"5xx text\"" : "a reply \"4xx text\"");
		luaL_argcheck(L, a >= 3, 3, "a reply goes with greylist or "
		    "reject");
	}
	m->forced = (enum lua_action)(a + LUA_ACTION_ACCEPT);
	m->forced_reply = reply != NULL ? fc_arena_strdup(m->a, reply) : NULL;
	m->stop = true;
	return 0;
}

/* msg:setting(name) -> facteur.settings value for the first recipient
 * (address, then domain), or nil */
static int
lua_message_setting(lua_State *L)
{
	struct lua_msg *m = lua_message_check(L, 1);
	const char *name = luaL_checkstring(L, 2);
	char key[320], *at;
	size_t i;

	if (m->nrcpts == 0)
		return lua_message_push_string(L, NULL);
	for (i = 0; m->rcpts[0][i] != '\0' && i < sizeof(key) - 1; i++)
		key[i] = (char)tolower((unsigned char)m->rcpts[0][i]);
	key[i] = '\0';
	at = strrchr(key, '@');
	lua_getfield(L, LUA_REGISTRYINDEX, "facteur.settings");
	if (lua_getfield(L, -1, key) == LUA_TTABLE &&
	    lua_getfield(L, -1, name) != LUA_TNIL)
		return 1;
	lua_settop(L, 3);
	if (at != NULL && lua_getfield(L, -1, at + 1) == LUA_TTABLE) {
		lua_getfield(L, -1, name);
		return 1;
	}
	return lua_message_push_string(L, NULL);
}

/* msg:score() -> the total so far, msg:hits() -> { NAME = score } */
static int
lua_message_score(lua_State *L)
{
	lua_pushnumber(L, lua_message_check(L, 1)->total);
	return 1;
}

static const luaL_Reg lua_message_methods[] = {
	{ "ip", lua_message_ip },
	{ "helo", lua_message_helo },
	{ "sender", lua_message_sender },
	{ "recipients", lua_message_recipients },
	{ "user", lua_message_user },
	{ "tls", lua_message_tls },
	{ "stage", lua_message_stage },
	{ "size", lua_message_size },
	{ "header", lua_message_header },
	{ "header_raw", lua_message_header_raw },
	{ "headers", lua_message_headers },
	{ "subject", lua_message_subject },
	{ "from", lua_message_from },
	{ "to", lua_message_to },
	{ "date", lua_message_date },
	{ "malformed", lua_message_malformed },
	{ "text", lua_message_text_m },
	{ "html", lua_message_html },
	{ "urls", lua_message_urls },
	{ "domains", lua_message_domains },
	{ "links", lua_message_links },
	{ "attachments", lua_message_attachments },
	{ "attachment_content", lua_message_attachment_content },
	{ "read", lua_message_read },
	{ "add_header", lua_message_add_header },
	{ "force", lua_message_force },
	{ "setting", lua_message_setting },
	{ "score", lua_message_score },
	{ NULL, NULL }
};

/*
 * msg:hostname() -> the client's name, forward-confirmed (a PTR name
 * whose A or AAAA records hold the client's address), or nil. Two or
 * three lookups: the rule waits as for facteur.dns.
 */
static const char lua_message_hostname_source[] =
"local methods, dns = ...\n"
"function methods.hostname(msg)\n"
"  local ip = msg:ip()\n"
"  local names = ip and dns.ptr(ip)\n"
"  if not names then return nil end\n"
"  for i = 1, math.min(#names, 3) do\n"
"    local name = names[i]:gsub('%.$', '')\n"
"    local addrs = ip:find(':', 1, true) and dns.aaaa(name) or dns.a(name)\n"
"    for _, a in ipairs(addrs or {}) do\n"
"      if a == ip then return name end\n"
"    end\n"
"  end\n"
"  return nil\n"
"end\n";

/* dns: the facteur.dns table, on top of the stack (kept there). */
void
lua_message_open(lua_State *L)
{
	int dns = lua_gettop(L);

	luaL_newmetatable(L, LUA_MESSAGE_META);
	luaL_newlib(L, lua_message_methods);
	if (luaL_loadbufferx(L, lua_message_hostname_source,
	    sizeof(lua_message_hostname_source) - 1, "=facteur.message",
	    "t") != LUA_OK)
		fc_panic("lua: msg:hostname(): %s", lua_tostring(L, -1));
	lua_pushvalue(L, -2);
	lua_pushvalue(L, dns);
	if (lua_pcall(L, 2, 0, 0) != LUA_OK)
		fc_panic("lua: msg:hostname(): %s", lua_tostring(L, -1));
	lua_setfield(L, -2, "__index");
	lua_pushliteral(L, "facteur.message");
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 1);
}
