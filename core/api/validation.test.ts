// Bad input on every kind of route is a coded 4xx with the JSON pointer of the offending value,
// and a refused POST /v1/calls leaves Redis exactly as it was: nothing queued, no record.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiRig, type ApiRig } from '../../test/support/api-rig.ts';

let rig: ApiRig;

beforeAll(async () => {
  rig = await startApiRig({ prefix: 'valid' });
}, 30_000);

afterAll(async () => {
  await rig?.close();
});

/** Every key in the test Redis, and the calls queue's BullMQ counts. */
async function redisState(): Promise<{ keys: number; jobs: number }> {
  const reply = await rig.redis!.command('DBSIZE');
  return { keys: Number(/^:(\d+)/.exec(reply)?.[1]), jobs: await rig.service.queue!.depth() };
}

const JOB = { to: '1001', flow: 'reminder' };
const longKey = 'k'.repeat(201);

describe('POST /v1/calls: the body is the queue job schema', () => {
  it.each([
    ['a missing required field', { flow: 'reminder' }, {}, 400, 'SB_QUEUE_BAD_JOB', '/to'],
    ['an unknown field (never silently dropped)', { ...JOB, colour: 'red' }, {}, 400, 'SB_QUEUE_BAD_JOB', '/colour'],
    ['a number sent as a string (never coerced)', { ...JOB, attempts: '3' }, {}, 400, 'SB_QUEUE_BAD_JOB', '/attempts'],
    ['a nested unknown field', { ...JOB, backoff: { type: 'fixed', delayMs: 10, jitter: 1 } }, {}, 400, 'SB_QUEUE_BAD_JOB', '/backoff/jitter'],
    ['an enum outside its values', { ...JOB, attempts: 2, backoff: { type: 'linear', delayMs: 10 } }, {}, 400, 'SB_QUEUE_BAD_JOB', '/backoff/type'],
    ['a number that is not dialable (beyond JSON Schema)', { ...JOB, to: '1001;x' }, {}, 400, 'SB_QUEUE_BAD_JOB', '/to'],
    ['a reserved channel variable (beyond JSON Schema)', { ...JOB, vars: { sb_flow: 'x' } }, {}, 400, 'SB_QUEUE_BAD_JOB', '/vars/sb_flow'],
    ['an unknown flow', { ...JOB, flow: 'nope' }, {}, 400, 'SB_API_BAD_REQUEST', '/flow'],
    ['an inbound flow', { ...JOB, flow: 'lobby' }, {}, 400, 'SB_API_BAD_REQUEST', '/flow'],
    ['an Idempotency-Key over 200 characters', JOB, { 'idempotency-key': longKey }, 400, 'SB_API_BAD_REQUEST', '/idempotency-key'],
    ['a JSON array instead of an object', [JOB], {}, 400, 'SB_QUEUE_BAD_JOB', '/'],
  ])('refuses %s: coded 400 with the pointer, and nothing reaches Redis', async (_label, body, headers, status, code, pointer) => {
    const before = await redisState();
    const r = await rig.post('/v1/calls', body, { ...rig.auth, ...headers });
    expect(r.status).toBe(status);
    const err = (await r.json()) as { code: string; pointer: string; message: string };
    expect(err).toMatchObject({ code, pointer });
    expect(err.message.length).toBeGreaterThan(10);
    expect(await redisState()).toEqual(before);
  });

  it('reports every problem of a job at once, each with its pointer', async () => {
    const r = await rig.post('/v1/calls', { to: '1001', flow: 'reminder', attempts: 0, timeout: 'long', colour: 1 });
    const err = (await r.json()) as { problems: Array<{ pointer: string }> };
    expect(err.problems.map((p) => p.pointer).sort()).toEqual(['/attempts', '/colour', '/timeout']);
  });

  it('413 for a body over 1 MiB, 415 for a form body, 400 for broken JSON: nothing queued', async () => {
    const before = await redisState();
    const big = await rig.post('/v1/calls', JSON.stringify({ ...JOB, vars: { pad: 'x'.repeat(1_100_000) } }));
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ code: 'SB_API_TOO_LARGE', message: 'request body larger than 1048576 bytes' });
    const text = await rig.post('/v1/calls', 'to=1001', { ...rig.auth, 'content-type': 'application/x-www-form-urlencoded' });
    expect(text.status).toBe(415);
    expect(await text.json()).toMatchObject({ code: 'SB_API_UNSUPPORTED_MEDIA' });
    const broken = await rig.post('/v1/calls', '{"to":');
    expect(broken.status).toBe(400);
    expect(await broken.json()).toMatchObject({ code: 'SB_API_BAD_REQUEST' });
    expect(await redisState()).toEqual(before);
  });

  it('a valid job is queued: the counterpart of the refusals above', async () => {
    const before = await redisState();
    const r = await rig.post('/v1/calls', { ...JOB, attempts: 2, backoff: { type: 'fixed', delayMs: 1000 } }, { ...rig.auth, 'idempotency-key': 'valid-1' });
    expect(r.status).toBe(202);
    expect((await redisState()).keys).toBeGreaterThan(before.keys);
  });
});

