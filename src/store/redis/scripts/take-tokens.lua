-- Takes a token from each bucket of each request, in order, each request all or nothing (see
-- take_tokens in rate-bucket.lua). ARGV: prefix, requests (JSON: [{buckets: [{key,
-- ratePerSec}], maxWaitMs}]). Returns per request {granted (0/1), waitMs, rates (text)}.
local requests = cjson.decode(ARGV[2])
local now = bucket_now()
local out = {}
for r, request in ipairs(requests) do
  -- Every row is read before any is written, as the SQL stores read theirs FOR UPDATE.
  local rows = {}
  for i, b in ipairs(request.buckets) do rows[i] = read_bucket(b.key) end
  local grant, next_rows = take_tokens(request.buckets, rows, request.maxWaitMs, now)
  for i, b in ipairs(request.buckets) do write_bucket(b.key, next_rows[i]) end
  local rates = {}
  for i, rate in ipairs(grant.rates) do rates[i] = exact(rate) end
  out[r] = { grant.granted and 1 or 0, exact(grant.wait_ms), rates }
end
return out
