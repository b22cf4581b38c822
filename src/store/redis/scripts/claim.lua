-- Leases up to `limit` due messages to `owner`: expired leases first, then by priority, due
-- time and id. ARGV: prefix, owner, limit, leaseMs. Returns per message: id, messageId, from,
-- priority, attempts, backoffStep, eightBit, smtpUtf8, createdAgoMs, expiresInMs, raw,
-- pending recipients (JSON), failed recipients, tags (JSON), upstream (or nil).
local owner, limit, lease = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local now = now_ms()
local picked = redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', num(now), 'LIMIT', 0, limit)
for rank = 0, 3 do
  if #picked >= limit then break end
  local due = redis.call('ZRANGEBYSCORE', P .. 'due:' .. rank, '-inf', num(now), 'LIMIT', 0,
    limit - #picked)
  for _, id in ipairs(due) do picked[#picked + 1] = id end
end
local out = {}
for _, id in ipairs(picked) do
  local old = redis.call('HGET', mkey(id), 'status')
  update(id, { status = 'sending', lease_owner = owner, lease_expires_at = int(now + lease) })
  reindex(id, old, now)
  local h = redis.call('HMGET', mkey(id), 'message_id', 'mail_from', 'priority', 'attempts',
    'backoff_step', 'eight_bit', 'smtputf8', 'created_at', 'expires_at', 'rc', 'tags', 'upstream')
  local pending, failed = {}, 0
  for _, r in ipairs(cjson.decode(h[10] or '[]')) do
    if r[2] == 'pending' then pending[#pending + 1] = r[1] end
    if r[2] == 'failed' then failed = failed + 1 end
  end
  out[#out + 1] = {
    id, h[1], h[2], h[3], h[4], h[5], h[6] or false, h[7] or false,
    int(now - tonumber(h[8])), int(tonumber(h[9]) - now),
    redis.call('GET', P .. 'b:' .. id), cjson.encode(pending), failed, h[11] or '[]',
    h[12] or false,
  }
end
return out
