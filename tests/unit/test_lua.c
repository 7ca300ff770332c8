/*
 * test_lua.c - the Lua filter engine without a server: loading and its
 * errors, the sandbox, the limits, the verdict, the message object, the
 * key/value store and the maps.
 */
#include "config.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <facteur/arena.h>
#include <facteur/kv.h>

#include "core.h"
#include "lua_plugin.h"
#include "tap.h"

static char dir[] = "/tmp/facteur-test-lua-XXXXXX";

static char *
write_file(const char *name, const char *text)
{
	static char path[8][512];
	static int n;
	char *p = path[n++ % 8];
	FILE *f;

	snprintf(p, 512, "%s/%s", dir, name);
	f = fopen(p, "w");
	fputs(text, f);
	fclose(f);
	return p;
}

static struct lua_conf
conf_for(char **scripts)
{
	struct lua_conf c;

	memset(&c, 0, sizeof(c));
	c.scripts = scripts;
	c.header_score = 5;
	c.header_set = true;
	c.junk_score = 8;
	c.junk_set = true;
	c.reject_score = 15;
	c.reject_set = true;
	c.max_instructions = 100000;
	c.max_memory = 1024 * 1024;
	c.dns_timeout = 1000;
	c.reject_reply = "550 5.7.1 spam";
	c.junk_folder = "Junk";
	c.hostname = "mx.example.org";
	return c;
}

/* The hits of a run as text, failed ones included. */
static const char *
run(struct lua_engine *e, struct fc_arena *a, int fd, enum lua_stage st,
    struct lua_msg **m_r)
{
	struct lua_msg *m = lua_msg_new(e, a);

	m->id = "unit";
	m->ip = "192.0.2.7";
	m->helo = "mx.example.org";
	m->sender = "bob@example.net";
	m->rcpts = fc_arena_alloc(a, 2 * sizeof(char *));
	m->rcpts[0] = "alice@example.org";
	m->nrcpts = 1;
	m->fd = fd;
	if (fd >= 0)
		m->size = (uint64_t)lseek(fd, 0, SEEK_END);
	ok(lua_engine_run(m, st, NULL, NULL), "stage %s runs at once",
	    lua_stage_name(st));
	if (m_r != NULL)
		*m_r = m;
	return lua_hits_text(m, true);
}

