-- The owners of the leases held now (at most one per worker process). ARGV: prefix.
local owners, seen = {}, {}
for _, id in ipairs(redis.call('ZRANGE', P .. 'leases', 0, -1)) do
  local owner = redis.call('HGET', mkey(id), 'lease_owner')
  if owner and not seen[owner] then
    seen[owner] = true
    owners[#owners + 1] = owner
  end
end
return owners
