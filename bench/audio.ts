/**
 * npm run bench -- audio
 * BENCH_FILES (default 1000) ten-second GSM files → 8 kHz WAV and → MP3 through the `audio` queue
 * (a real redis-server, AudioQueue + AudioWorker in this process, every result measured from its
 * own frames or headers, or with sox --i, and checksummed; sox started from the converter's
 * launcher process), two ways: as batch jobs (how many files are meant to be queued:
 * `switchboard convert --batch`, a `batch` request) and as one job per file. Against the same sox
 * commands run directly in a plain loop in the same run with the same parallelism
 * (SB_AUDIO_CONCURRENCY, default: the CPU cores), in BENCH_ROUNDS (default 4) interleaved rounds.
 * The JSON figures are the batch jobs'; the table shows both.
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
import { soxLauncher } from '../core/audio/sox.ts';
import { silentLogger } from '../core/log.ts';
import { startRedisServer } from '../test/support/redis-server.ts';
import { printTable } from './report.ts';

const FILES = Number(process.env.BENCH_FILES ?? 1000);
const SECONDS = 10;
const PARALLEL = Number(process.env.SB_AUDIO_CONCURRENCY || availableParallelism());
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const run = promisify(execFile);

/**
 * CPU milliseconds so far: this process, sox (the bare loop's children here, or the launcher's:
 * Switchboard starts sox from its launcher process), the launcher itself, and redis-server.
 */
function cpu(redisPid?: number): { node: number; sox: number; launcher: number; redis: number } {
  const fields = (p: string): number[] => (readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1] as string).split(' ').map(Number);
  const tick = 10; // USER_HZ is 100 on Linux
  const self = fields('self');
  const usage = process.cpuUsage();
  const launcherPid = soxLauncher().pid;
  const launcher = launcherPid !== undefined ? fields(String(launcherPid)) : undefined;
  const redis = redisPid !== undefined ? fields(String(redisPid)) : undefined;
  // Fields after the name: [11] utime, [12] stime, [13] cutime, [14] cstime (children waited for).
  return {
    node: (usage.user + usage.system) / 1000,
    sox: ((self[13] as number) + (self[14] as number) + (launcher ? (launcher[13] as number) + (launcher[14] as number) : 0)) * tick,
    launcher: launcher ? ((launcher[11] as number) + (launcher[12] as number)) * tick : 0,
    redis: redis ? ((redis[11] as number) + (redis[12] as number)) * tick : 0,
  };
}

interface Run {
  seconds: number;
  /** CPU ms used: Node, the launcher process, sox (and sox --i), redis-server. */
  cpu: { node: number; launcher: number; sox: number; redis: number };
}

