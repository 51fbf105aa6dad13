/**
 * How NovaSession's client frames and signs the bidirectional stream: the SDK's two extension
 * points for event streams (`eventStreamSerdeProvider`, `eventStreamPayloadHandlerProvider`),
 * filled with implementations that write exactly the SDK's bytes for less CPU.
 *
 * The SDK's generic path costs ~145 µs of CPU per event (fixture measurement), and a call
 * carries 25–50 of them a second each way: schema-driven JSON with a JavaScript base64 loop,
 * CRC-32 in JavaScript, a base64 regex over every response, three Node stream hops and several
 * promises per event. Here a `chunk` event (nearly all the traffic) is one buffer, native base64
 * and CRC-32 (event-frames.ts), signed synchronously in the chain SigV4 prescribes
 * (event-signing.ts) for the region and service the SDK signed the request for. Other events and
 * exceptions go through the SDK's codec and unmarshaller unchanged, and a request signed any
 * other way than a SigV4 header has its events signed by the SDK's signer. Tests check the
 * request bytes are identical to the SDK's for the same clock, and the events read back equal.
 */
import { Readable, Transform, pipeline } from 'node:stream';
import type { BedrockRuntimeClientConfig } from '@aws-sdk/client-bedrock-runtime';
import { EventStreamCodec, getMessageUnmarshaller } from '@smithy/core/event-streams';
import { FrameReader, chunkEventBytes, chunkEventFrame, dateHeader, signedFrame } from './event-frames.ts';
import { EventChainSigner, scopeOf } from './event-signing.ts';

type SerdeProvider = NonNullable<BedrockRuntimeClientConfig['eventStreamSerdeProvider']>;
type Marshaller = ReturnType<SerdeProvider>;
type PayloadHandlerProvider = NonNullable<BedrockRuntimeClientConfig['eventStreamPayloadHandlerProvider']>;
type PayloadHandler = ReturnType<PayloadHandlerProvider>;
type Codec = InstanceType<typeof EventStreamCodec>;
type Message = Parameters<Codec['encode']>[0];
type Utf8 = { utf8Encoder: (input: Uint8Array) => string; utf8Decoder: (input: string) => Uint8Array };

/** The request event NovaSession sends: `{ chunk: { bytes } }` and nothing else. */
function chunkOf(event: unknown): Uint8Array | undefined {
  if (typeof event !== 'object' || event === null) return undefined;
  const chunk = (event as { chunk?: { bytes?: unknown } }).chunk;
  const bytes = chunk?.bytes;
  if (!(bytes instanceof Uint8Array)) return undefined;
  for (const key in event) if (key !== 'chunk') return undefined;
  return bytes;
}

/** `eventStreamSerdeProvider`: frames request events, reads response frames. */
export class BedrockStreamMarshaller implements Marshaller {
  private readonly codec: Codec;
  private readonly toUtf8: Utf8['utf8Encoder'];

  constructor(options: Utf8) {
    this.codec = new EventStreamCodec(options.utf8Encoder, options.utf8Decoder);
    this.toUtf8 = options.utf8Encoder;
  }

  /** A stream of encoded, unsigned frames, ending with the empty end-of-stream frame as the SDK does. */
  serialize(input: AsyncIterable<unknown>, serializer: (event: never) => Message): Readable {
    const codec = this.codec;
    async function* frames(): AsyncGenerator<Uint8Array> {
      for await (const event of input) {
        const bytes = chunkOf(event);
        yield bytes ? chunkEventFrame(bytes) : codec.encode(serializer(event as never));
      }
      yield new Uint8Array(0);
    }
    // One frame read ahead: audio waiting for HTTP/2 stays in NovaSession's queue, where waiting
    // batches are joined into one event and the oldest dropped when it overflows.
    return Readable.from(frames(), { objectMode: true, highWaterMark: 1 });
  }

