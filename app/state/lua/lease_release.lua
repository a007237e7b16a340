-- KEYS: lease; ARGV: owner. Give the lease up, only if it is still ours.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
