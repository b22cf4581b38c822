-- Adds addresses to the suppression list, or updates their entry. ARGV: prefix, a JSON list of
-- [address (lower-cased), reason, reply, message id]. Keys: sup (address -> entry JSON) and
-- supx (the addresses, in byte order for paging). Returns how many were new.
local now = now_ms()
local added = 0
for _, e in ipairs(cjson.decode(ARGV[2])) do
  local entry = cjson.encode({ reason = e[2], reply = e[3], messageId = e[4], t = int(now) })
  added = added + redis.call('HSET', P .. 'sup', e[1], entry)
  redis.call('ZADD', P .. 'supx', 0, e[1])
end
return added
