"""The Lua scripts that keep a room's names in Redis, and how to read what they answer.

Each script runs atomically in Redis: no other server's command runs in between, so two
servers never take one name. A room's names are a hash, ``chatkit:names:<room>``, of
name -> ``"<join number> <member id>"`` (the number zero-padded to 15 digits, so the
values sort in join order); ``chatkit:seq:<room>`` counts joins and roster versions.
Most scripts answer ``{ok, version, HGETALL of the names}``; :func:`roster` reads the
last part::

    >>> roster(["ann", "000000000000002 b1:1", "jenny", "000000000000001 a7:3"])
    [('jenny', 'a7:3'), ('ann', 'b1:1')]

No I/O here: :class:`chatkit.redis.hub.RedisHub` registers the scripts (:data:`SCRIPTS`)
with redis-py and runs them.
"""

from __future__ import annotations

__all__ = ["CLAIM", "RENAME", "RELEASE", "ROSTER", "SWEEP", "RESYNC", "SCRIPTS", "roster"]

# Each script runs atomically in Redis: no other server's command runs in between.
CLAIM = """
local seq = redis.call('INCR', KEYS[2])
local ok = redis.call('HSETNX', KEYS[1], ARGV[1], string.format('%015d', seq) .. ' ' .. ARGV[2])
if ok == 1 then
  redis.call('SADD', KEYS[3], ARGV[3])
  redis.call('PERSIST', KEYS[4])
end
return {ok, seq, redis.call('HGETALL', KEYS[1]), last_id(KEYS[4])}
"""
RENAME = """
local seq = redis.call('INCR', KEYS[2])
local value = redis.call('HGET', KEYS[1], ARGV[1])
local ok = 0
if value and string.sub(value, -#ARGV[3] - 1) == ' ' .. ARGV[3] then
  ok = redis.call('HSETNX', KEYS[1], ARGV[2], value)
  if ok == 1 then redis.call('HDEL', KEYS[1], ARGV[1]) end
elseif not value then
  ok = redis.call('HSETNX', KEYS[1], ARGV[2], string.format('%015d', seq) .. ' ' .. ARGV[3])
end
return {ok, seq, redis.call('HGETALL', KEYS[1])}
"""
# ARGV: name, member id, room, "last" if no member of this server is left in the room.
# A room nobody is in any more leaves no keys: its counter goes, its stream expires.
RELEASE = """
local value = redis.call('HGET', KEYS[1], ARGV[1])
local n = 0
if value and string.sub(value, -#ARGV[2] - 1) == ' ' .. ARGV[2] then
  n = redis.call('HDEL', KEYS[1], ARGV[1])
end
if ARGV[4] == 'last' then redis.call('SREM', KEYS[3], ARGV[3]) end
if redis.call('HLEN', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[2])
  redis.call('PEXPIRE', KEYS[4], 5000)
  return {n, 0, {}}
end
return {n, redis.call('INCR', KEYS[2]), redis.call('HGETALL', KEYS[1])}
"""
ROSTER = """
return {0, tonumber(redis.call('GET', KEYS[2]) or '0'), redis.call('HGETALL', KEYS[1])}
"""
# ARGV: the dead server's id, the key prefix. Returns {room, version, {gone...}, roster}...
SWEEP = """
local sid, prefix = ARGV[1], ARGV[2]
if redis.call('EXISTS', prefix .. ':alive:' .. sid) == 1 then return {} end
local out = {}
local rooms_key = prefix .. ':rooms-of:' .. sid
for _, room in ipairs(redis.call('SMEMBERS', rooms_key)) do
  local names = prefix .. ':names:' .. room
  local flat = redis.call('HGETALL', names)
  local gone = {}
  for i = 1, #flat, 2 do
    if string.find(flat[i + 1], ' ' .. sid .. ':', 1, true) then
      redis.call('HDEL', names, flat[i])
      table.insert(gone, {flat[i + 1], flat[i]})
    end
  end
  if #gone > 0 then
    table.sort(gone, function(a, b) return a[1] < b[1] end)
    local gone_names = {}
    for _, pair in ipairs(gone) do table.insert(gone_names, pair[2]) end
    local seq = redis.call('INCR', prefix .. ':seq:' .. room)
    table.insert(out, {room, seq, gone_names, redis.call('HGETALL', names)})
    if redis.call('HLEN', names) == 0 then
      redis.call('DEL', prefix .. ':seq:' .. room)
      redis.call('PEXPIRE', prefix .. ':stream:' .. room, 5000)
    end
  end
end
redis.call('DEL', rooms_key)
redis.call('SREM', KEYS[1], sid)
return out
"""
# After a reconnection: make Redis hold exactly this server's members of one room.
# ARGV: server id, room, then (member id, name, join number or 0) triples; a join number
# kept from before puts the member back in its place. Returns {version, clashes, roster,
# the stream's last id, the names put back (they were not in Redis)}.
RESYNC = """
local names, sid = KEYS[1], ARGV[1]
local mine = {}
for i = 3, #ARGV, 3 do mine[ARGV[i]] = ARGV[i + 1] end
local present = {}
local flat = redis.call('HGETALL', names)
for i = 1, #flat, 2 do
  local mid = string.match(flat[i + 1], ' (.*)$')
  if string.find(mid, sid .. ':', 1, true) == 1 then
    if mine[mid] == flat[i] then present[mid] = true else redis.call('HDEL', names, flat[i]) end
  end
end
local clashes, back = {}, {}
for i = 3, #ARGV, 3 do
  if not present[ARGV[i]] then
    local seq = tonumber(ARGV[i + 2])
    if seq > tonumber(redis.call('GET', KEYS[2]) or '0') then redis.call('SET', KEYS[2], seq) end
    if seq == 0 then seq = redis.call('INCR', KEYS[2]) end
    local value = string.format('%015d', seq) .. ' ' .. ARGV[i]
    if redis.call('HSETNX', names, ARGV[i + 1], value) == 0 then
      table.insert(clashes, ARGV[i + 1])
    else
      table.insert(back, ARGV[i + 1])
    end
  end
end
if #ARGV > 2 then
  redis.call('SADD', KEYS[3], ARGV[2])
  redis.call('PERSIST', KEYS[4])
else
  redis.call('SREM', KEYS[3], ARGV[2])
end
return {redis.call('INCR', KEYS[2]), clashes, redis.call('HGETALL', names), last_id(KEYS[4]), back}
"""

# The last id of a stream, "0-0" if there is none: where a server starts reading it.
LAST_ID = """
local function last_id(key)
  local last = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)
  if last[1] then return last[1][1] end
  return '0-0'
end
"""

#: Every script, by the name the hub calls it by.
SCRIPTS = {"claim": LAST_ID + CLAIM, "rename": RENAME, "release": RELEASE,
           "roster": ROSTER, "sweep": SWEEP, "resync": LAST_ID + RESYNC}


def roster(flat: list[str], seqs: dict[str, int] | None = None) -> list[tuple[str, str]]:
    """Redis's ``HGETALL`` of a room's names as ``[(name, member id)]``, in join order.

    ``seqs``, if given, is filled with each member id's join number::

        >>> seqs = {}
        >>> roster(["ann", "000000000000007 b1:1"], seqs), seqs
        ([('ann', 'b1:1')], {'b1:1': 7})

    """
    pairs = sorted((flat[i + 1], flat[i]) for i in range(0, len(flat), 2))
    entries = []
    for value, name in pairs:
        seq, member_id = value.split(" ", 1)
        entries.append((name, member_id))
        if seqs is not None:
            seqs[member_id] = int(seq)
    return entries
