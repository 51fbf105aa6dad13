/**
 * The Nova Sonic emulator: a cleartext HTTP/2 server on 127.0.0.1 that answers
 * POST /model/<modelId>/invoke-with-bidirectional-stream like Bedrock Runtime, so the real
 * @aws-sdk/client-bedrock-runtime (with NodeHttp2Handler) talks to it unchanged.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  constants as h2, createServer, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { EmulatedSession, withTimeout, type WaitOptions } from './emulated-session.ts';
import { MODEL_VOICES, type HttpError, type ScriptSource, type SessionInfo, type SessionScript } from './scripts.ts';
import { SessionEngine } from './session.ts';

export interface NovaEmulatorOptions {
  /**
   * Multiplies every emulator timer: the stream time limit, think time, audio pacing and
   * play-out, 'slow' delays and `afterMs` failures. Turn detection is in audio time and is not
   * scaled. Default 1.
   */
  timeScale?: number;
  /** The behaviour of each stream; a function is called once per stream. Default: echo. */
  script?: ScriptSource;
  /** Keep audioInput/audioOutput `content` in the recorded events (costs memory). Default false. */
  recordAudio?: boolean;
  /** Streams open at once beyond this are refused with 429 ThrottlingException. Default unlimited. */
  maxConcurrentStreams?: number;
  /** Model ids accepted, with their voices. Default MODEL_VOICES (Nova Sonic v1 and Nova 2 Sonic). */
  models?: Readonly<Record<string, readonly string[]>>;
}

const PATH = /^\/model\/([^/]+)\/invoke-with-bidirectional-stream$/;
const NOVA_2 = 'amazon.nova-2-sonic-v1:0';

export interface NovaEmulator {
  /** Emitted for every stream as it opens (before any input is read). */
  on(event: 'session', listener: (session: EmulatedSession) => void): this;
  once(event: 'session', listener: (session: EmulatedSession) => void): this;
  off(event: 'session', listener: (session: EmulatedSession) => void): this;
}

export class NovaEmulator extends EventEmitter {
  /** 'http://127.0.0.1:<port>' */
  readonly endpoint: string;
  /** Every stream seen, in order of arrival (including refused ones). */
  readonly sessions: EmulatedSession[] = [];
  /** HTTP/2 connections accepted so far (the SDK opens one per bidirectional stream). */
  connections = 0;

  private script: ScriptSource;
  private readonly timeScale: number;
  private readonly recordAudio: boolean;
  private readonly maxConcurrent: number;
  private readonly models: Readonly<Record<string, readonly string[]>>;
  private readonly engines = new Map<EmulatedSession, SessionEngine>();
  private readonly h2sessions = new Set<ServerHttp2Session>();
  private open = 0;
  private closing: Promise<void> | null = null;

