-- Admit one intent atomically: idempotency by intent id, then the stateful risk limits, then reserve.
-- Mirrors app/risk/checks.py evaluate_book(); tests/risk/test_gate_parity.py proves they agree.
-- KEYS: 1 order  2 done  3 trading state  4 reserved  5 risk positions  6 marks  7 order rate
--       8 inflight  9 client order id
-- ARGV: 1 intent_id  2 entry_id  3 symbol  4 delta_qty  5 price  6 precheck_reason  7 precheck_message
--       8 reduce_only  9 max_position_usd  10 max_exposure_usd  11 max_orders_per_minute  12 client_order_id
--       13 ttl  14 check_done
if ARGV[14] == '1' then
  local done = redis.call('GET', KEYS[2])
  if done then return {'DONE', done} end
end
local rec = redis.call('HMGET', KEYS[1], 'state', 'entry_id', 'decision', 'reason', 'message', 'result', 'reserved_qty')
if rec[1] == 'DONE' then return {'DUP', rec[6]} end
if rec[1] == 'OPEN' then
  if rec[2] == ARGV[2] then return {'RESUME', rec[3], rec[4] or '', rec[5] or '', rec[7] or '0'} end
  return {'BUSY'}
end

local function record(decision, reason, message)
  redis.call('HSET', KEYS[1], 'state', 'OPEN', 'entry_id', ARGV[2], 'decision', decision, 'reason', reason,
    'message', message, 'intent_id', ARGV[1], 'symbol', ARGV[3], 'client_order_id', ARGV[12],
    'reserved_qty', decision == 'OK' and ARGV[4] or '0')
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[13]))
end

local function deny(reason, message)
  record('DENY', reason, message)
  return {'DENY', reason, message}
end

if ARGV[6] ~= '' then return deny(ARGV[6], ARGV[7]) end

local symbol, delta, price = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local state = redis.call('GET', KEYS[3]) or 'ACTIVE'
local cur = tonumber(redis.call('HGET', KEYS[5], symbol) or '0') + tonumber(redis.call('HGET', KEYS[4], symbol) or '0')
local new = cur + delta
local reduces = math.abs(new) < math.abs(cur) - 1e-12 and cur * new >= 0

if state == 'HALTED' then return deny('TRADING_HALTED', 'trading is HALTED: no orders are accepted') end
if state == 'REDUCING' and not reduces then
  return deny('TRADING_HALTED', 'trading is REDUCING: only orders that reduce a position are accepted')
end
if ARGV[8] == '1' and not reduces then
  return deny('REDUCE_ONLY', string.format('reduce_only order would not reduce the %s position', symbol))
end
local grows = math.abs(new) > math.abs(cur) + 1e-12
local max_pos = tonumber(ARGV[9])
if grows and math.abs(new) * price > max_pos + 1e-9 then
  return deny('POSITION_LIMIT', string.format('%s position would be %.2f USD, above the %.2f USD limit',
    symbol, math.abs(new) * price, max_pos))
end
if grows then
  local total = math.abs(new) * price
  local positions = redis.call('HGETALL', KEYS[5])
  local seen = {}
  for i = 1, #positions, 2 do seen[positions[i]] = tonumber(positions[i + 1]) end
  local reserved = redis.call('HGETALL', KEYS[4])
  for i = 1, #reserved, 2 do seen[reserved[i]] = (seen[reserved[i]] or 0) + tonumber(reserved[i + 1]) end
  for sym, qty in pairs(seen) do
    if sym ~= symbol and qty ~= 0 then
      total = total + math.abs(qty) * tonumber(redis.call('HGET', KEYS[6], sym) or '0')
    end
  end
  local max_exp = tonumber(ARGV[10])
  if total > max_exp + 1e-9 then
    return deny('EXPOSURE_LIMIT', string.format('total exposure would be %.2f USD, above the %.2f USD limit',
      total, max_exp))
  end
end
local max_rate = tonumber(ARGV[11])
if max_rate > 0 then
  local used = tonumber(redis.call('GET', KEYS[7]) or '0')
  if used >= max_rate then
    return deny('ORDER_RATE_LIMIT', string.format('%d orders this minute, the limit is %d', used, max_rate))
  end
  redis.call('INCR', KEYS[7])
  redis.call('EXPIRE', KEYS[7], 120)
end
redis.call('HINCRBYFLOAT', KEYS[4], symbol, delta)
redis.call('HSET', KEYS[6], symbol, ARGV[5])
redis.call('SADD', KEYS[8], ARGV[1])
redis.call('SET', KEYS[9], ARGV[1], 'EX', tonumber(ARGV[13]))
record('OK', '', '')
return {'OK'}
