import type { TimelineEntry } from '../flow/runner.ts';
import { WEBHOOK_EVENTS, type CallJob } from '../queue/index.ts';

export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

/** One flow step of the answered call, as a `step` event reports it. */
export interface WebhookStep {
  /** The step's id in the flow (its `id:`, else its position). */
  id: string;
  /** The plugin: `greet`, `gather`, `nova`… (absent when the caller hung up during the step). */
  name?: string;
  /** `ok`, a plugin's own outcome, `error` or `hangup`. */
  outcome: string;
  detail?: string;
}

/** The JSON body of one delivery. */
export interface WebhookEvent {
  /** Stable: every delivery attempt of an event, and a second report of the same event, carry the same id. Dedupe on it. */
  id: string;
  type: WebhookEventType;
  /** ISO time it happened. */
  at: string;
  /** 1, 2, 3… per call, in the order the events were emitted. */
  seq: number;
  callId: string;
  jobId: string;
  batchId?: string;
  to: string;
  flow: string;
  /** The dial attempt it is about (0 while queued). */
  attempt: number;
  maxAttempts: number;
  /** failed, retrying: why (USER_BUSY, NO_ANSWER…); completed: the hangup cause. */
  cause?: string;
  /** retrying: when the next attempt is due (ISO). */
  nextAttemptAt?: string;
  /** completed: seconds from answer to hangup. */
  durationSec?: number;
  step?: WebhookStep;
}

/** A job's webhook, normalised: where, and which event types it wants. */
export interface WebhookTarget {
  url: string;
  events: ReadonlySet<WebhookEventType>;
}

/** Every status event; `step` only on request (one POST per flow step is a lot of traffic). */
const DEFAULT_EVENTS: ReadonlySet<WebhookEventType> = new Set(WEBHOOK_EVENTS.filter((t) => t !== 'step'));

export function webhookTarget(webhook: CallJob['webhook']): WebhookTarget | undefined {
  if (webhook === undefined) return undefined;
  if (typeof webhook === 'string') return { url: webhook, events: DEFAULT_EVENTS };
  return { url: webhook.url, events: webhook.events ? new Set(webhook.events) : DEFAULT_EVENTS };
}

/** The step a flow timeline entry reports as finished (ended, failed, or interrupted by the caller hanging up), if any. */
export function webhookStep(entry: TimelineEntry): WebhookStep | undefined {
  if (entry.step === undefined) return undefined;
  const detail = entry.detail !== undefined ? { detail: entry.detail } : {};
  const name = entry.name !== undefined ? { name: entry.name } : {};
  switch (entry.kind) {
    case 'step-end':
      return { id: entry.step, ...name, outcome: entry.outcome ?? 'ok', ...detail };
    case 'error':
      return { id: entry.step, ...name, outcome: 'error', ...detail };
    case 'hangup':
      return { id: entry.step, ...name, outcome: 'hangup', ...detail };
    default:
      return undefined;
  }
}
