/*
 * lua_store.c - facteur.kv, counters with expiry, and facteur.map, allow
 * and block lists read from files and read again when they change.
 *
 * Both are written in Lua (below), over four small C helpers that the
 * scripts never see: read a file's lines, a file's mtime, an address as
 * bytes, a monotonic clock. With `kv memory;` (the default) the store is
 * per worker, in the worker's Lua state: counters are not shared between
 * workers. With `kv shared;` the same calls go to the shared back end
 * (facteur/kv.h; the pgsql module's table), seen by every worker of
 * every node; a failure there is a miss, logged, never a failed rule.
 *
 *   facteur.kv.get(key)                 -> value | nil
 *   facteur.kv.set(key, value [, ttl])  -> true | false (store full)
 *   facteur.kv.incr(key [, ttl [, by]]) -> the new count
 *   facteur.kv.del(key)
 *
 *   local m = facteur.map(path, kind)   kind: set, kv, cidr, regex, glob
 *   m:get(key) -> the value (true for set, regex, glob) | nil
 *   m:has(key) -> boolean
 *   m:get_domain(name) -> as get, for name and each parent domain
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <lauxlib.h>

#include <facteur/arena.h>
#include <facteur/kv.h>
#include <facteur/log.h>

#include "lua_plugin.h"

#define LUA_MAP_LINE_MAX	4096
#define LUA_MAP_LINES_MAX	1000000
#define LUA_KV_MAX_KEYS		100000

static const char lua_store_source[] =
"local readlines, mtime, ipbytes, now, script_dir, log, max_keys, shared"
" = ...\n"
"local kv, data, count = {}, {}, 0\n"
"local function live(key)\n"
"  local v = data[key]\n"
"  if v == nil then return nil end\n"
"  if v[2] ~= nil and v[2] <= now() then\n"
"    data[key] = nil; count = count - 1; return nil\n"
"  end\n"
"  return v\n"
"end\n"
"local function sweep()\n"
"  local t = now()\n"
"  for k, v in pairs(data) do\n"
"    if v[2] ~= nil and v[2] <= t then data[k] = nil; count = count - 1 end\n"
"  end\n"
"end\n"
"local function checkvalue(v)\n"
"  local t = type(v)\n"
"  if t ~= 'string' and t ~= 'number' and t ~= 'boolean' then\n"
"    error('facteur.kv: values are strings, numbers or booleans', 3)\n"
"  end\n"
"end\n"
"function kv.get(key)\n"
"  local v = live(tostring(key)); return v and v[1]\n"
"end\n"
"function kv.del(key)\n"
"  key = tostring(key)\n"
"  if live(key) then data[key] = nil; count = count - 1 end\n"
"end\n"
"function kv.set(key, value, ttl)\n"
"  key = tostring(key)\n"
"  if value == nil then kv.del(key); return true end\n"
"  checkvalue(value)\n"
"  if not live(key) then\n"
"    if count >= max_keys then sweep() end\n"
"    if count >= max_keys then return false end\n"
"    count = count + 1\n"
"  end\n"
"  data[key] = { value, ttl and now() + ttl or nil }\n"
"  return true\n"
"end\n"
"function kv.incr(key, ttl, by)\n"
"  key = tostring(key); by = by or 1\n"
"  local v = live(key)\n"
"  if v then v[1] = (tonumber(v[1]) or 0) + by; return v[1] end\n"
"  if not kv.set(key, by, ttl) then return nil end\n"
"  return by\n"
"end\n""if shared then\n"
"  -- one store for every worker and node: values keep their type\n"
"  -- through a one-letter tag; numbers are written bare, so that incr\n"
"  -- adds to them in the database\n"
"  local sget, sset, sincr, sdel = shared[1], shared[2], shared[3],\n"
"    shared[4]\n"
"  local function encode(v)\n"
"    local t = type(v)\n"
"    if t == 'number' then\n"
"      if math.type(v) == 'integer' then return tostring(v) end\n"
"      return string.format('%.17g', v)\n"
"    elseif t == 'string' then return 's' .. v end\n"
"    return v and 'b1' or 'b0'\n"
"  end\n"
"  local function decode(s)\n"
"    if s == nil then return nil end\n"
"    local c = s:sub(1, 1)\n"
"    if c == 's' then return s:sub(2) end\n"
"    if c == 'b' then return s == 'b1' end\n"
"    return tonumber(s)\n"
"  end\n"
"  local function ttl_ms(ttl)\n"
"    if ttl == nil then return 0 end\n"
"    if type(ttl) ~= 'number' then\n"
"      error('facteur.kv: the ttl is a number of seconds', 3)\n"
"    end\n"
"    return math.max(1, math.ceil(ttl * 1000))\n"
"  end\n"
"  function kv.get(key) return decode(sget(tostring(key))) end\n"
"  function kv.del(key) sdel(tostring(key)) end\n"
"  function kv.set(key, value, ttl)\n"
"    key = tostring(key)\n"
"    if value == nil then sdel(key); return true end\n"
"    checkvalue(value)\n"
"    return sset(key, encode(value), ttl_ms(ttl))\n"
"  end\n"
"  function kv.incr(key, ttl, by)\n"
"    local n = math.tointeger(by or 1)\n"
"    if n == nil then\n"
"      error('facteur.kv.incr: by is a whole number', 2)\n"
"    end\n"
"    return sincr(tostring(key), ttl_ms(ttl), n)\n"
"  end\n"
"end\n"
"\n"
"local Map = {}\n"
"Map.__index = Map\n"
"local kinds = { set = true, kv = true, cidr = true, regex = true,\n"
"                glob = true }\n"
"local function trim(s) return (s:gsub('^%s+', ''):gsub('%s+$', '')) end\n"
"local function glob_pattern(g)\n"
"  g = g:gsub('[%^%$%(%)%%%.%[%]%+%-]', '%%%0')\n"
"  g = g:gsub('%*', '.*'):gsub('%?', '.')\n"
"  return '^' .. g .. '$'\n"
"end\n"
"local function cidr_match(net, bits, addr)\n"
"  if #net ~= #addr then return false end\n"
"  local full = bits // 8\n"
"  if net:sub(1, full) ~= addr:sub(1, full) then return false end\n"
"  local rest = bits % 8\n"
"  if rest == 0 then return true end\n"
"  local mask = (0xff << (8 - rest)) & 0xff\n"
"  return (net:byte(full + 1) & mask) == (addr:byte(full + 1) & mask)\n"
"end\n"
"function Map:load()\n"
"  self.checked = now()\n"
"  self.keys, self.list = {}, {}\n"
"  local lines, err = readlines(self.path)\n"
"  if not lines then\n"
"    log('warning', 'map ' .. self.path .. ': ' .. err); self.mtime = nil\n"
"    return\n"
"  end\n"
"  self.mtime = mtime(self.path)\n"
"  local kind, keys, list = self.kind, self.keys, self.list\n"
"  for n, line in ipairs(lines) do\n"
"    line = trim(line)\n"
"    if line ~= '' and line:sub(1, 1) ~= '#' then\n"
"      if kind == 'set' then\n"
"        keys[line:lower()] = true\n"
"      elseif kind == 'kv' then\n"
"        local k, v = line:match('^(%S+)%s+(.*)$')\n"
"        if k then keys[k:lower()] = v else keys[line:lower()] = '' end\n"
"      elseif kind == 'cidr' then\n"
"        local net, v = line:match('^(%S+)%s*(.*)$')\n"
"        local addr, bits = net:match('^([^/]+)/(%d+)$')\n"
"        local b = ipbytes(addr or net)\n"
"        if b then\n"
"          bits = math.min(tonumber(bits) or #b * 8, #b * 8)\n"
"          list[#list + 1] = { b, bits, v ~= '' and v or true }\n"
"        else\n"
"          log('warning', self.path .. ':' .. n .. ': not an address')\n"
"        end\n"
"      elseif kind == 'regex' then\n"
"        if pcall(string.find, '', line) then\n"
"          list[#list + 1] = line\n"
"        else\n"
"          log('warning', self.path .. ':' .. n .. ': bad pattern')\n"
"        end\n"
"      else\n"
"        list[#list + 1] = glob_pattern(line:lower())\n"
"      end\n"
"    end\n"
"  end\n"
"end\n"
"function Map:get(key)\n"
"  if key == nil then return nil end\n"
"  key = tostring(key)\n"
"  local t = now()\n"
"  if t - self.checked >= 1 then\n"
"    self.checked = t\n"
"    if mtime(self.path) ~= self.mtime then self:load() end\n"
"  end\n"
"  local kind = self.kind\n"
"  if kind == 'set' or kind == 'kv' then return self.keys[key:lower()] end\n"
"  if kind == 'cidr' then\n"
"    local b = ipbytes(key)\n"
"    if not b then return nil end\n"
"    for _, e in ipairs(self.list) do\n"
"      if cidr_match(e[1], e[2], b) then return e[3] end\n"
"    end\n"
"    return nil\n"
"  end\n"
"  if kind == 'glob' then key = key:lower() end\n"
"  for _, p in ipairs(self.list) do\n"
"    if key:find(p) then return true end\n"
"  end\n"
"  return nil\n"
"end\n"
"function Map:has(key) return self:get(key) ~= nil end\n"
"function Map:get_domain(name)\n"
"  if name == nil then return nil end\n"
"  name = tostring(name):lower()\n"
"  while name ~= '' do\n"
"    local v = self:get(name)\n"
"    if v ~= nil then return v end\n"
"    name = name:match('^[^.]*%.(.*)$') or ''\n"
"  end\n"
"  return nil\n"
"end\n"
"local maps = {}\n"
"local function map(path, kind)\n"
"  if type(path) ~= 'string' then error('facteur.map: a path', 2) end\n"
"  kind = kind or 'set'\n"
"  if not kinds[kind] then\n"
"    error('facteur.map: kind is set, kv, cidr, regex or glob', 2)\n"
"  end\n"
"  if path:sub(1, 1) ~= '/' then\n"
"    local dir = script_dir()\n"
"    if dir then path = dir .. '/' .. path end\n"
"  end\n"
"  local id = kind .. ':' .. path\n"
"  if maps[id] then return maps[id] end\n"
"  local m = setmetatable({ path = path, kind = kind }, Map)\n"
"  m:load()\n"
"  maps[id] = m\n"
"  return m\n"
"end\n"
"return kv, map\n";

static int
lua_store_readlines(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	char line[LUA_MAP_LINE_MAX];
	FILE *f = fopen(path, "r");
	lua_Integer n = 0;

	if (f == NULL) {
		lua_pushnil(L);
		lua_pushstring(L, strerror(errno));
		return 2;
	}
	lua_newtable(L);
	while (n < LUA_MAP_LINES_MAX && fgets(line, sizeof(line), f) != NULL) {
		size_t len = strcspn(line, "\r\n");

		lua_pushlstring(L, line, len);
		lua_rawseti(L, -2, ++n);
		if (line[len] == '\0' && !feof(f)) {
			int c;	/* a line too long: skip its rest */

			while ((c = fgetc(f)) != EOF && c != '\n')
				;
		}
	}
	fclose(f);
	return 1;
}

