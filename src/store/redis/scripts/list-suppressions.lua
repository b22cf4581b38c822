-- A page of the suppression list in address order. ARGV: prefix, search text (lower-cased; ''
-- for none), the address the previous page ended at ('' for the first page), page size.
-- Returns {total, {address, entry JSON}...}. A search reads every address (a plain substring
-- test, never a pattern): fine for lists of hundreds of thousands.
local search, after, limit = ARGV[2], ARGV[3], tonumber(ARGV[4])
local page = {}
if search == '' then
  local min = after == '' and '-' or '(' .. after
  for _, address in ipairs(redis.call('ZRANGEBYLEX', P .. 'supx', min, '+', 'LIMIT', 0, limit)) do
    page[#page + 1] = { address, redis.call('HGET', P .. 'sup', address) }
  end
  return { redis.call('ZCARD', P .. 'supx'), page }
end
local total, min = 0, '-'
while true do
  local batch = redis.call('ZRANGEBYLEX', P .. 'supx', min, '+', 'LIMIT', 0, 1000)
  for _, address in ipairs(batch) do
    if string.find(address, search, 1, true) then
      total = total + 1
      if #page < limit and (after == '' or address > after) then
        page[#page + 1] = { address, redis.call('HGET', P .. 'sup', address) }
      end
    end
  end
  if #batch < 1000 then break end
  min = '(' .. batch[#batch]
end
return { total, page }
