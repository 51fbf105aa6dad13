import { isSwitchboardError } from '../errors.ts';
import type { TimelineEntry } from '../flow/runner.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { CallJob, CallJobEvent, CallJobListener } from '../queue/index.ts';
import { batchOfJob } from '../queue/batch-keys.ts';
import { DEFAULT_PREFIX, ScriptClient, type QueueConnection } from '../queue/redis.ts';
import { CallStore } from '../queue/store.ts';
import { webhookStep, webhookTarget, type WebhookEvent } from './event.ts';
import { webhookMetrics, type WebhookMetrics } from './metrics.ts';
import { WebhookQueue } from './producer.ts';

export interface CallWebhooksOptions {
  connection: QueueConnection;
  /** The call queue's prefix. Default `sb`. */
  prefix?: string;
  logger: Logger;
  metrics?: Metrics;
  /** Delivery attempts per event (WebhookQueue). */
  attempts?: number;
  /** First retry delay (WebhookQueue). */
  backoffMs?: number;
}

type Unsequenced = Omit<WebhookEvent, 'seq'>;

const iso = (ms: number): string => new Date(ms).toISOString();

function batchField(jobId: string): { batchId?: string } {
  const batchId = batchOfJob(jobId);
  return batchId !== undefined ? { batchId } : {};
}

/**
 * Turns what happens to outbound call jobs into webhook events: `listener` takes the call queue's
 * status changes (give it to CallQueue and CallWorker as `onEvent`), `steps()` the flow steps of
 * an answered call. Only jobs with a `webhook` that wants the event type are reported.
 */
export class CallWebhooks {
  readonly listener: CallJobListener = (event) => this.onJobEvent(event);
  private readonly queue: WebhookQueue;
  private readonly prefix: string;
  private readonly log: Logger;
  private readonly metrics: WebhookMetrics | undefined;
  /** Reads a job's record for its step events; opened on the first answered queue call. */
  private reader: { redis: ScriptClient; store: CallStore } | undefined;

  constructor(private readonly options: CallWebhooksOptions) {
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    this.log = options.logger.child({ component: 'call-webhooks' });
    this.metrics = options.metrics ? webhookMetrics(options.metrics) : undefined;
    this.queue = new WebhookQueue({ connection: options.connection, prefix: this.prefix, logger: options.logger, attempts: options.attempts, backoffMs: options.backoffMs });
  }

  /**
   * For a call the queue originated (its channel variables say which job and attempt), a
   * reporter of its flow's timeline that sends one `step` event per finished step, when the job
   * asked for them; undefined for any other call. The first step event is preceded by the
   * attempt's `answered` event (the same event the worker sends: sent once), so a receiver never
   * sees a step of a call it has not seen answered.
   */
  steps(callId: string, variables: Readonly<Record<string, string | undefined>>): ((entry: TimelineEntry) => void) | undefined {
    const jobId = variables.sb_job;
    const attempt = Number(variables.sb_attempt);
    if (variables.sb_queue !== this.prefix || jobId === undefined || !/^[A-Za-z0-9_-]{1,64}$/.test(jobId) || !Number.isInteger(attempt) || attempt < 1) return undefined;
    const answeredAt = Date.now();
    const job = this.readJob(jobId);
    let chain: Promise<void> = Promise.resolve();
    let count = 0;
    return (entry) => {
      const step = webhookStep(entry);
      if (!step) return;
      const index = ++count;
      const at = Date.now();
      chain = chain.then(async () => {
        const j = await job;
        const target = webhookTarget(j?.webhook);
        if (!j || !target?.events.has('step')) return;
        const base = { callId, jobId, ...batchField(jobId), to: j.to, flow: j.flow, attempt, maxAttempts: j.attempts ?? 1 };
        if (index === 1 && target.events.has('answered')) await this.send(target.url, { id: `${jobId}.${attempt}.answered`, type: 'answered', at: iso(answeredAt), ...base });
        await this.send(target.url, { id: `${jobId}.${attempt}.step.${index}`, type: 'step', at: iso(at), ...base, step });
      });
    };
  }

  async close(): Promise<void> {
    await this.queue.close();
    await this.reader?.redis.close();
  }

  private async onJobEvent(ev: CallJobEvent): Promise<void> {
    const target = webhookTarget(ev.job.webhook);
    if (!target || !target.events.has(ev.type)) return;
    const event: Unsequenced = {
      // Stable: the same change reported twice (a recovered job, the answered sent before the
      // first step event) is one event, queued once.
      id: `${ev.jobId}.${ev.attempt}.${ev.type}`,
      type: ev.type,
      at: iso(ev.at),
      callId: ev.callId,
      jobId: ev.jobId,
      ...batchField(ev.jobId),
      to: ev.job.to,
      flow: ev.job.flow,
      attempt: ev.attempt,
      maxAttempts: ev.maxAttempts,
    };
    if (ev.cause !== undefined) event.cause = ev.cause;
    if (ev.nextAttemptAt !== undefined) event.nextAttemptAt = iso(ev.nextAttemptAt);
    if (ev.type === 'completed' && ev.answeredAt !== undefined) event.durationSec = Math.max(0, Math.round((ev.at - ev.answeredAt) / 100) / 10);
    await this.send(target.url, event);
  }

  private async readJob(jobId: string): Promise<CallJob | undefined> {
    if (!this.reader) {
      const redis = new ScriptClient(this.options.connection, [], 'worker');
      // Only read here: the retention given to the store is never used.
      this.reader = { redis, store: new CallStore(redis, this.prefix, 0) };
    }
    try {
      return (await this.reader.store.read(jobId))?.job;
    } catch (err) {
      this.log.warn({ err: (err as Error).message, jobId }, 'cannot read the call job for its step events');
      return undefined;
    }
  }

  /** Queues an event; a failure is logged once with its code and counted, never thrown at the call. */
  private async send(url: string, event: Unsequenced): Promise<void> {
    try {
      await this.queue.emit(url, event);
    } catch (err) {
      const code = isSwitchboardError(err) ? err.code : 'SB_WEBHOOK_ENQUEUE_FAILED';
      this.log.warn({ code, eventId: event.id, type: event.type, jobId: event.jobId }, (err as Error).message);
      this.metrics?.failed.inc({ type: event.type, reason: 'enqueue' });
    }
  }
}
