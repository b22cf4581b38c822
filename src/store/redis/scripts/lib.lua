-- Helpers every script starts with (scripts.ts puts this file in front of each one, so each
-- operation is still one script, run atomically by the server). ARGV[1] is the key prefix.
-- Keys, after the prefix:
--   m:<id>  hash, the message      b:<id>  its bytes      a:<id>  list, its attempt log
--           (its field `ev`: the stream ids of its events, for its purge to delete them)
--   all, s:<status>, t:<tag>  sorted sets of '<created ms, 15 digits>:<id>' at score 0: read
--                             backwards by lex range they list newest first, with a keyset cursor
--   due:<rank>  queued and deferred messages of a priority, by due time
--   leases      sending messages, by lease expiry        expiry  deferred ones, by max age
--   upwait      deferred only because the upstream was down
--   idem        idempotency key -> id                    counts  status -> number of messages
--   fin:<sent|failed>  minute -> messages finished       up  the upstream's last problem/success
--   log         every attempt (score: start time), '<seq>:<outcome>[:<upstream>]'
--   ua:<minute>  hash '<outcome>:<upstream>' -> attempts started that minute
--   wake        pub/sub channel of new work
--   rb, rb:<bucket>  rate limit buckets (rate-bucket.lua)
--   ur, urep    what workers report of their upstreams (report-upstreams.lua)
--   events      stream, the event log: entries t (type), id, at (ms), r (recipient, '' for a
--               message event), d (data, JSON), in that order (read-events.lua reads t first)
--   cons, cons:<name>  the event log's durable consumers (lease-consumer.lua)
--   tpls, tplh:<name>, tplv:<name>  stored templates: the names, each language's latest
--               version, every version (put-template.lua)
local P = ARGV[1]

-- How far back the attempt log (and the per-upstream minutes) go: the activity chart's 48
-- hours, and one to spare.
local LOG_HORIZON_MS = 49 * 3600000

-- The server's clock, in ms with microseconds as the fraction: every worker agrees on it
-- whatever its own clock says, and messages made due one after the other keep their order.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end

-- Numbers as text for Redis: redis.call would write them with 14 digits, losing precision.
local function int(n)
  return string.format('%d', math.floor(n))
end

local function num(n)
  return string.format('%.3f', n)
end

local function mkey(id)
  return P .. 'm:' .. id
end

local function member(created, id)
  return string.format('%015d', math.floor(tonumber(created))) .. ':' .. id
end

local function set_of(list)
  if not list then return nil end
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

