/**
 * Lua functions shared by the call record scripts (store.ts) and the batch scripts
 * (batch-store.ts): a call job that belongs to a batch (record field `bkey` = the batch's hash
 * key) moves between its batch's counters in the same script that changes its state, so the
 * counts are exact whatever crashes; a single call pays one HGET that finds nothing.
 *
 * Batch hash fields read here: `n:<state>` (jobs in each state), `created` (jobs made from rows),
 * `total` (accepted rows), `state`, `ttl`, `finishedAt`. A batch is finished when every job made
 * is final and every row was made into a job, or it was cancelled (rows never expanded are
 * counted as cancelled when read). A finished batch's keys expire after `ttl` seconds.
 */
export const BATCH_COUNTERS_LUA = `
local function sbqBatchFinish(b, now)
  local c = redis.call('HMGET', b, 'n:completed', 'n:failed', 'n:cancelled', 'created', 'total', 'state', 'ttl', 'finishedAt')
  if c[8] then return 0 end
  local created = tonumber(c[4]) or 0
  if (tonumber(c[1]) or 0) + (tonumber(c[2]) or 0) + (tonumber(c[3]) or 0) < created then return 0 end
  if c[6] ~= 'cancelled' then
    if created < (tonumber(c[5]) or 0) then return 0 end
    redis.call('HSET', b, 'state', 'done')
  end
  redis.call('HSET', b, 'finishedAt', now, 'updatedAt', now)
  local ttl = tonumber(c[7]) or 0
  if ttl > 0 then
    for _, k in ipairs({b, b .. ':rows', b .. ':held', b .. ':rejected'}) do redis.call('EXPIRE', k, ttl) end
  end
  return 1
end
local function sbqBatchCount(rec, from, to, now)
  if from == to then return end
  local b = redis.call('HGET', rec, 'bkey')
  if not b or redis.call('EXISTS', b) == 0 then return end
  if from == '' then redis.call('HINCRBY', b, 'created', 1) else redis.call('HINCRBY', b, 'n:' .. from, -1) end
  redis.call('HINCRBY', b, 'n:' .. to, 1)
  redis.call('HSET', b, 'updatedAt', now)
  if to == 'completed' or to == 'failed' or to == 'cancelled' then sbqBatchFinish(b, now) end
end
`;
