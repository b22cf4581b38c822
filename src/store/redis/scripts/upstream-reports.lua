-- Every worker's unexpired upstream reports. ARGV: prefix. Returns per worker {worker, its
-- entry of urep (JSON)}; see report-upstreams.lua.
local now = now_ms()
local out = {}
for _, worker in ipairs(redis.call('ZRANGEBYSCORE', P .. 'ur', '(' .. num(now), '+inf')) do
  local entry = redis.call('HGET', P .. 'urep', worker)
  if entry then out[#out + 1] = { worker, entry } end
end
return out
