// The batch routes of the REST API against a real Service, redis-server and the FreeSWITCH
// simulator: JSON and CSV uploads (quoting, line numbers, settings in the query), rejected rows
// and strict, progress to done, pause / resume / cancel, 404 / 409 / 413, Idempotency-Key, and
// the OpenAPI description.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiRig, type ApiRig } from '../../test/support/api-rig.ts';
import type { BatchStatus } from '../queue/index.ts';

let rig: ApiRig;

beforeAll(async () => {
  rig = await startApiRig({ prefix: 'batchapi', env: { SB_BATCH_MAX_BYTES: '65536', SB_BATCH_MAX_ROWS: '1000', SB_CPS: '50' } });
}, 30_000);

afterAll(async () => {
  await rig?.close();
});

type Batch = BatchStatus & { rejected: Array<{ row: number; pointer: string; message: string; line?: number }> };

async function batch(id: string): Promise<Batch> {
  return (await (await rig.get(`/v1/batches/${id}`)).json()) as Batch;
}

async function finished(id: string): Promise<Batch> {
  let last: Batch | undefined;
  await expect.poll(async () => (last = await batch(id)).finishedAt, { timeout: 15_000, interval: 50 }).toBeDefined();
  return last as Batch;
}

const csvHeaders = (): Record<string, string> => ({ ...rig.auth, 'content-type': 'text/csv; charset=utf-8' });

function dialled(number: string): number {
  return rig.sim.received.filter((c) => c.line.startsWith('bgapi originate') && c.line.includes(`/${number} `)).length;
}

