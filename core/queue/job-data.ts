import { createHash, randomUUID } from 'node:crypto';
import type { JobsOptions } from 'bullmq';
import type { BatchRef } from './batch-keys.ts';
import type { CallJob } from './call-job.schema.ts';
import type { CallState } from './store.ts';

/** What a BullMQ job of the `calls` queue carries. */
export interface CallJobData {
  /** The origination uuid, chosen when the job was created and the same for every attempt. */
  callId: string;
  job: CallJob;
  /** Set when the job was made from a batch row: the worker holds it while the batch is paused. */
  batch?: BatchRef;
}

/** A finished job's return value. */
export interface CallOutcome {
  state: CallState;
  cause: string | undefined;
  attempts: number;
  callId: string;
}

export const BULL_JOB_NAME = 'call';

/** A week: how long finished jobs (and so idempotency keys) are remembered. */
export const DEFAULT_RETENTION_SEC = 7 * 24 * 3600;

/**
 * BullMQ-level options. Dial attempts, retries and waits are the queue's own (Redis record +
 * moveToDelayed, which costs no BullMQ attempt); BullMQ's attempts only cover an unexpected
 * error in the worker itself, which is safe to rerun because every step checks the record first.
 */
export function bullJobOptions(jobId: string, delayMs: number, retentionSec: number, priority?: number): JobsOptions {
  return {
    jobId,
    delay: delayMs,
    ...(priority !== undefined ? { priority } : {}),
    attempts: 5,
    backoff: { type: 'exponential', delay: 2000 },
    removeOnComplete: { age: retentionSec },
    removeOnFail: { age: retentionSec },
  };
}

/** `k-<hash>` for an idempotency key (same key → same id), `c-<uuid>` otherwise. Never an integer, never a colon. */
export function jobIdFor(idempotencyKey: string | undefined): string {
  if (idempotencyKey === undefined) return `c-${randomUUID()}`;
  return `k-${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 40)}`;
}

/**
 * BullMQ priority of batch call jobs. BullMQ takes jobs without a priority first, so a call
 * queued on its own (REST, CLI) is not stuck behind the thousands of rows of a running batch.
 */
export const BATCH_JOB_PRIORITY = 10;

/** Causes retried when a job has attempts > 1 and no retryOn of its own. */
export const DEFAULT_RETRY_ON: readonly string[] = ['USER_BUSY', 'NO_ANSWER', 'NO_USER_RESPONSE', 'NORMAL_TEMPORARY_FAILURE', 'NORMAL_CIRCUIT_CONGESTION', 'SWITCH_CONGESTION'];

/** ms to wait after failed attempt `attempt` (1-based) before the next. */
export function backoffMs(job: Pick<CallJob, 'backoff'>, attempt: number): number {
  const b = job.backoff ?? { type: 'fixed', delayMs: 30_000 };
  const ms = b.type === 'exponential' ? b.delayMs * 2 ** (attempt - 1) : b.delayMs;
  return Math.min(ms, 7 * 24 * 3600 * 1000);
}
