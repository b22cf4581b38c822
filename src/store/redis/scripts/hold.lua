-- Sets queued and deferred messages aside. ARGV: prefix, selector (JSON). Returns the ids.
local now = now_ms()
local ids = selected(cjson.decode(ARGV[2]), { 'queued', 'deferred' })
for _, id in ipairs(ids) do
  local old = redis.call('HGET', mkey(id), 'status')
  update(id, { status = 'held', due_at = false, waiting_upstream = 0 })
  reindex(id, old, now)
end
return ids
