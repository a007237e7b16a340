-- Order changes of a batch: KEYS 1..9 and ARGV 1..8 as make_order_apply's K and A, KEYS 10..11 and
-- ARGV 9..12 as make_paper's (the PAPER wallet, used for items that name a base asset), then one JSON
-- item per change. Per item: {'OK', event id} | {'STALE', seq} | {'ERR', message}.
local book_wallet = nil
local function wallet(...)
  if not book_wallet then
    local _
    _, book_wallet = make_paper(slice(KEYS, 10, 11), slice(ARGV, 9, 12))
  end
  return book_wallet(...)
end

local apply, finish = make_order_apply(slice(KEYS, 1, 9), slice(ARGV, 1, 8), wallet)
local out = {}
for i = 13, #ARGV do out[#out + 1] = guarded(apply, cjson.decode(ARGV[i])) end
finish()
return out
