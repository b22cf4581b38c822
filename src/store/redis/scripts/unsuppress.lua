-- Takes addresses (lower-cased) off the suppression list. ARGV: prefix, a JSON list of them.
-- Returns how many were on it.
local removed = 0
for _, address in ipairs(cjson.decode(ARGV[2])) do
  removed = removed + redis.call('HDEL', P .. 'sup', address)
  redis.call('ZREM', P .. 'supx', address)
end
return removed
