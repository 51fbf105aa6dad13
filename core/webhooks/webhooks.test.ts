// Delivery of webhook events through BullMQ against a real redis-server and a real local HTTP
// receiver: signatures, retries and backoff, what is not retried, timeouts, giving up, and the
// per-call order.
import { Writable } from 'node:stream';
import { Queue } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from '../../test/support/redis-server.ts';
import { createLogger } from '../log.ts';
import { Metrics } from '../metrics.ts';
import { freshPrefix, until } from '../queue/fixtures/harness.ts';
import { connectionOptions } from '../queue/redis.ts';
import type { WebhookEvent } from './event.ts';
import { WebhookReceiver } from './fixtures/receiver.ts';
import { WEBHOOK_QUEUE_NAME, WebhookQueue } from './producer.ts';
import { verifyWebhook } from './signature.ts';
import { WebhookWorker } from './worker.ts';

const SECRET = 'test-secret-0123456789';

let redis: RedisServer;
let receiver: WebhookReceiver;
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  redis = await startRedisServer();
  receiver = await WebhookReceiver.start();
});

afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c().catch(() => {});
  receiver.requests.length = 0;
  receiver.reply = () => 200;
  await receiver.listen().catch(() => {}); // back up if a test took it down
});

afterAll(async () => {
  await receiver?.stop();
  await redis?.stop();
});

interface Rig {
  queue: WebhookQueue;
  metrics: Metrics;
  /** Log lines of the worker and the queue, parsed. */
  logs: Array<Record<string, unknown>>;
  /** BullMQ's view of one event's delivery job. */
  job(id: string): Promise<{ state: string; attemptsMade: number }>;
}

async function rig(options: { attempts?: number; backoffMs?: number; timeoutMs?: number; secrets?: string[] } = {}): Promise<Rig> {
  const prefix = freshPrefix('wh');
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const logger = createLogger('info', sink);
  const metrics = new Metrics({ defaults: false });
  const queue = new WebhookQueue({ connection: redis.url, prefix, logger, attempts: options.attempts ?? 5, backoffMs: options.backoffMs ?? 100 });
  const worker = new WebhookWorker({ connection: redis.url, prefix, logger, metrics, secrets: options.secrets ?? [SECRET], timeoutMs: options.timeoutMs ?? 2000, concurrency: 10 });
  await worker.start();
  const bull = new Queue(WEBHOOK_QUEUE_NAME, { connection: connectionOptions(redis.url, 'producer'), prefix });
  closers.push(() => queue.close(), () => worker.close(), () => bull.close());
  return {
    queue,
    metrics,
    logs,
    async job(id) {
      const j = await bull.getJob(id);
      return { state: j ? await j.getState() : 'unknown', attemptsMade: j?.attemptsMade ?? 0 };
    },
  };
}

let calls = 0;
function event(type: WebhookEvent['type'], jobId = `c-call${++calls}`, attempt = 1): Omit<WebhookEvent, 'seq'> {
  return { id: `${jobId}.${attempt}.${type}`, type, at: new Date().toISOString(), callId: '0b6f3e36-1c1e-4c9c-9d7e-5a8f0c2b1d11', jobId, to: '+15551230001', flow: 'survey', attempt, maxAttempts: 1 };
}

async function metric(metrics: Metrics, name: string, labels: string): Promise<number> {
  const m = new RegExp(`^${name}\\{${labels}\\} (\\d+)$`, 'm').exec(await metrics.registry.metrics());
  return m ? Number(m[1]) : 0;
}

