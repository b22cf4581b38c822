-- Puts held messages back, due at once. ARGV: prefix, selector (JSON). Returns the ids.
local now = now_ms()
local ids = selected(cjson.decode(ARGV[2]), { 'held' })
for _, id in ipairs(ids) do
  local h = redis.call('HMGET', mkey(id), 'attempts', 'ev')
  local noted = {}
  log_event(noted, id, 'released', nil, '{}', now)
  update(id, {
    status = tonumber(h[1]) == 0 and 'queued' or 'deferred', due_at = num(now),
    ev = noted_field(h[2], noted),
  })
  reindex(id, 'held', now)
end
if #ids > 0 then publish_wake() end
return ids
