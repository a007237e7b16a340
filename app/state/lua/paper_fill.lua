-- The PAPER venue's matching of one marketable order against its simulated wallet, atomically.
-- USD-M: margin = notional / leverage locked per symbol, realized PnL and fees settle to the balance.
-- Spot: the quote balance pays notional + fee on BUY; SELL needs the base asset.
-- KEYS: 1 wallet  2 paper order  3 order id sequence
-- ARGV: 1 market  2 symbol  3 base_asset  4 signed qty  5 price  6 fee  7 leverage  8 initial balance
--       9 client_order_id  10 now_ms  11 reduce_only  12 order_type  13 fee_asset
local existing = redis.call('GET', KEYS[2])
if existing then return {'EXISTS', existing} end
redis.call('HSETNX', KEYS[1], 'balance', ARGV[8])
local symbol, fill, price, fee = ARGV[2], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local balance = tonumber(redis.call('HGET', KEYS[1], 'balance'))
local qty_abs = math.abs(fill)

if ARGV[1] == 'usdm' then
  local w = redis.call('HMGET', KEYS[1], 'q:' .. symbol, 'e:' .. symbol, 'm:' .. symbol, 'locked')
  local q, e, m, locked = tonumber(w[1] or '0'), tonumber(w[2] or '0'), tonumber(w[3] or '0'), tonumber(w[4] or '0')
  local new_q, new_e, realized, closed = apply_fill(q, e, fill, price)
  if ARGV[11] == '1' and closed == 0 then return {'REJECT', '-2022', 'ReduceOnly Order is rejected.'} end
  local release = 0
  if q ~= 0 then release = m * closed / math.abs(q) end
  local add = (qty_abs - closed) * price / tonumber(ARGV[7])
  if add + fee > balance - locked + release + realized + 1e-9 then
    return {'REJECT', '-2019', 'Margin is insufficient.'}
  end
  local new_m = m + add - release
  if new_q == 0 then new_m = 0 end
  redis.call('HSET', KEYS[1], 'balance', balance + realized - fee, 'locked', math.max(0, locked + new_m - m),
    'q:' .. symbol, new_q, 'e:' .. symbol, new_e, 'm:' .. symbol, new_m)
else
  local base_key = 'b:' .. ARGV[3]
  local base = tonumber(redis.call('HGET', KEYS[1], base_key) or '0')
  if fill > 0 then
    local cost = qty_abs * price + fee
    if cost > balance + 1e-9 then
      return {'REJECT', '-2010', 'Account has insufficient balance for requested action.'}
    end
    redis.call('HSET', KEYS[1], 'balance', balance - cost, base_key, base + qty_abs)
  else
    if qty_abs > base + 1e-12 then
      return {'REJECT', '-2010', 'Account has insufficient balance for requested action.'}
    end
    redis.call('HSET', KEYS[1], 'balance', balance + qty_abs * price - fee, base_key, base - qty_abs)
  end
end

local order_id = redis.call('INCR', KEYS[3])
local side = 'BUY'
if fill < 0 then side = 'SELL' end
redis.call('SET', KEYS[2], cjson.encode({
  orderId = order_id, clientOrderId = ARGV[9], symbol = symbol, side = side, type = ARGV[12],
  status = 'FILLED', executedQty = string.format('%.10f', qty_abs), avgPrice = ARGV[5],
  cumQuote = string.format('%.8f', qty_abs * price), commission = ARGV[6], commissionAsset = ARGV[13],
  updateTime = tonumber(ARGV[10])}))
return {'FILLED', tostring(order_id)}
