-- Admission and the PAPER venue's booking in one atomic step: each intent the gate admits (OK) with
-- an order is booked at once, so no state exists where it is admitted but not yet at the venue.
-- KEYS: 1..6 the gate's K, 7..8 the venue's K.  ARGV: 1..7 the gate's A, 8..11 the venue's A,
--       then two per intent: the gate item (JSON) and its order (JSON, or '' when there is none).
-- Reply: {admissions, bookings}; bookings[i] is the venue's reply, or 0 when nothing was booked.
local admit = make_gate({KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]},
  {ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]})
local fill_order = nil  -- made on first use: it seeds the wallet
local admissions, bookings = {}, {}
for i = 12, #ARGV, 2 do
  local admission = guarded(admit, cjson.decode(ARGV[i]))
  local booking = 0
  if admission[1] == 'OK' and ARGV[i + 1] ~= '' then
    fill_order = fill_order or make_paper({KEYS[7], KEYS[8]}, {ARGV[8], ARGV[9], ARGV[10], ARGV[11]})
    booking = guarded(fill_order, cjson.decode(ARGV[i + 1]))
  end
  admissions[#admissions + 1] = admission
  bookings[#bookings + 1] = booking
end
return {admissions, bookings}
