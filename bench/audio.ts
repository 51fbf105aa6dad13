/**
 * npm run bench -- audio
 * BENCH_FILES (default 1000) ten-second GSM files → 8 kHz WAV and → MP3, through the `audio`
 * queue (a real redis-server, AudioQueue + AudioWorker in this process, every result measured
 * with sox --i and checksummed), against the same sox commands run directly in a plain loop in
 * the same run with the same parallelism (SB_AUDIO_CONCURRENCY, default: the CPU cores); also the
 * whole folder as one batch job. The JSON figures are the one-job-per-file path.
 * Throughput in files/s and audio-seconds per wall-second; overhead ratio = bare ÷ Switchboard.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { AudioConverter, AudioQueue, AudioWorker } from '../core/audio/index.ts';
import { silentLogger } from '../core/log.ts';
import { startRedisServer } from '../test/support/redis-server.ts';
import { printTable } from './report.ts';

const FILES = Number(process.env.BENCH_FILES ?? 1000);
const SECONDS = 10;
const PARALLEL = Number(process.env.SB_AUDIO_CONCURRENCY || availableParallelism());
const run = promisify(execFile);

/** CPU milliseconds so far: this process, its finished children (sox), and another process (redis-server). */
function cpu(pid?: number): { node: number; children: number; other: number } {
  const fields = (p: string): string[] => (readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1] as string).split(' ');
  const self = fields('self');
  const tick = 10; // USER_HZ is 100 on Linux
  const usage = process.cpuUsage();
  const other = pid !== undefined ? fields(String(pid)) : undefined;
  return {
    node: (usage.user + usage.system) / 1000,
    children: (Number(self[13]) + Number(self[14])) * tick,
    other: other ? (Number(other[11]) + Number(other[12])) * tick : 0,
  };
}

interface Run {
  seconds: number;
  /** CPU ms per file: Node, sox (and sox --i), redis-server. */
  cpu: { node: number; sox: number; redis: number };
}

async function timed(work: () => Promise<void>, redisPid?: number): Promise<Run> {
  const c0 = cpu(redisPid);
  const t0 = performance.now();
  await work();
  const seconds = (performance.now() - t0) / 1000;
  const c1 = cpu(redisPid);
  return { seconds, cpu: { node: (c1.node - c0.node) / FILES, sox: (c1.children - c0.children) / FILES, redis: (c1.other - c0.other) / FILES } };
}

const dir = mkdtempSync(join(tmpdir(), 'sb-bench-audio-'));
const inputs = join(dir, 'in');
mkdirSync(inputs);

// FILES ten-second GSM inputs, each made by sox: speech-band sweeps and pink noise, all different.
{
  let i = 0;
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (i < FILES) {
        const n = i++;
        const sound = n % 2 === 0 ? ['sine', `${200 + (n % 97)}-${3000 - (n % 89)}`] : ['pinknoise', 'gain', '-12'];
        await run('sox', ['-n', '-r', '8000', '-c', '1', join(inputs, `vm-${String(n).padStart(5, '0')}.gsm`), 'synth', String(SECONDS), ...sound]);
      }
    }),
  );
}
const names = readdirSync(inputs).sort();

/** The plain loop: PARALLEL lanes, each running sox on the next file. */
async function bare(ext: 'wav' | 'mp3'): Promise<Run> {
  const out = join(dir, `bare-${ext}`);
  mkdirSync(out);
  const args = (name: string): string[] => [join(inputs, name), ...(ext === 'wav' ? ['-r', '8000', '-b', '16'] : []), join(out, name.replace(/\.gsm$/, `.${ext}`))];
  let next = 0;
  return timed(async () => {
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        while (next < names.length) await run('sox', args(names[next++] as string));
      }),
    );
  });
}

const redis = await startRedisServer();
const converter = new AudioConverter({ roots: [dir], concurrency: PARALLEL, logger: silentLogger });
const queue = new AudioQueue({ connection: redis.url, prefix: 'bench', logger: silentLogger, paths: converter.paths });
const worker = new AudioWorker({ connection: redis.url, prefix: 'bench', converter, logger: silentLogger });
await worker.start();
// Finished jobs are counted from Redis every 20 ms (one command), lighter than following every job's events.
const counter = new Queue('audio', { connection: { url: redis.url }, prefix: 'bench' });

/** The same files through the queue: every job added, then until the last one has completed. */
async function switchboard(ext: 'wav' | 'mp3'): Promise<Run> {
  const before = await counter.getJobCounts('completed', 'failed');
  let failed = 0;
  const r = await timed(async () => {
    await Promise.all(names.map((name) => queue.add({ input: `in/${name}`, output: `sb-${ext}/${name.replace(/\.gsm$/, `.${ext}`)}`, ...(ext === 'wav' ? { rate: 8000, bits: 16 } : {}) })));
    for (;;) {
      const c = await counter.getJobCounts('completed', 'failed');
      failed = (c.failed ?? 0) - (before.failed ?? 0);
      if ((c.completed ?? 0) - (before.completed ?? 0) + failed >= names.length) break;
      await sleep(20);
    }
  }, redis.process.pid);
  if (failed > 0) throw new Error(`${failed} jobs failed`);
  return r;
}

