// POST /v1/audio/convert and GET /v1/audio/jobs/:id on the real service (its own audio worker,
// real redis-server, real sox), errors with their codes and JSON pointers, and the OpenAPI entry.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256, synth } from '../../test/support/audio-files.ts';
import { startApiRig, type ApiRig } from '../../test/support/api-rig.ts';

let rig: ApiRig;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sb-audio-api-'));
  rig = await startApiRig({ prefix: 'audioapi', env: { SB_AUDIO_ROOTS: dir } });
}, 30_000);

afterAll(async () => {
  await rig?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Job {
  jobId: string;
  state: string;
  kind: string;
  result?: Record<string, unknown>;
  summary?: Record<string, number>;
  items?: Array<Record<string, unknown>>;
  error?: { code: string; message: string };
}

const job = async (id: string, query = ''): Promise<Job> => (await (await rig.get(`/v1/audio/jobs/${id}${query}`)).json()) as Job;
const settled = async (id: string): Promise<Job> => {
  await expect.poll(async () => (await job(id)).state, { timeout: 15_000 }).toMatch(/^(completed|failed)$/);
  return job(id);
};

describe('REST: audio', () => {
  it('POST a conversion: 202 with the job id; GET it: completed, the result measured on the written file', async () => {
    synth(join(dir, 'greeting.wav'), { rate: 44100, channels: 2 });
    const r = await rig.post('/v1/audio/convert', { input: 'greeting.wav', output: 'prompts/greeting-8k.wav', rate: 8000, channels: 1 });
    expect(r.status).toBe(202);
    const body = (await r.json()) as { jobId: string; kind: string; state: string };
    expect(body).toMatchObject({ kind: 'convert', state: 'queued', jobId: expect.stringMatching(/^a-/) as unknown });
    const done = await settled(body.jobId);
    expect(done).toMatchObject({ state: 'completed', kind: 'convert', result: { rate: 8000, channels: 1, duration: 1, samples: 8000, bytes: 16044, output: join(dir, 'prompts/greeting-8k.wav') } });
    expect(done.result?.sha256).toBe(sha256(join(dir, 'prompts/greeting-8k.wav')));
  });

  it('POST a batch: 202; the job lists each file\'s outcome', async () => {
    for (const n of [1, 2]) synth(join(dir, `vm-${n}.gsm`));
    const r = await rig.post('/v1/audio/convert', { batch: { dir: '.', glob: 'vm-*.gsm' }, to: 'mp3', outDir: 'mp3' });
    expect(r.status).toBe(202);
    const { jobId } = (await r.json()) as { jobId: string };
    const done = await settled(jobId);
    expect(done).toMatchObject({ state: 'completed', kind: 'batch', summary: { total: 2, converted: 2, failed: 0, skipped: 0 } });
    expect(done.items?.map((i) => i.ok)).toEqual([true, true]);
  });

  it('POST to Opus and back: opusenc and opusdec on the worker, the figures measured on each written file', async () => {
    synth(join(dir, 'hello.wav'), { rate: 44100, channels: 2 });
    const post = async (body: Record<string, unknown>): Promise<Job> => settled(((await (await rig.post('/v1/audio/convert', body)).json()) as { jobId: string }).jobId);
    const opus = await post({ input: 'hello.wav', output: 'opus/hello.opus', rate: 16000, channels: 1 });
    expect(opus).toMatchObject({ state: 'completed', result: { format: 'opus', rate: 16000, channels: 1, duration: 1, samples: 16000, encoding: 'Opus' } });
    expect(opus.result?.sha256).toBe(sha256(join(dir, 'opus/hello.opus')));
    const back = await post({ input: 'opus/hello.opus', output: 'opus/hello.wav' });
    expect(back).toMatchObject({ state: 'completed', result: { format: 'wav', rate: 16000, channels: 1, duration: 1 } });
  });

  it('a text file named .opus fails its job with SB_AUDIO_NOT_AUDIO', async () => {
    writeFileSync(join(dir, 'notes.opus'), 'just text\n');
    const { jobId } = (await (await rig.post('/v1/audio/convert', { input: 'notes.opus', output: 'notes.wav' })).json()) as { jobId: string };
    expect(await settled(jobId)).toMatchObject({ state: 'failed', error: { code: 'SB_AUDIO_NOT_AUDIO' } });
  });

  it('a failed job keeps its reason: the code and the message', async () => {
    writeFileSync(join(dir, 'notes.wav'), 'just text\n');
    const { jobId } = (await (await rig.post('/v1/audio/convert', { input: 'notes.wav', output: 'notes.mp3' })).json()) as { jobId: string };
    const done = await settled(jobId);
    expect(done).toMatchObject({ state: 'failed', error: { code: 'SB_AUDIO_NOT_AUDIO' } });
    expect(done.error?.message).toContain('RIFF header not found');
  });

  it.each([
    ['../../etc/passwd', { input: '../../etc/passwd.wav', output: 'x.mp3' }, 403, 'SB_AUDIO_OUTSIDE_ROOTS', '/input'],
    ['an absolute path elsewhere', { input: 'greeting.wav', output: '/tmp/elsewhere.mp3' }, 403, 'SB_AUDIO_OUTSIDE_ROOTS', '/output'],
    ['an unknown option', { input: 'greeting.wav', output: 'x.mp3', speed: 2 }, 400, 'SB_AUDIO_BAD_OPTION', '/speed'],
    ['a wrong type', { input: 'greeting.wav', output: 'x.wav', rate: '8000' }, 400, 'SB_AUDIO_BAD_OPTION', '/rate'],
    ['an unknown format', { input: 'greeting.wma', output: 'x.mp3' }, 400, 'SB_AUDIO_UNKNOWN_FORMAT', '/input'],
    ['bits for Opus', { input: 'greeting.wav', output: 'x.opus', bits: 16 }, 400, 'SB_AUDIO_BAD_OPTION', '/bits'],
    ['neither shape', { files: ['a.wav'] }, 400, 'SB_AUDIO_BAD_OPTION', '/input'],
    ['an empty body', undefined, 400, 'SB_AUDIO_BAD_OPTION', '/input'],
  ])('POST %s → %s %s with the JSON pointer', async (_label, body, status, code, pointer) => {
    const r = await rig.post('/v1/audio/convert', body);
    expect(r.status).toBe(status);
    expect(await r.json()).toMatchObject({ code, pointer });
  });

  it('GET an unknown job: 404 SB_AUDIO_JOB_NOT_FOUND; a malformed id: 400 with the path parameter', async () => {
    const r = await rig.get('/v1/audio/jobs/a-00000000-0000-0000-0000-000000000000');
    expect(r.status).toBe(404);
    expect(await r.json()).toMatchObject({ code: 'SB_AUDIO_JOB_NOT_FOUND' });
    const bad = await rig.get('/v1/audio/jobs/not%20an%20id');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ pointer: '/id', in: 'path' });
  });

  it('needs the API key', async () => {
    expect((await rig.post('/v1/audio/convert', { input: 'a.wav', output: 'b.mp3' }, { 'content-type': 'application/json' })).status).toBe(401);
    expect((await fetch(`${rig.base}/v1/audio/jobs/x`)).status).toBe(401);
  });

  it('is in the OpenAPI document, tagged audio, with its schemas', async () => {
    const doc = (await (await fetch(`${rig.base}/docs/json`)).json()) as { paths: Record<string, Record<string, { tags: string[]; requestBody?: unknown; responses: Record<string, unknown> }>> };
    expect(doc.paths['/v1/audio/convert']?.post?.tags).toEqual(['audio']);
    expect(doc.paths['/v1/audio/convert']?.post?.requestBody).toBeDefined();
    expect(Object.keys(doc.paths['/v1/audio/jobs/{id}']?.get?.responses ?? {})).toEqual(expect.arrayContaining(['200', '4XX']));
  });
});

describe('REST: audio without Redis', () => {
  it('503 SB_AUDIO_UNAVAILABLE: queued conversions need Redis', async () => {
    const bare = await startApiRig({ redis: false, env: { SB_AUDIO_ROOTS: dir } });
    try {
      const r = await bare.post('/v1/audio/convert', { input: 'greeting.wav', output: 'y.mp3' });
      expect(r.status).toBe(503);
      expect(await r.json()).toMatchObject({ code: 'SB_AUDIO_UNAVAILABLE' });
    } finally {
      await bare.close();
    }
  });

  it('the service refuses to start its audio worker without sox, naming the packages', async () => {
    await expect(startApiRig({ prefix: 'nosox', env: { SB_AUDIO_ROOTS: dir, SB_AUDIO_SOX: join(dir, 'no-sox') } })).rejects.toMatchObject({
      code: 'SB_AUDIO_CONVERTER_MISSING',
      message: expect.stringContaining('apt-get install sox libsox-fmt-all') as unknown,
    });
  });
});
