// Status webhooks of real outbound calls, end to end: the Service (queue, call worker, flow
// runner, webhook worker, as wired in core/service.ts) against the FreeSWITCH simulator, a real
// redis-server and a real local HTTP receiver.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FreeSwitchSim } from '../../test/support/freeswitch-sim/index.ts';
import { startRedisServer, type RedisServer } from '../../test/support/redis-server.ts';
import { loadConfig } from '../config.ts';
import { silentLogger } from '../log.ts';
import { until } from '../queue/fixtures/harness.ts';
import type { CallJob, CallQueue } from '../queue/index.ts';
import { connectionOptions } from '../queue/redis.ts';
import { Service } from '../service.ts';
import type { WebhookEvent } from './event.ts';
import { WebhookReceiver, type ReceivedRequest } from './fixtures/receiver.ts';
import { WEBHOOK_QUEUE_NAME } from './producer.ts';
import { verifyWebhook } from './signature.ts';

const SECRET = 'call-webhooks-secret-0123456789';
const PREFIX = 'cwh';

let redis: RedisServer;
let sim: FreeSwitchSim;
let receiver: WebhookReceiver;
let service: Service;
let queue: CallQueue;
let dir: string;

beforeAll(async () => {
  redis = await startRedisServer();
  sim = await FreeSwitchSim.start();
  receiver = await WebhookReceiver.start();
  dir = mkdtempSync(join(tmpdir(), 'sb-webhooks-'));
  writeFileSync(join(dir, 'survey.yaml'), 'name: survey\ntrigger: outbound\nsteps:\n  - answer\n  - wait: 0.05\n  - hangup\n');
  const config = loadConfig({
    SB_ESL_PORT: String(sim.port),
    SB_OUTBOUND_PORT: '0',
    SB_HTTP_PORT: '0',
    SB_MEDIA_PORT: '0',
    SB_FLOWS_DIR: dir,
    REDIS_URL: redis.url,
    SB_QUEUE_PREFIX: PREFIX,
    SB_CPS: '50',
    SB_WEBHOOK_SECRET: SECRET,
    SB_WEBHOOK_BACKOFF_MS: '50',
    SB_WEBHOOK_TIMEOUT_MS: '1000',
    SB_WEBHOOK_ATTEMPTS: '30',
  });
  service = new Service({ config, logger: silentLogger, http: false, media: false });
  await service.start();
  queue = service.queue as CallQueue;
  // Each test's calls say what the far end does through a channel variable.
  sim.onOriginate((req) => {
    switch (req.vars.far_end) {
      case 'busy':
        return { fail: 'USER_BUSY', afterMs: 20, ringing: true };
      default:
        return { answerAfterMs: 30 };
    }
  });
});

