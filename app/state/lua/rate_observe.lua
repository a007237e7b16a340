-- KEYS: buckets; ARGV: per bucket limit, window_ms, burst, used-in-current-exchange-window.
for i = 1, #KEYS do
  local a = (i - 1) * 4
  local limit, window, burst, used = tonumber(ARGV[a+1]), tonumber(ARGV[a+2]), tonumber(ARGV[a+3]), tonumber(ARGV[a+4])
  local tokens, rate = refill(KEYS[i], limit, window, burst, now)
  local remaining = window - (now % window)
  local cap = math.max((limit - used) - rate * remaining, -rate * remaining)
  redis.call('HSET', KEYS[i], 'tokens', tostring(math.min(tokens, cap)), 'ts', now)
  redis.call('PEXPIRE', KEYS[i], window * 2)
end
return 1
