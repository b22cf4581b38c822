-- Stores a batch of new messages, all or nothing. ARGV: prefix, the messages as JSON, then
-- each message's bytes. Returns {id, messageId, duplicate (0/1), suppressed recipients} per
-- message.
local now = now_ms()
local list = cjson.decode(ARGV[2])
-- Everything is checked before anything is written: a script that fails half way through
-- keeps the writes it made.
local ids = {}
for _, m in ipairs(list) do
  if ids[m.id] or redis.call('EXISTS', mkey(m.id)) == 1 then
    return redis.error_reply('OUTBOX_ID_TAKEN message id ' .. m.id .. ' is already in the queue')
  end
  ids[m.id] = true
end
local results, first, stored = {}, {}, 0
for i, m in ipairs(list) do
  local key = present(m.key) and m.key or nil
  local earlier = key and first[key]
  if key and not earlier then
    local id = redis.call('HGET', P .. 'idem', key)
    if id then earlier = { id, redis.call('HGET', mkey(id), 'message_id') } end
  end
  if earlier then
    results[i] = { earlier[1], earlier[2], 1, {} }
  else
    local due = present(m.sendAt) and m.sendAt or now
    local rc, suppressed = {}, {}
    local pending, first_reply = 0, nil
    for j, address in ipairs(m.to) do
      local entry = m.check and redis.call('HGET', P .. 'sup', string.lower(address))
      if entry then
        -- On the suppression list: failed at once, never tried (the text of
        -- suppression-reply.ts).
        local e = cjson.decode(entry)
        local reply = present(e.reply) and ('suppressed (' .. e.reason .. ': ' .. e.reply .. ')')
          or ('suppressed (' .. e.reason .. ')')
        rc[j] = { address, 'failed', cjson.null, reply }
        suppressed[#suppressed + 1] = address
        first_reply = first_reply or reply
      else
        rc[j] = { address, 'pending', cjson.null, cjson.null }
        pending = pending + 1
      end
    end
    local fields = {
      message_id = m.messageId, status = 'queued', priority = m.priority, mail_from = m.from,
      recipients = m.toJson, tags = m.tagsJson, size = m.size, created_at = int(now),
      expires_at = int(math.max(due, now) + m.maxAgeMs), attempts = 0, backoff_step = 0,
      waiting_upstream = 0, captured = 0, eight_bit = m.eightBit and 1 or 0,
      smtputf8 = m.smtpUtf8 and 1 or 0, rc = cjson.encode(rc), due_at = num(due),
    }
    if present(m.subject) then fields.subject = m.subject end
    if present(m.upstream) then fields.upstream = m.upstream end
    if present(m.template) then fields.template = m.template end
    if key then fields.idempotency_key = key end
    if pending == 0 then
      fields.status = 'failed'
      fields.reason = 'suppressed'
      fields.last_error = first_reply
      fields.finished_at = int(now)
      fields.due_at = nil
    elseif present(m.leaseOwner) then
      fields.status = 'sending'
      fields.lease_owner = m.leaseOwner
      fields.lease_expires_at = int(now + m.leaseMs)
    end
    -- Its events, first so that their ids go in its fields: `to` and `tags` as the caller's
    -- JSON text (cjson would write an empty list as {}), then its recipients found on the
    -- suppression list.
    local noted = {}
    log_event(noted, m.id, 'queued', nil, '{"messageId":' .. cjson.encode(m.messageId)
      .. ',"from":' .. cjson.encode(m.from) .. ',"to":' .. m.toJson
      .. ',"subject":' .. cjson.encode(or_null(present(m.subject) and m.subject))
      .. ',"tags":' .. m.tagsJson
      .. ',"priority":' .. cjson.encode(PRIORITY_NAMES[tonumber(m.priority)] or 'normal')
      .. ',"dueAt":' .. cjson.encode(iso(due)) .. '}', now)
    for _, r in ipairs(rc) do
      if r[2] == 'failed' then log_settled(noted, m.id, r, nil, now) end
    end
    fields.ev = noted_field(nil, noted)
    update(m.id, fields)
    redis.call('SET', P .. 'b:' .. m.id, ARGV[2 + i])
    local mm = member(now, m.id)
    redis.call('ZADD', P .. 'all', 0, mm)
    for _, tag in ipairs(m.tags) do redis.call('ZADD', P .. 't:' .. tag, 0, mm) end
    if key then
      redis.call('HSET', P .. 'idem', key, m.id)
      first[key] = { m.id, m.messageId }
    end
    reindex(m.id, nil, now)
    stored = stored + 1
    results[i] = { m.id, m.messageId, 0, suppressed }
  end
end
if stored > 0 then publish_wake() end
return results
