-- ratelimit.lua - rate limits per sender address and per client address.
--
-- Catches:
--   RATELIMIT_SENDER  score 0, forces "451 4.7.1" at MAIL when one sender
--                     address sent more than ratelimit_sender (100)
--                     messages within ratelimit_window (60 s)
--   RATELIMIT_IP      score 0, the same per client IP, ratelimit_ip (200)
-- Authenticated users count too (a hijacked account is the usual case).
-- Options: ratelimit_sender, ratelimit_ip, ratelimit_window.
-- Counters are per worker (facteur.kv).

local per_sender = facteur.option("ratelimit_sender", 100)
local per_ip = facteur.option("ratelimit_ip", 200)
local window = facteur.option("ratelimit_window", 60)

facteur.rule {
  name = "RATELIMIT_SENDER",
  stage = "mail",
  score = 0,
  description = "too many messages from one sender address",
  check = function(msg)
    local from = msg:sender()
    if from == nil or from == "" then
      return false
    end
    local n = facteur.kv.incr("rate-from:" .. from:lower(), window)
    if n ~= nil and n > per_sender then
      msg:force("greylist", "451 4.7.1 Too many messages from this "
        .. "sender: slow down")
      return true
    end
    return false
  end,
}

facteur.rule {
  name = "RATELIMIT_IP",
  stage = "mail",
  score = 0,
  description = "too many messages from one client address",
  check = function(msg)
    local n = facteur.kv.incr("rate-ip:" .. msg:ip(), window)
    if n ~= nil and n > per_ip then
      msg:force("greylist", "451 4.7.1 Too many messages from your "
        .. "address: slow down")
      return true
    end
    return false
  end,
}
