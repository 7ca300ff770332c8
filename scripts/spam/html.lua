-- html.lua - HTML-only mail and links whose text names another site.
--
-- Catches, with default scores:
--   HTML_ONLY           1.0  HTML and no plain text alternative
--   HTML_LINK_MISMATCH  3.0  a link whose visible text is a web address
--                            on another domain than the one it goes to
--                            ("https://bank.example" linking to
--                            http://phish.example/...): phishing
-- Options: none.

facteur.rule {
  name = "HTML_ONLY",
  score = 1.0,
  description = "HTML without a plain text part",
  check = function(msg)
    return msg:html() ~= nil and msg:text() == nil
  end,
}

-- The host of a URL or of a bare "www.example.org/..." text, lower case.
local function host(s)
  s = s:lower():gsub("^%s+", "")
  local h = s:match("^%a[%w+.-]*://([^/?#:]+)") or
    s:match("^(www%.[%w.-]+)")
  if h == nil then
    return nil
  end
  h = h:gsub("^.*@", ""):gsub("%.$", "")
  return h
end

-- the last two labels: a rough registered domain
local function base(h)
  return h:match("([^.]+%.[^.]+)$") or h
end

facteur.rule {
  name = "HTML_LINK_MISMATCH",
  score = 3.0,
  description = "a link's text names another domain than its target",
  check = function(msg)
    for _, link in ipairs(msg:links()) do
      local shown = host(link.text)
      local target = host(link.href)
      if shown ~= nil and target ~= nil and base(shown) ~= base(target) then
        return true
      end
    end
    return false
  end,
}
