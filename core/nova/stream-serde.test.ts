/**
 * The client's own event-stream framing and signing (stream-serde.ts) against the SDK's: the same
 * input events at the same clock must leave as the same bytes, and the same response bytes must
 * read back as the same events and errors. Both clients talk to a capture server over h2c.
 */
import { once } from 'node:events';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  BedrockRuntimeClient, InvokeModelWithBidirectionalStreamCommand,
} from '@aws-sdk/client-bedrock-runtime';
import { NodeHttp2Handler } from '@smithy/node-http-handler';
import { silentLogger } from '../log.ts';
import { encodeMessage, FrameSplitter, decodeMessage } from '../../test/support/nova-emulator/event-stream.ts';
import { encodeException } from '../../test/support/nova-emulator/output-frames.ts';
import { createNovaClient } from './client.ts';
import { chunkEventBytes, dateHeader, FrameReader } from './event-frames.ts';
import { EventChainSigner, scopeOf } from './event-signing.ts';

interface Capture {
  endpoint: string;
  /** Raw request bodies, one per stream, once each request has ended. */
  bodies: Buffer[];
  authorizations: string[];
  close(): Promise<void>;
}

/** An h2c server that records request bodies and answers with `reply` (written in `pieceBytes` pieces). */
async function captureServer(reply: Buffer[], pieceBytes = 0): Promise<Capture> {
  const bodies: Buffer[] = [];
  const authorizations: string[] = [];
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    authorizations.push(String(headers.authorization));
    const parts: Buffer[] = [];
    stream.respond({ ':status': 200, 'content-type': 'application/vnd.amazon.eventstream' });
    const bytes = Buffer.concat(reply);
    const [first, ...rest] = reply;
    // The first event at once (send() resolves on it); the rest once the request has ended.
    stream.write(first);
    stream.on('data', (d: Buffer) => parts.push(d));
    stream.on('end', () => {
      bodies.push(Buffer.concat(parts));
      const tail = bytes.subarray(first?.length ?? 0);
      if (pieceBytes > 0) for (let at = 0; at < tail.length; at += pieceBytes) stream.write(tail.subarray(at, at + pieceBytes));
      else stream.write(Buffer.concat(rest));
      stream.end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bodies,
    authorizations,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

function sdkClient(endpoint: string): BedrockRuntimeClient {
  return new BedrockRuntimeClient({ endpoint, region: 'eu-west-2', credentials, maxAttempts: 1, requestHandler: new NodeHttp2Handler({ disableConcurrentStreams: true }) });
}

function ownClient(endpoint: string): BedrockRuntimeClient {
  return createNovaClient({ endpoint, region: 'eu-west-2', credentials, logger: silentLogger });
}

const chunk = (json: string): Buffer =>
  encodeMessage({ headers: { ':message-type': { type: 'string', value: 'event' }, ':event-type': { type: 'string', value: 'chunk' }, ':content-type': { type: 'string', value: 'application/json' } }, payload: JSON.stringify({ bytes: Buffer.from(json).toString('base64') }) });

/** Input events of every shape NovaSession sends, with base64 lengths of every remainder mod 3. */
function inputEvents(): Uint8Array[] {
  const events = [JSON.stringify({ event: { sessionStart: { inferenceConfiguration: { maxTokens: 1024, topP: 0.9, temperature: 0.7 } } } })];
  for (const n of [0, 1, 2, 3, 640, 641, 1280, 9600]) {
    const pcm = Buffer.alloc(n);
    for (let i = 0; i < n; i++) pcm[i] = (i * 37) & 0xff;
    events.push(`{"event":{"audioInput":{"promptName":"p","contentName":"c","content":"${pcm.toString('base64')}"}}}`);
  }
  events.push(JSON.stringify({ event: { textInput: { promptName: 'p', contentName: 't', content: 'Grüße — ☎ "quoted" \\ back' } } }));
  return events.map((e) => Buffer.from(e, 'utf8'));
}

async function exchange(client: BedrockRuntimeClient, events: Uint8Array[]): Promise<{ read: string[]; error?: { name: string; message: string } }> {
  async function* body(): AsyncGenerator<{ chunk: { bytes: Uint8Array } }> {
    for (const bytes of events) yield { chunk: { bytes } };
  }
  const res = await client.send(new InvokeModelWithBidirectionalStreamCommand({ modelId: 'amazon.nova-sonic-v1:0', body: body() }));
  const read: string[] = [];
  try {
    for await (const part of res.body ?? []) read.push(part.chunk?.bytes ? Buffer.from(part.chunk.bytes).toString('utf8') : JSON.stringify(part));
  } catch (err) {
    return { read, error: { name: (err as Error).name, message: (err as Error).message } };
  }
  return { read };
}

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** The one random input of a request signature, fixed so that both clients' seeds can match. */
function fixInvocationId(client: BedrockRuntimeClient): BedrockRuntimeClient {
  client.middlewareStack.addRelativeTo(
    ((next: (args: { request: unknown }) => Promise<unknown>) => (args: { request: unknown }) => {
      (args.request as { headers: Record<string, string> }).headers['amz-sdk-invocation-id'] = '00000000-0000-4000-8000-000000000000';
      return next(args);
    }) as never,
    { relation: 'before', toMiddleware: 'httpSigningMiddleware', name: 'fixInvocationId' } as never,
  );
  return client;
}

async function both(reply: Buffer[], pieceBytes = 0) {
  const server = await captureServer(reply, pieceBytes);
  const sdk = fixInvocationId(sdkClient(server.endpoint));
  const own = fixInvocationId(ownClient(server.endpoint));
  cleanup.push(() => server.close(), () => sdk.destroy(), () => own.destroy());
  // One clock for both: the signatures cover the date.
  vi.spyOn(Date, 'now').mockReturnValue(Date.UTC(2026, 10, 23, 9, 30, 15, 123));
  const a = await exchange(sdk, inputEvents());
  const b = await exchange(own, inputEvents());
  await vi.waitFor(() => expect(server.bodies).toHaveLength(2));
  return { server, sdk: a, own: b };
}

describe('the client frames and signs exactly as the SDK does', () => {
  it('sends byte-identical signed request frames (same seed signature, same chain, same end frame)', async () => {
    const { server } = await both([chunk('{"event":{"completionStart":{}}}')]);
    const [sdkBody, ownBody] = server.bodies as [Buffer, Buffer];
    expect(server.authorizations[1]).toBe(server.authorizations[0]);
    expect(ownBody.length).toBeGreaterThan(9600);
    expect(ownBody.equals(sdkBody)).toBe(true);
    // 10 events + the signed empty end-of-stream frame, each envelope carrying an inner chunk event.
    const frames = new FrameSplitter().push(ownBody);
    expect(frames).toHaveLength(inputEvents().length + 1);
    const last = decodeMessage(frames.at(-1) as Buffer);
    expect(last.payload.length).toBe(0);
    expect(Object.keys(last.headers)).toEqual([':date', ':chunk-signature']);
  });

  it('reads responses as the SDK does: chunk events in any spelling, split anywhere, then an exception', async () => {
    const reply = [
      chunk('{"event":{"completionStart":{}}}'),
      chunk('{"event":{"audioOutput":{"content":"AAECAw=="}}}'),
      chunk(''),
      // The same JSON spelt differently: read through the SDK's own path.
      encodeMessage({ headers: { ':message-type': { type: 'string', value: 'event' }, ':event-type': { type: 'string', value: 'chunk' } }, payload: `{ "bytes" : "${Buffer.from('{"x":1}').toString('base64')}" }` }),
      encodeMessage({ headers: { ':message-type': { type: 'string', value: 'event' }, ':event-type': { type: 'string', value: 'chunk' }, ':seq': { type: 'long', value: 7n } }, payload: JSON.stringify({ bytes: Buffer.from('{"y":2}').toString('base64') }) }),
      encodeException('throttlingException', { message: 'Too many requests, please wait before trying again.' }),
    ];
    for (const piece of [0, 7]) {
      const { sdk, own } = await both(reply, piece);
      expect(own.read).toEqual(['{"event":{"completionStart":{}}}', '{"event":{"audioOutput":{"content":"AAECAw=="}}}', '', '{"x":1}', '{"y":2}']);
      expect(own).toEqual(sdk);
      expect(own.error).toEqual({ name: 'ThrottlingException', message: 'Too many requests, please wait before trying again.' });
      for (const f of cleanup.splice(0).reverse()) await f();
    }
  });

  it('refuses a corrupt frame instead of reading past it', async () => {
    const bad = chunk('{"event":{"audioOutput":{"content":"AAAA"}}}');
    bad[bad.length - 20] = (bad[bad.length - 20] as number) ^ 0xff;
    const { own } = await both([chunk('{"event":{"completionStart":{}}}'), bad]);
    expect(own.read).toEqual(['{"event":{"completionStart":{}}}']);
    expect(own.error?.message).toMatch(/checksum/);
  });
});

describe('FrameReader and chunkEventBytes', () => {
  it('gathers frames split at every byte and reads their bytes', () => {
    const frames = [chunk('{"a":1}'), chunk(''), chunk('x'.repeat(5000))];
    const all = Buffer.concat(frames);
    const reader = new FrameReader();
    const out: Buffer[] = [];
    for (let i = 0; i < all.length; i++) out.push(...reader.push(all.subarray(i, i + 1)));
    expect(reader.partial).toBe(0);
    expect(out.map((f) => chunkEventBytes(f)?.toString())).toEqual(['{"a":1}', '', 'x'.repeat(5000)]);
  });

  it('throws on an impossible length and reports a frame left unfinished', () => {
    expect(() => new FrameReader().push(Buffer.from([0, 0, 0, 3, 0, 0, 0, 0]))).toThrow(/frame of 3 bytes/);
    expect(() => new FrameReader().push(Buffer.from([0x7f, 0, 0, 0]))).toThrow(/bytes/);
    const reader = new FrameReader();
    reader.push(chunk('{"a":1}').subarray(0, 10));
    expect(reader.partial).toBe(10);
  });

  it('leaves exceptions and other payload spellings to the SDK', () => {
    expect(chunkEventBytes(encodeException('validationException', { message: 'no' }))).toBeUndefined();
    const escaped = encodeMessage({ headers: { ':message-type': { type: 'string', value: 'event' }, ':event-type': { type: 'string', value: 'chunk' } }, payload: '{"bytes":"YWJj\\/"}' });
    expect(chunkEventBytes(escaped)).toBeUndefined();
  });
});

describe('EventChainSigner', () => {
  it('signs the chain as the SDK signer does, across seconds and a change of day', async () => {
    const client = new BedrockRuntimeClient({ region: 'eu-west-2', credentials, maxAttempts: 1 });
    cleanup.push(() => client.destroy());
    type SdkSigner = { sign(m: { message: { headers: Record<string, { type: 'timestamp'; value: Date }>; body: Uint8Array }; priorSignature: string }, o: { signingDate: Date }): Promise<{ signature: string }> };
    const sdk = (await (client.config as unknown as { messageSigner: () => Promise<SdkSigner> }).messageSigner());
    const seed = 'a'.repeat(64);
    const own = new EventChainSigner(credentials.secretAccessKey, { region: 'eu-west-2', service: 'bedrock', signature: seed });
    let prior = seed;
    const start = Date.UTC(2026, 10, 23, 23, 59, 58, 900);
    for (const [i, dt] of [0, 50, 1100, 1650, 2400, 86_400_000].entries()) {
      const ms = start + dt;
      const body = Buffer.from(`event ${i}`.repeat(i * 100));
      const expected = await sdk.sign({ message: { headers: { ':date': { type: 'timestamp', value: new Date(ms) } }, body }, priorSignature: prior }, { signingDate: new Date(ms) });
      prior = expected.signature;
      expect(own.sign(ms, dateHeader(ms), body)).toBe(prior);
    }
  });

  it('reads region, service and seed from a SigV4 Authorization header only', () => {
    expect(scopeOf(`AWS4-HMAC-SHA256 Credential=AKID/20261123/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0f'.repeat(32)}`)).toEqual({ region: 'us-east-1', service: 'bedrock', signature: '0f'.repeat(32) });
    expect(scopeOf('Bearer abc')).toBeUndefined();
    expect(scopeOf(undefined)).toBeUndefined();
  });
});
