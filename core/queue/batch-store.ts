import { randomUUID } from 'node:crypto';
import { BATCH_COUNTERS_LUA } from './batch-counters.ts';
import { BatchKeys } from './batch-keys.ts';
import type { BatchRow, BatchSettings } from './batch.schema.ts';
import type { RejectedRow } from './batch-validate.ts';
import type { Script, ScriptClient } from './redis.ts';
import type { CallState } from './store.ts';

/**
 * running: rows are expanded into call jobs and dialled; paused: no expansion, no new dial
 * (calls in progress go on); cancelled: every job not yet dialled is cancelled; done: every
 * row's call has finished.
 */
export type BatchState = 'running' | 'paused' | 'cancelled' | 'done';

/** Call job states a batch counts its jobs in. */
const COUNTED_STATES: readonly CallState[] = ['queued', 'dialing', 'answered', 'retrying', 'completed', 'failed', 'cancelled'];

/** The Redis record of a batch (hash `<prefix>:batch:<id>`). */
export interface BatchRecord {
  id: string;
  name: string | undefined;
  state: BatchState;
  settings: BatchSettings;
  /** Accepted rows. */
  total: number;
  rejectedCount: number;
  /** Rows expanded into call jobs so far (cursor of the expansion; rows below it have their job). */
  expanded: number;
  /** Call jobs made from rows. */
  created: number;
  /** Call jobs in each state. */
  counts: Record<CallState, number>;
  /** Bumped by each resume: an expansion started before it stops. */
  generation: number;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | undefined;
  fingerprint: string;
}

/**
 * Creates a batch from its staged rows, unless it exists ({0, fingerprint}: an idempotent
 * retry). KEYS: hash, rows, rejected, index, staging. ARGV: now, id, rejected JSON, then the
 * hash's field/value pairs.
 */
const CREATE: Script = {
  name: 'sbqBatchCreate',
  keys: 5,
  lua: `
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('DEL', KEYS[5])
  return {0, redis.call('HGET', KEYS[1], 'fingerprint') or ''}
end
if redis.call('EXISTS', KEYS[5]) == 1 then
  redis.call('RENAME', KEYS[5], KEYS[2])
  redis.call('PERSIST', KEYS[2])
end
redis.call('SET', KEYS[3], ARGV[3])
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('ZADD', KEYS[4], ARGV[1], ARGV[2])
return {1, ''}
`,
};

/**
 * Moves the batch's state: from one of ARGV[2] (comma list) to ARGV[3]; already in ARGV[3] is
 * success without change. ARGV[4] = 1 bumps the generation (resume). Cancelling checks at once
 * whether the batch is finished (nothing may be left to transition). {1, state, generation,
 * changed}, {0, state} refused, {-1} unknown.
 */
const SET_STATE: Script = {
  name: 'sbqBatchState',
  keys: 1,
  lua: `${BATCH_COUNTERS_LUA}
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return {-1, '', 0, 0} end
if st == ARGV[3] then return {1, st, tonumber(redis.call('HGET', KEYS[1], 'gen') or '0'), 0} end
if not string.find(',' .. ARGV[2] .. ',', ',' .. st .. ',', 1, true) then return {0, st, 0, 0} end
redis.call('HSET', KEYS[1], 'state', ARGV[3], 'updatedAt', ARGV[1])
local gen = tonumber(redis.call('HGET', KEYS[1], 'gen') or '0')
if ARGV[4] == '1' then gen = redis.call('HINCRBY', KEYS[1], 'gen', 1) end
if ARGV[3] == 'cancelled' then sbqBatchFinish(KEYS[1], ARGV[1]) end
return {1, redis.call('HGET', KEYS[1], 'state'), gen, 1}
`,
};

/**
 * Whether a call job of the batch may be dialled now: 0 yes, 1 the batch is paused (the job,
 * ARGV[1], joins the held set that resume releases), 2 the batch is cancelled. KEYS: hash, held.
 */
const GATE: Script = {
  name: 'sbqBatchGate',
  keys: 2,
  lua: `
local st = redis.call('HGET', KEYS[1], 'state')
if st == 'paused' then
  redis.call('SADD', KEYS[2], ARGV[1])
  return 1
end
if st == 'cancelled' then return 2 end
return 0
`,
};

