-- Adds one to the retry requests of the consumers named (every one when it is null).
-- ARGV: prefix, names (JSON list, or null). Returns how many it found.
local names = cjson.decode(ARGV[2])
if names == cjson.null then names = redis.call('SMEMBERS', P .. 'cons') end
local n, seen = 0, {}
for _, name in ipairs(names) do
  -- A name given twice counts (and is asked) once.
  if not seen[name] and redis.call('SISMEMBER', P .. 'cons', name) == 1 then
    seen[name] = true
    redis.call('HINCRBY', P .. 'cons:' .. name, 'retry_requests', 1)
    n = n + 1
  end
end
return n
