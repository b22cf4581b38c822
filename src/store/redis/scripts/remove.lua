-- Deletes messages with their bytes, recipients and attempt log. ARGV: prefix, selector
-- (JSON). Returns the ids deleted.
local now = now_ms()
local ids = selected(cjson.decode(ARGV[2]), nil)
for _, id in ipairs(ids) do
  delete_message(id)
  -- Unlike a purge, an operator's delete keeps the message's events, and writes one more: they
  -- go with their age (Store.purgeEvents).
  append_event(id, 'deleted', nil, '{}', now)
end
return ids
