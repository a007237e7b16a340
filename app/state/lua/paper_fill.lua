-- The PAPER venue's matching of a batch of marketable orders against its simulated wallet, atomically.
-- USD-M: margin = notional / leverage locked per symbol, realized PnL and fees settle to the balance.
-- Spot: the quote balance pays notional + fee on BUY; SELL needs the base asset.
-- make_paper(K, A) returns fill_order(o) and book_wallet(...); main_paper_fill.lua, main_gate_paper.lua
-- and main_order_apply.lua call them.
-- K: 1 wallet  2 order id sequence
-- A: 1 paper order key prefix  2 market  3 initial balance  4 order record ttl (s)
-- o: [client_order_id, symbol, base_asset, signed qty, price, fee, leverage, reduce_only (0/1), fee_asset]
-- An order record holds what the venue's order look-up returns and lives as long as its intent's own
-- record (IDEMPOTENCY_TTL_S): a filled order is only looked up while its intent is unanswered.
local function make_paper(K, A)
  redis.call('HSETNX', K[1], 'balance', A[3])

  -- The wallet side of a fill: nil when booked, {'REJECT', code, message} when it cannot be paid.
  -- check=false books a resting order's later fill: the venue accepted it when it was placed.
  local function book_wallet(symbol, base_asset, fill, price, fee, leverage, reduce_only, check)
    local balance = tonumber(redis.call('HGET', K[1], 'balance'))
    local qty_abs = math.abs(fill)

    if A[2] == 'usdm' then
      local w = redis.call('HMGET', K[1], 'q:' .. symbol, 'e:' .. symbol, 'm:' .. symbol, 'locked')
      local q, e, m, locked = tonumber(w[1] or '0'), tonumber(w[2] or '0'), tonumber(w[3] or '0'), tonumber(w[4] or '0')
      local new_q, new_e, realized, closed = apply_fill(q, e, fill, price)
      if check and reduce_only == 1 and closed == 0 then return {'REJECT', '-2022', 'ReduceOnly Order is rejected.'} end
      local release = 0
      if q ~= 0 then release = m * closed / math.abs(q) end
      local add = (qty_abs - closed) * price / tonumber(leverage)
      if check and add + fee > balance - locked + release + realized + 1e-9 then
        return {'REJECT', '-2019', 'Margin is insufficient.'}
      end
      local new_m = m + add - release
      if new_q == 0 then new_m = 0 end
      redis.call('HSET', K[1], 'balance', balance + realized - fee, 'locked', math.max(0, locked + new_m - m),
        'q:' .. symbol, new_q, 'e:' .. symbol, new_e, 'm:' .. symbol, new_m)
    else
      local base_key = 'b:' .. base_asset
      local base = tonumber(redis.call('HGET', K[1], base_key) or '0')
      if fill > 0 then
        local cost = qty_abs * price + fee
        if check and cost > balance + 1e-9 then
          return {'REJECT', '-2010', 'Account has insufficient balance for requested action.'}
        end
        redis.call('HSET', K[1], 'balance', balance - cost, base_key, base + qty_abs)
      else
        if check and qty_abs > base + 1e-12 then
          return {'REJECT', '-2010', 'Account has insufficient balance for requested action.'}
        end
        redis.call('HSET', K[1], 'balance', balance + qty_abs * price - fee, base_key, base - qty_abs)
      end
    end
    return nil
  end

  local function fill_order(o)
    local order_key = A[1] .. o[1]
    local existing = redis.call('GET', order_key)
    if existing then return {'EXISTS', existing} end
    local fill, price = tonumber(o[4]), tonumber(o[5])
    local qty_abs = math.abs(fill)
    local refused = book_wallet(o[2], o[3], fill, price, tonumber(o[6]), o[7], o[8], true)
    if refused then return refused end

    local order_id = redis.call('INCR', K[2])
    redis.call('SET', order_key, cjson.encode({
      orderId = order_id, status = 'FILLED', executedQty = string.format('%.10f', qty_abs), avgPrice = o[5],
      cumQuote = string.format('%.8f', qty_abs * price), commission = o[6], commissionAsset = o[9]}), 'EX', A[4])
    return {'FILLED', tostring(order_id)}
  end

  return fill_order, book_wallet
end
