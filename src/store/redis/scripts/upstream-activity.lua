-- Attempts started since a time, per outcome and upstream (those that named one). ARGV:
-- prefix, since (ms). Returns {'<outcome>:<upstream>', n, …}. Whole minutes come from the
-- ua:<minute> counters complete.lua keeps; only the part of a minute before the first whole
-- one is read from the log. Reaches back as far as the log does.
local now = now_ms()
local from = math.max(tonumber(ARGV[2]), now - LOG_HORIZON_MS)
local first_minute = math.ceil(from / 60000)
local counts = {}
local function add(field, n)
  counts[field] = (counts[field] or 0) + n
end
for _, m in ipairs(redis.call('ZRANGEBYSCORE', P .. 'log', num(from),
  '(' .. num(first_minute * 60000))) do
  local seq_end = string.find(m, ':', 1, true)
  -- An attempt with an upstream has a second colon, after its outcome.
  if string.find(m, ':', seq_end + 1, true) then add(string.sub(m, seq_end + 1), 1) end
end
for minute = first_minute, math.floor(now / 60000) do
  local h = redis.call('HGETALL', P .. 'ua:' .. int(minute))
  for i = 1, #h, 2 do add(h[i], tonumber(h[i + 1])) end
end
local out = {}
for field, n in pairs(counts) do
  out[#out + 1] = field
  out[#out + 1] = n
end
return out
