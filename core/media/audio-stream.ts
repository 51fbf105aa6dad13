import { EventEmitter } from 'node:events';
import { WebSocket, type RawData } from 'ws';
import { SwitchboardError } from '../errors.ts';
import type { Logger } from '../log.ts';

/** Rates a `streamAudio` reply may carry for FreeSWITCH to write as `.r8` / `.r16` / `.r24`. */
export type ReplySampleRate = 8000 | 16000 | 24000;

export interface StreamCloseInfo {
  code: number;
  reason: string;
  /** True when the far end ended it (close frame, socket loss, keepalive timeout); false when Switchboard closed it (close(), oversized or broken input, shutdown, replaced). */
  byRemote: boolean;
}

export interface AudioStreamStats {
  /** Binary frames received and emitted as 'audio'. */
  framesIn: number;
  bytesIn: number;
  /** Text messages received (metadata, send_text, stop text). */
  textsIn: number;
  /** Input that broke a rule: text that is not JSON, empty or odd-length binary frames, oversized or protocol-breaking messages. */
  malformed: number;
  /** streamAudio replies handed to the socket. */
  repliesOut: number;
  textsOut: number;
  /** Replies and texts not sent: the send buffer was over its limit, or the stream was no longer open. */
  dropped: number;
  /** Frames a slow frames() consumer lost (oldest first). */
  framesDropped: number;
}

export interface AudioStreamEvents {
  /** One frame of L16 (little-endian, signed 16-bit) at `sampleRate`, as mod_audio_stream sent it (mono for `mono`). */
  audio: [frame: Buffer];
  /** The start command's metadata: the first text message, when it arrives before any audio. */
  metadata: [metadata: unknown];
  /** Any other text message (send_text, stop text), verbatim. */
  text: [text: string];
  close: [info: StreamCloseInfo];
  /** Malformed input. Only emitted when someone listens; otherwise logged (never thrown). */
  error: [err: SwitchboardError];
}

export interface FramesOptions {
  /** Frames held for a slow consumer before the oldest are dropped (default 50 = 1 s at 20 ms). */
  maxQueuedFrames?: number;
  /** Ends the iteration (normally, without throwing). */
  signal?: AbortSignal;
}

/** @internal What MediaServer hands a new stream. */
export interface AudioStreamInit {
  callId: string;
  sampleRate: number;
  socket: WebSocket;
  logger: Logger;
  maxSendBufferBytes: number;
  remoteAddress?: string;
}

const VALID_CLOSE_CODES = new Set([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014]);
const REPLY_RATES: ReadonlySet<number> = new Set([8000, 16000, 24000]);

/**
 * One authenticated mod_audio_stream connection: the call's audio in, `streamAudio` replies out.
 * Created by MediaServer; nothing here throws on anything the far end sends.
 */
export class AudioStream extends EventEmitter<AudioStreamEvents> {
  readonly callId: string;
  /** From the URL's `?rate=` (MediaServer.issue puts it there); 8000 when absent. */
  readonly sampleRate: number;
  readonly remoteAddress: string | undefined;
  readonly connectedAt = Date.now();
  /** The start command's metadata, JSON-parsed when it is JSON, else the raw text; undefined until it arrives. */
  metadata: unknown = undefined;
  /** Resolves once, when the websocket has closed. Never rejects. */
  readonly closed: Promise<StreamCloseInfo>;

  private readonly statsData: AudioStreamStats = { framesIn: 0, bytesIn: 0, textsIn: 0, malformed: 0, repliesOut: 0, textsOut: 0, dropped: 0, framesDropped: 0 };
  private readonly ws: WebSocket;
  private readonly log: Logger;
  private readonly maxSendBufferBytes: number;
  private resolveClosed!: (info: StreamCloseInfo) => void;
  private closeInfo: StreamCloseInfo | null = null;
  private closedLocally = false;
  /** What Switchboard sent when it closed: reported instead of the peer's echo (or 1006 when the peer never answers). */
  private sentClose: { code: number; reason: string } | null = null;
  private overrideClose: StreamCloseInfo | null = null;
  private sawAudio = false;
  private dropEpisode = 0;
  private alive = true;

  /** @internal */
  constructor(init: AudioStreamInit) {
    super();
    this.callId = init.callId;
    this.sampleRate = init.sampleRate;
    this.remoteAddress = init.remoteAddress;
    this.ws = init.socket;
    this.log = init.logger;
    this.maxSendBufferBytes = init.maxSendBufferBytes;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    this.ws.on('pong', () => (this.alive = true));
    this.ws.on('error', (err) => this.onSocketError(err));
    this.ws.on('close', (code, reason) => this.onClose(code, reason.toString('utf8')));
  }

