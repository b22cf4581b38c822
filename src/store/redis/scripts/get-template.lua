-- One version of one language of a template. ARGV: prefix, name, language, the version ('' for
-- the latest). Returns {version, its JSON} (see put-template.lua), or nil when there is none.
local name, language, version = ARGV[2], ARGV[3], ARGV[4]
if version == '' then
  local head = redis.call('HGET', P .. 'tplh:' .. name, language)
  if not head then return false end
  version = string.match(head, '^(%d+):')
end
local record = redis.call('HGET', P .. 'tplv:' .. name, version .. ':' .. language)
if not record then return false end
return { tonumber(version), record }
