import { BATCH_COUNTERS_LUA } from './batch-counters.ts';
import type { CallJob } from './call-job.schema.ts';
import { GLOBAL_BUCKET, QueueKeys, gatewayBucket, type Script, type ScriptClient } from './redis.ts';

/** Where a call job is in its life. */
export type CallState = 'queued' | 'dialing' | 'answered' | 'completed' | 'failed' | 'retrying' | 'cancelled';

export const TERMINAL_STATES: ReadonlySet<CallState> = new Set(['completed', 'failed', 'cancelled']);

export interface TimelineEntry {
  /** ISO time. */
  at: string;
  state: CallState;
  attempt?: number;
  cause?: string;
  /** What happened, for people: "waiting for the calling window", "recovered by worker w2", … */
  note?: string;
  /** ISO time the job waits until (retry backoff, calling window, notBefore). */
  until?: string;
  worker?: string;
}

/** How one dial attempt ended, as recorded by whichever worker saw it. */
export interface AttemptEnd {
  cause: string;
  answered: boolean;
  /** ms */
  at: number;
  /** The ESL event that told: CHANNEL_HANGUP_COMPLETE, BACKGROUND_JOB, or the originate reply. */
  source: string;
}

/** The Redis record of one call job (hash `<prefix>:calljob:<jobId>`). */
export interface CallRecord {
  jobId: string;
  callId: string;
  state: CallState;
  /** Number of the latest attempt claimed for dialling (0 before the first). */
  attempt: number;
  maxAttempts: number;
  /** originate commands sent (claims); equals attempt unless an attempt was given back unsent. */
  dials: number;
  cause: string | undefined;
  createdAt: number;
  updatedAt: number;
  /** ms: when a waiting job is due (retry, window, notBefore). */
  nextAt: number | undefined;
  answeredAt: number | undefined;
  endedAt: number | undefined;
  fingerprint: string;
  job: CallJob;
  /** Pacing gateway of the job's endpoint, '' when only the global limits apply. */
  gateway: string;
  cancelRequested: boolean;
  worker: string | undefined;
  ends: Map<number, AttemptEnd>;
  /** ms at which an attempt was seen answered (CHANNEL_ANSWER / +OK), by attempt. */
  answers: Map<number, number>;
}

/**
 * Creates the record unless it exists ({0, …} with the existing one). ARGV[11], when not empty,
 * is the hash key of the job's batch: no job is made for a cancelled (or vanished) batch ({-2}),
 * and the batch counts the new job.
 */
const CREATE: Script = {
  name: 'sbqCreate',
  keys: 2,
  lua: `${BATCH_COUNTERS_LUA}
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, redis.call('HGET', KEYS[1], 'callId') or '', redis.call('HGET', KEYS[1], 'fingerprint') or '', redis.call('HGET', KEYS[1], 'state') or ''}
end
if ARGV[11] ~= '' then
  local bs = redis.call('HGET', ARGV[11], 'state')
  if not bs or bs == 'cancelled' then return {-2, '', '', bs or ''} end
end
redis.call('HSET', KEYS[1], 'jobId', ARGV[3], 'callId', ARGV[4], 'fingerprint', ARGV[5], 'data', ARGV[6], 'maxAttempts', ARGV[7],
  'gw', ARGV[8], 'state', 'queued', 'attempt', '0', 'dials', '0', 'createdAt', ARGV[1], 'updatedAt', ARGV[1])
if ARGV[9] ~= '' then redis.call('HSET', KEYS[1], 'nextAt', ARGV[9]) end
if ARGV[11] ~= '' then
  redis.call('HSET', KEYS[1], 'bkey', ARGV[11])
  sbqBatchCount(KEYS[1], '', 'queued', ARGV[1])
end
redis.call('RPUSH', KEYS[2], ARGV[10])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return {1, ARGV[4], ARGV[5], 'queued'}
`,
};

/**
 * Compare-and-set of the state: applies only when the state is one of ARGV[3] (comma list, or *)
 * and the attempt is ARGV[4] (or *). Then ARGV[7..] are field/value pairs ('' deletes the field),
 * ARGV[6] a timeline entry ('' for none). Returns {1, state} or {0, current state, attempt}.
 */
const TRANSITION: Script = {
  name: 'sbqTransition',
  keys: 2,
  lua: `${BATCH_COUNTERS_LUA}
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return {-1, '', ''} end
local at = redis.call('HGET', KEYS[1], 'attempt') or '0'
if ARGV[3] ~= '*' and not string.find(',' .. ARGV[3] .. ',', ',' .. st .. ',', 1, true) then return {0, st, at} end
if ARGV[4] ~= '*' and ARGV[4] ~= at then return {0, st, at} end
redis.call('HSET', KEYS[1], 'state', ARGV[5], 'updatedAt', ARGV[1])
sbqBatchCount(KEYS[1], st, ARGV[5], ARGV[1])
for i = 7, #ARGV, 2 do
  if ARGV[i + 1] == '' then redis.call('HDEL', KEYS[1], ARGV[i]) else redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
if ARGV[6] ~= '' then
  redis.call('RPUSH', KEYS[2], ARGV[6])
  redis.call('LTRIM', KEYS[2], -200, -1)
end
if tonumber(ARGV[2]) > 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
return {1, ARGV[5], redis.call('HGET', KEYS[1], 'attempt') or '0'}
`,
};

