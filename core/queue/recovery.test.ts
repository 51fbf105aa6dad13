// Never dial twice: a worker killed mid-originate, a call that ended while its worker was dead,
// a claim that never reached FreeSWITCH, and a graceful close that hands a live call over.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finished, freshPrefix, originatesFor, startHarness, until, type Harness } from './fixtures/harness.ts';
import { STORE_SCRIPTS, CallStore } from './store.ts';
import { ScriptClient } from './redis.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FAST = { lockDurationMs: 1000, stalledIntervalMs: 500, leaseMs: 2000 };

let h: Harness;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await h?.close();
});

/** A worker in a child process; resolves once it takes jobs. */
async function childWorker(prefix: string, name: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'core/queue/fixtures/crash-worker.ts'], {
    cwd: ROOT,
    env: { ...process.env, REDIS_URL: h.redis.url, ESL_HOST: h.sim.host, ESL_PORT: String(h.sim.port), OUT_PORT: String(h.outbound.port), PREFIX: prefix, WORKER_NAME: name },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`crash-worker did not start: ${err}`)), 15_000);
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      if (d.includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`crash-worker exited with ${code}: ${err}`));
    });
  });
  return child;
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

describe('never dial twice', () => {
  it('a worker killed after sending the originate: another worker recovers the job and follows the call, dialled exactly once', async () => {
    const prefix = freshPrefix('kill');
    const queue = h.queue(prefix);
    h.talkMs = 5000;
    h.sim.onOriginate((req) => (req.vars.sb_queue === prefix ? { answerAfterMs: 1200, hangupAfterMs: 2000 } : undefined));
    const child = await childWorker(prefix, 'doomed');
    const { jobId, callId } = await queue.add({ to: '+15550001111', gateway: 'trunk1', flow: 'survey' });

    // The originate is on the wire (the call is ringing) and its result not yet back: kill -9.
    await h.sim.waitForCommand((c) => c.line.includes(`origination_uuid=${callId}`), { timeoutMs: 10_000 });
    await kill(child);
    expect((await queue.get(jobId))?.state).toBe('dialing');

    const rescuer = await h.worker(prefix, { name: 'rescuer', timing: FAST });
    const done = await finished(queue, jobId);
    expect(done).toMatchObject({ state: 'completed', cause: 'NORMAL_CLEARING', attempts: 1 });
    expect(originatesFor(h.sim, callId)).toHaveLength(1);
    const notes = done.timeline.map((e) => `${e.state}${e.worker ? `@${e.worker}` : ''}${e.note ? `: ${e.note}` : ''}`);
    expect(notes).toEqual([
      'queued',
      'dialing@doomed',
      'dialing@rescuer: recovered: the call exists, following it (not dialled again)',
      'answered@rescuer: answer seen in CHANNEL_ANSWER',
      'completed@rescuer',
    ]);
    // The call ran its flow once, on the uuid chosen at creation.
    expect(h.connected.filter((c) => c.uuid === callId)).toHaveLength(1);
    // Its pacing slot (renewed by the rescuer, first taken by the dead worker) was given back.
    expect(await rescuer.inProgress()).toBe(0);
    h.sim.onOriginate(() => undefined);
  });

  it('a call that failed while its worker was dead: the outcome heard by another worker is used, attempt 1 is not redialled, attempt 2 is', async () => {
    const prefix = freshPrefix('deadbusy');
    const queue = h.queue(prefix);
    let firstAttempt = true;
    h.sim.onOriginate((req) => {
      if (req.vars.sb_queue !== prefix) return undefined;
      if (firstAttempt) {
        firstAttempt = false;
        return { fail: 'USER_BUSY', afterMs: 800 };
      }
      return { answerAfterMs: 10 };
    });
    h.talkMs = 100;
    const child = await childWorker(prefix, 'doomed');
    const { jobId, callId } = await queue.add({ to: '1010', flow: 'desk', attempts: 2, retryOn: ['USER_BUSY'], backoff: { type: 'fixed', delayMs: 100 } });
    await h.sim.waitForCommand((c) => c.line.includes(`origination_uuid=${callId}`), { timeoutMs: 10_000 });
    // A second worker is up (listening to events) but the job is in the child's hands.
    await h.worker(prefix, { name: 'rescuer', timing: FAST });
    await kill(child);

    const done = await finished(queue, jobId);
    expect(done).toMatchObject({ state: 'completed', attempts: 2 });
    const sent = originatesFor(h.sim, callId);
    expect(sent.map((c) => /sb_attempt=(\d+)/.exec(c.line)?.[1])).toEqual(['1', '2']);
    expect(done.timeline.find((e) => e.state === 'retrying')).toMatchObject({ attempt: 1, cause: 'USER_BUSY' });
    h.sim.onOriginate(() => undefined);
  });

  it('a claim that never reached FreeSWITCH (crash between claim and originate): concluded ORIGINATE_UNCONFIRMED, never dialled', async () => {
    const prefix = freshPrefix('unsent');
    const queue = h.queue(prefix);
    const { jobId, callId } = await queue.add({ to: '1011', flow: 'desk', attempts: 3, retryOn: ['USER_BUSY'] });
    // What a worker that died right after its claim leaves behind.
    const redis = new ScriptClient(h.redis.url, STORE_SCRIPTS, 'producer');
    const store = new CallStore(redis, prefix, 3600);
    expect(await store.claim(jobId, 1, 'ghost', '', { at: new Date().toISOString(), state: 'dialing', attempt: 1, worker: 'ghost' })).toBe('claimed');
    await redis.close();

    await h.worker(prefix, { name: 'rescuer', timing: { ...FAST, recoveryGraceMs: 300 } });
    const done = await finished(queue, jobId);
    expect(done).toMatchObject({ state: 'failed', cause: 'ORIGINATE_UNCONFIRMED', attempts: 1 });
    expect(originatesFor(h.sim, callId)).toHaveLength(0);
  });

  it('a graceful close hands a call in progress to another worker, which follows it to the end', async () => {
    const prefix = freshPrefix('handback');
    const queue = h.queue(prefix);
    h.talkMs = 5000;
    h.sim.onOriginate((req) => (req.vars.sb_queue === prefix ? { answerAfterMs: 10, hangupAfterMs: 1500 } : undefined));
    const first = await h.worker(prefix, { name: 'leaving', timing: FAST });
    const { jobId, callId } = await queue.add({ to: '1012', flow: 'desk' });
    await until(async () => (await queue.get(jobId))?.state === 'answered', 10_000, 'answered');

    const t0 = Date.now();
    await first.close();
    expect(Date.now() - t0).toBeLessThan(1000);
    await h.worker(prefix, { name: 'staying', timing: FAST });
    const done = await finished(queue, jobId);
    expect(done).toMatchObject({ state: 'completed', attempts: 1 });
    expect(originatesFor(h.sim, callId)).toHaveLength(1);
    expect(done.timeline.some((e) => e.worker === 'leaving' && e.note?.startsWith('worker closing: handed back'))).toBe(true);
    expect(done.timeline.at(-1)?.worker).toBe('staying');
    h.sim.onOriginate(() => undefined);
  });
});
