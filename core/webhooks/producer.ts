import { Queue } from 'bullmq';
import { SwitchboardError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { DEFAULT_PREFIX, ScriptClient, checkPrefix, connectionOptions, type QueueConnection } from '../queue/redis.ts';
import type { WebhookEvent, WebhookEventType } from './event.ts';
import { DeliveryOrder, ORDER_SCRIPTS } from './order.ts';

/** The BullMQ queue deliveries go through. */
export const WEBHOOK_QUEUE_NAME = 'webhooks';
/** Custom backoff type, computed by the worker (exponential with jitter, or the receiver's Retry-After). */
export const WEBHOOK_BACKOFF = 'webhook';

/** What a job of the `webhooks` queue carries: the body is fixed when the event is queued, so every attempt sends the same bytes. */
export interface WebhookJobData {
  url: string;
  body: string;
  type: WebhookEventType;
  /** Events with the same key are delivered in order (the call's job id). */
  orderKey: string;
  /** ms */
  queuedAt: number;
}

export interface WebhookQueueOptions {
  connection: QueueConnection;
  /** The same key prefix as the call queue. Default `sb`. */
  prefix?: string;
  logger: Logger;
  /** Delivery attempts per event, in all. Default 10. */
  attempts?: number;
  /** Wait before the first retry, doubled for each next one (plus up to 25 % jitter), unless the receiver's Retry-After says otherwise. Default 1000. */
  backoffMs?: number;
}

/** Ordering records outlive any plausible retry schedule; each new event of the call renews them. */
const ORDER_TTL_SEC = 3 * 24 * 3600;

/**
 * The producer side of webhooks: queues an event for delivery (it never waits for the receiver).
 * An event id queued before for the same call is not queued again.
 */
export class WebhookQueue {
  readonly prefix: string;
  private readonly queue: Queue<WebhookJobData, { status: number }, string>;
  private readonly redis: ScriptClient;
  private readonly order: DeliveryOrder;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private closed = false;

  constructor(options: WebhookQueueOptions) {
    this.prefix = checkPrefix(options.prefix ?? DEFAULT_PREFIX);
    this.attempts = options.attempts ?? 10;
    this.backoffMs = options.backoffMs ?? 1000;
    if (!Number.isInteger(this.attempts) || this.attempts < 1) throw new SwitchboardError('SB_WEBHOOK_BAD_OPTION', ['attempts', `${this.attempts} is not a positive integer`]);
    const log = options.logger.child({ component: 'webhook-queue' });
    // Events are emitted after the change they report is recorded, and nobody is waiting on them:
    // across a Redis restart they wait for the connection (worker role) rather than being lost.
    this.queue = new Queue(WEBHOOK_QUEUE_NAME, { connection: connectionOptions(options.connection, 'worker'), prefix: this.prefix });
    this.queue.on('error', (err) => log.warn({ err: err.message }, 'webhook queue: Redis error'));
    this.redis = new ScriptClient(options.connection, ORDER_SCRIPTS, 'worker');
    this.order = new DeliveryOrder(this.redis, this.prefix);
  }

  /**
   * Queues `event` for `url`, ordered behind the earlier events of the same call (`event.jobId`).
   * Resolves true when queued, false when that event id was queued before. Throws
   * SB_WEBHOOK_ENQUEUE_FAILED when Redis cannot take it.
   */
  async emit(url: string, event: Omit<WebhookEvent, 'seq'>): Promise<boolean> {
    if (this.closed) throw new SwitchboardError('SB_WEBHOOK_ENQUEUE_FAILED', [event.id, 'the webhook queue is closed']);
    const orderKey = event.jobId;
    let seq: number;
    try {
      seq = await this.order.enqueue(orderKey, event.id, ORDER_TTL_SEC);
    } catch (err) {
      throw new SwitchboardError('SB_WEBHOOK_ENQUEUE_FAILED', [event.id, (err as Error).message], { eventId: event.id }, { cause: err });
    }
    if (seq === 0) return false;
    const body = JSON.stringify({ ...event, seq });
    try {
      await this.queue.add(
        event.type,
        { url, body, type: event.type, orderKey, queuedAt: Date.now() },
        {
          jobId: event.id,
          attempts: this.attempts,
          backoff: { type: WEBHOOK_BACKOFF, delay: this.backoffMs },
          removeOnComplete: { age: 3600, count: 10_000 },
          removeOnFail: { age: 7 * 24 * 3600 },
        },
      );
    } catch (err) {
      // Not queued: let the call's later events go rather than wait for one that will never come.
      await this.order.settle(orderKey, event.id).catch(() => undefined);
      throw new SwitchboardError('SB_WEBHOOK_ENQUEUE_FAILED', [event.id, (err as Error).message], { eventId: event.id }, { cause: err });
    }
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.close();
    await this.redis.close();
  }
}
