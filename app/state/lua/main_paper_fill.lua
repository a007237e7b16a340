-- The PAPER venue alone (orders sent after admission, e.g. on redelivery): KEYS and ARGV[1..4] as
-- make_paper's K and A, then one JSON order per item.
local fill_order = make_paper(KEYS, ARGV)
local out = {}
for i = 5, #ARGV do out[#out + 1] = guarded(fill_order, cjson.decode(ARGV[i])) end
return out
