// Pacing across workers through Redis, measured where it matters: at FreeSWITCH (the
// simulator's receive times of the originate commands and its channels' lifetimes).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimEventRecord } from '../../test/support/freeswitch-sim/index.ts';
import { freshPrefix, startHarness, until, type Harness } from './fixtures/harness.ts';
import { PACING_SCRIPTS, Pacer, type PacingOptions } from './pacing.ts';
import { GLOBAL_BUCKET, QueueKeys, ScriptClient } from './redis.ts';
import type { CallQueue } from './producer.ts';

let h: Harness;
/** uuid → [originate received, CHANNEL_HANGUP_COMPLETE fired] at the simulator. */
const lifetimes = new Map<string, { start: number; end?: number }>();

beforeAll(async () => {
  h = await startHarness();
  h.sim.on('command', (c) => {
    const uuid = /origination_uuid=([0-9a-f-]{36})/.exec(c.line)?.[1];
    if (uuid && c.line.startsWith('bgapi originate ') && !lifetimes.has(uuid)) lifetimes.set(uuid, { start: c.at });
  });
  h.sim.on('event', (ev: SimEventRecord) => {
    if (ev.name !== 'CHANNEL_HANGUP_COMPLETE') return;
    const uuid = ev.headers['Unique-ID'];
    const life = typeof uuid === 'string' ? lifetimes.get(uuid) : undefined;
    if (life && life.end === undefined) life.end = Date.now();
  });
});

afterAll(async () => {
  await h?.close();
});

/** Most originates in any window [t, t + 1000 ms) starting at an originate. */
function maxPerSecond(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let max = 0;
  for (let i = 0; i < sorted.length; i++) {
    let n = 0;
    for (let j = i; j < sorted.length && (sorted[j] as number) < (sorted[i] as number) + 1000; j++) n++;
    max = Math.max(max, n);
  }
  return max;
}

/** Most calls alive at once (an end at the same ms as a start counts first). */
function maxOverlap(lives: Array<{ start: number; end?: number }>): number {
  const points = lives.flatMap((l) => [
    [l.start, 1],
    [l.end ?? Number.POSITIVE_INFINITY, -1],
  ]) as Array<[number, number]>;
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let live = 0;
  let max = 0;
  for (const [, d] of points) max = Math.max(max, (live += d));
  return max;
}

async function allFinished(queue: CallQueue, jobIds: string[], timeoutMs: number) {
  return until(async () => {
    const states = await Promise.all(jobIds.map((id) => queue.get(id)));
    return states.every((s) => s && ['completed', 'failed'].includes(s.state)) ? states : undefined;
  }, timeoutMs, 'all jobs to finish');
}

function originateTimes(prefix: string, filter: (line: string) => boolean = () => true): number[] {
  return h.sim.received.filter((c) => c.line.startsWith('bgapi originate ') && c.line.includes(`sb_queue=${prefix}`) && filter(c.line)).map((c) => c.at);
}

