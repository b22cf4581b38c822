-- Extends the leases `owner` still holds. ARGV: prefix, owner, ids (JSON), leaseMs. Returns
-- the ids renewed.
local owner, ids, lease = ARGV[2], cjson.decode(ARGV[3]), tonumber(ARGV[4])
local now = now_ms()
local out = {}
for _, id in ipairs(ids) do
  local h = redis.call('HMGET', mkey(id), 'status', 'lease_owner')
  if h[1] == 'sending' and h[2] == owner then
    redis.call('HSET', mkey(id), 'lease_expires_at', int(now + lease))
    redis.call('ZADD', P .. 'leases', num(now + lease), id)
    out[#out + 1] = id
  end
end
return out
