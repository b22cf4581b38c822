-- The entries of those of the addresses (lower-cased) on the suppression list. ARGV: prefix, a
-- JSON list of them. Returns {address, entry JSON} pairs.
local out = {}
for _, address in ipairs(cjson.decode(ARGV[2])) do
  local entry = redis.call('HGET', P .. 'sup', address)
  if entry then out[#out + 1] = { address, entry } end
end
return out
