-- KEYS: intent stream; ARGV: group, consumer, entry ids. Resets the idle time of the entries still
-- pending for this consumer (XCLAIM JUSTID counts no delivery); an entry another replica has taken
-- meanwhile is left to it.
local claim = {'XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0}
for i = 3, #ARGV do
  if redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])[1] then claim[#claim + 1] = ARGV[i] end
end
if #claim == 5 then return 0 end
claim[#claim + 1] = 'JUSTID'
return #redis.call(unpack(claim))
