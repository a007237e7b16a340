-- The shared token-bucket refill (app/exchange/ratelimit.py): function file for rate_take/rate_observe.
local function refill(key, limit, window, burst, now)
  local rate = math.max(limit - burst, 1) / window
  local h = redis.call('HMGET', key, 'tokens', 'ts')
  local tokens = tonumber(h[1]) or burst
  local ts = tonumber(h[2]) or now
  return math.min(burst, tokens + math.max(0, now - ts) * rate), rate
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