/**
 * The dial claim: queued|retrying with attempt ARGV[3]−1 and no cancel request → dialing with
 * attempt ARGV[3]. Atomic, so of two workers holding the same job (a stalled one that woke up)
 * only one can ever send the originate. {1} claimed, {2} a cancel was requested (or the job's
 * batch was cancelled), {3} the job's batch is paused (the job, ARGV[7], joins the batch's held
 * set), {0, state} not.
 */
const CLAIM: Script = {
  name: 'sbqClaim',
  keys: 2,
  lua: `${BATCH_COUNTERS_LUA}
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return {-1, ''} end
if st ~= 'queued' and st ~= 'retrying' then return {0, st} end
if tonumber(redis.call('HGET', KEYS[1], 'attempt') or '0') ~= tonumber(ARGV[3]) - 1 then return {0, st} end
if redis.call('HGET', KEYS[1], 'cancel') == '1' then return {2, st} end
local b = redis.call('HGET', KEYS[1], 'bkey')
if b then
  local bs = redis.call('HGET', b, 'state')
  if bs == 'cancelled' then return {2, st} end
  if bs == 'paused' then
    redis.call('SADD', b .. ':held', ARGV[7])
    return {3, st}
  end
end
redis.call('HSET', KEYS[1], 'state', 'dialing', 'attempt', ARGV[3], 'worker', ARGV[4], 'gw', ARGV[6], 'updatedAt', ARGV[1])
sbqBatchCount(KEYS[1], st, 'dialing', ARGV[1])
redis.call('HDEL', KEYS[1], 'nextAt')
redis.call('HINCRBY', KEYS[1], 'dials', 1)
redis.call('RPUSH', KEYS[2], ARGV[5])
redis.call('LTRIM', KEYS[2], -200, -1)
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return {1, 'dialing'}
`,
};

/**
 * What an ESL event said about attempt ARGV[1] (first report wins): answered at ARGV[3], and/or
 * ended (ARGV[4] = JSON AttemptEnd). An ended attempt's concurrency lease (member ARGV[5]) is
 * given back in both pacing buckets. Only for jobs this queue knows.
 */
const SIGNAL: Script = {
  name: 'sbqSignal',
  keys: 3,
  lua: `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = 0
if ARGV[3] ~= '' then n = n + redis.call('HSETNX', KEYS[1], 'ans:' .. ARGV[1], ARGV[3]) end
if ARGV[4] ~= '' then
  n = n + redis.call('HSETNX', KEYS[1], 'end:' .. ARGV[1], ARGV[4])
  redis.call('ZREM', KEYS[2], ARGV[5])
  redis.call('ZREM', KEYS[3], ARGV[5])
end
return n
`,
};

/** Marks a queued/retrying job for cancellation: {1, state} marked, {0, state} too late, {-1} unknown. */
const CANCEL: Script = {
  name: 'sbqCancel',
  keys: 1,
  lua: `
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return {-1, ''} end
if st == 'queued' or st == 'retrying' then
  redis.call('HSET', KEYS[1], 'cancel', '1')
  return {1, st}
end
return {0, st}
`,
};

export const STORE_SCRIPTS: readonly Script[] = [CREATE, TRANSITION, CLAIM, SIGNAL, CANCEL];

export type TransitionResult = { ok: true } | { ok: false; state: CallState | undefined; attempt: number };

/** Lease member of one attempt: the uuid is the same for every attempt of a job, the lease is not. */
export function leaseMember(callId: string, attempt: number): string {
  return `${callId}#${attempt}`;
}

