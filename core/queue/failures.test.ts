// Outbound calls when things go wrong: the event socket drops mid-originate (FreeSWITCH keeps the
// call, or loses it), originates fail with each common cause, and `switchboard worker` is
// stopped with SIGTERM in the middle of its work. Real redis-server, the FreeSWITCH simulator, a
// real child process.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../config.ts';
import { Metrics } from '../metrics.ts';
import { finished, freshPrefix, originatesFor, startHarness, until, type Harness } from './fixtures/harness.ts';
import { DEFAULT_RETRY_ON } from './job-data.ts';
import type { CallQueue } from './producer.ts';
import { CALL_QUEUE_NAME, connectionOptions } from './redis.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
  // What the far end does, chosen by each job through a channel variable.
  h.sim.onOriginate((req) => {
    switch (req.vars.far_end) {
      case 'fail':
        return { fail: req.vars.cause ?? 'NORMAL_CLEARING', afterMs: 20, ringing: req.vars.cause === 'NO_ANSWER' };
      case 'slow':
        return { answerAfterMs: 1200, hangupAfterMs: 300 };
      case 'never':
        return { answerAfterMs: 600_000 };
      default:
        return { answerAfterMs: 10, hangupAfterMs: 100 };
    }
  });
});

afterAll(async () => {
  await h?.close();
});

async function metric(metrics: Metrics, cause: string): Promise<number> {
  const m = new RegExp(`^switchboard_originate_total\\{cause="${cause}"\\} (\\d+)$`, 'm').exec(await metrics.registry.metrics());
  return m ? Number(m[1]) : 0;
}

describe('the event socket drops in the middle of an originate', () => {
  it('FreeSWITCH keeps the call: after the reconnect the worker follows it to its end; dialled once', async () => {
    const prefix = freshPrefix('esl-drop');
    const queue = h.queue(prefix);
    const esl = await h.eslClient();
    const metrics = new Metrics({ defaults: false });
    await h.worker(prefix, { esl, metrics });
    const { jobId, callId } = await queue.add({ to: '+15550002222', gateway: 'trunk1', flow: 'survey', attempts: 3, vars: { far_end: 'slow' } });

    // The originate is on the wire and the far end is ringing: the socket goes.
    await h.sim.waitForCommand((c) => c.line.includes(`origination_uuid=${callId}`), { timeoutMs: 10_000 });
    const reconnected = once(esl, 'connected');
    h.sim.dropConnections();
    await reconnected;
    expect(h.sim.channel(callId)?.answered).toBe(false);

    const done = await finished(queue, jobId);
    expect(done).toMatchObject({ state: 'completed', cause: 'NORMAL_CLEARING', attempts: 1 });
    expect(done.timeline.map((e) => e.state)).toEqual(['queued', 'dialing', 'answered', 'completed']);
    expect(originatesFor(h.sim, callId)).toHaveLength(1);
    expect(h.connected.filter((c) => c.uuid === callId)).toHaveLength(1);
    expect(await metric(metrics, 'SUCCESS')).toBe(1);
  });

  it('FreeSWITCH restarted and lost the call: concluded ORIGINATE_UNCONFIRMED, never dialled again despite attempts left', async () => {
    const prefix = freshPrefix('fs-lost');
    const queue = h.queue(prefix);
    const esl = await h.eslClient();
    const metrics = new Metrics({ defaults: false });
    await h.worker(prefix, { esl, metrics, timing: { hangupPollMs: 300, recoveryGraceMs: 200 } });
    const { jobId, callId } = await queue.add({ to: '1020', flow: 'desk', attempts: 3, vars: { far_end: 'never' } });

    await h.sim.waitForCommand((c) => c.line.includes(`origination_uuid=${callId}`), { timeoutMs: 10_000 });
    const reconnected = once(esl, 'connected');
    h.sim.dropConnections({ killChannels: true });
    await reconnected;

    const done = await finished(queue, jobId);
    expect(done).toMatchObject({ state: 'failed', cause: 'ORIGINATE_UNCONFIRMED', attempts: 1, maxAttempts: 3 });
    expect(done.timeline.some((e) => e.note === 'recovered: the call is not on FreeSWITCH; looking for its outcome (not dialled again)')).toBe(true);
    expect(originatesFor(h.sim, callId)).toHaveLength(1);
    expect(await metric(metrics, 'ORIGINATE_UNCONFIRMED')).toBe(1);
  });
});