afterAll(async () => {
  await service?.close();
  await sim?.close();
  await receiver?.stop();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function eventsOf(r: WebhookReceiver, jobId: string): ReceivedRequest[] {
  return r.accepted.filter((q) => q.event.jobId === jobId);
}

async function call(job: Omit<CallJob, 'flow'>): Promise<{ jobId: string; callId: string }> {
  return queue.add({ flow: 'survey', ...job } as CallJob);
}

describe('status webhooks of an outbound call', () => {
  it('an answered call: queued, dialing, ringing, answered, completed, in order, each signed', async () => {
    const { jobId, callId } = await call({ to: '+15551230001', gateway: 'trunk1', webhook: receiver.url('/calls') });
    await receiver.until(() => eventsOf(receiver, jobId).some((q) => q.event.type === 'completed'));
    const got = eventsOf(receiver, jobId);
    expect(got.map((q) => q.event.type)).toEqual(['queued', 'dialing', 'ringing', 'answered', 'completed']);
    expect(got.map((q) => q.event.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(new Set(got.map((q) => q.event.id)).size).toBe(5);
    for (const q of got) {
      expect(verifyWebhook(q.body, q.headers['switchboard-signature'] as string, SECRET)).toMatchObject({ ok: true });
      expect(q.event).toMatchObject({ callId, jobId, to: '+15551230001', flow: 'survey', maxAttempts: 1 });
      expect(q.event.batchId).toBeUndefined();
    }
    expect(got.map((q) => q.event.attempt)).toEqual([0, 1, 1, 1, 1]);
    const completed = got.at(-1)?.event as WebhookEvent;
    expect(completed.cause).toBe('NORMAL_CLEARING');
    expect(completed.durationSec).toBeGreaterThanOrEqual(0);
    expect(Date.parse(completed.at)).toBeGreaterThanOrEqual(Date.parse(got[0]?.event.at ?? ''));
    // What the receiver was told is what the job says.
    expect(await queue.get(jobId)).toMatchObject({ state: 'completed', cause: 'NORMAL_CLEARING' });
  });

  it('a busy number: retrying with the cause and the next attempt time, then failed with the cause', async () => {
    const { jobId } = await call({ to: '1002', vars: { far_end: 'busy' }, attempts: 2, retryOn: ['USER_BUSY'], backoff: { type: 'fixed', delayMs: 100 }, webhook: receiver.url('/calls') });
    await receiver.until(() => eventsOf(receiver, jobId).some((q) => q.event.type === 'failed'));
    const got = eventsOf(receiver, jobId).map((q) => q.event);
    expect(got.map((e) => `${e.type}#${e.attempt}`)).toEqual(['queued#0', 'dialing#1', 'ringing#1', 'retrying#1', 'dialing#2', 'ringing#2', 'failed#2']);
    const retrying = got.find((e) => e.type === 'retrying') as WebhookEvent;
    expect(retrying.cause).toBe('USER_BUSY');
    expect(Date.parse(retrying.nextAttemptAt ?? '') - Date.parse(retrying.at)).toBeGreaterThanOrEqual(100);
    expect(got.at(-1)).toMatchObject({ type: 'failed', cause: 'USER_BUSY', attempt: 2, maxAttempts: 2 });
  });

  it('step events only when the job asks for them, after answered; `events` picks what is sent', async () => {
    const asked = await call({ to: '1003', webhook: { url: receiver.url('/steps'), events: ['answered', 'step', 'completed'] } });
    const plain = await call({ to: '1004', webhook: receiver.url('/plain') });
    await receiver.until(() => [asked, plain].every((c) => eventsOf(receiver, c.jobId).some((q) => q.event.type === 'completed')) && eventsOf(receiver, asked.jobId).filter((q) => q.event.type === 'step').length === 3);

    const withSteps = eventsOf(receiver, asked.jobId).map((q) => q.event);
    expect(withSteps[0]?.type).toBe('answered');
    expect(withSteps.filter((e) => e.type === 'answered')).toHaveLength(1);
    expect(new Set(withSteps.map((e) => e.type))).toEqual(new Set(['answered', 'step', 'completed']));
    expect(withSteps.filter((e) => e.type === 'step').map((e) => [e.step?.name, e.step?.outcome])).toEqual([
      ['answer', 'ok'],
      ['wait', 'ok'],
      ['hangup', 'ok'],
    ]);
    expect(withSteps.every((e) => e.callId === asked.callId)).toBe(true);

    expect(eventsOf(receiver, plain.jobId).map((q) => q.event.type)).toEqual(['queued', 'dialing', 'ringing', 'answered', 'completed']);
  });

  it('receiver down: calls keep being dialled and completed meanwhile; its events arrive, in order, once it is back', async () => {
    const late = await WebhookReceiver.start();
    await late.stop();
    const jobs = await Promise.all(['2001', '2002', '2003'].map((to) => call({ to, webhook: late.url('/late') })));
    // Every call is dialled and finished while nothing can be delivered…
    for (const { jobId } of jobs) await until(async () => (await queue.get(jobId))?.state === 'completed', 10_000, `${jobId} completed`);
    expect(late.requests).toHaveLength(0);
    // …and the deliveries were being tried (and refused) all along.
    const bull = new Queue(WEBHOOK_QUEUE_NAME, { connection: connectionOptions(redis.url, 'producer'), prefix: PREFIX });
    try {
      for (const { jobId } of jobs) expect((await bull.getJob(`${jobId}.0.queued`))?.attemptsMade).toBeGreaterThanOrEqual(1);
    } finally {
      await bull.close();
    }

    await late.listen();
    try {
      await late.until(() => jobs.every(({ jobId }) => eventsOf(late, jobId).some((q) => q.event.type === 'completed')), 15_000);
      for (const { jobId } of jobs) expect(eventsOf(late, jobId).map((q) => q.event.type)).toEqual(['queued', 'dialing', 'ringing', 'answered', 'completed']);
    } finally {
      await late.stop();
    }
  });
});
