-- The queue at a glance, from counters the other scripts keep: constant time whatever the
-- queue's size. ARGV: prefix. Returns {counts (HGETALL), oldest waiting creation time or
-- false, sent last hour, sent last day, failed last hour, failed last day, upstream problem
-- {t, outcome, error} or false}.
local now = now_ms()
local minute = math.floor(now / 60000)
local oldest = false
for _, s in ipairs({ 'queued', 'deferred', 'sending' }) do
  local head = redis.call('ZRANGEBYLEX', P .. 's:' .. s, '-', '+', 'LIMIT', 0, 1)[1]
  if head then
    local t = tonumber(string.sub(head, 1, 15))
    if not oldest or t < oldest then oldest = t end
  end
end
local recent = {}
for _, s in ipairs({ 'sent', 'failed' }) do
  local hour, day = 0, 0
  local counts = redis.call('HGETALL', P .. 'fin:' .. s)
  for i = 1, #counts, 2 do
    local m, n = tonumber(counts[i]), tonumber(counts[i + 1])
    if m > minute - 60 then hour = hour + n end
    if m > minute - 1440 then
      day = day + n
    else
      -- Minutes older than a day are never read again.
      redis.call('HDEL', P .. 'fin:' .. s, counts[i])
    end
  end
  recent[#recent + 1] = hour
  recent[#recent + 1] = day
end
local up = redis.call('HMGET', P .. 'up', 'problem_t', 'problem_outcome', 'problem_error',
  'success_t')
local problem = false
if up[1] and (not up[4] or tonumber(up[1]) > tonumber(up[4])) then
  problem = { up[1], up[2], up[3] }
end
return {
  redis.call('HGETALL', P .. 'counts'), oldest and int(oldest) or false,
  recent[1], recent[2], recent[3], recent[4], problem,
}
