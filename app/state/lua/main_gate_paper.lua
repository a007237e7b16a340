-- Admission, the PAPER venue's booking and settlement in one atomic call. Each intent the gate
-- admits (OK) with an order is booked at once, so no state exists where it is admitted but not at
-- the venue; when the booking fills as priced and a settlement was prepared for that outcome, the
-- result is published (its exchange_order_id filled in) and the entry acknowledged in the same call.
-- Anything else (a denial, a duplicate, a venue refusal) is answered by a separate settlement.
-- KEYS: 1..6 the gate's K, 7..8 the venue's K, 9..21 the settlement's K.
-- ARGV: 1..6 the gate's A, 7..10 the venue's A, 11..20 the settlement's A, then six per intent:
--       gate item (JSON), order (JSON, '' for none), settlement meta (JSON, '' for none), result JSON,
--       trade JSON, the order's first event JSON.
-- Reply per intent: {admission, booking or 0, settlement or 0}.
local ORDER_ID_SLOT = '"exchange_order_id":"{paper-order-id}"'

local function with_order_id(json, order_id)
  local first, last = string.find(json, ORDER_ID_SLOT, 1, true)
  if not first then return json end
  return string.sub(json, 1, first - 1) .. '"exchange_order_id":"' .. order_id .. '"' .. string.sub(json, last + 1)
end

local admit = make_gate(slice(KEYS, 1, 6), slice(ARGV, 1, 6))
local settle, finish = make_settle(slice(KEYS, 9, 21), slice(ARGV, 11, 20))
local fill_order = nil  -- made on first use: it seeds the wallet
local out = {}
for i = 21, #ARGV, 6 do
  local admission = guarded(admit, cjson.decode(ARGV[i]))
  local booking, settled = 0, 0
  if admission[1] == 'OK' and ARGV[i + 1] ~= '' then
    fill_order = fill_order or make_paper(slice(KEYS, 7, 8), slice(ARGV, 7, 10))
    booking = guarded(fill_order, cjson.decode(ARGV[i + 1]))
    if booking[1] == 'FILLED' and ARGV[i + 2] ~= '' then
      local id = booking[2]
      settled = guarded(settle, cjson.decode(ARGV[i + 2]), with_order_id(ARGV[i + 3], id),
        with_order_id(ARGV[i + 4], id), with_order_id(ARGV[i + 5], id))
    end
  end
  out[#out + 1] = {admission, booking, settled}
end
finish()
return out
