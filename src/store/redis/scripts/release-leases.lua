-- Gives leased messages back without an attempt, with their previous status: due at once, or
-- each `delays[i]` ms from now (held back by a rate limit, waiting for its turn). ARGV: prefix,
-- owner, ids (JSON), delays (JSON list of ms, one per id, or ''). Returns how many were
-- released.
local owner, ids = ARGV[2], cjson.decode(ARGV[3])
local delays = ARGV[4] ~= '' and cjson.decode(ARGV[4]) or {}
local now = now_ms()
local n = 0
for i, id in ipairs(ids) do
  local h = redis.call('HMGET', mkey(id), 'status', 'lease_owner', 'attempts')
  if h[1] == 'sending' and h[2] == owner then
    update(id, {
      status = tonumber(h[3]) == 0 and 'queued' or 'deferred',
      due_at = num(now + math.max(0, tonumber(delays[i]) or 0)),
      lease_owner = false, lease_expires_at = false,
    })
    reindex(id, 'sending', now)
    n = n + 1
  end
end
if n > 0 then publish_wake() end
return n
