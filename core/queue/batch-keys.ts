import { createHash, randomUUID } from 'node:crypto';

/** Which batch, and which row of it (1-based, as in the request), a call job was made for. */
export interface BatchRef {
  id: string;
  row: number;
}

/** The BullMQ queue batches are expanded through. */
export const BATCH_QUEUE_NAME = 'batches';

/** `b-` and 32 hex digits: a hash of the idempotency key, or random. */
export const BATCH_ID = /^b-[0-9a-f]{32}$/;

export function batchIdFor(idempotencyKey: string | undefined): string {
  if (idempotencyKey === undefined) return `b-${randomUUID().replaceAll('-', '')}`;
  return `b-${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 32)}`;
}

/**
 * The call job id of a batch row: the same every time the row is expanded, so expanding a
 * batch again (after a crash, a Redis restart, a resume) finds the job instead of making a second.
 */
export function batchJobId(ref: BatchRef): string {
  return `${ref.id}-r${ref.row}`;
}

/** The batch a call job id belongs to (the inverse of batchJobId), undefined for a job queued on its own. */
export function batchOfJob(jobId: string): string | undefined {
  const m = /^(b-[0-9a-f]{32})-r\d+$/.exec(jobId);
  return m?.[1];
}

/**
 * Redis keys of one batch. The Lua scripts derive the suffixed keys from the hash key itself
 * (the call record stores it), so these names are fixed: `<hash>:rows`, `:held`, `:rejected`.
 */
export class BatchKeys {
  constructor(readonly prefix: string) {}
  /** The batch's hash: state, settings, counters. */
  batch(id: string): string {
    return `${this.prefix}:batch:${id}`;
  }
  /** List of accepted rows, JSON `[row number, row]`. */
  rows(id: string): string {
    return `${this.batch(id)}:rows`;
  }
  /** Set of call job ids parked while the batch is paused (released by resume). */
  held(id: string): string {
    return `${this.batch(id)}:held`;
  }
  /** JSON list of the rejected rows. */
  rejected(id: string): string {
    return `${this.batch(id)}:rejected`;
  }
  /** Sorted set of batch ids by creation time (GET /v1/batches). */
  index(): string {
    return `${this.prefix}:batches`;
  }
  /** Rows being written before the batch is created (renamed into place atomically). */
  staging(token: string): string {
    return `${this.prefix}:batch-staging:${token}`;
  }
}
