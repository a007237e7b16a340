-- Apply changes to orders the service follows (app/state/orders.py; the change itself is computed by
-- the pure app/orders/machine.py). Each change is written only if the order's seq is still the one
-- it was computed from and its trade (if any) is not booked yet, so replicas racing on one order make
-- one change: the live record, the order event, the reservation, the position, the trade and, for
-- PAPER, the wallet move together.
-- make_order_apply(K, A, book_wallet) returns apply(item) and finish().
-- K: 1 order stream  2 reserved  3 risk positions  4 marks  5 positions index  6 open orders
--    7 expiries  8 counters  9 trades
-- A: 1 live key prefix  2 position key prefix  3 book key prefix  4 stream maxlen  5 ttl  6 history  7 now_ms
--    8 order (intent) record key prefix
-- item: [intent_id, expected seq, fields (flat list), event JSON, symbol, side, signed fill ('0': none),
--        fill price, fee, trade id ('' none), trade JSON ('' none), reservation change on the order's side
--        (> 0 reserves, < 0 releases), final (0/1),
--        counter ('' none), leverage, book price ('' unchanged), wallet base asset ('' none),
--        cause intent id ('' none)]
-- The intent that caused a change (a CANCEL, CANCEL_ALL or AMEND) is marked on the order (a:<intent
-- id>), so it finds its own change when it is delivered again, whatever changed the order after; a
-- cancel also counts on that intent's record (how many orders a CANCEL_ALL ended).
-- Every number is read before the first write: Redis does not roll a script back.
-- reply: {'OK', event entry id} | {'STALE', current seq or ''} | {'ERR', message}
local function make_order_apply(K, A, book_wallet)
  local trades = {}
  local counts = {}

  local function apply(item)
    local intent_id, symbol, side = item[1], item[5], item[6]
    local live = A[1] .. intent_id
    local seq = redis.call('HGET', live, 'seq')
    if seq ~= tostring(item[2]) then return {'STALE', seq or ''} end
    local trade_id = item[10]
    if trade_id ~= '' and redis.call('HEXISTS', live, 't:' .. trade_id) == 1 then return {'STALE', seq} end

    local fill, price, fee, reservation = tonumber(item[7]), tonumber(item[8]), tonumber(item[9]), tonumber(item[12])
    if not (fill and price and fee and reservation) or (item[16] ~= '' and not tonumber(item[16])) then
      return {'ERR', 'a change with a number that is not one: nothing written'}
    end
    reserve(K[2], symbol, side, reservation)
    if fill ~= 0 then
      book_position(A[2] .. symbol, K[3], K[4], K[5], symbol, fill, item[8], fee, item[15], A[7])
      if item[11] ~= '' then trades[#trades + 1] = item[11] end
      if item[17] ~= '' then book_wallet(symbol, item[17], fill, price, fee, item[15], 0, false) end
    end
    local book = A[3] .. symbol .. ':' .. side
    if item[16] ~= '' then redis.call('ZADD', book, 'XX', item[16], intent_id) end
    local id = redis.call('XADD', K[1], 'MAXLEN', '~', A[4], '*', 'data', item[4])
    redis.call('HSET', live, unpack(item[3]))
    -- the quantity as the service wrote it: a Lua number would come back as 0.40000000000000002
    if trade_id ~= '' then redis.call('HSET', live, 't:' .. trade_id, (string.gsub(item[7], '^%-', ''))) end
    local cause = item[18]
    if cause ~= '' then
      redis.call('HSET', live, 'a:' .. cause, tonumber(seq) + 1)
      local record = A[8] .. cause  -- the action's own record (it has a TTL): never made here without one
      if item[14] == 'orders_canceled' and redis.call('EXISTS', record) == 1 then
        redis.call('HINCRBY', record, 'canceled', 1)
      end
    end
    if item[13] == 1 then
      redis.call('ZREM', K[6], intent_id)
      redis.call('ZREM', K[7], intent_id)
      redis.call('ZREM', book, intent_id)
      redis.call('EXPIRE', live, A[5])
    end
    if item[14] ~= '' then counts[item[14]] = (counts[item[14]] or 0) + 1 end
    return {'OK', id}
  end

  local function finish()
    if #trades > 0 then
      redis.call('LPUSH', K[9], unpack(trades))
      redis.call('LTRIM', K[9], 0, tonumber(A[6]) - 1)
    end
    for counter, n in pairs(counts) do redis.call('HINCRBY', K[8], counter, n) end
  end

  return apply, finish
end
