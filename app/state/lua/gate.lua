-- Admit a batch of intents, one after the other, atomically: idempotency by intent id, then the
-- stateful risk limits, then reserve. Mirrors app/risk/checks.py evaluate_book(); the parity test
-- tests/state/test_gate_parity.py proves they agree.
-- make_gate(K, A) returns admit(item); main_gate.lua and main_gate_paper.lua call it.
-- K: 1 trading state  2 reserved  3 risk positions  4 marks  5 order rate  6 inflight
-- A: 1 order key prefix  2 done key prefix  3 max_position_usd  4 max_exposure_usd
--    5 max_orders_per_minute  6 ttl
-- item: [intent_id, entry_id, symbol, delta_qty, price, precheck_reason, precheck_message,
--        reduce_only (0/1), client_order_id, check_done (0/1), mark, side]
-- delta_qty is side-signed (BUY +, SELL -); side is the order's (an AMEND shrinking a BUY has a
-- negative delta). price values the order for the limits (the worse of its limit and the market, see
-- app/risk/checks.py valuation_price); mark is the market price, kept to value the symbol's position
-- when other symbols are checked.
-- Open orders count at their worst case: K[2] holds `<symbol>:BUY` and `<symbol>:SELL` apart, the
-- order is checked against the position as if every open order of its own side filled, and other
-- symbols count at max(|position + buys|, |position - sells|).
local function make_gate(K, A)
  local max_pos, max_exp, max_rate, ttl = tonumber(A[3]), tonumber(A[4]), tonumber(A[5]), tonumber(A[6])
  local state = redis.call('GET', K[1]) or 'ACTIVE'  -- nothing changes it while the script runs

  local function admit(item)
    local intent_id, entry_id, symbol = item[1], item[2], item[3]
    local order_key = A[1] .. intent_id
    if item[10] == 1 then
      local done = redis.call('GET', A[2] .. entry_id)
      if done then return {'DONE', done} end
    end
    local rec = redis.call('HMGET', order_key, 'state', 'entry_id', 'decision', 'reason', 'message', 'result',
      'reserved_qty')
    if rec[1] == 'DONE' then return {'DUP', rec[6]} end
    if rec[1] == 'OPEN' then
      if rec[2] == entry_id then return {'RESUME', rec[3], rec[4] or '', rec[5] or '', rec[7] or '0'} end
      return {'BUSY'}
    end

    local side = item[12]
    local delta, price = tonumber(item[4]), tonumber(item[5])
    -- what admitting reserves: the delta when it adds to its side; a shrinking AMEND reserves nothing
    -- (the venue may fill the old size until it confirms; app/state/gate.py Candidate.reservation)
    local adds = on_side(side, delta) > 0

    local function record(decision, reason, message)
      redis.call('HSET', order_key, 'state', 'OPEN', 'entry_id', entry_id, 'decision', decision, 'reason', reason,
        'message', message, 'intent_id', intent_id, 'symbol', symbol, 'client_order_id', item[9],
        'reserved_qty', (decision == 'OK' and adds) and item[4] or '0')
      redis.call('EXPIRE', order_key, ttl)
    end

    local function deny(reason, message)
      record('DENY', reason, message)
      return {'DENY', reason, message}
    end

    if item[6] ~= '' then return deny(item[6], item[7]) end

    local cur = tonumber(redis.call('HGET', K[3], symbol) or '0')
    if side == 'BUY' then
      cur = cur + tonumber(redis.call('HGET', K[2], symbol .. ':BUY') or '0')
    else
      cur = cur - tonumber(redis.call('HGET', K[2], symbol .. ':SELL') or '0')
    end
    local new = cur + delta
    local reduces = math.abs(new) < math.abs(cur) - 1e-12 and cur * new >= 0

    if state == 'HALTED' then return deny('TRADING_HALTED', 'trading is HALTED: no orders are accepted') end
    if state == 'REDUCING' and not reduces then
      return deny('TRADING_HALTED', 'trading is REDUCING: only orders that reduce a position are accepted')
    end
    if item[8] == 1 and not reduces then
      return deny('REDUCE_ONLY', string.format('reduce_only order would not reduce the %s position', symbol))
    end
    local grows = math.abs(new) > math.abs(cur) + 1e-12
    if grows and math.abs(new) * price > max_pos + 1e-9 then
      return deny('POSITION_LIMIT', string.format('%s position would be %.2f USD, above the %.2f USD limit',
        symbol, math.abs(new) * price, max_pos))
    end
    if grows then
      local total = math.abs(new) * price
      local seen = {}  -- symbol -> {position, reserved BUY, reserved SELL}
      local function of(sym)
        seen[sym] = seen[sym] or {0, 0, 0}
        return seen[sym]
      end
      local positions = redis.call('HGETALL', K[3])
      for i = 1, #positions, 2 do of(positions[i])[1] = tonumber(positions[i + 1]) end
      local reserved = redis.call('HGETALL', K[2])
      for i = 1, #reserved, 2 do
        local sym, on = string.match(reserved[i], '^(.+):(%u+)$')
        if on == 'BUY' or on == 'SELL' then of(sym)[on == 'BUY' and 2 or 3] = tonumber(reserved[i + 1]) end
      end
      -- summed in symbol order, as app/risk/checks.py does: float sums in another order can differ
      -- in the last digit, and the message must be the same whichever side computed it
      local symbols = {}
      for sym, _ in pairs(seen) do
        if sym ~= symbol then symbols[#symbols + 1] = sym end
      end
      table.sort(symbols)
      for _, sym in ipairs(symbols) do
        local q = seen[sym]
        local worst = math.max(math.abs(q[1] + q[2]), math.abs(q[1] - q[3]))  -- checks.py worst_case
        if worst ~= 0 then total = total + worst * tonumber(redis.call('HGET', K[4], sym) or '0') end
      end
      if total > max_exp + 1e-9 then
        return deny('EXPOSURE_LIMIT', string.format('total exposure would be %.2f USD, above the %.2f USD limit',
          total, max_exp))
      end
    end
    if max_rate > 0 then
      local used = tonumber(redis.call('GET', K[5]) or '0')
      if used >= max_rate then
        return deny('ORDER_RATE_LIMIT', string.format('%d orders this minute, the limit is %d', used, max_rate))
      end
      redis.call('INCR', K[5])
      redis.call('EXPIRE', K[5], 120)
    end
    if adds then reserve(K[2], symbol, side, on_side(side, delta)) end
    redis.call('HSET', K[4], symbol, item[11])
    redis.call('SADD', K[6], intent_id)
    record('OK', '', '')
    return {'OK'}
  end

  return admit
end
