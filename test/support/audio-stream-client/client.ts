import { EventEmitter } from 'node:events';
import { unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { WebSocket, type RawData } from 'ws';
import { frameBytes, silence, tone } from './pcm.ts';

/**
 * Bodies of the CUSTOM events mod_audio_stream fires, as measured
 * (../../../../shared/fixtures/esl/05-audio-stream-events.bin), for a simulator to re-fire.
 */
export const EVENT_BODIES = {
  connect: '{"status":"connected"}',
  /** `mod_audio_stream::error` when the server refuses the handshake (any HTTP status). */
  upgradeFailed: '{"status":"error","message":{"code":6,"error":"WebSocket upgrade failed"}}',
} as const;

export interface AudioStreamClientOptions {
  /** The URL given to `uuid_audio_stream <uuid> start <url> …`; path and query are sent as they are. */
  url: string;
  /** STREAM_EXTRA_HEADERS, e.g. `{ Authorization: 'Bearer …' }`. */
  headers?: Record<string, string>;
  /** The start command's metadata: sent as one text message after the handshake, before any audio (not sent when empty). */
  metadata?: string;
  /** `8k` → 8000, `16k` → 16000. */
  sampleRate: 8000 | 16000;
  /** STREAM_BUFFER_SIZE: ms of audio per binary frame, a multiple of 20 (default 20). */
  frameMs?: number;
  /** true (default): one frame every frameMs; false: as fast as the socket takes them. */
  realtime?: boolean;
  /** FreeSWITCH's temp dir, where replies become `<uuid>_<n>.tmp.r8|r16|r24` (default os.tmpdir()). */
  tmpDir?: string;
  /** The session uuid in reply file names (default: the last segment of the URL path). */
  callId?: string;
  /** Delay between handshake and metadata (measured ≈100 ms; default 100 when realtime, else 0). */
  metadataDelayMs?: number;
  /** Keep reply files after the stream ends (the module deletes them; default false). */
  keepFiles?: boolean;
  handshakeTimeoutMs?: number;
}

export interface PlayInfo {
  file: string;
  sampleRate: number | undefined;
  audioDataType: string;
  /** Bytes written to the file (decoded audio). */
  bytes: number;
  /** The `mod_audio_stream::play` event body the module would fire: the reply's `data` without `audioData`, with `file` added. */
  body: string;
}

export interface ClientCloseInfo {
  code: number;
  reason: string;
  /** True when the server closed (or the socket was lost); false after stop() or terminate(). */
  byRemote: boolean;
}

export interface AudioStreamClientStats {
  framesSent: number;
  bytesSent: number;
  /** streamAudio replies decoded to files ('play'). */
  repliesReceived: number;
  /** Other text from the server ('json'). */
  jsonReceived: number;
  /** Realtime only: how late each frame left compared with its slot on the stream clock. */
  sendLagMs: number[];
}

interface ClientEvents {
  play: [info: PlayInfo];
  json: [text: string];
  close: [info: ClientCloseInfo];
}

/** The handshake was refused or the connection failed; `status` is the HTTP status when the server answered. */
export class AudioStreamConnectError extends Error {
  readonly status: number | undefined;
  /** What FreeSWITCH would put in the `mod_audio_stream::error` event (the status itself is not in it). */
  readonly eventBody: string;

  constructor(message: string, status: number | undefined) {
    super(message);
    this.name = 'AudioStreamConnectError';
    this.status = status;
    this.eventBody = status !== undefined
      ? EVENT_BODIES.upgradeFailed
      // Not measured: the shape of the measured body with the socket error's text.
      : JSON.stringify({ status: 'error', message: { code: 6, error: message } });
  }
}

const RAW_EXTENSIONS: ReadonlyMap<number, string> = new Map([
  [8000, '.r8'], [16000, '.r16'], [24000, '.r24'], [32000, '.r32'], [48000, '.r48'], [64000, '.r64'],
]);
/** wav is in the module's source; mp3/ogg are documented, their extensions assumed. */
const OTHER_EXTENSIONS: ReadonlyMap<string, string> = new Map([['wav', '.wav'], ['mp3', '.mp3'], ['ogg', '.ogg']]);
/** In fast mode, wait for the socket to take the data once this much is queued. */
const FAST_HIGH_WATER = 256 * 1024;

/**
 * A stand-in for FreeSWITCH's mod_audio_stream on one channel: the same handshake (header set
 * and order, `origin`, STREAM_EXTRA_HEADERS, path and query intact), metadata text before audio,
 * L16 frames at a 20 ms cadence on a drift-free clock, `streamAudio` replies written to
 * `<tmp>/<uuid>_<n>.tmp.rNN` and announced as 'play', other text as 'json', and the stop text
 * followed by close 1000 "Normal closure".
 */
export class AudioStreamClient extends EventEmitter<ClientEvents> {
  readonly callId: string;
  readonly sampleRate: 8000 | 16000;
  readonly frameMs: number;
  readonly frameBytes: number;
  readonly realtime: boolean;
  /** Reply files written so far, in order. */
  readonly files: string[] = [];
  /** Resolves when the websocket has closed. */
  readonly closed: Promise<ClientCloseInfo>;
  readonly stats: AudioStreamClientStats = { framesSent: 0, bytesSent: 0, repliesReceived: 0, jsonReceived: 0, sendLagMs: [] };

  private readonly ws: WebSocket;
  private readonly tmpDir: string;
  private readonly keepFiles: boolean;
  private readonly stopper = new AbortController();
  private resolveClosed!: (info: ClientCloseInfo) => void;
  private closeInfo: ClientCloseInfo | null = null;
  private closedLocally = false;
  private sendChain: Promise<void> = Promise.resolve();
  /** Stream clock: performance.now() at which the next frame is due. */
  private nextDue = 0;
  private toneSample = 0;
  private playCount = 0;

  private constructor(ws: WebSocket, options: AudioStreamClientOptions, callId: string, frameMs: number) {
    super();
    this.ws = ws;
    this.callId = callId;
    this.sampleRate = options.sampleRate;
    this.frameMs = frameMs;
    this.frameBytes = frameBytes(options.sampleRate, frameMs);
    this.realtime = options.realtime ?? true;
    this.tmpDir = options.tmpDir ?? tmpdir();
    this.keepFiles = options.keepFiles ?? false;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  static async connect(options: AudioStreamClientOptions): Promise<AudioStreamClient> {
    const frameMs = options.frameMs ?? 20;
    if (!Number.isInteger(frameMs) || frameMs <= 0 || frameMs % 20 !== 0) throw new RangeError('frameMs must be a positive multiple of 20 (STREAM_BUFFER_SIZE)');
    if (options.sampleRate !== 8000 && options.sampleRate !== 16000) throw new RangeError('sampleRate must be 8000 or 16000');
    const url = new URL(options.url);
    const callId = options.callId ?? decodeURIComponent(url.pathname.split('/').filter(Boolean).pop() ?? 'session');
    // The module's header order (host, upgrade, connection, key, version, origin, extra headers).
    // ws overwrites the handshake headers' values but an object keeps a key's first position.
    const headers: Record<string, string> = {
      Host: url.host,
      Upgrade: 'websocket',
      Connection: 'Upgrade',
      'Sec-WebSocket-Key': '',
      'Sec-WebSocket-Version': '13',
      Origin: `${url.protocol === 'wss:' ? 'https' : 'http'}://${url.host}`,
      ...options.headers,
    };
    const ws = new WebSocket(options.url, {
      headers,
      perMessageDeflate: false,
      followRedirects: false,
      handshakeTimeout: options.handshakeTimeoutMs ?? 5000,
    });
    const client = new AudioStreamClient(ws, options, callId, frameMs);
    await new Promise<void>((resolve, reject) => {
      let status: number | undefined;
      ws.once('unexpected-response', (_req, res) => {
        status = res.statusCode;
        res.resume();
        ws.terminate();
      });
      ws.once('open', () => {
        ws.off('error', onError);
        resolve();
      });
      const onError = (err: Error): void => {
        reject(new AudioStreamConnectError(status !== undefined ? `handshake refused with HTTP ${status}` : err.message, status));
      };
      ws.once('error', onError);
    });
    client.attach();
    if (options.metadata !== undefined && options.metadata !== '') {
      const wait = options.metadataDelayMs ?? (client.realtime ? 100 : 0);
      if (wait > 0) await delay(wait);
      if (ws.readyState === WebSocket.OPEN) ws.send(options.metadata);
    }
    return client;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /**
   * Chops L16 into frames of frameBytes (the last one zero-padded) and sends them: on the stream
   * clock when realtime (each frame at its slot; a late timer is caught up, not carried over), or
   * as fast as the socket takes them. Calls queue behind each other, so the clock runs on across
   * back-to-back calls; after an idle gap it restarts. Resolves when the last frame is on the
   * socket, or early after stop(); rejects if the server closes or the socket is lost meanwhile.
   */
  sendFrames(pcm: Buffer): Promise<void> {
    if (pcm.length % 2 !== 0) return Promise.reject(new RangeError('L16 audio has an even number of bytes'));
    const run = this.sendChain.then(() => this.pump(pcm));
    this.sendChain = run.catch(() => undefined);
    return run;
  }

  sendTone(ms: number, hz = 440): Promise<void> {
    const { pcm, nextSample } = tone(ms, this.sampleRate, hz, this.toneSample);
    this.toneSample = nextSample;
    return this.sendFrames(pcm);
  }

  sendSilence(ms: number): Promise<void> {
    return this.sendFrames(silence(ms, this.sampleRate));
  }

  /** `uuid_audio_stream <uuid> send_text <text>`. */
  sendText(text: string): void {
    this.ws.send(text);
  }

  /** Anything at all, for hostile-input tests: a string or Buffer as a text frame (binary false), or a binary frame. */
  sendRaw(data: Buffer | string, options: { binary: boolean }): Promise<void> {
    return new Promise((resolve, reject) => this.ws.send(data, { binary: options.binary }, (err) => (err ? reject(err) : resolve())));
  }

  /** `uuid_audio_stream <uuid> stop [text]` (and, without text, a hangup): sends the text, then closes 1000 "Normal closure". Frames still queued are not sent. */
  async stop(text?: string): Promise<void> {
    if (this.closeInfo) return;
    this.stopper.abort();
    await this.sendChain;
    if (this.ws.readyState === WebSocket.OPEN) {
      this.closedLocally = true;
      if (text !== undefined && text !== '') this.ws.send(text);
      this.ws.close(1000, 'Normal closure');
      const timer = setTimeout(() => this.ws.terminate(), 2000);
      timer.unref();
      await this.closed;
      clearTimeout(timer);
    } else {
      await this.closed;
    }
  }

  /** The socket vanishes without a close frame (FreeSWITCH crashed, network lost). */
  terminate(): void {
    this.closedLocally = true;
    this.stopper.abort();
    this.ws.terminate();
  }

  /** Stops reading from the socket (a FreeSWITCH that does not keep up), and resumes. */
  pauseReading(): void {
    this.ws.pause();
  }

  resumeReading(): void {
    this.ws.resume();
  }

  private attach(): void {
    this.ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    this.ws.on('error', () => undefined); // the close that follows says it all
    this.ws.on('close', (code, reason) => this.onClose(code, reason.toString('utf8')));
  }

  private async pump(pcm: Buffer): Promise<void> {
    const signal = this.stopper.signal;
    const fb = this.frameBytes;
    if (this.realtime) {
      const now = performance.now();
      if (this.nextDue < now) this.nextDue = now;
    }
    let lastWrite: Promise<void> | null = null;
    for (let off = 0; off < pcm.length; off += fb) {
      if (signal.aborted) return;
      if (this.ws.readyState !== WebSocket.OPEN) throw new Error(`audio stream closed while sending (code ${this.closeInfo?.code ?? '?'})`);
      let frame = pcm.subarray(off, off + fb);
      if (frame.length < fb) {
        const padded = Buffer.alloc(fb);
        frame.copy(padded);
        frame = padded;
      }
      if (this.realtime) {
        const wait = this.nextDue - performance.now();
        if (wait > 0) {
          try {
            await delay(wait, undefined, { signal });
          } catch {
            return; // stopped
          }
          if (this.ws.readyState !== WebSocket.OPEN) throw new Error(`audio stream closed while sending (code ${this.closeInfo?.code ?? '?'})`);
        }
        this.stats.sendLagMs.push(performance.now() - this.nextDue);
        this.nextDue += this.frameMs;
      }
      lastWrite = this.write(frame);
      if (!this.realtime && this.ws.bufferedAmount > FAST_HIGH_WATER) await lastWrite;
    }
    if (lastWrite) await lastWrite;
  }

  private write(frame: Buffer): Promise<void> {
    this.stats.framesSent++;
    this.stats.bytesSent += frame.length;
    return new Promise((resolve, reject) => this.ws.send(frame, { binary: true }, (err) => (err ? reject(err) : resolve())));
  }

  private onMessage(data: RawData, _isBinary: boolean): void {
    // The module reads every message's payload as text, binary or not.
    const text = (Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)).toString('utf8');
    const play = this.decodeReply(text);
    if (play) {
      this.stats.repliesReceived++;
      this.emit('play', play);
    } else {
      this.stats.jsonReceived++;
      this.emit('json', text);
    }
  }

  /** The module's rules: a streamAudio reply with a known type and rate and a string audioData becomes a file; anything else is passed on as ::json. */
  private decodeReply(text: string): PlayInfo | null {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return null;
    }
    if (!isRecord(msg) || msg.type !== 'streamAudio' || !isRecord(msg.data)) return null;
    const { audioData, ...rest } = msg.data;
    const type = rest.audioDataType;
    if (typeof type !== 'string' || typeof audioData !== 'string') return null;
    const rate = typeof rest.sampleRate === 'number' ? rest.sampleRate : undefined;
    const ext = type === 'raw' ? (rate !== undefined ? RAW_EXTENSIONS.get(rate) : undefined) : OTHER_EXTENSIONS.get(type);
    if (!ext) return null;
    const audio = Buffer.from(audioData, 'base64');
    const file = join(this.tmpDir, `${this.callId}_${this.playCount++}.tmp${ext}`);
    // Written before 'play' fires, as the module does. Like the module, a failed write still announces the file.
    try {
      writeFileSync(file, audio);
      this.files.push(file);
    } catch {
      // nothing to clean up later
    }
    return { file, sampleRate: rate, audioDataType: type, bytes: audio.length, body: JSON.stringify({ ...rest, file }) };
  }

  private onClose(code: number, reason: string): void {
    if (this.closeInfo) return;
    this.stopper.abort();
    this.closeInfo = { code, reason, byRemote: !this.closedLocally };
    // The module deletes its reply files when the stream ends.
    if (!this.keepFiles) {
      for (const f of this.files) {
        try {
          unlinkSync(f);
        } catch {
          // already gone
        }
      }
    }
    this.resolveClosed(this.closeInfo);
    this.emit('close', this.closeInfo);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
