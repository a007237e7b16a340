-- Prepended to every script (app/state/scripts.py): helpers for scripts that work through a batch.

-- One item's failure becomes its own {'ERR', message} reply instead of failing the whole batch.
local function guarded(fn, ...)
  local ok, reply = pcall(fn, ...)
  if ok then return reply end
  return {'ERR', tostring(reply)}
end

-- t[first..last] as a new table: a main script hands each composed function its own KEYS and ARGV.
local function slice(t, first, last)
  local out = {}
  for i = first, last do out[#out + 1] = t[i] end
  return out
end

-- Apply a signed fill to a signed position (settle.lua: the service's books; paper_fill.lua: the
-- PAPER venue's account).
-- Returns new quantity, new average entry, PnL realized by the closed part, and the closed quantity.
local function round10(x)
  if x >= 0 then return math.floor(x * 1e10 + 0.5) / 1e10 end
  return -math.floor(-x * 1e10 + 0.5) / 1e10
end

local function apply_fill(qty, entry, fill, price)
  if fill == 0 then return qty, entry, 0, 0 end
  if qty == 0 or (qty > 0) == (fill > 0) then
    local new_qty = round10(qty + fill)
    return new_qty, (math.abs(qty) * entry + math.abs(fill) * price) / math.abs(new_qty), 0, 0
  end
  local closed = math.min(math.abs(fill), math.abs(qty))
  local direction = qty > 0 and 1 or -1
  local realized = closed * (price - entry) * direction
  local new_qty = round10(qty + fill)
  if new_qty == 0 then
    entry = 0
  elseif (new_qty > 0) ~= (qty > 0) then
    entry = price
  end
  return new_qty, entry, realized, closed
end

-- The reservations of one symbol's side: the reserved hash's field `<symbol>:BUY` or `<symbol>:SELL`,
-- a base quantity (>= 0) that open or in-flight orders of that side may still add. amount > 0
-- reserves, < 0 releases. Every writer goes through here (gate.lua, settle.lua, order_apply.lua).
-- Rounded like positions, so releasing what was reserved leaves exactly 0, not 1e-18.
local function reserve(reserved_key, symbol, side, amount)
  if amount == 0 then return end
  local field = symbol .. ':' .. side
  local left = round10(tonumber(redis.call('HGET', reserved_key, field) or '0') + amount)
  if left == 0 then left = 0 end  -- never '-0'
  redis.call('HSET', reserved_key, field, string.format('%.10f', left))
end

-- A side-signed quantity (BUY +, SELL -) as the amount it adds to its side.
local function on_side(side, signed)
  if side == 'BUY' then return signed end
  return -signed
end

-- Book a signed fill into the service's books: the position hash (quantity, average entry, realized
-- PnL, fees, trade count), the gate's view of positions, the mark and the index of symbols.
-- price is the fill price as text (kept as the mark without reformatting).
local function book_position(position_key, risk_positions, marks, positions_index, symbol, fill, price, fee,
                             leverage, now_ms)
  local pos = redis.call('HMGET', position_key, 'qty', 'avg_entry', 'realized_pnl', 'fees', 'trades')
  local qty, entry = tonumber(pos[1] or '0'), tonumber(pos[2] or '0')
  local realized_total, fees, trades = tonumber(pos[3] or '0'), tonumber(pos[4] or '0'), tonumber(pos[5] or '0')
  local new_qty, new_entry, realized = apply_fill(qty, entry, fill, tonumber(price))
  redis.call('HSET', position_key, 'symbol', symbol, 'qty', string.format('%.10f', new_qty),
    'avg_entry', string.format('%.10f', new_entry),
    'notional_usd', string.format('%.8f', new_qty * new_entry),
    'realized_pnl', string.format('%.8f', realized_total + realized),
    'fees', string.format('%.8f', fees + fee),
    'leverage', leverage, 'trades', trades + 1, 'updated_ms', now_ms)
  redis.call('HSET', risk_positions, symbol, string.format('%.10f', new_qty))
  redis.call('HSET', marks, symbol, price)
  redis.call('SADD', positions_index, symbol)
end