  /** Response events: `chunk` events read here, every other frame by the SDK's unmarshaller. */
  readonly deserialize: Marshaller['deserialize'] = <T>(body: unknown, deserializer: (input: Record<string, Message>) => Promise<T>): AsyncIterable<T> => {
    const codec = this.codec;
    const unmarshal = getMessageUnmarshaller(deserializer as never, this.toUtf8) as (message: Message) => Promise<T | undefined>;
    const source = body as AsyncIterable<Uint8Array>;
    return {
      async *[Symbol.asyncIterator]() {
        const reader = new FrameReader();
        for await (const data of source) {
          for (const frame of reader.push(data)) {
            const bytes = chunkEventBytes(frame);
            if (bytes) {
              yield { chunk: { bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length) } } as T;
              continue;
            }
            const event = await unmarshal(codec.decode(frame));
            if (event !== undefined) yield event;
          }
        }
        if (reader.partial > 0) throw new Error('Truncated event message received.');
      },
    };
  };
}

export const bedrockStreamSerde: SerdeProvider = (options) => new BedrockStreamMarshaller(options as Utf8);

interface EventSigner {
  sign(event: { headers: Uint8Array; payload: Uint8Array }, options: { signingDate: Date; priorSignature: string; eventStreamCredentials?: unknown }): Promise<string>;
}

interface HandlerOptions {
  messageSigner: () => Promise<EventSigner>;
  credentials?: () => Promise<unknown>;
  systemClockOffset?: number;
}

/**
 * `eventStreamPayloadHandlerProvider`: signs each frame of the request body in a chain seeded by
 * the request's own signature, as SigV4 event streams require, and wraps it in the signed
 * envelope (`:date`, `:chunk-signature`).
 */
export class SignedEventStream implements PayloadHandler {
  constructor(private readonly options: HandlerOptions) {}

  readonly handle: PayloadHandler['handle'] = async (next, args, context) => {
    const request = args.request as { body: unknown; headers?: Record<string, string>; query?: Record<string, unknown> };
    const payload = request.body;
    if (!(payload instanceof Readable)) throw new Error('Eventstream payload must be a Readable stream.');
    const authorization = request.headers?.authorization;
    let seed = /Signature=(\w+)$/.exec(authorization ?? '')?.[1] ?? (request.query?.['X-Amz-Signature'] as string | undefined) ?? '';
    if ((context as { __staticSignature?: boolean } | undefined)?.__staticSignature) seed = '';
    // Resolved once per stream, as the SDK does: a rotation mid-call must not break the chain.
    const credentials = (await this.options.credentials?.()) as { secretAccessKey?: string } | undefined;
    const scope = scopeOf(authorization);
    const sign = scope && credentials?.secretAccessKey
      ? signWith(new EventChainSigner(credentials.secretAccessKey, { ...scope, signature: seed }))
      : signWithSdk(await this.options.messageSigner(), seed, credentials);
    const offset = this.options.systemClockOffset ?? 0;
    let fail!: (err: Error) => void;
    const failed = new Promise<never>((_, reject) => (fail = reject));
    failed.catch(() => undefined);
    const signing = new Transform({
      readableObjectMode: true,
      writableObjectMode: true,
      highWaterMark: 1,
      transform(inner: Uint8Array, _encoding, done) {
        const ms = Date.now() + offset;
        const date = dateHeader(ms);
        const signature = sign(ms, date, inner);
        if (typeof signature === 'string') done(null, signedFrame(date, signature, inner));
        else signature.then((sig) => done(null, signedFrame(date, sig, inner)), done);
      },
    });
    // Before the response, send() rejects with a failure; after it, the body errors rather than
    // ending cleanly, so the service never takes a cut-off stream for a finished one.
    pipeline(payload, signing, (err) => {
      if (err) fail(new Error(`Signing the event stream failed: ${err.message}`, { cause: err }));
    });
    const body = signing;
    request.body = body;
    try {
      return await Promise.race([next(args), failed]);
    } catch (err) {
      body.destroy();
      throw err;
    }
  };
}

type Sign = (ms: number, date: Buffer, inner: Uint8Array) => string | Promise<string>;

function signWith(chain: EventChainSigner): Sign {
  return (ms, date, inner) => chain.sign(ms, date, inner);
}

/** Anything but a SigV4 header signature with a secret key (another auth scheme): the SDK's signer, as the SDK would. */
function signWithSdk(signer: EventSigner, seed: string, eventStreamCredentials: unknown): Sign {
  let prior = seed;
  return async (ms, date, inner) => {
    prior = await signer.sign({ headers: date, payload: inner }, { signingDate: new Date(ms), priorSignature: prior, eventStreamCredentials });
    return prior;
  };
}

export const signedEventStream: PayloadHandlerProvider = (options) => new SignedEventStream(options as HandlerOptions);
