import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiRig, type ApiRig } from '../../test/support/api-rig.ts';
import { loadApiKeys, newApiKey } from './api-keys.ts';

let rig: ApiRig;
let base: string;
let auth: Record<string, string>;

beforeAll(async () => {
  rig = await startApiRig({ prefix: 'rest' });
  ({ base, auth } = rig);
}, 30_000);

afterAll(async () => {
  await rig?.close();
});

const post = (path: string, body: unknown, headers: Record<string, string> = auth): Promise<Response> => rig.post(path, body, headers);

describe('REST API', () => {
  it.each([
    ['no Authorization header', (): Record<string, string> => ({})],
    ['an unknown key', (): Record<string, string> => ({ authorization: 'Bearer sb_not-a-key' })],
    ['not a bearer token', (): Record<string, string> => ({ authorization: `Basic ${rig.key}` })],
  ])('401 SB_API_UNAUTHORIZED with %s; /health and /metrics stay open', async (_label, headers) => {
    const r = await fetch(`${base}/v1/flows`, { headers: headers() });
    expect(r.status).toBe(401);
    expect(await r.json()).toMatchObject({ code: 'SB_API_UNAUTHORIZED' });
    expect((await fetch(`${base}/health`)).status).toBe(200);
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
  });

  it('keys are configured hashed, and malformed entries are refused at start', () => {
    const ops = newApiKey('ops');
    expect(ops.entry).toMatch(/^ops:sha256:[0-9a-f]{64}$/);
    expect(ops.entry).not.toContain(ops.key);
    expect(() => loadApiKeys({ SB_API_KEYS: `ops:${ops.key}` })).toThrow(expect.objectContaining({ code: 'SB_CONFIG_INVALID' }));
  });

  it('POST /v1/calls: 202 with call id and job id; the same Idempotency-Key never makes a second call', async () => {
    const body = { to: '1001', flow: 'reminder', from: '+15550001111' };
    const r1 = await post('/v1/calls', body, { ...auth, 'idempotency-key': 'order-42' });
    expect(r1.status).toBe(202);
    const a = (await r1.json()) as { callId: string; jobId: string };
    expect(a.callId).toMatch(/^[0-9a-f-]{36}$/);
    const r2 = await post('/v1/calls', body, { ...auth, 'idempotency-key': 'order-42' });
    expect(r2.status).toBe(200);
    expect(await r2.json()).toMatchObject({ callId: a.callId, jobId: a.jobId });
    await expect.poll(async () => (await rig.service.queue!.get(a.jobId))?.state, { timeout: 15_000 }).toBe('completed');
    expect(rig.sim.received.filter((c) => c.line.startsWith('bgapi originate') && c.line.includes(a.callId))).toHaveLength(1);
  });

  it.each([
    ['a number that is not dialable', { to: '1001;x', flow: 'reminder' }, 400, 'SB_QUEUE_BAD_JOB', '/to'],
    ['an unknown field', { to: '1001', flow: 'reminder', colour: 'red' }, 400, 'SB_QUEUE_BAD_JOB', '/colour'],
    ['a wrong type', { to: '1001', flow: 'reminder', attempts: 'three' }, 400, 'SB_QUEUE_BAD_JOB', '/attempts'],
    ['an unknown flow', { to: '1001', flow: 'nope' }, 400, 'SB_API_BAD_REQUEST', '/flow'],
    ['an inbound flow', { to: '1001', flow: 'lobby' }, 400, 'SB_API_BAD_REQUEST', '/flow'],
  ])('POST /v1/calls refuses %s: 4xx with code and JSON pointer, nothing queued', async (_label, body, status, code, pointer) => {
    const before = await rig.service.queue!.depth();
    const r = await post('/v1/calls', body);
    expect(r.status).toBe(status);
    expect(await r.json()).toMatchObject({ code, pointer });
    expect(await rig.service.queue!.depth()).toBe(before);
  });

  it('413 for an oversized body, 400 for malformed JSON', async () => {
    const big = await post('/v1/calls', JSON.stringify({ to: '1', flow: 'x', pad: 'x'.repeat(1_100_000) }));
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ code: 'SB_API_TOO_LARGE' });
    const bad = await post('/v1/calls', '{"to":');
    expect(bad.status).toBe(400);
  });

  it('a parked call: listed live, answered by POST /v1/calls/:id/answer; commands to a call that is not parked are 409', async () => {
    const ch = await rig.sim.inboundCall({ to: '7000', from: '1000', socket: { host: '127.0.0.1', port: rig.service.outboundAddress.port } });
    await ch.waitForApp('playback');
    const list = (await (await fetch(`${base}/v1/calls`, { headers: auth })).json()) as { calls: Array<{ callId: string; parked: boolean }> };
    expect(list.calls).toContainEqual(expect.objectContaining({ callId: ch.uuid, parked: true }));
    // The route names the action: a body cannot turn an answer into something else.
    const smuggled = await post(`/v1/calls/${ch.uuid}/answer`, { action: 'hangup' });
    expect(smuggled.status).toBe(400);
    expect(await smuggled.json()).toMatchObject({ code: 'SB_API_BAD_REQUEST', pointer: '/action' });
    const badTo = await post(`/v1/calls/${ch.uuid}/transfer`, { to: 42 });
    expect(await badTo.json()).toMatchObject({ code: 'SB_API_BAD_REQUEST', pointer: '/to' });
    expect(rig.service.control.isListening(ch.uuid)).toBe(true);
    expect((await post(`/v1/calls/${ch.uuid}/answer`, {})).status).toBe(200);
    await ch.waitForHangup();
    expect(ch.hangupCause).toBe('NORMAL_CLEARING');
    expect((await post(`/v1/calls/${ch.uuid}/answer`, {})).status).toBe(404);
  });

  it('GET /v1/flows and POST /v1/flows/validate', async () => {
    const flows = (await (await fetch(`${base}/v1/flows`, { headers: auth })).json()) as { flows: Array<{ name: string; trigger: string }> };
    expect(flows.flows.map((f) => [f.name, f.trigger]).sort()).toEqual([['lobby', 'inbound'], ['reminder', 'outbound']]);
    const v = (await (await post('/v1/flows/validate', { yaml: 'name: x\nsteps:\n  - grete: a.wav\n' })).json()) as { ok: boolean; diagnostics: Array<{ code: string; line: number; column: number }> };
    expect(v.ok).toBe(false);
    expect(v.diagnostics[0]).toMatchObject({ code: 'SB_FLOW_UNKNOWN_STEP', line: 3, column: 5 });
  });
});
