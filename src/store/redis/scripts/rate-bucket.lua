-- The shared token buckets (put after lib.lua in front of take-tokens and adjust-rates only).
-- The arithmetic mirrors src/store/rate-bucket.ts line for line, so every store grants the same
-- tokens; change both together. Its constants come from there too, as the script's argument K
-- ({minRateShare, minRatePerSec, throttleWindowMs, recoveryShare}, see shaping-args.ts).
-- Keys, after the prefix:
--   rb:<bucket key>  hash: tokens, updated_at (ms), rate (per second), throttled_at (ms),
--                    scheduled_until (ms: the last turn handed to a refused request)
--   rb               set of the bucket keys, for rateBuckets()
-- A row is a table {tokens, updated_at, rate, throttled_at, scheduled_until} (all but the
-- first two may be nil), or false for a bucket not stored yet (the TypeScript's null). Times
-- are whole ms of the server's clock (bucket_now).

-- Doubles as text without losing a bit: the next call must start from exactly these numbers.
local function exact(n)
  return string.format('%.17g', n)
end

-- Whole ms: a wait computed from it is whole ms too.
local function bucket_now()
  return math.floor(now_ms())
end

local function read_bucket(key)
  local h = redis.call('HMGET', P .. 'rb:' .. key, 'tokens', 'updated_at', 'rate', 'throttled_at',
    'scheduled_until')
  if not h[1] then return false end
  return {
    tokens = tonumber(h[1]),
    updated_at = tonumber(h[2]),
    rate = h[3] and tonumber(h[3]) or nil,
    throttled_at = h[4] and tonumber(h[4]) or nil,
    scheduled_until = h[5] and tonumber(h[5]) or nil,
  }
end

local function write_bucket(key, row)
  local k = P .. 'rb:' .. key
  local set, unset = { 'tokens', exact(row.tokens), 'updated_at', exact(row.updated_at) }, {}
  for _, field in ipairs({ 'rate', 'throttled_at', 'scheduled_until' }) do
    if row[field] ~= nil then
      set[#set + 1] = field
      set[#set + 1] = exact(row[field])
    else
      unset[#unset + 1] = field
    end
  end
  redis.call('HSET', k, unpack(set))
  if #unset > 0 then redis.call('HDEL', k, unpack(unset)) end
  redis.call('SADD', P .. 'rb', key)
end

-- currentRate: its stored rate, never above the configured one.
local function current_rate(row, rate_per_sec)
  if not row or row.rate == nil or not (row.rate > 0) then return rate_per_sec end
  return math.min(row.rate, rate_per_sec)
end

-- refilled: tokens at `now`, refilled at `rate` since updated_at, capped at one second's worth.
local function refilled(row, rate, now)
  local capacity = math.max(1, rate)
  if not row then return capacity end
  local elapsed = math.max(0, now - row.updated_at)
  return math.min(capacity, row.tokens + (elapsed * rate) / 1000)
end

-- takeFromBuckets: `buckets` is a list of {key, ratePerSec}, rows[i] the row of buckets[i].
-- Returns the grant {granted, wait_ms, rates} and the rows to store.
local function take_tokens(buckets, rows, max_wait_ms, now)
  local rates, tokens = {}, {}
  for i, b in ipairs(buckets) do rates[i] = current_rate(rows[i], b.ratePerSec) end
  for i = 1, #buckets do tokens[i] = refilled(rows[i], rates[i], now) end
  local wait_ms = 0
  for i, t in ipairs(tokens) do
    if t < 1 then wait_ms = math.max(wait_ms, math.ceil(((1 - t) * 1000) / rates[i])) end
  end
  local granted = wait_ms <= max_wait_ms
  if granted then
    local next_rows = {}
    for i = 1, #buckets do
      next_rows[i] = {
        tokens = tokens[i] - 1,
        updated_at = now,
        rate = rates[i],
        throttled_at = rows[i] and rows[i].throttled_at or nil,
        scheduled_until = rows[i] and rows[i].scheduled_until or nil,
      }
    end
    return { granted = granted, wait_ms = wait_ms, rates = rates }, next_rows
  end
  -- Refused: each bucket that cannot serve within the wait hands out its next turn after the
  -- last one it gave; the request comes back at the latest of them.
  local turn_at = now
  local next_rows = {}
  for i = 1, #buckets do
    local row = rows[i]
    local rate = rates[i]
    local own_wait = 0
    if tokens[i] < 1 then own_wait = math.ceil(((1 - tokens[i]) * 1000) / rate) end
    local scheduled_until = row and row.scheduled_until or nil
    if own_wait > max_wait_ms then
      local last = 0
      if scheduled_until ~= nil and scheduled_until > now then last = scheduled_until end
      scheduled_until = math.max(now + own_wait, last + math.ceil(1000 / rate))
      turn_at = math.max(turn_at, scheduled_until)
    end
    next_rows[i] = {
      tokens = tokens[i],
      updated_at = now,
      rate = rate,
      throttled_at = row and row.throttled_at or nil,
      scheduled_until = scheduled_until,
    }
  end
  return { granted = false, wait_ms = math.max(wait_ms, turn_at - now), rates = rates }, next_rows
end

-- adjustBucketRate: halve on a throttling reply (once per throttle window), down to a floor;
-- raise by a share of the configured rate on an accepted delivery, up to it.
local function adjust_rate(row, rate_per_sec, throttled, now, K)
  local rate = current_rate(row, rate_per_sec)
  local tokens = refilled(row, rate, now)
  if throttled then
    if row and row.throttled_at ~= nil and now - row.throttled_at < K.throttleWindowMs then
      return {
        tokens = tokens,
        updated_at = now,
        rate = rate,
        throttled_at = row.throttled_at,
        scheduled_until = row.scheduled_until,
      }
    end
    local floor = math.max(rate_per_sec * K.minRateShare, math.min(K.minRatePerSec, rate_per_sec))
    local halved = math.max(floor, rate / 2)
    -- A lower rate means a smaller bucket: what was saved up at the old rate is not spent at once.
    return {
      tokens = math.min(tokens, math.max(1, halved)),
      updated_at = now,
      rate = halved,
      throttled_at = now,
      scheduled_until = row and row.scheduled_until or nil,
    }
  end
  local raised = math.min(rate_per_sec, rate + rate_per_sec * K.recoveryShare)
  return {
    tokens = tokens,
    updated_at = now,
    rate = raised,
    throttled_at = row and row.throttled_at or nil,
    scheduled_until = row and row.scheduled_until or nil,
  }
end
