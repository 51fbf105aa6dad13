import { Queue } from 'bullmq';
import { SwitchboardError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { CallJob } from './call-job.schema.ts';
import { BatchKeys, batchJobId, batchOfJob, type BatchRef } from './batch-keys.ts';
import { BATCH_JOB_PRIORITY, BULL_JOB_NAME, DEFAULT_RETENTION_SEC, bullJobOptions, jobIdFor, type CallJobData, type CallOutcome } from './job-data.ts';
import { CALL_QUEUE_NAME, DEFAULT_PREFIX, RedisGate, ScriptClient, checkPrefix, connectionOptions, queueUnavailable, type ConnectionRole, type QueueConnection } from './redis.ts';
import { CallStore, STORE_SCRIPTS, TERMINAL_STATES, type CallState, type TimelineEntry } from './store.ts';
import { notify, type CallJobListener } from './job-events.ts';
import { jobFingerprint, validateCallJob } from './validate.ts';
import { earliestStart } from './window.ts';
import { randomUUID } from 'node:crypto';

export interface CallQueueOptions {
  connection: QueueConnection;
  /** Key prefix in Redis (BullMQ's and ours); every producer and worker of one system uses the same. Default `sb`. */
  prefix?: string;
  logger: Logger;
  /** Seconds finished jobs (and their idempotency keys) are kept. Default a week. */
  retentionSec?: number;
  /** How long a call waits for the first connection to Redis before SB_QUEUE_UNAVAILABLE. Default 5000. */
  connectTimeoutMs?: number;
  /** Told when a job is queued or cancelled here (webhooks: core/webhooks). */
  onEvent?: CallJobListener;
  /** `worker` inside a worker (batch expansion): waits for Redis to come back instead of failing fast. Default `producer`. */
  role?: ConnectionRole;
}

export interface AddResult {
  jobId: string;
  /** The origination uuid of the call: fixed now, the same for every attempt. */
  callId: string;
  /** False when an idempotency key matched an existing job (nothing new was queued). */
  created: boolean;
}

/** What `get` tells about a job. */
export interface CallJobState {
  jobId: string;
  callId: string;
  state: CallState;
  /** Last hangup / failure cause. */
  cause: string | undefined;
  /** Dial attempts made so far. */
  attempts: number;
  maxAttempts: number;
  createdAt: string;
  updatedAt: string;
  /** When a waiting job is due: retry backoff, calling window, notBefore. */
  nextAttemptAt: string | undefined;
  answeredAt: string | undefined;
  endedAt: string | undefined;
  timeline: TimelineEntry[];
  job: CallJob;
}

const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

/**
 * The producer side of outbound calls: validates a job, fixes its call id, queues it in BullMQ
 * (delayed until notBefore / the calling window opens), and reads its state back. REST, batch
 * imports and the CLI add jobs through this; CallWorker dials them.
 */
export class CallQueue {
  readonly prefix: string;
  private readonly queue: Queue<CallJobData, CallOutcome, string>;
  private readonly redis: ScriptClient;
  private readonly store: CallStore;
  private readonly log: Logger;
  private readonly retentionSec: number;
  private closed = false;
  private readonly gate: RedisGate;
  private readonly onEvent: CallJobListener | undefined;

  constructor(options: CallQueueOptions) {
    this.gate = new RedisGate(() => Promise.all([this.queue.waitUntilReady(), this.redis.client()]), options.connectTimeoutMs ?? 5000, queueUnavailable);
    this.onEvent = options.onEvent;
    this.prefix = checkPrefix(options.prefix ?? DEFAULT_PREFIX);
    this.log = options.logger.child({ component: 'call-queue' });
    this.retentionSec = options.retentionSec ?? DEFAULT_RETENTION_SEC;
    this.queue = new Queue<CallJobData, CallOutcome, string>(CALL_QUEUE_NAME, {
      connection: connectionOptions(options.connection, options.role ?? 'producer'),
      prefix: this.prefix,
    });
    this.queue.on('error', (err) => this.log.warn({ err: err.message }, 'call queue: Redis error'));
    this.redis = new ScriptClient(options.connection, STORE_SCRIPTS, options.role ?? 'producer');
    // The record outlives BullMQ's copy by a day, so an idempotency key never maps to two call ids.
    this.store = new CallStore(this.redis, this.prefix, this.retentionSec + 24 * 3600);
  }

  /**
   * Queues a call. Throws SB_QUEUE_BAD_JOB (context.pointer, context.problems) for an invalid job,
   * SB_QUEUE_IDEMPOTENCY_CONFLICT when the key was used for a different job. The same
   * idempotency key always returns the same jobId and callId and never queues a second job.
   * `batch` (batch expansion): the job of that batch row, whose id is fixed by the row like an
   * idempotency key; SB_BATCH_STATE when the batch was cancelled meanwhile (nothing queued).
   */
  async add(input: CallJob, options: { batch?: BatchRef } = {}): Promise<AddResult> {
    this.assertOpen('add');
    const job = validateCallJob(input);
    return this.redisCall(() => this.addValid(job, options.batch));
  }

  private async addValid(job: CallJob, batch: BatchRef | undefined): Promise<AddResult> {
    const jobId = batch !== undefined ? batchJobId(batch) : jobIdFor(job.idempotencyKey);
    const fingerprint = jobFingerprint(job);
    const now = Date.now();
    const due = earliestStart(job, now);
    const delay = Math.max(0, due - now);
    const entry: TimelineEntry = { at: new Date(now).toISOString(), state: 'queued' };
    if (delay > 0) {
      entry.note = job.window !== undefined ? 'waiting for the calling window' : 'waiting for notBefore';
      entry.until = new Date(due).toISOString();
    }
    const made = await this.store.create(
      { jobId, callId: randomUUID(), fingerprint, job, maxAttempts: job.attempts ?? 1, gateway: job.gateway ?? '', nextAt: delay > 0 ? due : undefined, ...(batch !== undefined ? { batchKey: new BatchKeys(this.prefix).batch(batch.id) } : {}) },
      entry,
    );
    if (made.refused) throw new SwitchboardError('SB_BATCH_STATE', [batch?.id ?? '', made.state || 'gone', 'make more call jobs'], { jobId });
    const data: CallJobData = { callId: made.callId, job, ...(batch !== undefined ? { batch } : {}) };
    const options = bullJobOptions(jobId, delay, this.retentionSec, batch !== undefined ? BATCH_JOB_PRIORITY : undefined);
    if (!made.created) {
      if (made.fingerprint !== fingerprint) throw new SwitchboardError('SB_QUEUE_IDEMPOTENCY_CONFLICT', [job.idempotencyKey ?? jobId, jobId], { jobId });
      // A producer that died between the record and the BullMQ job left a record with no job: queue it now.
      if (made.state === 'queued' && (await this.queue.getJob(jobId)) === undefined) {
        await this.queue.add(BULL_JOB_NAME, data, options);
      }
      return { jobId, callId: made.callId, created: false };
    }
    await this.queue.add(BULL_JOB_NAME, data, options);
    // A batch logs once for its thousands of rows (batches.ts); each row's job is a debug line.
    this.log[batch !== undefined ? 'debug' : 'info']({ jobId, callId: made.callId, flow: job.flow, delayMs: delay }, 'call queued');
    await notify(this.onEvent, { type: 'queued', at: now, jobId, callId: made.callId, attempt: 0, maxAttempts: job.attempts ?? 1, job }, this.log);
    return { jobId, callId: made.callId, created: true };
  }

  /** The job's state, attempts, cause and timeline; undefined when unknown or past retention. */
  async get(jobId: string): Promise<CallJobState | undefined> {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(jobId)) return undefined;
    return this.redisCall(() => this.read(jobId));
  }

  private async read(jobId: string): Promise<CallJobState | undefined> {
    let rec = await this.store.read(jobId);
    if (!rec) return undefined;
    let state = rec.state;
    let cause = rec.cause;
    if (!TERMINAL_STATES.has(state) && (await this.queue.getJobState(jobId)) === 'failed') {
      // The worker records an outcome before BullMQ fails the job, so the record read above may
      // predate both: read it again. Still not final: BullMQ gave up on the job (worker errors
      // past its attempts, stalled too often), so say so, with BullMQ's reason.
      rec = (await this.store.read(jobId)) ?? rec;
      state = rec.state;
      cause = rec.cause;
      if (!TERMINAL_STATES.has(state)) {
        state = 'failed';
        cause = cause ?? (await this.queue.getJob(jobId))?.failedReason;
      }
    }
    return {
      jobId,
      callId: rec.callId,
      state,
      cause,
      attempts: rec.attempt,
      maxAttempts: rec.maxAttempts,
      createdAt: new Date(rec.createdAt).toISOString(),
      updatedAt: new Date(rec.updatedAt).toISOString(),
      nextAttemptAt: state === 'queued' || state === 'retrying' ? iso(rec.nextAt) : undefined,
      answeredAt: iso(rec.answeredAt),
      endedAt: iso(rec.endedAt),
      timeline: await this.store.timeline(jobId),
      job: rec.job,
    };
  }

  /**
   * Cancels a job that has not started dialling: true when it is (or already was) cancelled and
   * will never be dialled, false when it is dialling, answered or finished (hang the call up
   * instead). Throws SB_QUEUE_NOT_FOUND for an unknown job.
   */
  async cancel(jobId: string): Promise<boolean> {
    this.assertOpen('cancel');
    return this.redisCall(() => this.cancelKnown(jobId));
  }

  private async cancelKnown(jobId: string): Promise<boolean> {
    const { marked, state } = await this.store.requestCancel(jobId);
    if (state === undefined) throw new SwitchboardError('SB_QUEUE_NOT_FOUND', [jobId], { jobId });
    if (!marked) return state === 'cancelled';
    const job = await this.queue.getJob(jobId);
    let removed = false;
    try {
      if (job) removed = (await this.queue.remove(jobId)) === 1;
    } catch {
      // Locked by a worker: its claim sees the cancel request and stops before dialling.
    }
    if (removed || !job) {
      const r = await this.store.transition(jobId, { states: ['queued', 'retrying'] }, 'cancelled', { nextAt: undefined }, { at: new Date().toISOString(), state: 'cancelled', note: 'cancelled before dialling' });
      const rec = r.ok && this.onEvent ? await this.store.read(jobId) : undefined;
      if (rec) await notify(this.onEvent, { type: 'cancelled', at: Date.now(), jobId, callId: rec.callId, attempt: rec.attempt, maxAttempts: rec.maxAttempts, job: rec.job }, this.log);
    }
    this.log[batchOfJob(jobId) !== undefined ? 'debug' : 'info']({ jobId, removed }, 'call job cancelled');
    return true;
  }

  /** Jobs waiting to be dialled (waiting, delayed — retry, window, notBefore — and prioritized). */
  async depth(): Promise<number> {
    return this.redisCall(() => this.queue.getJobCountByTypes('wait', 'delayed', 'prioritized'));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.close();
    await this.redis.close();
  }

  /** Redis calls: 503 SB_QUEUE_UNAVAILABLE when Redis fails, within connectTimeoutMs for the first connection (redis.ts). */
  private redisCall<T>(fn: () => Promise<T>): Promise<T> {
    return this.gate.call(fn);
  }

  private assertOpen(what: string): void {
    if (this.closed) throw new SwitchboardError('SB_QUEUE_CLOSED', [`cannot ${what}`]);
  }
}
