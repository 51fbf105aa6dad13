/**
 * npm run bench -- nova
 * Concurrent calls relayed by Switchboard: mod_audio_stream stand-ins (own process, 20 ms L16
 * frames at real cadence) → the media server → NovaSession (frame batching window W) → the
 * Bedrock SDK → the Nova Sonic emulator (own process, echoing each second back) → audio back as
 * streamAudio. Measured in Switchboard's process: its CPU % of one core, RSS per call, the relay
 * delay beyond the window (batch complete → the SDK takes the event; audioOutput received →
 * streamAudio sent), and, from the emulator, samples lost or reordered. The emulator's own CPU is
 * printed beside it as the baseline.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Session as Inspector } from 'node:inspector/promises';
import { silentLogger } from '../core/log.ts';
import { MediaServer, type AudioStream } from '../core/media/index.ts';
import { createNovaClient, NovaSession, NOVA_SONIC_V1 } from '../core/nova/index.ts';
import { Child } from './child.ts';
import { percentile, printTable } from './report.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const WINDOWS = (process.env.BENCH_WINDOWS ?? "20,40,60").split(",").map(Number);
const CALLS = (process.env.BENCH_CALLS ?? "50,100,200").split(",").map(Number);
const DEFAULT_WINDOW = 40;
const RATE = Number(process.env.BENCH_RATE ?? 16000) as 8000 | 16000;
const OUT_CHUNK_BYTES = (RATE / 5) * 2; // 200 ms

interface Figures {
  added_p50_ms: number;
  added_p99_ms: number;
  out_p99_ms: number;
  cpu_pct: number;
  rss_mb_per_call: number;
  lost: number;
  reordered: number;
  emulator_cpu_pct: number;
  sessions_failed: number;
  /** Where lost audio went: dropped by NovaSession's input queue (SDK slower than real time), and frames the clients sent that never reached Switchboard. */
  dropped_in_session: number;
  /** Sessions that dropped any: a few means some streams stalled, all means the process fell behind. */
  sessions_dropping: number;
  frames_not_received: number;
  /** How late the stand-ins sent their frames (their own process falling behind real time), p99 and max. */
  client_lag_p99_ms: number;
  client_lag_max_ms: number;
  client_cpu_pct: number;
}

const round = (n: number, d = 3): number => Math.round(n * 10 ** d) / 10 ** d;

const emulator = await Child.start(new URL('./nova-emulator-process.ts', import.meta.url));
const clients = await Child.start(new URL('./stream-clients-process.ts', import.meta.url));
const media = new MediaServer({ host: '127.0.0.1', port: 0, secret: randomUUID(), logger: silentLogger, maxMessageBytes: 1 << 20 });
await media.start();
const rssBefore = process.memoryUsage().rss;
const nova = createNovaClient({ endpoint: String(emulator.ready.endpoint), region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, logger: silentLogger });

