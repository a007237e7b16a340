-- Publish one intent entry's result and write every state change it implies, atomically.
-- KEYS: 1 done  2 order  3 result stream  4 reserved  5 risk positions  6 position  7 positions index
--       8 inflight  9 counters  10 trades  11 orders recent  12 marks  13 intent stream
-- ARGV: 1 intent_id  2 result_json  3 counter  4 symbol  5 release_qty  6 fill_qty  7 fill_price  8 fee
--       9 stream maxlen  10 ttl  11 record_order  12 trade_json  13 history_limit  14 now_ms
--       15 leverage  16 consumer group  17 intent entry id  18.. extra result fields (name, value pairs)
-- The intent entry is acknowledged here, so no entry is ever acknowledged without its result.
local done = redis.call('GET', KEYS[1])
if done then
  redis.call('XACK', KEYS[13], ARGV[16], ARGV[17])
  return {'DONE', done}
end
local symbol = ARGV[4]
local release = tonumber(ARGV[5])
if release ~= 0 then redis.call('HINCRBYFLOAT', KEYS[4], symbol, -release) end
local fill = tonumber(ARGV[6])
if fill ~= 0 then
  local price = tonumber(ARGV[7])
  local pos = redis.call('HMGET', KEYS[6], 'qty', 'avg_entry', 'realized_pnl', 'fees', 'trades')
  local qty, entry = tonumber(pos[1] or '0'), tonumber(pos[2] or '0')
  local realized_total, fees, trades = tonumber(pos[3] or '0'), tonumber(pos[4] or '0'), tonumber(pos[5] or '0')
  local new_qty, new_entry, realized = apply_fill(qty, entry, fill, price)
  redis.call('HSET', KEYS[6], 'symbol', symbol, 'qty', string.format('%.10f', new_qty),
    'avg_entry', string.format('%.10f', new_entry),
    'notional_usd', string.format('%.8f', new_qty * new_entry),
    'realized_pnl', string.format('%.8f', realized_total + realized),
    'fees', string.format('%.8f', fees + tonumber(ARGV[8])),
    'leverage', ARGV[15], 'trades', trades + 1, 'updated_ms', ARGV[14])
  redis.call('HSET', KEYS[5], symbol, string.format('%.10f', new_qty))
  redis.call('HSET', KEYS[12], symbol, ARGV[7])
  redis.call('SADD', KEYS[7], symbol)
end
local fields = {'data', ARGV[2]}
for i = 18, #ARGV do fields[#fields + 1] = ARGV[i] end
local id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[9], '*', unpack(fields))
local ttl = tonumber(ARGV[10])
redis.call('SET', KEYS[1], id, 'EX', ttl)
if ARGV[12] ~= '' then
  redis.call('LPUSH', KEYS[10], ARGV[12])
  redis.call('LTRIM', KEYS[10], 0, tonumber(ARGV[13]) - 1)
end
if ARGV[11] == '1' then
  redis.call('HSET', KEYS[2], 'state', 'DONE', 'result', ARGV[2], 'result_id', id)
  redis.call('EXPIRE', KEYS[2], ttl)
  redis.call('SREM', KEYS[8], ARGV[1])
  redis.call('LPUSH', KEYS[11], ARGV[1])
  redis.call('LTRIM', KEYS[11], 0, tonumber(ARGV[13]) - 1)
end
redis.call('HINCRBY', KEYS[9], ARGV[3], 1)
redis.call('XACK', KEYS[13], ARGV[16], ARGV[17])
return {'OK', id}