-- Sets hash fields; a field whose value is false is removed (a null).
local function update(id, fields)
  local hset, hdel = {}, {}
  for name, value in pairs(fields) do
    if value == false then
      hdel[#hdel + 1] = name
    else
      hset[#hset + 1] = name
      hset[#hset + 1] = value
    end
  end
  if #hset > 0 then redis.call('HSET', mkey(id), unpack(hset)) end
  if #hdel > 0 then redis.call('HDEL', mkey(id), unpack(hdel)) end
end

-- Puts a message in the indexes its (new) state calls for, and keeps the counters; `old` is
-- its status before the change (nil for a new message).
local function reindex(id, old, now)
  local f = redis.call('HMGET', mkey(id), 'status', 'priority', 'due_at', 'lease_expires_at',
    'expires_at', 'waiting_upstream', 'created_at')
  local status, rank = f[1], f[2]
  redis.call('ZREM', P .. 'due:' .. rank, id)
  redis.call('ZREM', P .. 'leases', id)
  redis.call('ZREM', P .. 'expiry', id)
  redis.call('SREM', P .. 'upwait', id)
  if (status == 'queued' or status == 'deferred') and f[3] then
    redis.call('ZADD', P .. 'due:' .. rank, f[3], id)
  elseif status == 'sending' then
    redis.call('ZADD', P .. 'leases', f[4], id)
  end
  if status == 'deferred' then
    redis.call('ZADD', P .. 'expiry', f[5], id)
    if f[6] == '1' then redis.call('SADD', P .. 'upwait', id) end
  end
  if old ~= status then
    local m = member(f[7], id)
    if old then
      redis.call('ZREM', P .. 's:' .. old, m)
      redis.call('HINCRBY', P .. 'counts', old, -1)
    end
    redis.call('ZADD', P .. 's:' .. status, 0, m)
    redis.call('HINCRBY', P .. 'counts', status, 1)
    if status == 'sent' or status == 'failed' then
      redis.call('HINCRBY', P .. 'fin:' .. status, int(math.floor(now / 60000)), 1)
    end
  end
end

-- Changes the status of recipients whose status is `from` (every one when `only` is nil,
-- else those whose address is a key of `only`: a table address -> {status, code, reply}).
-- Returns the recipients it moved off `from`, as {address, status, code, reply}, in order:
-- what their events are written from.
local function set_recipients(id, from, to, reply, only)
  local raw = redis.call('HGET', mkey(id), 'rc')
  if not raw then return {} end
  local rc = cjson.decode(raw)
  local moved = {}
  for _, r in ipairs(rc) do
    if r[2] == from then
      if only then
        local o = only[r[1]]
        if o then
          r[2], r[3], r[4] = o.status, o.code, o.reply
        end
      else
        r[2] = to
        if reply then r[4] = reply end
      end
      if r[2] ~= from then moved[#moved + 1] = r end
    end
  end
  redis.call('HSET', mkey(id), 'rc', cjson.encode(rc))
  return moved
end

local function publish_wake()
  redis.call('PUBLISH', P .. 'wake', '')
end

local function present(v)
  return v ~= nil and v ~= cjson.null
end

-- Whether message `id` matches the criteria of a filter other than its status and tag.
local function matches(id, f)
  if not (present(f.to) or present(f.from) or present(f.subject)) then return true end
  local h = redis.call('HMGET', mkey(id), 'mail_from', 'subject', 'rc')
  if present(f.from) and string.lower(h[1] or '') ~= string.lower(f.from) then return false end
  if present(f.subject) then
    if not h[2] or not string.find(string.lower(h[2]), string.lower(f.subject), 1, true) then
      return false
    end
  end
  if present(f.to) then
    local want = string.lower(f.to)
    local domain = string.sub(want, 1, 1) == '@'
    local found = false
    for _, r in ipairs(cjson.decode(h[3] or '[]')) do
      local a = string.lower(r[1])
      if (domain and #a >= #want and string.sub(a, -#want) == want) or (not domain and a == want) then
        found = true
        break
      end
    end
    if not found then return false end
  end
  return true
end

local BATCH = 200

-- Visits the members of sorted sets `keys`, merged newest first, from `max` down to `min`
-- (lex bounds); stops when visit returns false.
local function walk(keys, max, min, visit)
  local bufs, pos = {}, {}
  for i, k in ipairs(keys) do
    bufs[i] = redis.call('ZREVRANGEBYLEX', k, max, min, 'LIMIT', 0, BATCH)
    pos[i] = 1
  end
  while true do
    local best = nil
    for i = 1, #keys do
      local head = bufs[i][pos[i]]
      if head and (not best or head > bufs[best][pos[best]]) then best = i end
    end
    if not best then return end
    local m = bufs[best][pos[best]]
    pos[best] = pos[best] + 1
    if pos[best] > #bufs[best] and #bufs[best] == BATCH then
      bufs[best] = redis.call('ZREVRANGEBYLEX', keys[best], '(' .. m, min, 'LIMIT', 0, BATCH)
      pos[best] = 1
    end
    if visit(string.sub(m, 17), m) == false then return end
  end
end

-- Visits, newest first, the ids of messages matching filter `f` whose status is in `allowed`
-- (a list, or nil for any), after `cursor` ({createdAt, id}) if given.
local function walk_filter(f, allowed, cursor, visit)
  local statuses = f.status
  if not present(statuses) or #statuses == 0 then statuses = nil end
  local want, ok = set_of(statuses), set_of(allowed)
  local keys = {}
  if present(f.tag) then
    keys = { P .. 't:' .. f.tag }
  else
    for _, s in ipairs(statuses or allowed or {}) do
      if not ok or ok[s] then keys[#keys + 1] = P .. 's:' .. s end
    end
    if not statuses and not allowed then keys = { P .. 'all' } end
  end
  local max, min = '+', '-'
  if present(f.before) then max = '(' .. string.format('%015d', f.before) end
  if cursor then
    local c = '(' .. member(cursor.createdAt, cursor.id)
    if max == '+' or c < max then max = c end
  end
  if present(f.since) then min = '[' .. string.format('%015d', f.since) end
  local tagged = present(f.tag) and (want or ok)
  walk(keys, max, min, function(id, m)
    if tagged then
      local st = redis.call('HGET', mkey(id), 'status')
      if (want and not want[st]) or (ok and not ok[st]) then return true end
    end
    if matches(id, f) then return visit(id, m) end
    return true
  end)
end

-- The ids a selector ({ids = …} or {filter = …}) picks among messages whose status is in
-- `allowed`.
local function selected(sel, allowed)
  local out, seen, ok = {}, {}, set_of(allowed)
  if present(sel.ids) then
    for _, id in ipairs(sel.ids) do
      local st = redis.call('HGET', mkey(id), 'status')
      if st and not seen[id] and (not ok or ok[st]) then
        out[#out + 1] = id
        seen[id] = true
      end
    end
    return out
  end
  walk_filter(sel.filter, allowed, nil, function(id)
    out[#out + 1] = id
  end)
  return out
end

-- Deletes a message with everything that belongs to it. Returns whether it existed.
local function delete_message(id)
  local h = redis.call('HMGET', mkey(id), 'status', 'created_at', 'tags', 'idempotency_key',
    'priority')
  if not h[1] then return false end
  local m = member(h[2], id)
  redis.call('ZREM', P .. 'all', m)
  redis.call('ZREM', P .. 's:' .. h[1], m)
  redis.call('HINCRBY', P .. 'counts', h[1], -1)
  for _, tag in ipairs(cjson.decode(h[3] or '[]')) do
    redis.call('ZREM', P .. 't:' .. tag, m)
  end
  if h[4] and redis.call('HGET', P .. 'idem', h[4]) == id then
    redis.call('HDEL', P .. 'idem', h[4])
  end
  redis.call('ZREM', P .. 'due:' .. h[5], id)
  redis.call('ZREM', P .. 'leases', id)
  redis.call('ZREM', P .. 'expiry', id)
  redis.call('SREM', P .. 'upwait', id)
  redis.call('DEL', mkey(id), P .. 'b:' .. id, P .. 'a:' .. id)
  return true
end

-- The event log. Each script that changes a message appends the change's events itself, so a
-- change and its events commit together, and stream ids (positions) increase in commit order.
-- Data as the SQL stores write it (sqlite/migrations/0009_event_log.sql): times as ISO 8601,
-- absent values as JSON nulls.
local PRIORITY_NAMES = { [0] = 'now', [1] = 'high', [2] = 'normal', [3] = 'low' }

-- ms since the epoch as ISO 8601 in UTC, with ms (Lua in Redis has no os.date): days to a
-- civil date, as in Howard Hinnant's `civil_from_days`.
local function iso(ms)
  if not ms then return cjson.null end
  ms = math.floor(ms)
  local s = math.floor(ms / 1000)
  local days = math.floor(s / 86400)
  local rem = s - days * 86400
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
    - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400 + (m <= 2 and 1 or 0)
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', y, m, d, math.floor(rem / 3600),
    math.floor(rem / 60) % 60, rem % 60, ms % 1000)
end

-- A value for cjson.encode: nil and false (a field Lua cannot hold) become JSON null.
local function or_null(v)
  if v == nil or v == false then return cjson.null end
  return v
end

-- Appends an event (`recipient` nil for a message event, `data` JSON text) and returns its
-- stream id. Every entry has the same fields in the same order: the stream then stores their
-- names once per node.
local function append_event(id, kind, recipient, data, now)
  return redis.call('XADD', P .. 'events', '*', 't', kind, 'id', id, 'at', int(now),
    'r', recipient or '', 'd', data)
end

-- Appends an event of a message that stays in the queue, adding its stream id to `noted` (a
-- list): the script keeps those in the message's `ev` field (noted_field), in the write it makes
-- anyway, so that its purge finds them without another key per message.
local function log_event(noted, id, kind, recipient, data, now)
  noted[#noted + 1] = append_event(id, kind, recipient, data, now)
end

-- The `ev` field of a message that held `old` (nil for none) with the ids `noted` added; nil
-- when nothing was noted (the field stays as it is).
local function noted_field(old, noted)
  if #noted == 0 then return nil end
  local ids = table.concat(noted, ' ')
  return old and old .. ' ' .. ids or ids
end

-- The event of a recipient settled for good (an entry set_recipients returned): `sent` with the
-- attempt's upstream, `suppressed` when its reply says it was on the suppression list at enqueue
-- (the text of suppression-reply.ts), else `failed`.
local function log_settled(noted, id, r, upstream, now)
  if r[2] == 'sent' then
    log_event(noted, id, 'sent', r[1], cjson.encode({
      code = or_null(r[3]), reply = or_null(r[4]), upstream = or_null(upstream),
    }), now)
  elseif r[2] == 'failed' then
    local suppressed = type(r[4]) == 'string' and string.sub(r[4], 1, 12) == 'suppressed ('
    log_event(noted, id, suppressed and 'suppressed' or 'failed', r[1],
      cjson.encode({ code = or_null(r[3]), reply = or_null(r[4]) }), now)
  end
end

-- Deletes the events of a purged message from the log: `ev` is its `ev` field.
local function drop_events(ev)
  if not ev then return end
  local ids = {}
  for eid in string.gmatch(ev, '%S+') do ids[#ids + 1] = eid end
  -- unpack has a limit on how many values it returns: in slices.
  for i = 1, #ids, 500 do
    redis.call('XDEL', P .. 'events', unpack(ids, i, math.min(i + 499, #ids)))
  end
end
