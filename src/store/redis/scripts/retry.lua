-- Makes deferred messages due at once and requeues failed ones (their failed recipients
-- pending again, their max age starting over). ARGV: prefix, selector (JSON), maxAgeMs.
-- Returns the ids changed.
local now = now_ms()
local max_age = tonumber(ARGV[3])
local ids = selected(cjson.decode(ARGV[2]), { 'deferred', 'failed' })
for _, id in ipairs(ids) do
  local h = redis.call('HMGET', mkey(id), 'status', 'ev')
  local old = h[1]
  if old == 'deferred' then
    -- Only sooner: not a change of state, no event.
    update(id, { due_at = num(now), waiting_upstream = 0 })
  else
    local noted = {}
    log_event(noted, id, 'retried', nil, '{}', now)
    set_recipients(id, 'failed', 'pending')
    update(id, {
      status = 'queued', due_at = num(now), expires_at = int(now + max_age), backoff_step = 0,
      waiting_upstream = 0, reason = false, finished_at = false, ev = noted_field(h[2], noted),
    })
  end
  reindex(id, old, now)
end
if #ids > 0 then publish_wake() end
return ids
