import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FreeSwitchSim } from '../../test/support/freeswitch-sim/index.ts';
import { startRedisServer, type RedisServer } from '../../test/support/redis-server.ts';
import { loadConfig } from '../config.ts';
import { silentLogger } from '../log.ts';
import { Service } from '../service.ts';
import { loadApiKeys, newApiKey } from './api-keys.ts';

let redis: RedisServer;
let sim: FreeSwitchSim;
let service: Service;
let dir: string;
let base: string;
const ops = newApiKey('ops');
const auth = { authorization: `Bearer ${ops.key}`, 'content-type': 'application/json' };

beforeAll(async () => {
  redis = await startRedisServer();
  sim = await FreeSwitchSim.start({ timeScale: 0.01 });
  dir = mkdtempSync(join(tmpdir(), 'sb-rest-'));
  writeFileSync(join(dir, 'reminder.yaml'), 'name: reminder\ntrigger: outbound\nsteps:\n  - wait: 0.2\n  - hangup\n');
  writeFileSync(join(dir, 'lobby.yaml'), 'name: lobby\nmatch: { destination: ["7000"] }\nsteps:\n  - id: hold\n    park: { timeout: 30 }\n    on: { answered: hi }\n  - hangup: CALL_REJECTED\n  - id: hi\n    hangup: NORMAL_CLEARING\n');
  service = new Service({
    config: loadConfig({ SB_ESL_PORT: String(sim.port), SB_OUTBOUND_PORT: '0', SB_HTTP_PORT: '0', SB_MEDIA_PORT: '0', SB_FLOWS_DIR: dir, REDIS_URL: redis.url, SB_QUEUE_PREFIX: 'rest', SB_API_KEYS: `${newApiKey('other').entry},${ops.entry}` }),
    logger: silentLogger,
  });
  await service.start();
  base = `http://127.0.0.1:${service.http?.port}`;
}, 30_000);

afterAll(async () => {
  await service?.close();
  await sim?.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const post = (path: string, body: unknown, headers: Record<string, string> = auth): Promise<Response> => fetch(`${base}${path}`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

describe('REST API', () => {
  it.each([
    ['no Authorization header', {}],
    ['an unknown key', { authorization: 'Bearer sb_not-a-key' }],
    ['not a bearer token', { authorization: `Basic ${ops.key}` }],
  ])('401 SB_API_UNAUTHORIZED with %s; /health and /metrics stay open', async (_label, headers) => {
    const r = await fetch(`${base}/v1/flows`, { headers: headers as Record<string, string> });
    expect(r.status).toBe(401);
    expect(await r.json()).toMatchObject({ code: 'SB_API_UNAUTHORIZED' });
    expect((await fetch(`${base}/health`)).status).toBe(200);
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
  });

  it('keys are configured hashed, and malformed entries are refused at start', () => {
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
    await expect.poll(async () => (await service.queue!.get(a.jobId))?.state, { timeout: 15_000 }).toBe('completed');
    expect(sim.received.filter((c) => c.line.startsWith('bgapi originate') && c.line.includes(a.callId))).toHaveLength(1);
  });

  it.each([
    ['a number that is not dialable', { to: '1001;x', flow: 'reminder' }, 400, 'SB_QUEUE_BAD_JOB', '/to'],
    ['an unknown field', { to: '1001', flow: 'reminder', colour: 'red' }, 400, 'SB_QUEUE_BAD_JOB', '/colour'],
    ['a wrong type', { to: '1001', flow: 'reminder', attempts: 'three' }, 400, 'SB_QUEUE_BAD_JOB', '/attempts'],
    ['an unknown flow', { to: '1001', flow: 'nope' }, 400, 'SB_API_BAD_REQUEST', '/flow'],
    ['an inbound flow', { to: '1001', flow: 'lobby' }, 400, 'SB_API_BAD_REQUEST', '/flow'],
  ])('POST /v1/calls refuses %s: 4xx with code and JSON pointer, nothing queued', async (_label, body, status, code, pointer) => {
    const before = await service.queue!.depth();
    const r = await post('/v1/calls', body);
    expect(r.status).toBe(status);
    expect(await r.json()).toMatchObject({ code, pointer });
    expect(await service.queue!.depth()).toBe(before);
  });

  it('413 for an oversized body, 400 for malformed JSON', async () => {
    const big = await post('/v1/calls', JSON.stringify({ to: '1', flow: 'x', pad: 'x'.repeat(1_100_000) }));
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ code: 'SB_API_TOO_LARGE' });
    const bad = await post('/v1/calls', '{"to":');
    expect(bad.status).toBe(400);
  });

  it('a parked call: listed live, answered by POST /v1/calls/:id/answer; commands to a call that is not parked are 409', async () => {
    const ch = await sim.inboundCall({ to: '7000', from: '1000', socket: { host: '127.0.0.1', port: service.outboundAddress.port } });
    await ch.waitForApp('playback');
    const list = (await (await fetch(`${base}/v1/calls`, { headers: auth })).json()) as { calls: Array<{ callId: string; parked: boolean }> };
    expect(list.calls).toContainEqual(expect.objectContaining({ callId: ch.uuid, parked: true }));
    // The route names the action: a body cannot turn an answer into something else.
    const smuggled = await post(`/v1/calls/${ch.uuid}/answer`, { action: 'hangup' });
    expect(smuggled.status).toBe(400);
    expect(await smuggled.json()).toMatchObject({ code: 'SB_API_BAD_REQUEST', pointer: '/action' });
    const badTo = await post(`/v1/calls/${ch.uuid}/transfer`, { to: 42 });
    expect(await badTo.json()).toMatchObject({ code: 'SB_API_BAD_REQUEST', pointer: '/to' });
    expect(service.control.isListening(ch.uuid)).toBe(true);
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
