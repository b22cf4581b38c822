-- Fails, as expired, deferred messages past their max age (up to 1000 a call) and their
-- pending recipients. ARGV: prefix. Returns how many were failed.
local now = now_ms()
local n = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'expiry', '-inf', num(now), 'LIMIT', 0, 1000)) do
  if redis.call('HGET', mkey(id), 'status') == 'deferred' then
    set_recipients(id, 'pending', 'failed', 'expired: not delivered before the maximum age')
    update(id, {
      status = 'failed', reason = 'expired', due_at = false, waiting_upstream = 0,
      finished_at = int(now),
    })
    reindex(id, 'deferred', now)
    n = n + 1
  else
    redis.call('ZREM', P .. 'expiry', id)
  end
end
return n
