/*
 * lua_dns.c - facteur.dns: lookups from a rule, through the core's
 * resolver (dns.h).
 *
 * A lookup yields the rule's coroutine; the answer resumes it, so the
 * worker serves other sessions meanwhile. The timeout is the lua block's
 * dns_timeout. Where there is no resolver (facteurctl filter test) or a
 * lookup cannot start, the answer is nil, "unavailable" at once.
 *
 *   facteur.dns.a(name)      -> { "192.0.2.1", ... } | nil, why
 *   facteur.dns.aaaa(name)   -> { "2001:db8::1", ... } | nil, why
 *   facteur.dns.txt(name)    -> { "v=spf1 ...", ... } | nil, why
 *   facteur.dns.mx(name)     -> { "mx1.example.org", ... } by preference
 *   facteur.dns.ptr(ip)      -> { "host.example.org", ... } | nil, why
 *   facteur.dns.reverse(ip)  -> "1.2.0.192" (for DNSBL names), or nil
 * why: "nxdomain", "tempfail" (no answer in time) or "unavailable".
 * A name without records gives an empty table.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include <facteur/dns.h>

#include "lua_plugin.h"

void
lua_dns_cancel(struct lua_msg *m)
{
	if (m->dnsq != NULL)
		fc_dns_cancel(&m->dnsq);
	m->dns_wait = false;
}

static void
lua_dns_answer(void *arg, enum fc_dns_status status,
    const struct fc_dns_answer *answers)
{
	struct lua_msg *m = arg;
	lua_State *co = m->co;
	const struct fc_dns_answer *a;
	int k = 0;

	m->dnsq = NULL;
	m->dns_wait = false;
	if (status == FC_DNS_NXDOMAIN || status == FC_DNS_TEMPFAIL) {
		lua_pushnil(co);
		lua_pushstring(co, status == FC_DNS_NXDOMAIN ? "nxdomain" :
		    "tempfail");
		lua_engine_resume(m, 2);
		return;
	}
	lua_newtable(co);
	for (a = answers; a != NULL; a = a->next)
		if (a->text != NULL && (int)a->type == m->dns_type) {
			lua_pushstring(co, a->text);
			lua_rawseti(co, -2, ++k);
		}
	if (m->dns_type == FC_DNS_MX && k > 1) {
		/* insertion sort of names by preference */
		const struct fc_dns_answer *v[64];
		int n = 0, i, j;

		for (a = answers; a != NULL && n < 64; a = a->next)
			if (a->text != NULL && a->type == FC_DNS_MX)
				v[n++] = a;
		for (i = 1; i < n; i++)
			for (j = i; j > 0 && v[j - 1]->preference >
			    v[j]->preference; j--) {
				a = v[j];
				v[j] = v[j - 1];
				v[j - 1] = a;
			}
		for (i = 0; i < n; i++) {
			lua_pushstring(co, v[i]->text);
			lua_rawseti(co, -2, i + 1);
		}
	}
	lua_engine_resume(m, 1);
}

static int
lua_dns_lookup(lua_State *L, const char *name, enum fc_dns_type type)
{
	struct lua_engine *e = *(struct lua_engine **)lua_getextraspace(L);
	struct lua_msg *m = e->running;

	if (m == NULL || m->co != L)
		return luaL_error(L, "facteur.dns: only in a rule's check");
	if (!lua_isyieldable(L))
		return luaL_error(L, "facteur.dns: cannot wait here (inside "
		    "a callback of a C function)");
	m->dns_type = type;
	m->dnsq = fc_dns_resolve(name, type, e->conf->dns_timeout,
	    lua_dns_answer, m);
	if (m->dnsq == NULL) {
		lua_pushnil(L);
		lua_pushliteral(L, "unavailable");
		return 2;
	}
	m->dns_wait = true;
	return lua_yield(L, 0);
}

static int
lua_dns_a(lua_State *L)
{
	return lua_dns_lookup(L, luaL_checkstring(L, 1), FC_DNS_A);
}

static int
lua_dns_aaaa(lua_State *L)
{
	return lua_dns_lookup(L, luaL_checkstring(L, 1), FC_DNS_AAAA);
}

static int
lua_dns_txt(lua_State *L)
{
	return lua_dns_lookup(L, luaL_checkstring(L, 1), FC_DNS_TXT);
}

static int
lua_dns_mx(lua_State *L)
{
	return lua_dns_lookup(L, luaL_checkstring(L, 1), FC_DNS_MX);
}

/* The reversed form of an address, without a suffix; NULL if none. */
static const char *
lua_dns_reverse_name(const char *ip, char *buf, size_t size)
{
	unsigned char a[16];
	size_t i;
	char *p = buf;

	if (inet_pton(AF_INET, ip, a) == 1) {
		snprintf(buf, size, "%u.%u.%u.%u", a[3], a[2], a[1], a[0]);
		return buf;
	}
	if (inet_pton(AF_INET6, ip, a) != 1 || size < 64)
		return NULL;
	for (i = 16; i > 0; i--) {
		p += sprintf(p, "%x.%x", a[i - 1] & 0xf, a[i - 1] >> 4);
		if (i > 1)
			*p++ = '.';
	}
	*p = '\0';
	return buf;
}

static int
lua_dns_reverse(lua_State *L)
{
	char buf[128];
	const char *r = lua_dns_reverse_name(luaL_checkstring(L, 1), buf,
	    sizeof(buf));

	if (r == NULL)
		lua_pushnil(L);
	else
		lua_pushstring(L, r);
	return 1;
}

static int
lua_dns_ptr(lua_State *L)
{
	char buf[128], name[160];
	const char *ip = luaL_checkstring(L, 1);

	if (lua_dns_reverse_name(ip, buf, sizeof(buf)) == NULL)
		return luaL_argerror(L, 1, "not an IP address");
	snprintf(name, sizeof(name), "%s.%s", buf, strchr(ip, ':') != NULL ?
	    "ip6.arpa" : "in-addr.arpa");
	return lua_dns_lookup(L, name, FC_DNS_PTR);
}

static const luaL_Reg lua_dns_functions[] = {
	{ "a", lua_dns_a },
	{ "aaaa", lua_dns_aaaa },
	{ "txt", lua_dns_txt },
	{ "mx", lua_dns_mx },
	{ "ptr", lua_dns_ptr },
	{ "reverse", lua_dns_reverse },
	{ NULL, NULL }
};

/* Pushes the facteur.dns table. */
void
lua_dns_open(lua_State *L)
{
	luaL_newlib(L, lua_dns_functions);
}
