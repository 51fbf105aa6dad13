import { SwitchboardError } from '../errors.ts';
import { GLOBAL_BUCKET, QueueKeys, gatewayBucket, type Script, type ScriptClient } from './redis.ts';

export interface PacingLimit {
  /** Calls started per second (may be fractional: 0.5 = one every 2 s). */
  cps: number;
  /** Calls in progress at once (dialling, ringing or talking). */
  maxConcurrent: number;
}

/**
 * Limits every worker enforces together through Redis. The top-level limit covers all calls;
 * a gateway listed in perGateway must also stay within its own.
 */
export interface PacingOptions extends PacingLimit {
  perGateway?: Record<string, PacingLimit>;
}

export function checkPacing(p: PacingOptions): PacingOptions {
  const check = (where: string, l: PacingLimit): void => {
    if (!(typeof l.cps === 'number' && l.cps > 0 && l.cps <= 10_000)) throw new SwitchboardError('SB_QUEUE_BAD_OPTION', [`${where}.cps`, `${l.cps} must be a number above 0`]);
    if (!(Number.isInteger(l.maxConcurrent) && l.maxConcurrent >= 1)) throw new SwitchboardError('SB_QUEUE_BAD_OPTION', [`${where}.maxConcurrent`, `${l.maxConcurrent} must be an integer ≥ 1`]);
  };
  check('pacing', p);
  for (const [gw, l] of Object.entries(p.perGateway ?? {})) check(`pacing.perGateway.${gw}`, l);
  return p;
}

/**
 * One atomic decision over two buckets (all calls, and the call's gateway when it has limits),
 * on Redis's clock so every worker agrees on time:
 * - concurrency: live leases (member → expiry) below maxConcurrent;
 * - rate: on a schedule of one start every windowMs / cps (smooth, no bursts), and fewer than cps
 *   starts in the last windowMs (the hard "any 1 s window" rule, windowMs ≥ 1000). The schedule,
 *   not the time a start actually happened, sets the next slot, so the few ms each start takes
 *   (timer, Redis round trip) do not add up and the achieved rate is the configured one; a start
 *   later than half a slot moves the schedule (an idle bucket banks no burst).
 * Both pass → the start and the lease are recorded in every bucket: {1, now}. Otherwise nothing
 * is recorded: {0, waitMs, bucket} (rate: waitMs is exact), or {-1, waitMs, bucket} (concurrency:
 * waitMs is until the earliest lease would expire; a hangup usually frees a slot sooner).
 * KEYS: per bucket starts (zset), leases (zset), last (string: the schedule's last slot). ARGV: member, windowMs, leaseMs,
 * then per bucket enabled (1/0), cps, maxConcurrent.
 */
const ACQUIRE: Script = {
  name: 'sbqPaceAcquire',
  keys: 6,
  lua: `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local member = ARGV[1]
local window = tonumber(ARGV[2])
local lease = tonumber(ARGV[3])
local rateWait = 0
local rateBucket = 0
local concWait = -1
local concBucket = 0
for b = 0, 1 do
  if ARGV[4 + b * 3] == '1' then
    local starts, leases, last = KEYS[1 + b * 3], KEYS[2 + b * 3], KEYS[3 + b * 3]
    local cps = tonumber(ARGV[5 + b * 3])
    local maxc = tonumber(ARGV[6 + b * 3])
    redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
    if not redis.call('ZSCORE', leases, member) and redis.call('ZCARD', leases) >= maxc then
      local first = redis.call('ZRANGE', leases, 0, 0, 'WITHSCORES')
      local w = tonumber(first[2]) - now
      if concWait < 0 or w < concWait then concWait = w; concBucket = b + 1 end
    end
    redis.call('ZREMRANGEBYSCORE', starts, '-inf', now - window)
    local w = (tonumber(redis.call('GET', last) or '0') + window / cps) - now
    if redis.call('ZCARD', starts) >= cps then
      local oldest = redis.call('ZRANGE', starts, 0, 0, 'WITHSCORES')
      local w2 = tonumber(oldest[2]) + window - now
      if w2 > w then w = w2 end
    end
    if w > rateWait then rateWait = w; rateBucket = b + 1 end
  end
end
if concWait >= 0 then return {-1, math.ceil(concWait), concBucket} end
if rateWait > 0 then return {0, math.ceil(rateWait), rateBucket} end
for b = 0, 1 do
  if ARGV[4 + b * 3] == '1' then
    local starts, leases, last = KEYS[1 + b * 3], KEYS[2 + b * 3], KEYS[3 + b * 3]
    local interval = window / tonumber(ARGV[5 + b * 3])
    local keep = math.ceil(math.max(window, interval) * 2)
    local slot = tonumber(redis.call('GET', last) or '0') + interval
    if slot < now - interval / 2 then slot = now end
    redis.call('ZADD', starts, now, member)
    redis.call('PEXPIRE', starts, keep)
    redis.call('SET', last, tostring(slot), 'PX', keep)
    redis.call('ZADD', leases, now + lease, member)
  end
end
return {1, now, 0}
`,
};

