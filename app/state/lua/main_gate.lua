-- The admission gate alone (venues that are not scripts): KEYS and ARGV[1..6] as make_gate's K and A,
-- then one JSON item per intent.
local admit = make_gate(KEYS, ARGV)
local out = {}
for i = 7, #ARGV do out[#out + 1] = guarded(admit, cjson.decode(ARGV[i])) end
return out
