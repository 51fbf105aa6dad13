// GET /v1/calls and /v1/calls/:id: live and finished calls, inbound and outbound, with state and
// timeline; the history of finished calls (Redis with REDIS_URL, memory otherwise) is written
// when a call ends and stays bounded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOBBY_FLOW, REMINDER_FLOW, startApiRig, type ApiRig } from '../../test/support/api-rig.ts';
import { startRedisServer } from '../../test/support/redis-server.ts';
import { silentLogger } from '../log.ts';
import { MemoryCallHistory, type FinishedCall } from '../history/call-history.ts';
import { CallJournal } from '../history/call-journal.ts';
import { RedisCallHistory } from '../history/redis-call-history.ts';
import type { CallView } from './schemas.ts';

let rig: ApiRig;

beforeAll(async () => {
  rig = await startApiRig({ prefix: 'hist' });
}, 30_000);

afterAll(async () => {
  await rig?.close();
});

const socket = (): { host: string; port: number } => ({ host: '127.0.0.1', port: rig.service.outboundAddress.port });
const view = async (id: string): Promise<CallView & { code?: string }> => (await (await rig.get(`/v1/calls/${id}`)).json()) as CallView;
const list = async (query = ''): Promise<{ calls: CallView[]; next?: string }> => (await (await rig.get(`/v1/calls${query}`)).json()) as { calls: CallView[]; next?: string };

