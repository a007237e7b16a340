-- Book a position difference found by reconciliation (app/state/external.py) as an external trade:
-- the position hash, the gate's view and the mark move by the signed fill, and the trade is listed.
-- Written only if the gate's view still holds the quantity reconciliation compared, so a fill booked
-- meanwhile (or another reconciler) makes it a no-op for the next round to look at again.
-- KEYS: 1 position  2 risk positions  3 marks  4 positions index  5 trades
-- ARGV: 1 symbol  2 booked quantity as read ('' none)  3 signed fill  4 price  5 trade JSON  6 history
--       7 now_ms
-- reply: 1 booked, 0 the position moved since it was read
local current = redis.call('HGET', KEYS[2], ARGV[1]) or ''
if current ~= ARGV[2] then return 0 end
local leverage = redis.call('HGET', KEYS[1], 'leverage') or '1'
book_position(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], tonumber(ARGV[3]), ARGV[4], 0, leverage, ARGV[7])
redis.call('LPUSH', KEYS[5], ARGV[5])
redis.call('LTRIM', KEYS[5], 0, tonumber(ARGV[6]) - 1)
return 1
