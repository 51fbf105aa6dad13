/**
 * What tests see of one stream: the decoded input events, the output events, counters, how it
 * ended, and promises that resolve when something has happened (never sleep in tests: wait for the
 * event that proves it).
 */
import { performance } from 'node:perf_hooks';
import type { StreamExceptionType } from './scripts.ts';
import type { PromptConfig } from './validation.ts';

export interface RecordedEvent {
  /** Milliseconds since the stream opened. */
  at: number;
  /** The event's name, e.g. 'audioInput', 'contentEnd'. */
  name: string;
  /**
   * The event as decoded, e.g. `{ contentEnd: { promptName, contentName } }` (the inner object of the
   * wire's `{"event":{…}}`). audioInput/audioOutput `content` is replaced by `contentBytes` (its
   * decoded length) unless the emulator was started with `recordAudio: true`.
   */
  event: Record<string, unknown>;
}

export type CloseReason =
  /** The client sent sessionEnd; the emulator ended the response stream. */
  | 'session-end'
  /** The client ended its input (the SDK's end-of-input frame) without sessionEnd. */
  | 'input-ended'
  /** A scripted turn had `endSession: true`. */
  | 'end-session'
  /** The emulator sent an exception (scripted, validation, or the stream time limit). */
  | 'exception'
  /** A frame failed to decode (CRC, length, headers); a validationException was sent. */
  | 'protocol-error'
  /** Refused before the stream with an HTTP status. */
  | 'http-error'
  /** The client aborted: RST_STREAM, a lost connection, or END_STREAM without the SDK's end-of-input frame (what an AbortSignal does). */
  | 'client-reset'
  /** NovaEmulator.close() ended it. */
  | 'emulator-closed';

export interface WaitOptions {
  /** Default 5000. */
  timeoutMs?: number;
}

export interface EventWaitOptions extends WaitOptions {
  /** Only events at or after this index of `events` / `outputs`. Default 0 (already-seen events count). */
  from?: number;
  /** Extra condition on the event body (the object under the event's name). */
  where?: (body: Record<string, unknown>) => boolean;
}

interface Waiter {
  list: RecordedEvent[];
  name: string;
  from: number;
  where: ((body: Record<string, unknown>) => boolean) | undefined;
  resolve: (e: RecordedEvent) => void;
}

const DEFAULT_TIMEOUT_MS = 5000;

export class EmulatedSession {
  readonly id: string;
  readonly modelId: string;
  /** 0 for the first stream the emulator saw. */
  readonly index: number;
  /** Wall-clock time the stream opened (Date.now()). */
  readonly startedAt = Date.now();
  readonly events: RecordedEvent[] = [];
  readonly outputs: RecordedEvent[] = [];
  audioInBytes = 0;
  audioInEvents = 0;
  /** Caller audio received, in ms of audio. */
  audioInMs = 0;
  audioOutBytes = 0;
  audioOutEvents = 0;
  /** Frames whose prelude or message CRC did not match (the stream is failed on the first). */
  crcErrors = 0;
  /** True once the HTTP/2 stream is gone in both directions. */
  closed = false;
  /** Why the emulator ended (or saw the end of) the stream; null while it runs. */
  closeReason: CloseReason | null = null;
  /** The exception sent, for closeReason 'exception' / 'protocol-error'. */
  exception: { type: StreamExceptionType; message: string } | null = null;
  /** The HTTP refusal, for closeReason 'http-error'. */
  httpError: { status: number; errorType: string; message: string } | null = null;
  /** The client's promptStart, once accepted. */
  prompt: PromptConfig | null = null;
  systemPrompt: string | null = null;
  /** TEXT contents with role USER/ASSISTANT sent before the first audio: replayed history. */
  readonly history: Array<{ role: 'USER' | 'ASSISTANT'; text: string }> = [];
  readonly toolResults: Array<{ toolUseId: string; content: string }> = [];
  /** Model turns started (each user turn the emulator answered). */
  turns = 0;
  /** Barge-ins that stopped the model. */
  interruptions = 0;
  /** The client's end-of-input marker (an empty signed frame) arrived. */
  inputEnded = false;

  private readonly t0 = performance.now();
  private waiters: Waiter[] = [];
  private closeWaiters: Array<() => void> = [];

  constructor(id: string, modelId: string, index: number) {
    this.id = id;
    this.modelId = modelId;
    this.index = index;
  }

  /** Milliseconds since the stream opened. */
  now(): number {
    return performance.now() - this.t0;
  }

  /** Resolve with the first input event named `name` (already received or still to come). */
  waitForEvent(name: string, options: EventWaitOptions = {}): Promise<RecordedEvent> {
    return this.waitIn(this.events, 'input', name, options);
  }

  /** Resolve with the first output event named `name` the emulator sent. */
  waitForOutput(name: string, options: EventWaitOptions = {}): Promise<RecordedEvent> {
    return this.waitIn(this.outputs, 'output', name, options);
  }

  /** Resolve once the stream is closed in both directions. */
  waitForClose(options: WaitOptions = {}): Promise<this> {
    if (this.closed) return Promise.resolve(this);
    return withTimeout(new Promise<this>((resolve) => this.closeWaiters.push(() => resolve(this))),
      options.timeoutMs ?? DEFAULT_TIMEOUT_MS, () => `session ${this.id}: not closed (closeReason ${this.closeReason})`);
  }

  /* ----------------------------------------------- used by the emulator only */

  /** @internal */
  recordInput(name: string, event: Record<string, unknown>): RecordedEvent {
    const rec = { at: this.now(), name, event };
    this.events.push(rec);
    if (this.waiters.length) this.notify(this.events, rec);
    return rec;
  }

  /** @internal */
  recordOutput(name: string, event: Record<string, unknown>): RecordedEvent {
    const rec = { at: this.now(), name, event };
    this.outputs.push(rec);
    if (this.waiters.length) this.notify(this.outputs, rec);
    return rec;
  }

  /** @internal */
  markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    const ws = this.closeWaiters;
    this.closeWaiters = [];
    for (const w of ws) w();
  }

  private notify(list: RecordedEvent[], rec: RecordedEvent): void {
    const index = list.length - 1;
    this.waiters = this.waiters.filter((w) => {
      if (w.list !== list || w.name !== rec.name || index < w.from) return true;
      if (w.where && !w.where(rec.event[rec.name] as Record<string, unknown>)) return true;
      w.resolve(rec);
      return false;
    });
  }

  private waitIn(list: RecordedEvent[], side: string, name: string, options: EventWaitOptions): Promise<RecordedEvent> {
    const from = options.from ?? 0;
    for (let i = from; i < list.length; i++) {
      const rec = list[i]!;
      if (rec.name === name && (!options.where || options.where(rec.event[name] as Record<string, unknown>))) return Promise.resolve(rec);
    }
    let waiter: Waiter | undefined;
    const p = new Promise<RecordedEvent>((resolve) => {
      waiter = { list, name, from, where: options.where, resolve };
      this.waiters.push(waiter);
    });
    return withTimeout(p, options.timeoutMs ?? DEFAULT_TIMEOUT_MS, () => {
      this.waiters = this.waiters.filter((w) => w !== waiter);
      return `session ${this.id}: no ${side} event '${name}' within ${options.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms (closeReason ${this.closeReason})`;
    });
  }
}

/** Race a promise against a timer; the message is built lazily when the timer wins. */
export function withTimeout<T>(p: Promise<T>, timeoutMs: number, message: () => string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(message())), timeoutMs);
    p.then((v) => { clearTimeout(timer); resolve(v); }, (e: unknown) => { clearTimeout(timer); reject(e); });
  });
}