async function measure(windowMs: number, calls: number): Promise<Figures> {
  const ids = Array.from({ length: calls }, () => randomUUID());
  const issued = ids.map((id) => media.issue(id, { sampleRate: RATE }));
  const inLat: number[] = [];
  const outLat: number[] = [];
  let failed = 0;
  const sessions: NovaSession[] = [];
  const streams: AudioStream[] = [];
  const wired = Promise.all(
    ids.map(async (id, i) => {
      const stream: AudioStream = await media.waitForStream(id, { token: issued[i]?.token, timeoutMs: 30_000 });
      const session = new NovaSession({
        client: nova,
        modelId: NOVA_SONIC_V1,
        voiceId: 'matthew',
        systemPrompt: 'Benchmark.',
        inputSampleRate: RATE,
        outputSampleRate: RATE,
        frameMs: windowMs,
        logger: silentLogger,
        onAudioSent: (ms) => inLat.push(ms),
      });
      session.on('error', () => failed++);
      // As SpeechPlayer does: the model's audio leaves in 200 ms files, not one per Nova chunk.
      let out: Buffer[] = [];
      let outBytes = 0;
      session.on('audio', (pcm) => {
        const t0 = performance.now();
        out.push(pcm);
        outBytes += pcm.length;
        if (outBytes >= OUT_CHUNK_BYTES) {
          stream.sendAudio(Buffer.concat(out, outBytes), RATE);
          out = [];
          outBytes = 0;
        }
        outLat.push(performance.now() - t0);
      });
      stream.on('audio', (frame) => session.sendAudio(frame));
      streams.push(stream);
      sessions.push(session);
      await session.start();
    }),
  );
  const run = clients.twice<unknown, { replies: number; framesSent: number; sendLagP99: number; sendLagMax: number; cpuPct: number }>({ type: 'run', streams: issued.map((s) => ({ url: s.url, headers: s.headers })), seconds: SECONDS, rate: RATE }, 'connected', 'done');
  await run.first;
  await wired;
  await emulator.ask({ type: 'mark' }, 'marked');
  // Peak RSS while the calls run, against the process before any call: an upper bound per call
  // (the heap never gives back what earlier runs grew, so later rows carry some of theirs).
  let rssPeak = process.memoryUsage().rss;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 50);
  const profiler = await startProfile();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const sent = await run.second;
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - t0;
  clearInterval(sampler);
  await profiler?.(`nova-${windowMs}ms-${calls}.cpuprofile`);
  await Promise.all(sessions.map((s) => s.close()));
  const report = await emulator.ask<{ lost: number; reordered: number; cpuPct: number }>({ type: 'report' }, 'report');
  return {
    added_p50_ms: round(percentile(inLat, 50)),
    added_p99_ms: round(percentile(inLat, 99)),
    out_p99_ms: round(percentile(outLat, 99)),
    cpu_pct: round(((cpu.user + cpu.system) / 1000 / wall) * 100, 1),
    rss_mb_per_call: round(Math.max(0, rssPeak - rssBefore) / calls / 1024 / 1024, 3),
    lost: report.lost,
    reordered: report.reordered,
    emulator_cpu_pct: round(report.cpuPct, 1),
    sessions_failed: failed,
    dropped_in_session: sessions.reduce((a, s) => a + s.stats.framesDropped, 0),
    sessions_dropping: sessions.filter((s) => s.stats.framesDropped > 0).length,
    frames_not_received: sent.framesSent - streams.reduce((a, s) => a + s.stats.framesIn, 0),
    client_lag_p99_ms: round(sent.sendLagP99, 1),
    client_lag_max_ms: round(sent.sendLagMax, 1),
    client_cpu_pct: round(sent.cpuPct, 1),
  };
}

/** BENCH_PROFILE=<dir>: a V8 CPU profile of Switchboard's process over each measured interval. */
async function startProfile(): Promise<((name: string) => Promise<void>) | undefined> {
  const dir = process.env.BENCH_PROFILE;
  if (!dir) return undefined;
  const inspector = new Inspector();
  inspector.connect();
  await inspector.post('Profiler.enable');
  await inspector.post('Profiler.start');
  return async (name) => {
    const { profile } = await inspector.post('Profiler.stop');
    writeFileSync(`${dir}/${name}`, JSON.stringify(profile));
    inspector.disconnect();
  };
}

const results: Record<number, Record<number, Figures>> = {};
try {
  for (const w of WINDOWS) {
    results[w] = {};
    for (const n of CALLS) (results[w] as Record<number, Figures>)[n] = await measure(w, n);
  }
} finally {
  nova.destroy();
  await media.close();
  await clients.close();
  await emulator.close();
}

const rows: Array<[string, string]> = [];
for (const w of WINDOWS) {
  for (const n of CALLS) {
    const r = results[w]?.[n] as Figures;
    rows.push([
      `window ${w} ms, ${n} calls`,
      `CPU ${r.cpu_pct} % (${round(r.cpu_pct / n, 2)} %/call), added p50/p99 ${r.added_p50_ms}/${r.added_p99_ms} ms, out p99 ${r.out_p99_ms} ms, RSS ${r.rss_mb_per_call} MB/call, lost ${r.lost}, reordered ${r.reordered} (frames dropped by the session ${r.dropped_in_session} in ${r.sessions_dropping} sessions, not received ${r.frames_not_received}; stand-ins late p99/max ${r.client_lag_p99_ms}/${r.client_lag_max_ms} ms), failed ${r.sessions_failed} | emulator CPU ${r.emulator_cpu_pct} %, stand-ins CPU ${r.client_cpu_pct} %`,
    ]);
  }
}
printTable(`Nova relay (${SECONDS} s of audio per call, ${RATE / 1000} kHz)`, rows);
const calls: Record<number, unknown> = {};
for (const n of CALLS) {
  const r = results[DEFAULT_WINDOW]?.[n];
  if (r) calls[n] = { added_p50_ms: r.added_p50_ms, added_p99_ms: r.added_p99_ms, cpu_pct: r.cpu_pct, rss_mb_per_call: r.rss_mb_per_call, lost: r.lost, reordered: r.reordered };
}
console.log(JSON.stringify({ bench: 'nova', frame_ms: DEFAULT_WINDOW, calls }));