describe('webhook delivery', () => {
  it('POSTs each event once, signed: the receiver verifies the raw body with its secret, a tampered copy fails', async () => {
    const r = await rig();
    const answered = event('answered');
    const completed = { ...event('completed', answered.jobId), cause: 'NORMAL_CLEARING' };
    expect(await r.queue.emit(receiver.url(), answered)).toBe(true);
    expect(await r.queue.emit(receiver.url(), completed)).toBe(true);
    await receiver.until(() => receiver.accepted.length === 2);

    for (const req of receiver.requests) {
      expect(verifyWebhook(req.body, req.headers['switchboard-signature'] as string, SECRET)).toMatchObject({ ok: true });
      expect(verifyWebhook(req.body.replace('+15551230001', '+15559999999'), req.headers['switchboard-signature'] as string, SECRET)).toEqual({ ok: false, reason: 'mismatch' });
      expect(req.headers['content-type']).toBe('application/json');
      expect(req.headers['switchboard-event-id']).toBe(req.event.id);
      expect(req.headers['switchboard-event-type']).toBe(req.event.type);
    }
    expect(receiver.requests.map((q) => [q.event.type, q.event.seq])).toEqual([
      ['answered', 1],
      ['completed', 2],
    ]);
    expect(receiver.requests[1]?.event).toMatchObject({ id: completed.id, jobId: answered.jobId, cause: 'NORMAL_CLEARING' });
    // Counted once the worker has the answer (the receiver has it a moment before).
    await until(async () => (await r.job(answered.id)).state === 'completed', 5000, 'the delivery job to complete');
    expect(await metric(r.metrics, 'switchboard_webhooks_delivered_total', 'type="answered"')).toBe(1);
  });

  it('the same event reported twice is queued and delivered once', async () => {
    const r = await rig();
    const e = event('completed');
    expect(await r.queue.emit(receiver.url(), e)).toBe(true);
    expect(await r.queue.emit(receiver.url(), { ...e, at: new Date(Date.now() + 5).toISOString() })).toBe(false);
    await until(async () => (await r.job(e.id)).state === 'completed', 5000, 'the delivery job to complete');
    expect(receiver.requests).toHaveLength(1);
  });

  it('a 500 is retried after the backoff and delivered once the receiver answers 200; same id, same bytes', async () => {
    const r = await rig({ backoffMs: 200 });
    receiver.reply = () => (receiver.requests.length === 1 ? 500 : 200);
    const e = event('answered');
    await r.queue.emit(receiver.url(), e);
    await receiver.until(() => receiver.accepted.length === 1);
    const [first, second] = receiver.requests;
    expect(receiver.requests.map((q) => q.status)).toEqual([500, 200]);
    expect(second?.body).toBe(first?.body);
    expect(second?.headers['switchboard-delivery-attempt']).toBe('2');
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(200);
    await until(async () => (await r.job(e.id)).state === 'completed', 5000, 'the delivery job to complete');
    expect(await metric(r.metrics, 'switchboard_webhooks_delivered_total', 'type="answered"')).toBe(1);
  });

  it('429 with Retry-After: the receiver says how long to wait, and that is waited', async () => {
    const r = await rig({ backoffMs: 10 });
    receiver.reply = () => (receiver.requests.length === 1 ? { status: 429, headers: { 'retry-after': '1' } } : 200);
    await r.queue.emit(receiver.url(), event('ringing'));
    await receiver.until(() => receiver.accepted.length === 1);
    expect((receiver.requests[1]?.at ?? 0) - (receiver.requests[0]?.at ?? 0)).toBeGreaterThanOrEqual(1000);
  });

  it('a 400 is not retried: one request, counted as rejected, logged once with SB_WEBHOOK_REJECTED; the call’s next event still goes', async () => {
    const r = await rig({ backoffMs: 10 });
    const bad = event('dialing');
    const next = event('ringing', bad.jobId);
    receiver.reply = (ev) => (ev.id === bad.id ? 400 : 200);
    await r.queue.emit(receiver.url(), bad);
    await r.queue.emit(receiver.url(), next);
    await receiver.until(() => receiver.accepted.length === 1);
    await until(async () => (await r.job(bad.id)).state === 'failed', 5000, 'the rejected event to fail');
    expect(receiver.requests.map((q) => [q.event.type, q.status])).toEqual([
      ['dialing', 400],
      ['ringing', 200],
    ]);
    expect((await r.job(bad.id)).attemptsMade).toBe(1);
    expect(await metric(r.metrics, 'switchboard_webhooks_failed_total', 'type="dialing",reason="rejected"')).toBe(1);
    const lines = r.logs.filter((l) => l.code === 'SB_WEBHOOK_REJECTED');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ eventId: bad.id, status: 400, url: receiver.url() });
  });

  it('receiver down (connection refused): retried with backoff, delivered once it is up again', async () => {
    const r = await rig({ attempts: 20, backoffMs: 50 });
    await receiver.stop();
    const e = event('completed');
    await r.queue.emit(receiver.url(), e);
    // Refused twice or more (each attempt waits twice as long as the one before), then back up.
    await until(async () => (await r.job(e.id)).attemptsMade >= 3, 10_000, 'three refused attempts');
    expect(receiver.requests).toHaveLength(0);
    await receiver.listen();
    await receiver.until(() => receiver.accepted.length === 1);
    expect(receiver.requests).toHaveLength(1);
    expect(Number(receiver.requests[0]?.headers['switchboard-delivery-attempt'])).toBeGreaterThanOrEqual(4);
    expect(receiver.requests[0]?.event.id).toBe(e.id);
  });

  it('a receiver that never answers times out, and the event is retried', async () => {
    const r = await rig({ timeoutMs: 300, backoffMs: 10 });
    receiver.reply = () => (receiver.requests.length === 1 ? 'hang' : 200);
    const t0 = Date.now();
    await r.queue.emit(receiver.url(), event('answered'));
    await receiver.until(() => receiver.accepted.length === 1);
    expect(receiver.requests).toHaveLength(2);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
  });

  it('gives up after the configured attempts: counted as exhausted and logged once with SB_WEBHOOK_GAVE_UP', async () => {
    const r = await rig({ attempts: 3, backoffMs: 20 });
    receiver.reply = () => 503;
    const e = event('failed');
    await r.queue.emit(receiver.url(), e);
    await until(async () => (await r.job(e.id)).state === 'failed', 5000, 'the event to be given up');
    expect(receiver.requests.map((q) => q.status)).toEqual([503, 503, 503]);
    expect(await metric(r.metrics, 'switchboard_webhooks_failed_total', 'type="failed",reason="exhausted"')).toBe(1);
    expect(r.logs.filter((l) => l.code === 'SB_WEBHOOK_GAVE_UP')).toEqual([expect.objectContaining({ eventId: e.id, attempt: 3, level: 40 })]);
  });

  it('keeps each call’s order: a later event waits for an earlier one being retried; other calls do not wait', async () => {
    const r = await rig({ backoffMs: 150 });
    const a = ['queued', 'dialing', 'ringing', 'answered', 'completed'].map((t) => event(t as WebhookEvent['type'], 'c-order-a'));
    const b = ['queued', 'dialing'].map((t) => event(t as WebhookEvent['type'], 'c-order-b'));
    let failures = 0;
    receiver.reply = (ev) => (ev.id === a[0]?.id && failures++ < 2 ? 503 : 200);
    for (const e of a) await r.queue.emit(receiver.url(), e);
    for (const e of b) await r.queue.emit(receiver.url(), e);
    await receiver.until(() => receiver.accepted.length === 7);
    const acceptedA = receiver.accepted.filter((q) => q.event.jobId === 'c-order-a');
    expect(acceptedA.map((q) => q.event.type)).toEqual(['queued', 'dialing', 'ringing', 'answered', 'completed']);
    expect(acceptedA.map((q) => q.event.seq)).toEqual([1, 2, 3, 4, 5]);
    // Nothing of call A was even attempted before its first event got through.
    const firstOk = receiver.requests.findIndex((q) => q.event.id === a[0]?.id && q.status === 200);
    expect(receiver.requests.slice(0, firstOk).every((q) => q.event.jobId !== 'c-order-a' || q.event.id === a[0]?.id)).toBe(true);
    // Call B went through while A's first event was waiting for its retry.
    const bDone = receiver.requests.findIndex((q) => q.event.id === b[1]?.id);
    expect(bDone).toBeLessThan(firstOk);
  });
});