describe('POST /v1/batches', () => {
  it('JSON: 202 with the accepted count and each rejected row; GET follows the counts until every call is done', async () => {
    const rows = [{ to: '+15551000001', vars: { customer: 'c-1' } }, { to: '+15551000002' }, { to: '+1555100000x' }, { to: '+15551000004' }];
    const r = await rig.post('/v1/batches', { name: 'spring', flow: 'reminder', gateway: 'trunk1', vars: { campaign: 'spring' }, rows });
    expect(r.status).toBe(202);
    const body = (await r.json()) as { batchId: string; created: boolean; state: string; accepted: number; rejected: unknown[] };
    expect(body).toMatchObject({ created: true, state: 'running', accepted: 3, rejected: [{ row: 3, pointer: '/rows/2/to', message: expect.stringContaining('not a dialable number') }] });
    expect(body.batchId).toMatch(/^b-[0-9a-f]{32}$/);

    const done = await finished(body.batchId);
    expect(done).toMatchObject({ name: 'spring', state: 'done', total: 3, rejectedCount: 1, settings: { flow: 'reminder', gateway: 'trunk1', vars: { campaign: 'spring' } }, counts: { pending: 0, completed: 3, failed: 0, done: 3 } });
    expect(done.rejected).toEqual(body.rejected);
    expect(['+15551000001', '+15551000002', '+15551000004'].map(dialled)).toEqual([1, 1, 1]);
    const list = (await (await rig.get('/v1/batches?limit=10')).json()) as { batches: BatchStatus[] };
    expect(list.batches.map((b) => b.batchId)).toContain(body.batchId);
  });

  it('strict=true: 400 SB_BATCH_ROWS_REJECTED listing every rejected row, nothing queued', async () => {
    const before = ((await (await rig.get('/v1/batches')).json()) as { batches: unknown[] }).batches.length;
    const r = await rig.post('/v1/batches?strict=true', { flow: 'reminder', rows: [{ to: '1001' }, { to: '1002;x' }, { to: '1003', vars: { sb_job: 'x' } }] });
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({
      code: 'SB_BATCH_ROWS_REJECTED',
      pointer: '/rows/1/to',
      problems: [
        { row: 2, pointer: '/rows/1/to', message: expect.any(String) },
        { row: 3, pointer: '/rows/2/vars/sb_job', message: expect.any(String) },
      ],
    });
    expect(((await (await rig.get('/v1/batches')).json()) as { batches: unknown[] }).batches).toHaveLength(before);
  });

  it('CSV: quoted fields (commas, "" quotes, line breaks) parsed, line numbers reported, settings from the query string', async () => {
    const csv = ['to,customer,note', '+15552000001,"Smith, Jo","said ""hi"""', '+15552000002,Ann,"two', 'lines"', '+15552000003,Bob,', '1003;x,Eve,ok', '+15552000005,Zed,ok,extra', ''].join('\r\n');
    const query = 'flow=reminder&gateway=trunk1&attempts=2&retryOn=USER_BUSY,NO_ANSWER&backoff.type=fixed&backoff.delayMs=1000&timeout=30&vars.campaign=spring';
    const r = await rig.post(`/v1/batches?${query}`, csv, csvHeaders());
    expect(r.status).toBe(202);
    const body = (await r.json()) as { batchId: string; accepted: number; rejected: unknown[] };
    expect(body.accepted).toBe(2);
    expect(body.rejected).toEqual([
      { row: 2, line: 3, pointer: '/rows/1/vars/note', message: expect.stringContaining('line') },
      { row: 4, line: 6, pointer: '/rows/3/to', message: expect.stringContaining('not a dialable number') },
      { row: 5, line: 7, pointer: '/rows/4', message: 'has 4 fields; the header names 3 columns' },
    ]);
    const done = await finished(body.batchId);
    expect(done).toMatchObject({
      state: 'done',
      settings: { flow: 'reminder', gateway: 'trunk1', attempts: 2, retryOn: ['USER_BUSY', 'NO_ANSWER'], backoff: { type: 'fixed', delayMs: 1000 }, timeout: 30, vars: { campaign: 'spring' } },
      counts: { completed: 2, done: 2 },
    });
    const queue = rig.service.queue!;
    expect((await queue.get(`${body.batchId}-r1`))?.job).toMatchObject({ to: '+15552000001', vars: { campaign: 'spring', customer: 'Smith, Jo', note: 'said "hi"' } });
    expect((await queue.get(`${body.batchId}-r3`))?.job.vars).toEqual({ campaign: 'spring', customer: 'Bob' });
    expect(['+15552000001', '+15552000003'].map(dialled)).toEqual([1, 1]);
  });

  it.each([
    ['a CSV without a "to" column', '/v1/batches?flow=reminder', 'number,name\n1001,a\n', 'SB_BATCH_BAD_CSV', undefined],
    ['a CSV with a header and no rows', '/v1/batches?flow=reminder', 'to,name\n', 'SB_BATCH_BAD_CSV', undefined],
    ['a CSV with an unclosed quote', '/v1/batches?flow=reminder', 'to,name\n1001,"a\n', 'SB_BATCH_BAD_CSV', undefined],
    ['a CSV whose flow is unknown', '/v1/batches?flow=nope', 'to\n1001\n', 'SB_API_BAD_REQUEST', '/flow'],
    ['a CSV whose settings are wrong', '/v1/batches?flow=reminder&attempts=three', 'to\n1001\n', 'SB_BATCH_BAD_REQUEST', '/attempts'],
    ['an unknown query parameter', '/v1/batches?flow=reminder&colour=red', 'to\n1001\n', 'SB_API_BAD_REQUEST', '/colour'],
  ])('%s: 400 %s', async (_what, path, csv, code, pointer) => {
    const r = await rig.post(path, csv, csvHeaders());
    expect(r.status).toBe(400);
    const body = (await r.json()) as { code: string; pointer?: string };
    expect(body.code).toBe(code);
    if (pointer !== undefined) expect(body.pointer).toBe(pointer);
  });

  it.each([
    ['settings in the query of a JSON batch', '/v1/batches?flow=reminder', { flow: 'reminder', rows: [{ to: '1001' }] }, 'SB_BATCH_BAD_REQUEST', '/flow'],
    ['an unknown flow', '/v1/batches', { flow: 'nope', rows: [{ to: '1001' }] }, 'SB_API_BAD_REQUEST', '/flow'],
    ['an inbound flow', '/v1/batches', { flow: 'lobby', rows: [{ to: '1001' }] }, 'SB_API_BAD_REQUEST', '/flow'],
    ['an unknown setting', '/v1/batches', { flow: 'reminder', colour: 'red', rows: [{ to: '1001' }] }, 'SB_BATCH_BAD_REQUEST', '/colour'],
    ['no rows', '/v1/batches', { flow: 'reminder', rows: [] }, 'SB_BATCH_BAD_REQUEST', '/rows'],
  ])('JSON with %s: 400 %s at %s', async (_what, path, body, code, pointer) => {
    const r = await rig.post(path, body);
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ code, pointer });
  });

  it('413: a body over SB_BATCH_MAX_BYTES (SB_API_TOO_LARGE with the limit), more rows than SB_BATCH_MAX_ROWS (SB_BATCH_TOO_LARGE)', async () => {
    const big = await rig.post('/v1/batches', { flow: 'reminder', rows: Array.from({ length: 3000 }, (_, i) => ({ to: `+1555${String(i).padStart(7, '0')}` })) });
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ code: 'SB_API_TOO_LARGE', message: expect.stringContaining('65536') });
    const many = await rig.post('/v1/batches', { flow: 'reminder', rows: Array.from({ length: 1001 }, () => ({ to: '1001' })) });
    expect(many.status).toBe(413);
    expect(await many.json()).toMatchObject({ code: 'SB_BATCH_TOO_LARGE' });
  });

  it('Idempotency-Key: a retry answers 200 with the same batch and stores nothing new', async () => {
    const body = { flow: 'reminder', notBefore: new Date(Date.now() + 3600_000).toISOString(), rows: [{ to: '1001' }] };
    const headers = { ...rig.auth, 'idempotency-key': 'campaign-42' };
    const first = (await (await rig.post('/v1/batches', body, headers)).json()) as { batchId: string };
    const again = await rig.post('/v1/batches', body, headers);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ batchId: first.batchId, created: false, accepted: 1 });
    const conflict = await rig.post('/v1/batches', { ...body, rows: [{ to: '1002' }] }, headers);
    expect(conflict.status).toBe(409);
    expect(await conflict.json()).toMatchObject({ code: 'SB_BATCH_IDEMPOTENCY_CONFLICT' });
  });
});

