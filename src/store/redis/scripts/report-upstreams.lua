-- Replaces everything `worker` reported of its upstreams; an empty list removes it. ARGV:
-- prefix, worker, reports (JSON list, kept as sent), ttlMs. Keys, after the prefix:
--   ur     sorted set: worker -> when its reports expire (ms, server clock)
--   urep   hash: worker -> {"t": reported at (ms), "r": its reports}
local worker, reports, ttl = ARGV[2], ARGV[3], tonumber(ARGV[4])
local now = now_ms()
-- Workers that died without saying so leave their reports behind: cleared here, on a write, so
-- reading stays read-only.
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', P .. 'ur', '-inf', num(now))) do
  redis.call('HDEL', P .. 'urep', gone)
  redis.call('ZREM', P .. 'ur', gone)
end
if #cjson.decode(reports) == 0 then
  redis.call('HDEL', P .. 'urep', worker)
  redis.call('ZREM', P .. 'ur', worker)
else
  redis.call('HSET', P .. 'urep', worker, '{"t":' .. int(now) .. ',"r":' .. reports .. '}')
  redis.call('ZADD', P .. 'ur', num(now + ttl), worker)
end
return false