static int
lua_store_mtime(lua_State *L)
{
	struct stat st;

	if (stat(luaL_checkstring(L, 1), &st) < 0)
		lua_pushnil(L);
	else
		lua_pushfstring(L, "%I.%I:%I:%I",
		    (lua_Integer)st.st_mtim.tv_sec,
		    (lua_Integer)st.st_mtim.tv_nsec, (lua_Integer)st.st_size,
		    (lua_Integer)st.st_ino);
	return 1;
}

static int
lua_store_ipbytes(lua_State *L)
{
	const char *s = luaL_checkstring(L, 1);
	unsigned char a[16];

	if (inet_pton(AF_INET, s, a) == 1)
		lua_pushlstring(L, (const char *)a, 4);
	else if (inet_pton(AF_INET6, s, a) == 1)
		lua_pushlstring(L, (const char *)a, 16);
	else
		lua_pushnil(L);
	return 1;
}

static int
lua_store_now(lua_State *L)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	lua_pushnumber(L, (lua_Number)ts.tv_sec + ts.tv_nsec / 1e9);
	return 1;
}

static int
lua_store_script_dir(lua_State *L)
{
	struct lua_engine *e = *(struct lua_engine **)lua_getextraspace(L);
	const char *slash;

	if (e->loading == NULL || (slash = strrchr(e->loading, '/')) == NULL)
		lua_pushnil(L);
	else
		lua_pushlstring(L, e->loading, (size_t)(slash - e->loading));
	return 1;
}