/** Moves the expansion cursor forward (never back: two expansions may overlap). {state, generation}. */
const ADVANCE: Script = {
  name: 'sbqBatchAdvance',
  keys: 1,
  lua: `
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return {'', 0} end
if tonumber(redis.call('HGET', KEYS[1], 'expanded') or '0') < tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'expanded', ARGV[1], 'updatedAt', ARGV[2])
end
return {st, tonumber(redis.call('HGET', KEYS[1], 'gen') or '0')}
`,
};

const FINISH: Script = {
  name: 'sbqBatchFinish',
  keys: 1,
  lua: `${BATCH_COUNTERS_LUA}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return sbqBatchFinish(KEYS[1], ARGV[1])
`,
};

export const BATCH_SCRIPTS: readonly Script[] = [CREATE, SET_STATE, GATE, ADVANCE, FINISH];

export type StateChange = { ok: true; state: BatchState; generation: number; changed: boolean } | { ok: false; state: BatchState | undefined };

function num(v: string | undefined): number {
  const n = Number(v ?? 0);
  return Number.isFinite(n) ? n : 0;
}

/** Batch records in Redis: the batch hash, its rows, rejected rows and held jobs. */
export class BatchStore {
  readonly keys: BatchKeys;

  constructor(
    private readonly redis: ScriptClient,
    prefix: string,
  ) {
    this.keys = new BatchKeys(prefix);
  }

  /**
   * Stores a new batch atomically: the rows are staged under a key of their own, then one script
   * renames them into place with the hash, so a crash leaves either the whole batch or nothing
   * (the staged rows expire). Returns the existing batch's fingerprint when the id is taken.
   */
  async create(
    batch: { id: string; name: string | undefined; settings: BatchSettings; fingerprint: string; ttlSec: number; source: 'json' | 'csv' },
    rows: ReadonlyArray<{ row: number; data: BatchRow }>,
    rejected: readonly RejectedRow[],
  ): Promise<{ created: boolean; fingerprint: string }> {
    const client = await this.redis.client();
    const staging = this.keys.staging(randomUUID());
    const pipeline = client.pipeline();
    for (let i = 0; i < rows.length; i += 5000) pipeline.runCommand('rpush', [staging, ...rows.slice(i, i + 5000).map((r) => JSON.stringify([r.row, r.data]))]);
    pipeline.runCommand('expire', [staging, 3600]);
    const results = await pipeline.exec();
    const failed = results?.find(([err]) => err);
    if (failed) throw failed[0];
    const now = Date.now();
    const fields = {
      id: batch.id,
      ...(batch.name !== undefined ? { name: batch.name } : {}),
      state: 'running',
      gen: 0,
      settings: JSON.stringify(batch.settings),
      total: rows.length,
      rejectedCount: rejected.length,
      expanded: 0,
      created: 0,
      createdAt: now,
      updatedAt: now,
      ttl: batch.ttlSec,
      fingerprint: batch.fingerprint,
      source: batch.source,
    };
    const id = batch.id;
    const [code, fingerprint] = await this.redis.run<[number, string]>(CREATE, [this.keys.batch(id), this.keys.rows(id), this.keys.rejected(id), this.keys.index(), staging], [now, id, JSON.stringify(rejected), ...Object.entries(fields).flat()]);
    return { created: code === 1, fingerprint: code === 1 ? batch.fingerprint : fingerprint };
  }

  async read(id: string): Promise<BatchRecord | undefined> {
    const client = await this.redis.client();
    return this.parse(id, await client.hgetall(this.keys.batch(id)));
  }

