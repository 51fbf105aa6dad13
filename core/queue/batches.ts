import { createHash } from 'node:crypto';
import { Queue } from 'bullmq';
import { SwitchboardError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { parseBatchCsv, settingsFromQuery } from './batch-csv.ts';
import { BATCH_ID, BATCH_QUEUE_NAME, batchIdFor } from './batch-keys.ts';
import type { BatchSettings } from './batch.schema.ts';
import { BATCH_SCRIPTS, BatchStore, type BatchRecord, type BatchState } from './batch-store.ts';
import { checkBatch, checkBatchRows, checkBatchSettings, type CheckedBatch, type RejectedRow } from './batch-validate.ts';
import { DEFAULT_RETENTION_SEC } from './job-data.ts';
import { DEFAULT_PREFIX, RedisGate, ScriptClient, checkPrefix, connectionOptions, queueUnavailable, type QueueConnection } from './redis.ts';

export interface BatchQueueOptions {
  connection: QueueConnection;
  /** Key prefix in Redis: the same as the call queue's. Default `sb`. */
  prefix?: string;
  logger: Logger;
  /** Rows a batch may hold (SB_BATCH_MAX_ROWS). Default 100 000. */
  maxRows?: number;
  /** Seconds a finished batch is kept (like finished call jobs). Default a week. */
  retentionSec?: number;
  /** How long a request waits for the first connection to Redis before SB_QUEUE_UNAVAILABLE. Default 5000. */
  connectTimeoutMs?: number;
}

export interface BatchCreateOptions {
  /** Any invalid row rejects the whole batch (SB_BATCH_ROWS_REJECTED, nothing stored). Default: the valid rows are accepted. */
  strict?: boolean;
  /** The same key always gives the same batch: a client's retry never makes a second one. */
  idempotencyKey?: string;
}

/** What creating a batch answers. */
export interface BatchAccepted {
  batchId: string;
  /** False when the idempotency key matched an existing batch (nothing new was stored). */
  created: boolean;
  state: BatchState;
  /** Rows accepted: each becomes one call job. */
  accepted: number;
  /** Rows refused, each with its row number, JSON pointer and why. */
  rejected: RejectedRow[];
}

/** Calls of a batch by where they are. */
export interface BatchCounts {
  /** Rows not yet made into call jobs. */
  pending: number;
  queued: number;
  dialing: number;
  /** Answered and in progress. */
  answered: number;
  /** Waiting for another attempt. */
  retrying: number;
  /** Answered, then ended. */
  completed: number;
  /** Never answered, attempts exhausted (or a cause not retried). */
  failed: number;
  /** Cancelled before dialling (with the batch's rows never made into jobs once it is cancelled). */
  cancelled: number;
  /** completed + failed + cancelled. */
  done: number;
}

export interface BatchStatus {
  batchId: string;
  name: string | undefined;
  state: BatchState;
  createdAt: string;
  updatedAt: string;
  /** When every row's call had finished (or, cancelled, every call that was dialled). */
  finishedAt: string | undefined;
  settings: BatchSettings;
  /** Rows accepted. */
  total: number;
  rejectedCount: number;
  counts: BatchCounts;
}

/**
 * The producer side of batches (campaigns): checks a batch, stores its rows and queues its
 * expansion (BatchWorker turns rows into call jobs); reads progress; pauses, resumes and
 * cancels. `create` is what `POST /v1/batches` runs (and what the outbound benchmark times).
 */
export class BatchQueue {
  readonly prefix: string;
  readonly maxRows: number;
  private readonly queue: Queue;
  private readonly redis: ScriptClient;
  private readonly store: BatchStore;
  private readonly log: Logger;
  private readonly retentionSec: number;
  private readonly gate: RedisGate;
  private closed = false;

  constructor(options: BatchQueueOptions) {
    this.prefix = checkPrefix(options.prefix ?? DEFAULT_PREFIX);
    this.maxRows = options.maxRows ?? 100_000;
    this.log = options.logger.child({ component: 'batch-queue' });
    this.retentionSec = options.retentionSec ?? DEFAULT_RETENTION_SEC;
    this.gate = new RedisGate(() => Promise.all([this.queue.waitUntilReady(), this.redis.client()]), options.connectTimeoutMs ?? 5000, queueUnavailable);
    this.queue = new Queue(BATCH_QUEUE_NAME, { connection: connectionOptions(options.connection, 'producer'), prefix: this.prefix });
    this.queue.on('error', (err) => this.log.warn({ err: err.message }, 'batch queue: Redis error'));
    this.redis = new ScriptClient(options.connection, BATCH_SCRIPTS, 'producer');
    this.store = new BatchStore(this.redis, this.prefix);
  }

  /**
   * Accepts a batch given as JSON (`{ flow, …settings, rows: [{ to, vars? … }] }`): the valid rows
   * are stored and queued for expansion, the invalid ones reported. Throws SB_BATCH_BAD_REQUEST
   * (settings, with pointer), SB_BATCH_TOO_LARGE, SB_BATCH_ROWS_REJECTED (strict, or no valid row),
   * SB_BATCH_IDEMPOTENCY_CONFLICT, SB_QUEUE_UNAVAILABLE.
   */
  async create(input: unknown, options: BatchCreateOptions = {}): Promise<BatchAccepted> {
    this.assertOpen('create a batch');
    const checked = checkBatch(input, this.maxRows);
    return this.accept(checked, options, 'json', JSON.stringify(input));
  }

  /** The same for a CSV upload: rows from the file (header row first), settings from query parameters (see batch-csv.ts). */
  async createFromCsv(csv: string, query: Record<string, unknown>, options: BatchCreateOptions = {}): Promise<BatchAccepted> {
    this.assertOpen('create a batch');
    const settings = checkBatchSettings(settingsFromQuery(query));
    const parsed = parseBatchCsv(csv, this.maxRows);
    const checked: CheckedBatch = { settings, ...checkBatchRows(settings, parsed.rows, parsed) };
    return this.accept(checked, options, 'csv', JSON.stringify([settings, csv]));
  }

  private async accept(checked: CheckedBatch, options: BatchCreateOptions, source: 'json' | 'csv', content: string): Promise<BatchAccepted> {
    const { settings, rows, rejected } = checked;
    if (rows.length + rejected.length === 0) throw new SwitchboardError('SB_BATCH_BAD_REQUEST', ['/rows must hold at least one row'], { pointer: '/rows' });
    const first = rejected[0];
    if (first && (rows.length === 0 || options.strict)) {
      const why = `${rows.length === 0 ? 'no valid row' : 'strict'}; first: row ${first.row} ${first.pointer} ${first.message}`;
      throw new SwitchboardError('SB_BATCH_ROWS_REJECTED', [rejected.length, rows.length + rejected.length, why], { pointer: first.pointer, problems: rejected });
    }
    const id = batchIdFor(options.idempotencyKey);
    const fingerprint = createHash('sha256').update(content).digest('hex').slice(0, 32);
    return this.redisCall(async () => {
      const made = await this.store.create({ id, name: settings.name, settings, fingerprint, ttlSec: this.retentionSec + 24 * 3600, source }, rows, rejected);
      if (!made.created) {
        if (made.fingerprint !== fingerprint) throw new SwitchboardError('SB_BATCH_IDEMPOTENCY_CONFLICT', [options.idempotencyKey ?? id, id], { batchId: id });
        const rec = await this.store.read(id);
        if (!rec) throw new SwitchboardError('SB_BATCH_NOT_FOUND', [id]);
        // A producer that died between storing the batch and queueing its expansion: queue it now (same job id, so never twice).
        if (rec.state === 'running') await this.queueExpansion(id, rec.generation);
        return { batchId: id, created: false, state: rec.state, accepted: rec.total, rejected: await this.store.rejected(id) };
      }
      await this.queueExpansion(id, 0);
      this.log.info({ batchId: id, flow: settings.flow, rows: rows.length, rejected: rejected.length, source }, 'batch accepted');
      return { batchId: id, created: true, state: 'running', accepted: rows.length, rejected };
    });
  }

  /** One expansion job per generation: a resume starts a new one, a repeated add of the same is a no-op. */
  private async queueExpansion(id: string, generation: number): Promise<void> {
    await this.queue.add('expand', { batchId: id, generation }, this.jobOptions(`${id}-x${generation}`));
  }

  private jobOptions(jobId: string) {
    // Attempts cover a worker that dies or loses Redis mid-way; both jobs are safe to rerun.
    return { jobId, attempts: 10, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: { age: this.retentionSec }, removeOnFail: { age: this.retentionSec } };
  }

  /** Settings, state and counts; undefined when unknown or past retention. */
  async get(id: string): Promise<(BatchStatus & { rejected: RejectedRow[] }) | undefined> {
    if (!BATCH_ID.test(id)) return undefined;
    return this.redisCall(async () => {
      const rec = await this.store.read(id);
      return rec ? { ...status(rec), rejected: await this.store.rejected(id) } : undefined;
    });
  }

  /** The newest batches first. */
  async list(limit = 50): Promise<BatchStatus[]> {
    return this.redisCall(async () => (await this.store.list(limit)).map(status));
  }

  /** Stops expansion and holds the batch's calls not yet dialled (calls in progress go on). Pausing a paused batch is fine. */
  async pause(id: string): Promise<BatchStatus> {
    return this.change(id, ['running'], 'paused', 'pause');
  }

  /** Releases the held calls and expands the remaining rows. Resuming a running batch is fine. */
  async resume(id: string): Promise<BatchStatus> {
    return this.change(id, ['paused'], 'running', 'resume', true);
  }

  /** Cancels every call of the batch not yet dialled (calls in progress finish). Cancelling a cancelled batch is fine. */
  async cancel(id: string): Promise<BatchStatus> {
    return this.change(id, ['running', 'paused'], 'cancelled', 'cancel');
  }

  private async change(id: string, from: readonly BatchState[], to: BatchState, verb: string, bump = false): Promise<BatchStatus> {
    this.assertOpen(verb);
    if (!BATCH_ID.test(id)) throw new SwitchboardError('SB_BATCH_NOT_FOUND', [id]);
    return this.redisCall(async () => {
      const r = await this.store.setState(id, from, to, bump);
      if (!r.ok) {
        if (r.state === undefined) throw new SwitchboardError('SB_BATCH_NOT_FOUND', [id]);
        throw new SwitchboardError('SB_BATCH_STATE', [id, r.state, verb], { batchId: id, state: r.state });
      }
      if (r.changed && to === 'running') await this.queueExpansion(id, r.generation);
      // The sweep runs in the batch worker: a batch's thousands of queued jobs are not cancelled inside a request.
      if (r.changed && to === 'cancelled') await this.queue.add('cancel', { batchId: id }, this.jobOptions(`${id}-cancel`));
      if (r.changed) this.log.info({ batchId: id, state: r.state }, `batch ${verb}`);
      const rec = await this.store.read(id);
      if (!rec) throw new SwitchboardError('SB_BATCH_NOT_FOUND', [id]);
      return status(rec);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.close();
    await this.redis.close();
  }

  private redisCall<T>(fn: () => Promise<T>): Promise<T> {
    return this.gate.call(fn);
  }

  private assertOpen(what: string): void {
    if (this.closed) throw new SwitchboardError('SB_QUEUE_CLOSED', [`cannot ${what}`]);
  }
}

const iso = (ms: number): string => new Date(ms).toISOString();

function status(rec: BatchRecord): BatchStatus {
  const c = rec.counts;
  // Rows of a cancelled batch that never became jobs will not: they count as cancelled.
  const unexpanded = Math.max(0, rec.total - rec.created);
  const cancelled = c.cancelled + (rec.state === 'cancelled' ? unexpanded : 0);
  return {
    batchId: rec.id,
    name: rec.name,
    state: rec.state,
    createdAt: iso(rec.createdAt),
    updatedAt: iso(rec.updatedAt),
    finishedAt: rec.finishedAt !== undefined ? iso(rec.finishedAt) : undefined,
    settings: rec.settings,
    total: rec.total,
    rejectedCount: rec.rejectedCount,
    counts: {
      pending: rec.state === 'cancelled' ? 0 : unexpanded,
      queued: c.queued,
      dialing: c.dialing,
      answered: c.answered,
      retrying: c.retrying,
      completed: c.completed,
      failed: c.failed,
      cancelled,
      done: c.completed + c.failed + cancelled,
    },
  };
}
