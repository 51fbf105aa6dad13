import { DelayedError, Job, Queue, Worker } from 'bullmq';
import { isSwitchboardError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { BATCH_QUEUE_NAME, batchJobId } from './batch-keys.ts';
import { rowCallJob } from './batch.schema.ts';
import { BATCH_SCRIPTS, BatchStore } from './batch-store.ts';
import { CallQueue, type CallQueueOptions } from './producer.ts';
import { CALL_QUEUE_NAME, DEFAULT_PREFIX, ScriptClient, checkPrefix, connectionOptions, type QueueConnection } from './redis.ts';

export interface BatchWorkerOptions {
  connection: QueueConnection;
  prefix?: string;
  logger: Logger;
  /** Batch jobs (expansions, cancel sweeps) in hand at once. Default 2. */
  concurrency?: number;
  /** Rows read and turned into call jobs per step; the batch's state is checked between steps. Default 500. */
  chunkSize?: number;
  /** Call jobs added (or cancelled) at once within a step. Default 100. */
  parallel?: number;
  retentionSec?: number;
  /** Told when a row's call job is queued or cancelled (webhooks), like the service's CallQueue. */
  onEvent?: CallQueueOptions['onEvent'];
  /** BullMQ lock and stalled-job check (ms), as for CallWorker. Default 30 000 each. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
}

/** How an expansion ended. */
export interface ExpandResult {
  /** Rows turned into call jobs (or found to have theirs) so far. */
  expanded: number;
  /** Why it stopped before the end: the batch was paused, cancelled, resumed again (a newer expansion took over), or is gone. */
  stopped?: 'paused' | 'cancelled' | 'superseded' | 'gone';
  /** Held call jobs released by this run (a resume). */
  released: number;
}

interface BatchJobData {
  batchId: string;
  generation?: number;
}

/** Leaves an expansion between two steps when the worker closes; the job is handed back. */
class Closing extends Error {}

/** Runs fn over items, at most `parallel` at a time. */
async function eachLimited<T>(items: readonly T[], parallel: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(parallel, items.length) }, async () => {
    while (next < items.length) await fn(items[next++] as T);
  });
  await Promise.all(lanes);
}

/**
 * The consumer side of batches: expands a batch's rows into call jobs through CallQueue (each
 * row's job id is fixed by the row, so an expansion run again — worker crash, Redis restart,
 * resume — finds the jobs it made instead of making second ones), releases the calls a pause
 * held, and sweeps a cancelled batch's calls not yet dialled. The calls themselves are dialled
 * by CallWorker, which holds a paused batch's calls.
 */
