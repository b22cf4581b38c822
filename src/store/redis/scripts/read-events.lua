-- Reads on in the event log after a position, keeping only events of some types: the server
-- skips the others, so a consumer of rare events is not sent the whole log. Looks at most at
-- `budget` entries a call, so a call never holds the server for long. ARGV: prefix, after ('' for
-- the start), types (space-separated), limit, budget. Returns {the position read up to ('' when
-- nothing was there), 1 if it stopped for its budget, else 0, then the entries kept, as XRANGE
-- returns them}.
local after, limit, budget = ARGV[2], tonumber(ARGV[4]), tonumber(ARGV[5])
local wanted = {}
for kind in string.gmatch(ARGV[3], '%S+') do wanted[kind] = true end
local out = { after, 0 }
local kept, scanned = 0, 0
while kept < limit do
  if scanned >= budget then
    out[2] = 1
    break
  end
  local count = math.min(500, budget - scanned)
  local start = out[1] == '' and '-' or '(' .. out[1]
  local entries = redis.call('XRANGE', P .. 'events', start, '+', 'COUNT', count)
  for _, e in ipairs(entries) do
    out[1] = e[1]
    -- The type is the first field (see append_event).
    if wanted[e[2][2]] then
      kept = kept + 1
      out[#out + 1] = e
      if kept == limit then break end
    end
  end
  scanned = scanned + #entries
  if #entries < count then break end
end
return out
