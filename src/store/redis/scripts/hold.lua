-- Sets queued and deferred messages aside. ARGV: prefix, selector (JSON). Returns the ids.
local now = now_ms()
local ids = selected(cjson.decode(ARGV[2]), { 'queued', 'deferred' })
for _, id in ipairs(ids) do
  local h = redis.call('HMGET', mkey(id), 'status', 'ev')
  local noted = {}
  log_event(noted, id, 'held', nil, '{}', now)
  update(id, {
    status = 'held', due_at = false, waiting_upstream = 0, ev = noted_field(h[2], noted),
  })
  reindex(id, h[1], now)
end
return ids
