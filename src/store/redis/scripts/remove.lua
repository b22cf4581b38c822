-- Deletes messages with their bytes, recipients and attempt log. ARGV: prefix, selector
-- (JSON). Returns the ids deleted.
local ids = selected(cjson.decode(ARGV[2]), nil)
for _, id in ipairs(ids) do delete_message(id) end
return ids
