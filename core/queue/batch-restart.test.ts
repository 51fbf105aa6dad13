// Redis restarts in the middle of a batch (persistence on: append-only file): the workers wait
// for it, then go on. Every row's call ends (none lost) and the simulator saw each number
// dialled exactly once (none doubled).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { silentLogger } from '../log.ts';
import { BatchWorker } from './batch-worker.ts';
import { BatchQueue, type BatchStatus } from './batches.ts';
import { freshPrefix, startHarness, until, type Harness } from './fixtures/harness.ts';

let h: Harness;
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  h = await startHarness({ redis: { persistence: true } });
});

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
  await h?.close();
});

it('a batch goes on after Redis restarts mid-way: no row lost, none dialled twice', async () => {
  const prefix = freshPrefix('restart');
  const batches = new BatchQueue({ connection: h.redis.url, prefix, logger: silentLogger, connectTimeoutMs: 500 });
  closers.push(() => batches.close());
  const expander = new BatchWorker({ connection: h.redis.url, prefix, logger: silentLogger });
  closers.push(() => expander.close());
  await expander.start();
  h.talkMs = 300;
  await h.worker(prefix, { pacing: { cps: 10, maxConcurrent: 5 } });

  const to = Array.from({ length: 20 }, (_, i) => `+1555300${String(i).padStart(4, '0')}`);
  const { batchId } = await batches.create({ flow: 'survey', rows: to.map((n) => ({ to: n })) });
  // Reading progress while Redis is away fails fast (SB_QUEUE_UNAVAILABLE): look again.
  const read = (): Promise<BatchStatus | undefined> => batches.get(batchId).catch(() => undefined);
  const before = await until(async () => {
    const s = await read();
    return s && s.counts.completed >= 4 ? s : undefined;
  }, 15_000, 'a few calls completed');
  expect(before.counts.done).toBeLessThan(20);

  await h.redis.restart();

  const done = await until(async () => {
    const s = await read();
    return s?.finishedAt !== undefined ? s : undefined;
  }, 30_000, 'the batch to finish after the restart');
  expect(done).toMatchObject({ state: 'done', total: 20, counts: { pending: 0, queued: 0, dialing: 0, answered: 0, retrying: 0, cancelled: 0, done: 20 } });
  expect(done.counts.completed + done.counts.failed).toBe(20);
  for (const n of to) {
    const originates = h.sim.received.filter((c) => c.line.startsWith('bgapi originate') && c.line.includes(`user/${n} `));
    expect(originates, n).toHaveLength(1);
  }
  h.talkMs = 100;
});
