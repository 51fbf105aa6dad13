import { RedisConnection, type RedisClient, type RedisOptions } from 'bullmq';
import { SwitchboardError } from '../errors.ts';

/** Where Redis is: ioredis-style options, or a `redis://` URL. */
export type QueueConnection = RedisOptions | string;

/** The BullMQ queue outbound calls go through. */
export const CALL_QUEUE_NAME = 'calls';
export const DEFAULT_PREFIX = 'sb';

/**
 * Who uses a connection. A worker waits for Redis however long it is away (blocking commands
 * need maxRetriesPerRequest: null). A producer answers REST requests: it fails fast instead, and
 * queues nothing offline, so a request that was refused never runs later behind the caller's back.
 */
export type ConnectionRole = 'producer' | 'worker';

export function connectionOptions(connection: QueueConnection, role: ConnectionRole): RedisOptions {
  const base: RedisOptions = typeof connection === 'string' ? { url: connection } : { ...connection };
  if (role === 'worker') return { ...base, maxRetriesPerRequest: null };
  return { ...base, maxRetriesPerRequest: base.maxRetriesPerRequest ?? 1, enableOfflineQueue: false };
}

export function checkPrefix(prefix: string): string {
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(prefix)) throw new SwitchboardError('SB_QUEUE_BAD_OPTION', ['prefix', `"${prefix}" must be 1–32 letters, digits, - or _`]);
  return prefix;
}

/** Redis keys of the queue's own records, beside BullMQ's `<prefix>:calls:*`. */
export class QueueKeys {
  constructor(readonly prefix: string) {}
  call(jobId: string): string {
    return `${this.prefix}:calljob:${jobId}`;
  }
  timeline(jobId: string): string {
    return `${this.prefix}:calljob:${jobId}:timeline`;
  }
  /** Bucket `*` is every call; `gw:<name>` one gateway. */
  starts(bucket: string): string {
    return `${this.prefix}:pacing:${bucket}:starts`;
  }
  leases(bucket: string): string {
    return `${this.prefix}:pacing:${bucket}:leases`;
  }
  last(bucket: string): string {
    return `${this.prefix}:pacing:${bucket}:last`;
  }
}

export const GLOBAL_BUCKET = '*';
export function gatewayBucket(gateway: string): string {
  return `gw:${gateway}`;
}

/** A Lua script registered on a client under a name of ours. */
export interface Script {
  name: string;
  keys: number;
  lua: string;
}

/**
 * A Redis connection for the queue's own keys, opened through BullMQ's RedisConnection so the
 * same driver (ioredis, or a registered clientFactory) and options are used as for the queue.
 */
export class ScriptClient {
  private readonly connection: RedisConnection;
  private readonly defined = new WeakSet<RedisClient>();

  constructor(
    connection: QueueConnection,
    private readonly scripts: readonly Script[],
    role: ConnectionRole,
  ) {
    this.connection = new RedisConnection(connectionOptions(connection, role), { shared: false, blocking: false });
    // Errors also reject the commands that hit them; the event only needs a listener.
    this.connection.on('error', () => {});
  }

  async client(): Promise<RedisClient> {
    const client = await this.connection.client;
    if (!this.defined.has(client)) {
      for (const s of this.scripts) client.defineCommand(s.name, { numberOfKeys: s.keys, lua: s.lua });
      this.defined.add(client);
    }
    return client;
  }

  async run<T>(script: Script, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<T> {
    if (keys.length !== script.keys) throw new Error(`${script.name} takes ${script.keys} keys, got ${keys.length}`);
    const client = await this.client();
    return (await client.runCommand(script.name, [...keys, ...args.map(String)])) as T;
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}

/** What a Redis failure is to the call and batch producers. */
export const queueUnavailable = (err: unknown): SwitchboardError =>
  new SwitchboardError('SB_QUEUE_UNAVAILABLE', [err instanceof Error ? err.message : String(err)], {}, { cause: err });

/**
 * How a producer (CallQueue, BatchQueue, AudioQueue) talks to Redis: the first connection is
 * waited for at most `timeoutMs` (BullMQ would wait forever; nothing has been sent then, so a
 * refused request never happens later), our own errors pass through, and anything else from
 * down there becomes `unavailable(err)` (a 503).
 */
export class RedisGate {
  private ready = false;

  constructor(
    private readonly connect: () => Promise<unknown>,
    private readonly timeoutMs: number,
    private readonly unavailable: (err: unknown) => SwitchboardError,
  ) {}

  async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      if (!this.ready) {
        let timer: NodeJS.Timeout | undefined;
        const connected = this.connect();
        const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.timeoutMs)));
        const first = await Promise.race([connected, timeout]).finally(() => clearTimeout(timer));
        if (first === 'timeout') {
          connected.catch(() => {});
          throw new Error(`not connected after ${this.timeoutMs} ms`);
        }
        this.ready = true;
      }
      return await fn();
    } catch (err) {
      if (err instanceof SwitchboardError) throw err;
      throw this.unavailable(err);
    }
  }
}
