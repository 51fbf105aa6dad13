import { EventEmitter } from 'node:events';
import { createServer, STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type ServerOptions, type WebSocket } from 'ws';
import { SwitchboardError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { AudioStream } from './audio-stream.ts';
import { TokenAuthority, type TokenRefusal } from './stream-token.ts';

export interface MediaServerOptions {
  host: string;
  /** 0 in tests: read the port from start(). */
  port: number;
  /** HMAC key for stream tokens, at least 16 bytes. */
  secret: Buffer | string;
  /** How long an issued token may wait to be used (default 30000). */
  tokenTtlMs?: number;
  /** Largest message accepted from FreeSWITCH; larger closes the stream with 1009 (default 64 KiB). */
  maxMessageBytes?: number;
  logger: Logger;
  /** `ws://host:port` (or `wss://…`) as FreeSWITCH reaches this server, when that differs from the bind address. Origin only: no path. */
  publicUrl?: string;
  /** Per-stream cap on bytes waiting to be written to FreeSWITCH; replies beyond it are dropped (default 1 MiB). */
  maxSendBufferBytes?: number;
  /** Ping every stream this often; one that answers nothing (no pong, no frame) for a whole interval is dropped. 0 disables (default 15000). */
  pingIntervalMs?: number;
  /** Default timeout of waitForStream (default 10000). */
  waitTimeoutMs?: number;
  /** How long close() waits for the far end's close frame before destroying the socket (default 2000). */
  closeTimeoutMs?: number;
  /** Clock for token expiry, for tests. */
  now?: () => number;
}

export interface IssueOptions {
  /** The rate given to `uuid_audio_stream … start` (8k → 8000, 16k → 16000); goes in the URL as `?rate=` (default 8000). */
  sampleRate?: StreamSampleRate;
  ttlMs?: number;
}

export type StreamSampleRate = 8000 | 16000 | 24000 | 32000 | 48000 | 64000;

export interface IssuedStream {
  /** `ws://…/audio/<callId>?rate=<rate>`: the URL for `uuid_audio_stream <uuid> start <url> …` (token in the headers). */
  url: string;
  /** The same URL with `&token=<token>`, for when STREAM_EXTRA_HEADERS cannot be set. The token then shows in FreeSWITCH's logs. */
  urlWithToken: string;
  token: string;
  /** `{ Authorization: 'Bearer <token>' }`: JSON.stringify it into the channel variable STREAM_EXTRA_HEADERS (via uuid_setvar, not an originate `{…}` block: the JSON has commas and braces). */
  headers: Record<string, string>;
  expiresAt: number;
  sampleRate: StreamSampleRate;
}

export interface WaitForStreamOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Only the stream that authenticates with this token (from issue()): an older stream still open for the call does not count. */
  token?: string;
}

export interface StreamRefusal {
  status: number;
  reason: TokenRefusal | 'bad-request' | 'not-found' | 'bad-call-id' | 'bad-rate' | 'shutting-down';
  callId?: string;
  remoteAddress?: string;
}

interface MediaServerEvents {
  /** A stream connected and authenticated. */
  stream: [stream: AudioStream];
  /** A handshake was refused (after the one log line). */
  refused: [info: StreamRefusal];
}

interface Waiter {
  token: string | undefined;
  resolve(stream: AudioStream): void;
  reject(err: Error): void;
}

/** Call ids as they appear in a URL path: FreeSWITCH uuids and similar, nothing that needs escaping. */
export const CALL_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const STREAM_RATES: ReadonlySet<number> = new Set([8000, 16000, 24000, 32000, 48000, 64000]);
const WS_KEY_RE = /^[+/0-9A-Za-z]{22}==$/;
const BEARER_RE = /^Bearer +([^\s]+) *$/i;

/**
 * The websocket server mod_audio_stream connects to. Every connection must present a token
 * from issue() for the call in its path (`/audio/<callId>`), as `Authorization: Bearer` or
 * `?token=`; everything else is refused at the HTTP upgrade with one log line. One live
 * AudioStream per call: a newer authenticated stream for the same call replaces the older
 * (closed with 4001).
 */
