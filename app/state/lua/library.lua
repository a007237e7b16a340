-- Prepended to every script (app/state/scripts.py): helpers for scripts that work through a batch.

-- One item's failure becomes its own {'ERR', message} reply instead of failing the whole batch.
local function guarded(fn, ...)
  local ok, reply = pcall(fn, ...)
  if ok then return reply end
  return {'ERR', tostring(reply)}
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
