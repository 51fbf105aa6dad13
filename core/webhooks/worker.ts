import { hostname } from 'node:os';
import { DelayedError, Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import { SwitchboardError, isSwitchboardError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { DEFAULT_PREFIX, ScriptClient, checkPrefix, connectionOptions, type QueueConnection } from '../queue/redis.ts';
import { ENGINE_VERSION } from '../version.ts';
import { postOnce } from './delivery.ts';
import { webhookMetrics, type WebhookMetrics } from './metrics.ts';
import { DeliveryOrder, ORDER_SCRIPTS } from './order.ts';
import { WEBHOOK_QUEUE_NAME, type WebhookJobData } from './producer.ts';
import { SIGNATURE_HEADER, signatureHeader } from './signature.ts';

export interface WebhookWorkerOptions {
  connection: QueueConnection;
  prefix?: string;
  logger: Logger;
  metrics?: Metrics;
  /** Deliveries are signed with each (rotation); none: sent unsigned. */
  secrets: readonly string[];
  /** Per delivery attempt, connection to the end of the answer's headers. Default 5000. */
  timeoutMs?: number;
  /** Deliveries in flight at once in this process. Default 20. */
  concurrency?: number;
  name?: string;
}

/** An earlier event whose job is gone this long (never queued, or removed) no longer holds the call's later events. */
const LOST_AFTER_MS = 10_000;
const JITTER = 0.25;

/** Where a URL points, for logs: its query string may hold a token. */
function urlForLog(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(bad URL)';
  }
}

/**
 * The consumer side of webhooks: POSTs each queued event, signed, with a timeout; retries network
 * errors, timeouts, 5xx, 408 and 429 with exponential backoff (or the receiver's Retry-After);
 * gives up at once on any other answer. An event of a call is sent only after every earlier
 * event of that call was delivered or given up on.
 */
export class WebhookWorker {
  readonly name: string;
  private readonly prefix: string;
  private readonly log: Logger;
  private readonly redis: ScriptClient;
  private readonly order: DeliveryOrder;
  private readonly metrics: WebhookMetrics | undefined;
  private readonly timeoutMs: number;
  private readonly secrets: readonly string[];
  private worker: Worker<WebhookJobData, { status: number }, string> | undefined;
  /** Job states (to see whether an earlier event still holds a later one) and promotions. */
  private queue: Queue<WebhookJobData, { status: number }, string> | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly options: WebhookWorkerOptions) {
    this.prefix = checkPrefix(options.prefix ?? DEFAULT_PREFIX);
    this.name = options.name ?? `${hostname()}:${process.pid}`;
    this.log = options.logger.child({ component: 'webhook-worker', worker: this.name });
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.secrets = options.secrets;
    this.redis = new ScriptClient(options.connection, ORDER_SCRIPTS, 'worker');
    this.order = new DeliveryOrder(this.redis, this.prefix);
    this.metrics = options.metrics ? webhookMetrics(options.metrics) : undefined;
  }

  async start(): Promise<void> {
    if (this.worker) return;
    if (this.secrets.length === 0) this.log.warn('SB_WEBHOOK_SECRET is not set: webhook deliveries are not signed and receivers cannot verify them');
    const queue = new Queue<WebhookJobData, { status: number }, string>(WEBHOOK_QUEUE_NAME, { connection: connectionOptions(this.options.connection, 'worker'), prefix: this.prefix });
    queue.on('error', () => {});
    this.queue = queue;
    const worker = new Worker<WebhookJobData, { status: number }, string>(WEBHOOK_QUEUE_NAME, (job, token) => this.process(job, token), {
      connection: connectionOptions(this.options.connection, 'worker'),
      prefix: this.prefix,
      concurrency: this.options.concurrency ?? 20,
      autorun: false,
      name: this.name,
      settings: { backoffStrategy: (attemptsMade, _type, err, job) => this.backoff(attemptsMade, err, job?.opts.backoff) },
    });
    worker.on('error', (err) => this.log.warn({ err: err.message }, 'webhook worker: BullMQ error'));
    this.worker = worker;
    this.running = worker.run().catch((err: Error) => this.log.error({ err: err.message }, 'webhook worker stopped on an error'));
    await worker.waitUntilReady();
    this.log.info({ concurrency: this.options.concurrency ?? 20, signed: this.secrets.length > 0 }, 'webhook worker started');
  }

  /** Finishes the deliveries in flight (each bounded by the timeout), then stops. */
  async close(): Promise<void> {
    await this.worker?.close();
    await this.running;
    await this.queue?.close();
    await this.redis.close();
  }

  private backoff(attemptsMade: number, err: Error | undefined, backoff: number | { delay?: number } | undefined): number {
    const retryAfterMs = isSwitchboardError(err) ? err.context.retryAfterMs : undefined;
    if (typeof retryAfterMs === 'number') return retryAfterMs;
    const base = typeof backoff === 'number' ? backoff : (backoff?.delay ?? 1000);
    const ms = base * 2 ** Math.max(0, attemptsMade - 1);
    // Jitter only upwards: never sooner than the schedule says, and receivers coming back up are not hit all at once.
    return Math.round(ms * (1 + Math.random() * JITTER));
  }

  private async process(job: Job<WebhookJobData, { status: number }, string>, token: string | undefined): Promise<{ status: number }> {
    const { url, body, type, orderKey } = job.data;
    const eventId = job.id as string;
    await this.waitForTurn(job, token);
    const attempt = job.attemptsMade + 1;
    const maxAttempts = job.opts.attempts ?? 1;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': `Switchboard/${ENGINE_VERSION}`,
      'switchboard-event-id': eventId,
      'switchboard-event-type': type,
      'switchboard-delivery-attempt': String(attempt),
    };
    if (this.secrets.length > 0) headers[SIGNATURE_HEADER.toLowerCase()] = signatureHeader(body, this.secrets, Math.floor(Date.now() / 1000));
    const outcome = await postOnce(url, body, headers, this.timeoutMs);
    const log = this.log.child({ eventId, type, url: urlForLog(url), attempt });
    if (outcome.ok) {
      this.metrics?.delivered.inc({ type });
      await this.settle(orderKey, eventId);
      log.debug({ status: outcome.status }, 'webhook delivered');
      return { status: outcome.status };
    }
    if (outcome.retry && attempt < maxAttempts) {
      log.debug({ detail: outcome.detail }, 'webhook delivery failed; will retry');
      throw new SwitchboardError('SB_WEBHOOK_ATTEMPT_FAILED', [urlForLog(url), outcome.detail], { eventId, retryAfterMs: outcome.retryAfterMs });
    }
    // The one log line and count of a failure: given up, the call's later events may go.
    const err = outcome.retry
      ? new SwitchboardError('SB_WEBHOOK_GAVE_UP', [urlForLog(url), attempt, outcome.detail], { eventId })
      : new SwitchboardError('SB_WEBHOOK_REJECTED', [urlForLog(url), outcome.detail], { eventId });
    log.warn({ code: err.code, status: outcome.status, jobId: orderKey }, err.message);
    this.metrics?.failed.inc({ type, reason: outcome.retry ? 'exhausted' : 'rejected' });
    await this.settle(orderKey, eventId);
    throw new UnrecoverableError(err.message);
  }

  /**
   * Returns once every earlier event of the call is settled; otherwise moves this job to delayed
   * and leaves (a waiting event must not hold one of the worker's slots: the event it waits for
   * may need that slot). The earlier event promotes it when it settles; the delay is only a
   * fallback, growing with the time this event has been waiting.
   */
  private async waitForTurn(job: Job<WebhookJobData, { status: number }, string>, token: string | undefined): Promise<void> {
    const { orderKey } = job.data;
    for (;;) {
      const head = await this.order.head(orderKey, job.id as string);
      if (!head) return;
      const state = await (this.queue as Queue).getJobState(head.id);
      const lost = state === 'completed' || state === 'failed' || (state === 'unknown' && Date.now() - head.queuedAt > LOST_AFTER_MS);
      if (lost) {
        this.log.warn({ eventId: head.id, state }, 'an earlier webhook event of this call is no longer queued; not waiting for it');
        await this.order.settle(orderKey, head.id);
        continue;
      }
      const waited = Date.now() - job.data.queuedAt;
      const ms = state === 'delayed' ? Math.min(15_000, Math.max(250, waited / 2)) : 250;
      await job.moveToDelayed(Date.now() + ms, token);
      throw new DelayedError();
    }
  }

  private async settle(orderKey: string, eventId: string): Promise<void> {
    const next = await this.order.settle(orderKey, eventId);
    if (next === undefined || !this.queue) return;
    try {
      const job = await Job.fromId(this.queue, next);
      if (job && (await job.isDelayed())) await job.promote();
    } catch {
      // It moved on its own meanwhile (running, or already promoted): nothing to wake.
    }
  }
}
