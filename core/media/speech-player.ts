import type { Call, EslEvent } from '../esl/index.ts';
import { silentLogger, type Logger } from '../log.ts';
import type { AudioStream } from './audio-stream.ts';

export interface SpeechPlayerOptions {
  call: Call;
  stream: AudioStream;
  /** Rate of the PCM handed to push(). */
  sampleRate: 8000 | 16000 | 24000;
  /** Audio per file sent to mod_audio_stream: bigger means fewer files, smaller means a faster first sound (default 200 ms). */
  chunkMs?: number;
  /** No `::play` this long after the first chunk: the module is a build without streamAudio support (default 3000 ms). */
  playTimeoutMs?: number;
  logger?: Logger;
}

interface Pending {
  generation: number;
  ms: number;
}

/**
 * Plays a voice (PCM arriving in bursts, faster than real time) to the caller through
 * mod_audio_stream, gapless and interruptible.
 *
 * Measured on FreeSWITCH: files queued with sendmsg playback play back to back but survive
 * `uuid_break`, while uuid_broadcast is flushed by a break but leaves ~190 ms gaps. So the queue
 * lives here: PCM is cut into chunks, each sent as a streamAudio reply (mod_audio_stream writes it
 * to a file and fires `::play`), and exactly one file plays at a time: the next starts as soon as
 * the previous one's EXECUTE_COMPLETE arrives (one round trip of gap). On barge-in the buffered
 * PCM and every file of the interrupted turn are dropped and the one playing is broken, so at
 * most what FreeSWITCH is playing at that instant is heard.
 */
export class SpeechPlayer {
  private readonly call: Call;
  private readonly stream: AudioStream;
  private readonly rate: number;
  private readonly chunkBytes: number;
  private readonly log: Logger;
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  /** Chunks sent whose ::play has not arrived yet, in send order. */
  private readonly sent: Pending[] = [];
  /** Files ready to play, in order. */
  private readonly files: Array<{ file: string; generation: number }> = [];
  private generation = 0;
  private playing = false;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  private readonly onEvent = (e: EslEvent): void => this.onCallEvent(e);
  readonly stats = { chunksSent: 0, filesPlayed: 0, filesDropped: 0, interruptions: 0, audioMsSent: 0 };
  /** Whether this FreeSWITCH's mod_audio_stream answers streamAudio with `::play` (the older ixwebsocket build never does). */
  playSupport: 'unknown' | 'yes' | 'no' = 'unknown';
  private playCheck: NodeJS.Timeout | undefined;
  private readonly playTimeoutMs: number;

  constructor(options: SpeechPlayerOptions) {
    this.call = options.call;
    this.stream = options.stream;
    this.rate = options.sampleRate;
    this.chunkBytes = Math.max(2, Math.round(((options.chunkMs ?? 200) * options.sampleRate) / 1000) * 2);
    this.log = (options.logger ?? silentLogger).child({ component: 'speech-player' });
    this.playTimeoutMs = options.playTimeoutMs ?? 3000;
    this.call.on('event', this.onEvent);
  }

  /** Subscribes the call's socket to the ::play events this player needs. */
  async start(): Promise<void> {
    await this.call.subscribe('mod_audio_stream::play');
  }

  /** More of the current turn's audio. */
  push(pcm: Buffer): void {
    if (this.closed || pcm.length === 0) return;
    this.buffered.push(pcm);
    this.bufferedBytes += pcm.length;
    while (this.bufferedBytes >= this.chunkBytes) this.sendChunk(this.chunkBytes);
  }

  /** The turn's audio is complete: send what is left. */
  flush(): void {
    if (this.bufferedBytes > 0) this.sendChunk(this.bufferedBytes - (this.bufferedBytes % 2));
  }

  /** Barge-in: nothing more of what was pushed so far is heard. */
  async interrupt(): Promise<void> {
    this.generation++;
    this.stats.interruptions++;
    this.stats.filesDropped += this.files.length;
    this.files.length = 0;
    this.buffered = [];
    this.bufferedBytes = 0;
    if (this.playing && !this.call.isGone) await this.call.break().catch(() => {});
  }

  /** Whether audio is playing or waiting to play. */
  get busy(): boolean {
    return this.playing || this.files.length > 0 || this.sent.some((p) => p.generation === this.generation) || this.bufferedBytes > 0;
  }

  /** Resolves when everything pushed has been played (or dropped). */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.playCheck);
    this.call.off('event', this.onEvent);
    this.files.length = 0;
    this.wakeIdle();
  }

  private sendChunk(bytes: number): void {
    const all = this.buffered.length === 1 ? (this.buffered[0] as Buffer) : Buffer.concat(this.buffered, this.bufferedBytes);
    const chunk = all.subarray(0, bytes);
    const rest = all.subarray(bytes);
    this.buffered = rest.length > 0 ? [rest] : [];
    this.bufferedBytes = rest.length;
    const ms = (bytes / 2 / this.rate) * 1000;
    if (this.stream.sendAudio(chunk, this.rate as 8000 | 16000 | 24000)) {
      this.sent.push({ generation: this.generation, ms });
      this.stats.chunksSent++;
      if (this.playSupport === 'unknown' && this.playCheck === undefined) {
        this.playCheck = setTimeout(() => {
          if (this.playSupport !== 'unknown') return;
          this.playSupport = 'no';
          this.log.warn({ callId: this.call.id }, 'mod_audio_stream sent no ::play event for streamAudio replies: this build cannot play them back (the older ixwebsocket build); install the build described in freeswitch-conf/README.md');
        }, this.playTimeoutMs);
      }
      this.stats.audioMsSent += ms;
    } else this.log.warn({ bytes }, 'audio chunk dropped: the media socket is not draining');
  }

  private onCallEvent(e: EslEvent): void {
    if (e.subclass !== 'mod_audio_stream::play') return;
    this.playSupport = 'yes';
    clearTimeout(this.playCheck);
    const pending = this.sent.shift();
    let file: string | undefined;
    try {
      file = (JSON.parse(e.body ?? '{}') as { file?: string }).file;
    } catch {
      file = undefined;
    }
    if (!pending || !file) return this.log.warn({ body: e.body }, 'unexpected mod_audio_stream::play event');
    if (pending.generation !== this.generation || this.closed) {
      this.stats.filesDropped++;
      return this.wakeIdle();
    }
    this.files.push({ file, generation: pending.generation });
    this.playNext();
  }

  private playNext(): void {
    if (this.playing || this.closed || this.call.isGone) return this.wakeIdle();
    const next = this.files.shift();
    if (!next) return this.wakeIdle();
    this.playing = true;
    this.call
      .playback(next.file)
      .then(
        () => void this.stats.filesPlayed++,
        (err: Error) => this.log.debug({ err: err.message }, 'playback ended early'),
      )
      .finally(() => {
        this.playing = false;
        this.playNext();
      });
  }

  private wakeIdle(): void {
    if (this.busy && !this.closed) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
