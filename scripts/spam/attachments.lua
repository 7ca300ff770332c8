-- attachments.lua - attachments that run code when opened.
--
-- Catches, with default scores:
--   BAD_ATTACHMENT        6.0  an attachment named like an executable
--                              (.exe .scr .bat .cmd .com .pif .vbs .js
--                              .jse .wsf .jar .msi .ps1 .lnk .hta .cpl)
--   ARCHIVE_EXECUTABLE    6.0  a ZIP attachment holding a file named so
--                              (names read from the archive's central
--                              directory; the first 1 MiB is looked at)
-- Options: bad_extensions (a list replacing the one above).

local default = { "exe", "scr", "bat", "cmd", "com", "pif", "vbs", "js",
  "jse", "wsf", "jar", "msi", "ps1", "lnk", "hta", "cpl" }
local bad = {}
for _, ext in ipairs(facteur.option("bad_extensions", default)) do
  bad[ext:lower()] = true
end

local function is_bad(name)
  local ext = name and name:match("%.([%w]+)%s*$")
  return ext ~= nil and bad[ext:lower()] == true
end

facteur.rule {
  name = "BAD_ATTACHMENT",
  score = 6.0,
  description = "an attachment named like an executable",
  check = function(msg)
    for _, a in ipairs(msg:attachments()) do
      if is_bad(a.name) then
        return true
      end
    end
    return false
  end,
}

-- The file names in a ZIP archive's central directory entries.
local function zip_names(data)
  local names, pos = {}, 1
  while #names < 1000 do
    local s = data:find("PK\1\2", pos, true)
    if s == nil or s + 46 > #data then
      break
    end
    local len = string.unpack("<I2", data, s + 28)
    names[#names + 1] = data:sub(s + 46, s + 45 + len)
    pos = s + 46 + len
  end
  return names
end

facteur.rule {
  name = "ARCHIVE_EXECUTABLE",
  score = 6.0,
  description = "a ZIP attachment holding an executable",
  check = function(msg)
    for i, a in ipairs(msg:attachments()) do
      if (a.name and a.name:lower():match("%.zip$")) or
          a.type == "application/zip" or
          a.type == "application/x-zip-compressed" then
        local data = msg:attachment_content(i)
        if data ~= nil and data:sub(1, 2) == "PK" then
          for _, name in ipairs(zip_names(data)) do
            if is_bad(name) then
              return true
            end
          end
        end
      end
    end
    return false
  end,
}
