-- Records bounces and complaints on recipients. ARGV: prefix, a JSON list of
-- {id, address, kind, code, reply}. The recipient is found in any case. Returns how many were.
local now = now_ms()
local found = 0
for _, f in ipairs(cjson.decode(ARGV[2])) do
  local h = redis.call('HMGET', mkey(f.id), 'rc', 'ev')
  if h[1] then
    local rc = cjson.decode(h[1])
    local want = string.lower(f.address)
    for _, r in ipairs(rc) do
      if string.lower(r[1]) == want then
        -- An event when what came back is new for it (the same report twice writes one).
        local noted = {}
        if r[2] ~= f.kind then
          log_event(noted, f.id, f.kind, r[1],
            cjson.encode({ code = or_null(f.code), reply = or_null(f.reply) }), now)
        end
        r[2], r[3], r[4] = f.kind, f.code, f.reply
        update(f.id, { rc = cjson.encode(rc), ev = noted_field(h[2], noted) })
        found = found + 1
        break
      end
    end
  end
end
return found
