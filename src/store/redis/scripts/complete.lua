-- Records a delivery attempt and, while `owner` still holds the lease, its outcome. ARGV:
-- prefix, the completion (JSON), the attempt record (JSON, kept as sent). Returns 1 when the
-- outcome was applied, 0 when only the attempt was logged (or the message is gone).
local c = cjson.decode(ARGV[2])
local now = now_ms()
local id = c.id
if redis.call('EXISTS', mkey(id)) == 0 then return 0 end

-- The attempt log, and what every process reads of the upstream's health from it.
local t = now - math.floor(c.startedAgoMs)
redis.call('RPUSH', P .. 'a:' .. id, '{"t":' .. int(t) .. ',"a":' .. ARGV[3] .. '}')
local seq = redis.call('INCR', P .. 'log:seq')
local upstream = present(c.upstream) and c.upstream or nil
redis.call('ZADD', P .. 'log', t, seq .. ':' .. c.outcome .. (upstream and ':' .. upstream or ''))
-- The log feeds the dashboard's activity chart (up to 48 hours back); older entries go as new
-- ones come.
redis.call('ZREMRANGEBYSCORE', P .. 'log', '-inf', num(now - LOG_HORIZON_MS))
if upstream then
  -- Per upstream, counted by minute: upstreamActivity adds up minutes, never reads the log
  -- of millions of attempts (only its partial first minute). A minute goes with the log.
  local minute = P .. 'ua:' .. int(t / 60000)
  redis.call('HINCRBY', minute, c.outcome .. ':' .. upstream, 1)
  redis.call('PEXPIRE', minute, LOG_HORIZON_MS)
end
local up = redis.call('HMGET', P .. 'up', 'problem_t', 'success_t', 'error_t')
if c.outcome == 'upstream-down' or c.outcome == 'misconfigured' then
  if not up[1] or t >= tonumber(up[1]) then
    redis.call('HSET', P .. 'up', 'problem_t', int(t), 'problem_outcome', c.outcome,
      'problem_error', present(c.error) and c.error or 'upstream unreachable')
  end
elseif c.outcome == 'sent' or c.outcome == 'captured' or c.outcome == 'partial' then
  if not up[2] or t >= tonumber(up[2]) then redis.call('HSET', P .. 'up', 'success_t', int(t)) end
end
if present(c.error) and (not up[3] or t >= tonumber(up[3])) then
  redis.call('HSET', P .. 'up', 'error_t', int(t), 'error', c.error)
end

local h = redis.call('HMGET', mkey(id), 'status', 'lease_owner', 'attempts', 'backoff_step', 'ev')
if h[1] ~= 'sending' or h[2] ~= c.owner then return 0 end
local changes = {}
for _, r in ipairs(c.recipients) do changes[r.address] = r end
-- The events of the recipients it settled, and the message's when it was deferred or failed for
-- its age (how any other attempt ended, its recipients' events say).
local noted = {}
for _, r in ipairs(set_recipients(id, 'pending', nil, nil, changes)) do
  log_settled(noted, id, r, upstream, now)
end
local last_error = or_null(present(c.error) and c.error)
if c.status == 'deferred' then
  log_event(noted, id, 'deferred', nil, cjson.encode({
    reason = or_null(present(c.reason) and c.reason), error = last_error,
    dueAt = iso(now + c.delayMs), attempts = tonumber(h[3]) + 1,
  }), now)
elseif c.status == 'failed' and c.reason == 'expired' then
  log_event(noted, id, 'expired', nil, cjson.encode({ error = last_error }), now)
end
local finished = c.status == 'sent' or c.status == 'failed'
update(id, {
  status = c.status,
  due_at = c.status == 'deferred' and num(now + c.delayMs) or false,
  attempts = tonumber(h[3]) + 1,
  backoff_step = tonumber(h[4]) + c.backoffIncrement,
  waiting_upstream = c.waitingUpstream and 1 or 0,
  lease_owner = false, lease_expires_at = false,
  reason = present(c.reason) and c.reason or false,
  last_error = present(c.error) and c.error or false,
  captured = c.captured and 1 or 0,
  finished_at = finished and int(now) or false,
  ev = noted_field(h[5], noted),
})
reindex(id, 'sending', now)
return 1
