/**
 * Lua scripts: each order or message transition is one atomic round trip to Redis, so two
 * workers (or a worker and the intake) can never interleave half a transition.
 * Shared convention: KEYS = msg, lease, order, history; ARGV[1] = owner, ARGV[2] = now (ISO),
 * ARGV[3] = "1" when the subscription tracks order status.
 */

import { TERMINAL_STATUSES } from "../domain/order";

/**
 * Ends an order `cancelled` now: KEYS order and history, the history entry, and how long the
 * finished order is kept. Returns what a transition answers: {'cancelled', history length, doc}.
 */
const CANCEL_NOW = `
local function cancelNow(order, history, now, entry, retentionMs)
  redis.call('HSET', order, 'status', 'cancelled', 'updatedAt', now)
  redis.call('HDEL', order, 'nextRetryAt', 'cancelRequested')
  local length = redis.call('RPUSH', history, entry)
  redis.call('PEXPIRE', order, retentionMs)
  redis.call('PEXPIRE', history, retentionMs)
  return {'cancelled', tostring(length), redis.call('HGET', order, 'doc')}
end`;

const TERMINAL = `local terminal = { ${TERMINAL_STATUSES.map((status) => `${status} = true`).join(", ")} }`;

/**
 * What a request with this body finds under an idempotency key, and the key's order id: nothing
 * (no key), `mismatch` (another body), `replay` (its order was accepted), `in_flight` (its
 * request still holds it) or `abandoned` (its request is past its lease: it never finished).
 */
const IDEMPOTENCY_KEY_STATE = `
local function idempotencyKeyState(key, fingerprint, nowMs)
  local claim = redis.call('HMGET', key, 'fingerprint', 'orderId', 'state', 'leaseUntil')
  if not claim[1] then return nil end
  if claim[1] ~= fingerprint then return 'mismatch', claim[2] end
  if claim[3] == 'done' then return 'replay', claim[2] end
  if tonumber(claim[4] or '0') > tonumber(nowMs) then return 'in_flight', claim[2] end
  return 'abandoned', claim[2]
end`;

/**
 * Adds an order id to a listing index (all orders, or a customer's): the indexes sort ids as
 * text, which for time-ordered ids is creation order; now and then (`oldestKept` not '') they
 * forget ids older than the retention, as the orders do. A customer's index expires with its
 * newest order (`expires`).
 */
const ADD_TO_INDEX = `
local function addToIndex(index, orderId, oldestKept, retentionMs, expires)
  redis.call('ZADD', index, 0, orderId)
  if oldestKept ~= '' then redis.call('ZREMRANGEBYLEX', index, '-', '(' .. oldestKept) end
  if expires then redis.call('PEXPIRE', index, retentionMs) end
end`;

/**
 * Writes an `accepted` order: KEYS[1..4] = order, history, order index, customer's order index;
 * the doc, when it was created and last updated, its first history entry, how long it is kept,
 * its id, and the oldest id the indexes keep ('' : no trim this time). On Redis Cluster the
 * indexes are in other slots: the caller passes the order's key in their place and writes
 * them itself (ADD_TO_INDEX_ALONE).
 */
const RECORD_ORDER = `
${ADD_TO_INDEX}
local function recordOrder(doc, createdAt, updatedAt, entry, retentionMs, orderId, oldestKept)
  redis.call('HSET', KEYS[1], 'doc', doc, 'status', 'accepted', 'attempts', 0,
    'createdAt', createdAt, 'updatedAt', updatedAt)
  redis.call('RPUSH', KEYS[2], entry)
  redis.call('PEXPIRE', KEYS[1], retentionMs)
  redis.call('PEXPIRE', KEYS[2], retentionMs)
  if KEYS[3] ~= KEYS[1] then
    addToIndex(KEYS[3], orderId, oldestKept, retentionMs, false)
    addToIndex(KEYS[4], orderId, oldestKept, retentionMs, true)
  end
end`;

/**
 * KEYS: one listing index · ARGV: orderId, oldest id kept ('' : no trim), retentionMs, '1' when
 * the index expires with its newest order · the index write of RECORD_ORDER on its own, for
 * Redis Cluster (done before the order is written: the listing skips ids without a record).
 */
export const ADD_TO_INDEX_ALONE = `
${ADD_TO_INDEX}
addToIndex(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4] == '1')
return 1
`;

