import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AudioStreamClient, countingPcm } from '../../test/support/audio-stream-client/index.ts';
import { MediaServer, type AudioStream, type MediaServerOptions } from './index.ts';

/** The drop policies: replies to a FreeSWITCH that stops reading, frames to a consumer that falls behind. */

const SECRET = 'back-pressure-test-secret-0123456789';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

async function open(options: Partial<MediaServerOptions> = {}, tmpDir?: string): Promise<{ client: AudioStreamClient; stream: AudioStream; logs: LogLine[] }> {
  const logs: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
  const server = new MediaServer({ host: '127.0.0.1', port: 0, secret: SECRET, logger, ...options });
  await server.start();
  cleanups.push(() => server.close());
  const issued = server.issue('bp', { sampleRate: 16000 });
  const waiting = server.waitForStream('bp');
  const client = await AudioStreamClient.connect({ url: issued.url, headers: issued.headers, sampleRate: 16000, realtime: false, ...(tmpDir ? { tmpDir } : {}) });
  cleanups.push(() => client.terminate());
  return { client, stream: await waiting, logs };
}

describe('replies to a FreeSWITCH that does not read', () => {
  it('drop newest past maxSendBufferBytes: queued replies stay whole and in order, drops are counted, one warning per episode', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-bp-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const limit = 256 * 1024;
    const { client, stream, logs } = await open({ maxSendBufferBytes: limit }, dir);
    const chunk = (i: number): Buffer => countingPcm(16000, i * 16000); // 1 s at 16 kHz, 32 KB → ≈43 KB of JSON
    const sent: number[] = [];
    client.pauseReading();
    let attempts = 0;
    // Until the socket (kernel buffers included) is full and the limit bites, and a bit beyond.
    while (stream.stats.dropped < 5 && attempts < 5000) {
      if (stream.sendAudio(chunk(attempts), 16000)) sent.push(attempts);
      attempts++;
    }
    expect(stream.stats.dropped).toBe(5);
    expect(stream.stats.repliesOut + stream.stats.dropped).toBe(attempts);
    expect(stream.bufferedBytes).toBeLessThanOrEqual(limit);
    expect(logs.filter((l) => /send buffer full/.test(l.msg))).toHaveLength(1);

    // FreeSWITCH reads again: every reply that was not dropped arrives, whole, in order.
    const received: Buffer[] = [];
    const all = new Promise<void>((resolve) => client.on('play', (p) => {
      received.push(readFileSync(p.file));
      if (received.length === sent.length) resolve();
    }));
    client.resumeReading();
    await all;
    received.forEach((r, i) => expect(r.equals(chunk(sent[i] ?? -1))).toBe(true));

    // Drained: sending works again and the episode's end is logged.
    const more = new Promise<void>((r) => client.once('play', () => r()));
    expect(stream.sendAudio(chunk(0), 16000)).toBe(true);
    await more;
    expect(logs.filter((l) => /drained/.test(l.msg))).toHaveLength(1);
  });
});

describe('frames() for a consumer that falls behind', () => {
  it('keeps the newest maxQueuedFrames and counts the dropped; ends when the stream closes', async () => {
    const { client, stream } = await open();
    const it = stream.frames({ maxQueuedFrames: 5 });
    const all = new Promise<void>((resolve) => {
      let n = 0;
      stream.on('audio', () => ++n === 20 && resolve());
    });
    await client.sendFrames(countingPcm(20 * 320)); // 20 frames of 320 samples
    await all;
    const got: Buffer[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await it.next();
      if (!r.done) got.push(r.value);
    }
    expect(Buffer.concat(got).equals(countingPcm(5 * 320, 15 * 320))).toBe(true);
    expect(stream.stats.framesDropped).toBe(15);
    const end = it.next();
    await client.stop();
    expect(await end).toEqual({ done: true, value: undefined });
  });

  it('ends when its signal aborts, and a second consumer is independent', async () => {
    const { client, stream } = await open();
    const ac = new AbortController();
    const a = stream.frames({ signal: ac.signal });
    const b = stream.frames();
    const first = b.next();
    await client.sendFrames(countingPcm(320));
    expect((await first).value).toHaveLength(640);
    const pending = a.next();
    ac.abort();
    // a had the frame queued before the abort: it still yields it, then ends.
    expect((await pending).done).toBe(false);
    expect(await a.next()).toEqual({ done: true, value: undefined });
    await b.return?.(undefined);
    expect(stream.listenerCount('audio')).toBe(0);
  });
});
