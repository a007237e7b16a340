-- Claim an intent id for an order action (CANCEL, CANCEL_ALL) that the admission gate does not see:
-- the same in-flight rule as gate.lua's, so one action sent in two entries acts once. The record is
-- the intent's own (Keys.order), answered and kept by settle.lua like any other.
-- KEYS: 1 the intent's record.  ARGV: 1 entry id  2 intent id  3 ttl (s)
local rec = redis.call('HMGET', KEYS[1], 'state', 'entry_id', 'result')
if rec[1] == 'DONE' then return {'DUP', rec[3]} end
if rec[1] == 'OPEN' then
  if rec[2] == ARGV[1] then return {'RESUME', 'OK', '', '', '0'} end
  return {'BUSY'}
end
redis.call('HSET', KEYS[1], 'state', 'OPEN', 'entry_id', ARGV[1], 'intent_id', ARGV[2], 'decision', 'OK')
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {'OK'}
