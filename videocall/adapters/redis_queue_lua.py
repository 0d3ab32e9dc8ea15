"""Lua scripts for ``redis_queue``: each runs atomically inside Redis, which is what makes an
accept exclusive across every node. All scripts get the same KEYS, in ``KEY_NAMES`` order, so
they share one prelude; a per-call tombstone key comes last where needed.

Entries: ``entries`` (hash record id -> card JSON), ordered by ``q:priority`` and ``q:normal``
(zsets scored by a global ``seq``), and ``gone`` (zset record id -> grace deadline, epoch s).
Calls: ``pairings`` (hash call id -> pairing JSON), ``sessions`` / ``versions`` (the saved
session and its compare-and-set version) and ``deadlines`` (zset call id -> next deadline).
"""

from __future__ import annotations

KEY_NAMES = (
    "seq",
    "q:priority",
    "q:normal",
    "entries",
    "gone",
    "presence",
    "available",
    "officer_call",
    "participant_call",
    "pairings",
    "sessions",
    "versions",
    "deadlines",
    "recent",
)

_PRELUDE = """
local seq_key, prio, normal, entries, gone, presence, available, officer_call,
      participant_call, pairings, sessions, versions, deadlines, recent = unpack(KEYS, 1, 14)

-- {card json, lane, seq, grace deadline or ''}, or nil when not waiting
local function entry_of(rid)
  local json = redis.call('HGET', entries, rid)
  if not json then return nil end
  local lane, seq = 'priority', redis.call('ZSCORE', prio, rid)
  if not seq then lane, seq = 'normal', redis.call('ZSCORE', normal, rid) end
  return {json, lane, seq, redis.call('ZSCORE', gone, rid) or ''}
end

local function remove_entry(rid)
  redis.call('ZREM', prio, rid)
  redis.call('ZREM', normal, rid)
  redis.call('ZREM', gone, rid)
  return redis.call('HDEL', entries, rid)
end
"""

JOIN = (
    _PRELUDE
    + """
local rid, card, lane = ARGV[1], ARGV[2], ARGV[3]
if redis.call('HEXISTS', participant_call, rid) == 1 then return {'already_in_call'} end
local target = normal
if lane == 'priority' then target = prio end
if redis.call('HEXISTS', entries, rid) == 1 then
  redis.call('ZREM', gone, rid)  -- joining again while in the grace window: reconnected
  if target == prio and redis.call('ZSCORE', normal, rid) then
    -- promoted (a booked time): the priority lane's tail; the card keeps its joined_at
    redis.call('ZREM', normal, rid)
    redis.call('ZADD', prio, redis.call('INCR', seq_key), rid)
  end
else
  local seq = redis.call('INCR', seq_key)
  redis.call('ZADD', target, seq, rid)
  redis.call('HSET', entries, rid, card)
end
return {'ok', unpack(entry_of(rid))}
"""
)

LEAVE = _PRELUDE + "return remove_entry(ARGV[1])\n"

DISCONNECT = (
    _PRELUDE
    + """
local rid = ARGV[1]
if redis.call('HEXISTS', entries, rid) == 0 then return nil end
redis.call('ZADD', gone, 'NX', ARGV[2], rid)  -- NX: a second disconnect keeps the first deadline
return entry_of(rid)
"""
)

RECONNECT = (
    _PRELUDE
    + """
local rid = ARGV[1]
redis.call('ZREM', gone, rid)
return entry_of(rid)
"""
)

EXPIRE = (
    _PRELUDE
    + """
local ids = redis.call('ZRANGEBYSCORE', gone, '-inf', ARGV[1])
for _, rid in ipairs(ids) do remove_entry(rid) end
return ids
"""
)

ENTRY = _PRELUDE + "return entry_of(ARGV[1])\n"

SET_PRESENCE = (
    _PRELUDE
    + """
local officer, state = ARGV[1], ARGV[2]
if redis.call('HEXISTS', officer_call, officer) == 1 then return 'officer_busy' end
redis.call('HSET', presence, officer, state)
if state == 'available' then
  redis.call('SADD', available, officer)
else
  redis.call('SREM', available, officer)
end
return 'ok'
"""
)

# ARGV: officer, call id, paired_at (ISO), 'next' | 'assign', record id (assign only)
PAIR = (
    _PRELUDE
    + """
local officer, call_id, paired_at, mode, wanted = unpack(ARGV, 1, 5)

local function first_connected(zkey)
  local start = 0
  while true do
    local batch = redis.call('ZRANGE', zkey, start, start + 99)
    if #batch == 0 then return nil end
    for _, rid in ipairs(batch) do
      if not redis.call('ZSCORE', gone, rid) then return rid end
    end
    start = start + 100
  end
end

local existing = redis.call('HGET', pairings, call_id)
if existing then
  -- A retried command (the reply was lost): hand back the pairing it made.
  if cjson.decode(existing).officer_id ~= officer then return {'call_id_taken'} end
  return {'paired', existing}
end
if redis.call('HEXISTS', officer_call, officer) == 1 then return {'officer_busy'} end
local rid
if mode == 'assign' then
  if redis.call('HEXISTS', entries, wanted) == 0 then return {'not_waiting'} end
  if redis.call('ZSCORE', gone, wanted) then return {'participant_disconnected'} end
  if redis.call('HGET', presence, officer) ~= 'available' then return {'officer_unavailable'} end
  rid = wanted
else
  rid = first_connected(prio) or first_connected(normal)
  if not rid then return {'empty', tostring(redis.call('ZCARD', gone))} end
end
local e = entry_of(rid)
local pairing = '{"call_id":' .. cjson.encode(call_id)
  .. ',"officer_id":' .. cjson.encode(officer)
  .. ',"paired_at":' .. cjson.encode(paired_at)
  .. ',"record_id":' .. cjson.encode(rid)
  .. ',"lane":"' .. e[2] .. '","seq":' .. e[3] .. ',"entry":' .. e[1] .. '}'
remove_entry(rid)
redis.call('HSET', pairings, call_id, pairing)
redis.call('HSET', versions, call_id, 0)
redis.call('HSET', officer_call, officer, call_id)
redis.call('HSET', participant_call, rid, call_id)
redis.call('SREM', available, officer)
return {'paired', pairing}
"""
)