static int
lua_store_log(lua_State *L)
{
	fc_log(strcmp(luaL_checkstring(L, 1), "warning") == 0 ?
	    FC_LOG_WARNING : FC_LOG_INFO, "lua: %s", luaL_checkstring(L, 2));
	return 0;
}

/*
 * The shared store's calls. A failure (a lost database) is a miss, a
 * write that did not happen or an incr that gives nil, with a log line
 * (at most one a second): a rule never fails for it.
 */
static void
lua_shared_failed(lua_State *L, const char *what, const char *err)
{
	static time_t last;
	struct lua_engine *e = *(struct lua_engine **)lua_getextraspace(L);
	time_t now = time(NULL);

	if (now == last)
		return;
	last = now;
	fc_log(FC_LOG_WARNING, "lua: session=%s facteur.kv.%s: the shared "
	    "store failed: %s (taken as a miss)", e->running != NULL &&
	    e->running->id != NULL ? e->running->id : "-", what, err);
}

static struct fc_kv *
lua_shared_kv(lua_State *L)
{
	return lua_touserdata(L, lua_upvalueindex(1));
}

static int
lua_shared_get(lua_State *L)
{
	size_t klen, len;
	const char *key = luaL_checklstring(L, 1, &klen), *err = "?";
	struct fc_arena *a = fc_arena_new("lua-kv", 512);
	char *value;
	int r;

	r = fc_kv_get(lua_shared_kv(L), key, klen, a, &value, &len, &err);
	if (r > 0)
		lua_pushlstring(L, value, len);
	else
		lua_pushnil(L);
	fc_arena_free(&a);
	if (r < 0)
		lua_shared_failed(L, "get", err);
	return 1;
}

