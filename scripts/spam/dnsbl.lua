-- dnsbl.lua - DNS block lists: the client's address (DNSBL) and the
-- domains of the links in the message (URIBL).
--
-- Catches, with default scores:
--   RCVD_IN_DNSBL  5.0  per zone of dnsbl_zones listing the client's IP
--                       (stage connect: 4.3.2.1.zone has an A record)
--   URIBL          4.0  per zone of uribl_zones listing a link's domain
--                       (stage data: domain.zone has an A record; the
--                       first uribl_max_domains (20) domains are asked)
-- No zone is set by default: name the lists you have the right to use.
-- Options: dnsbl_zones, uribl_zones (lists), dnsbl_score, uribl_score,
-- uribl_max_domains, dnsbl_check_private (yes: ask for loopback and
-- private addresses too; for tests).
-- Each lookup waits at most the lua block's dns_timeout; no answer is
-- no hit.

local dnsbl_zones = facteur.option("dnsbl_zones", {})
local uribl_zones = facteur.option("uribl_zones", {})
local dnsbl_score = facteur.option("dnsbl_score", 5.0)
local uribl_score = facteur.option("uribl_score", 4.0)
local max_domains = facteur.option("uribl_max_domains", 20)
local check_private = facteur.option("dnsbl_check_private", "no") == "yes"

local function private(ip)
  return ip:match("^127%.") or ip:match("^10%.") or
    ip:match("^192%.168%.") or ip:match("^172%.1[6-9]%.") or
    ip:match("^172%.2%d%.") or ip:match("^172%.3[01]%.") or
    ip == "::1" or ip:match("^[fF][cdCD]") or ip:match("^[fF][eE]80:")
end

-- true when name has an A record in 127.0.0.0/8 (the lists' answers)
local function listed(name)
  local answers = facteur.dns.a(name)
  if answers == nil then
    return false
  end
  for _, a in ipairs(answers) do
    if a:match("^127%.") then
      return true
    end
  end
  return false
end

if #dnsbl_zones > 0 then
  facteur.rule {
    name = "RCVD_IN_DNSBL",
    stage = "connect",
    score = dnsbl_score,
    description = "the client's address is on a DNS block list",
    check = function(msg)
      local ip = msg:ip()
      if ip == nil or (private(ip) and not check_private) then
        return false
      end
      local rev = facteur.dns.reverse(ip)
      if rev == nil then
        return false
      end
      local n = 0
      for _, zone in ipairs(dnsbl_zones) do
        if listed(rev .. "." .. zone) then
          n = n + 1
        end
      end
      return n
    end,
  }
end

if #uribl_zones > 0 then
  facteur.rule {
    name = "URIBL",
    score = uribl_score,
    description = "a link's domain is on a URI block list",
    check = function(msg)
      local n = 0
      for i, domain in ipairs(msg:domains()) do
        if i > max_domains then
          break
        end
        if not domain:match("^[%d.]+$") then
          for _, zone in ipairs(uribl_zones) do
            if listed(domain .. "." .. zone) then
              n = n + 1
            end
          end
        end
      end
      return n
    end,
  }
end
