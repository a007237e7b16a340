-- Settlement of a batch: KEYS and ARGV[1..10] as make_settle's K and A, then three per entry (meta JSON,
-- result JSON, trade JSON or ''). Per entry: {'OK', result id} | {'DONE', result id} | {'ERR', message}.
local settle, finish = make_settle(KEYS, ARGV)
local out = {}
for i = 11, #ARGV, 3 do out[#out + 1] = guarded(settle, cjson.decode(ARGV[i]), ARGV[i + 1], ARGV[i + 2]) end
finish()
return out
