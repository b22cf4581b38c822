-- Makes every message deferred only because the upstream was down due now. ARGV: prefix.
-- Returns how many were woken.
local now = now_ms()
local n = 0
for _, id in ipairs(redis.call('SMEMBERS', P .. 'upwait')) do
  if redis.call('HGET', mkey(id), 'status') == 'deferred' then
    update(id, { due_at = num(now), waiting_upstream = 0 })
    reindex(id, 'deferred', now)
    n = n + 1
  else
    redis.call('SREM', P .. 'upwait', id)
  end
end
if n > 0 then publish_wake() end
return n
