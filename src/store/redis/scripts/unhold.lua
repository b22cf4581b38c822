-- Puts held messages back, due at once. ARGV: prefix, selector (JSON). Returns the ids.
local now = now_ms()
local ids = selected(cjson.decode(ARGV[2]), { 'held' })
for _, id in ipairs(ids) do
  local attempts = tonumber(redis.call('HGET', mkey(id), 'attempts'))
  update(id, { status = attempts == 0 and 'queued' or 'deferred', due_at = num(now) })
  reindex(id, 'held', now)
end
if #ids > 0 then publish_wake() end
return ids
