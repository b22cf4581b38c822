-- Adaptive throttling: halves or raises each bucket's rate (see adjust_rate in
-- rate-bucket.lua). ARGV: prefix, changes (JSON: [{key, ratePerSec, throttled}]), the
-- constants of rate-bucket.ts (JSON). Returns nothing.
local changes = cjson.decode(ARGV[2])
local K = cjson.decode(ARGV[3])
local now = bucket_now()
for _, c in ipairs(changes) do
  write_bucket(c.key, adjust_rate(read_bucket(c.key), c.ratePerSec, c.throttled, now, K))
end
return false
