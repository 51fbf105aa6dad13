/**
 * The queue between a NovaSession and the SDK: the SDK pulls `{ chunk: { bytes } }` from
 * `iterate()` as fast as HTTP/2 flow control and the event loop let it; the session pushes
 * control events and audio batches. Audio is kept raw and encoded only when pulled, so audio
 * dropped under backpressure (oldest first, beyond `maxAudioItems`) costs nothing.
 *
 * Audio batches that are already waiting when the SDK pulls leave as one audioInput event (up
 * to `maxEventBytes`): the SDK's cost is per event (signing, framing), so when the process is
 * busy and batches pile up, they cost less to send exactly when it matters, and none of them
 * waits longer for it.
 */
import { AUDIO_SUFFIX } from './input-events.ts';

export interface InputChunk {
  chunk: { bytes: Uint8Array };
}

interface AudioItem {
  pcm: Buffer;
  /** sendAudio frames in this batch, for the drop count. */
  frames: number;
  /** performance.now() when the batch was complete. */
  at: number;
}

/** A ready JSON event, an audio batch, or a callback run when the SDK has taken everything before it. */
type Item = string | AudioItem | (() => void);

export interface InputQueueHooks {
  /** Per batch taken by the SDK. `queuedMs`: from the batch being complete to then; `joined`: it went in the same event as the batch before it. */
  onAudioSent(bytes: number, queuedMs: number, joined: boolean): void;
  onAudioDropped(frames: number): void;
}

export class InputQueue {
  private items: Item[] = [];
  private audioItems = 0;
  private ended = false;
  private wake: (() => void) | null = null;

  constructor(
    private readonly audioPrefix: string,
    private readonly maxAudioItems: number,
    private readonly hooks: InputQueueHooks,
    /** Waiting batches are joined into one event up to this much PCM (never split: a bigger batch goes alone). */
    private readonly maxEventBytes = 0,
  ) {}

  get isEnded(): boolean {
    return this.ended;
  }

  pushEvent(json: string): void {
    if (this.ended) return;
    this.items.push(json);
    this.notify();
  }

  /** Run `fn` once the SDK has pulled every item queued before it. */
  pushMark(fn: () => void): void {
    if (this.ended) return;
    this.items.push(fn);
    this.notify();
  }

  pushAudio(pcm: Buffer, frames: number): void {
    if (this.ended) return;
    if (this.audioItems >= this.maxAudioItems) this.dropOldestAudio();
    this.items.push({ pcm, frames, at: performance.now() });
    this.audioItems++;
    this.notify();
  }

  /** No more input: the SDK gets what is queued, then the end of the stream. `discard` drops the queue first. */
  end(discard = false): void {
    if (discard) {
      this.items.length = 0;
      this.audioItems = 0;
    }
    this.ended = true;
    this.notify();
  }

  async *iterate(): AsyncGenerator<InputChunk, void, undefined> {
    try {
      for (;;) {
        const item = this.items.shift();
        if (item === undefined) {
          if (this.ended) return;
          await new Promise<void>((resolve) => { this.wake = resolve; });
          continue;
        }
        if (typeof item === 'string') {
          yield { chunk: { bytes: Buffer.from(item, 'utf8') } };
        } else if (typeof item === 'function') {
          item();
        } else {
          const pcm = this.joinWaiting(item);
          // Prefix and base64 are ASCII: latin1 is the cheapest exact encoding.
          yield { chunk: { bytes: Buffer.from(this.audioPrefix + pcm.toString('base64') + AUDIO_SUFFIX, 'latin1') } };
        }
      }
    } finally {
      // The SDK returned the iterator (stream over) or we ended it: nothing more will be taken.
      this.ended = true;
      this.items.length = 0;
      this.audioItems = 0;
      this.wake = null;
    }
  }

  /** `first` and the audio batches right behind it (never past a control event), as one buffer. */
  private joinWaiting(first: AudioItem): Buffer {
    const now = performance.now();
    this.audioItems--;
    this.hooks.onAudioSent(first.pcm.length, now - first.at, false);
    let next = this.items[0];
    if (typeof next !== 'object' || first.pcm.length + next.pcm.length > this.maxEventBytes) return first.pcm;
    const parts = [first.pcm];
    let bytes = first.pcm.length;
    while (typeof next === 'object' && bytes + next.pcm.length <= this.maxEventBytes) {
      this.items.shift();
      this.audioItems--;
      this.hooks.onAudioSent(next.pcm.length, now - next.at, true);
      parts.push(next.pcm);
      bytes += next.pcm.length;
      next = this.items[0];
    }
    return Buffer.concat(parts, bytes);
  }

  private notify(): void {
    const w = this.wake;
    if (w) {
      this.wake = null;
      w();
    }
  }

  private dropOldestAudio(): void {
    const i = this.items.findIndex((it) => typeof it === 'object');
    if (i < 0) return;
    const [dropped] = this.items.splice(i, 1) as [AudioItem];
    this.audioItems--;
    this.hooks.onAudioDropped(dropped.frames);
  }
}
