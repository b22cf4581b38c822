-- Leases a durable consumer of the event log (created on first use) to an owner, when it is
-- free, expired or already the owner's. ARGV: prefix, name, owner, leaseMs. Returns its fields
-- (a flat list, as HGETALL) when leased, nil otherwise. Keys: `cons` (set of names),
-- `cons:<name>` (hash: cursor, state, lease_owner, lease_expires_at, retry_requests, updated_at).
local name, owner, lease = ARGV[2], ARGV[3], tonumber(ARGV[4])
local now = now_ms()
local key = P .. 'cons:' .. name
if redis.call('EXISTS', key) == 0 then
  redis.call('HSET', key, 'state', '{}', 'retry_requests', 0, 'updated_at', int(now))
  redis.call('SADD', P .. 'cons', name)
end
local h = redis.call('HMGET', key, 'lease_owner', 'lease_expires_at')
if h[1] and h[1] ~= owner and tonumber(h[2] or '0') > now then return nil end
redis.call('HSET', key, 'lease_owner', owner, 'lease_expires_at', int(now + lease))
local out = redis.call('HGETALL', key)
out[#out + 1] = 'name'
out[#out + 1] = name
return out
