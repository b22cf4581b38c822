-- Every token bucket as stored. ARGV: prefix. Returns per bucket {key, tokens, updated_at,
-- rate, throttled_at or false}, as text.
local out = {}
for _, key in ipairs(redis.call('SMEMBERS', P .. 'rb')) do
  local h = redis.call('HMGET', P .. 'rb:' .. key, 'tokens', 'updated_at', 'rate', 'throttled_at')
  -- A bucket deleted by hand is left out (its key stays in the set until written again).
  if h[1] then out[#out + 1] = { key, h[1], h[2], h[3] or false, h[4] or false } end
end
return out