/**
 * KEYS: order, history, order index, customer's order index, idem? · ARGV: doc, now, entry,
 * retentionMs, orderId, oldest id kept ('' : no trim this time), fingerprint?, idemTtlMs?,
 * nowMs?, leaseUntilMs? · an
 * idempotency key stays `pending` from here until the broker confirmed the order; its request
 * holds it until `leaseUntil`. A pending key past its lease belongs to a request that never
 * finished (its process died): `abandoned`, for this request to take over.
 */
export const CREATE_ORDER = `
${IDEMPOTENCY_KEY_STATE}
${RECORD_ORDER}
if #KEYS == 5 then
  local state, orderId = idempotencyKeyState(KEYS[5], ARGV[7], ARGV[9])
  if state then return {state, orderId} end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
recordOrder(ARGV[1], ARGV[2], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
if #KEYS == 5 then
  redis.call('HSET', KEYS[5], 'fingerprint', ARGV[7], 'orderId', ARGV[5], 'state', 'pending',
    'owner', ARGV[5], 'leaseUntil', ARGV[10])
  redis.call('PEXPIRE', KEYS[5], ARGV[8])
end
return {'created'}
`;

/**
 * KEYS: idem, order · ARGV: fingerprint, orderId, nowMs, owner, leaseUntilMs · takes
 * over an abandoned key (see CREATE_ORDER), checking again that it still is abandoned. The order
 * its dead request recorded may or may not have reached the broker: `republish` when no worker
 * has seen it yet (a second message is a duplicate the workers skip), `replay` when one has, and
 * `gone` when the record no longer exists (the key is freed).
 */
export const TAKE_OVER_ORDER = `
${IDEMPOTENCY_KEY_STATE}
local state, orderId = idempotencyKeyState(KEYS[1], ARGV[1], ARGV[3])
if not state then return {'gone'} end
if state == 'mismatch' then return {'mismatch'} end
-- The key now belongs to another order (freed and claimed again): that request is in flight.
if orderId ~= ARGV[2] then return {'in_flight'} end
if state ~= 'abandoned' then return {state} end
local order = redis.call('HMGET', KEYS[2], 'status', 'doc', 'createdAt')
if not order[1] then
  redis.call('DEL', KEYS[1])
  return {'gone'}
end
if order[1] ~= 'accepted' then
  redis.call('HSET', KEYS[1], 'state', 'done')
  return {'replay'}
end
redis.call('HSET', KEYS[1], 'owner', ARGV[4], 'leaseUntil', ARGV[5])
return {'republish', order[2], order[3]}
`;

/** KEYS: idem · ARGV: owner · a take-over whose publish failed lets the next retry try again at once. */
export const RELEASE_ORDER = `
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] and redis.call('HGET', KEYS[1], 'state') ~= 'done' then
  redis.call('HSET', KEYS[1], 'leaseUntil', 0)
end
return 1
`;

/** KEYS: idem · ARGV: orderId · the broker confirmed the order: repeats of its request replay it. */
export const CONFIRM_ORDER = `
if redis.call('HGET', KEYS[1], 'orderId') == ARGV[1] then redis.call('HSET', KEYS[1], 'state', 'done') end
return 1
`;

/**
 * KEYS: order, history, idem? · ARGV: orderId, markerTtlMs · the broker did not take the order: it must not
 * exist, unless a worker already received its message (then the broker had routed it and it
 * goes ahead: `taken`), or a retry of the same request took the key over (`superseded`: that
 * request publishes the order again and decides its fate). The idempotency key is freed only
 * if it is this order's.
 */
export const REJECT_ORDER = `
local status = redis.call('HGET', KEYS[1], 'status')
if status and status ~= 'accepted' then return 'taken' end
if #KEYS == 3 then
  local claim = redis.call('HMGET', KEYS[3], 'orderId', 'owner')
  if claim[1] == ARGV[1] and claim[2] and claim[2] ~= ARGV[1] then return 'superseded' end
end
-- What stays is a marker without the order: GET answers 404, and a worker that receives the
-- message after all (a late confirm) drops it instead of rebuilding the record from it.
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], 'rejected', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if #KEYS == 3 and redis.call('HGET', KEYS[3], 'orderId') == ARGV[1] then redis.call('DEL', KEYS[3]) end
return 'rejected'
`;

/**
 * KEYS: order, history, order index, customer's order index · ARGV: doc, createdAt, entry,
 * retentionMs, orderId, now · records an order again from its message, for a worker that found
 * no record (Redis lost it: a failover to a replica that had not received it yet). 1 when
 * rebuilt, 0 when a record (or a rejected marker) exists.
 */
export const REBUILD_ORDER = `
${RECORD_ORDER}
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
recordOrder(ARGV[1], ARGV[2], ARGV[6], ARGV[3], ARGV[4], ARGV[5], '')
return 1
`;

