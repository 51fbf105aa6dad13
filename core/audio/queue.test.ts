// The `audio` queue on a real redis-server: single and batch jobs, results and per-file outcomes
// on the job, retries for transient failures only, refusals before queueing, and the worker as a
// process of its own (`switchboard worker --queues audio`).
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256, soxi, synth } from '../../test/support/audio-files.ts';
import { startRedisServer, type RedisServer } from '../../test/support/redis-server.ts';
import { PROJECT_ROOT } from '../config.ts';
import { silentLogger } from '../log.ts';
import { Metrics } from '../metrics.ts';
import { AudioConverter } from './converter.ts';
import { AudioQueue } from './queue.ts';
import { AudioWorker } from './worker.ts';

let redis: RedisServer;
let dir: string;
let queue: AudioQueue;
let worker: AudioWorker;
const metrics = new Metrics({ defaults: false });

beforeAll(async () => {
  redis = await startRedisServer();
  dir = mkdtempSync(join(tmpdir(), 'sb-audioq-'));
  const converter = new AudioConverter({ roots: [dir], concurrency: 2, logger: silentLogger });
  queue = new AudioQueue({ connection: redis.url, prefix: 'aq', logger: silentLogger, paths: converter.paths, attempts: 3, backoffMs: 10 });
  worker = new AudioWorker({ connection: redis.url, prefix: 'aq', converter, logger: silentLogger, metrics, attempts: 2, backoffMs: 10 });
  await worker.start();
});

