import { randomUUID } from 'node:crypto';
import { Queue, type Job, type JobsOptions } from 'bullmq';
import { SwitchboardError, isSwitchboardError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { DEFAULT_PREFIX, RedisGate, connectionOptions, checkPrefix, type QueueConnection } from '../queue/redis.ts';
import type { AudioJobState, AudioJobStateName, BatchSummary, ConvertResult, ItemOutcome } from './result.schema.ts';
import { checkRequest } from './request.ts';
import { isBatchRequest, type AudioRequest } from './request.schema.ts';
import type { AudioPaths } from './roots.ts';

/** The BullMQ queue audio jobs go through. */
export const AUDIO_QUEUE_NAME = 'audio';

/** What a job of the `audio` queue carries. */
export interface AudioJobData {
  request: AudioRequest;
}

/** A finished job's return value. */
export type AudioJobResult = { kind: 'convert'; result: ConvertResult } | ({ kind: 'batch' } & BatchSummary);

export type AudioJobKind = 'convert' | 'batch';

/** Failure reasons are stored as `CODE: message`, so the code survives BullMQ. */
export function failureReason(err: unknown): string {
  return isSwitchboardError(err) ? `${err.code}: ${err.message}` : `SB_AUDIO_CONVERT_FAILED: ${(err as Error).message ?? String(err)}`;
}

export function parseFailure(reason: string | undefined): { code: string; message: string } | undefined {
  if (!reason) return undefined;
  const m = /^(SB_[A-Z_]+): ([\s\S]*)$/.exec(reason);
  return m ? { code: m[1] as string, message: m[2] as string } : { code: 'SB_AUDIO_CONVERT_FAILED', message: reason };
}

/** A job log line: an item's outcome (the last line for an index wins). */
export function parseItemLog(line: string): ItemOutcome | undefined {
  try {
    const v = JSON.parse(line) as ItemOutcome;
    return typeof v.index === 'number' ? v : undefined;
  } catch {
    return undefined;
  }
}

export function latestItems(lines: readonly string[]): Map<number, ItemOutcome> {
  const items = new Map<number, ItemOutcome>();
  for (const line of lines) {
    const o = parseItemLog(line);
    if (o) items.set(o.index, o);
  }
  return items;
}

export interface AudioQueueOptions {
  connection: QueueConnection;
  prefix?: string;
  logger: Logger;
  /** The audio roots: paths are checked against them (lexically) before a job is queued; the worker checks again on its disk. */
  paths: AudioPaths;
  /** Tries for transient failures (SB_AUDIO_ATTEMPTS). Default 3. */
  attempts?: number;
  /** First wait before a retry, doubled each time. Default 1000. */
  backoffMs?: number;
  /** Seconds finished and failed jobs are kept. Default a week. */
  retentionSec?: number;
  /** How long a request waits for the first connection to Redis before SB_AUDIO_UNAVAILABLE. Default 5000. */
  connectTimeoutMs?: number;
}

/**
 * The producer side of audio jobs: checks a request (options, formats, roots), queues it, and
 * reads a job back with its result, progress, per-file outcomes or failure. REST, flows (wait:
 * false) and the CLI add jobs through this; AudioWorker converts them.
 */
export class AudioQueue {
  readonly prefix: string;
  private readonly queue: Queue<AudioJobData, AudioJobResult, AudioJobKind>;
  private readonly log: Logger;
  private readonly attempts: number;
  private readonly retentionSec: number;
  private readonly gate: RedisGate;
  private closed = false;

  constructor(private readonly options: AudioQueueOptions) {
    this.prefix = checkPrefix(options.prefix ?? DEFAULT_PREFIX);
    this.log = options.logger.child({ component: 'audio-queue' });
    this.attempts = options.attempts ?? 3;
    this.retentionSec = options.retentionSec ?? 7 * 24 * 3600;
    // Our errors pass through; anything else is Redis failing (503), the first connection waited for at most connectTimeoutMs.
    this.gate = new RedisGate(() => this.queue.waitUntilReady(), options.connectTimeoutMs ?? 5000, (err) =>
      new SwitchboardError('SB_AUDIO_UNAVAILABLE', [`cannot reach Redis: ${(err as Error).message} (check REDIS_URL)`], {}, { cause: err }));
    this.queue = new Queue<AudioJobData, AudioJobResult, AudioJobKind>(AUDIO_QUEUE_NAME, { connection: connectionOptions(options.connection, 'producer'), prefix: this.prefix });
    this.queue.on('error', (err) => this.log.warn({ err: err.message }, 'audio queue: Redis error'));
  }

  /**
   * Queues a conversion or a batch. Throws SB_AUDIO_BAD_OPTION, SB_AUDIO_UNKNOWN_FORMAT or
   * SB_AUDIO_OUTSIDE_ROOTS (with context.pointer) for a request that can never succeed,
   * SB_AUDIO_UNAVAILABLE when Redis cannot be reached. (What the worker's converter lacks, such
   * as opus-tools, fails the job there: SB_AUDIO_FORMAT_UNAVAILABLE.)
   */
  async add(input: unknown): Promise<{ jobId: string; kind: AudioJobKind }> {
    if (this.closed) throw new SwitchboardError('SB_AUDIO_UNAVAILABLE', ['the queue is closed']);
    const request = checkRequest(input);
    this.checkRoots(request);
    const kind: AudioJobKind = isBatchRequest(request) ? 'batch' : 'convert';
    const jobId = `a-${randomUUID()}`;
    const opts: JobsOptions = {
      jobId,
      attempts: this.attempts,
      backoff: { type: 'exponential', delay: this.options.backoffMs ?? 1000 },
      removeOnComplete: { age: this.retentionSec },
      removeOnFail: { age: this.retentionSec },
    };
    await this.redis(() => this.queue.add(kind, { request }, opts));
    this.log.info({ jobId, kind }, 'audio job queued');
    return { jobId, kind };
  }

  /** The job's state, progress, result or failure; undefined when unknown or past retention. `items: 'failed'` lists failed files only, `'none'` none. */
  async get(jobId: string, options: { items?: 'all' | 'failed' | 'none' } = {}): Promise<AudioJobState | undefined> {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(jobId)) return undefined;
    return this.redis(async () => {
      const job = await this.queue.getJob(jobId);
      if (!job) return undefined;
      return describeJob(job, await job.getState(), options.items ?? 'all', (id) => this.queue.getJobLogs(id, 0, -1, true).then((l) => l.logs));
    });
  }

  /** Jobs waiting (waiting, delayed — retry backoff — and prioritized). */
  async depth(): Promise<number> {
    return this.redis(() => this.queue.getJobCountByTypes('wait', 'delayed', 'prioritized'));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.close();
  }

  private checkRoots(request: AudioRequest): void {
    const check = (path: string | undefined, pointer: string): void => {
      if (path === undefined) return;
      try {
        this.options.paths.absolute(path);
      } catch (err) {
        if (isSwitchboardError(err)) err.context.pointer = pointer;
        throw err;
      }
    };
    if (isBatchRequest(request)) {
      check(request.batch.dir, '/batch/dir');
      request.batch.files?.forEach((f, i) => check(f, `/batch/files/${i}`));
      check(request.outDir, '/outDir');
    } else {
      check(request.input, '/input');
      check(request.output, '/output');
    }
  }

  private redis<T>(fn: () => Promise<T>): Promise<T> {
    return this.gate.call(fn);
  }
}