# ARGV: call id, expected version, new version, session JSON, deadline ('' = none),
#       record id, officer id, ended ('1'/'0'), officer presence, call seconds ('' = none),
#       requeue entry JSON ('' = no requeue), requeue grace deadline ('' = none),
#       history size, tombstone TTL seconds. KEYS[15]: the call's tombstone.
SAVE_CALL = (
    _PRELUDE
    + """
local call_id, expected, new_version, session, deadline, rid, officer, ended = unpack(ARGV, 1, 8)
local officer_presence, call_seconds, requeue_entry, requeue_until, history, ttl =
      unpack(ARGV, 9, 14)
local tombstone = KEYS[15]

local version = redis.call('HGET', versions, call_id)
if not version then
  -- Finished already; if by this very save (a retried command), report success again.
  if redis.call('GET', tombstone) == new_version then return 'ok' end
  return 'not_found'
end
if version ~= expected then
  if version == new_version and redis.call('HGET', sessions, call_id) == session then
    return 'ok'
  end
  return 'conflict'
end

if ended == '0' then
  redis.call('HSET', sessions, call_id, session)
  redis.call('HSET', versions, call_id, new_version)
  if deadline == '' then
    redis.call('ZREM', deadlines, call_id)
  else
    redis.call('ZADD', deadlines, deadline, call_id)
  end
  return 'ok'
end

redis.call('HDEL', pairings, call_id)
redis.call('HDEL', sessions, call_id)
redis.call('HDEL', versions, call_id)
redis.call('ZREM', deadlines, call_id)
if redis.call('HGET', officer_call, officer) == call_id then
  redis.call('HDEL', officer_call, officer)
end
if redis.call('HGET', participant_call, rid) == call_id then
  redis.call('HDEL', participant_call, rid)
end
redis.call('HSET', presence, officer, officer_presence)
if officer_presence == 'available' then
  redis.call('SADD', available, officer)
else
  redis.call('SREM', available, officer)
end
if call_seconds ~= '' then
  redis.call('LPUSH', recent, call_seconds)
  redis.call('LTRIM', recent, 0, tonumber(history) - 1)
end
if requeue_entry ~= '' then
  local seq = redis.call('INCR', seq_key)
  redis.call('ZREM', normal, rid)
  redis.call('ZADD', prio, seq, rid)
  redis.call('HSET', entries, rid, requeue_entry)
  if requeue_until == '' then
    redis.call('ZREM', gone, rid)
  else
    redis.call('ZADD', gone, requeue_until, rid)
  end
end
redis.call('SET', tombstone, new_version, 'EX', ttl)
return 'ok'
"""
)

# Connections: KEYS ``conns`` (hash sid -> node .. "\n" .. who), ``conn_count`` (hash who -> n).
# ARGV: sid, node, who.
ADD_CONNECTION = """
local conns, counts = KEYS[1], KEYS[2]
local sid, node, who = ARGV[1], ARGV[2], ARGV[3]
if redis.call('HSETNX', conns, sid, node .. '\\n' .. who) == 0 then
  return tonumber(redis.call('HGET', counts, who) or '0')  -- a retried command
end
return redis.call('HINCRBY', counts, who, 1)
"""

# ARGV: sid, who. A socket already forgotten (a retry, or dropped with its node) changes nothing.
REMOVE_CONNECTION = """
local conns, counts = KEYS[1], KEYS[2]
local sid, who = ARGV[1], ARGV[2]
if redis.call('HDEL', conns, sid) == 1 then
  local left = redis.call('HINCRBY', counts, who, -1)
  if left <= 0 then redis.call('HDEL', counts, who) end
end
return tonumber(redis.call('HGET', counts, who) or '0')
"""

# ARGV: node. Scans every connection: a node is lost rarely, and this keeps one flat hash.
DROP_NODE_CONNECTIONS = """
local conns, counts = KEYS[1], KEYS[2]
local all, left = redis.call('HGETALL', conns), {}
for i = 1, #all, 2 do
  local value = all[i + 1]
  local cut = string.find(value, '\\n', 1, true)
  if string.sub(value, 1, cut - 1) == ARGV[1] then
    local who = string.sub(value, cut + 1)
    redis.call('HDEL', conns, all[i])
    if redis.call('HINCRBY', counts, who, -1) <= 0 then
      redis.call('HDEL', counts, who)
      table.insert(left, who)
    end
  end
end
return left
"""
