-- Deletes a template, or one language of it. ARGV: prefix, name, language ('' for every one).
-- Returns how many versions were deleted (see put-template.lua for the keys).
local name, language = ARGV[2], ARGV[3]
local heads, versions = P .. 'tplh:' .. name, P .. 'tplv:' .. name
local removed = 0
if language == '' then
  removed = redis.call('HLEN', versions)
  redis.call('DEL', heads, versions)
else
  local head = redis.call('HGET', heads, language)
  if not head then return 0 end
  -- Versions 1 to the latest: none is ever deleted alone.
  for v = 1, tonumber(string.match(head, '^(%d+):')) do
    removed = removed + redis.call('HDEL', versions, v .. ':' .. language)
  end
  redis.call('HDEL', heads, language)
  if redis.call('HLEN', heads) > 0 then return removed end
  redis.call('DEL', versions)
end
redis.call('ZREM', P .. 'tpls', name)
return removed
