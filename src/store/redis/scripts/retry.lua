-- Makes deferred messages due at once and requeues failed ones (their failed recipients
-- pending again, their max age starting over). ARGV: prefix, selector (JSON), maxAgeMs.
-- Returns the ids changed.
local now = now_ms()
local max_age = tonumber(ARGV[3])
local ids = selected(cjson.decode(ARGV[2]), { 'deferred', 'failed' })
for _, id in ipairs(ids) do
  local old = redis.call('HGET', mkey(id), 'status')
  if old == 'deferred' then
    update(id, { due_at = num(now), waiting_upstream = 0 })
  else
    set_recipients(id, 'failed', 'pending')
    update(id, {
      status = 'queued', due_at = num(now), expires_at = int(now + max_age), backoff_step = 0,
      waiting_upstream = 0, reason = false, finished_at = false,
    })
  end
  reindex(id, old, now)
end
if #ids > 0 then publish_wake() end
return ids
