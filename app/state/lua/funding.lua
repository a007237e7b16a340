-- Book a funding fee once (app/state/account.py): the dedupe key is set first; a fee seen already
-- books nothing. On a position the books hold, the fee is added to `funding` (cumulative) and to
-- `realized_pnl` (positive received, negative paid).
-- KEYS: 1 seen  2 position (absent: the venue did not name the symbol)
-- ARGV: 1 amount  2 seen TTL ms  3 now_ms
-- reply: 0 seen already, 1 booked on the position, 2 new but on no position of the books
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[2]) then return 0 end
if #KEYS < 2 or redis.call('EXISTS', KEYS[2]) == 0 then return 2 end
local pos = redis.call('HMGET', KEYS[2], 'funding', 'realized_pnl')
local amount = tonumber(ARGV[1])
redis.call('HSET', KEYS[2], 'funding', string.format('%.8f', tonumber(pos[1] or '0') + amount),
  'realized_pnl', string.format('%.8f', tonumber(pos[2] or '0') + amount), 'updated_ms', ARGV[3])
return 1
