// CallQueue + CallWorker against a real redis-server and the FreeSWITCH simulator: dialling,
// idempotency, validation, retries, cancellation, notBefore and calling windows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type AddressInfo } from 'node:net';
import { isSwitchboardError } from '../errors.ts';
import { silentLogger } from '../log.ts';
import { Metrics } from '../metrics.ts';
import { finished, freshPrefix, originatesFor, startHarness, type Harness } from './fixtures/harness.ts';
import { CallQueue } from './producer.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
});

describe('the producer without Redis', () => {
  it('fails fast with SB_QUEUE_UNAVAILABLE (503) instead of hanging, and queues nothing for later', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const queue = new CallQueue({ connection: `redis://127.0.0.1:${port}`, logger: silentLogger, connectTimeoutMs: 300 });
    const t0 = Date.now();
    const err = await queue.add({ to: '1001', flow: 'desk' }).catch((e: unknown) => e);
    expect(isSwitchboardError(err, 'SB_QUEUE_UNAVAILABLE')).toBe(true);
    expect((err as { status: number }).status).toBe(503);
    expect(Date.now() - t0).toBeLessThan(2000);
    await queue.close();
  });
});

describe('a call job', () => {
  it('is dialled once, with the uuid fixed at creation, the flow variable and the outbound socket', async () => {
    const prefix = freshPrefix('dial');
    const queue = h.queue(prefix);
    const metrics = new Metrics({ defaults: false });
    await h.worker(prefix, { metrics });
    const { jobId, callId } = await queue.add({ to: '+15551230001', gateway: 'trunk1', flow: 'survey', from: '+15550000000', callerName: 'ACME Inc', vars: { customer: 'c-42' } });
    expect(callId).toMatch(/^[0-9a-f-]{36}$/);

    const done = await finished(queue, jobId);
    expect(done).toMatchObject({ state: 'completed', cause: 'NORMAL_CLEARING', attempts: 1, callId });
    expect(done.timeline.map((e) => e.state)).toEqual(['queued', 'dialing', 'answered', 'completed']);

    const sent = originatesFor(h.sim, callId);
    expect(sent).toHaveLength(1);
    const line = sent[0]?.line ?? '';
    expect(line).toContain('sb_flow=survey');
    expect(line).toContain(`sb_job=${jobId}`);
    expect(line).toContain('customer=c-42');
    expect(line).toContain('sofia/gateway/trunk1/+15551230001');
    expect(line).toContain(`'&socket(127.0.0.1:${h.outbound.port} async full)'`);
    expect(h.connected.find((c) => c.uuid === callId)).toMatchObject({ flow: 'survey', job: jobId });

    const text = await metrics.registry.metrics();
    expect(text).toMatch(/switchboard_originate_total\{cause="SUCCESS"\} 1/);
    expect(text).toMatch(/switchboard_queue_depth\{queue="calls"\} 0/);
  });

  it('with an idempotency key is queued once: the same jobId and callId, never a second call', async () => {
    const prefix = freshPrefix('idem');
    const queue = h.queue(prefix);
    const job = { to: '1001', flow: 'desk', idempotencyKey: 'order-7781' };
    const results = await Promise.all([queue.add(job), queue.add(job), queue.add({ ...job })]);
    expect(new Set(results.map((r) => r.jobId)).size).toBe(1);
    expect(new Set(results.map((r) => r.callId)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(await queue.depth()).toBe(1);

    await h.worker(prefix);
    const first = results[0]!;
    await finished(queue, first.jobId);
    // After it ran, the key still answers with the same job and queues nothing.
    const again = await queue.add(job);
    expect(again).toEqual({ jobId: first.jobId, callId: first.callId, created: false });
    expect(await queue.depth()).toBe(0);
    expect(originatesFor(h.sim, first.callId)).toHaveLength(1);

    const conflict = await queue.add({ ...job, to: '1002' }).catch((e: unknown) => e);
    expect(isSwitchboardError(conflict, 'SB_QUEUE_IDEMPOTENCY_CONFLICT')).toBe(true);
  });

  it.each([
    [{ flow: 'desk' }, '/to'],
    [{ to: '1001', flow: 'Desk!' }, '/flow'],
    [{ to: '1001', flow: 'desk', timeout: 0 }, '/timeout'],
    [{ to: '1001', flow: 'desk', colour: 'red' }, '/colour'],
    [{ to: '1001;rm', flow: 'desk' }, '/to'],
    [{ to: '12ab', gateway: 'trunk1', flow: 'desk' }, '/to'],
    [{ to: '1001', flow: 'desk', vars: { sb_flow: 'other' } }, '/vars/sb_flow'],
    [{ to: '1001', flow: 'desk', vars: { note: 'a}b' } }, '/vars/note'],
    [{ to: '1001', flow: 'desk', vars: { 'bad name': 1 } }, '/vars/bad name'],
    [{ to: '1001', flow: 'desk', attempts: 3, backoff: { type: 'linear', delayMs: 10 } }, '/backoff/type'],
    [{ to: '1001', flow: 'desk', notBefore: 'tomorrow' }, '/notBefore'],
    [{ to: '1001', flow: 'desk', window: { start: '09:00', end: '25:00' } }, '/window/end'],
    [{ to: '1001', flow: 'desk', window: { start: '09:00', end: '17:00', timezone: 'Mars/Olympus' } }, '/window/timezone'],
    [{ to: '1001', flow: 'desk', retryOn: ['USER_BUSY'] }, '/attempts'],
  ])('rejects %j with SB_QUEUE_BAD_JOB at %s', async (job, pointer) => {
    const queue = h.queue(freshPrefix('bad'));
    const err = await queue.add(job as never).catch((e: unknown) => e);
    expect(isSwitchboardError(err, 'SB_QUEUE_BAD_JOB')).toBe(true);
    expect((err as { context: { pointer: string } }).context.pointer).toBe(pointer);
    expect((err as { status: number }).status).toBe(400);
    expect(await queue.depth()).toBe(0);
  });

  it('is retried on a retryOn cause with backoff, then fails with that cause; same uuid, one originate per attempt', async () => {
    const prefix = freshPrefix('busy');
    const queue = h.queue(prefix);
    await h.worker(prefix);
    h.sim.onOriginate((req) => (req.vars.sb_queue === prefix ? { fail: 'USER_BUSY', afterMs: 20 } : undefined));
    const { jobId, callId } = await queue.add({ to: '1002', flow: 'desk', attempts: 3, retryOn: ['USER_BUSY'], backoff: { type: 'fixed', delayMs: 150 } });
    const done = await finished(queue, jobId);
    expect(done).toMatchObject({ state: 'failed', cause: 'USER_BUSY', attempts: 3, maxAttempts: 3 });
    const sent = originatesFor(h.sim, callId);
    expect(sent).toHaveLength(3);
    for (let i = 0; i < 3; i++) expect(sent[i]?.line).toContain(`sb_attempt=${i + 1}`);
    // Backoff: each retry at least delayMs after the previous failure.
    expect((sent[1]?.at ?? 0) - (sent[0]?.at ?? 0)).toBeGreaterThanOrEqual(150);
    expect((sent[2]?.at ?? 0) - (sent[1]?.at ?? 0)).toBeGreaterThanOrEqual(150);
    expect(done.timeline.map((e) => e.state)).toEqual(['queued', 'dialing', 'retrying', 'dialing', 'retrying', 'dialing', 'failed']);
    h.sim.onOriginate(() => undefined);
  });

  it('fails at once on a cause not in retryOn', async () => {
    const prefix = freshPrefix('noretry');
    const queue = h.queue(prefix);
    await h.worker(prefix);
    h.sim.onOriginate((req) => (req.vars.sb_queue === prefix ? { fail: 'CALL_REJECTED' } : undefined));
    const { jobId, callId } = await queue.add({ to: '1003', flow: 'desk', attempts: 3, retryOn: ['USER_BUSY'], backoff: { type: 'fixed', delayMs: 10 } });
    expect(await finished(queue, jobId)).toMatchObject({ state: 'failed', cause: 'CALL_REJECTED', attempts: 1 });
    expect(originatesFor(h.sim, callId)).toHaveLength(1);
    h.sim.onOriginate(() => undefined);
  });

  it('waits for notBefore, delayed in BullMQ, then dials', async () => {
    const prefix = freshPrefix('nb');
    const queue = h.queue(prefix);
    await h.worker(prefix);
    const notBefore = new Date(Date.now() + 1200).toISOString();
    const { jobId, callId } = await queue.add({ to: '1004', flow: 'desk', notBefore });
    const waiting = await queue.get(jobId);
    expect(waiting).toMatchObject({ state: 'queued', nextAttemptAt: notBefore });
    expect(await queue.depth()).toBe(1);
    await finished(queue, jobId);
    const sent = originatesFor(h.sim, callId);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.at ?? 0).toBeGreaterThanOrEqual(Date.parse(notBefore));
  });

  it('outside its calling window waits, delayed until the window opens, and is not dialled', async () => {
    const prefix = freshPrefix('window');
    const queue = h.queue(prefix);
    await h.worker(prefix);
    // A one-minute window that opened two hours ago (UTC): next opening is tomorrow.
    const open = new Date(Date.now() - 2 * 3600_000);
    const hhmm = (d: Date): string => `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
    const window = { start: hhmm(open), end: hhmm(new Date(open.getTime() + 60_000)) };
    const { jobId, callId } = await queue.add({ to: '1005', flow: 'desk', window });
    const state = await queue.get(jobId);
    expect(state?.state).toBe('queued');
    const next = Date.parse(state?.nextAttemptAt ?? '');
    expect(next - Date.now()).toBeGreaterThan(20 * 3600_000);
    expect(new Date(next).getUTCHours()).toBe(open.getUTCHours());
    expect(state?.timeline.at(-1)?.note).toBe('waiting for the calling window');
    expect(await queue.depth()).toBe(1);
    expect(originatesFor(h.sim, callId)).toHaveLength(0);
  });

  it('can be cancelled before it is dialled, and is then never dialled', async () => {
    const prefix = freshPrefix('cancel');
    const queue = h.queue(prefix);
    const { jobId, callId } = await queue.add({ to: '1006', flow: 'desk', notBefore: new Date(Date.now() + 60_000).toISOString() });
    expect(await queue.cancel(jobId)).toBe(true);
    expect(await queue.get(jobId)).toMatchObject({ state: 'cancelled' });
    expect(await queue.depth()).toBe(0);
    await h.worker(prefix);
    expect(originatesFor(h.sim, callId)).toHaveLength(0);
    const err = await queue.cancel('c-nope').catch((e: unknown) => e);
    expect(isSwitchboardError(err, 'SB_QUEUE_NOT_FOUND')).toBe(true);
  });
});