describe('an inbound call, live then finished', () => {
  it('live: listed with its state, parked flag and the timeline so far; finished: flow, steps, cause, who hung up', async () => {
    const ch = await rig.sim.inboundCall({ to: '7000', from: '1000', socket: socket() });
    await ch.waitForApp('playback');
    const live = await view(ch.uuid);
    expect(live).toMatchObject({ callId: ch.uuid, direction: 'inbound', live: true, parked: true, flow: 'lobby', from: '1000', to: '7000' });
    expect(['ringing', 'answered']).toContain(live.state);
    expect(live.timeline.map((e) => e.kind)).toEqual(['flow-start', 'step-start']);
    expect((await list()).calls).toContainEqual(expect.objectContaining({ callId: ch.uuid, live: true }));

    expect((await rig.post(`/v1/calls/${ch.uuid}/answer`, {})).status).toBe(200);
    await ch.waitForHangup();
    await expect.poll(async () => (await view(ch.uuid)).live, { timeout: 5000 }).toBe(false);
    const done = await view(ch.uuid);
    expect(done).toMatchObject({
      callId: ch.uuid,
      direction: 'inbound',
      state: 'completed',
      live: false,
      flow: 'lobby',
      ending: 'completed',
      steps: [{ id: 'hold', outcome: 'answered' }, { id: 'hi', outcome: 'ok' }],
      hangup: { cause: 'NORMAL_CLEARING', by: 'switchboard' },
    });
    expect(done.stepsRun).toBe(2);
    expect(done.timeline.map((e) => e.kind)).toEqual(['flow-start', 'step-start', 'step-end', 'step-start', 'step-end', 'hangup', 'flow-end']);
    for (const e of done.timeline) expect(Number.isNaN(Date.parse(e.at))).toBe(false);
    expect(Date.parse(done.endedAt!)).toBeGreaterThanOrEqual(Date.parse(done.startedAt!));
    expect(done.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('the caller hangs up: ending hangup, hung up by the remote side', async () => {
    const ch = await rig.sim.inboundCall({ to: '7000', from: '1001', socket: socket() });
    await ch.waitForApp('playback');
    await ch.hangup('NORMAL_CLEARING');
    await expect.poll(async () => (await view(ch.uuid)).live, { timeout: 5000 }).toBe(false);
    expect(await view(ch.uuid)).toMatchObject({ state: 'completed', ending: 'hangup', hangup: { cause: 'NORMAL_CLEARING', by: 'remote' } });
  });

  it('a call no flow takes: failed, unrouted, NO_ROUTE_DESTINATION', async () => {
    const ch = await rig.sim.inboundCall({ to: '9999', from: '1002', socket: socket() });
    await ch.waitForHangup();
    await expect.poll(async () => (await rig.get(`/v1/calls/${ch.uuid}`)).status, { timeout: 5000 }).toBe(200);
    expect(await view(ch.uuid)).toMatchObject({ state: 'failed', ending: 'unrouted', stepsRun: 0, hangup: { cause: 'NO_ROUTE_DESTINATION', by: 'switchboard' } });
    expect((await view(ch.uuid)).flow).toBeUndefined();
  });
});

describe('an outbound call: the queue job and the flow in one view', () => {
  it('by job id and by call id: attempts, the job\'s state changes and the flow\'s steps in one timeline', async () => {
    const r = await rig.post('/v1/calls', { to: '1001', flow: 'reminder' });
    expect(r.status).toBe(202);
    const { callId, jobId } = (await r.json()) as { callId: string; jobId: string };
    await expect.poll(async () => (await view(jobId)).state, { timeout: 15_000 }).toBe('completed');
    await expect.poll(async () => (await view(jobId)).ending, { timeout: 5000 }).toBe('completed');
    const byJob = await view(jobId);
    expect(byJob).toMatchObject({ callId, jobId, direction: 'outbound', live: false, flow: 'reminder', attempts: 1, maxAttempts: 1, hangup: { by: 'switchboard' } });
    const jobStates = byJob.timeline.filter((e) => e.kind === 'job').map((e) => e.state);
    expect(jobStates).toEqual(expect.arrayContaining(['queued', 'dialing', 'answered', 'completed']));
    expect(byJob.timeline.map((e) => e.kind)).toEqual(expect.arrayContaining(['job', 'flow-start', 'step-start', 'flow-end']));
    const times = byJob.timeline.map((e) => Date.parse(e.at));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(await view(callId)).toEqual(byJob);
  });

  it('a job that never connected is found by its job id and its call id, with the queue\'s state, and listed with the finished calls', async () => {
    rig.sim.onOriginate(() => ({ fail: 'USER_BUSY' }));
    try {
      const { jobId, callId } = (await (await rig.post('/v1/calls', { to: '1002', flow: 'reminder' })).json()) as { jobId: string; callId: string };
      await expect.poll(async () => (await view(jobId)).state, { timeout: 15_000 }).toBe('failed');
      expect(await view(jobId)).toMatchObject({ callId, jobId, direction: 'outbound', live: false, cause: 'USER_BUSY', attempts: 1 });
      await expect.poll(async () => (await list('?state=failed&direction=outbound')).calls.find((c) => c.callId === callId), { timeout: 5000 }).toMatchObject({ jobId, ending: 'unanswered', hangup: { cause: 'USER_BUSY', by: 'remote' } });
      expect(await view(callId)).toMatchObject({ callId, jobId, state: 'failed', cause: 'USER_BUSY', attempts: 1 });
    } finally {
      rig.sim.onOriginate(() => ({}));
    }
  });

  it('an unknown id is a coded 404', async () => {
    expect(await view('c-00000000-0000-4000-8000-000000000000')).toMatchObject({ code: 'SB_API_NOT_FOUND' });
    expect(await view('0d9b6a5e-4f7e-4bde-9a55-3d1c2f1e7a10')).toMatchObject({ code: 'SB_API_NOT_FOUND' });
  });
});

describe('GET /v1/calls: filters and pages, newest first', () => {
  it('direction and state filters', async () => {
    const outbound = (await list('?direction=outbound')).calls;
    expect(outbound.length).toBeGreaterThan(0);
    expect(outbound.every((c) => c.direction === 'outbound')).toBe(true);
    const failed = (await list('?state=failed')).calls;
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.every((c) => c.state === 'failed')).toBe(true);
    expect((await list('?state=queued')).calls).toEqual([]);
  });

  it('limit and before page through every call once, newest first', async () => {
    const all = (await list('?limit=500')).calls;
    expect(all.length).toBeGreaterThanOrEqual(4);
    const starts = all.map((c) => Date.parse(c.startedAt!));
    expect(starts).toEqual([...starts].sort((a, b) => b - a));
    const seen: string[] = [];
    let next: string | undefined;
    do {
      const page = await list(`?limit=2${next ? `&before=${next}` : ''}`);
      expect(page.calls.length).toBeLessThanOrEqual(2);
      seen.push(...page.calls.map((c) => c.callId));
      next = page.next;
    } while (next !== undefined);
    expect(seen).toEqual(all.map((c) => c.callId));
  });
});

describe('the history stays bounded', () => {
  it('in memory (no Redis): only the last SB_CALL_HISTORY_MAX calls', async () => {
    const mem = await startApiRig({ redis: false, env: { SB_CALL_HISTORY_MAX: '2' }, flows: { 'lobby.yaml': LOBBY_FLOW, 'reminder.yaml': REMINDER_FLOW } });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const ch = await mem.sim.inboundCall({ to: '9999', from: `200${i}`, socket: { host: '127.0.0.1', port: mem.service.outboundAddress.port } });
        await ch.waitForHangup();
        ids.push(ch.uuid);
        await expect.poll(async () => (await mem.get(`/v1/calls/${ch.uuid}`)).status, { timeout: 5000 }).toBe(200);
      }
      const kept = ((await (await mem.get('/v1/calls')).json()) as { calls: CallView[] }).calls.map((c) => c.callId);
      expect(kept).toEqual([ids[2], ids[1]]);
      expect((await mem.get(`/v1/calls/${ids[0]}`)).status).toBe(404);
    } finally {
      await mem.close();
    }
  });

  it('in Redis: trimmed to max entries and to the retention; each record expires', async () => {
    const redis = await startRedisServer();
    const history = new RedisCallHistory({ url: redis.url, prefix: 'trim', max: 3, retentionSec: 3600, logger: silentLogger });
    try {
      const call = (i: number, startedMs: number): FinishedCall => ({
        callId: `00000000-0000-4000-8000-00000000000${i}`,
        direction: 'inbound',
        state: 'completed',
        from: '1',
        to: '2',
        flow: 'f',
        jobId: undefined,
        startedAt: new Date(startedMs).toISOString(),
        answeredAt: undefined,
        endedAt: new Date(startedMs + 1000).toISOString(),
        durationMs: 1000,
        ending: 'completed',
        stepsRun: 1,
        steps: [],
        hangup: { cause: 'NORMAL_CLEARING', by: 'remote', disposition: undefined },
        timeline: [],
        instance: 'test',
      });
      await history.add(call(0, Date.now() - 2 * 3600 * 1000));
      for (let i = 1; i <= 5; i++) await history.add(call(i, Date.now() - (10 - i) * 1000));
      expect(await redis.command('ZCARD', 'trim:callhist')).toBe(':3\r\n');
      expect((await history.list({ limit: 10 })).map((c) => c.callId.slice(-1))).toEqual(['5', '4', '3']);
      expect(await history.get(call(0, 0).callId)).toBeDefined(); // trimmed from the index, its record expires on its own
      const ttl = Number(/^:(\d+)/.exec(await redis.command('TTL', `trim:callhist:${call(5, 0).callId}`))?.[1]);
      expect(ttl).toBeGreaterThan(3500);
      expect(ttl).toBeLessThanOrEqual(3600);
    } finally {
      await history.close();
      await redis.stop();
    }
  });
});