export class MediaServer extends EventEmitter<MediaServerEvents> {
  private readonly opts: Required<Omit<MediaServerOptions, 'publicUrl' | 'now' | 'secret'>> & { publicUrl: string | undefined };
  private readonly log: Logger;
  private readonly tokens: TokenAuthority;
  private readonly wss: WebSocketServer;
  private readonly live = new Map<string, AudioStream>();
  /** The token each live stream authenticated with, for waitForStream({ token }). */
  private readonly tokenOf = new WeakMap<AudioStream, string>();
  private readonly waiters = new Map<string, Set<Waiter>>();
  private server: Server | null = null;
  private address: AddressInfo | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private closing = false;
  private readonly counters = { accepted: 0, refused: 0 };

  constructor(options: MediaServerOptions) {
    super();
    this.opts = {
      host: options.host,
      port: options.port,
      tokenTtlMs: options.tokenTtlMs ?? 30_000,
      maxMessageBytes: options.maxMessageBytes ?? 64 * 1024,
      logger: options.logger,
      publicUrl: options.publicUrl === undefined ? undefined : checkPublicUrl(options.publicUrl),
      maxSendBufferBytes: options.maxSendBufferBytes ?? 1024 * 1024,
      pingIntervalMs: options.pingIntervalMs ?? 15_000,
      waitTimeoutMs: options.waitTimeoutMs ?? 10_000,
      closeTimeoutMs: options.closeTimeoutMs ?? 2_000,
    };
    this.log = options.logger.child({ component: 'media' });
    this.tokens = new TokenAuthority({ secret: options.secret, ttlMs: this.opts.tokenTtlMs, ...(options.now ? { now: options.now } : {}) });
    // noServer: the upgrade is authenticated here before ws sees it. No per-message deflate
    // (mod_audio_stream's libwsc build does not offer it, and inflating is a memory risk).
    // closeTimeout: a peer that never answers our close frame (or broke the protocol) is destroyed
    // after it instead of ws's 30 s. ws 8.23 reads it; @types/ws 8.18 does not declare it yet.
    const wsOptions: ServerOptions & { closeTimeout: number } = {
      noServer: true, maxPayload: this.opts.maxMessageBytes, perMessageDeflate: false, clientTracking: false, closeTimeout: this.opts.closeTimeoutMs,
    };
    this.wss = new WebSocketServer(wsOptions);
  }

  /** Live streams by call id. */
  get streams(): ReadonlyMap<string, AudioStream> {
    return this.live;
  }

  get stats(): { accepted: number; refused: number; active: number } {
    return { ...this.counters, active: this.live.size };
  }