/** The same files as one batch job (`switchboard convert --batch in --to <ext>`): the folder, converted by the worker. */
async function batchJob(ext: 'wav' | 'mp3'): Promise<Run> {
  let state: string | undefined;
  const r = await timed(async () => {
    const { jobId } = await queue.add({ batch: { dir: 'in', glob: '*.gsm' }, to: ext, outDir: `sbb-${ext}`, ...(ext === 'wav' ? { rate: 8000, bits: 16 } : {}) });
    for (;;) {
      state = (await queue.get(jobId, { items: 'none' }))?.state;
      if (state === 'completed' || state === 'failed') break;
      await sleep(20);
    }
  }, redis.process.pid);
  if (state !== 'completed') throw new Error(`the batch job ${state}`);
  return r;
}

// A short warm-up of both paths (page cache, sox's libraries, the worker's connections and code).
const warm = names.slice(0, Math.min(20, names.length));
await Promise.all(warm.map((name) => run('sox', [join(inputs, name), '-n'])));
await Promise.all(warm.flatMap((name) => ['wav', 'mp3'].map((ext) => converter.convert({ input: `in/${name}`, output: `warm/${name}.${ext}` }))));

const results: Record<string, { bare: Run; sb: Run; batch: Run }> = {};
for (const ext of ['wav', 'mp3'] as const) {
  const b = await bare(ext);
  const s = await switchboard(ext);
  const bj = await batchJob(ext);
  results[ext] = { bare: b, sb: s, batch: bj };
}

await counter.close();
await worker.close();
await queue.close();
await redis.stop();
rmSync(dir, { recursive: true, force: true });

const fps = (r: Run): number => FILES / r.seconds;
const fmt = (n: number): string => n.toFixed(1);
const cpuText = (r: Run): string => `CPU/file: node ${r.cpu.node.toFixed(2)} + sox ${r.cpu.sox.toFixed(2)}${r.cpu.redis > 0 ? ` + redis ${r.cpu.redis.toFixed(2)}` : ''} ms`;
const rows: Array<[string, string]> = [];
for (const [ext, r] of Object.entries(results)) {
  const label = ext === 'wav' ? '8 kHz WAV' : 'MP3';
  rows.push([`→ ${label}: bare sox loop`, `${fmt(fps(r.bare))} files/s  ${fmt(fps(r.bare) * SECONDS)} audio-s/s  (${r.bare.seconds.toFixed(2)} s)  ${cpuText(r.bare)}`]);
  rows.push([`→ ${label}: queue, one job per file`, `${fmt(fps(r.sb))} files/s  ${fmt(fps(r.sb) * SECONDS)} audio-s/s  (${r.sb.seconds.toFixed(2)} s)  ${cpuText(r.sb)}  overhead ×${(fps(r.bare) / fps(r.sb)).toFixed(3)}`]);
  rows.push([`→ ${label}: queue, one batch job`, `${fmt(fps(r.batch))} files/s  ${fmt(fps(r.batch) * SECONDS)} audio-s/s  (${r.batch.seconds.toFixed(2)} s)  ${cpuText(r.batch)}  overhead ×${(fps(r.bare) / fps(r.batch)).toFixed(3)}`]);
}
const bareTotal = Object.values(results).reduce((t, r) => t + r.bare.seconds, 0);
const sbTotal = Object.values(results).reduce((t, r) => t + r.sb.seconds, 0);
const filesPerS = (2 * FILES) / sbTotal;
const bareFilesPerS = (2 * FILES) / bareTotal;
const batchFilesPerS = (2 * FILES) / Object.values(results).reduce((t, r) => t + r.batch.seconds, 0);
rows.push(['both targets, one job per file', `Switchboard ${fmt(filesPerS)} files/s, bare ${fmt(bareFilesPerS)} files/s, overhead ratio ${(bareFilesPerS / filesPerS).toFixed(3)}`]);
rows.push(['both targets, batch jobs', `Switchboard ${fmt(batchFilesPerS)} files/s, bare ${fmt(bareFilesPerS)} files/s, overhead ratio ${(bareFilesPerS / batchFilesPerS).toFixed(3)}`]);
printTable(`Audio: ${FILES} × ${SECONDS} s GSM, ${PARALLEL} sox at a time (${availableParallelism()} cores)`, rows);
console.log(JSON.stringify({ bench: 'audio', files: FILES, files_per_s: Math.round(filesPerS * 10) / 10, bare_files_per_s: Math.round(bareFilesPerS * 10) / 10, overhead_ratio: Math.round((bareFilesPerS / filesPerS) * 1000) / 1000 }));
