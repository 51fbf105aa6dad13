import { hostname } from 'node:os';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { queueMetrics } from '../queue/queue-metrics.ts';
import { DEFAULT_PREFIX, checkPrefix, connectionOptions, type QueueConnection } from '../queue/redis.ts';
import { expandBatch, runBatch } from './batch.ts';
import { isTransient, type AudioConverter } from './converter.ts';
import { sha256File } from './measure.ts';
import { AUDIO_QUEUE_NAME, failureReason, latestItems, type AudioJobData, type AudioJobKind, type AudioJobResult } from './queue.ts';
import type { BatchSummary, ConvertResult, ItemOutcome } from './result.schema.ts';
import { isBatchRequest, type BatchRequest, type ConvertRequest } from './request.schema.ts';

export interface AudioWorkerOptions {
  connection: QueueConnection;
  prefix?: string;
  /** Does the work; its concurrency bounds the sox processes of this worker. */
  converter: AudioConverter;
  logger: Logger;
  metrics?: Metrics;
  /**
   * Jobs in hand at once. Default 12 × the converter's concurrency: the sox processes stay at the
   * converter's bound, the other jobs are being measured and recorded meanwhile, so the CPU never
   * waits for Redis.
   */
  concurrency?: number;
  /** Tries per file of a batch for transient failures (the queue's attempts cover single jobs). Default 3. */
  attempts?: number;
  /** First wait before a file of a batch is tried again, doubled each time. Default 1000. */
  backoffMs?: number;
  /** Shown in logs. Default `<hostname>:<pid>`. */
  name?: string;
}

/** Thrown for failures that a retry cannot fix; BullMQ then fails the job at once, keeping the reason. */
function final(err: unknown): never {
  if (isTransient(err)) throw new Error(failureReason(err));
  throw new UnrecoverableError(failureReason(err));
}

/**
 * The consumer side of audio jobs, on any host whose disk holds the files (a FreeSWITCH host:
 * `switchboard worker --queues audio`). A single job converts one file; a batch lists its folder
 * here and converts file by file, recording each outcome in the job's log, so a batch resumed
 * after a crash skips what was done. Transient failures (a full disk, a timeout) are retried;
 * a bad input fails at once with its code.
 */
export class AudioWorker {
  readonly name: string;
  readonly prefix: string;
  private readonly log: Logger;
  private readonly concurrency: number;
  private worker: Worker<AudioJobData, AudioJobResult, AudioJobKind> | undefined;
  private reader: Queue<AudioJobData, AudioJobResult, AudioJobKind> | undefined;
  private running: Promise<void> | undefined;
  private dropDepthSource: (() => void) | undefined;

  constructor(private readonly options: AudioWorkerOptions) {
    this.prefix = checkPrefix(options.prefix ?? DEFAULT_PREFIX);
    this.name = options.name ?? `${hostname()}:${process.pid}`;
    this.log = options.logger.child({ component: 'audio-worker', worker: this.name });
    this.concurrency = options.concurrency ?? 12 * options.converter.concurrency;
  }

  /** Checks sox first (SB_AUDIO_CONVERTER_MISSING names the package), then takes jobs. */
  async start(): Promise<void> {
    if (this.worker) return;
    const caps = await this.options.converter.start();
    this.reader = new Queue(AUDIO_QUEUE_NAME, { connection: connectionOptions(this.options.connection, 'producer'), prefix: this.prefix });
    this.reader.on('error', () => {});
    const worker = new Worker<AudioJobData, AudioJobResult, AudioJobKind>(AUDIO_QUEUE_NAME, (job) => this.process(job), {
      connection: connectionOptions(this.options.connection, 'worker'),
      prefix: this.prefix,
      concurrency: this.concurrency,
      autorun: false,
      name: this.name,
    });
    worker.on('error', (err) => this.log.warn({ err: err.message }, 'audio worker: BullMQ error'));
    worker.on('failed', (job, err) => this.log.info({ jobId: job?.id, reason: err.message, attempt: job?.attemptsMade }, 'audio job failed'));
    this.worker = worker;
    this.running = worker.run().catch((err: Error) => this.log.error({ err: err.message }, 'audio worker stopped on an error'));
    await worker.waitUntilReady();
    if (this.options.metrics) {
      const reader = this.reader;
      this.dropDepthSource = queueMetrics(this.options.metrics).addDepthSource(AUDIO_QUEUE_NAME, () => reader.getJobCountByTypes('wait', 'delayed', 'prioritized'));
    }
    this.log.info({ concurrency: this.concurrency, sox: caps.version, converters: this.options.converter.concurrency }, 'audio worker started');
  }

