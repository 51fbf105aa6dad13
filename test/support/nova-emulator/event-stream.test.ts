import { connect } from 'node:http2';
import { EventStreamCodec, Int64, type MessageHeaders } from '@smithy/core/event-streams';
import { fromUtf8, toUtf8 } from '@smithy/core/serde';
import { describe, expect, it } from 'vitest';
import { NovaEmulator } from './emulator.ts';
import {
  crc32, decodeMessage, encodeMessage, EventStreamError, FrameSplitter, type Headers,
} from './event-stream.ts';

const ALL_TYPES: Headers = {
  ':message-type': { type: 'string', value: 'event' },
  yes: { type: 'boolean', value: true },
  no: { type: 'boolean', value: false },
  b: { type: 'byte', value: -7 },
  s: { type: 'short', value: -1234 },
  i: { type: 'integer', value: 123456789 },
  l: { type: 'long', value: -5000000000n },
  bin: { type: 'binary', value: Buffer.from([0, 1, 2, 250]) },
  t: { type: 'timestamp', value: new Date(1_700_000_000_123) },
  u: { type: 'uuid', value: '0f8fad5b-d9cb-469f-a165-70867728950e' },
  utf: { type: 'string', value: 'grüße ☎' },
};

describe('event-stream codec', () => {
  it('crc32 matches the IEEE check value', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(Buffer.from('6789'), crc32(Buffer.from('12345')))).toBe(0xcbf43926);
  });

  it('round-trips every header type and the payload', () => {
    const payload = Buffer.from('{"bytes":"eyJldmVudCI6e319"}');
    const frame = encodeMessage({ headers: ALL_TYPES, payload });
    const m = decodeMessage(frame);
    expect(m.headers).toEqual(ALL_TYPES);
    expect(m.payload.equals(payload)).toBe(true);
    expect(decodeMessage(encodeMessage({ headers: {}, payload: Buffer.alloc(0) })).payload.length).toBe(0);
  });

  it('agrees with the SDK codec in both directions', () => {
    const sdk = new EventStreamCodec(toUtf8, fromUtf8);
    const sdkHeaders: MessageHeaders = {
      ':date': { type: 'timestamp', value: new Date(1_700_000_000_000) },
      ':chunk-signature': { type: 'binary', value: Uint8Array.from(Buffer.from('ab'.repeat(32), 'hex')) },
      n: { type: 'long', value: Int64.fromNumber(-42) },
      u: { type: 'uuid', value: '0f8fad5b-d9cb-469f-a165-70867728950e' },
      f: { type: 'boolean', value: false },
    };
    const body = fromUtf8('payload');
    const fromSdk = decodeMessage(Buffer.from(sdk.encode({ headers: sdkHeaders, body })));
    expect(fromSdk.headers[':date']).toEqual({ type: 'timestamp', value: new Date(1_700_000_000_000) });
    expect(fromSdk.headers.n).toEqual({ type: 'long', value: -42n });
    expect(fromSdk.headers.u).toEqual({ type: 'uuid', value: '0f8fad5b-d9cb-469f-a165-70867728950e' });
    expect(fromSdk.headers.f).toEqual({ type: 'boolean', value: false });
    expect(toUtf8(fromSdk.payload)).toBe('payload');

    const ours = encodeMessage({ headers: ALL_TYPES, payload: Buffer.from('x') });
    const back = sdk.decode(ours);
    expect(back.headers.yes).toEqual({ type: 'boolean', value: true });
    expect(back.headers.no).toEqual({ type: 'boolean', value: false });
    expect(back.headers.s).toEqual({ type: 'short', value: -1234 });
    expect((back.headers.l!.value as Int64).valueOf()).toBe(-5000000000);
    expect(back.headers.t).toEqual({ type: 'timestamp', value: new Date(1_700_000_000_123) });
    expect(back.headers.u).toEqual({ type: 'uuid', value: '0f8fad5b-d9cb-469f-a165-70867728950e' });
    expect(back.headers.utf).toEqual({ type: 'string', value: 'grüße ☎' });
  });

  it('rejects a corrupted prelude, payload or length', () => {
    const good = encodeMessage({ headers: ALL_TYPES, payload: Buffer.from('hello') });
    const prelude = Buffer.from(good);
    prelude[5] = prelude[5]! ^ 1; // headers length
    expect(() => decodeMessage(prelude)).toThrow(expect.objectContaining({ code: 'prelude-crc' }));
    const body = Buffer.from(good);
    body[body.length - 6] = body[body.length - 6]! ^ 0x20;
    expect(() => decodeMessage(body)).toThrow(expect.objectContaining({ code: 'message-crc' }));
    expect(() => decodeMessage(good.subarray(0, good.length - 1))).toThrow(expect.objectContaining({ code: 'length-mismatch' }));
    expect(() => decodeMessage(Buffer.alloc(8))).toThrow(EventStreamError);
  });

  it('splits frames however the bytes are chunked', () => {
    const frames = Array.from({ length: 40 }, (_, i) => encodeMessage({ headers: { n: { type: 'integer', value: i } }, payload: Buffer.alloc(i * 37, i) }));
    const all = Buffer.concat(frames);
    let seed = 7;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    for (const maxChunk of [1, 3, 5, 64, 1000, all.length]) {
      const splitter = new FrameSplitter();
      const out: Buffer[] = [];
      for (let pos = 0; pos < all.length;) {
        const n = Math.min(all.length - pos, 1 + (rnd() % maxChunk));
        out.push(...splitter.push(all.subarray(pos, pos + n)));
        pos += n;
      }
      expect(splitter.pendingBytes).toBe(0);
      expect(out.map((f) => decodeMessage(f).headers.n)).toEqual(frames.map((_, i) => ({ type: 'integer', value: i })));
    }
  });

  it('the emulator fails a stream whose frame has a bad CRC with a validationException', async () => {
    const emu = await NovaEmulator.start();
    const session = connect(emu.endpoint);
    try {
      const req = session.request({
        ':method': 'POST', ':path': `/model/${encodeURIComponent('amazon.nova-sonic-v1:0')}/invoke-with-bidirectional-stream`,
        'content-type': 'application/vnd.amazon.eventstream',
      });
      const inner = encodeMessage({
        headers: {
          ':event-type': { type: 'string', value: 'chunk' },
          ':message-type': { type: 'string', value: 'event' },
          ':content-type': { type: 'string', value: 'application/json' },
        },
        payload: JSON.stringify({ bytes: Buffer.from('{"event":{"sessionStart":{}}}').toString('base64') }),
      });
      const outer = encodeMessage({
        headers: { ':date': { type: 'timestamp', value: new Date() }, ':chunk-signature': { type: 'binary', value: Buffer.alloc(32, 1) } },
        payload: inner,
      });
      const corrupt = Buffer.from(outer);
      corrupt[corrupt.length - 10] = corrupt[corrupt.length - 10]! ^ 0xff;
      req.write(outer); // a good one first: it is accepted
      req.write(corrupt);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      await new Promise<void>((resolve) => req.on('end', () => resolve()));
      const reply = new FrameSplitter().push(Buffer.concat(chunks)).map(decodeMessage);
      expect(reply).toHaveLength(1);
      expect(reply[0]!.headers[':message-type']).toEqual({ type: 'string', value: 'exception' });
      expect(reply[0]!.headers[':exception-type']).toEqual({ type: 'string', value: 'validationException' });
      expect(JSON.parse(reply[0]!.payload.toString()).message).toMatch(/message CRC mismatch/);
      const s = emu.sessions[0]!;
      expect(s.crcErrors).toBe(1);
      expect(s.events.map((e) => e.name)).toEqual(['sessionStart']);
      expect(s.closeReason).toBe('protocol-error');
      req.close();
    } finally {
      session.destroy();
      await emu.close();
    }
  });
});
