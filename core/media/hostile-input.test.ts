import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect as tcpConnect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { mediaServerHarness, type LogLine } from '../../test/support/media-server-harness.ts';
import { AudioStreamClient, countingPcm } from '../../test/support/audio-stream-client/index.ts';
import type { SwitchboardError } from '../errors.ts';
import { MediaServer, type AudioStream } from './index.ts';

/** Nothing FreeSWITCH — or anyone who reaches the port — sends may crash the process or hang a stream. */

const SECRET = 'hostile-input-test-secret-0123456789';

const media = mediaServerHarness({ secret: SECRET, maxMessageBytes: 4096, closeTimeoutMs: 200 });
const { cleanups } = media;
const harness = media.start;

/** A client frame: FIN + opcode, masked unless told otherwise; lengths encoded as RFC 6455 says (or as given). */
function frame(opcode: number, payload: Buffer, o: { mask?: boolean; fin?: boolean; rsv?: number; claimedLength?: bigint } = {}): Buffer {
  const mask = o.mask ?? true;
  const first = ((o.fin ?? true) ? 0x80 : 0) | ((o.rsv ?? 0) << 4) | opcode;
  const len = o.claimedLength ?? BigInt(payload.length);
  let header: Buffer;
  if (len < 126n) header = Buffer.from([first, (mask ? 0x80 : 0) | Number(len)]);
  else if (len < 65536n) {
    header = Buffer.alloc(4);
    header[0] = first;
    header[1] = (mask ? 0x80 : 0) | 126;
    header.writeUInt16BE(Number(len), 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = first;
    header[1] = (mask ? 0x80 : 0) | 127;
    header.writeBigUInt64BE(len, 2);
  }
  if (!mask) return Buffer.concat([header, payload]);
  const key = randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] = (body[i] ?? 0) ^ (key[i & 3] ?? 0);
  return Buffer.concat([header, key, body]);
}

async function rawSocket(port: number): Promise<Socket> {
  const sock = tcpConnect(port, '127.0.0.1');
  sock.on('error', () => undefined);
  cleanups.push(() => void sock.destroy());
  await once(sock, 'connect');
  return sock;
}

/** The HTTP answer to whatever was written, as text (until the server closes or 2 s pass). */
async function answer(sock: Socket): Promise<string> {
  const chunks: Buffer[] = [];
  sock.on('data', (c: Buffer) => chunks.push(c));
  await Promise.race([once(sock, 'close'), new Promise((r) => setTimeout(r, 2000).unref())]);
  return Buffer.concat(chunks).toString('latin1');
}

/** An authenticated raw TCP websocket: the 101 is read and discarded. */
async function rawStream(server: MediaServer, port: number, callId: string): Promise<{ sock: Socket; stream: AudioStream }> {
  const issued = server.issue(callId);
  const sock = await rawSocket(port);
  const waiting = server.waitForStream(callId, { token: issued.token });
  sock.write(`GET /audio/${callId}?rate=8000 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${issued.token}\r\n\r\n`);
  sock.resume();
  return { sock, stream: await waiting };
}

