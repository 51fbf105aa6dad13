// Batches against a real redis-server and the FreeSWITCH simulator: accepting (invalid rows
// reported, strict, settings, 10 000 rows, idempotency), expansion into call jobs and the counts
// that follow them, expansion run twice, pause / resume, cancel, calling windows per row, and
// single calls going before a batch's rows.
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSwitchboardError } from '../errors.ts';
import { silentLogger } from '../log.ts';
import { BatchWorker, type BatchWorkerOptions } from './batch-worker.ts';
import { BatchQueue, type BatchStatus } from './batches.ts';
import { freshPrefix, startHarness, until, type Harness } from './fixtures/harness.ts';

let h: Harness;
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
  await h?.close();
});

function batchQueue(prefix: string, maxRows?: number): BatchQueue {
  const q = new BatchQueue({ connection: h.redis.url, prefix, logger: silentLogger, ...(maxRows !== undefined ? { maxRows } : {}) });
  closers.push(() => q.close());
  return q;
}

async function batchWorker(prefix: string, options: Partial<BatchWorkerOptions> = {}, start = true): Promise<BatchWorker> {
  const w = new BatchWorker({ connection: h.redis.url, prefix, logger: silentLogger, ...options });
  if (start) await w.start();
  closers.push(() => w.close());
  return w;
}

function callJobs(prefix: string): Queue {
  const q = new Queue('calls', { connection: { url: h.redis.url }, prefix });
  closers.push(() => q.close());
  return q;
}

async function finished(batches: BatchQueue, id: string, timeoutMs = 15_000): Promise<BatchStatus> {
  return until(async () => {
    const s = await batches.get(id);
    return s?.finishedAt !== undefined ? s : undefined;
  }, timeoutMs, `batch ${id} to finish`);
}

/** The originates the simulator received for a number. */
function dialled(number: string): number {
  return h.sim.received.filter((c) => c.line.startsWith('bgapi originate') && c.line.includes(`/${number} `)).length;
}

const numbers = (base: number, n: number): string[] => Array.from({ length: n }, (_, i) => `+1555${String(base + i).padStart(7, '0')}`);

