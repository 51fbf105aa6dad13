/**
 * npm run bench -- outbound
 * Outbound calls through BullMQ against a real redis-server and the FreeSWITCH simulator (real
 * time): CPS held over BENCH_SECONDS (default 30) at 10 and 50 by two worker processes sharing the
 * limit through Redis — achieved CPS, the largest number of originates in any 1 s window, and the most
 * calls up at once against the concurrency cap (also in a run where the cap, not the rate, is what
 * binds); a 10,000-row batch accepted over REST; REST `POST /v1/calls` throughput and latency; and 1,000
 * calls dialled by worker processes killed (SIGKILL) at random and restarted, counting numbers
 * dialled more than once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newApiKey } from '../core/api/api-keys.ts';
import { loadConfig } from '../core/config.ts';
import { EslServer } from '../core/esl/index.ts';
import { silentLogger } from '../core/log.ts';
import { CallQueue } from '../core/queue/index.ts';
import { Service } from '../core/service.ts';
import { FreeSwitchSim, type SimCommand } from '../test/support/freeswitch-sim/index.ts';
import { startRedisServer } from '../test/support/redis-server.ts';
import { percentile, printTable } from './report.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const KILL_CALLS = Number(process.env.BENCH_KILL_CALLS ?? 1000);
const REST_CALLS = Number(process.env.BENCH_REST_CALLS ?? 2000);
const round = (n: number, d = 2): number => Math.round(n * 10 ** d) / 10 ** d;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const redis = await startRedisServer();
const sim = await FreeSwitchSim.start({ timeScale: 1 });
// The service's outbound socket: each answered call stays until the far end hangs up.
const outbound = new EslServer({ host: '127.0.0.1', port: 0, logger: silentLogger, onCall: async (call) => void (await call.ended) });
const outPort = (await outbound.start()).port;
let prefixes = 0;

/** Originate times and the most calls up at once (originate → CHANNEL_HANGUP_COMPLETE, when the worker frees the slot), for the calls of one queue prefix. */
function watch(prefix: string): { originates: number[]; uuids: string[]; maxUp: () => number; stop: () => void } {
  const originates: number[] = [];
  const uuids: string[] = [];
  const mine = new Set<string>();
  let up = 0;
  let maxUp = 0;
  const onCommand = (c: SimCommand): void => {
    if (!c.line.startsWith('bgapi originate ') || !new RegExp(`[{,]sb_queue=${prefix}[,}]`).test(c.line)) return;
    originates.push(performance.now());
    const uuid = /origination_uuid=([0-9a-f-]{36})/.exec(c.line)?.[1];
    if (uuid) {
      uuids.push(uuid);
      mine.add(uuid);
      maxUp = Math.max(maxUp, ++up);
    }
  };
  const onEvent = (e: { name: string; headers: Record<string, string> }): void => {
    if (e.name === 'CHANNEL_HANGUP_COMPLETE' && mine.delete(e.headers['Unique-ID'] ?? '')) up--;
  };
  sim.on('command', onCommand);
  sim.on('event', onEvent);
  return { originates, uuids, maxUp: () => maxUp, stop: () => (sim.off('command', onCommand), sim.off('event', onEvent)) };
}

/** The most timestamps in any window of `ms`. */
function maxInWindow(times: number[], ms: number): number {
  let best = 0;
  for (let i = 0, j = 0; j < times.length; j++) {
    while ((times[j] as number) - (times[i] as number) >= ms) i++;
    best = Math.max(best, j - i + 1);
  }
  return best;
}

interface Paced {
  cps: number;
  maxBurst: number;
  maxUp: number;
  overCap: number;
}

