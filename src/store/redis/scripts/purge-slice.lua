-- Deletes finished messages of one status that finished before a time, scanning at most
-- `budget` of them (oldest first) after `from` (a member, or '' for the start). ARGV: prefix,
-- status, finishedBefore (ms), from, budget. Returns {deleted, last member scanned or ''}.
local status, before, from, budget = ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
-- Finished before implies created before: the scan stops there.
local scan = redis.call('ZRANGEBYLEX', P .. 's:' .. status, from == '' and '-' or '(' .. from,
  '(' .. string.format('%015d', before), 'LIMIT', 0, budget)
local deleted = 0
for _, m in ipairs(scan) do
  local id = string.sub(m, 17)
  local h = redis.call('HMGET', mkey(id), 'finished_at', 'ev')
  local finished = tonumber(h[1])
  if finished and finished < before and delete_message(id) then
    deleted = deleted + 1
    -- Its events go with it, in the same script.
    drop_events(h[2])
  end
end
return { deleted, #scan == budget and scan[#scan] or '' }