describe('accepting a batch', () => {
  it('reports each invalid row (row number, JSON pointer, message) and accepts the valid rest; strict=true rejects the whole batch', async () => {
    const prefix = freshPrefix('rows');
    const batches = batchQueue(prefix);
    const input = {
      flow: 'survey',
      gateway: 'trunk1',
      rows: [{ to: '+15550000001' }, { to: '1001;rm' }, { to: '+15550000003', vars: { sb_flow: 'other' } }, { to: '+15550000004', colour: 'red' }, { to: '+15550000005', vars: { note: 'a}b' } }, { to: '+15550000006' }],
    };
    const accepted = await batches.create(input);
    expect(accepted).toMatchObject({ created: true, state: 'running', accepted: 2 });
    expect(accepted.rejected).toEqual([
      { row: 2, pointer: '/rows/1/to', message: expect.stringContaining('not a dialable number') },
      { row: 3, pointer: '/rows/2/vars/sb_flow', message: expect.stringContaining('reserved') },
      { row: 4, pointer: '/rows/3/colour', message: 'is not a known field' },
      { row: 5, pointer: '/rows/4/vars/note', message: expect.stringContaining('bracket') },
    ]);
    const stored = await batches.get(accepted.batchId);
    expect(stored).toMatchObject({ state: 'running', total: 2, rejectedCount: 4, rejected: accepted.rejected, settings: { flow: 'survey', gateway: 'trunk1' } });

    const err = await batches.create(input, { strict: true }).catch((e: unknown) => e);
    expect(isSwitchboardError(err, 'SB_BATCH_ROWS_REJECTED')).toBe(true);
    expect((err as { status: number }).status).toBe(400);
    expect((err as { context: { pointer: string; problems: unknown[] } }).context).toMatchObject({ pointer: '/rows/1/to', problems: accepted.rejected });
    expect((await batches.list()).map((b) => b.batchId)).toEqual([accepted.batchId]);

    const none = await batches.create({ flow: 'survey', rows: [{ to: '1001;rm' }] }).catch((e: unknown) => e);
    expect(isSwitchboardError(none, 'SB_BATCH_ROWS_REJECTED')).toBe(true);
  });

  it.each([
    [{ flow: 'Bad!', rows: [{ to: '1001' }] }, '/flow'],
    [{ flow: 'survey', colour: 'red', rows: [{ to: '1001' }] }, '/colour'],
    [{ flow: 'survey', to: '1001', rows: [{ to: '1001' }] }, '/to'],
    [{ flow: 'survey', window: { start: '09:00', end: '17:00', timezone: 'Mars/Olympus' }, rows: [{ to: '1001' }] }, '/window/timezone'],
    [{ flow: 'survey', retryOn: ['USER_BUSY'], rows: [{ to: '1001' }] }, '/attempts'],
    [{ flow: 'survey', vars: { sb_job: 'x' }, rows: [{ to: '1001' }] }, '/vars/sb_job'],
    [{ flow: 'survey', rows: [] }, '/rows'],
    [{ flow: 'survey' }, '/rows'],
  ])('settings are checked like a call job: %j is refused with SB_BATCH_BAD_REQUEST at %s, nothing stored', async (input, pointer) => {
    const batches = batchQueue(freshPrefix('settings'));
    const err = await batches.create(input).catch((e: unknown) => e);
    expect(isSwitchboardError(err, 'SB_BATCH_BAD_REQUEST')).toBe(true);
    expect((err as { context: { pointer: string } }).context.pointer).toBe(pointer);
    expect(await batches.list()).toEqual([]);
  });

  it('takes 10 000 rows in one request: the invalid ones reported by row, the rest stored for expansion', async () => {
    const prefix = freshPrefix('10k');
    const batches = batchQueue(prefix);
    const rows = numbers(1, 10_000).map((to, i) => (i % 1000 === 999 ? { to: `${to}x` } : { to, vars: { customer: `c-${i + 1}`, segment: i % 2 ? 'a' : 'b' } }));
    const accepted = await batches.create({ flow: 'survey', gateway: 'trunk1', vars: { campaign: 'spring' }, rows });
    expect(accepted.accepted).toBe(9990);
    expect(accepted.rejected.map((r) => r.row)).toEqual([1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000]);
    expect(accepted.rejected[0]).toMatchObject({ pointer: '/rows/999/to' });
    expect(await h.redis.command('LLEN', `${prefix}:batch:${accepted.batchId}:rows`)).toBe(':9990\r\n');
    expect((await batches.get(accepted.batchId))?.counts).toMatchObject({ pending: 9990, queued: 0, done: 0 });

    const small = batchQueue(freshPrefix('max'), 5);
    const err = await small.create({ flow: 'survey', rows: numbers(1, 6).map((to) => ({ to })) }).catch((e: unknown) => e);
    expect(isSwitchboardError(err, 'SB_BATCH_TOO_LARGE')).toBe(true);
    expect((err as { status: number }).status).toBe(413);
  });

  it('with an idempotency key is made once: the same batch again, a different one is a conflict', async () => {
    const batches = batchQueue(freshPrefix('idem'));
    const input = { flow: 'survey', rows: [{ to: '1001' }, { to: '1002;x' }] };
    const [a, b] = await Promise.all([batches.create(input, { idempotencyKey: 'spring-2025' }), batches.create(input, { idempotencyKey: 'spring-2025' })]);
    expect(a?.batchId).toBe(b?.batchId);
    expect([a?.created, b?.created].sort()).toEqual([false, true]);
    expect(b?.rejected).toEqual(a?.rejected);
    const conflict = await batches.create({ ...input, flow: 'other' }, { idempotencyKey: 'spring-2025' }).catch((e: unknown) => e);
    expect(isSwitchboardError(conflict, 'SB_BATCH_IDEMPOTENCY_CONFLICT')).toBe(true);
    expect(await batches.list()).toHaveLength(1);
  });
});

