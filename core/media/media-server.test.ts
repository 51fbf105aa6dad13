import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { mediaServerHarness, type LogLine } from '../../test/support/media-server-harness.ts';
import { AudioStreamClient, AudioStreamConnectError, countingPcm, type AudioStreamClientOptions } from '../../test/support/audio-stream-client/index.ts';
import { assertToken } from '../esl/escape.ts';
import { isSwitchboardError } from '../errors.ts';
import { AudioStream, MediaServer, type StreamCloseInfo } from './index.ts';

const SECRET = 'media-server-test-secret-0123456789';

const media = mediaServerHarness({ secret: SECRET });
const { cleanups } = media;
const harness = media.start;

async function connect(options: AudioStreamClientOptions): Promise<AudioStreamClient> {
  const client = await AudioStreamClient.connect({ realtime: false, ...options });
  cleanups.push(() => client.terminate());
  return client;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sb-media-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Resolves with the first n 'audio' frames of a stream. */
function frames(stream: AudioStream, n: number): Promise<Buffer[]> {
  const got: Buffer[] = [];
  return new Promise((resolve) => {
    const on = (f: Buffer): void => {
      got.push(f);
      if (got.length === n) {
        stream.off('audio', on);
        resolve(got);
      }
    };
    stream.on('audio', on);
  });
}

function nextClose(stream: AudioStream): Promise<StreamCloseInfo> {
  return stream.closed;
}

const refusals = (logs: LogLine[]): LogLine[] => logs.filter((l) => l.code === 'SB_MEDIA_REFUSED');
const UUID = '743f904d-68ee-40df-b9fe-4dca62426a13';

describe('MediaServer: tokens', () => {
  it('accepts the token from Authorization (STREAM_EXTRA_HEADERS); rate from the URL, metadata parsed', async () => {
    const { server } = await harness();
    const issued = server.issue(UUID, { sampleRate: 16000 });
    expect(issued.url).toMatch(new RegExp(`^ws://127\\.0\\.0\\.1:\\d+/audio/${UUID}\\?rate=16000$`));
    expect(issued.headers).toEqual({ Authorization: `Bearer ${issued.token}` });
    const waiting = server.waitForStream(UUID);
    const metadataSeen = new Promise<unknown>((r) => server.once('stream', (s) => s.once('metadata', r)));
    await connect({ url: issued.url, headers: issued.headers, sampleRate: 16000, metadata: JSON.stringify({ callId: UUID, k: 'v' }) });
    const stream = await waiting;
    expect(stream).toMatchObject({ callId: UUID, sampleRate: 16000 });
    expect(await metadataSeen).toEqual({ callId: UUID, k: 'v' });
    expect(stream.metadata).toEqual({ callId: UUID, k: 'v' });
    expect(server.streams.get(UUID)).toBe(stream);
    expect(await server.waitForStream(UUID)).toBe(stream); // already there: at once
  });

  it('accepts the token from ?token= and defaults the rate to 8000 when the URL has none', async () => {
    const { server, port } = await harness();
    const issued = server.issue('call-q');
    const waiting = server.waitForStream('call-q');
    await connect({ url: issued.urlWithToken, sampleRate: 8000 });
    expect((await waiting).sampleRate).toBe(8000);
    const bare = server.issue('call-r');
    const w2 = server.waitForStream('call-r');
    await connect({ url: `ws://127.0.0.1:${port}/audio/call-r?token=${bare.token}`, sampleRate: 8000 });
    expect((await w2).sampleRate).toBe(8000);
  });

  it('issued URLs and headers pass the ESL argument checks used by startAudioStream', async () => {
    const { server } = await harness();
    const issued = server.issue(UUID, { sampleRate: 16000 });
    for (const u of [issued.url, issued.urlWithToken]) {
      expect(u).toMatch(/^wss?:\/\/\S+$/);
      expect(assertToken('url', u)).toBe(u);
    }
    expect(JSON.stringify(issued.headers)).not.toMatch(/[\r\n]|\$\{/);
  });

  type Case = { name: string; status: number; reason: string; make(server: MediaServer, port: number, clock: { now: number }): Promise<{ url: string; headers?: Record<string, string>; callId: string }> };
  const cases: Case[] = [
    { name: 'no token at all', status: 401, reason: 'missing', make: async (s) => ({ url: s.issue('c1').url, callId: 'c1' }) },
    { name: 'a header that is not Bearer', status: 401, reason: 'malformed', make: async (s) => ({ url: s.issue('c1').url, headers: { Authorization: 'Basic dXNlcjpwYXNz' }, callId: 'c1' }) },
    { name: 'a token that is not one', status: 401, reason: 'malformed', make: async (s) => ({ url: s.issue('c1').url, headers: { Authorization: 'Bearer t0k3n' }, callId: 'c1' }) },
    { name: 'a broken header with a good query token (the header wins)', status: 401, reason: 'malformed', make: async (s) => ({ url: s.issue('c1').urlWithToken, headers: { Authorization: 'Bearer' }, callId: 'c1' }) },
    {
      name: 'an expired token', status: 403, reason: 'expired',
      make: async (s, _p, clock) => {
        const i = s.issue('c1');
        clock.now += 30_001;
        return { url: i.url, headers: i.headers, callId: 'c1' };
      },
    },
    {
      name: "another call's token", status: 403, reason: 'bad-signature',
      make: async (s, port) => ({ url: `ws://127.0.0.1:${port}/audio/c2?rate=8000`, headers: s.issue('c1').headers, callId: 'c2' }),
    },
    {
      name: 'a tampered token', status: 403, reason: 'bad-signature',
      make: async (s) => {
        const i = s.issue('c1');
        const t = i.token.slice(0, -2) + (i.token.endsWith('AA') ? 'BB' : 'AA');
        return { url: i.url, headers: { Authorization: `Bearer ${t}` }, callId: 'c1' };
      },
    },
    {
      name: 'a replayed token', status: 403, reason: 'replayed',
      make: async (s) => {
        const i = s.issue('c1');
        const first = await AudioStreamClient.connect({ url: i.url, headers: i.headers, sampleRate: 8000, realtime: false });
        await first.stop();
        await s.streams.get('c1')?.closed;
        return { url: i.url, headers: i.headers, callId: 'c1' };
      },
    },
  ];

  it.each(cases)('refuses $name with $status at the upgrade, one log line, no stream', async ({ status, reason, make }) => {
    const clock = { now: Date.now() };
    const { server, logs, port } = await harness({ now: () => clock.now });
    const { url, headers, callId } = await make(server, port, clock);
    const acceptedBefore = server.stats.accepted;
    let emitted = 0;
    server.on('stream', () => emitted++);
    const refused = new Promise((r) => server.once('refused', r));
    const err = await AudioStreamClient.connect({ url, ...(headers ? { headers } : {}), sampleRate: 8000, realtime: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AudioStreamConnectError);
    expect(err).toMatchObject({ status });
    expect(await refused).toMatchObject({ status, reason, callId });
    expect(emitted).toBe(0);
    expect(server.stats.accepted).toBe(acceptedBefore);
    expect(server.streams.has(callId)).toBe(false);
    const lines = refusals(logs);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ status, reason, callId, msg: 'audio stream refused' });
    expect(JSON.stringify(lines[0])).not.toMatch(/stack|Bearer|token=/);
    await expect(server.waitForStream(callId, { timeoutMs: 30 })).rejects.toMatchObject({ code: 'SB_MEDIA_TIMEOUT' });
  });

  it('refuses wrong paths, bad call ids and bad rates; plain HTTP gets 426', async () => {
    const { server, port, logs } = await harness();
    const good = server.issue('c1');
    const statuses: Array<number | undefined> = [];
    for (const url of [
      `ws://127.0.0.1:${port}/other/c1`,
      `ws://127.0.0.1:${port}/audio/c1/extra`,
      `ws://127.0.0.1:${port}/audio/a%20b`,
      `ws://127.0.0.1:${port}/audio/c1?rate=11025`,
      `ws://127.0.0.1:${port}/audio/c1?rate=8000&rate=16000`,
    ]) {
      const e = await AudioStreamClient.connect({ url, headers: good.headers, sampleRate: 8000 }).catch((x: unknown) => x as AudioStreamConnectError);
      statuses.push((e as AudioStreamConnectError).status);
    }
    expect(statuses).toEqual([404, 404, 400, 400, 400]);
    expect(refusals(logs)).toHaveLength(5);
    const res = await fetch(`http://127.0.0.1:${port}/audio/c1`);
    expect(res.status).toBe(426);
    // The good token was never consumed by those refusals.
    const waiting = server.waitForStream('c1');
    await connect({ url: good.url, headers: good.headers, sampleRate: 8000 });
    await waiting;
  });

  it('issue() checks its input and needs an address', async () => {
    const logger = pino({ level: 'silent' });
    const s = new MediaServer({ host: '127.0.0.1', port: 0, secret: SECRET, logger });
    expect(() => s.issue('c1')).toThrow(expect.objectContaining({ code: 'SB_MEDIA_CLOSED' }));
    const p = new MediaServer({ host: '0.0.0.0', port: 0, secret: SECRET, logger, publicUrl: 'ws://fs-media.internal:8090/' });
    expect(p.issue('c1', { sampleRate: 16000 }).url).toBe('ws://fs-media.internal:8090/audio/c1?rate=16000');
    for (const bad of ['', 'a b', '../x', 'x/y', 'x?y', 'a'.repeat(129), '${x}']) {
      expect(() => p.issue(bad)).toThrow(expect.objectContaining({ code: 'SB_MEDIA_BAD_CALL_ID' }));
    }
    expect(() => p.issue('c1', { sampleRate: 11025 as 8000 })).toThrow(expect.objectContaining({ code: 'SB_MEDIA_BAD_ARGUMENT' }));
    expect(() => new MediaServer({ host: '127.0.0.1', port: 0, secret: SECRET, logger, publicUrl: 'http://x/audio' })).toThrow(expect.objectContaining({ code: 'SB_CONFIG_INVALID' }));
    expect(() => new MediaServer({ host: '127.0.0.1', port: 0, secret: 'short', logger })).toThrow(expect.objectContaining({ code: 'SB_CONFIG_INVALID' }));
  });

  it('start() on a port in use fails with SB_MEDIA_LISTEN', async () => {
    const { port } = await harness();
    const other = new MediaServer({ host: '127.0.0.1', port, secret: SECRET, logger: pino({ level: 'silent' }) });
    await expect(other.start()).rejects.toMatchObject({ code: 'SB_MEDIA_LISTEN' });
  });
});

describe('MediaServer: audio', () => {
  it.each([8000, 16000] as const)('frames arrive intact and in order at %i Hz', async (rate) => {
    const { server } = await harness();
    const issued = server.issue('call-f', { sampleRate: rate });
    const waiting = server.waitForStream('call-f');
    const client = await connect({ url: issued.url, headers: issued.headers, sampleRate: rate });
    const stream = await waiting;
    const n = 100;
    const perFrame = rate / 50;
    const pcm = countingPcm(n * perFrame, 12345);
    const got = frames(stream, n);
    await client.sendFrames(pcm);
    const all = await got;
    expect(all.every((f) => f.length === perFrame * 2)).toBe(true);
    expect(Buffer.concat(all).equals(pcm)).toBe(true);
    expect(stream.stats).toMatchObject({ framesIn: n, bytesIn: pcm.length, malformed: 0 });
  });

  it('streamAudio replies round-trip to files with the exact bytes, numbered in order', async () => {
    const { server } = await harness();
    const dir = tempDir();
    const issued = server.issue(UUID, { sampleRate: 16000 });
    const waiting = server.waitForStream(UUID);
    const client = await connect({ url: issued.url, headers: issued.headers, sampleRate: 16000, tmpDir: dir });
    const stream = await waiting;
    const replies = [
      { rate: 8000, pcm: countingPcm(800, 1) },
      { rate: 16000, pcm: countingPcm(8000, 2) },
      { rate: 24000, pcm: countingPcm(24000, 3) },
    ] as const;
    const got: Array<{ file: string; content: Buffer; body: unknown }> = [];
    const done = new Promise<void>((resolve) => client.on('play', (p) => {
      got.push({ file: p.file, content: readFileSync(p.file), body: JSON.parse(p.body) });
      if (got.length === replies.length) resolve();
    }));
    for (const r of replies) expect(stream.sendAudio(r.pcm, r.rate)).toBe(true);
    await done;
    expect(got.map((g) => g.file)).toEqual([`${dir}/${UUID}_0.tmp.r8`, `${dir}/${UUID}_1.tmp.r16`, `${dir}/${UUID}_2.tmp.r24`]);
    got.forEach((g, i) => expect(g.content.equals(replies[i]?.pcm ?? Buffer.alloc(0))).toBe(true));
    expect(got[1]?.body).toEqual({ audioDataType: 'raw', sampleRate: 16000, file: `${dir}/${UUID}_1.tmp.r16` });
    expect(stream.stats).toMatchObject({ repliesOut: 3, dropped: 0 });

    const json = new Promise<string>((r) => client.once('json', r));
    stream.sendText('{"type":"hello"}');
    expect(await json).toBe('{"type":"hello"}');
  });

  it('sendAudio refuses what is not L16 at a reply rate', async () => {
    const { server } = await harness();
    const issued = server.issue('c1');
    const waiting = server.waitForStream('c1');
    await connect({ url: issued.url, headers: issued.headers, sampleRate: 8000 });
    const stream = await waiting;
    for (const [pcm, rate] of [[Buffer.alloc(3), 8000], [Buffer.alloc(0), 8000], [Buffer.alloc(4), 11025], [Buffer.alloc(1024 * 1024), 8000]] as const) {
      expect(() => stream.sendAudio(pcm, rate as 8000)).toThrow(expect.objectContaining({ code: 'SB_MEDIA_BAD_ARGUMENT' }));
    }
    expect(() => stream.close(1005)).toThrow(expect.objectContaining({ code: 'SB_MEDIA_BAD_ARGUMENT' }));
  });
});

describe('MediaServer: ends of a stream', () => {
  async function open(rate: 8000 | 16000 = 8000): Promise<{ server: MediaServer; client: AudioStreamClient; stream: AudioStream }> {
    const { server } = await harness();
    const issued = server.issue('c1', { sampleRate: rate });
    const waiting = server.waitForStream('c1');
    const client = await connect({ url: issued.url, headers: issued.headers, sampleRate: rate, metadata: '{"m":1}' });
    const stream = await waiting;
    return { server, client, stream };
  }

  it('stop text arrives as text, then close 1000 "Normal closure" by the remote; the stream leaves the map', async () => {
    const { server, client, stream } = await open();
    const texts: string[] = [];
    stream.on('text', (t) => texts.push(t));
    await client.sendSilence(100);
    await client.stop('{"bye":true}');
    expect(await nextClose(stream)).toEqual({ code: 1000, reason: 'Normal closure', byRemote: true });
    expect(texts).toEqual(['{"bye":true}']);
    expect(stream.metadata).toEqual({ m: 1 });
    expect(server.streams.size).toBe(0);
    expect(stream.sendAudio(Buffer.alloc(320), 8000)).toBe(false);
    expect(stream.stats.dropped).toBe(1);
  });

  it('socket loss is a close with 1006 by the remote', async () => {
    const { client, stream } = await open();
    client.terminate();
    expect(await nextClose(stream)).toMatchObject({ code: 1006, byRemote: true });
  });

  it('close() from Switchboard reaches the client and is not byRemote here', async () => {
    const { client, stream } = await open();
    stream.close();
    expect(await nextClose(stream)).toEqual({ code: 1000, reason: 'Normal closure', byRemote: false });
    expect(await client.closed).toEqual({ code: 1000, reason: 'Normal closure', byRemote: true });
  });

  it('a newer authenticated stream for the same call replaces the older (closed 4001)', async () => {
    const { server, client, stream } = await open();
    const again = server.issue('c1');
    expect(await server.waitForStream('c1')).toBe(stream); // without a token: the open one
    const second = server.waitForStream('c1', { token: again.token });
    const c2 = await connect({ url: again.url, headers: again.headers, sampleRate: 8000 });
    const newer = await second;
    expect(newer).not.toBe(stream);
    expect(await nextClose(stream)).toMatchObject({ code: 4001, byRemote: false });
    expect(await client.closed).toMatchObject({ code: 4001 });
    expect(server.streams.get('c1')).toBe(newer);
    expect(c2.isOpen).toBe(true);
  });

  it('waitForStream times out, aborts, and is rejected by close(), which also closes streams with 1001', async () => {
    const { server, client } = await open();
    await expect(server.waitForStream('nobody', { timeoutMs: 20 })).rejects.toMatchObject({ code: 'SB_MEDIA_TIMEOUT' });
    const ac = new AbortController();
    const aborted = server.waitForStream('nobody', { signal: ac.signal });
    ac.abort();
    await expect(aborted).rejects.toMatchObject({ code: 'SB_CALL_ABORTED' });
    const pending = expect(server.waitForStream('nobody')).rejects.toSatisfy((e: unknown) => isSwitchboardError(e, 'SB_MEDIA_CLOSED'));
    await server.close();
    await pending;
    expect(await client.closed).toMatchObject({ code: 1001, byRemote: true });
    await expect(server.waitForStream('late')).rejects.toMatchObject({ code: 'SB_MEDIA_CLOSED' });
  });

  it('a peer that answers no ping and sends nothing is dropped after a keepalive interval', async () => {
    const { server } = await harness({ pingIntervalMs: 40 });
    const issued = server.issue('c1');
    const waiting = server.waitForStream('c1');
    const client = await connect({ url: issued.url, headers: issued.headers, sampleRate: 8000 });
    const stream = await waiting;
    client.pauseReading(); // no pongs from now on
    expect(await nextClose(stream)).toEqual({ code: 1006, reason: 'keepalive timeout', byRemote: true });
  });
});
