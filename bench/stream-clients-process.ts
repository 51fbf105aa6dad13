// mod_audio_stream stand-ins in their own process for `npm run bench -- nova`: one websocket per
// call, 20 ms L16 frames of counting PCM at real cadence for the given seconds.
import { existsSync } from 'node:fs';
import { AudioStreamClient, countingPcm } from '../test/support/audio-stream-client/index.ts';

// FreeSWITCH's work, not Switchboard's: the reply files go to memory so writing them does not
// take the CPU the relay is measured on (the machine has two cores for all three processes).
const tmpDir = existsSync('/dev/shm') ? '/dev/shm' : undefined;

process.send?.({ type: 'ready' });
process.on('message', (msg: { type: string; id?: number; streams?: Array<{ url: string; headers: Record<string, string> }>; seconds?: number; rate?: 8000 | 16000 }) => {
  if (msg.type === 'run') void run(msg.id ?? 0, msg.streams ?? [], msg.seconds ?? 5, msg.rate ?? 16000);
  else if (msg.type === 'close') process.exit(0);
});

async function run(id: number, streams: Array<{ url: string; headers: Record<string, string> }>, seconds: number, rate: 8000 | 16000): Promise<void> {
  const clients = await Promise.all(streams.map((s) => AudioStreamClient.connect({ url: s.url, headers: s.headers, sampleRate: rate, realtime: true, metadataDelayMs: 0, ...(tmpDir ? { tmpDir } : {}) })));
  process.send?.({ type: 'connected', id });
  const pcm = countingPcm(rate * seconds);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(clients.map((c) => c.sendFrames(pcm)));
  const cpu = process.cpuUsage(cpu0);
  const cpuPct = ((cpu.user + cpu.system) / 1000 / (performance.now() - t0)) * 100;
  const lag = clients.flatMap((c) => c.stats.sendLagMs);
  const replies = clients.reduce((a, c) => a + c.stats.repliesReceived, 0);
  const framesSent = clients.reduce((a, c) => a + c.stats.framesSent, 0);
  await Promise.all(clients.map((c) => c.stop()));
  lag.sort((a, b) => a - b);
  process.send?.({ type: 'done', id, replies, framesSent, sendLagP99: lag[Math.floor(lag.length * 0.99)] ?? 0, sendLagMax: lag.at(-1) ?? 0, cpuPct });
}