/**
 * KEYS: msg, lease, order, history · ARGV: owner, now, track, leaseMs, entry, retentionMs,
 * dead holder ('' : none), cancelled entry. A claim held by another owner answers `busy`,
 * unless that owner is the dead holder (the caller found its process's alive key expired: it
 * crashed), whose claim is taken over at once instead of waiting out the lease. A cancelled order's message
 * is dropped; one whose cancel was requested while a handler ran (that handler's process died
 * before it reported back) ends cancelled now: `{'cancelled', history length, doc}`. An order
 * with no record at all answers `{'missing'}` (see REBUILD_ORDER); one the intake rejected, `dropped`.
 */
export const CLAIM = `
${TERMINAL}
${CANCEL_NOW}
local done = redis.call('HGET', KEYS[1], 'done')
if done then return {'duplicate', done} end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[1] and holder ~= ARGV[7] then return {'busy', holder} end
local status
if ARGV[3] == '1' then
  status = redis.call('HGET', KEYS[3], 'status')
  if not status then
    if redis.call('HEXISTS', KEYS[3], 'rejected') == 1 then return {'dropped', 'rejected at intake'} end
    return {'missing', ''}
  end
  if status == 'expired' or status == 'cancelled' then return {'dropped', status} end
  if terminal[status] then return {'duplicate', status} end
  if redis.call('HGET', KEYS[3], 'cancelRequested') == '1' then
    return cancelNow(KEYS[3], KEYS[4], ARGV[2], ARGV[8], ARGV[6])
  end
end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[4])
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[6])
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[3], 'status', 'processing', 'attempts', attempts, 'updatedAt', ARGV[2])
  -- Only a retry sets nextRetryAt.
  if status == 'retrying' then redis.call('HDEL', KEYS[3], 'nextRetryAt') end
  redis.call('RPUSH', KEYS[4], ARGV[5])
end
return {'run', tostring(attempts)}
`;

