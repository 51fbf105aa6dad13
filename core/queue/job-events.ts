import type { Logger } from '../log.ts';
import type { CallJob, WEBHOOK_EVENTS } from './call-job.schema.ts';

/** A status change of a call job, and `ringing` (heard on the event socket, not a state of the record). */
export type CallJobEventType = Exclude<(typeof WEBHOOK_EVENTS)[number], 'step'>;

/** What the queue tells its listener (the webhook layer) once a change is recorded in Redis. */
export interface CallJobEvent {
  type: CallJobEventType;
  /** ms */
  at: number;
  jobId: string;
  callId: string;
  /** The dial attempt it is about (0 before the first). */
  attempt: number;
  maxAttempts: number;
  /** failed, retrying: why; completed: the hangup cause. */
  cause?: string;
  /** retrying: ms at which the next attempt is due. */
  nextAttemptAt?: number;
  /** completed: ms at which the call was answered. */
  answeredAt?: number;
  job: CallJob;
}

/**
 * Told about each status change of a job exactly where it is recorded, by whichever producer or
 * worker recorded it (a change that lost a compare-and-set race is not reported). It should be
 * quick (enqueue, not deliver): the worker awaits it, except for `dialing` and `ringing`, which
 * must not delay the originate or the event loop.
 */
export type CallJobListener = (event: CallJobEvent) => void | Promise<void>;

/** Calls the listener; its failure is logged and never fails the job. */
export async function notify(listener: CallJobListener | undefined, event: CallJobEvent, log: Logger): Promise<void> {
  if (!listener) return;
  try {
    await listener(event);
  } catch (err) {
    log.warn({ err: err instanceof Error ? err.message : String(err), jobId: event.jobId, type: event.type }, 'call job listener failed');
  }
}

/** Several listeners as one, told in turn (the call history, then the webhooks). */
export function allListeners(...listeners: CallJobListener[]): CallJobListener {
  return async (event) => {
    for (const listener of listeners) await listener(event);
  };
}