export class BatchWorker {
  readonly prefix: string;
  private readonly log: Logger;
  private readonly redis: ScriptClient;
  private readonly store: BatchStore;
  private readonly calls: CallQueue;
  /** The calls queue, to release held jobs. */
  private readonly callJobs: Queue;
  private worker: Worker<BatchJobData> | undefined;
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: BatchWorkerOptions) {
    this.prefix = checkPrefix(options.prefix ?? DEFAULT_PREFIX);
    this.log = options.logger.child({ component: 'batch-worker' });
    this.redis = new ScriptClient(options.connection, BATCH_SCRIPTS, 'worker');
    this.store = new BatchStore(this.redis, this.prefix);
    // Worker connections: a Redis restart makes the expansion wait, not fail.
    this.calls = new CallQueue({ connection: options.connection, prefix: this.prefix, logger: options.logger, role: 'worker', retentionSec: options.retentionSec, onEvent: options.onEvent });
    this.callJobs = new Queue(CALL_QUEUE_NAME, { connection: connectionOptions(options.connection, 'worker'), prefix: this.prefix });
    this.callJobs.on('error', (err) => this.log.warn({ err: err.message }, 'batch worker: Redis error'));
  }

  async start(): Promise<void> {
    if (this.worker) return;
    await this.redis.client();
    const worker = new Worker<BatchJobData>(BATCH_QUEUE_NAME, (job, token) => this.process(job, token), {
      connection: connectionOptions(this.options.connection, 'worker'),
      prefix: this.prefix,
      concurrency: this.options.concurrency ?? 2,
      autorun: false,
      lockDuration: this.options.lockDurationMs ?? 30_000,
      stalledInterval: this.options.stalledIntervalMs ?? 30_000,
      // Both kinds of job are safe to rerun.
      maxStalledCount: 10,
    });
    worker.on('error', (err) => this.log.warn({ err: err.message }, 'batch worker: BullMQ error'));
    worker.on('failed', (job, err) => this.log.warn({ batchId: job?.data.batchId, job: job?.name, err: err.message }, 'batch job failed'));
    this.worker = worker;
    this.running = worker.run().catch((err: Error) => this.log.error({ err: err.message }, 'batch worker stopped on an error'));
    await worker.waitUntilReady();
    this.log.info({ concurrency: this.options.concurrency ?? 2 }, 'batch worker started');
  }

  /** Takes no new job and lets the one in hand finish its step (an expansion stops between rows; the next run resumes at its cursor). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.worker?.close();
    await this.running;
    await this.calls.close();
    await this.callJobs.close();
    await this.redis.close();
  }

  private async process(job: Job<BatchJobData>, token: string | undefined): Promise<unknown> {
    const { batchId, generation } = job.data;
    if (job.name === 'cancel') return { cancelled: await this.sweep(batchId) };
    try {
      return await this.expand(batchId, generation);
    } catch (err) {
      if (!(err instanceof Closing)) throw err;
      // Handed back at once, for another worker to go on from the cursor.
      await job.moveToDelayed(Date.now(), token);
      throw new DelayedError();
    }
  }

  /**
   * Turns the batch's rows into call jobs from its cursor on, `chunkSize` rows a step, checking
   * its state between steps; first releases the calls a pause held. `generation`: the resume this
   * run belongs to (an older run stops once a newer resume happened). Safe to run again at any
   * point: a row's job is found, not made twice. Public so a test can run it twice.
   */
  async expand(batchId: string, generation?: number): Promise<ExpandResult> {
    const log = this.log.child({ batchId });
    const rec = await this.store.read(batchId);
    if (!rec) return { expanded: 0, stopped: 'gone', released: 0 };
    if (generation !== undefined && generation < rec.generation) return { expanded: rec.expanded, stopped: 'superseded', released: 0 };
    if (rec.state === 'paused' || rec.state === 'cancelled') return { expanded: rec.expanded, stopped: rec.state, released: 0 };
    const released = await this.release(batchId);
    const chunk = this.options.chunkSize ?? 500;
    let expanded = rec.expanded;
    for (;;) {
      const rows = await this.store.rows(batchId, expanded, chunk);
      if (rows.length === 0) break;
      let refused = false;
      await eachLimited(rows, this.options.parallel ?? 100, async ({ row, data }) => {
        try {
          await this.calls.add(rowCallJob(rec.settings, data), { batch: { id: batchId, row } });
        } catch (err) {
          // Cancelled meanwhile: no more jobs are made (the ones made are swept).
          if (!isSwitchboardError(err, 'SB_BATCH_STATE')) throw err;
          refused = true;
        }
      });
      expanded += rows.length;
      const now = await this.store.advance(batchId, expanded);
      if (refused || now.state === 'cancelled') return { expanded, stopped: 'cancelled', released };
      if (now.state === undefined) return { expanded, stopped: 'gone', released };
      if (now.state === 'paused') return { expanded, stopped: 'paused', released };
      if (generation !== undefined && generation < now.generation) return { expanded, stopped: 'superseded', released };
      if (this.closed) throw new Closing();
    }
    log.info({ expanded, released }, 'batch expanded');
    return { expanded, released };
  }

  /** Moves the calls a pause held back to the queue now (those still in a worker's hands release themselves). */
  private async release(batchId: string): Promise<number> {
    const held = await this.store.takeHeld(batchId);
    let released = 0;
    await eachLimited(held, this.options.parallel ?? 100, async (jobId) => {
      const job = await Job.fromId(this.callJobs, jobId);
      if (!job) return;
      try {
        await job.promote();
        released++;
      } catch {
        // Not delayed (any more): taken already, or still being put aside by a worker that then sees the resume.
      }
    });
    return released;
  }

  /** Cancels every call job of the batch that has not been dialled; returns how many are cancelled. */
  private async sweep(batchId: string): Promise<number> {
    const chunk = this.options.chunkSize ?? 500;
    let cancelled = 0;
    for (let start = 0; ; start += chunk) {
      const rows = await this.store.rows(batchId, start, chunk);
      if (rows.length === 0) break;
      await eachLimited(rows, this.options.parallel ?? 100, async ({ row }) => {
        try {
          if (await this.calls.cancel(batchJobId({ id: batchId, row }))) cancelled++;
        } catch (err) {
          // A row never expanded has no job.
          if (!isSwitchboardError(err, 'SB_QUEUE_NOT_FOUND')) throw err;
        }
      });
    }
    await this.store.takeHeld(batchId);
    await this.store.finishIfDone(batchId);
    this.log.info({ batchId, cancelled }, 'batch cancelled: calls not yet dialled are cancelled');
    return cancelled;
  }
}