describe('an originate fails with a common cause', () => {
  const prefix = freshPrefix('causes');
  const metrics = new Metrics({ defaults: false });
  let queue: CallQueue;

  beforeAll(async () => {
    queue = h.queue(prefix);
    await h.worker(prefix, { metrics });
  });

  // [cause, the job's retryOn (undefined: the default list), retried?]
  const table: Array<[string, string[] | undefined, boolean]> = [
    ['USER_BUSY', undefined, true],
    ['NO_ANSWER', undefined, true],
    ['NO_USER_RESPONSE', undefined, true],
    ['NORMAL_TEMPORARY_FAILURE', undefined, true],
    ['NORMAL_CIRCUIT_CONGESTION', undefined, true],
    ['CALL_REJECTED', undefined, false],
    ['UNALLOCATED_NUMBER', undefined, false],
    ['NO_ROUTE_DESTINATION', undefined, false],
    ['ORIGINATOR_CANCEL', undefined, false],
    ['RECOVERY_ON_TIMER_EXPIRE', undefined, false],
    ['SUBSCRIBER_ABSENT', undefined, false],
    ['DESTINATION_OUT_OF_ORDER', undefined, false],
    ['INVALID_NUMBER_FORMAT', undefined, false],
    // retryOn decides, not the default list.
    ['RECOVERY_ON_TIMER_EXPIRE', ['RECOVERY_ON_TIMER_EXPIRE'], true],
    ['USER_BUSY', ['NO_ANSWER'], false],
  ];

  it.each(table)('%s (retryOn %j): retried = %s; the cause is recorded on the job and counted per attempt', async (cause, retryOn, retried) => {
    expect(DEFAULT_RETRY_ON.includes(cause)).toBe(retryOn === undefined ? retried : DEFAULT_RETRY_ON.includes(cause));
    const before = await metric(metrics, cause);
    const { jobId, callId } = await queue.add({ to: '1030', gateway: 'trunk1', flow: 'desk', attempts: 2, backoff: { type: 'fixed', delayMs: 50 }, vars: { far_end: 'fail', cause }, ...(retryOn ? { retryOn } : {}) });
    const done = await finished(queue, jobId);
    expect(done).toMatchObject({ state: 'failed', cause, attempts: retried ? 2 : 1 });
    expect(done.timeline.map((e) => e.state)).toEqual(retried ? ['queued', 'dialing', 'retrying', 'dialing', 'failed'] : ['queued', 'dialing', 'failed']);
    expect(done.timeline.filter((e) => e.state === 'retrying' || e.state === 'failed').every((e) => e.cause === cause)).toBe(true);
    expect(originatesFor(h.sim, callId)).toHaveLength(retried ? 2 : 1);
    expect((await metric(metrics, cause)) - before).toBe(retried ? 2 : 1);
  });

  it('NO_ANSWER from the job’s own ring timeout (originate_timeout reaches FreeSWITCH)', async () => {
    const before = await metric(metrics, 'NO_ANSWER');
    const { jobId, callId } = await queue.add({ to: '1031', flow: 'desk', timeout: 1, vars: { far_end: 'never' } });
    const done = await finished(queue, jobId);
    expect(done).toMatchObject({ state: 'failed', cause: 'NO_ANSWER', attempts: 1 });
    expect(originatesFor(h.sim, callId)[0]?.line).toContain('originate_timeout=1');
    expect((await metric(metrics, 'NO_ANSWER')) - before).toBe(1);
  });
});

describe('switchboard worker receives SIGTERM', () => {
  it('hands back the ringing call and the job waiting for a slot, exits 0; another worker finishes both, each dialled once', async () => {
    const prefix = freshPrefix('sigterm');
    const queue = h.queue(prefix);
    const cwd = mkdtempSync(join(tmpdir(), 'sb-worker-')); // no .env here
    const child = spawn(process.execPath, [join(PROJECT_ROOT, 'bin/switchboard.js'), 'worker'], {
      cwd,
      env: {
        ...process.env,
        REDIS_URL: h.redis.url,
        SB_ESL_HOST: h.sim.host,
        SB_ESL_PORT: String(h.sim.port),
        SB_OUTBOUND_HOST: '127.0.0.1',
        SB_OUTBOUND_PORT: String(h.outbound.port),
        SB_QUEUE_PREFIX: prefix,
        SB_CPS: '50',
        SB_MAX_CONCURRENT: '1',
        SB_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const lines: Array<Record<string, unknown>> = [];
    createInterface({ input: child.stdout }).on('line', (text) => {
      try {
        lines.push(JSON.parse(text) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    });
    const bull = new Queue(CALL_QUEUE_NAME, { connection: connectionOptions(h.redis.url, 'producer'), prefix });
    try {
      await until(() => lines.some((l) => l.msg === 'switchboard worker is running'), 15_000, 'the worker to start');
      const ringing = await queue.add({ to: '1040', flow: 'desk', vars: { far_end: 'slow' } });
      const waiting = await queue.add({ to: '1041', flow: 'desk' });
      // The first is ringing (originate sent, no answer yet); the second is in the worker's hands, waiting for the one slot.
      await h.sim.waitForCommand((c) => c.line.includes(`origination_uuid=${ringing.callId}`), { timeoutMs: 10_000 });
      await until(async () => (await bull.getJobState(waiting.jobId)) === 'active', 5000, 'the second job in hand');
      expect(originatesFor(h.sim, waiting.callId)).toHaveLength(0);

      const t0 = Date.now();
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(lines.some((l) => l.msg === 'stopping: handing back the jobs in hand')).toBe(true);
      const handedBack = await queue.get(ringing.jobId);
      expect(handedBack?.state).toBe('dialing');
      expect(handedBack?.timeline.at(-1)?.note).toBe('worker closing: handed back, the call goes on');
      expect((await queue.get(waiting.jobId))?.state).toBe('queued');

      await h.worker(prefix, { name: 'after', timing: { lockDurationMs: 1000, stalledIntervalMs: 500, leaseMs: 2000 } });
      const [first, second] = [await finished(queue, ringing.jobId), await finished(queue, waiting.jobId)];
      expect(first).toMatchObject({ state: 'completed', attempts: 1 });
      expect(first.timeline.some((e) => e.worker === 'after' && e.note === 'recovered: the call exists, following it (not dialled again)')).toBe(true);
      expect(second).toMatchObject({ state: 'completed', attempts: 1 });
      expect(second.timeline.find((e) => e.state === 'dialing')?.worker).toBe('after');
      expect(originatesFor(h.sim, ringing.callId)).toHaveLength(1);
      expect(originatesFor(h.sim, waiting.callId)).toHaveLength(1);
    } finally {
      child.kill('SIGKILL');
      await bull.close();
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