describe('pacing', () => {
  it('two workers together keep cps 5 in every 1 s window and never exceed 3 calls in progress; excess waits, none is rejected', async () => {
    const prefix = freshPrefix('cps');
    const queue = h.queue(prefix);
    h.talkMs = 450;
    const pacing: PacingOptions = { cps: 5, maxConcurrent: 3 };
    // The simulator shares this process with both workers: on a busy test machine its receive times
    // jitter by tens of ms, more than the default margin (sized for a LAN) is meant to absorb.
    const timing = { rateMarginMs: 100 };
    const [a, b] = [await h.worker(prefix, { pacing, name: 'a', timing }), await h.worker(prefix, { pacing, name: 'b', timing })];
    const added = await Promise.all(Array.from({ length: 14 }, (_, i) => queue.add({ to: String(2000 + i), flow: 'desk' })));

    const t0 = Date.now();
    const states = await allFinished(queue, added.map((j) => j.jobId), 20_000);
    const elapsed = Date.now() - t0;
    expect(states.every((s) => s?.state === 'completed' && s.attempts === 1)).toBe(true);

    const times = originateTimes(prefix);
    expect(times).toHaveLength(14);
    expect(maxPerSecond(times)).toBeLessThanOrEqual(5);
    // Smooth: consecutive starts at least ~1000/cps apart (Redis decides; the simulator may see a few ms of jitter).
    const sorted = [...times].sort((x, y) => x - y);
    const gaps = sorted.slice(1).map((t, i) => t - (sorted[i] as number));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(150);

    const lives = added.map((j) => lifetimes.get(j.callId)).filter((l) => l !== undefined);
    expect(lives).toHaveLength(14);
    expect(maxOverlap(lives)).toBeLessThanOrEqual(3);
    // Both limits were actually binding, and both workers took part.
    expect(maxOverlap(lives)).toBe(3);
    expect(elapsed).toBeGreaterThan(2200);
    const workers = new Set(states.flatMap((s) => s?.timeline.filter((e) => e.state === 'dialing').map((e) => e.worker) ?? []));
    expect(workers).toEqual(new Set(['a', 'b']));
    expect(await a.inProgress()).toBe(0);
    expect(await b.inProgress()).toBe(0);
  });

  it('a gateway with its own limit is held to it while another gateway\'s calls go ahead', async () => {
    const prefix = freshPrefix('gw');
    const queue = h.queue(prefix);
    h.talkMs = 300;
    const pacing: PacingOptions = { cps: 20, maxConcurrent: 10, perGateway: { slow: { cps: 2, maxConcurrent: 1 } } };
    await h.worker(prefix, { pacing, name: 'a' });
    await h.worker(prefix, { pacing, name: 'b' });
    const slow = await Promise.all(Array.from({ length: 4 }, (_, i) => queue.add({ to: `+1555100${i}`, gateway: 'slow', flow: 'desk' })));
    const fast = await Promise.all(Array.from({ length: 6 }, (_, i) => queue.add({ to: `+1555200${i}`, gateway: 'fast', flow: 'desk' })));

    const states = await allFinished(queue, [...slow, ...fast].map((j) => j.jobId), 20_000);
    expect(states.every((s) => s?.state === 'completed')).toBe(true);

    const slowTimes = originateTimes(prefix, (l) => l.includes('sofia/gateway/slow/'));
    expect(slowTimes).toHaveLength(4);
    expect(maxPerSecond(slowTimes)).toBeLessThanOrEqual(2);
    expect(maxOverlap(slow.map((j) => lifetimes.get(j.callId) ?? { start: 0 }))).toBe(1);

    // The fast gateway was not stuck behind the slow one: all its calls started before the slow ones were done.
    const fastTimes = originateTimes(prefix, (l) => l.includes('sofia/gateway/fast/'));
    expect(Math.max(...fastTimes)).toBeLessThan(Math.max(...slowTimes));
    expect(maxOverlap(fast.map((j) => lifetimes.get(j.callId) ?? { start: 0 }))).toBeGreaterThan(1);
  });

  it('a start whose originate left late counts from then: the next start over the limit waits a full window from it', async () => {
    const prefix = freshPrefix('sent');
    const redis = new ScriptClient(h.redis.url, PACING_SCRIPTS, 'worker');
    const pacer = new Pacer(redis, prefix, { cps: 1, maxConcurrent: 10 }, 1000, 60_000);
    const starts = new QueueKeys(prefix).starts(GLOBAL_BUCKET);
    const client = await redis.client();
    const redisNow = async (): Promise<number> => {
      const [sec, usec] = (await h.redis.command('TIME')).split('\r\n').filter((l) => /^\d+$/.test(l));
      return Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
    };
    expect(await pacer.acquire('', 'c1#1')).toMatchObject({ ok: true });
    const decided = Number(await client.zscore(starts, 'c1#1'));
    // Redis's clock moves on (the originate leaves late), then it is written.
    await until(async () => (await redisNow()) >= decided + 30, 2000, 'Redis time to move');
    await pacer.sent('', 'c1#1');
    const sentAt = Number(await client.zscore(starts, 'c1#1'));
    expect(sentAt).toBeGreaterThanOrEqual(decided + 30);
    const before = await redisNow();
    const next = await pacer.acquire('', 'c2#1');
    const after = await redisNow();
    // The next start waits a window from the send, not from the decision.
    expect(next).toMatchObject({ ok: false, reason: 'rate' });
    if (!next.ok) {
      expect(next.waitMs).toBeGreaterThanOrEqual(sentAt + 1000 - after);
      expect(next.waitMs).toBeGreaterThan(decided + 1000 - before);
    }
    // A start no longer in the window is not put back.
    await pacer.sent('', 'gone#1');
    expect(await client.zscore(starts, 'gone#1')).toBeNull();
    await redis.close();
  });
});
