-- Gives leased messages back without an attempt, due at once with their previous status.
-- ARGV: prefix, owner, ids (JSON). Returns how many were released.
local owner, ids = ARGV[2], cjson.decode(ARGV[3])
local now = now_ms()
local n = 0
for _, id in ipairs(ids) do
  local h = redis.call('HMGET', mkey(id), 'status', 'lease_owner', 'attempts')
  if h[1] == 'sending' and h[2] == owner then
    update(id, {
      status = tonumber(h[3]) == 0 and 'queued' or 'deferred', due_at = num(now),
      lease_owner = false, lease_expires_at = false,
    })
    reindex(id, 'sending', now)
    n = n + 1
  end
end
if n > 0 then publish_wake() end
return n