/** Extends the leases of a call in progress (ARGV[3] = 1: adds them even over the cap, for a call found alive after a crash). */
const RENEW: Script = {
  name: 'sbqPaceRenew',
  keys: 2,
  lua: `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 1, 2 do
  if KEYS[i] ~= '' then
    if ARGV[3] == '1' then redis.call('ZADD', KEYS[i], now + tonumber(ARGV[2]), ARGV[1])
    else redis.call('ZADD', KEYS[i], 'XX', now + tonumber(ARGV[2]), ARGV[1]) end
  end
end
return 1
`,
};

const RELEASE: Script = {
  name: 'sbqPaceRelease',
  keys: 2,
  lua: `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`,
};

/**
 * A start's place in the rate window moves to now once its originate is on the wire (ZADD XX:
 * only a start still in the window). The window then counts a start that left late (a busy event
 * loop, a slow Redis reply) from when FreeSWITCH can have seen it, and the starts after it keep
 * their full distance: FreeSWITCH never sees more than cps in a second however late one leaves.
 */
const SENT: Script = {
  name: 'sbqPaceSent',
  keys: 2,
  lua: `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 1, 2 do
  if KEYS[i] ~= '' then redis.call('ZADD', KEYS[i], 'XX', now, ARGV[1]) end
end
return 1
`,
};

export const PACING_SCRIPTS: readonly Script[] = [ACQUIRE, RENEW, RELEASE, SENT];

export type AcquireResult = { ok: true; at: number } | { ok: false; reason: 'rate' | 'concurrency'; waitMs: number; bucket: 'all' | 'gateway' };

/** The pacing buckets shared by all workers. */
export class Pacer {
  private readonly keys: QueueKeys;

  constructor(
    private readonly redis: ScriptClient,
    prefix: string,
    private readonly options: PacingOptions,
    /** Length of the rate window, ≥ 1000 ms: the margin over 1 s absorbs jitter between the decision and FreeSWITCH receiving the originate. */
    private readonly windowMs: number,
    /** How long a slot stays taken without renewal (a crashed worker's slots come back after this). */
    readonly leaseMs: number,
  ) {
    this.keys = new QueueKeys(prefix);
  }

  /** The gateway's own limits, if it has any. */
  gatewayLimit(gateway: string): PacingLimit | undefined {
    return gateway ? this.options.perGateway?.[gateway] : undefined;
  }

  private bucketKeys(gateway: string): string[] {
    const gw = gatewayBucket(gateway);
    return [this.keys.starts(GLOBAL_BUCKET), this.keys.leases(GLOBAL_BUCKET), this.keys.last(GLOBAL_BUCKET), this.keys.starts(gw), this.keys.leases(gw), this.keys.last(gw)];
  }

  async acquire(gateway: string, member: string): Promise<AcquireResult> {
    const gl = this.gatewayLimit(gateway);
    const [code, value, bucket] = await this.redis.run<[number, number, number]>(ACQUIRE, this.bucketKeys(gateway), [
      member,
      this.windowMs,
      this.leaseMs,
      1,
      this.options.cps,
      this.options.maxConcurrent,
      gl ? 1 : 0,
      gl?.cps ?? 1,
      gl?.maxConcurrent ?? 1,
    ]);
    if (code === 1) return { ok: true, at: value };
    return { ok: false, reason: code === 0 ? 'rate' : 'concurrency', waitMs: Math.max(1, value), bucket: bucket === 2 ? 'gateway' : 'all' };
  }

  private leaseKeys(gateway: string): [string, string] {
    return [this.keys.leases(GLOBAL_BUCKET), this.gatewayLimit(gateway) ? this.keys.leases(gatewayBucket(gateway)) : ''];
  }

  /** After the originate is written: the start counts from now in the rate window (SENT). */
  async sent(gateway: string, member: string): Promise<void> {
    await this.redis.run(SENT, [this.keys.starts(GLOBAL_BUCKET), this.gatewayLimit(gateway) ? this.keys.starts(gatewayBucket(gateway)) : ''], [member]);
  }

  async renew(gateway: string, member: string, force = false): Promise<void> {
    await this.redis.run(RENEW, this.leaseKeys(gateway), [member, this.leaseMs, force ? 1 : 0]);
  }

  async release(gateway: string, member: string): Promise<void> {
    await this.redis.run(RELEASE, [this.keys.leases(GLOBAL_BUCKET), this.keys.leases(gatewayBucket(gateway))], [member]);
  }

  /** Calls in progress (live leases) in a bucket: all calls, or one gateway. */
  async inProgress(gateway?: string): Promise<number> {
    const client = await this.redis.client();
    const key = this.keys.leases(gateway ? gatewayBucket(gateway) : GLOBAL_BUCKET);
    const members = await client.zrange(key, 0, -1, { WITHSCORES: true });
    const now = Date.now();
    let n = 0;
    for (let i = 1; i < members.length; i += 2) if (Number(members[i]) > now) n++;
    return n;
  }
}