/** Two worker processes share `cps`/`cap` through Redis; calls ring 200 ms and last `holdMs`. Measured over `seconds` from the first originate. */
async function paced(cps: number, cap: number, holdMs: number, seconds: number): Promise<Paced> {
  const prefix = `bench${process.pid}-${++prefixes}`;
  sim.onOriginate((req) => (req.vars.sb_queue === prefix ? { answerAfterMs: 200, hangupAfterMs: 200 + holdMs } : undefined));
  const w = watch(prefix);
  const queue = new CallQueue({ connection: redis.url, prefix, logger: silentLogger });
  const workers = [await startWorker(prefix, cps, cap), await startWorker(prefix, cps, cap)];
  const total = Math.ceil(cps * seconds * 1.1) + 10;
  for (let i = 0; i < total; i++) await queue.add({ to: `+1555${String(i).padStart(7, '0')}`, flow: 'bench' });
  while (w.originates.length === 0) await sleep(10);
  const t0 = w.originates[0] as number;
  while (performance.now() - t0 < seconds * 1000) await sleep(50);
  const inWindow = w.originates.filter((t) => t - t0 < seconds * 1000);
  for (const child of workers) await stopWorker(child);
  await queue.close();
  w.stop();
  await hangupAll();
  return { cps: round(inWindow.length / seconds), maxBurst: maxInWindow(inWindow, 1000), maxUp: w.maxUp(), overCap: Math.max(0, w.maxUp() - cap) };
}

let workerNames = 0;
/** A CallWorker in its own process (the queue's crash-worker fixture), so the simulator's receive times here are not those of a busy worker. */
async function startWorker(prefix: string, cps: number, cap: number): Promise<ChildProcess> {
  const file = fileURLToPath(new URL('../core/queue/fixtures/crash-worker.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', file], {
    env: { ...process.env, REDIS_URL: redis.url, ESL_HOST: sim.host, ESL_PORT: String(sim.port), OUT_PORT: String(outPort), PREFIX: prefix, WORKER_NAME: `w${++workerNames}`, CPS: String(cps), MAX_CONCURRENT: String(cap) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before ready`)));
  });
  return child;
}

async function stopWorker(child: ChildProcess): Promise<void> {
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await gone;
}

async function hangupAll(): Promise<void> {
  await Promise.all([...sim.channels.values()].map((ch) => ch.hangup('NORMAL_CLEARING')));
}

/** REST POST /v1/calls on the real service: `total` requests, 32 at a time; jobs are due in an hour, so only accepting is measured. */
async function rest(total: number): Promise<{ perSecond: number; p50: number; p99: number; batchMs: number; batchRows: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'sb-bench-'));
  writeFileSync(join(dir, 'reminder.yaml'), 'name: reminder\ntrigger: outbound\nsteps:\n  - hangup\n');
  const key = newApiKey('bench');
  const service = new Service({
    config: loadConfig({ SB_ESL_PORT: String(sim.port), SB_OUTBOUND_PORT: '0', SB_HTTP_PORT: '0', SB_MEDIA_PORT: '0', SB_FLOWS_DIR: dir, REDIS_URL: redis.url, SB_QUEUE_PREFIX: `rest${process.pid}`, SB_API_KEYS: key.entry }),
    logger: silentLogger,
  });
  await service.start();
  const url = `http://127.0.0.1:${service.http?.port}/v1/calls`;
  const headers = { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' };
  const notBefore = new Date(Date.now() + 3_600_000).toISOString();
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < total) {
        const i = next++;
        const s = performance.now();
        const r = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ to: `+1666${String(i).padStart(7, '0')}`, flow: 'reminder', notBefore }) });
        if (r.status !== 202) throw new Error(`POST /v1/calls → ${r.status} ${await r.text()}`);
        await r.arrayBuffer();
        latencies.push(performance.now() - s);
      }
    }),
  );
  const wall = performance.now() - t0;
  // A campaign of 10,000 rows, each with its own vars, accepted (validated, stored, expansion queued).
  const rows = Array.from({ length: 10_000 }, (_, i) => ({ to: `+1888${String(i).padStart(7, '0')}`, vars: { customer: `c-${i}`, segment: i % 2 ? 'gold' : 'silver' } }));
  const batch = JSON.stringify({ flow: 'reminder', gateway: 'bench', notBefore, window: { start: '09:00', end: '20:00', days: 'mon-sat', timezone: 'Europe/Paris' }, rows });
  const b0 = performance.now();
  const br = await fetch(url.replace('/calls', '/batches'), { method: 'POST', headers, body: batch });
  const batchMs = performance.now() - b0;
  const answer = (await br.json()) as { accepted?: number };
  if (br.status !== 202 || answer.accepted !== rows.length) throw new Error(`POST /v1/batches → ${br.status} ${JSON.stringify(answer).slice(0, 500)}`);
  await service.close();
  rmSync(dir, { recursive: true, force: true });
  return { perSecond: round(total / (wall / 1000), 0), p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)), batchMs: round(batchMs, 0), batchRows: rows.length };
}

