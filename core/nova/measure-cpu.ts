/**
 * node --import tsx core/nova/measure-cpu.ts [sessions] [seconds]
 *
 * CPU per audioInput event, three ways, same process, same machine:
 *  1. NovaSession's own work alone: 20 ms frames through sendAudio, batched to 40 ms, pulled and
 *     encoded by a stand-in client that only iterates the body (no SDK, no network).
 *  2. The bare SDK against the emulator (RawNovaCall, 40 ms events): the baseline.
 *  3. NovaSession against the emulator (20 ms frames, frameMs 40): same number of events as 2.
 * The emulator runs in a child process, so 2 and 3 are this process's CPU only (client + SDK);
 * 3 − 2 is what NovaSession adds on top of the bare SDK. Rounds alternate; the median is shown.
 * Belongs in bench/ once the nova bench exists (npm run bench -- nova).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { silentLogger } from '../log.ts';
import { novaClient, RawNovaCall, tone } from '../../test/support/nova-emulator/index.ts';
import { NovaSession } from './session.ts';

const ROUNDS = 3;

const SESSIONS = Number(process.argv[2] ?? 50);
const SECONDS = Number(process.argv[3] ?? 4);
const FRAME_20 = tone(20, 16000, 300, 3000);
const FRAME_40 = tone(40, 16000, 300, 3000);

const base = {
  modelId: 'amazon.nova-sonic-v1:0', voiceId: 'matthew', systemPrompt: 'You are a test.', inputSampleRate: 16000 as const,
  outputSampleRate: 8000 as const, frameMs: 40, logger: silentLogger, idleTimeoutMs: 600_000,
};

function usMicro(cpu: NodeJS.CpuUsage): number {
  return cpu.user + cpu.system;
}

/** 1: the client's own per-event work, with a client that just drains the input iterable. */
async function clientAlone(events: number): Promise<number> {
  let pulled = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const fake = {
    send(cmd: { input: { body: AsyncIterable<{ chunk: { bytes: Uint8Array } }> } }): Promise<never> {
      void (async () => {
        for await (const part of cmd.input.body) {
          if (part.chunk.bytes.length > 1000 && ++pulled === events) done();
        }
      })();
      return new Promise<never>(() => {});
    },
  } as unknown as BedrockRuntimeClient;
  const s = new NovaSession({ ...base, client: fake, maxQueuedMs: 1e9 });
  s.on('error', () => {});
  await s.start();
  const t0 = process.cpuUsage();
  for (let i = 0; i < events; i++) {
    s.sendAudio(Buffer.from(FRAME_20));
    s.sendAudio(Buffer.from(FRAME_20));
    if ((i & 63) === 0) await new Promise((r) => setImmediate(r));
  }
  await finished;
  const cpu = usMicro(process.cpuUsage(t0));
  // the copies the loop itself makes (standing in for the media layer's fresh buffers) are not the client's
  const c0 = process.cpuUsage();
  for (let i = 0; i < events * 2; i++) Buffer.from(FRAME_20);
  const copies = usMicro(process.cpuUsage(c0));
  await s.close().catch(() => undefined);
  return (cpu - copies) / events;
}

/** Feed every driver one frame per `ms` for SECONDS, at real time; CPU µs per audioInput event. */
async function realTime(ms: number, feed: () => void, countEvents: () => number): Promise<number> {
  const ticks = Math.round((SECONDS * 1000) / ms);
  const t0 = process.cpuUsage();
  const e0 = countEvents();
  await new Promise<void>((resolve) => {
    let n = 0;
    const start = performance.now();
    const tick = (): void => {
      feed();
      if (++n >= ticks) return resolve();
      setTimeout(tick, Math.max(0, start + (n + 1) * ms - performance.now()));
    };
    tick();
  });
  const cpu = usMicro(process.cpuUsage(t0));
  return cpu / (countEvents() - e0);
}

async function rawSdk(client: BedrockRuntimeClient): Promise<number> {
  const calls = Array.from({ length: SESSIONS }, () => {
    const c = new RawNovaCall(client);
    c.open({ system: 'You are a test.' });
    return c;
  });
  let sent = 0;
  const us = await realTime(40, () => {
    for (const c of calls) c.audio(FRAME_40, 40);
    sent += calls.length;
  }, () => sent);
  for (const c of calls) c.close();
  await Promise.all(calls.map((c) => c.finished));
  return us;
}

async function viaSession(client: BedrockRuntimeClient): Promise<{ us: number; dropped: number }> {
  const sessions = Array.from({ length: SESSIONS }, () => new NovaSession({ ...base, client }));
  for (const s of sessions) s.on('error', (e) => console.error(e.message));
  await Promise.all(sessions.map((s) => s.start()));
  const us = await realTime(20, () => { for (const s of sessions) s.sendAudio(FRAME_20); }, () => sessions.reduce((a, s) => a + s.stats.audioEventsSent, 0));
  await Promise.all(sessions.map((s) => s.close()));
  return { us, dropped: sessions.reduce((a, s) => a + s.stats.framesDropped, 0) };
}

/** The emulator in its own process; resolves with its endpoint and a stop function. */
async function emulatorProcess(): Promise<{ endpoint: string; stop: () => void }> {
  const index = fileURLToPath(new URL('../../test/support/nova-emulator/index.ts', import.meta.url));
  const code = `import { NovaEmulator } from ${JSON.stringify(index)};
const emu = await NovaEmulator.start({ script: { reply: 'silent' } });
console.log(emu.endpoint);
process.stdin.on('end', () => emu.close().then(() => process.exit(0)));
process.stdin.resume();`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['pipe', 'pipe', 'ignore'] });
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  return { endpoint: line.toString().trim(), stop: () => child.stdin.end() };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

const alones: number[] = [];
for (let i = 0; i < ROUNDS; i++) alones.push(await clientAlone(20_000));
const alone = median(alones);
const emu = await emulatorProcess();
const client = novaClient(emu.endpoint);
await rawSdk(client); // warm-up
const raws: number[] = [];
const ours: number[] = [];
let dropped = 0;
for (let i = 0; i < ROUNDS; i++) {
  raws.push(await rawSdk(client));
  const r = await viaSession(client);
  ours.push(r.us);
  dropped += r.dropped;
}
client.destroy();
emu.stop();
const raw = median(raws);
const session = median(ours);

console.log(`NovaSession alone (batch 2×20 ms → 40 ms, base64, bytes): ${alone.toFixed(1)} µs CPU per audioInput event`);
console.log(`${SESSIONS} sessions × ${SECONDS} s × ${ROUNDS} rounds, 16 kHz, 40 ms events, emulator in a child process:`);
console.log(`  bare SDK (RawNovaCall):   ${raw.toFixed(1)} µs per event  (rounds: ${raws.map((x) => x.toFixed(0)).join(', ')})`);
console.log(`  NovaSession (20 ms in):   ${session.toFixed(1)} µs per event  (rounds: ${ours.map((x) => x.toFixed(0)).join(', ')}), ${dropped} frames dropped`);
console.log(`  added by NovaSession:     ${(session - raw).toFixed(1)} µs per event`);
console.log(JSON.stringify({ aloneUs: +alone.toFixed(1), rawUs: +raw.toFixed(1), sessionUs: +session.toFixed(1), sessions: SESSIONS, seconds: SECONDS }));