describe('other routes: query, path and body checked by their schemas', () => {
  it.each([
    ['GET', '/v1/calls?limit=0', undefined, 'SB_API_BAD_REQUEST', '/limit', 'query'],
    ['GET', '/v1/calls?state=ringin', undefined, 'SB_API_BAD_REQUEST', '/state', 'query'],
    ['GET', '/v1/calls?colour=red', undefined, 'SB_API_BAD_REQUEST', '/colour', 'query'],
    ['GET', '/v1/calls?before=yesterday', undefined, 'SB_API_BAD_REQUEST', '/before', 'query'],
    ['GET', '/v1/calls/not%20an%20id', undefined, 'SB_API_BAD_REQUEST', '/id', 'path'],
    ['GET', '/v1/rooms/a;b', undefined, 'SB_API_BAD_REQUEST', '/name', 'path'],
    ['POST', '/v1/rooms/sales/members/all/kick', {}, 'SB_API_BAD_REQUEST', '/id', 'path'],
    ['POST', '/v1/rooms/sales/members/0/mute', {}, 'SB_API_BAD_REQUEST', '/id', 'path'],
    ['POST', '/v1/calls/0d9b6a5e-4f7e-4bde-9a55-3d1c2f1e7a10/hangup', { cause: 'bye bye' }, 'SB_API_BAD_REQUEST', '/cause', undefined],
    ['POST', '/v1/calls/0d9b6a5e-4f7e-4bde-9a55-3d1c2f1e7a10/bridge', { to: [] }, 'SB_API_BAD_REQUEST', '/to', undefined],
    ['POST', '/v1/calls/0d9b6a5e-4f7e-4bde-9a55-3d1c2f1e7a10/transfer', {}, 'SB_API_BAD_REQUEST', '/to', undefined],
    ['POST', '/v1/flows/validate', { yaml: 'name: x', lint: true }, 'SB_API_BAD_REQUEST', '/lint', undefined],
    ['POST', '/v1/flows/validate', { yaml: 42 }, 'SB_API_BAD_REQUEST', '/yaml', undefined],
  ])('%s %s is refused with the pointer of the bad value', async (method, path, body, code, pointer, where) => {
    const r = method === 'GET' ? await rig.get(path) : await rig.post(path, body);
    expect(r.status).toBe(400);
    const err = (await r.json()) as Record<string, unknown>;
    expect(err).toMatchObject({ code, pointer });
    expect(err.in).toBe(where);
  });

  it('a POST with no body at all is an empty object (commands without arguments need none)', async () => {
    const r = await fetch(`${rig.base}/v1/calls/0d9b6a5e-4f7e-4bde-9a55-3d1c2f1e7a10/answer`, { method: 'POST', headers: { authorization: rig.auth.authorization as string } });
    expect(r.status).toBe(404);
    expect(await r.json()).toMatchObject({ code: 'SB_API_NOT_FOUND' });
  });

  it('an unknown route is a coded 404', async () => {
    const r = await rig.get('/v1/nothing-here');
    expect(r.status).toBe(404);
    expect(await r.json()).toMatchObject({ code: 'SB_API_NOT_FOUND' });
  });
});