describe('running a batch', () => {
  it('expands into one call job per row; the counts follow the simulator answering and failing calls to the end', async () => {
    const prefix = freshPrefix('run');
    const batches = batchQueue(prefix);
    await h.worker(prefix);
    await batchWorker(prefix);
    const to = numbers(100, 6);
    h.sim.onOriginate((req) => (req.vars.sb_queue === prefix && /[25]$/.test(req.endpoint) ? { fail: 'USER_BUSY', afterMs: 20 } : undefined));
    const { batchId } = await batches.create({
      flow: 'survey',
      gateway: 'trunk1',
      from: '+15559990000',
      vars: { campaign: 'spring' },
      webhook: 'https://hooks.example.com/calls',
      rows: to.map((n, i) => ({ to: n, vars: { customer: `c-${i + 1}` }, ...(i === 0 ? { from: '+15559990001' } : {}) })),
    });
    const done = await finished(batches, batchId);
    h.sim.onOriginate(() => undefined);
    expect(done).toMatchObject({ state: 'done', total: 6, counts: { pending: 0, queued: 0, dialing: 0, answered: 0, retrying: 0, completed: 4, failed: 2, cancelled: 0, done: 6 } });
    for (const n of to) expect(dialled(n), n).toBe(1);

    // Each row's call job carries the batch settings, the row's overrides and its vars over the batch's.
    const calls = h.queue(prefix);
    const first = await calls.get(`${batchId}-r1`);
    expect(first).toMatchObject({ state: 'completed', job: { to: to[0], flow: 'survey', gateway: 'trunk1', from: '+15559990001', webhook: 'https://hooks.example.com/calls', vars: { campaign: 'spring', customer: 'c-1' } } });
    expect(await calls.get(`${batchId}-r3`)).toMatchObject({ state: 'failed', cause: 'USER_BUSY', job: { from: '+15559990000', vars: { customer: 'c-3' } } });
    const line = h.sim.received.find((c) => c.line.startsWith('bgapi originate') && c.line.includes(`/${to[0]} `))?.line ?? '';
    expect(line).toContain(`sb_job=${batchId}-r1`);
    expect(line).toContain('customer=c-1');
  });

  it('expanded twice (a crash before the cursor was saved), makes no second call job and dials each row once', async () => {
    const prefix = freshPrefix('twice');
    const batches = batchQueue(prefix);
    const to = numbers(200, 5);
    const { batchId } = await batches.create({ flow: 'survey', rows: to.map((n) => ({ to: n })) });
    const expander = await batchWorker(prefix, { chunkSize: 2 }, false);
    expect(await expander.expand(batchId)).toMatchObject({ expanded: 5 });
    await h.redis.command('HSET', `${prefix}:batch:${batchId}`, 'expanded', '0');
    expect(await expander.expand(batchId)).toMatchObject({ expanded: 5 });

    const counts = await callJobs(prefix).getJobCounts('wait', 'prioritized', 'delayed', 'active', 'completed');
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(5);
    expect((await batches.get(batchId))?.counts).toMatchObject({ pending: 0, queued: 5 });

    await h.worker(prefix);
    expect(await finished(batches, batchId)).toMatchObject({ state: 'done', counts: { completed: 5, done: 5 } });
    for (const n of to) expect(dialled(n), n).toBe(1);
  });

  it('pause holds every call not yet dialled (the one in progress finishes); resume releases them', async () => {
    const prefix = freshPrefix('pause');
    const batches = batchQueue(prefix);
    h.talkMs = 400;
    await h.worker(prefix, { pacing: { cps: 50, maxConcurrent: 1 } });
    await batchWorker(prefix);
    const to = numbers(300, 5);
    const { batchId } = await batches.create({ flow: 'survey', rows: to.map((n) => ({ to: n })) });
    await until(async () => (await batches.get(batchId))?.counts.answered === 1, 10_000, 'the first call answered');
    expect((await batches.pause(batchId)).state).toBe('paused');

    // Held = every call not dialled is set aside (delayed) and in the batch's held set: none waits to be taken.
    const jobs = callJobs(prefix);
    const held = await until(async () => {
      const s = await batches.get(batchId);
      const c = await jobs.getJobCounts('wait', 'prioritized', 'active', 'delayed');
      const inSet = Number((await h.redis.command('SCARD', `${prefix}:batch:${batchId}:held`)).slice(1));
      return s && s.counts.dialing + s.counts.answered === 0 && (c.wait ?? 0) + (c.prioritized ?? 0) + (c.active ?? 0) === 0 && inSet === c.delayed && inSet === s.counts.queued ? s : undefined;
    }, 10_000, 'the batch held');
    expect(held.counts.completed).toBeGreaterThanOrEqual(1);
    expect(held.counts.completed + held.counts.queued).toBe(5);
    const dialledWhilePaused = to.map(dialled).reduce((a, b) => a + b, 0);
    expect(dialledWhilePaused).toBe(held.counts.completed);
    const aside = (await h.queue(prefix).get(`${batchId}-r5`))?.timeline.at(-1);
    expect(aside).toMatchObject({ state: 'queued', note: 'held: the batch is paused' });

    expect((await batches.resume(batchId)).state).toBe('running');
    expect(await finished(batches, batchId)).toMatchObject({ state: 'done', counts: { completed: 5, done: 5 } });
    for (const n of to) expect(dialled(n), n).toBe(1);
    h.talkMs = 100;
  });

  it('cancel: the call in progress finishes, every other row is cancelled and never dialled', async () => {
    const prefix = freshPrefix('cancel');
    const batches = batchQueue(prefix);
    h.talkMs = 1000;
    await h.worker(prefix, { pacing: { cps: 50, maxConcurrent: 1 } });
    await batchWorker(prefix);
    const to = numbers(400, 5);
    const { batchId } = await batches.create({ flow: 'survey', rows: to.map((n) => ({ to: n })) });
    await until(async () => (await batches.get(batchId))?.counts.answered === 1, 10_000, 'the first call answered');
    const cancelledAt = Date.now();
    expect((await batches.cancel(batchId)).state).toBe('cancelled');
    const done = await finished(batches, batchId);
    expect(done).toMatchObject({ state: 'cancelled', counts: { completed: 1, cancelled: 4, done: 5, queued: 0, dialing: 0, answered: 0 } });
    expect(to.map(dialled)).toEqual([1, 0, 0, 0, 0]);
    const originates = h.sim.received.filter((c) => c.line.startsWith('bgapi originate') && c.line.includes(`sb_queue=${prefix}`));
    expect(originates.every((c) => c.at < cancelledAt)).toBe(true);
    h.talkMs = 100;

    const err = await batches.pause(batchId).catch((e: unknown) => e);
    expect(isSwitchboardError(err, 'SB_BATCH_STATE')).toBe(true);
    expect((err as { status: number }).status).toBe(409);
  });

  it('cancelled before any row was expanded, finishes at once with every row cancelled', async () => {
    const batches = batchQueue(freshPrefix('cancel0'));
    const { batchId } = await batches.create({ flow: 'survey', rows: numbers(500, 3).map((to) => ({ to })) });
    const s = await batches.cancel(batchId);
    expect(s).toMatchObject({ state: 'cancelled', counts: { pending: 0, cancelled: 3, done: 3 } });
    expect(s.finishedAt).toBeDefined();
    expect(await batches.cancel(batchId)).toMatchObject({ state: 'cancelled' });
    const err = await batches.resume('b-00000000000000000000000000000000').catch((e: unknown) => e);
    expect(isSwitchboardError(err, 'SB_BATCH_NOT_FOUND')).toBe(true);
  });

  it('applies calling windows per row: a row whose window is closed waits, the others are dialled', async () => {
    const prefix = freshPrefix('window');
    const batches = batchQueue(prefix);
    await h.worker(prefix);
    await batchWorker(prefix);
    const hhmm = (ms: number): string => new Date(ms).toISOString().slice(11, 16);
    const now = Date.now();
    // The batch's window opened two hours ago for a minute; row 2's own window is open now.
    const closed = { start: hhmm(now - 2 * 3600_000), end: hhmm(now - 2 * 3600_000 + 60_000) };
    const open = { start: hhmm(now - 3600_000), end: hhmm(now + 3600_000) };
    const to = numbers(600, 2);
    const { batchId } = await batches.create({ flow: 'survey', window: closed, rows: [{ to: to[0] as string }, { to: to[1] as string, window: open }] });
    const s = await until(async () => {
      const b = await batches.get(batchId);
      return b?.counts.completed === 1 && b.counts.queued === 1 ? b : undefined;
    }, 10_000, 'row 2 completed');
    expect(s.finishedAt).toBeUndefined();
    expect(to.map(dialled)).toEqual([0, 1]);
    const waiting = await h.queue(prefix).get(`${batchId}-r1`);
    expect(waiting?.timeline.at(-1)?.note).toBe('waiting for the calling window');
    expect(Date.parse(waiting?.nextAttemptAt ?? '') - Date.now()).toBeGreaterThan(20 * 3600_000);
  });

  it('a call queued on its own is dialled before the rows of a batch queued earlier', async () => {
    const prefix = freshPrefix('prio');
    const batches = batchQueue(prefix);
    const { batchId } = await batches.create({ flow: 'survey', rows: numbers(700, 4).map((to) => ({ to })) });
    await (await batchWorker(prefix, {}, false)).expand(batchId);
    const single = await h.queue(prefix).add({ to: '+15550000799', flow: 'desk' });
    await h.worker(prefix, { concurrency: 1 });
    await finished(batches, batchId);
    const order = h.sim.received.filter((c) => c.line.startsWith('bgapi originate') && c.line.includes(`sb_queue=${prefix}`));
    expect(order).toHaveLength(5);
    expect(order[0]?.line).toContain(`origination_uuid=${single.callId}`);
  });
});