  private parse(id: string, h: Record<string, string>): BatchRecord | undefined {
    if (!h.state) return undefined;
    let settings: BatchSettings;
    try {
      settings = JSON.parse(h.settings ?? '{}') as BatchSettings;
    } catch {
      settings = { flow: '' };
    }
    const counts = Object.fromEntries(COUNTED_STATES.map((s) => [s, Math.max(0, num(h[`n:${s}`]))])) as Record<CallState, number>;
    return {
      id,
      name: h.name || undefined,
      state: h.state as BatchState,
      settings,
      total: num(h.total),
      rejectedCount: num(h.rejectedCount),
      expanded: num(h.expanded),
      created: num(h.created),
      counts,
      generation: num(h.gen),
      createdAt: num(h.createdAt),
      updatedAt: num(h.updatedAt),
      finishedAt: h.finishedAt ? num(h.finishedAt) : undefined,
      fingerprint: h.fingerprint ?? '',
    };
  }

  async rejected(id: string): Promise<RejectedRow[]> {
    const client = await this.redis.client();
    const text = await client.get(this.keys.rejected(id));
    try {
      return text ? (JSON.parse(text) as RejectedRow[]) : [];
    } catch {
      return [];
    }
  }

  /** The newest batches first (ids whose batch expired are dropped from the index). */
  async list(limit: number): Promise<BatchRecord[]> {
    const client = await this.redis.client();
    const ids = await client.zrevrange(this.keys.index(), 0, limit - 1);
    if (ids.length === 0) return [];
    const pipeline = client.pipeline();
    for (const id of ids) pipeline.hgetall(this.keys.batch(id));
    const results = (await pipeline.exec()) ?? [];
    const out: BatchRecord[] = [];
    const gone: string[] = [];
    ids.forEach((id, i) => {
      const rec = this.parse(id, (results[i]?.[1] ?? {}) as Record<string, string>);
      if (rec) out.push(rec);
      else gone.push(id);
    });
    if (gone.length > 0) await client.runCommand('zrem', [this.keys.index(), ...gone]);
    return out;
  }

  /** Rows `start` … `start + count − 1` of the accepted rows (0-based positions), with their row numbers. */
  async rows(id: string, start: number, count: number): Promise<Array<{ row: number; data: BatchRow }>> {
    const client = await this.redis.client();
    const items = await client.lrange(this.keys.rows(id), start, start + count - 1);
    return items.map((item) => {
      const [row, data] = JSON.parse(item) as [number, BatchRow];
      return { row, data };
    });
  }

  async setState(id: string, from: readonly BatchState[], to: BatchState, bumpGeneration = false): Promise<StateChange> {
    const [code, state, generation, changed] = await this.redis.run<[number, string, number, number]>(SET_STATE, [this.keys.batch(id)], [Date.now(), from.join(','), to, bumpGeneration ? 1 : 0]);
    if (code === 1) return { ok: true, state: state as BatchState, generation, changed: changed === 1 };
    return { ok: false, state: code === -1 ? undefined : (state as BatchState) };
  }

  /** 'run', 'held' (paused: the job is noted for resume to release), or 'cancelled'. A batch that is gone does not hold its jobs. */
  async gate(id: string, jobId: string): Promise<'run' | 'held' | 'cancelled'> {
    const code = await this.redis.run<number>(GATE, [this.keys.batch(id), this.keys.held(id)], [jobId]);
    return code === 1 ? 'held' : code === 2 ? 'cancelled' : 'run';
  }

  async state(id: string): Promise<BatchState | undefined> {
    const client = await this.redis.client();
    return ((await client.hget(this.keys.batch(id), 'state')) ?? undefined) as BatchState | undefined;
  }

  async advance(id: string, expanded: number): Promise<{ state: BatchState | undefined; generation: number }> {
    const [state, generation] = await this.redis.run<[string, number]>(ADVANCE, [this.keys.batch(id)], [expanded, Date.now()]);
    return { state: (state || undefined) as BatchState | undefined, generation };
  }

  /** Takes the held job ids (resume releases them). */
  async takeHeld(id: string): Promise<string[]> {
    const client = await this.redis.client();
    const key = this.keys.held(id);
    const results = await client.multi().smembers(key).del(key).exec();
    const members = results?.[0]?.[1];
    return Array.isArray(members) ? (members as string[]) : [];
  }

  /** Marks the batch finished if it is (a cancel with nothing left to transition). */
  async finishIfDone(id: string): Promise<boolean> {
    return (await this.redis.run<number>(FINISH, [this.keys.batch(id)], [Date.now()])) === 1;
  }
}