afterAll(async () => {
  await worker?.close();
  await queue?.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const finished = async (jobId: string): Promise<void> => {
  await expect.poll(async () => (await queue.get(jobId))?.state, { timeout: 15_000 }).toMatch(/^(completed|failed)$/);
};

describe('audio jobs', () => {
  it('a single job: queued, converted by a worker, the measured result kept on the job', async () => {
    synth(join(dir, 'vm.gsm'), { seconds: 2 });
    const { jobId, kind } = await queue.add({ input: 'vm.gsm', output: 'vm.mp3', normalise: true });
    expect(kind).toBe('convert');
    expect(jobId).toMatch(/^a-[0-9a-f-]{36}$/);
    await finished(jobId);
    const job = await queue.get(jobId);
    expect(job).toMatchObject({ kind: 'convert', state: 'completed', attempts: 1, maxAttempts: 3, progress: { done: 1, total: 1, failed: 0 }, request: { input: 'vm.gsm', output: 'vm.mp3' } });
    expect(job?.result).toMatchObject({ status: 'converted', output: join(dir, 'vm.mp3'), rate: 8000, channels: 1, sha256: sha256(join(dir, 'vm.mp3')) });
    expect(job?.result?.duration).toBeGreaterThanOrEqual(2);
    expect(job?.finishedAt).toBeDefined();
    expect(await metrics.registry.getSingleMetricAsString('switchboard_queue_depth')).toContain('queue="audio"');
  });

  it('a batch over a folder with a glob: every file\'s outcome on the job; a bad file fails alone; sub-folders kept under outDir', async () => {
    const src = join(dir, 'batch');
    mkdirSync(join(src, 'sub'), { recursive: true });
    for (const f of ['a.gsm', 'b.gsm', 'sub/c.gsm']) synth(join(src, f));
    writeFileSync(join(src, 'bad.gsm'), 'oops!');
    synth(join(src, 'not-matched.wav'));
    const { jobId, kind } = await queue.add({ batch: { dir: 'batch', glob: '**/*.gsm' }, to: 'wav', outDir: 'batch-out', rate: 16000 });
    expect(kind).toBe('batch');
    await finished(jobId);
    const job = await queue.get(jobId);
    expect(job).toMatchObject({ state: 'completed', summary: { total: 4, converted: 3, skipped: 0, failed: 1 }, progress: { done: 4, total: 4, failed: 1 } });
    expect(job?.items?.map((i) => [i.input, i.ok])).toEqual([
      ['batch/a.gsm', true],
      ['batch/b.gsm', true],
      ['batch/bad.gsm', false],
      ['batch/sub/c.gsm', true],
    ]);
    const bad = job?.items?.find((i) => !i.ok);
    expect(bad && !bad.ok ? bad.error.code : undefined).toBe('SB_AUDIO_TRUNCATED');
    expect(Number(soxi(join(dir, 'batch-out/sub/c.wav'), '-r'))).toBe(16000);
    expect(readdirSync(join(dir, 'batch-out')).sort()).toEqual(['a.wav', 'b.wav', 'sub']);
    expect((await queue.get(jobId, { items: 'failed' }))?.items?.map((i) => i.input)).toEqual(['batch/bad.gsm']);
    expect((await queue.get(jobId, { items: 'none' }))?.items).toBeUndefined();
  });

  it('a batch of listed files, keeping the outputs that exist (skip)', async () => {
    synth(join(dir, 'l1.wav'));
    synth(join(dir, 'l2.wav'));
    synth(join(dir, 'l1.ul'));
    const before = sha256(join(dir, 'l1.ul'));
    const { jobId } = await queue.add({ batch: { files: ['l1.wav', 'l2.wav'] }, to: 'ul', onExists: 'skip' });
    await finished(jobId);
    expect((await queue.get(jobId))?.summary).toEqual({ total: 2, converted: 1, skipped: 1, failed: 0 });
    expect(sha256(join(dir, 'l1.ul'))).toBe(before);
  });

  it('a bad input fails at once (no retry) with its code; the input stays as it was', async () => {
    writeFileSync(join(dir, 'text.wav'), 'not audio at all\n'.repeat(10));
    const before = sha256(join(dir, 'text.wav'));
    const { jobId } = await queue.add({ input: 'text.wav', output: 'text.mp3' });
    await finished(jobId);
    const job = await queue.get(jobId);
    expect(job).toMatchObject({ state: 'failed', attempts: 1, error: { code: 'SB_AUDIO_NOT_AUDIO' } });
    expect(sha256(join(dir, 'text.wav'))).toBe(before);
    expect(existsSync(join(dir, 'text.mp3'))).toBe(false);
  });

  it('a batch folder that is not there fails the job (SB_AUDIO_NOT_FOUND)', async () => {
    const { jobId } = await queue.add({ batch: { dir: 'no-such-folder' }, to: 'wav' });
    await finished(jobId);
    expect(await queue.get(jobId)).toMatchObject({ state: 'failed', attempts: 1, error: { code: 'SB_AUDIO_NOT_FOUND' } });
  });

  it.each([
    ['a path outside the audio roots', { input: '../../etc/passwd.wav', output: 'x.mp3' }, 'SB_AUDIO_OUTSIDE_ROOTS', '/input'],
    ['a batch folder outside', { batch: { dir: '/etc' }, to: 'wav' }, 'SB_AUDIO_OUTSIDE_ROOTS', '/batch/dir'],
    ['an unknown option', { input: 'a.wav', output: 'b.mp3', colour: 'red' }, 'SB_AUDIO_BAD_OPTION', '/colour'],
    ['an unknown format', { input: 'a.wma', output: 'b.mp3' }, 'SB_AUDIO_UNKNOWN_FORMAT', '/input'],
    ['a batch with both dir and files', { batch: { dir: 'x', files: ['a.wav'] }, to: 'wav' }, 'SB_AUDIO_BAD_OPTION', '/batch'],
  ])('refused before anything is queued: %s → %s', async (_label, request, code, pointer) => {
    const waiting = await queue.depth();
    await expect(queue.add(request)).rejects.toMatchObject({ code, context: { pointer } });
    expect(await queue.depth()).toBe(waiting);
  });

  it('an unknown job is undefined', async () => {
    expect(await queue.get('a-00000000-0000-0000-0000-000000000000')).toBeUndefined();
    expect(await queue.get('../bad id')).toBeUndefined();
  });

  it('Redis unreachable: SB_AUDIO_UNAVAILABLE, nothing queued later', async () => {
    const closed = new AudioQueue({ connection: 'redis://127.0.0.1:1', prefix: 'aq', logger: silentLogger, paths: (worker as unknown as { options: { converter: AudioConverter } }).options.converter.paths, connectTimeoutMs: 200 });
    await expect(closed.add({ input: 'vm.gsm', output: 'never.wav' })).rejects.toMatchObject({ code: 'SB_AUDIO_UNAVAILABLE' });
    await closed.close();
  });
});

const canMount = process.getuid?.() === 0 && spawnSync('mount', ['--version']).status === 0;

describe.runIf(canMount)('a full disk (a 64 KiB tmpfs)', () => {
  let full: string;
  beforeAll(() => {
    full = join(dir, 'full');
    mkdirSync(full);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', full]);
  });
  afterAll(() => void spawnSync('umount', [full]));

  it('is transient: retried, then the job fails with its cause; no partial output, the input intact', async () => {
    const big = synth(join(dir, 'big.wav'), { rate: 44100, channels: 2, seconds: 3 });
    const before = sha256(big);
    const { jobId } = await queue.add({ input: 'big.wav', output: 'full/big.wav', bits: 32 });
    await finished(jobId);
    const job = await queue.get(jobId);
    expect(job).toMatchObject({ state: 'failed', attempts: 3, error: { code: 'SB_AUDIO_WRITE_FAILED' } });
    expect(job?.error?.message).toContain('ENOSPC');
    expect(readdirSync(full)).toEqual([]);
    expect(sha256(big)).toBe(before);
  });
});

describe('switchboard worker --queues audio: a worker process of its own, where the files are', () => {
  const BIN = join(PROJECT_ROOT, 'bin/switchboard.js');

  it('converts queued jobs, and stops on SIGTERM', async () => {
    const env = { ...process.env, REDIS_URL: redis.url, SB_QUEUE_PREFIX: 'aqp', SB_AUDIO_ROOTS: dir, SB_LOG_LEVEL: 'info' };
    const child = spawn(process.execPath, [BIN, 'worker', '--queues', 'audio'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const running = new Promise<void>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (out.includes('switchboard audio worker is running')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`worker exited ${code}: ${out}`)));
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await running;
      const remote = new AudioQueue({ connection: redis.url, prefix: 'aqp', logger: silentLogger, paths: (worker as unknown as { options: { converter: AudioConverter } }).options.converter.paths });
      synth(join(dir, 'remote.r16'), { rate: 16000, format: ['-t', 'raw', '-e', 'signed-integer', '-b', '16'] });
      const { jobId } = await remote.add({ input: 'remote.r16', output: 'remote.wav', rate: 8000 });
      await expect.poll(async () => (await remote.get(jobId))?.state, { timeout: 15_000 }).toBe('completed');
      expect((await remote.get(jobId))?.result).toMatchObject({ rate: 8000, channels: 1, samples: 8000 });
      await remote.close();
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });

  it('without sox it refuses to start, naming the Debian packages', async () => {
    const r = await promisify(execFile)(process.execPath, [BIN, 'worker', '--queues', 'audio'], { env: { ...process.env, REDIS_URL: redis.url, SB_AUDIO_SOX: join(dir, 'no-sox-here') } }).then(
      () => ({ code: 0, stdout: '' }),
      (e: { code: number; stdout: string }) => e,
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('SB_AUDIO_CONVERTER_MISSING');
    expect(r.stdout).toContain('apt-get install sox libsox-fmt-all');
  });
});