  /** Takes no new job and lets the jobs in hand finish. */
  async close(): Promise<void> {
    await this.worker?.close();
    await this.running;
    this.dropDepthSource?.();
    await this.reader?.close();
  }

  private async process(job: Job<AudioJobData, AudioJobResult, AudioJobKind>): Promise<AudioJobResult> {
    const request = job.data.request;
    try {
      if (isBatchRequest(request)) return await this.batch(job, request);
      return { kind: 'convert', result: await this.single(job, request) };
    } catch (err) {
      final(err);
    }
  }

  /** Logs before which the previous run of this job stopped: outcomes by index. */
  private async previous(job: Job): Promise<Map<number, ItemOutcome>> {
    // attemptsStarted counts this run too: more than one means an earlier run (failed, or stalled when its worker died).
    if (job.attemptsStarted <= 1 && job.attemptsMade === 0 && job.stalledCounter === 0) return new Map();
    const { logs } = await (this.reader as Queue).getJobLogs(job.id as string, 0, -1, true);
    const items = latestItems(logs);
    // A success recorded just before its file was moved into place counts only if that file is there, unchanged.
    for (const [i, o] of items) {
      if (!o.ok) {
        items.delete(i);
        continue;
      }
      const same = await sha256File(o.result.output).then((h) => h.sha256 === o.result.sha256, () => false);
      if (!same) items.delete(i);
    }
    return items;
  }

  private async single(job: Job<AudioJobData, AudioJobResult, AudioJobKind>, request: ConvertRequest): Promise<ConvertResult> {
    const done = (await this.previous(job)).get(0);
    if (done?.ok) return done.result;
    return this.options.converter.convert(request, {
      beforeCommit: (result) => job.log(JSON.stringify({ index: 0, input: request.input, output: request.output, ok: true, result } satisfies ItemOutcome)).then(() => {}),
    });
  }

  private async batch(job: Job<AudioJobData, AudioJobResult, AudioJobKind>, request: BatchRequest): Promise<AudioJobResult> {
    const items = await expandBatch(this.options.converter, request);
    const previous = await this.previous(job);
    const summary: BatchSummary = { total: items.length, converted: 0, skipped: 0, failed: 0 };
    let lastProgress = 0;
    const progress = async (force: boolean): Promise<void> => {
      const now = Date.now();
      if (!force && now - lastProgress < 250) return;
      lastProgress = now;
      await job.updateProgress({ done: summary.converted + summary.skipped + summary.failed, total: summary.total, failed: summary.failed });
    };
    await progress(true);
    this.log.info({ jobId: job.id, files: items.length, resumed: previous.size }, 'audio batch started');
    await runBatch(this.options.converter, request, items, {
      parallel: this.concurrency,
      attempts: this.options.attempts ?? 3,
      backoffMs: this.options.backoffMs ?? 1000,
      done: previous,
      beforeCommit: (item, result) => job.log(JSON.stringify({ index: item.index, input: item.input, output: item.output, ok: true, result } satisfies ItemOutcome)).then(() => {}),
      onItem: async (o) => {
        if (!o.ok) {
          summary.failed++;
          await job.log(JSON.stringify(o));
        } else if (o.result.status === 'skipped') {
          summary.skipped++;
          if (!previous.has(o.index)) await job.log(JSON.stringify(o));
        } else summary.converted++;
        await progress(false);
      },
    });
    await progress(true);
    this.log.info({ jobId: job.id, ...summary }, 'audio batch finished');
    return { kind: 'batch', ...summary };
  }
}
