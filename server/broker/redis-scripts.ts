/**
 * The Lua scripts of the Redis broker. Each one runs atomically inside Redis, so offset
 * assignment, history append and PUBLISH happen as one step: the order of publications on a
 * topic channel is their offset order, on every node.
 *
 * Times come from Redis (`TIME`), never from a node's clock.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

/** A Lua script with its SHA1, run with EVALSHA (falling back to EVAL after a Redis restart). */
export interface LuaScript {
  /** Lua source. */
  readonly source: string;
  /** SHA1 of the source, for EVALSHA. */
  readonly sha: string;
}

function lua(source: string): LuaScript {
  return { source, sha: createHash("sha1").update(source).digest("hex") };
}

const NOW_MS = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
`;

/** Creates the stream meta (new epoch, offset -1, old history dropped) when it is missing. */
const ENSURE_STREAM = `
local epoch = redis.call('HGET', KEYS[1], 'e')
local top = -1
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'e', epoch, 'o', -1)
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
else
  top = tonumber(redis.call('HGET', KEYS[1], 'o'))
end
`;

/**
 * Publish. KEYS: meta, history, [idempotency]. ARGV: candidate epoch, meta TTL ms, data JSON,
 * history size, history TTL ms, channel, idempotency TTL ms.
 * Returns {1, record} for a new publication or {0, record} for an idempotent repeat, where
 * record is `<epoch>:<offset>:<data JSON>`.
 */
export const PUBLISH_SCRIPT: LuaScript = lua(`
if KEYS[3] then
  local previous = redis.call('GET', KEYS[3])
  if previous then return {0, previous} end
end
${ENSURE_STREAM}
local offset = redis.call('HINCRBY', KEYS[1], 'o', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local size = tonumber(ARGV[4])
if size > 0 then
  ${NOW_MS}
  redis.call('XADD', KEYS[2], 'MAXLEN', size, offset .. '-1', 'd', ARGV[3], 't', now)
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
end
local record = epoch .. ':' .. offset .. ':' .. ARGV[3]
if KEYS[3] then redis.call('SET', KEYS[3], record, 'PX', ARGV[7]) end
redis.call('PUBLISH', ARGV[6], 'p' .. record)
return {1, record}
`);

/**
 * Top. KEYS: meta, history. ARGV: candidate epoch, meta TTL ms. Returns {epoch, offset}.
 */
export const TOP_SCRIPT: LuaScript = lua(`
${ENSURE_STREAM}
return {epoch, top}
`);

/**
 * History. KEYS: meta, history. ARGV: candidate epoch, meta TTL ms, since offset, limit,
 * history TTL ms. Returns {epoch, top, truncated (0/1), offset1, data1, offset2, data2, ...}.
 * A publication older than the history TTL counts as no longer retained.
 */
export const HISTORY_SCRIPT: LuaScript = lua(`
${ENSURE_STREAM}
local since = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local result = {epoch, top, 0}
if top <= since then return result end
local count = limit
if count < 1 then count = 1 end
local entries = redis.call('XRANGE', KEYS[2], (since + 1) .. '-0', '+', 'COUNT', count)
if #entries == 0 then
  result[3] = 1
  return result
end
${NOW_MS}
local oldest = now - tonumber(ARGV[5])
local taken = 0
for i, entry in ipairs(entries) do
  local offset = tonumber(string.match(entry[1], '^(%d+)'))
  local fields = entry[2]
  local data, stamp = nil, 0
  for f = 1, #fields, 2 do
    if fields[f] == 'd' then data = fields[f + 1] elseif fields[f] == 't' then stamp = tonumber(fields[f + 1]) end
  end
  if i == 1 and offset ~= since + 1 then result[3] = 1 end
  if stamp < oldest or data == nil then
    result[3] = 1
  elseif taken < limit then
    taken = taken + 1
    result[#result + 1] = offset
    result[#result + 1] = data
  end
end
return result
`);

/**
 * Presence add or refresh. KEYS: members, deadlines, users, global expiry set.
 * ARGV: connection id, user id, stored member, member TTL ms, key TTL ms, global expiry member,
 * channel. Emits join when this is the user's first connection in the topic. Returns 1 when the
 * member is new.
 */
export const PRESENCE_ADD_SCRIPT: LuaScript = lua(`
${NOW_MS}
local deadline = now + tonumber(ARGV[4])
local existed = redis.call('HEXISTS', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[2], deadline, ARGV[1])
redis.call('ZADD', KEYS[4], deadline, ARGV[6])
local added = 0
if existed == 0 then
  added = 1
  if redis.call('HINCRBY', KEYS[3], ARGV[2], 1) == 1 then
    redis.call('PUBLISH', ARGV[7], 'j' .. ARGV[3])
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('PEXPIRE', KEYS[3], ARGV[5])
return added
`);

/**
 * Presence remove. KEYS: members, deadlines, users, global expiry set.
 * ARGV: connection id, global expiry member, channel, only-if-expired ("1" for the sweep).
 * Emits leave when it was the user's last connection in the topic. Returns 1 when removed.
 */
export const PRESENCE_REMOVE_SCRIPT: LuaScript = lua(`
if ARGV[4] == '1' then
  ${NOW_MS}
  local deadline = redis.call('ZSCORE', KEYS[2], ARGV[1])
  if deadline and tonumber(deadline) > now then return 0 end
end
redis.call('ZREM', KEYS[4], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[1])
local member = redis.call('HGET', KEYS[1], ARGV[1])
if not member then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
local user = string.sub(member, string.find(member, '\\n', 1, true) + 1)
if redis.call('HINCRBY', KEYS[3], user, -1) <= 0 then
  redis.call('HDEL', KEYS[3], user)
  redis.call('PUBLISH', ARGV[3], 'l' .. member)
end
return 1
`);

/**
 * Presence update. KEYS: members. ARGV: connection id, data JSON, channel.
 * Replaces the member's data and emits update. Returns 1 when the member exists.
 */
export const PRESENCE_UPDATE_SCRIPT: LuaScript = lua(`
local member = redis.call('HGET', KEYS[1], ARGV[1])
if not member then return 0 end
local updated = ARGV[2] .. string.sub(member, (string.find(member, '\\n', 1, true)))
redis.call('HSET', KEYS[1], ARGV[1], updated)
redis.call('PUBLISH', ARGV[3], 'u' .. updated)
return 1
`);

/** Presence list. KEYS: members, deadlines. Returns {connection id, member, ...} of every unexpired member. */
export const PRESENCE_LIST_SCRIPT: LuaScript = lua(`
${NOW_MS}
local all = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #all, 2 do
  local deadline = redis.call('ZSCORE', KEYS[2], all[i])
  if deadline and tonumber(deadline) > now then
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
  end
end
return out
`);

/** Expired presence entries. KEYS: global expiry set. ARGV: max count. Returns expiry members. */
export const PRESENCE_EXPIRED_SCRIPT: LuaScript = lua(`
${NOW_MS}
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
`);

/** Runs a script with EVALSHA, loading it with EVAL when Redis does not know it (NOSCRIPT). */
export async function runScript(
  redis: Redis,
  script: LuaScript,
  keys: string[],
  args: (string | number)[],
): Promise<unknown> {
  try {
    return await redis.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith("NOSCRIPT")) {
      return await redis.eval(script.source, keys.length, ...keys, ...args);
    }
    throw error;
  }
}
