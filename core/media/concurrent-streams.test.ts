import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AudioStreamClient, countingPcm } from '../../test/support/audio-stream-client/index.ts';
import { MediaServer } from './index.ts';

const SECRET = 'concurrent-streams-test-secret-0123456789';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('many streams at once', () => {
  it('50 concurrent calls: each call gets its own audio, intact and in order, and its own reply', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-many-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const server = new MediaServer({ host: '127.0.0.1', port: 0, secret: SECRET, logger: pino({ level: 'silent' }) });
    await server.start();
    cleanups.push(() => server.close());

    const N = 50;
    const framesPerCall = 100; // 2 s of 16 kHz audio per call, sent as fast as possible
    const ids = Array.from({ length: N }, (_, i) => `call-${String(i).padStart(2, '0')}`);
    const audioOf = (i: number): Buffer => countingPcm(framesPerCall * 320, i * 1000);
    const received = new Map<string, Buffer[]>();
    const allAudio = new Map<string, Promise<void>>();

    const streams = ids.map((id) => server.waitForStream(id, { timeoutMs: 10_000 }));
    const clients = await Promise.all(ids.map((id) => {
      const issued = server.issue(id, { sampleRate: 16000 });
      return AudioStreamClient.connect({ url: issued.url, headers: issued.headers, sampleRate: 16000, realtime: false, metadata: JSON.stringify({ callId: id }), tmpDir: dir });
    }));
    for (const c of clients) cleanups.push(() => c.terminate());
    const live = await Promise.all(streams);
    expect(server.streams.size).toBe(N);
    for (const s of live) {
      const got: Buffer[] = [];
      received.set(s.callId, got);
      allAudio.set(s.callId, new Promise<void>((resolve) => {
        s.on('audio', (f) => {
          got.push(f);
          if (got.length === framesPerCall) resolve();
        });
      }));
    }

    const t0 = performance.now();
    await Promise.all(clients.map((c, i) => c.sendFrames(audioOf(i))));
    await Promise.all(allAudio.values());
    const elapsed = performance.now() - t0;
    ids.forEach((id, i) => expect(Buffer.concat(received.get(id) ?? []).equals(audioOf(i)), id).toBe(true));
    expect(live.map((s) => s.metadata)).toEqual(ids.map((callId) => ({ callId })));
    // 100 s of audio in total: far faster than real time.
    expect(elapsed).toBeLessThan(10_000);

    // Each call's reply reaches its own client only.
    const plays = clients.map((c) => new Promise<string>((r) => c.once('play', (p) => r(p.file))));
    live.forEach((s, i) => s.sendAudio(countingPcm(160, i), 8000));
    const files = await Promise.all(plays);
    files.forEach((f, i) => {
      expect(f).toBe(join(dir, `${ids[i]}_0.tmp.r8`));
      expect(readFileSync(f).equals(countingPcm(160, i))).toBe(true);
    });

    await Promise.all(clients.map((c) => c.stop('{"bye":true}')));
    const closes = await Promise.all(live.map((s) => s.closed));
    expect(closes.every((c) => c.code === 1000 && c.byRemote)).toBe(true);
    expect(server.streams.size).toBe(0);
    expect(server.stats).toMatchObject({ accepted: N, refused: 0, active: 0 });
  });
});