static int
lua_shared_set(lua_State *L)
{
	size_t klen, len;
	const char *key = luaL_checklstring(L, 1, &klen), *err = "?";
	const char *value = luaL_checklstring(L, 2, &len);
	lua_Integer ttl = luaL_checkinteger(L, 3);

	if (fc_kv_set(lua_shared_kv(L), key, klen, value, len,
	    (uint64_t)(ttl > 0 ? ttl : 0), &err) < 0) {
		lua_shared_failed(L, "set", err);
		lua_pushboolean(L, 0);
	} else
		lua_pushboolean(L, 1);
	return 1;
}

static int
lua_shared_incr(lua_State *L)
{
	size_t klen;
	const char *key = luaL_checklstring(L, 1, &klen), *err = "?";
	lua_Integer ttl = luaL_checkinteger(L, 2);
	lua_Integer by = luaL_checkinteger(L, 3);
	int64_t v;

	if (fc_kv_incr(lua_shared_kv(L), key, klen, (int64_t)by,
	    (uint64_t)(ttl > 0 ? ttl : 0), &v, &err) < 0) {
		lua_shared_failed(L, "incr", err);
		lua_pushnil(L);
	} else
		lua_pushinteger(L, (lua_Integer)v);
	return 1;
}

static int
lua_shared_del(lua_State *L)
{
	size_t klen;
	const char *key = luaL_checklstring(L, 1, &klen), *err = "?";

	if (fc_kv_del(lua_shared_kv(L), key, klen, &err) < 0)
		lua_shared_failed(L, "del", err);
	return 0;
}

/* Sets facteur.kv and facteur.map in the sandbox (in the registry). */
void
lua_store_open(lua_State *L)
{
	struct lua_engine *e = *(struct lua_engine **)lua_getextraspace(L);
	static const lua_CFunction shared[] = { lua_shared_get,
	    lua_shared_set, lua_shared_incr, lua_shared_del };
	int i;

	if (luaL_loadbufferx(L, lua_store_source, sizeof(lua_store_source) -
	    1, "=facteur.store", "t") != LUA_OK)
		fc_panic("lua: the store's source: %s", lua_tostring(L, -1));
	lua_pushcfunction(L, lua_store_readlines);
	lua_pushcfunction(L, lua_store_mtime);
	lua_pushcfunction(L, lua_store_ipbytes);
	lua_pushcfunction(L, lua_store_now);
	lua_pushcfunction(L, lua_store_script_dir);
	lua_pushcfunction(L, lua_store_log);
	lua_pushinteger(L, LUA_KV_MAX_KEYS);
	if (e->conf->kv != NULL) {
		lua_createtable(L, 4, 0);
		for (i = 0; i < 4; i++) {
			lua_pushlightuserdata(L, e->conf->kv);
			lua_pushcclosure(L, shared[i], 1);
			lua_rawseti(L, -2, i + 1);
		}
	} else
		lua_pushnil(L);
	if (lua_pcall(L, 8, 2, 0) != LUA_OK)
		fc_panic("lua: the store: %s", lua_tostring(L, -1));
	lua_getfield(L, LUA_REGISTRYINDEX, "facteur.sandbox");
	lua_getfield(L, -1, "facteur");
	lua_pushvalue(L, -4);
	lua_setfield(L, -2, "kv");
	lua_pushvalue(L, -3);
	lua_setfield(L, -2, "map");
	lua_pop(L, 4);
}
