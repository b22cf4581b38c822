-- Ends, now, the leases of owners known to be dead, so their messages are claimable at once.
-- ARGV: prefix, owners (JSON). Returns how many leases ended.
local now = now_ms()
local dead = set_of(cjson.decode(ARGV[2]))
local n = 0
for _, id in ipairs(redis.call('ZRANGE', P .. 'leases', 0, -1)) do
  if dead[redis.call('HGET', mkey(id), 'lease_owner')] then
    redis.call('HSET', mkey(id), 'lease_expires_at', int(now))
    redis.call('ZADD', P .. 'leases', num(now), id)
    n = n + 1
  end
end
return n