describe('outbound jobs that never connected, in the history', () => {
  const event = (type: 'failed' | 'cancelled' | 'completed', cause?: string) => ({
    type, at: Date.parse('2026-11-23T10:00:00Z'), jobId: 'c-job', callId: '00000000-0000-4000-8000-0000000000aa', attempt: 1, maxAttempts: 1,
    ...(cause ? { cause } : {}), job: { to: '+15551234567', from: '+15550000000', flow: 'reminder' },
  });

  it('a cancelled job is recorded as cancelled by Switchboard; completed jobs are left to the hangup record', async () => {
    const history = new MemoryCallHistory(10);
    const journal = new CallJournal(history);
    await journal.onJobEvent(event('completed', 'NORMAL_CLEARING'));
    expect(await history.get('00000000-0000-4000-8000-0000000000aa')).toBeUndefined();
    await journal.onJobEvent(event('cancelled'));
    expect(await history.get('00000000-0000-4000-8000-0000000000aa')).toMatchObject({ state: 'cancelled', direction: 'outbound', jobId: 'c-job', to: '+15551234567', ending: 'cancelled', hangup: { cause: 'ORIGINATOR_CANCEL', by: 'switchboard' } });
  });

  it('never overwrites the record of a call that connected', async () => {
    const history = new MemoryCallHistory(10);
    const journal = new CallJournal(history);
    await journal.onJobEvent(event('failed', 'USER_BUSY'));
    const first = await history.get('00000000-0000-4000-8000-0000000000aa');
    await journal.onJobEvent(event('failed', 'NO_ANSWER'));
    expect(await history.get('00000000-0000-4000-8000-0000000000aa')).toEqual(first);
    expect(first).toMatchObject({ state: 'failed', ending: 'unanswered', hangup: { cause: 'USER_BUSY', by: 'remote' } });
  });
});
