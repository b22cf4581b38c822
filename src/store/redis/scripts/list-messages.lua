-- One page of a newest-first listing. ARGV: prefix, filter (JSON), cursor (JSON or ''),
-- limit. Returns each message's hash (HGETALL), its id added as field `id`.
local f = cjson.decode(ARGV[2])
local cursor = ARGV[3] ~= '' and cjson.decode(ARGV[3]) or nil
local limit = tonumber(ARGV[4])
local out = {}
if limit <= 0 then return out end
walk_filter(f, nil, cursor, function(id)
  local h = redis.call('HGETALL', mkey(id))
  h[#h + 1] = 'id'
  h[#h + 1] = id
  out[#out + 1] = h
  return #out < limit
end)
return out
