-- Counts the events of the log after a position, of some types (every type when none are
-- given), looking at most at `budget` entries: the caller adds up the calls. ARGV: prefix, after
-- ('' for the start), types (space-separated), budget. Returns {count, the position counted up
-- to ('' when nothing was there), 1 if it stopped for its budget, else 0}.
local after, budget = ARGV[2], tonumber(ARGV[4])
local wanted, any = {}, true
for kind in string.gmatch(ARGV[3], '%S+') do
  wanted[kind] = true
  any = false
end
local n, scanned, cursor = 0, 0, after
while true do
  if scanned >= budget then return { n, cursor, 1 } end
  local count = math.min(1000, budget - scanned)
  local entries = redis.call('XRANGE', P .. 'events', cursor == '' and '-' or '(' .. cursor, '+',
    'COUNT', count)
  for _, e in ipairs(entries) do
    -- The type is the first field (see append_event).
    if any or wanted[e[2][2]] then n = n + 1 end
  end
  scanned = scanned + #entries
  if #entries > 0 then cursor = entries[#entries][1] end
  if #entries < count then return { n, cursor, 0 } end
end