/** KEYS: lease · ARGV: owner, leaseMs · extends a claim only while we still own it. */
export const EXTEND_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`;

/** KEYS: lease · ARGV: owner · gives a claim back (crash-free early exit, shutdown). */
export const RELEASE_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * Ends a message: KEYS msg, lease, order, history · ARGV owner, now, track, outcome, entry,
 * retentionMs, then field/value pairs for the order hash.
 * outcome 'completed' | 'dead_lettered' ends it (later copies are duplicates);
 * 'retrying' only releases the claim. Returns {1, history length, order doc} when the order
 * took the new status (the event announcing it needs both), {0} otherwise.
 */
export const FINISH = `
${TERMINAL}
local outcome = ARGV[4]
if outcome ~= 'retrying' then
  redis.call('HSET', KEYS[1], 'done', outcome)
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
if ARGV[3] ~= '1' then return {1} end
local order = redis.call('HMGET', KEYS[3], 'status', 'doc')
local status = order[1]
if not status or terminal[status] then return {0} end
local set = {'status', outcome, 'updatedAt', ARGV[2]}
local removed = {}
for i = 7, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    removed[#removed + 1] = ARGV[i]
  else
    set[#set + 1] = ARGV[i]; set[#set + 1] = ARGV[i + 1]
  end
end
redis.call('HSET', KEYS[3], unpack(set))
if #removed > 0 then redis.call('HDEL', KEYS[3], unpack(removed)) end
local length = redis.call('RPUSH', KEYS[4], ARGV[5])
if terminal[outcome] then
  redis.call('HDEL', KEYS[3], 'cancelRequested')
  redis.call('PEXPIRE', KEYS[3], ARGV[6])
  redis.call('PEXPIRE', KEYS[4], ARGV[6])
end
return {1, length, order[2]}
`;

/**
 * KEYS: order, history · ARGV: now, entry, replayedAt ('' for the timeout scheduled at
 * acceptance) · ends an unfinished order 'expired' if this timeout is its latest; answers like FINISH.
 */
export const EXPIRE_ORDER = `
${TERMINAL}
local fields = redis.call('HMGET', KEYS[1], 'status', 'replayedAt')
local status = fields[1]
if not status or terminal[status] then return {0} end
-- A replay re-opened the order after this timeout was scheduled: the replay's own timeout ends it.
if (fields[2] or '') ~= ARGV[3] then return {0} end
redis.call('HSET', KEYS[1], 'status', 'expired', 'updatedAt', ARGV[1])
redis.call('HDEL', KEYS[1], 'nextRetryAt')
local length = redis.call('RPUSH', KEYS[2], ARGV[2])
return {1, length, redis.call('HGET', KEYS[1], 'doc')}
`;

/**
 * KEYS: msg, order, history · ARGV: now, entry, track, retentionMs · re-opens a dead-lettered message for a
 * replay: attempts start again from 0 and the dedup marker is cleared. `replayedAt` = now marks
 * the timeouts scheduled before as stale (see EXPIRE_ORDER).
 */
export const REOPEN = `
redis.call('DEL', KEYS[1])
if ARGV[3] ~= '1' then return 1 end
local status = redis.call('HGET', KEYS[2], 'status')
if status ~= 'dead_lettered' then return 0 end
redis.call('HSET', KEYS[2], 'status', 'accepted', 'attempts', 0, 'updatedAt', ARGV[1], 'replayedAt', ARGV[1])
redis.call('HDEL', KEYS[2], 'error', 'nextRetryAt')
redis.call('RPUSH', KEYS[3], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
return 1
`;

/** KEYS: order · ARGV: callback state JSON · only for orders that still exist. */
export const SET_CALLBACK_STATE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'callback', ARGV[1])
return 1
`;

/**
 * KEYS: order, history, lease of the order's message · ARGV: now, entry, retentionMs, the
 * holder of the lease as the caller found it, and whether that holder's process runs ('1') ·
 * cancels an order. One that no handler is running for ends `cancelled` now (`{'cancelled',
 * history length, doc}`: its queued or retrying message is dropped when it arrives). While a
 * live process holds the message's lease only `cancelRequested` is set (`{'requested'}`): that
 * handler is told, and the order ends when it settles. A lease held by another holder than the
 * caller's answers `{'held', holder}`: the caller finds out whether its process runs and asks
 * again. A cancelled order answers `{'already'}`, another terminal one `{'conflict', status}`,
 * none `{'unknown'}`.
 */
export const CANCEL_ORDER = `
${TERMINAL}
${CANCEL_NOW}
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'unknown'} end
if status == 'cancelled' then return {'already'} end
if terminal[status] then return {'conflict', status} end
if status == 'processing' then
  local holder = redis.call('GET', KEYS[3])
  if holder and holder ~= ARGV[4] then return {'held', holder} end
  if holder and ARGV[5] == '1' then
    redis.call('HSET', KEYS[1], 'cancelRequested', '1', 'updatedAt', ARGV[1])
    return {'requested'}
  end
end
return cancelNow(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3])
`;

/** Redis's clock in ms, so that every replica's slots and rate share one time. */
const REDIS_NOW_MS = `
local clock = redis.call('TIME')
local nowMs = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
`;

/**
 * KEYS: slots (a sorted set: holder → lease expiry in ms) · ARGV: owner, limit, leaseMs, then
 * holders known dead · takes one of `limit` slots for the owner: 1, or when all are held the
 * holders. Holders whose lease ran out give up their slot here, and so do the dead ones the
 * caller names (their process's alive key expired: it was killed; the caller looks, because on
 * Redis Cluster alive keys are in other slots), so a dead worker holds a key back for seconds,
 * not for a whole lease.
 */
export const ACQUIRE_SLOT = `
${REDIS_NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', nowMs)
for index = 4, #ARGV do redis.call('ZREM', KEYS[1], ARGV[index]) end
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return redis.call('ZRANGE', KEYS[1], 0, -1)
end
redis.call('ZADD', KEYS[1], nowMs + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

/** KEYS: slots · ARGV: owner, leaseMs · extends a slot while the owner still holds it (1, else 0). */
export const EXTEND_SLOT = `
${REDIS_NOW_MS}
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], nowMs + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

/**
 * KEYS: rate (when the next start is due, ms) · ARGV: interval between starts (ms), count ·
 * books `count` starts one interval apart and answers in how many ms the first is due (≤ 0:
 * now). Starts keep to a grid of one interval (a start a little late does not push the later
 * ones back), so no second ever holds more than perSecond + 1 of them.
 */
export const BOOK_RATE_TURNS = `
${REDIS_NOW_MS}
local interval = tonumber(ARGV[1])
local due = tonumber(redis.call('GET', KEYS[1]) or '0')
if nowMs - due >= interval then due = nowMs end
local booked = due + interval * tonumber(ARGV[2])
redis.call('SET', KEYS[1], tostring(booked), 'PX', math.ceil(booked - nowMs) + 1000)
return tostring(due - nowMs)
`;

/** KEYS: slots · ARGV: owner · gives a slot back. */
export const RELEASE_SLOT = `return redis.call('ZREM', KEYS[1], ARGV[1])`;