  get stats(): Readonly<AudioStreamStats> {
    return this.statsData;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Bytes waiting in the send buffer (ws bufferedAmount). */
  get bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  /**
   * Sends raw L16 as a `streamAudio` reply; mod_audio_stream writes it to a `.r8|.r16|.r24` file
   * and fires `mod_audio_stream::play`. Returns false when the reply was dropped: the stream is
   * no longer open, or the send buffer already holds more than maxSendBufferBytes (drop-newest:
   * replies already queued stay whole and in order). Throws SB_MEDIA_BAD_ARGUMENT for odd-length
   * or empty audio, an unsupported rate, or a single reply larger than the send buffer limit.
   */
  sendAudio(pcm: Buffer, sampleRate: ReplySampleRate): boolean {
    if (!Buffer.isBuffer(pcm) || pcm.length === 0 || pcm.length % 2 !== 0) {
      throw new SwitchboardError('SB_MEDIA_BAD_ARGUMENT', [this.callId, 'sendAudio needs a non-empty Buffer of L16 samples (even length)']);
    }
    if (!REPLY_RATES.has(sampleRate)) throw new SwitchboardError('SB_MEDIA_BAD_ARGUMENT', [this.callId, `reply sample rate ${String(sampleRate)} is not 8000, 16000 or 24000`]);
    const message = JSON.stringify({ type: 'streamAudio', data: { audioDataType: 'raw', sampleRate, audioData: pcm.toString('base64') } });
    if (message.length > this.maxSendBufferBytes) {
      throw new SwitchboardError('SB_MEDIA_BAD_ARGUMENT', [this.callId, `a reply of ${message.length} bytes exceeds the send buffer limit (${this.maxSendBufferBytes}); send smaller chunks`]);
    }
    if (!this.send(message, message.length, 'reply')) return false;
    this.statsData.repliesOut++;
    return true;
  }

  /** Sends a text message (FreeSWITCH passes text that is not streamAudio on as `mod_audio_stream::json`). Same drop policy as sendAudio. */
  sendText(text: string): boolean {
    if (typeof text !== 'string') throw new SwitchboardError('SB_MEDIA_BAD_ARGUMENT', [this.callId, 'sendText needs a string']);
    const bytes = Buffer.byteLength(text);
    if (bytes > this.maxSendBufferBytes) throw new SwitchboardError('SB_MEDIA_BAD_ARGUMENT', [this.callId, 'text exceeds the send buffer limit']);
    if (!this.send(text, bytes, 'text')) return false;
    this.statsData.textsOut++;
    return true;
  }

  /** Closes the websocket (1000 "Normal closure" by default); the socket is destroyed if the far end does not answer within the server's closeTimeoutMs. */
  close(code = 1000, reason = 'Normal closure'): void {
    if (!(VALID_CLOSE_CODES.has(code) || (Number.isInteger(code) && code >= 3000 && code <= 4999))) {
      throw new SwitchboardError('SB_MEDIA_BAD_ARGUMENT', [this.callId, `${code} is not a close code a websocket may send`]);
    }
    if (this.closeInfo || this.ws.readyState === WebSocket.CLOSING || this.ws.readyState === WebSocket.CLOSED) return;
    this.closedLocally = true;
    const text = truncateUtf8(reason, 123);
    this.sentClose = { code, reason: text };
    this.ws.close(code, text);
  }

  /** Destroys the socket at once (no close handshake). */
  terminate(): void {
    if (this.closeInfo) return;
    this.closedLocally = true;
    this.ws.terminate();
  }

  /**
   * The frames as an async iterator for one consumer that may fall behind (e.g. a model's input
   * stream). It holds at most maxQueuedFrames; when full the oldest frame is dropped and counted
   * in stats.framesDropped, because late audio is worth less than current audio. Ends when the
   * stream closes or the signal aborts.
   */
  frames(options: FramesOptions = {}): AsyncIterableIterator<Buffer> {
    const max = Math.max(1, options.maxQueuedFrames ?? 50);
    const queue: Buffer[] = [];
    let done = this.closeInfo !== null || options.signal?.aborted === true;
    let wake: (() => void) | null = null;
    const poke = (): void => {
      const w = wake;
      wake = null;
      w?.();
    };
    const onAudio = (frame: Buffer): void => {
      if (queue.length >= max) {
        queue.shift();
        this.statsData.framesDropped++;
      }
      queue.push(frame);
      poke();
    };
    const finish = (): void => {
      done = true;
      poke();
    };
    const cleanup = (): void => {
      this.off('audio', onAudio);
      this.off('close', finish);
      options.signal?.removeEventListener('abort', finish);
    };
    if (!done) {
      this.on('audio', onAudio);
      this.on('close', finish);
      options.signal?.addEventListener('abort', finish, { once: true });
    }
    async function* iterate(): AsyncGenerator<Buffer> {
      try {
        for (;;) {
          const next = queue.shift();
          if (next) {
            yield next;
            continue;
          }
          if (done) return;
          await new Promise<void>((resolve) => (wake = resolve));
        }
      } finally {
        cleanup();
      }
    }
    return iterate();
  }

  /** @internal Called by MediaServer every ping interval: terminates a stream that answered neither the last ping nor sent anything since. */
  heartbeat(): void {
    if (!this.isOpen) return;
    if (!this.alive) {
      this.log.warn({ code: 'SB_MEDIA_PROTOCOL' }, 'audio stream silent through a keepalive interval; dropping the socket');
      this.overrideClose = { code: 1006, reason: 'keepalive timeout', byRemote: true };
      this.ws.terminate();
      return;
    }
    this.alive = false;
    this.ws.ping();
  }

  private send(payload: string, bytes: number, kind: 'reply' | 'text'): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) {
      this.statsData.dropped++;
      this.log.debug({ kind }, 'audio stream not open; dropped');
      return false;
    }
    if (this.ws.bufferedAmount + bytes > this.maxSendBufferBytes) {
      this.statsData.dropped++;
      if (this.dropEpisode++ === 0) {
        this.log.warn({ kind, bufferedBytes: this.ws.bufferedAmount, limit: this.maxSendBufferBytes }, 'audio stream send buffer full (FreeSWITCH not reading); dropping replies until it drains');
      }
      return false;
    }
    if (this.dropEpisode > 0) {
      this.log.info({ droppedInEpisode: this.dropEpisode }, 'audio stream send buffer drained; sending again');
      this.dropEpisode = 0;
    }
    // Errors surface as 'close' (the socket is gone); the callback keeps them from being thrown.
    this.ws.send(payload, { binary: false }, () => undefined);
    return true;
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    this.alive = true;
    const buf = toBuffer(data);
    if (isBinary) {
      if (buf.length === 0 || buf.length % 2 !== 0) {
        this.malformed(`binary frame of ${buf.length} bytes is not whole L16 samples; dropped`);
        return;
      }
      this.sawAudio = true;
      this.statsData.framesIn++;
      this.statsData.bytesIn += buf.length;
      this.deliver('audio', buf);
      return;
    }
    this.statsData.textsIn++;
    const text = buf.toString('utf8');
    let parsed: unknown = text;
    let isJson = true;
    try {
      parsed = JSON.parse(text);
    } catch {
      isJson = false;
    }
    if (!isJson) this.malformed(`text message is not JSON (${text.length} chars)`);
    if (!this.sawAudio && this.metadata === undefined) {
      this.metadata = parsed;
      this.deliver('metadata', parsed);
      return;
    }
    this.deliver('text', text);
  }

  /**
   * Like emit, but a listener that throws (a bug in Switchboard, not in the input) is logged and
   * the other listeners still run; nothing unwinds into ws and the process.
   */
  private deliver<K extends 'audio' | 'metadata' | 'text'>(event: K, ...args: AudioStreamEvents[K]): void {
    for (const listener of this.rawListeners(event) as Array<(...a: AudioStreamEvents[K]) => void>) {
      try {
        listener.apply(this, args);
      } catch (err) {
        this.log.error({ event, err: err instanceof Error ? err.message : String(err) }, 'audio stream listener threw');
      }
    }
  }

  private onSocketError(err: Error & { code?: string }): void {
    // ws reports protocol breaks here and then closes the socket itself with the matching code.
    this.closedLocally = true;
    const code = closeCodeFor(err.code);
    this.sentClose ??= { code, reason: '' };
    if (code === 1009) this.malformed('message over the size limit; closing 1009');
    else this.malformed(`${err.code ?? 'websocket error'}: ${err.message}; closing ${code}`);
  }

  private malformed(detail: string): void {
    this.statsData.malformed++;
    // The first of a stream is a warning; a peer that keeps doing it must not flood the log.
    const level = this.statsData.malformed === 1 ? 'warn' : 'debug';
    this.log[level]({ code: 'SB_MEDIA_PROTOCOL', malformed: this.statsData.malformed }, detail);
    if (this.listenerCount('error') > 0) this.emit('error', new SwitchboardError('SB_MEDIA_PROTOCOL', [this.callId, detail]));
  }

  private onClose(code: number, reason: string): void {
    if (this.closeInfo) return;
    const info = this.overrideClose
      ?? (this.closedLocally ? { code: this.sentClose?.code ?? code, reason: this.sentClose?.reason ?? reason, byRemote: false } : { code, reason, byRemote: true });
    this.closeInfo = info;
    this.log.info({ ...info, framesIn: this.statsData.framesIn, repliesOut: this.statsData.repliesOut, dropped: this.statsData.dropped, malformed: this.statsData.malformed }, 'audio stream closed');
    this.resolveClosed(info);
    this.emit('close', info);
  }
}

/** The close code ws sends for each of its receive errors. */
function closeCodeFor(wsErrorCode: string | undefined): number {
  switch (wsErrorCode) {
    case 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH':
    case 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH':
      return 1009;
    case 'WS_ERR_INVALID_UTF8':
      return 1007;
    case 'WS_ERR_TOO_MANY_BUFFERED_PARTS':
      return 1008;
    default:
      return 1002;
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function truncateUtf8(text: string, maxBytes: number): string {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= maxBytes) return text;
  // Cut at a character boundary: drop continuation bytes at the cut.
  let end = maxBytes;
  while (end > 0 && ((buf[end] ?? 0) & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString('utf8');
}
