import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { CALL_QUEUE_NAME } from '../queue/index.ts';

export interface RedisHealth {
  reachable: boolean;
  latencyMs?: number;
  error?: string;
}

export type QueueState = 'waiting' | 'delayed' | 'active' | 'prioritized';
export const QUEUE_STATES: readonly QueueState[] = ['waiting', 'delayed', 'active', 'prioritized'];

/** Queue names are rediscovered at most this often (queues come and go rarely). */
const DISCOVERY_MS = 60_000;

/**
 * What /health and /metrics ask Redis: a PING with a short timeout, the BullMQ workers of the
 * calls queue (every process, through CLIENT LIST), and the job counts of every BullMQ queue
 * under the prefix (calls, batches, audio, webhooks … whoever created one), found by their
 * `<prefix>:<name>:meta` keys.
 */
export class RedisProbe {
  private readonly redis: Redis;
  private readonly queues = new Map<string, Queue>();
  private discoveredAt = 0;

  constructor(
    url: string,
    private readonly prefix: string,
  ) {
    // Never queue commands while disconnected: a health check must answer "unreachable" now.
    this.redis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: 1000, lazyConnect: true });
    this.redis.on('error', () => {});
    this.redis.connect().catch(() => {});
  }

  async ping(timeoutMs = 1000): Promise<RedisHealth> {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(new Error(`no PONG within ${timeoutMs} ms`)), timeoutMs)));
      await Promise.race([this.redis.ping(), timeout]);
      return { reachable: true, latencyMs: Math.round((performance.now() - started) * 10) / 10 };
    } catch (err) {
      return { reachable: false, error: (err as Error).message };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Client names of the calls queue's workers, as BullMQ sets them (`…:w:<worker name>`). */
  async callWorkers(): Promise<string[]> {
    const workers = await this.queue(CALL_QUEUE_NAME).getWorkers();
    return workers.map((w) => String(w.rawname ?? w.name ?? ''));
  }

  /** Jobs per state of every queue under the prefix. */
  async queueCounts(): Promise<Map<string, Record<QueueState, number>>> {
    if (Date.now() - this.discoveredAt > DISCOVERY_MS) await this.discover();
    const out = new Map<string, Record<QueueState, number>>();
    for (const [name, q] of this.queues) out.set(name, (await q.getJobCounts(...QUEUE_STATES)) as Record<QueueState, number>);
    return out;
  }

  private async discover(): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${this.prefix}:*:meta`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const name = key.slice(this.prefix.length + 1, -':meta'.length);
        if (name !== '' && !name.includes(':')) this.queue(name);
      }
    } while (cursor !== '0');
    this.discoveredAt = Date.now();
  }

  private queue(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.redis, prefix: this.prefix });
      q.on('error', () => {});
      this.queues.set(name, q);
    }
    return q;
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => {})));
    this.redis.disconnect();
  }
}