  async start(): Promise<AddressInfo> {
    if (this.server || this.closing) throw new SwitchboardError('SB_MEDIA_LISTEN', [`${this.opts.host}:${this.opts.port}`, 'already started']);
    const server = createServer((req, res) => {
      // Plain HTTP gets nothing but a pointer to the websocket.
      res.writeHead(426, { Upgrade: 'websocket', Connection: 'close', 'Content-Type': 'text/plain' }).end('websocket only\n');
    });
    // mod_audio_stream sends its handshake at once; a client that dribbles headers is cut off.
    server.headersTimeout = 10_000;
    server.requestTimeout = 10_000;
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    server.on('clientError', (err: Error & { code?: string }, socket: Duplex) => {
      this.log.debug({ err: err.code ?? err.message }, 'bad HTTP from a media client');
      if (!socket.writable || err.code === 'ECONNRESET') {
        socket.destroy();
        return;
      }
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    });
    this.server = server;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.opts.port, this.opts.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      this.server = null;
      throw new SwitchboardError('SB_MEDIA_LISTEN', [`${this.opts.host}:${this.opts.port}`, err instanceof Error ? err.message : String(err)], {}, { cause: err });
    }
    server.on('error', (err) => this.log.error({ err: err.message }, 'media server error'));
    this.address = server.address() as AddressInfo;
    if (this.opts.pingIntervalMs > 0) {
      this.pingTimer = setInterval(() => {
        for (const s of this.live.values()) s.heartbeat();
      }, this.opts.pingIntervalMs);
      this.pingTimer.unref();
    }
    if (!this.opts.publicUrl && isWildcard(this.address.address)) {
      this.log.warn({ host: this.address.address }, 'media server bound to a wildcard address without publicUrl; issued URLs use 127.0.0.1');
    }
    this.log.info({ address: this.address.address, port: this.address.port }, 'media server listening');
    return this.address;
  }

  /** Stops accepting, rejects pending waitForStream calls, closes every stream with 1001, and resolves when all sockets are gone. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    for (const [callId, set] of this.waiters) {
      for (const w of set) w.reject(new SwitchboardError('SB_MEDIA_CLOSED', [`shutting down while call ${callId} waited for its audio stream`]));
    }
    this.waiters.clear();
    const server = this.server;
    if (!server) return;
    const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    const streams = [...this.live.values()];
    for (const s of streams) s.close(1001, 'Going away');
    await Promise.all(streams.map((s) => s.closed));
    await serverClosed;
    this.server = null;
    this.log.info({ accepted: this.counters.accepted, refused: this.counters.refused }, 'media server closed');
  }

  /**
   * A short-lived, single-use token bound to the call id (HMAC-SHA256 over call id + expiry +
   * nonce), and the URL and headers to give mod_audio_stream.
   */
  issue(callId: string, options: IssueOptions = {}): IssuedStream {
    if (!CALL_ID_RE.test(callId)) throw new SwitchboardError('SB_MEDIA_BAD_CALL_ID', [JSON.stringify(String(callId)).slice(0, 140)]);
    const sampleRate = options.sampleRate ?? 8000;
    if (!STREAM_RATES.has(sampleRate)) throw new SwitchboardError('SB_MEDIA_BAD_ARGUMENT', [callId, `stream sample rate ${String(sampleRate)} is not one mod_audio_stream sends`]);
    const base = this.baseUrl();
    const { token, expiresAt } = this.tokens.issue(callId, options.ttlMs);
    const url = `${base}/audio/${callId}?rate=${sampleRate}`;
    return { url, urlWithToken: `${url}&token=${token}`, token, headers: { Authorization: `Bearer ${token}` }, expiresAt, sampleRate };
  }

  /**
   * Resolves when mod_audio_stream connects and authenticates for that call: at once if a stream
   * for it is open, unless `token` asks for the stream of one issue() in particular. Rejects with
   * SB_MEDIA_TIMEOUT, SB_CALL_ABORTED or SB_MEDIA_CLOSED. A stream that came and went before the
   * call is not remembered: start waiting before `uuid_audio_stream … start`.
   */
  waitForStream(callId: string, options: WaitForStreamOptions = {}): Promise<AudioStream> {
    const existing = this.live.get(callId);
    if (existing?.isOpen && (options.token === undefined || this.tokenOf.get(existing) === options.token)) return Promise.resolve(existing);
    if (this.closing) return Promise.reject(new SwitchboardError('SB_MEDIA_CLOSED', ['not accepting streams']));
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(new SwitchboardError('SB_CALL_ABORTED', [callId, 'waiting for the audio stream']));
    const timeoutMs = options.timeoutMs ?? this.opts.waitTimeoutMs;
    return new Promise<AudioStream>((resolve, reject) => {
      let set = this.waiters.get(callId);
      if (!set) this.waiters.set(callId, (set = new Set()));
      const waiters = set;
      const settle = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        waiters.delete(waiter);
        if (waiters.size === 0 && this.waiters.get(callId) === waiters) this.waiters.delete(callId);
      };
      const waiter: Waiter = {
        token: options.token,
        resolve: (s) => {
          settle();
          resolve(s);
        },
        reject: (err) => {
          settle();
          reject(err);
        },
      };
      const onAbort = (): void => waiter.reject(new SwitchboardError('SB_CALL_ABORTED', [callId, 'waiting for the audio stream']));
      const timer = setTimeout(() => waiter.reject(new SwitchboardError('SB_MEDIA_TIMEOUT', [callId, timeoutMs])), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      waiters.add(waiter);
    });
  }

  private baseUrl(): string {
    if (this.opts.publicUrl) return this.opts.publicUrl;
    if (!this.address) throw new SwitchboardError('SB_MEDIA_CLOSED', ['not started: no address to issue URLs for']);
    const host = isWildcard(this.address.address) ? '127.0.0.1' : this.address.address;
    return `ws://${host.includes(':') ? `[${host}]` : host}:${this.address.port}`;
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // A reset during the handshake must not become an uncaught 'error'.
    socket.on('error', (err: Error & { code?: string }) => this.log.debug({ err: err.code ?? err.message }, 'media socket error'));
    const remoteAddress = req.socket.remoteAddress;
    if (this.closing) return this.refuse(socket, { status: 503, reason: 'shutting-down', remoteAddress });
    const raw = req.url ?? '';
    let url: URL;
    try {
      if (!raw.startsWith('/')) throw new Error('not a path');
      url = new URL(raw, 'http://media.invalid');
    } catch {
      return this.refuse(socket, { status: 400, reason: 'bad-request', remoteAddress });
    }
    const m = /^\/audio\/([^/]*)$/.exec(url.pathname);
    if (!m) return this.refuse(socket, { status: 404, reason: 'not-found', remoteAddress });
    const callId = m[1] ?? '';
    if (!CALL_ID_RE.test(callId)) return this.refuse(socket, { status: 400, reason: 'bad-call-id', remoteAddress });
    const key = req.headers['sec-websocket-key'];
    if (req.method !== 'GET' || req.headers.upgrade?.toLowerCase() !== 'websocket' || typeof key !== 'string' || !WS_KEY_RE.test(key) || req.headers['sec-websocket-version'] !== '13') {
      return this.refuse(socket, { status: 400, reason: 'bad-request', callId, remoteAddress });
    }
    const rates = url.searchParams.getAll('rate');
    const sampleRate = rates.length === 0 ? 8000 : Number(rates[0]);
    if (rates.length > 1 || !STREAM_RATES.has(sampleRate)) return this.refuse(socket, { status: 400, reason: 'bad-rate', callId, remoteAddress });

    // The header wins when present (STREAM_EXTRA_HEADERS); a broken header is not rescued by the query.
    let token: string | undefined;
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const bearer = BEARER_RE.exec(auth);
      token = bearer ? bearer[1] : '!malformed';
    } else {
      const inQuery = url.searchParams.getAll('token');
      token = inQuery.length > 1 ? '!malformed' : inQuery[0];
    }
    const verdict = this.tokens.consume(callId, token);
    if (!verdict.ok) return this.refuse(socket, { status: verdict.status, reason: verdict.reason, callId, remoteAddress });

    const used = token ?? '';
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, callId, sampleRate, remoteAddress, used));
  }

  private refuse(socket: Duplex, info: StreamRefusal): void {
    this.counters.refused++;
    this.log.warn({ code: 'SB_MEDIA_REFUSED', status: info.status, reason: info.reason, callId: info.callId, remote: info.remoteAddress }, 'audio stream refused');
    if (socket.writable) {
      const text = `${STATUS_CODES[info.status] ?? 'Refused'}\n`;
      const extra = info.status === 401 ? 'WWW-Authenticate: Bearer\r\n' : '';
      socket.once('finish', () => socket.destroy());
      socket.end(`HTTP/1.1 ${info.status} ${STATUS_CODES[info.status] ?? 'Refused'}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n${extra}\r\n${text}`);
    } else {
      socket.destroy();
    }
    this.emit('refused', info);
  }

  private accept(ws: WebSocket, callId: string, sampleRate: number, remoteAddress: string | undefined, token: string): void {
    if (this.closing) {
      ws.close(1001, 'Going away');
      return;
    }
    const stream = new AudioStream({
      callId,
      sampleRate,
      socket: ws,
      logger: this.log.child({ callId }),
      maxSendBufferBytes: this.opts.maxSendBufferBytes,
      ...(remoteAddress !== undefined ? { remoteAddress } : {}),
    });
    this.counters.accepted++;
    this.tokenOf.set(stream, token);
    const previous = this.live.get(callId);
    this.live.set(callId, stream);
    stream.once('close', () => {
      if (this.live.get(callId) === stream) this.live.delete(callId);
    });
    if (previous) {
      this.log.warn({ callId }, 'a newer audio stream for this call replaces the open one');
      previous.close(4001, 'Replaced by a newer stream');
    }
    this.log.info({ callId, sampleRate, remote: remoteAddress }, 'audio stream connected');
    this.emit('stream', stream);
    const set = this.waiters.get(callId);
    if (set) for (const w of [...set]) if (w.token === undefined || w.token === token) w.resolve(stream);
  }
}

function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::' || address === '';
}

function checkPublicUrl(value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new SwitchboardError('SB_CONFIG_INVALID', [`media publicUrl ${JSON.stringify(value)} is not a URL`]);
  }
  if ((u.protocol !== 'ws:' && u.protocol !== 'wss:') || (u.pathname !== '/' && u.pathname !== '') || u.search || u.hash || u.username || u.password) {
    throw new SwitchboardError('SB_CONFIG_INVALID', [`media publicUrl must be ws://host:port or wss://host:port, got ${JSON.stringify(value)}`]);
  }
  return `${u.protocol}//${u.host}`;
}
