-- Every template by name (byte order), with the latest version of each language. ARGV: prefix.
-- Returns {name, {language, '<version>:<ms stored>', ...}} per template (see put-template.lua).
local out = {}
for _, name in ipairs(redis.call('ZRANGE', P .. 'tpls', 0, -1)) do
  out[#out + 1] = { name, redis.call('HGETALL', P .. 'tplh:' .. name) }
end
return out
