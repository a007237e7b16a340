-- KEYS: pause; ARGV: value "kind|message", ttl_ms. Never shortens a pause, never downgrades a ban.
local cur = redis.call('PTTL', KEYS[1])
local old = redis.call('GET', KEYS[1])
local value = ARGV[1]
if old and string.sub(old, 1, 4) == 'ban|' and string.sub(value, 1, 4) ~= 'ban|' then value = old end
if cur >= tonumber(ARGV[2]) and value == old then return 0 end
redis.call('SET', KEYS[1], value, 'PX', math.max(cur, tonumber(ARGV[2])))
return 1