const iso = (ms: number | undefined): string | undefined => (ms ? new Date(ms).toISOString() : undefined);

/** A BullMQ job as the REST API and CLI show it. */
export async function describeJob(job: Job<AudioJobData, AudioJobResult, AudioJobKind>, bullState: string, items: 'all' | 'failed' | 'none', logs: (id: string) => Promise<string[]>): Promise<AudioJobState> {
  const kind = job.name;
  const maxAttempts = job.opts.attempts ?? 1;
  let state: AudioJobStateName;
  if (bullState === 'completed') state = 'completed';
  else if (bullState === 'failed') state = 'failed';
  else if (bullState === 'active') state = 'active';
  else state = job.attemptsMade > 0 ? 'retrying' : 'queued';
  const progress = job.progress as Partial<AudioJobState['progress']> | number;
  const out: AudioJobState = {
    jobId: job.id as string,
    kind,
    state,
    request: job.data.request,
    attempts: job.attemptsMade,
    maxAttempts,
    progress: typeof progress === 'object' && progress !== null ? { done: progress.done ?? 0, total: progress.total ?? 0, failed: progress.failed ?? 0 } : { done: 0, total: kind === 'convert' ? 1 : 0, failed: 0 },
    createdAt: new Date(job.timestamp).toISOString(),
  };
  const startedAt = iso(job.processedOn);
  const finishedAt = iso(job.finishedOn);
  if (startedAt) out.startedAt = startedAt;
  if (finishedAt && (state === 'completed' || state === 'failed')) out.finishedAt = finishedAt;
  const error = parseFailure(job.failedReason);
  if (error && state !== 'completed') out.error = error;
  const rv = state === 'completed' ? job.returnvalue : undefined;
  if (kind === 'convert') {
    if (rv?.kind === 'convert') {
      out.result = rv.result;
      out.progress = { done: 1, total: 1, failed: 0 };
    } else if (state === 'failed') out.progress = { done: 1, total: 1, failed: 1 };
    return out;
  }
  if (rv?.kind === 'batch') {
    const { kind: _k, ...summary } = rv;
    out.summary = summary;
    out.progress = { done: summary.total, total: summary.total, failed: summary.failed };
  }
  if (items !== 'none') {
    const all = [...latestItems(await logs(job.id as string)).values()].sort((a, b) => a.index - b.index);
    out.items = items === 'failed' ? all.filter((i) => !i.ok) : all;
  }
  return out;
}
