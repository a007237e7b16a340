-- Publish the results of a batch and write every state change each implies, atomically per entry.
-- Intent entries are acknowledged here, so no entry is ever acknowledged without its result.
-- make_settle(K, A) returns settle(meta, result_json, trade_json, event_json) and finish(), which writes what the
-- entries settled add to shared lists and counters, and the XACK, once; main_settle.lua and
-- main_gate_paper.lua call them.
-- K: 1 result stream  2 reserved  3 risk positions  4 positions index  5 inflight  6 counters
--    7 trades  8 orders recent  9 marks  10 intent stream  11 order stream  12 open orders  13 expiries
-- A: 1 order key prefix  2 done key prefix  3 position key prefix  4 stream maxlen  5 ttl
--    6 history limit  7 consumer group  8 now_ms  9 live order key prefix  10 book key prefix
-- meta: [intent_id, entry_id, counter, symbol, release_qty, fill_qty, fill_price, fee, record_order (0/1),
--        leverage, [extra result field name, value, ...], order event JSON ('' none),
--        live order fields (flat list, empty unless the order stays open), open order [side, created_ms,
--        book price ('' none), expire_at_ms (0 none)], side]; trade_json '' for none
-- release_qty is side-signed (BUY +, SELL -) and released from that side's reservation.
-- An order that stays open (NEW, PARTIALLY_FILLED) keeps the reservation of what is left (the caller
-- releases only the filled part) and gets its live record; app/state/orders.py follows it from there.
local function make_settle(K, A)
  local ttl, history = tonumber(A[5]), tonumber(A[6])
  local acks, trades, recent, counts = {}, {}, {}, {}

  local function settle(meta, result_json, trade_json, event_json)
    local intent_id, entry_id, symbol = meta[1], meta[2], meta[4]
    local done_key = A[2] .. entry_id
    local done = redis.call('GET', done_key)
    if done then
      acks[#acks + 1] = entry_id
      return {'DONE', done}
    end
    local release = tonumber(meta[5])
    if release ~= 0 then reserve(K[2], symbol, meta[14], -on_side(meta[14], release)) end
    local fill = tonumber(meta[6])
    if fill ~= 0 then
      book_position(A[3] .. symbol, K[3], K[9], K[4], symbol, fill, meta[7], tonumber(meta[8]), meta[10], A[8])
    end
    local id = redis.call('XADD', K[1], 'MAXLEN', '~', A[4], '*', 'data', result_json, unpack(meta[11]))
    redis.call('SET', done_key, id, 'EX', ttl)
    if trade_json ~= '' then trades[#trades + 1] = trade_json end
    if event_json ~= '' then redis.call('XADD', K[11], 'MAXLEN', '~', A[4], '*', 'data', event_json) end
    if #meta[12] > 0 then
      local live, open = A[9] .. intent_id, meta[13]
      redis.call('HSET', live, unpack(meta[12]))
      redis.call('ZADD', K[12], open[2], intent_id)
      if open[3] ~= '' then redis.call('ZADD', A[10] .. symbol .. ':' .. open[1], open[3], intent_id) end
      if tonumber(open[4]) > 0 then redis.call('ZADD', K[13], open[4], intent_id) end
    end
    if meta[9] == 1 then
      -- answered, the record keeps only the answer (the rest is in it): it lives IDEMPOTENCY_TTL_S
      local order_key = A[1] .. intent_id
      redis.call('DEL', order_key)
      redis.call('HSET', order_key, 'state', 'DONE', 'result', result_json, 'result_id', id)
      redis.call('EXPIRE', order_key, ttl)
      redis.call('SREM', K[5], intent_id)
      recent[#recent + 1] = intent_id
    end
    counts[meta[3]] = (counts[meta[3]] or 0) + 1
    acks[#acks + 1] = entry_id
    return {'OK', id}
  end

  local function finish()
    if #trades > 0 then
      redis.call('LPUSH', K[7], unpack(trades))
      redis.call('LTRIM', K[7], 0, history - 1)
    end
    if #recent > 0 then
      redis.call('LPUSH', K[8], unpack(recent))
      redis.call('LTRIM', K[8], 0, history - 1)
    end
    for counter, n in pairs(counts) do redis.call('HINCRBY', K[6], counter, n) end
    if #acks > 0 then redis.call('XACK', K[10], A[7], unpack(acks)) end
  end

  return settle, finish
end
