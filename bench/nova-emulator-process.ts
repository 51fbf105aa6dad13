// The Nova Sonic emulator in its own process for `npm run bench -- nova`: echoes each second of
// caller audio back, records what arrived, and reports per run which samples were lost or
// reordered (the clients send counting PCM: sample i = i mod 65536) and its own CPU.
import { NovaEmulator } from '../test/support/nova-emulator/index.ts';

const emu = await NovaEmulator.start({ recordAudio: true, script: { turnDetection: { afterAudioMs: 1000 }, reply: (process.env.BENCH_REPLY as 'echo' | 'silent' | undefined) ?? 'echo', bargeIn: false, audioPacing: { speed: 2, chunkMs: Number(process.env.BENCH_OUT_CHUNK_MS ?? 40) } } });
process.send?.({ type: 'ready', endpoint: emu.endpoint });
let cpuMark = process.cpuUsage();
let wallMark = performance.now();
let reported = 0;

process.on('message', (msg: { type: string; id?: number }) => {
  if (msg.type === 'mark') {
    cpuMark = process.cpuUsage();
    wallMark = performance.now();
    process.send?.({ type: 'marked', id: msg.id });
  } else if (msg.type === 'report') {
    const cpu = process.cpuUsage(cpuMark);
    const wall = performance.now() - wallMark;
    let lost = 0;
    let reordered = 0;
    let samples = 0;
    const sessions = emu.sessions.slice(reported);
    reported = emu.sessions.length;
    for (const s of sessions) {
      let prev = -1;
      for (const e of s.events) {
        if (e.name !== 'audioInput') continue;
        const pcm = Buffer.from(String((e.event.audioInput as { content?: string }).content ?? ''), 'base64');
        for (let i = 0; i + 1 < pcm.length; i += 2) {
          const v = pcm.readUInt16LE(i);
          samples++;
          if (prev >= 0) {
            const d = (v - prev + 65536) % 65536;
            if (d === 0 || d > 32768) reordered++;
            else if (d > 1) lost += d - 1;
          }
          prev = v;
        }
      }
      s.events.length = 0; // free the recorded audio
    }
    process.send?.({ type: 'report', id: msg.id, lost, reordered, samples, cpuPct: ((cpu.user + cpu.system) / 1000 / wall) * 100 });
  } else if (msg.type === 'close') {
    void emu.close().then(() => process.exit(0));
  }
});
