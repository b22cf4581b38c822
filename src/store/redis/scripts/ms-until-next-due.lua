-- Milliseconds until something becomes claimable, by the server's clock (0 if now), or nil
-- when nothing waits. ARGV: prefix.
local now = now_ms()
local first = nil
for _, key in ipairs({ 'due:0', 'due:1', 'due:2', 'due:3', 'leases' }) do
  local head = redis.call('ZRANGE', P .. key, 0, 0, 'WITHSCORES')
  if head[2] and (not first or tonumber(head[2]) < first) then first = tonumber(head[2]) end
end
if not first then return false end
return num(math.max(0, first - now))
