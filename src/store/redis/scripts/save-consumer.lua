-- Saves a leased consumer's position and state and sets its lease to end leaseMs from now (0:
-- ended), while `owner` holds an unexpired lease. ARGV: prefix, name, owner, cursor ('' for
-- none), state (JSON), leaseMs. Returns 1 when saved, 0 otherwise.
local name, owner, cursor, state, lease = ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
local now = now_ms()
local key = P .. 'cons:' .. name
local h = redis.call('HMGET', key, 'lease_owner', 'lease_expires_at')
if h[1] ~= owner or tonumber(h[2] or '0') <= now then return 0 end
redis.call('HSET', key, 'state', state, 'updated_at', int(now))
if cursor == '' then
  redis.call('HDEL', key, 'cursor')
else
  redis.call('HSET', key, 'cursor', cursor)
end
if lease > 0 then
  redis.call('HSET', key, 'lease_expires_at', int(now + lease))
else
  redis.call('HDEL', key, 'lease_owner', 'lease_expires_at')
end
return 1