function num(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** The queue's own per-job records in Redis: state, attempts, outcomes, timeline. */
export class CallStore {
  readonly keys: QueueKeys;

  constructor(
    private readonly redis: ScriptClient,
    prefix: string,
    /** Seconds a finished job's record is kept. */
    private readonly retentionSec: number,
  ) {
    this.keys = new QueueKeys(prefix);
  }

  private ttl(until?: number): number {
    const extra = until !== undefined ? Math.max(0, Math.ceil((until - Date.now()) / 1000)) : 0;
    return this.retentionSec + extra;
  }

  /** `refused`: the job's batch (`batchKey`) is cancelled or gone, so no record was made. */
  async create(
    rec: { jobId: string; callId: string; fingerprint: string; job: CallJob; maxAttempts: number; gateway: string; nextAt: number | undefined; batchKey?: string },
    entry: TimelineEntry,
  ): Promise<{ created: boolean; refused: boolean; callId: string; fingerprint: string; state: CallState }> {
    const now = Date.now();
    const [created, callId, fingerprint, state] = await this.redis.run<[number, string, string, string]>(CREATE, [this.keys.call(rec.jobId), this.keys.timeline(rec.jobId)], [
      now,
      this.ttl(rec.nextAt),
      rec.jobId,
      rec.callId,
      rec.fingerprint,
      JSON.stringify(rec.job),
      rec.maxAttempts,
      rec.gateway,
      rec.nextAt ?? '',
      JSON.stringify(entry),
      rec.batchKey ?? '',
    ]);
    return { created: created === 1, refused: created === -2, callId, fingerprint, state: state as CallState };
  }

  async read(jobId: string): Promise<CallRecord | undefined> {
    const client = await this.redis.client();
    const h = await client.hgetall(this.keys.call(jobId));
    if (!h.state || !h.callId) return undefined;
    const ends = new Map<number, AttemptEnd>();
    const answers = new Map<number, number>();
    for (const [field, value] of Object.entries(h)) {
      if (field.startsWith('end:')) {
        try {
          ends.set(Number(field.slice(4)), JSON.parse(value) as AttemptEnd);
        } catch {
          // a record we cannot read is one we did not write
        }
      } else if (field.startsWith('ans:')) answers.set(Number(field.slice(4)), Number(value));
    }
    let job: CallJob;
    try {
      job = JSON.parse(h.data ?? '{}') as CallJob;
    } catch {
      job = { to: '', flow: '' };
    }
    return {
      jobId,
      callId: h.callId,
      state: h.state as CallState,
      attempt: num(h.attempt) ?? 0,
      maxAttempts: num(h.maxAttempts) ?? 1,
      dials: num(h.dials) ?? 0,
      cause: h.cause || undefined,
      createdAt: num(h.createdAt) ?? 0,
      updatedAt: num(h.updatedAt) ?? 0,
      nextAt: num(h.nextAt),
      answeredAt: num(h.answeredAt),
      endedAt: num(h.endedAt),
      fingerprint: h.fingerprint ?? '',
      job,
      gateway: h.gw ?? '',
      cancelRequested: h.cancel === '1',
      worker: h.worker || undefined,
      ends,
      answers,
    };
  }

  async timeline(jobId: string): Promise<TimelineEntry[]> {
    const client = await this.redis.client();
    const rows = await client.lrange(this.keys.timeline(jobId), 0, -1);
    const out: TimelineEntry[] = [];
    for (const row of rows) {
      try {
        out.push(JSON.parse(row) as TimelineEntry);
      } catch {
        // skip
      }
    }
    return out;
  }

  async transition(
    jobId: string,
    from: { states: readonly CallState[] | '*'; attempt?: number },
    to: CallState,
    fields: Record<string, string | number | undefined>,
    entry?: TimelineEntry,
    until?: number,
  ): Promise<TransitionResult> {
    const args: Array<string | number> = [Date.now(), TERMINAL_STATES.has(to) ? this.retentionSec : this.ttl(until), from.states === '*' ? '*' : from.states.join(','), from.attempt ?? '*', to, entry ? JSON.stringify(entry) : ''];
    for (const [k, v] of Object.entries(fields)) args.push(k, v ?? '');
    const [ok, state, attempt] = await this.redis.run<[number, string, string]>(TRANSITION, [this.keys.call(jobId), this.keys.timeline(jobId)], args);
    if (ok === 1) return { ok: true };
    return { ok: false, state: ok === -1 ? undefined : (state as CallState), attempt: Number(attempt) || 0 };
  }

  /** 'claimed', 'cancel' (a cancel was requested: nothing dialled), 'held' (its batch is paused), or 'lost' (someone else moved the state). */
  async claim(jobId: string, attempt: number, worker: string, gateway: string, entry: TimelineEntry): Promise<'claimed' | 'cancel' | 'held' | 'lost'> {
    const [code] = await this.redis.run<[number, string]>(CLAIM, [this.keys.call(jobId), this.keys.timeline(jobId)], [Date.now(), this.retentionSec, attempt, worker, JSON.stringify(entry), gateway, jobId]);
    return code === 1 ? 'claimed' : code === 2 ? 'cancel' : code === 3 ? 'held' : 'lost';
  }

  /** Records what an event said about an attempt; returns whether anything was new. */
  async signal(jobId: string, callId: string, attempt: number, signal: { answeredAt?: number; end?: AttemptEnd }): Promise<boolean> {
    const client = await this.redis.client();
    const gateway = await client.hget(this.keys.call(jobId), 'gw');
    if (gateway === null) return false;
    const keys = [this.keys.call(jobId), this.keys.leases(GLOBAL_BUCKET), this.keys.leases(gatewayBucket(gateway))];
    const n = await this.redis.run<number>(SIGNAL, keys, [attempt, callId, signal.answeredAt ?? '', signal.end ? JSON.stringify(signal.end) : '', leaseMember(callId, attempt)]);
    return n > 0;
  }

  async requestCancel(jobId: string): Promise<{ marked: boolean; state: CallState | undefined }> {
    const [code, state] = await this.redis.run<[number, string]>(CANCEL, [this.keys.call(jobId)], []);
    return { marked: code === 1, state: code === -1 ? undefined : (state as CallState) };
  }
}