describe('POST /v1/batches/:id/{pause,resume,cancel}', () => {
  it('pause, resume and cancel answer the batch with its new state; 409 when the state does not allow it; 404 unknown; 400 not an id', async () => {
    // Not before an hour from now: the calls wait, so the states can be walked through.
    const { batchId } = (await (await rig.post('/v1/batches', { flow: 'reminder', notBefore: new Date(Date.now() + 3600_000).toISOString(), rows: [{ to: '1001' }, { to: '1002' }, { to: '1003' }] })).json()) as { batchId: string };
    const action = async (verb: string, id = batchId) => {
      const r = await rig.post(`/v1/batches/${id}/${verb}`);
      return { status: r.status, body: (await r.json()) as BatchStatus & { code?: string; in?: string } };
    };
    expect(await action('pause')).toMatchObject({ status: 200, body: { batchId, state: 'paused' } });
    expect(await action('pause')).toMatchObject({ status: 200, body: { state: 'paused' } });
    expect(await action('resume')).toMatchObject({ status: 200, body: { state: 'running' } });
    expect(await action('cancel')).toMatchObject({ status: 200, body: { state: 'cancelled' } });
    const done = await finished(batchId);
    expect(done.counts).toMatchObject({ cancelled: 3, done: 3, queued: 0, pending: 0 });
    expect(['1001', '1002', '1003'].map(dialled)).toEqual([0, 0, 0]);
    expect(await action('resume')).toMatchObject({ status: 409, body: { code: 'SB_BATCH_STATE' } });
    expect(await action('pause', 'b-00000000000000000000000000000000')).toMatchObject({ status: 404, body: { code: 'SB_BATCH_NOT_FOUND' } });
    expect((await rig.get('/v1/batches/b-00000000000000000000000000000000')).status).toBe(404);
    expect(await action('cancel', 'nope')).toMatchObject({ status: 400, body: { code: 'SB_API_BAD_REQUEST', in: 'path' } });
    expect((await rig.get(`/v1/batches/${batchId}`, {})).status).toBe(401);
  });
});

describe('OpenAPI', () => {
  it('documents the batch routes with their schemas: JSON and CSV bodies, the query settings, the answers', async () => {
    const doc = (await (await fetch(`${rig.base}/docs/json`)).json()) as { paths: Record<string, Record<string, { tags: string[]; requestBody?: { content: Record<string, unknown> }; parameters?: Array<{ name: string; in: string }>; responses: Record<string, unknown> }>> };
    const create = doc.paths['/v1/batches']?.post;
    expect(create?.tags).toEqual(['batches']);
    expect(Object.keys(create?.requestBody?.content ?? {}).sort()).toEqual(['application/json', 'text/csv']);
    expect(create?.parameters?.filter((p) => p.in === 'query').map((p) => p.name)).toEqual(expect.arrayContaining(['strict', 'flow', 'gateway', 'window.start', 'backoff.delayMs', 'retryOn']));
    expect(Object.keys(create?.responses ?? {})).toEqual(expect.arrayContaining(['202', '200', '400']));
    for (const path of ['/v1/batches/{id}', '/v1/batches/{id}/pause', '/v1/batches/{id}/resume', '/v1/batches/{id}/cancel']) {
      const route = Object.values(doc.paths[path] ?? {})[0];
      expect(route?.tags, path).toEqual(['batches']);
    }
  });
});
