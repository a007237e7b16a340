-- Publish the results of a batch and write every state change each implies, atomically per entry.
-- Intent entries are acknowledged here, so no entry is ever acknowledged without its result.
-- make_settle(K, A) returns settle(meta, result_json, trade_json) and finish(), which writes what the
-- entries settled add to shared lists and counters, and the XACK, once; main_settle.lua and
-- main_gate_paper.lua call them.
-- K: 1 result stream  2 reserved  3 risk positions  4 positions index  5 inflight  6 counters
--    7 trades  8 orders recent  9 marks  10 intent stream
-- A: 1 order key prefix  2 done key prefix  3 position key prefix  4 stream maxlen  5 ttl
--    6 history limit  7 consumer group  8 now_ms
-- meta: [intent_id, entry_id, counter, symbol, release_qty, fill_qty, fill_price, fee, record_order (0/1),
--        leverage, [extra result field name, value, ...]]; trade_json '' for none
local function make_settle(K, A)
  local ttl, history = tonumber(A[5]), tonumber(A[6])
  local acks, trades, recent, counts = {}, {}, {}, {}

  local function settle(meta, result_json, trade_json)
    local intent_id, entry_id, symbol = meta[1], meta[2], meta[4]
    local done_key = A[2] .. entry_id
    local done = redis.call('GET', done_key)
    if done then
      acks[#acks + 1] = entry_id
      return {'DONE', done}
    end
    local release = tonumber(meta[5])
    if release ~= 0 then redis.call('HINCRBYFLOAT', K[2], symbol, -release) end
    local fill = tonumber(meta[6])
    if fill ~= 0 then
      local price = tonumber(meta[7])
      local position_key = A[3] .. symbol
      local pos = redis.call('HMGET', position_key, 'qty', 'avg_entry', 'realized_pnl', 'fees', 'trades')
      local qty, entry = tonumber(pos[1] or '0'), tonumber(pos[2] or '0')
      local realized_total, fees, trades = tonumber(pos[3] or '0'), tonumber(pos[4] or '0'), tonumber(pos[5] or '0')
      local new_qty, new_entry, realized = apply_fill(qty, entry, fill, price)
      redis.call('HSET', position_key, 'symbol', symbol, 'qty', string.format('%.10f', new_qty),
        'avg_entry', string.format('%.10f', new_entry),
        'notional_usd', string.format('%.8f', new_qty * new_entry),
        'realized_pnl', string.format('%.8f', realized_total + realized),
        'fees', string.format('%.8f', fees + tonumber(meta[8])),
        'leverage', meta[10], 'trades', trades + 1, 'updated_ms', A[8])
      redis.call('HSET', K[3], symbol, string.format('%.10f', new_qty))
      redis.call('HSET', K[9], symbol, meta[7])
      redis.call('SADD', K[4], symbol)
    end
    local id = redis.call('XADD', K[1], 'MAXLEN', '~', A[4], '*', 'data', result_json, unpack(meta[11]))
    redis.call('SET', done_key, id, 'EX', ttl)
    if trade_json ~= '' then trades[#trades + 1] = trade_json end
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