describe('hostile input after the handshake', () => {
  const cases: Array<{ name: string; bytes: () => Buffer; code: number }> = [
    { name: 'an unmasked frame', bytes: () => frame(2, Buffer.alloc(320), { mask: false }), code: 1002 },
    { name: 'a reserved opcode', bytes: () => frame(3, Buffer.alloc(4)), code: 1002 },
    { name: 'RSV1 without an extension', bytes: () => frame(2, Buffer.alloc(4), { rsv: 4 }), code: 1002 },
    { name: 'text that is not UTF-8', bytes: () => frame(1, Buffer.from([0xc3, 0x28, 0xff])), code: 1007 },
    { name: 'a length header of 2^40 bytes', bytes: () => frame(2, Buffer.alloc(0), { claimedLength: 2n ** 40n }), code: 1009 },
    { name: 'fragments adding up past the limit', bytes: () => Buffer.concat([frame(2, Buffer.alloc(3000), { fin: false }), frame(0, Buffer.alloc(3000))]), code: 1009 },
    { name: 'a continuation with nothing to continue', bytes: () => frame(0, Buffer.alloc(4)), code: 1002 },
    { name: 'a ping longer than 125 bytes', bytes: () => frame(9, Buffer.alloc(200)), code: 1002 },
    { name: 'a close frame with an invalid code', bytes: () => frame(8, Buffer.from([0x03, 0xe7])), code: 1002 },
    { name: '20000 empty fragments', bytes: () => Buffer.concat([frame(2, Buffer.alloc(0), { fin: false }), ...Array.from({ length: 20_000 }, () => frame(0, Buffer.alloc(0), { fin: false }))]), code: 1008 },
    { name: 'random bytes', bytes: () => Buffer.from('8f8fdeadbeefcafebabe00ff00ff1234', 'hex'), code: 1002 },
  ];

  it.each(cases)('$name: counted, logged once, closed with $code by Switchboard', async ({ bytes, code }) => {
    const { server, port, logs } = await harness();
    const { sock, stream } = await rawStream(server, port, 'h1');
    const errors: SwitchboardError[] = [];
    stream.on('error', (e) => errors.push(e));
    sock.write(bytes());
    const info = await stream.closed;
    expect(info).toMatchObject({ code, byRemote: false });
    expect(stream.stats.malformed).toBe(1);
    expect(errors.map((e) => e.code)).toEqual(['SB_MEDIA_PROTOCOL']);
    expect(logs.filter((l) => l.code === 'SB_MEDIA_PROTOCOL' && l.level === 40)).toHaveLength(1);
    expect(server.streams.size).toBe(0);
  });

  it('an oversized message closes 1009, logs, and the client sees 1009', async () => {
    const { server, logs } = await harness();
    const issued = server.issue('big');
    const waiting = server.waitForStream('big');
    const client = await AudioStreamClient.connect({ url: issued.url, headers: issued.headers, sampleRate: 8000, realtime: false });
    cleanups.push(() => client.terminate());
    const stream = await waiting;
    await client.sendRaw(Buffer.alloc(4098), { binary: true });
    expect(await stream.closed).toMatchObject({ code: 1009, byRemote: false });
    expect(await client.closed).toMatchObject({ code: 1009, byRemote: true });
    expect(logs.some((l) => l.code === 'SB_MEDIA_PROTOCOL' && /size limit; closing 1009/.test(l.msg))).toBe(true);
  });

  it('text that is not JSON, odd-length and empty binary frames are counted and survived; good frames keep flowing', async () => {
    const { server, logs } = await harness();
    const issued = server.issue('odd');
    const waiting = server.waitForStream('odd');
    const client = await AudioStreamClient.connect({ url: issued.url, headers: issued.headers, sampleRate: 8000, realtime: false, metadata: 'not json metadata' });
    cleanups.push(() => client.terminate());
    const stream = await waiting;
    const audio: Buffer[] = [];
    const texts: string[] = [];
    stream.on('audio', (f) => audio.push(f));
    stream.on('text', (t) => texts.push(t));
    await client.sendFrames(countingPcm(160));
    await client.sendRaw(Buffer.alloc(321), { binary: true });
    await client.sendRaw(Buffer.alloc(0), { binary: true });
    await client.sendRaw('{{{ nope', { binary: false });
    const last = new Promise<void>((r) => stream.once('audio', () => r()));
    await client.sendFrames(countingPcm(160, 160));
    await last;
    expect(stream.metadata).toBe('not json metadata');
    expect(texts).toEqual(['{{{ nope']);
    expect(audio.map((f) => f.length)).toEqual([320, 320]);
    expect(Buffer.concat(audio).equals(countingPcm(320))).toBe(true);
    expect(stream.stats).toMatchObject({ framesIn: 2, malformed: 4, textsIn: 2 });
    expect(stream.isOpen).toBe(true);
    // The first is a warning, the rest debug: a peer cannot flood the log.
    expect(logs.filter((l) => l.code === 'SB_MEDIA_PROTOCOL' && l.level === 40)).toHaveLength(1);
    expect(logs.filter((l) => l.code === 'SB_MEDIA_PROTOCOL' && l.level === 20)).toHaveLength(3);
  });

  it('a listener that throws is logged; the stream and the process carry on', async () => {
    const { server, logs } = await harness();
    const issued = server.issue('thrower');
    const waiting = server.waitForStream('thrower');
    const client = await AudioStreamClient.connect({ url: issued.url, headers: issued.headers, sampleRate: 8000, realtime: false });
    cleanups.push(() => client.terminate());
    const stream = await waiting;
    let calls = 0;
    stream.on('audio', () => {
      calls++;
      throw new Error('bug in a consumer');
    });
    const two = new Promise<void>((r) => stream.on('audio', () => calls === 2 && r()));
    await client.sendFrames(countingPcm(320));
    await two;
    expect(stream.isOpen).toBe(true);
    expect(logs.filter((l) => l.msg === 'audio stream listener threw')).toHaveLength(2);
  });

  it('a half-sent frame and a vanished socket end as 1006 by the remote', async () => {
    const { server, port } = await harness();
    const { sock, stream } = await rawStream(server, port, 'half');
    sock.write(frame(2, Buffer.alloc(320)).subarray(0, 100));
    sock.destroy();
    expect(await stream.closed).toMatchObject({ code: 1006, byRemote: true });
  });
});

describe('hostile input before the handshake', () => {
  const cases: Array<{ name: string; request: () => string; status: RegExp }> = [
    { name: 'garbage instead of HTTP', request: () => '\x00\x01\x02hello\r\n\r\n', status: /^HTTP\/1\.1 400 / },
    { name: 'an upgrade without a key', request: () => 'GET /audio/c1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n', status: /^HTTP\/1\.1 400 / },
    { name: 'an old protocol version', request: () => `GET /audio/c1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 8\r\n\r\n`, status: /^HTTP\/1\.1 400 / },
    { name: 'a URL that is not a path', request: () => `GET http://evil/audio/c1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`, status: /^HTTP\/1\.1 400 / },
    { name: 'a 32 KiB header', request: () => `GET /audio/c1 HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(32 * 1024)}\r\n\r\n`, status: /^HTTP\/1\.1 431 / },
    { name: 'a POST upgrade', request: () => `POST /audio/c1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n`, status: /^HTTP\/1\.1 400 / },
  ];

  it.each(cases)('$name is answered and closed; the server keeps serving', async ({ request, status }) => {
    const { server, port } = await harness();
    const sock = await rawSocket(port);
    const reply = answer(sock);
    sock.write(request());
    expect(await reply).toMatch(status);
    // Still serving.
    const issued = server.issue('after');
    const waiting = server.waitForStream('after');
    const client = await AudioStreamClient.connect({ url: issued.url, headers: issued.headers, sampleRate: 8000, realtime: false });
    cleanups.push(() => client.terminate());
    await waiting;
    expect(server.stats.accepted).toBe(1);
  });

  it('a client that connects and says nothing does not hold close() up', async () => {
    const { server, port } = await harness();
    await rawSocket(port);
    await server.close();
  });
});
