import { readFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { AudioStreamClient, AudioStreamConnectError, EVENT_BODIES } from './index.ts';
import { countingPcm, frameBytes } from './pcm.ts';

/**
 * The stand-in against what a real server saw from mod_audio_stream
 * (/work/shared/fixtures/esl/05-audio-stream-ws.json) and the events FreeSWITCH fired
 * (05-audio-stream-events.bin).
 */
const FIXTURES = new URL('../../../../shared/fixtures/esl/', import.meta.url);

type Recorded =
  | { t: number; kind: 'handshake'; url: string; headers: Record<string, string> }
  | { t: number; kind: 'text'; text: string }
  | { t: number; kind: 'binary'; bytes: number }
  | { t: number; kind: 'close'; code: number; reason: string };

const capture = JSON.parse(readFileSync(new URL('05-audio-stream-ws.json', FIXTURES), 'utf8')) as Recorded[];

/** `_body` of each CUSTOM mod_audio_stream event in the ESL capture, by subclass. */
function capturedEventBodies(): Map<string, string[]> {
  const raw = readFileSync(new URL('05-audio-stream-events.bin', FIXTURES));
  const out = new Map<string, string[]>();
  let pos = 0;
  while (pos < raw.length) {
    const end = raw.indexOf('\n\n', pos);
    if (end < 0) break;
    const head = raw.subarray(pos, end).toString('utf8');
    const len = Number(/Content-Length: (\d+)/i.exec(head)?.[1] ?? 0);
    const body = raw.subarray(end + 2, end + 2 + len).toString('utf8');
    pos = end + 2 + len;
    if (!/text\/event-json/.test(head)) continue;
    const ev = JSON.parse(body) as Record<string, string>;
    const sub = ev['Event-Subclass'];
    if (sub?.startsWith('mod_audio_stream::')) out.set(sub, [...(out.get(sub) ?? []), ev._body ?? '']);
  }
  return out;
}

/** A websocket server that records what it sees in the capture's shape, and can reply or refuse. */
class Recorder {
  readonly events: Recorded[] = [];
  sockets: WebSocket[] = [];
  refuseWith: number | null = null;
  private t0 = 0;
  private closeWaiters: Array<() => void> = [];
  private constructor(private readonly server: Server, readonly port: number) {}

  static async start(): Promise<Recorder> {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const rec = new Recorder(server, (server.address() as AddressInfo).port);
    const wss = new WebSocketServer({ noServer: true });
    server.on('upgrade', (req, socket, head) => {
      if (rec.refuseWith !== null) {
        socket.end(`HTTP/1.1 ${rec.refuseWith} Refused\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        return;
      }
      rec.t0 = performance.now();
      const headers: Record<string, string> = {};
      for (let i = 0; i < req.rawHeaders.length; i += 2) headers[(req.rawHeaders[i] ?? '').toLowerCase()] = req.rawHeaders[i + 1] ?? '';
      rec.events.push({ t: 0, kind: 'handshake', url: req.url ?? '', headers });
      wss.handleUpgrade(req, socket, head, (ws) => {
        rec.sockets.push(ws);
        ws.on('message', (data, isBinary) => {
          const buf = data as Buffer;
          rec.events.push(isBinary ? { t: rec.now(), kind: 'binary', bytes: buf.length } : { t: rec.now(), kind: 'text', text: buf.toString('utf8') });
        });
        ws.on('close', (code, reason) => {
          rec.events.push({ t: rec.now(), kind: 'close', code, reason: reason.toString('utf8') });
          for (const w of rec.closeWaiters.splice(0)) w();
        });
      });
    });
    return rec;
  }

  now(): number {
    return performance.now() - this.t0;
  }

  whenClosed(): Promise<void> {
    if (this.events.some((e) => e.kind === 'close')) return Promise.resolve();
    return new Promise((r) => this.closeWaiters.push(r));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.terminate();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** Runs of the same kind collapsed: the order of things, not their count. */
function shape(events: Recorded[]): string[] {
  const kinds = events.map((e) => e.kind);
  return kinds.filter((k, i) => k !== kinds[i - 1]);
}

const UUID = '743f904d-68ee-40df-b9fe-4dca62426a13';
let recorder: Recorder | null = null;
let tmp: string | null = null;

afterEach(async () => {
  await recorder?.close();
  recorder = null;
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  tmp = null;
});

describe('AudioStreamClient reproduces mod_audio_stream as captured', () => {
  it('handshake headers (set, order, values), metadata, 640-byte frames at 20 ms, stop text, close 1000', async () => {
    recorder = await Recorder.start();
    const metadata = JSON.stringify({ callId: UUID, k: 'v' });
    const client = await AudioStreamClient.connect({
      url: `ws://127.0.0.1:${recorder.port}/audio/${UUID}?token=abc`,
      headers: { Authorization: 'Bearer t0k3n' },
      metadata,
      sampleRate: 16000,
    });
    const frames = 40;
    await client.sendFrames(countingPcm(frames * 320));
    await client.stop('{"bye":true}');
    await recorder.whenClosed();
    const got = recorder.events;

    // Order of things.
    expect(shape(got)).toEqual(shape(capture));
    expect(shape(got)).toEqual(['handshake', 'text', 'binary', 'text', 'close']);

    // Handshake: same header names in the same order; path and query intact.
    const hs = got[0] as Extract<Recorded, { kind: 'handshake' }>;
    const capHs = capture[0] as Extract<Recorded, { kind: 'handshake' }>;
    expect(Object.keys(hs.headers)).toEqual(Object.keys(capHs.headers));
    expect(hs.url).toBe(capHs.url);
    const host = `127.0.0.1:${recorder.port}`;
    expect(hs.headers).toMatchObject({
      host,
      upgrade: capHs.headers.upgrade,
      'sec-websocket-version': capHs.headers['sec-websocket-version'],
      origin: `http://${host}`,
      authorization: capHs.headers.authorization,
    });
    expect(hs.headers.connection?.toLowerCase()).toBe(capHs.headers.connection);
    expect(hs.headers['sec-websocket-key']).toMatch(/^[+/0-9A-Za-z]{22}==$/);
    expect(hs.headers['sec-websocket-extensions']).toBeUndefined();

    // Metadata ≈100 ms after the handshake, before any audio.
    const meta = got[1] as Extract<Recorded, { kind: 'text' }>;
    const capMeta = capture[1] as Extract<Recorded, { kind: 'text' }>;
    expect(meta.text).toBe(capMeta.text);
    expect(meta.t).toBeGreaterThanOrEqual(90);

    // Frames: the captured size, every 20 ms on a clock that does not drift.
    const bins = got.filter((e): e is Extract<Recorded, { kind: 'binary' }> => e.kind === 'binary');
    const capSizes = new Set(capture.filter((e) => e.kind === 'binary').map((e) => (e as { bytes: number }).bytes));
    expect(bins).toHaveLength(frames);
    expect(new Set(bins.map((b) => b.bytes))).toEqual(capSizes);
    const span = (bins.at(-1)?.t ?? 0) - (bins[0]?.t ?? 0);
    expect(span).toBeGreaterThan((frames - 1) * 20 - 25);
    expect(span).toBeLessThan((frames - 1) * 20 + 60);
    const gaps = bins.slice(1).map((b, i) => b.t - (bins[i]?.t ?? 0)).sort((a, b) => a - b);
    expect(gaps[Math.floor(gaps.length / 2)]).toBeGreaterThan(15);
    expect(gaps[Math.floor(gaps.length / 2)]).toBeLessThan(25);
    expect(client.stats.sendLagMs).toHaveLength(frames);

    // Stop: the text, then 1000 "Normal closure".
    expect(got.at(-2)).toMatchObject({ kind: 'text', text: '{"bye":true}' });
    const capClose = capture.at(-1) as Extract<Recorded, { kind: 'close' }>;
    expect(got.at(-1)).toMatchObject({ kind: 'close', code: capClose.code, reason: capClose.reason });
    expect(await client.closed).toEqual({ code: 1000, reason: 'Normal closure', byRemote: false });
  });

  it('sends 320-byte frames at 8 kHz, and larger ones when STREAM_BUFFER_SIZE is 40 ms; no metadata text when none is given', async () => {
    recorder = await Recorder.start();
    const a = await AudioStreamClient.connect({ url: `ws://127.0.0.1:${recorder.port}/audio/a`, sampleRate: 8000, realtime: false });
    await a.sendFrames(countingPcm(160 * 5 + 10)); // 5 frames and a bit: the last is zero-padded
    await a.stop();
    await recorder.whenClosed();
    expect(shape(recorder.events)).toEqual(['handshake', 'binary', 'close']);
    expect(recorder.events.filter((e) => e.kind === 'binary').map((e) => (e as { bytes: number }).bytes)).toEqual([320, 320, 320, 320, 320, 320]);
    expect(frameBytes(16000, 40)).toBe(1280);
  });

  it('a refused handshake rejects with the HTTP status and the ::error body FreeSWITCH fires', async () => {
    recorder = await Recorder.start();
    recorder.refuseWith = 403;
    const err = await AudioStreamClient.connect({ url: `ws://127.0.0.1:${recorder.port}/refuse`, sampleRate: 8000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AudioStreamConnectError);
    expect(err).toMatchObject({ status: 403 });
    const bodies = capturedEventBodies();
    expect((err as AudioStreamConnectError).eventBody).toBe(bodies.get('mod_audio_stream::error')?.[0]);
    expect(EVENT_BODIES.connect).toBe(bodies.get('mod_audio_stream::connect')?.[0]);
  });

  it('a server that is not there rejects without a status', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    await expect(AudioStreamClient.connect({ url: `ws://127.0.0.1:${port}/x`, sampleRate: 8000 })).rejects.toMatchObject({ name: 'AudioStreamConnectError', status: undefined });
  });

  it('streamAudio replies become <tmp>/<uuid>_<n>.tmp.rNN files with the exact bytes and the captured ::play body; other text is json; files go when the stream ends', async () => {
    recorder = await Recorder.start();
    tmp = mkdtempSync(join(tmpdir(), 'asc-'));
    const client = await AudioStreamClient.connect({ url: `ws://127.0.0.1:${recorder.port}/audio/${UUID}`, sampleRate: 16000, realtime: false, tmpDir: tmp });
    const server = recorder.sockets[0];
    if (!server) throw new Error('no server socket');
    const plays: Array<{ file: string; body: string; bytes: number; sampleRate: number | undefined; content: Buffer }> = [];
    const jsons: string[] = [];
    client.on('play', (p) => plays.push({ ...p, content: readFileSync(p.file) }));
    client.on('json', (t) => jsons.push(t));
    const pcm16 = countingPcm(8000); // 0.5 s at 16 kHz, as in the capture
    const pcm8 = countingPcm(80, 7);
    const pcm24 = countingPcm(240, 9);
    const reply = (rate: number, pcm: Buffer): string => JSON.stringify({ type: 'streamAudio', data: { audioDataType: 'raw', sampleRate: rate, audioData: pcm.toString('base64') } });
    const sent = [
      reply(16000, pcm16),
      '{"type":"hello","data":{"x":1}}',
      'not json at all',
      reply(8000, pcm8),
      reply(11025, pcm8), // no extension for that rate: passed on as ::json
      '{"type":"streamAudio"}', // no data: ::json
      reply(24000, pcm24),
    ];
    const allIn = new Promise<void>((resolve) => {
      const check = (): void => {
        if (plays.length + jsons.length === sent.length) resolve();
      };
      client.on('play', check);
      client.on('json', check);
    });
    for (const m of sent) server.send(m);
    await allIn;

    const captured = capturedEventBodies();
    const capPlay = JSON.parse(captured.get('mod_audio_stream::play')?.[0] ?? '{}') as Record<string, unknown>;
    expect(plays.map((p) => p.file)).toEqual([`${tmp}/${UUID}_0.tmp.r16`, `${tmp}/${UUID}_1.tmp.r8`, `${tmp}/${UUID}_2.tmp.r24`]);
    expect(plays.map((p) => p.content)).toEqual([pcm16, pcm8, pcm24]);
    expect(plays.map((p) => p.bytes)).toEqual([pcm16.length, pcm8.length, pcm24.length]);
    const body0 = JSON.parse(plays[0]?.body ?? '{}') as Record<string, unknown>;
    expect(Object.keys(body0)).toEqual(Object.keys(capPlay));
    expect(body0).toEqual({ ...capPlay, file: `${tmp}/${UUID}_0.tmp.r16` });
    expect(capPlay.file).toBe(`/tmp/${UUID}_0.tmp.r16`);
    // The captured ::json bodies are the texts themselves.
    expect(jsons.slice(0, 2)).toEqual(captured.get('mod_audio_stream::json'));
    expect(jsons).toHaveLength(4);
    expect(client.stats).toMatchObject({ repliesReceived: 3, jsonReceived: 4 });

    await client.stop();
    for (const p of plays) expect(existsSync(p.file)).toBe(false);
  });

  it('keepFiles leaves reply files in place; a server close is byRemote with its code', async () => {
    recorder = await Recorder.start();
    tmp = mkdtempSync(join(tmpdir(), 'asc-'));
    const client = await AudioStreamClient.connect({ url: `ws://127.0.0.1:${recorder.port}/audio/k1`, sampleRate: 8000, realtime: false, tmpDir: tmp, keepFiles: true });
    const play = new Promise<string>((r) => client.once('play', (p) => r(p.file)));
    recorder.sockets[0]?.send(JSON.stringify({ type: 'streamAudio', data: { audioDataType: 'raw', sampleRate: 8000, audioData: Buffer.alloc(320).toString('base64') } }));
    const file = await play;
    recorder.sockets[0]?.close(4001, 'bye');
    expect(await client.closed).toEqual({ code: 4001, reason: 'bye', byRemote: true });
    expect(existsSync(file)).toBe(true);
  });

  it('tones continue their phase and silences are zero; sendFrames after stop resolves without sending', async () => {
    recorder = await Recorder.start();
    const client = await AudioStreamClient.connect({ url: `ws://127.0.0.1:${recorder.port}/audio/t`, sampleRate: 8000, realtime: false });
    await client.sendTone(100, 400);
    await client.sendSilence(40);
    expect(client.stats).toMatchObject({ framesSent: 7, bytesSent: 7 * 320 });
    await client.stop();
    await client.sendFrames(Buffer.alloc(640));
    expect(client.stats.framesSent).toBe(7);
  });
});