/** Three worker processes dial `total` calls (one attempt each, 40 per second) while one of them is SIGKILLed every 0.3–1.5 s and replaced. */
async function killed(total: number): Promise<{ dialled: number; duplicates: number; kills: number; finished: number }> {
  const prefix = `kill${process.pid}`;
  sim.onOriginate((req) => (req.vars.sb_queue === prefix ? { answerAfterMs: 100 + Math.random() * 400, hangupAfterMs: 600 + Math.random() * 1400 } : undefined));
  const w = watch(prefix);
  const queue = new CallQueue({ connection: redis.url, prefix, logger: silentLogger });
  const start = (): Promise<ChildProcess> => startWorker(prefix, 40, 100);
  const workers = [await start(), await start(), await start()];
  const jobs: string[] = [];
  for (let i = 0; i < total; i++) jobs.push((await queue.add({ to: `+1777${String(i).padStart(7, '0')}`, flow: 'bench', attempts: 1 })).jobId);
  let kills = 0;
  let killing = true;
  // While numbers are still being dialled, one worker in three dies every 0.3–1.5 s.
  const killer = (async () => {
    while (killing && new Set(w.uuids).size < total) {
      await sleep(300 + Math.random() * 1200);
      const i = Math.floor(Math.random() * workers.length);
      await stopWorker(workers[i] as ChildProcess);
      kills++;
      workers[i] = await start();
    }
  })();
  const pending = new Set(jobs);
  while (pending.size > 0) {
    await sleep(500);
    for (const id of [...pending]) {
      const s = await queue.get(id);
      if (s && ['completed', 'failed', 'cancelled'].includes(s.state)) pending.delete(id);
    }
  }
  killing = false;
  await killer;
  for (const c of workers) c.kill('SIGKILL');
  await queue.close();
  w.stop();
  await hangupAll();
  const perUuid = new Map<string, number>();
  for (const u of w.uuids) perUuid.set(u, (perUuid.get(u) ?? 0) + 1);
  const duplicates = [...perUuid.values()].reduce((a, n) => a + n - 1, 0);
  return { dialled: perUuid.size, duplicates, kills, finished: total - pending.size };
}

const rows: Array<[string, string]> = [];
const figures: Record<string, unknown> = {};
try {
  const p10 = await paced(10, 40, 2000, SECONDS);
  rows.push([`CPS 10 over ${SECONDS} s (cap 40, 2 s calls)`, `achieved ${p10.cps}/s, max in any 1 s ${p10.maxBurst}, most up at once ${p10.maxUp}`]);
  const p50 = await paced(50, 150, 2000, SECONDS);
  rows.push([`CPS 50 over ${SECONDS} s (cap 150, 2 s calls)`, `achieved ${p50.cps}/s, max in any 1 s ${p50.maxBurst}, most up at once ${p50.maxUp}`]);
  const capped = await paced(50, 20, 1000, Math.min(10, SECONDS));
  rows.push([`cap 20 binding (CPS 50, 1 s calls)`, `most up at once ${capped.maxUp} (over cap: ${capped.overCap}), achieved ${capped.cps}/s`]);
  const r = await rest(REST_CALLS);
  rows.push([`REST POST /v1/calls × ${REST_CALLS} (32 in flight)`, `${r.perSecond}/s, p50 ${r.p50} ms, p99 ${r.p99} ms`]);
  rows.push([`REST POST /v1/batches, ${r.batchRows} rows`, `accepted in ${r.batchMs} ms`]);
  const k = await killed(KILL_CALLS);
  rows.push([`${KILL_CALLS} calls, workers SIGKILLed ${k.kills}×`, `${k.finished} finished, ${k.dialled} numbers dialled, ${k.duplicates} dialled twice`]);
  Object.assign(figures, {
    cps: { 10: p10.cps, 50: p50.cps },
    max_burst: { 10: p10.maxBurst, 50: p50.maxBurst },
    max_concurrent_over_cap: Math.max(p10.overCap, p50.overCap, capped.overCap),
    batch_10000_ms: r.batchMs,
    rest_p99_ms: r.p99,
    duplicates: k.duplicates,
  });
} finally {
  await outbound.close(100);
  await sim.close();
  await redis.stop();
}
printTable('Outbound calls (real redis-server, FreeSWITCH simulator in real time)', rows);
console.log(JSON.stringify({ bench: 'outbound', ...figures }));
