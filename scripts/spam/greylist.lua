-- greylist.lua - greylisting: the first attempt of an unknown triplet
-- (client /24 network, sender, recipient) is refused for now; a real
-- server retries after a while and is let in, most spam software does
-- not retry.
--
-- Catches: GREYLIST (score 0: it does not score, it forces a temporary
-- failure "451 4.7.1" at RCPT for that recipient).
-- A triplet retried after greylist_delay (300 s) and within
-- greylist_window (86400 s) passes; its network then passes at once for
-- greylist_awl (36 days: the auto-whitelist). Authenticated users and
-- loopback clients are never greylisted (greylist_loopback yes: they are,
-- for tests).
-- Options: greylist_delay, greylist_window, greylist_awl,
-- greylist_loopback.
-- The triplets live in facteur.kv: with `kv memory` (the default) each
-- worker keeps its own, so with several workers a retry may meet another
-- worker and wait again; with `kv shared` (the pgsql module's kv table)
-- every worker and every node sees the same triplets.

local delay = facteur.option("greylist_delay", 300)
local window = facteur.option("greylist_window", 86400)
local awl = facteur.option("greylist_awl", 36 * 86400)
local loopback = facteur.option("greylist_loopback", "no") == "yes"

local function network(ip)
  local v4 = ip:match("^(%d+%.%d+%.%d+)%.%d+$")
  if v4 then
    return v4
  end
  -- IPv6: the first four groups (a /64)
  local groups, n = {}, 0
  for g in ip:gmatch("[^:]+") do
    n = n + 1
    groups[n] = g
    if n == 4 then
      break
    end
  end
  return table.concat(groups, ":")
end

facteur.rule {
  name = "GREYLIST",
  stage = "rcpt",
  score = 0,
  description = "first attempt of an unknown sender: try again later",
  check = function(msg)
    local ip = msg:ip()
    if ip == nil or msg:user() ~= nil then
      return false
    end
    if not loopback and (ip:match("^127%.") or ip == "::1") then
      return false
    end
    local net = network(ip)
    if facteur.kv.get("greylist-awl:" .. net) then
      return false
    end
    local rcpts = msg:recipients()
    local key = "greylist:" .. net .. "|" .. (msg:sender() or "") ..
      "|" .. (rcpts[#rcpts] or ""):lower()
    local first = facteur.kv.get(key)
    local now = facteur.now()
    if first == nil then
      facteur.kv.set(key, now, window)
      msg:force("greylist", string.format(
        "451 4.7.1 Greylisted: try again in %d seconds",
        math.ceil(delay)))
      return true
    end
    if now - first < delay then
      msg:force("greylist", string.format(
        "451 4.7.1 Greylisted: try again in %d seconds",
        math.ceil(delay - (now - first))))
      return true
    end
    facteur.kv.set("greylist-awl:" .. net, true, awl)
    return false
  end,
}
