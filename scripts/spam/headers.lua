-- headers.lua - header sanity: what real mail clients and servers always
-- write, and spam software often gets wrong.
--
-- Catches, with default scores:
--   MISSING_DATE        1.0  no Date field
--   MISSING_MESSAGE_ID  1.0  no Message-ID field
--   FROM_MALFORMED      2.0  no From field, or none of its addresses parse
--   DATE_IN_FUTURE      2.0  Date more than date_future_hours (24) ahead
--   DATE_TOO_OLD        1.0  Date more than date_past_days (30) behind
--   HELO_IS_OURS        3.0  the client's HELO is our own host name
--                            (a client pretending to be us; stage helo)
-- Options (set NAME VALUE; in the lua block): date_future_hours,
-- date_past_days.

local future = facteur.option("date_future_hours", 24) * 3600
local past = facteur.option("date_past_days", 30) * 86400

facteur.rule {
  name = "MISSING_DATE",
  score = 1.0,
  description = "no Date header field",
  check = function(msg)
    return msg:header_raw("Date") == nil
  end,
}

facteur.rule {
  name = "MISSING_MESSAGE_ID",
  score = 1.0,
  description = "no Message-ID header field",
  check = function(msg)
    return msg:header_raw("Message-ID") == nil
  end,
}

facteur.rule {
  name = "FROM_MALFORMED",
  score = 2.0,
  description = "no From field, or no address in it",
  check = function(msg)
    if msg:header_raw("From") == nil then
      return true
    end
    local from = msg:from()
    return #from == 0 or from[1].domain == ""
  end,
}

facteur.rule {
  name = "DATE_IN_FUTURE",
  score = 2.0,
  description = "Date far in the future",
  check = function(msg)
    local t = msg:date()
    return t ~= nil and t > facteur.now() + future
  end,
}

facteur.rule {
  name = "DATE_TOO_OLD",
  score = 1.0,
  description = "Date far in the past",
  check = function(msg)
    local t = msg:date()
    return t ~= nil and t < facteur.now() - past
  end,
}

facteur.rule {
  name = "HELO_IS_OURS",
  stage = "helo",
  score = 3.0,
  description = "the client says it is us",
  check = function(msg)
    local helo = msg:helo()
    return helo ~= nil and helo:lower() == facteur.hostname():lower()
  end,
}