  private constructor(private readonly server: Http2Server, options: NovaEmulatorOptions) {
    super();
    const { port } = server.address() as AddressInfo;
    this.endpoint = `http://127.0.0.1:${port}`;
    this.script = options.script ?? {};
    this.timeScale = options.timeScale ?? 1;
    this.recordAudio = options.recordAudio ?? false;
    this.maxConcurrent = options.maxConcurrentStreams ?? Infinity;
    this.models = options.models ?? MODEL_VOICES;
    server.on('session', (s: ServerHttp2Session) => {
      this.connections++;
      this.h2sessions.add(s);
      s.on('error', () => { /* a client that vanished; its streams see 'close' */ });
      s.on('close', () => this.h2sessions.delete(s));
    });
    server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => this.onStream(stream, headers));
  }

  static async start(options: NovaEmulatorOptions = {}): Promise<NovaEmulator> {
    if (options.timeScale !== undefined && !(options.timeScale > 0)) throw new RangeError('timeScale must be > 0');
    const server = createServer({
      settings: { maxConcurrentStreams: 10_000, initialWindowSize: 1 << 20 },
      maxSessionMemory: 64,
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new NovaEmulator(server, options);
  }

  /** Use another script for streams that open from now on. */
  setScript(script: ScriptSource): void {
    this.script = script;
  }

  /** The first session (already seen or still to come) for which `pred` holds. */
  waitForSession(pred: (s: EmulatedSession) => boolean = () => true, options: WaitOptions = {}): Promise<EmulatedSession> {
    const found = this.sessions.find(pred);
    if (found) return Promise.resolve(found);
    let listener: ((s: EmulatedSession) => void) | undefined;
    const p = new Promise<EmulatedSession>((resolve) => {
      listener = (s: EmulatedSession): void => {
        if (pred(s)) {
          this.off('session', listener!);
          resolve(s);
        }
      };
      this.on('session', listener);
    });
    const timeoutMs = options.timeoutMs ?? 5000;
    return withTimeout(p, timeoutMs, () => {
      this.off('session', listener!);
      return `no matching Nova session within ${timeoutMs} ms (${this.sessions.length} seen)`;
    });
  }

  /** End every stream, drop every connection, stop listening. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = new Promise<void>((resolve) => {
        for (const e of this.engines.values()) e.shutdown();
        this.server.close(() => resolve());
        for (const s of this.h2sessions) s.destroy();
      });
    }
    return this.closing;
  }

  private onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    const path = String(headers[':path'] ?? '');
    const m = PATH.exec(path);
    let modelId = '';
    try {
      modelId = m ? decodeURIComponent(m[1]!) : '';
    } catch {
      modelId = m ? m[1]! : '';
    }
    const record = new EmulatedSession(randomUUID(), modelId, this.sessions.length);
    this.sessions.push(record);
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries(headers)) if (typeof v === 'string') flat[k] = v;
    let script: SessionScript;
    try {
      const info: SessionInfo = { id: record.id, modelId, index: record.index, headers: flat };
      script = typeof this.script === 'function' ? this.script(info) : this.script;
    } catch (e) {
      script = { httpError: { status: 500, errorType: 'InternalServerException', message: `emulator script threw: ${e instanceof Error ? e.message : String(e)}` } };
    }
    this.open++;
    stream.on('close', () => {
      this.open--;
      this.engines.delete(record);
      record.markClosed();
    });
    stream.on('error', () => { /* reported through 'close' */ });

    const refuse = (err: HttpError): void => this.refuse(stream, record, err);
    if (this.closing) refuse({ status: 503, errorType: 'ServiceUnavailableException', message: 'emulator is shutting down' });
    else if (headers[':method'] !== 'POST' || !m) refuse({ status: 404, errorType: 'UnknownOperationException', message: `no operation at ${headers[':method']} ${path}` });
    else if (!this.models[modelId]) refuse({ status: 400, errorType: 'ValidationException', message: 'The provided model identifier is invalid.' });
    else if (headers['content-type'] !== 'application/vnd.amazon.eventstream') {
      refuse({ status: 400, errorType: 'ValidationException', message: `content-type must be application/vnd.amazon.eventstream (got ${headers['content-type']})` });
    } else if (script.httpError) refuse(script.httpError);
    else if (this.open > this.maxConcurrent) refuse({ status: 429, errorType: 'ThrottlingException', message: 'Too many concurrent requests, please wait before trying again.' });
    else {
      const engine = new SessionEngine(record, stream, script, {
        timeScale: this.timeScale,
        recordAudio: this.recordAudio,
        voices: this.models[modelId]!,
        textTurnsDefault: modelId === NOVA_2,
      });
      this.engines.set(record, engine);
      engine.start();
    }
    this.emit('session', record);
  }

  private refuse(stream: ServerHttp2Stream, record: EmulatedSession, err: HttpError): void {
    const message = err.message ?? err.errorType;
    record.closeReason = 'http-error';
    record.httpError = { status: err.status, errorType: err.errorType, message };
    stream.on('data', () => { /* drain what the client already sent */ });
    stream.respond({
      ':status': err.status,
      'content-type': 'application/json',
      'x-amzn-errortype': err.errorType,
      'x-amzn-requestid': record.id,
    });
    stream.end(JSON.stringify({ message }), () => {
      if (!stream.destroyed && !stream.closed) stream.close(h2.NGHTTP2_NO_ERROR);
    });
  }
}