async function timed(work: () => Promise<void>, redisPid?: number): Promise<Run> {
  const c0 = cpu(redisPid);
  const t0 = performance.now();
  await work();
  const seconds = (performance.now() - t0) / 1000;
  const c1 = cpu(redisPid);
  const used = (k: keyof typeof c0): number => c1[k] - c0[k];
  return { seconds, cpu: { node: used('node'), launcher: used('launcher'), sox: used('sox'), redis: used('redis') } };
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
async function bare(ext: 'wav' | 'mp3', files: readonly string[]): Promise<Run> {
  const out = join(dir, `bare-${ext}`);
  mkdirSync(out, { recursive: true });
  const args = (name: string): string[] => [join(inputs, name), ...(ext === 'wav' ? ['-r', '8000', '-b', '16'] : []), join(out, name.replace(/\.gsm$/, `.${ext}`))];
  let next = 0;
  return timed(async () => {
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        while (next < files.length) await run('sox', args(files[next++] as string));
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
async function switchboard(ext: 'wav' | 'mp3', files: readonly string[]): Promise<Run> {
  const before = await counter.getJobCounts('completed', 'failed');
  let failed = 0;
  const r = await timed(async () => {
    await Promise.all(files.map((name) => queue.add({ input: `in/${name}`, output: `sb-${ext}/${name.replace(/\.gsm$/, `.${ext}`)}`, ...(ext === 'wav' ? { rate: 8000, bits: 16 } : {}) })));
    for (;;) {
      const c = await counter.getJobCounts('completed', 'failed');
      failed = (c.failed ?? 0) - (before.failed ?? 0);
      if ((c.completed ?? 0) - (before.completed ?? 0) + failed >= files.length) break;
      await sleep(20);
    }
  }, redis.process.pid);
  if (failed > 0) throw new Error(`${failed} jobs failed`);
  return r;
}

/** The same files as one batch job (`switchboard convert --batch … --to <ext>`), converted by the worker. */
async function batchJob(ext: 'wav' | 'mp3', files: readonly string[]): Promise<Run> {
  let state: string | undefined;
  const r = await timed(async () => {
    const { jobId } = await queue.add({ batch: { files: files.map((name) => `in/${name}`) }, to: ext, outDir: `sbb-${ext}`, ...(ext === 'wav' ? { rate: 8000, bits: 16 } : {}) });
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

// ROUNDS rounds, each over its share of the files, the three ways taking turns to go first:
// a machine that gets slower or faster during the run then weighs on all three alike.
type Way = 'bare' | 'sb' | 'batch';
const ways: Record<Way, (ext: 'wav' | 'mp3', files: readonly string[]) => Promise<Run>> = { bare, sb: switchboard, batch: batchJob };
const zero = (): Run => ({ seconds: 0, cpu: { node: 0, launcher: 0, sox: 0, redis: 0 } });
const results: Record<'wav' | 'mp3', Record<Way, Run>> = { wav: { bare: zero(), sb: zero(), batch: zero() }, mp3: { bare: zero(), sb: zero(), batch: zero() } };
for (let round = 0; round < ROUNDS; round++) {
  const share = names.filter((_, i) => i % ROUNDS === round);
  const order = (['bare', 'sb', 'batch'] as const).map((_, i, all) => all[(i + round) % all.length] as Way);
  for (const ext of ['wav', 'mp3'] as const) {
    for (const way of order) {
      const r = await ways[way](ext, share);
      const total = results[ext][way];
      total.seconds += r.seconds;
      for (const k of ['node', 'launcher', 'sox', 'redis'] as const) total.cpu[k] += r.cpu[k];
    }
  }
}

await counter.close();
await worker.close();
await queue.close();
await redis.stop();
rmSync(dir, { recursive: true, force: true });

const fps = (r: Run): number => FILES / r.seconds;
const fmt = (n: number): string => n.toFixed(1);
const per = (ms: number): string => (ms / FILES).toFixed(2);
const cpuText = (r: Run): string => `CPU/file: node ${per(r.cpu.node)}${r.cpu.launcher > 0 ? ` + launcher ${per(r.cpu.launcher)}` : ''} + sox ${per(r.cpu.sox)}${r.cpu.redis > 0 ? ` + redis ${per(r.cpu.redis)}` : ''} ms`;
const rows: Array<[string, string]> = [];
for (const [ext, r] of Object.entries(results)) {
  const label = ext === 'wav' ? '8 kHz WAV' : 'MP3';
  rows.push([`→ ${label}: bare sox loop`, `${fmt(fps(r.bare))} files/s  ${fmt(fps(r.bare) * SECONDS)} audio-s/s  (${r.bare.seconds.toFixed(2)} s)  ${cpuText(r.bare)}`]);
  rows.push([`→ ${label}: queue, batch jobs`, `${fmt(fps(r.batch))} files/s  ${fmt(fps(r.batch) * SECONDS)} audio-s/s  (${r.batch.seconds.toFixed(2)} s)  ${cpuText(r.batch)}  overhead ×${(fps(r.bare) / fps(r.batch)).toFixed(3)}`]);
  rows.push([`→ ${label}: queue, one job per file`, `${fmt(fps(r.sb))} files/s  ${fmt(fps(r.sb) * SECONDS)} audio-s/s  (${r.sb.seconds.toFixed(2)} s)  ${cpuText(r.sb)}  overhead ×${(fps(r.bare) / fps(r.sb)).toFixed(3)}`]);
}
const total = (way: Way): number => results.wav[way].seconds + results.mp3[way].seconds;
const bareFilesPerS = (2 * FILES) / total('bare');
const jobFilesPerS = (2 * FILES) / total('sb');
const batchFilesPerS = (2 * FILES) / total('batch');
rows.push(['both targets, batch jobs', `Switchboard ${fmt(batchFilesPerS)} files/s, bare ${fmt(bareFilesPerS)} files/s, overhead ratio ${(bareFilesPerS / batchFilesPerS).toFixed(3)}`]);
rows.push(['both targets, one job per file', `Switchboard ${fmt(jobFilesPerS)} files/s, bare ${fmt(bareFilesPerS)} files/s, overhead ratio ${(bareFilesPerS / jobFilesPerS).toFixed(3)}`]);
printTable(`Audio: ${FILES} × ${SECONDS} s GSM, ${PARALLEL} sox at a time (${availableParallelism()} cores), ${ROUNDS} rounds`, rows);
console.log(JSON.stringify({ bench: 'audio', files: FILES, files_per_s: Math.round(batchFilesPerS * 10) / 10, bare_files_per_s: Math.round(bareFilesPerS * 10) / 10, overhead_ratio: Math.round((bareFilesPerS / batchFilesPerS) * 1000) / 1000, one_job_per_file: { files_per_s: Math.round(jobFilesPerS * 10) / 10, overhead_ratio: Math.round((bareFilesPerS / jobFilesPerS) * 1000) / 1000 } }));
