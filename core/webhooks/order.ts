import type { Script, ScriptClient } from '../queue/redis.ts';

/**
 * Per-call order of deliveries. Each call (order key = its job id) has a hash
 * `<prefix>:webhook:call:{<key>}` (`seq` counter, `id:<event>` = its seq, `t:<event>` = ms queued)
 * and a sorted set `…:pending` of the events not yet settled (delivered or given up), scored by
 * seq. An event is delivered only once it is the head of that set.
 */

/** A new event: its seq, or 0 when that id was queued before (the same event reported twice). */
const ENQUEUE: Script = {
  name: 'sbwEnqueue',
  keys: 2,
  lua: `
if redis.call('HEXISTS', KEYS[1], 'id:' .. ARGV[1]) == 1 then return 0 end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('HSET', KEYS[1], 'id:' .. ARGV[1], seq, 't:' .. ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], seq, ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return seq
`,
};

/** {} when event ARGV[1] may go (it is the head, or not pending at all); else {head id, ms it was queued}. */
const HEAD: Script = {
  name: 'sbwHead',
  keys: 2,
  lua: `
local head = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
if not head or head == ARGV[1] or not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return {} end
return {head, redis.call('HGET', KEYS[1], 't:' .. head) or '0'}
`,
};

/** Event ARGV[1] is settled: out of the pending set; returns the new head ('' for none). */
const SETTLE: Script = {
  name: 'sbwSettle',
  keys: 2,
  lua: `
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[1], 't:' .. ARGV[1])
return redis.call('ZRANGE', KEYS[2], 0, 0)[1] or ''
`,
};

export const ORDER_SCRIPTS: readonly Script[] = [ENQUEUE, HEAD, SETTLE];

export class DeliveryOrder {
  constructor(
    private readonly redis: ScriptClient,
    private readonly prefix: string,
  ) {}

  private keys(orderKey: string): [string, string] {
    // Hash-tagged: both keys of a script live in one Redis Cluster slot.
    const base = `${this.prefix}:webhook:call:{${orderKey}}`;
    return [base, `${base}:pending`];
  }

  /** The event's seq (1, 2, …), or 0 when it was already queued. */
  enqueue(orderKey: string, eventId: string, ttlSec: number): Promise<number> {
    return this.redis.run<number>(ENQUEUE, this.keys(orderKey), [eventId, Date.now(), ttlSec]);
  }

  /** The earlier event this one must wait for, or undefined when it may be delivered now. */
  async head(orderKey: string, eventId: string): Promise<{ id: string; queuedAt: number } | undefined> {
    const r = await this.redis.run<[string, string] | []>(HEAD, this.keys(orderKey), [eventId]);
    return r.length === 2 ? { id: r[0], queuedAt: Number(r[1]) } : undefined;
  }

  /** Delivered or given up: the next event may go. Returns that next event's id. */
  async settle(orderKey: string, eventId: string): Promise<string | undefined> {
    const next = await this.redis.run<string>(SETTLE, this.keys(orderKey), [eventId]);
    return next === '' ? undefined : next;
  }
}
