-- Settlement of a batch: KEYS and ARGV[1..10] as make_settle's K and A, then four per entry (meta JSON,
-- result JSON, trade JSON or '', the order's first event JSON or ''). Per entry: {'OK', result id} | {'DONE', result id} | {'ERR', message}.
local settle, finish = make_settle(KEYS, ARGV)
local out = {}
for i = 11, #ARGV, 4 do
  out[#out + 1] = guarded(settle, cjson.decode(ARGV[i]), ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
end
finish()
return out
