-- Stores a new version of one language of a template: the latest plus one (1 for the first),
-- or nothing when the content equals the latest's. ARGV: prefix, name, language, the content
-- as JSON {subject, html, text} (html and text may be null). Keys: tpls (the names),
-- tplh:<name> (language -> '<latest version>:<ms stored>'), tplv:<name> ('<version>:<language>'
-- -> JSON {subject, html, text, t}). Returns {created (0/1), version, the version's JSON}.
local name, language = ARGV[2], ARGV[3]
local c = cjson.decode(ARGV[4])
local heads, versions = P .. 'tplh:' .. name, P .. 'tplv:' .. name
local version = 0
local head = redis.call('HGET', heads, language)
if head then
  version = tonumber(string.match(head, '^(%d+):'))
  local latest = redis.call('HGET', versions, version .. ':' .. language)
  if latest then
    local l = cjson.decode(latest)
    -- cjson reads null as one value (cjson.null), so a null part equals a null part only.
    if l.subject == c.subject and l.html == c.html and l.text == c.text then
      return { 0, version, latest }
    end
  end
end
version = version + 1
local now = int(now_ms())
local record = cjson.encode({ subject = c.subject, html = c.html, text = c.text, t = now })
redis.call('HSET', versions, version .. ':' .. language, record)
redis.call('HSET', heads, language, version .. ':' .. now)
redis.call('ZADD', P .. 'tpls', 0, name)
return { 1, version, record }
