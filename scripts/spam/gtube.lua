-- gtube.lua - GTUBE, the Generic Test for Unsolicited Bulk Email.
--
-- Catches: a message whose text contains the GTUBE string, which anti-spam
-- systems agree to treat as certain spam, so that an admin can check the
-- whole chain (rules, thresholds, rejection at DATA) with a real message.
-- Default score: 1000 (rejects with any sane reject_score).
-- Options: none.

local GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

facteur.rule {
  name = "GTUBE",
  stage = "data",
  score = 1000,
  description = "the GTUBE test string",
  check = function(msg)
    local text = msg:text() or ""
    if text:find(GTUBE, 1, true) then
      return true
    end
    local html = msg:html() or ""
    return html:find(GTUBE, 1, true) ~= nil
  end,
}
