-- Records bounces and complaints on recipients. ARGV: prefix, a JSON list of
-- {id, address, kind, code, reply}. The recipient is found in any case. Returns how many were.
local found = 0
for _, f in ipairs(cjson.decode(ARGV[2])) do
  local raw = redis.call('HGET', mkey(f.id), 'rc')
  if raw then
    local rc = cjson.decode(raw)
    local want = string.lower(f.address)
    for _, r in ipairs(rc) do
      if string.lower(r[1]) == want then
        r[2], r[3], r[4] = f.kind, f.code, f.reply
        redis.call('HSET', mkey(f.id), 'rc', cjson.encode(rc))
        found = found + 1
        break
      end
    end
  end
end
return found