static void
test_load_errors(void)
{
	static const struct {
		const char *name, *script, *want;
	} cases[] = {
		{ "syntax error", "facteur.rule {\n", "syntax.lua:2:" },
		{ "bad name", "facteur.rule { name = 'a b', check = "
		  "function() end }", "name must be" },
		{ "bad stage", "facteur.rule { name = 'A', stage = 'quit', "
		  "check = function() end }", "stage must be" },
		{ "no check", "facteur.rule { name = 'A' }",
		  "check must be a function" },
		{ "bad score", "facteur.rule { name = 'A', score = 'x', "
		  "check = function() end }", "score must be" },
		{ "duplicate", "local r = { name = 'A', check = function() "
		  "end }\nfacteur.rule(r)\nfacteur.rule(r)",
		  "already defined" },
		{ "runtime error", "local x = nil\nx()", "syntax.lua:2:" },
		{ "endless top level", "while true do end",
		  "instruction limit" },
		{ "no io", "io.open('/etc/passwd')", "global 'io'" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *scripts[2] = { write_file("syntax.lua", cases[i].script),
		    NULL };
		struct lua_conf c = conf_for(scripts);
		const char *err = NULL;
		struct lua_engine *e = lua_engine_new(&c, &err);

		ok(e == NULL && err != NULL &&
		    strstr(err, cases[i].want) != NULL, "%s: %s",
		    cases[i].name, err != NULL ? err : "(loaded)");
		lua_engine_free(&e);
	}
	{
		char *scripts[2] = { "/nonexistent/x.lua", NULL };
		struct lua_conf c = conf_for(scripts);
		const char *err = NULL;

		ok(lua_engine_new(&c, &err) == NULL && err != NULL &&
		    strstr(err, "no such script") != NULL, "missing script");
	}
}

static const char rules_lua[] =
"facteur.rule { name = 'SANDBOX', check = function(msg)\n"
"  return io == nil and os == nil and require == nil and load == nil\n"
"    and dofile == nil and loadfile == nil and debug == nil\n"
"    and string.dump == nil and ('').dump == nil and package == nil\n"
"    and collectgarbage == nil and math.randomseed == nil\n"
"end, score = 0.5 }\n"
"facteur.rule { name = 'LOOP', check = function(msg)\n"
"  while true do pcall(function() while true do end end) end\n"
"end }\n"
"facteur.rule { name = 'ALLOC', check = function(msg)\n"
"  local t = {}\n"
"  while true do t[#t + 1] = string.rep('x', 1000) .. #t end\n"
"end }\n"
"facteur.rule { name = 'ERR', check = function(msg) error('boom') end }\n"
"facteur.rule { name = 'STALE', check = function(msg)\n"
"  if kept then return kept:ip() end\n"
"  kept = msg\n"
"end }\n"
"facteur.rule { name = 'WEIGHT', score = 2, check = function(msg)\n"
"  return 1.5\n"
"end }\n"
"facteur.rule { name = 'FN_SCORE', score = function(msg) return 0.25 end,\n"
"  check = function(msg) return msg:ip() == '192.0.2.7' end }\n"
"facteur.rule { name = 'MISS', score = 100, check = function(msg)\n"
"  return false\n"
"end }\n"
"facteur.rule { name = 'HELO_OURS', stage = 'helo', score = 3,\n"
"  check = function(msg) return msg:helo() == facteur.hostname() end }\n";

static void
test_rules_and_limits(void)
{
	char *scripts[2] = { write_file("rules.lua", rules_lua), NULL };
	struct lua_conf c = conf_for(scripts);
	struct fc_arena *a = fc_arena_new("test", 1024);
	const char *err = NULL;
	struct lua_engine *e = lua_engine_new(&c, &err);
	struct lua_msg *m;
	double required;

	ok(e != NULL, "rules load (%s)", err ? err : "ok");
	if (e == NULL)
		return;
	is_int((long long)e->nrules, 9, "nine rules");
	is_str(run(e, a, -1, LUA_STAGE_DATA, &m), "SANDBOX(0.5) "
	    "LOOP(failed) ALLOC(failed) ERR(failed) WEIGHT(3) FN_SCORE(0.25)",
	    "sandbox holds, limits cut, errors skipped, weights");
	ok(fabs(m->total - 3.75) < 1e-9, "total 3.75");
	is_int(lua_engine_verdict(m, &required), LUA_ACTION_ACCEPT,
	    "below header_score: accept");
	ok(required == 5, "required is the header threshold");
	is_str(m->hits->next->failed, "instruction limit reached",
	    "loop: why");
	is_str(m->hits->next->next->failed, "memory limit reached",
	    "alloc: why");
	ok(strstr(m->hits->next->next->next->failed, "rules.lua:14: boom") !=
	    NULL, "error: file and line");
	ok(e->mem_used < 4 * 1024 * 1024, "memory given back (%zu)",
	    e->mem_used);
	/* the message kept by STALE is refused in the next run */
	is_str(run(e, a, -1, LUA_STAGE_DATA, &m), "SANDBOX(0.5) "
	    "LOOP(failed) ALLOC(failed) ERR(failed) STALE(failed) WEIGHT(3) "
	    "FN_SCORE(0.25)", "a message kept for later is refused");
	ok(strstr(m->hits->next->next->next->next->failed,
	    "outside its rule") != NULL, "stale: why");
	is_str(run(e, a, -1, LUA_STAGE_HELO, &m), "HELO_OURS(3)",
	    "helo stage only");

	m->total = 8;
	is_int(lua_engine_verdict(m, &required), LUA_ACTION_JUNK, "8: junk");
	m->total = 5;
	is_int(lua_engine_verdict(m, &required), LUA_ACTION_HEADER,
	    "5: header");
	m->total = 20;
	is_int(lua_engine_verdict(m, &required), LUA_ACTION_REJECT,
	    "20: reject");
	c.greylist_set = true;
	c.greylist_score = 10;
	m->total = 12;
	is_int(lua_engine_verdict(m, &required), LUA_ACTION_GREYLIST,
	    "12 with greylist 10: greylist");
	m->forced = LUA_ACTION_ACCEPT;
	is_int(lua_engine_verdict(m, &required), LUA_ACTION_ACCEPT,
	    "a forced action wins");
	lua_engine_free(&e);
	fc_arena_free(&a);
}

/* two rules that each keep 600K: under the 1M limit alone, over it
 * together; the second is cut off, the others keep their results */
static const char memory_lua[] =
"local keep1, keep2\n"
"local function fill(c)\n"
"  local t = {}\n"
"  for i = 1, 60 do t[i] = string.rep(c, 10000) .. i end\n"
"  return t\n"
"end\n"
"facteur.rule { name = 'KEEP1', check = function(msg)\n"
"  keep1 = nil; keep1 = fill('a'); return true\n"
"end }\n"
"facteur.rule { name = 'KEEP2', check = function(msg)\n"
"  keep2 = nil; keep2 = fill('b'); return true\n"
"end }\n"
"facteur.rule { name = 'SMALL', score = 2, check = function(msg)\n"
"  return #string.rep('c', 1000) == 1000\n"
"end }\n"
"facteur.rule { name = 'FREE', score = 0, check = function(msg)\n"
"  keep1, keep2 = nil, nil\n"
"end }\n";

static void
test_memory_per_message(void)
{
	char *scripts[2] = { write_file("memory.lua", memory_lua), NULL };
	struct lua_conf c = conf_for(scripts);
	struct fc_arena *a = fc_arena_new("test", 1024);
	const char *err = NULL;
	struct lua_engine *e = lua_engine_new(&c, &err);
	struct lua_msg *m;

	ok(e != NULL, "memory rules load (%s)", err ? err : "ok");
	if (e == NULL)
		return;
	is_str(run(e, a, -1, LUA_STAGE_DATA, &m), "KEEP1(1) KEEP2(failed) "
	    "SMALL(2)", "two rules under the limit each, over it together");
	is_str(m->hits->next->failed, "memory limit reached",
	    "the second is cut off");
	ok(fabs(m->total - 3) < 1e-9, "the others' scores count");
	/* the next message has the whole budget again */
	is_str(run(e, a, -1, LUA_STAGE_DATA, &m), "KEEP1(1) KEEP2(failed) "
	    "SMALL(2)", "the next message: the same");
	c.max_memory = 2 * 1024 * 1024;
	is_str(run(e, a, -1, LUA_STAGE_DATA, &m), "KEEP1(1) KEEP2(1) "
	    "SMALL(2)", "with 2M both fit");
	lua_engine_free(&e);
	fc_arena_free(&a);
}

static const char message_eml[] =
"From: =?UTF-8?Q?Ren=C3=A9?= <rene@example.net>, broken\n"
"To: alice@example.org\n"
"Cc: \"Bob\" <bob@example.com>\n"
"Subject: =?UTF-8?B?w6l0w6k=?= offer\n"
"Date: Thu, 01 Jan 2026 00:00:00 +0000\n"
"Content-Type: multipart/mixed; boundary=\"B\"\n"
"\n"
"--B\n"
"Content-Type: text/plain; charset=iso-8859-1\n"
"Content-Transfer-Encoding: quoted-printable\n"
"\n"
"caf=E9 at www.Example.COM/x and http://user@evil.test:8080/p?q\n"
"--B\n"
"Content-Type: text/html\n"
"\n"
"<a href=\"https://phish.test/\">https://bank.test/</a>"
"<A HREF='http://ok.test/'> <b>click</b>\n here </a>\n"
"--B\n"
"Content-Type: application/zip; name=\"a.zip\"\n"
"Content-Disposition: attachment; filename=\"a.zip\"\n"
"Content-Transfer-Encoding: base64\n"
"\n"
"UEsBAg==\n"
"--B--\n";

static const char message_lua[] =
"local function join(t, f)\n"
"  local r = {}\n"
"  for _, v in ipairs(t) do r[#r + 1] = f and f(v) or v end\n"
"  return table.concat(r, ',')\n"
"end\n"
"facteur.rule { name = 'MSG', check = function(msg)\n"
"  local out = {\n"
"    msg:subject(), msg:header_raw('subject'), msg:header('nope') or '-',\n"
"    join(msg:from(), function(a) return (a.name or '') .. '|' ..\n"
"      a.address end),\n"
"    join(msg:to(), function(a) return a.address end),\n"
"    msg:text(), join(msg:urls()), join(msg:domains()),\n"
"    join(msg:links(), function(l) return l.href .. '=' .. l.text end),\n"
"    join(msg:attachments(), function(a)\n"
"      return a.name .. ':' .. a.type .. ':' .. a.size end),\n"
"    msg:attachment_content(1), tostring(msg:date()),\n"
"    msg:read(0, 5), tostring(msg:size()), msg:sender(),\n"
"    join(msg:recipients()), tostring(msg:malformed()),\n"
"    #msg:headers(), #msg:headers('to'),\n"
"  }\n"
"  facteur.kv.set('out', table.concat(out, '\\n'))\n"
"  return true\n"
"end }\n"
"facteur.rule { name = 'OUT', check = function(msg)\n"
"  return facteur.kv.get('out') end }\n";

static void
test_message(void)
{
	char *scripts[2] = { write_file("msg.lua", message_lua), NULL };
	struct lua_conf c = conf_for(scripts);
	struct fc_arena *a = fc_arena_new("test", 1024);
	const char *err = NULL, *out;
	struct lua_engine *e = lua_engine_new(&c, &err);
	int fd = open(write_file("m.eml", message_eml), O_RDONLY);

	ok(e != NULL, "message rules load (%s)", err ? err : "ok");
	if (e == NULL)
		return;
	is_str(run(e, a, fd, LUA_STAGE_DATA, NULL), "MSG(1) OUT(1)",
	    "the message rule ran");
	lua_getfield(e->L, LUA_REGISTRYINDEX, "facteur.sandbox");
	lua_getfield(e->L, -1, "facteur");
	lua_getfield(e->L, -1, "kv");
	lua_getfield(e->L, -1, "get");
	lua_pushstring(e->L, "out");
	lua_call(e->L, 1, 1);
	out = lua_tostring(e->L, -1);
	is_str(out,
	    "\xc3\xa9t\xc3\xa9 offer\n"
	    " =?UTF-8?B?w6l0w6k=?= offer\n"
	    "-\n"
	    "Ren\xc3\xa9|rene@example.net,|broken\n"
	    "alice@example.org,bob@example.com\n"
	    "caf\xc3\xa9 at www.Example.COM/x and "
	    "http://user@evil.test:8080/p?q\n\n"
	    "www.Example.COM/x,http://user@evil.test:8080/p?q,"
	    "https://phish.test/,https://bank.test/,http://ok.test/\n"
	    "www.example.com,evil.test,phish.test,bank.test,ok.test\n"
	    "https://phish.test/=https://bank.test/,"
	    "http://ok.test/=click here\n"
	    "a.zip:application/zip:8\n"
	    "PK\x01\x02\n"
	    "1767225600\n"
	    "From:\n"
	    "661\n"
	    "bob@example.net\n"
	    "alice@example.org\n"
	    "nil\n"
	    "6\n"
	    "1", "what msg:... gives");
	close(fd);
	lua_engine_free(&e);
	fc_arena_free(&a);
}

static const char store_lua[] =
"local set = facteur.map('set.txt', 'set')\n"
"local kv = facteur.map('kv.txt', 'kv')\n"
"local cidr = facteur.map('cidr.txt', 'cidr')\n"
"local re = facteur.map('re.txt', 'regex')\n"
"local glob = facteur.map('glob.txt', 'glob')\n"
"local missing = facteur.map('none.txt')\n"
"facteur.rule { name = 'MAPS', check = function(msg)\n"
"  return set:has('Spam.Example') and not set:has('ok.example')\n"
"    and set:get_domain('a.b.spam.example') and kv:get('k') == 'v w'\n"
"    and cidr:get('192.0.2.200') == 'lan' and cidr:get('192.0.3.1') == nil\n"
"    and cidr:has('2001:db8::1') and not cidr:has('2001:db9::1')\n"
"    and cidr:has('10.1.2.3') and re:has('buy cheap pills')\n"
"    and not re:has('hello') and glob:has('WIN-prize.example')\n"
"    and not glob:has('win.example') and not missing:has('x')\n"
"end }\n"
"facteur.rule { name = 'KV', check = function(msg)\n"
"  local kv = facteur.kv\n"
"  if kv.get('done') then return false end\n"
"  kv.set('done', true)\n"
"  return kv.incr('n') == 1 and kv.incr('n') == 2\n"
"    and kv.incr('n', nil, 5) == 7 and kv.set('s', 'x', 0.05)\n"
"    and kv.get('s') == 'x' and kv.get('nope') == nil\n"
"    and (kv.del('n') or kv.get('n') == nil)\n"
"    and not pcall(kv.set, 'bad', {})\n"
"end }\n"
"facteur.rule { name = 'EXPIRED', check = function(msg)\n"
"  return facteur.kv.get('s') == nil\n"
"end }\n"
"facteur.rule { name = 'REVERSE', check = function(msg)\n"
"  return facteur.dns.reverse('192.0.2.1') == '1.2.0.192' and\n"
"    facteur.dns.reverse('2001:db8::1'):sub(1, 8) == '1.0.0.0.' and\n"
"    facteur.dns.reverse('nope') == nil and\n"
"    select(2, facteur.dns.a('example.org')) == 'unavailable' and\n"
"    msg:hostname() == nil\n"
"end }\n";

static void
test_store(void)
{
	char *scripts[2];
	struct lua_conf c;
	struct fc_arena *a = fc_arena_new("test", 1024);
	const char *err = NULL;
	struct lua_engine *e;

	write_file("set.txt", "# comment\nspam.example\n\n  Other.Example \n");
	write_file("kv.txt", "k v w\n");
	write_file("cidr.txt", "192.0.2.128/25 lan\n2001:db8::/32\n10.0.0.0/8"
	    "\nnot-an-address\n");
	write_file("re.txt", "cheap%s+pills\n[unclosed\n");
	write_file("glob.txt", "win-*.example\n");
	scripts[0] = write_file("store.lua", store_lua);
	scripts[1] = NULL;
	c = conf_for(scripts);
	e = lua_engine_new(&c, &err);
	ok(e != NULL, "store rules load (%s)", err ? err : "ok");
	if (e == NULL)
		return;
	is_str(run(e, a, -1, LUA_STAGE_DATA, NULL), "MAPS(1) KV(1) "
	    "REVERSE(1)", "maps, kv, dns.reverse");
	usleep(80000);
	is_str(run(e, a, -1, LUA_STAGE_DATA, NULL), "MAPS(1) EXPIRED(1) "
	    "REVERSE(1)", "a value expires; the count starts again");
	lua_engine_free(&e);
	fc_arena_free(&a);
}

/* A shared store of a few keys, in C, that can be made to fail. */
static struct {
	char key[8][64], value[8][64];
	size_t len[8];
	int n;
	bool down;
	int64_t ttl_seen;
} fake;

static int
fake_find(const char *key, size_t klen)
{
	int i;

	for (i = 0; i < fake.n; i++)
		if (strlen(fake.key[i]) == klen &&
		    memcmp(fake.key[i], key, klen) == 0)
			return i;
	return -1;
}

static int
fake_get(void *ctx, const char *key, size_t klen, struct fc_arena *a,
    char **value_r, size_t *len_r, const char **error_r)
{
	int i = fake_find(key, klen);

	(void)ctx;
	if (fake.down) {
		*error_r = "down";
		return -1;
	}
	if (i < 0)
		return 0;
	*value_r = fc_arena_alloc(a, fake.len[i] + 1);
	memcpy(*value_r, fake.value[i], fake.len[i]);
	*len_r = fake.len[i];
	return 1;
}

static int
fake_set(void *ctx, const char *key, size_t klen, const char *value,
    size_t len, uint64_t ttl_ms, const char **error_r)
{
	int i = fake_find(key, klen);

	(void)ctx;
	if (fake.down || klen >= 64 || len > 64) {
		*error_r = "down";
		return -1;
	}
	if (i < 0) {
		if (fake.n == 8) {
			*error_r = "full";
			return -1;
		}
		i = fake.n++;
		memcpy(fake.key[i], key, klen);
		fake.key[i][klen] = '\0';
	}
	memcpy(fake.value[i], value, len);
	fake.len[i] = len;
	if (ttl_ms != 0)
		fake.ttl_seen = (int64_t)ttl_ms;
	return 0;
}

static int
fake_incr(void *ctx, const char *key, size_t klen, int64_t by,
    uint64_t ttl_ms, int64_t *value_r, const char **error_r)
{
	char *v = NULL, num[32];
	size_t len;
	int64_t n = 0;
	struct fc_arena *a = fc_arena_new("fake", 256);

	if (fake_get(ctx, key, klen, a, &v, &len, error_r) < 0) {
		fc_arena_free(&a);
		return -1;
	}
	if (v != NULL)
		n = strtoll(v, NULL, 10);
	fc_arena_free(&a);
	n += by;
	snprintf(num, sizeof(num), "%lld", (long long)n);
	*value_r = n;
	return fake_set(ctx, key, klen, num, strlen(num), ttl_ms, error_r);
}

static int
fake_del(void *ctx, const char *key, size_t klen, const char **error_r)
{
	int i = fake_find(key, klen);

	(void)ctx;
	if (fake.down) {
		*error_r = "down";
		return -1;
	}
	if (i >= 0)
		fake.key[i][0] = '\0';
	return 0;
}

static const struct fc_kv_ops fake_ops = {
	.size = sizeof(struct fc_kv_ops),
	.get = fake_get, .set = fake_set, .incr = fake_incr, .del = fake_del,
};

static const char shared_lua[] =
"facteur.rule { name = 'SHARED', check = function(msg)\n"
"  local kv = facteur.kv\n"
"  return kv.incr('n', 2) == 1 and kv.incr('n', nil, 4) == 5\n"
"    and kv.get('n') == 5 and math.type(kv.get('n')) == 'integer'\n"
"    and kv.set('s', 'a\\0b', 1.5) and kv.get('s') == 'a\\0b'\n"
"    and kv.set('f', 2.5) and kv.get('f') == 2.5\n"
"    and kv.set('t', true) and kv.get('t') == true\n"
"    and kv.set('b', false) and kv.get('b') == false\n"
"    and kv.get('missing') == nil\n"
"    and (kv.del('t') or kv.get('t') == nil)\n"
"    and not pcall(kv.incr, 'n', nil, 0.5)\n"
"    and not pcall(kv.set, 'x', {})\n"
"end }\n"
"facteur.rule { name = 'DOWN', check = function(msg)\n"
"  local kv = facteur.kv\n"
"  return kv.get('n') == nil and kv.incr('n') == nil\n"
"    and kv.set('n', 1) == false\n"
"end }\n";

/* kv shared: facteur.kv through a registered back end; typed values;
 * a failing back end is a miss, never a failed rule */
static void
test_shared_store(void)
{
	char *scripts[2] = { write_file("shared.lua", shared_lua), NULL };
	struct lua_conf c = conf_for(scripts);
	struct fc_core core;
	struct fc_arena *a = fc_arena_new("test", 1024);
	const char *err = NULL;
	struct lua_engine *e;

	memset(&core, 0, sizeof(core));
	core.arena = fc_arena_new("core", 1024);
	ok(fc_kv_shared(&core, NULL) == NULL, "no shared store yet");
	ok(fc_kv_register(&core, "fake", &fake_ops, NULL, &err) == 0,
	    "a shared store registered");
	ok(fc_kv_register(&core, "fake2", &fake_ops, NULL, &err) < 0,
	    "only one: %s", err);
	c.kv = fc_kv_shared(&core, &err);
	is_str(err, "fake", "found by its configuration");
	e = lua_engine_new(&c, &err);
	ok(e != NULL, "shared rules load (%s)", e ? "ok" : err);
	if (e != NULL) {
		is_str(run(e, a, -1, LUA_STAGE_DATA, NULL), "SHARED(1)",
		    "incr, typed values, ttl, errors");
		ok(fake.ttl_seen == 1500, "a ttl in ms (%lld)",
		    (long long)fake.ttl_seen);
		fake.down = true;
		is_str(run(e, a, -1, LUA_STAGE_DATA, NULL), "DOWN(1)",
		    "a failing store: misses, the rules run");
		fake.down = false;
		lua_engine_free(&e);
	}
	fc_arena_free(&core.arena);
	ok(fc_kv_shared(&core, NULL) == NULL,
	    "forgotten with its configuration");
	fc_arena_free(&a);
}

static const char settings_lua[] =
"facteur.settings('Example.ORG', { reject = 3, junk = false, n = 7 })\n"
"facteur.settings('vip@example.org', { header = 100 })\n"
"facteur.rule { name = 'S', score = 4, check = function(msg)\n"
"  return msg:setting('n') == 7 or msg:setting('n') == nil end }\n";

/* facteur.settings: thresholds and values per recipient domain and
 * address */
static void
test_settings(void)
{
	char *scripts[2] = { write_file("settings.lua", settings_lua), NULL };
	struct lua_conf c = conf_for(scripts);
	struct fc_arena *a = fc_arena_new("test", 1024);
	const char *err = NULL;
	struct lua_engine *e = lua_engine_new(&c, &err);
	struct lua_msg *m;
	double required;

	ok(e != NULL, "settings load (%s)", err ? err : "ok");
	if (e == NULL)
		return;
	is_str(run(e, a, -1, LUA_STAGE_DATA, &m), "S(4)", "msg:setting");
	is_int(lua_engine_verdict(m, &required), LUA_ACTION_REJECT,
	    "the domain's reject threshold");
	ok(required == 3, "required: the domain's lowest threshold");
	m->rcpts[0] = "VIP@example.org";
	m->total = 8;
	is_int(lua_engine_verdict(m, &required), LUA_ACTION_REJECT,
	    "an address falls back to its domain; junk off");
	m->rcpts[0] = "bob@example.net";
	m->total = 4;
	is_int(lua_engine_verdict(m, &required), LUA_ACTION_ACCEPT,
	    "another domain: the lua block's thresholds");
	lua_engine_free(&e);
	fc_arena_free(&a);
}

int
main(void)
{
	char cmd[600];

	plan(67);
	if (mkdtemp(dir) == NULL)
		return 99;
	test_load_errors();
	test_rules_and_limits();
	test_memory_per_message();
	test_message();
	test_store();
	test_shared_store();
	test_settings();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return done();
}
