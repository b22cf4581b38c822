-- Fails, as expired, deferred messages past their max age (up to 1000 a call) and their
-- pending recipients. ARGV: prefix. Returns how many were failed.
local now = now_ms()
local n = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'expiry', '-inf', num(now), 'LIMIT', 0, 1000)) do
  local h = redis.call('HMGET', mkey(id), 'status', 'last_error', 'ev')
  if h[1] == 'deferred' then
    local noted = {}
    for _, r in ipairs(set_recipients(id, 'pending', 'failed',
      'expired: not delivered before the maximum age')) do
      log_settled(noted, id, r, nil, now)
    end
    -- With the error of its last attempt, as the SQL stores' `expired` event has it.
    log_event(noted, id, 'expired', nil, cjson.encode({ error = or_null(h[2]) }), now)
    update(id, {
      status = 'failed', reason = 'expired', due_at = false, waiting_upstream = 0,
      finished_at = int(now), ev = noted_field(h[3], noted),
    })
    reindex(id, 'deferred', now)
    n = n + 1
  else
    redis.call('ZREM', P .. 'expiry', id)
  end
end
return n
