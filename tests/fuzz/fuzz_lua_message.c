/*
 * fuzz_lua_message.c - libFuzzer target for the Lua filter's message
 * object (plugins/lua/lua_message.c) and the engine around it.
 *
 * Input: the message as received (after DATA). It is given to a fixed
 * set of rules that call every accessor of msg: the envelope, each
 * header field raw and decoded by name and by index, the addresses and
 * the date, the text and HTML parts, URLs, domains and links, each
 * attachment's content, raw reads at offsets the message gives, headers
 * added, settings, the score; a rule forces an action named in the
 * Subject. No DNS: there is no resolver, lookups answer "unavailable".
 * Nothing may crash, every stage must finish at once, and the verdict
 * must be one of the known actions.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <facteur/arena.h>

#include "lua_plugin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_rules[] =
"local function walk(v, depth)\n"
"  if depth > 4 then return 0 end\n"
"  local n = 0\n"
"  if type(v) == 'table' then\n"
"    for k, x in pairs(v) do n = n + walk(k, depth + 1) + walk(x, depth + 1)"
" end\n"
"  elseif type(v) == 'string' then n = #v\n"
"  elseif v ~= nil then n = 1 end\n"
"  return n\n"
"end\n"
"facteur.settings('example.org', { reject = 100, limit = 3 })\n"
"facteur.rule { name = 'ENVELOPE', score = 0.5, check = function(msg)\n"
"  return walk({ msg:ip(), msg:helo(), msg:sender(), msg:recipients(),\n"
"    msg:user(), msg:tls(), msg:stage(), msg:size(), msg:setting('limit'),\n"
"    msg:score() }, 0) > 0\n"
"end }\n"
"facteur.rule { name = 'HEADERS', score = 0.25, check = function(msg)\n"
"  local n = 0\n"
"  for i, h in ipairs(msg:headers()) do\n"
"    n = n + walk(h, 0)\n"
"    if i <= 20 and type(h.name) == 'string' then\n"
"      n = n + walk({ msg:header(h.name), msg:header_raw(h.name),\n"
"        msg:header(h.name, 2), msg:header_raw(h.name, i),\n"
"        msg:headers(h.name) }, 0)\n"
"    end\n"
"  end\n"
"  n = n + walk({ msg:subject(), msg:from(), msg:to(), msg:date(),\n"
"    msg:malformed(), msg:header('X-None'), msg:header_raw('Received', 3) },"
" 0)\n"
"  return n % 3\n"
"end }\n"
"facteur.rule { name = 'BODIES', score = 0.125, check = function(msg)\n"
"  local t, h = msg:text(), msg:html()\n"
"  local n = walk({ t, h, msg:urls(), msg:domains(), msg:links() }, 0)\n"
"  if t and t:find('GTUBE', 1, true) then return 10 end\n"
"  return n % 2 == 1\n"
"end }\n"
"facteur.rule { name = 'ATTACHMENTS', score = 1, check = function(msg)\n"
"  local n = 0\n"
"  for i, a in ipairs(msg:attachments()) do\n"
"    if i > 8 then break end\n"
"    n = n + walk(a, 0)\n"
"    local c = msg:attachment_content(i, 4096)\n"
"    if c then n = n + #c end\n"
"    c = msg:attachment_content(i)\n"
"    if c and c:sub(1, 2) == 'PK' then n = n + 1 end\n"
"  end\n"
"  n = n + walk({ msg:attachment_content(0), msg:attachment_content(99) },"
" 0)\n"
"  return n > 0 and n % 5 == 0\n"
"end }\n"
"facteur.rule { name = 'RAW', score = 0.5, check = function(msg)\n"
"  local size = msg:size()\n"
"  local head = msg:read(0, 4096) or ''\n"
"  local n = #head\n"
"  for _, off in ipairs({ 0, 1, size // 2, size - 1, size, size + 10 }) do\n"
"    local s = off >= 0 and msg:read(off, 100)\n"
"    if s then n = n + #s end\n"
"  end\n"
"  if pcall(msg.read, msg, -1, 10) then n = n + 1 end\n"
"  if pcall(msg.read, msg, 0, 1000000) then n = n + 1 end\n"
"  return n % 7 == 0\n"
"end }\n"
"facteur.rule { name = 'DECIDE', score = 2, check = function(msg)\n"
"  local s = msg:subject() or ''\n"
"  local hv = (msg:header('X-Header') or ''):sub(1, 100)\n"
"  if hv ~= '' then pcall(msg.add_header, msg, 'X-Seen', hv) end\n"
"  pcall(msg.add_header, msg, 'X-Bad Name', 'x')\n"
"  for _, a in ipairs({ 'accept', 'header', 'junk', 'greylist', 'reject',"
" 'bogus' }) do\n"
"    if s:find('force-' .. a, 1, true) then\n"
"      pcall(msg.force, msg, a, s:match('reply=(.*)'))\n"
"      return true\n"
"    end\n"
"  end\n"
"  return #s > 40\n"
"end }\n";

static struct lua_engine *fuzz_engine;
static struct lua_conf fuzz_conf;
static int fuzz_fd = -1;

static void
fuzz_check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_lua_message: %s\n", what);
		abort();
	}
}

static void
fuzz_setup(void)
{
	static char path[] = "/tmp/facteur-fuzz-lua-XXXXXX";
	static char *scripts[2];
	const char *err = NULL;
	int fd = mkstemp(path);

	fuzz_check(fd >= 0, "mkstemp");
	fuzz_check(write(fd, fuzz_rules, sizeof(fuzz_rules) - 1) ==
	    (ssize_t)(sizeof(fuzz_rules) - 1), "writing the rules");
	close(fd);
	scripts[0] = path;
	scripts[1] = NULL;
	fuzz_conf.scripts = scripts;
	fuzz_conf.header_score = 5;
	fuzz_conf.header_set = true;
	fuzz_conf.junk_score = 8;
	fuzz_conf.junk_set = true;
	fuzz_conf.greylist_score = 12;
	fuzz_conf.greylist_set = true;
	fuzz_conf.reject_score = 15;
	fuzz_conf.reject_set = true;
	fuzz_conf.max_instructions = 2000000;
	fuzz_conf.max_memory = 8 * 1024 * 1024;
	fuzz_conf.dns_timeout = 1000;
	fuzz_conf.reject_reply = "550 5.7.1 spam";
	fuzz_conf.junk_folder = "Junk";
	fuzz_conf.hostname = "mx.example.org";
	fuzz_engine = lua_engine_new(&fuzz_conf, &err);
	if (fuzz_engine == NULL)
		fprintf(stderr, "fuzz_lua_message: %s\n", err);
	fuzz_check(fuzz_engine != NULL, "the rules load");
	unlink(path);
	fuzz_fd = memfd_create("fuzz-lua-message", 0);
	fuzz_check(fuzz_fd >= 0, "memfd_create");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fc_arena *a;
	struct lua_msg *m;
	enum lua_action act;
	double required;

	if (fuzz_engine == NULL)
		fuzz_setup();
	fuzz_check(ftruncate(fuzz_fd, 0) == 0, "ftruncate");
	fuzz_check(size == 0 || pwrite(fuzz_fd, data, size, 0) ==
	    (ssize_t)size, "pwrite");
	a = fc_arena_new("fuzz", 4096);
	m = lua_msg_new(fuzz_engine, a);
	m->id = "fuzz";
	m->ip = "192.0.2.7";
	m->helo = "client.example.net";
	fuzz_check(lua_engine_run(m, LUA_STAGE_CONNECT, NULL, NULL),
	    "connect at once");
	fuzz_check(lua_engine_run(m, LUA_STAGE_HELO, NULL, NULL),
	    "helo at once");
	lua_msg_new_transaction(m);
	m->sender = "bob@example.net";
	m->rcpts = fc_arena_alloc(a, 2 * sizeof(char *));
	m->rcpts[0] = "alice@example.org";
	m->nrcpts = 1;
	fuzz_check(lua_engine_run(m, LUA_STAGE_MAIL, NULL, NULL),
	    "mail at once");
	fuzz_check(lua_engine_run(m, LUA_STAGE_RCPT, NULL, NULL),
	    "rcpt at once");
	m->fd = fuzz_fd;
	m->size = size;
	fuzz_check(lua_engine_run(m, LUA_STAGE_DATA, NULL, NULL),
	    "data at once");
	act = lua_engine_verdict(m, &required);
	fuzz_check(act >= LUA_ACTION_ACCEPT && act <= LUA_ACTION_REJECT,
	    "a known action");
	fuzz_check(lua_hits_text(m, true) != NULL, "the hits");
	lua_msg_cancel(m);
	fc_arena_free(&a);
	return 0;
}
