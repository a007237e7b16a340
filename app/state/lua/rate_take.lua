-- KEYS: pause, bucket...; ARGV: per bucket limit, window_ms, burst, cost. -> {0} | {1, wait_ms} | {2, pttl, why}
local pause = redis.call('PTTL', KEYS[1])
if pause > 0 then return {2, pause, redis.call('GET', KEYS[1])} end
local wait, left = 0, {}
for i = 2, #KEYS do
  local a = (i - 2) * 4
  local limit, window, burst, cost = tonumber(ARGV[a+1]), tonumber(ARGV[a+2]), tonumber(ARGV[a+3]), tonumber(ARGV[a+4])
  local tokens, rate = refill(KEYS[i], limit, window, burst, now)
  local need = math.min(cost, burst)
  if tokens < need then wait = math.max(wait, math.ceil((need - tokens) / rate)) end
  left[i] = tokens - cost
end
if wait > 0 then return {1, wait} end
for i = 2, #KEYS do
  local window = tonumber(ARGV[(i - 2) * 4 + 2])
  redis.call('HSET', KEYS[i], 'tokens', tostring(left[i]), 'ts', now)
  redis.call('PEXPIRE', KEYS[i], window * 2)
end
return {0}
