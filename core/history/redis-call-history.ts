import { Redis } from 'ioredis';
import type { Logger } from '../log.ts';
import { matches, type CallHistory, type FinishedCall, type HistoryQuery } from './call-history.ts';

export interface RedisCallHistoryOptions {
  url: string;
  /** Same prefix as the queue (SB_QUEUE_PREFIX): every instance of one system shares the history. */
  prefix: string;
  max: number;
  retentionSec: number;
  logger: Logger;
}

/** Entries read per round trip while filtering a page. */
const BATCH = 200;

/**
 * Finished calls in Redis, shared by every instance: one JSON string per call
 * (`<prefix>:callhist:<callId>`, expiring after the retention) and a sorted set of call ids by
 * start time (`<prefix>:callhist`), trimmed to the retention and to `max` entries on every write.
 */
export class RedisCallHistory implements CallHistory {
  private readonly redis: Redis;
  private readonly index: string;

  constructor(private readonly options: RedisCallHistoryOptions) {
    // A history write must never hold a call up: fail after one retry instead of queueing forever.
    this.redis = new Redis(options.url, { maxRetriesPerRequest: 1, connectTimeout: 2000 });
    this.redis.on('error', (err: Error) => options.logger.debug({ err: err.message }, 'call history: Redis error'));
    this.index = `${options.prefix}:callhist`;
  }

  private key(callId: string): string {
    return `${this.index}:${callId}`;
  }

  async add(call: FinishedCall): Promise<void> {
    const { max, retentionSec } = this.options;
    const started = Date.parse(call.startedAt);
    await this.redis
      .multi()
      .set(this.key(call.callId), JSON.stringify(call), 'EX', retentionSec)
      .zadd(this.index, started, call.callId)
      .zremrangebyscore(this.index, '-inf', `(${Date.now() - retentionSec * 1000}`)
      .zremrangebyrank(this.index, 0, -(max + 1))
      .expire(this.index, retentionSec)
      .exec();
  }

  async get(callId: string): Promise<FinishedCall | undefined> {
    return parse(await this.redis.get(this.key(callId)));
  }

  async list(query: HistoryQuery): Promise<FinishedCall[]> {
    const out: FinishedCall[] = [];
    const top = query.before === undefined ? '+inf' : String(query.before.startedMs);
    for (let offset = 0; out.length < query.limit && offset < this.options.max; offset += BATCH) {
      const ids = await this.redis.zrange(this.index, top, '-inf', 'BYSCORE', 'REV', 'LIMIT', offset, BATCH);
      if (ids.length === 0) break;
      const rows = await this.redis.mget(ids.map((id) => this.key(id)));
      const gone: string[] = [];
      rows.forEach((row, i) => {
        const call = parse(row);
        if (!call) gone.push(ids[i] as string);
        else if (out.length < query.limit && matches(call, query)) out.push(call);
      });
      // Trimmed by count or expired: the index forgets it too.
      if (gone.length > 0) {
        await this.redis.zrem(this.index, ...gone);
        offset -= gone.length;
      }
      if (ids.length < BATCH) break;
    }
    return out;
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

function parse(row: string | null): FinishedCall | undefined {
  if (row === null) return undefined;
  try {
    return JSON.parse(row) as FinishedCall;
  } catch {
    return undefined;
  }
}
