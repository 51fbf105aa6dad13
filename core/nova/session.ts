/**
 * One Nova Sonic conversation over InvokeModelWithBidirectionalStream: the input events in the
 * order Nova requires, caller audio batched and bounded, Nova's output turned into typed events,
 * and every way the stream can fail turned into exactly one coded error.
 *
 * Per audio frame the work is a Buffer push; per audioInput event one base64 and one Buffer
 * (input-queue.ts). The SDK quirks handled here are listed in README.md.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import {
  InvokeModelWithBidirectionalStreamCommand,
  type BedrockRuntimeClient,
  type InvokeModelWithBidirectionalStreamCommandOutput,
} from '@aws-sdk/client-bedrock-runtime';
import { SwitchboardError } from '../errors.ts';
import type { Logger } from '../log.ts';
import {
  audioContentStart, audioPrefix, contentEnd, promptEnd, promptStart, sessionEnd, sessionStart, textContent,
  toolResult, trimHistory, type HistoryRole, type NovaTool,
} from './input-events.ts';
import { InputQueue } from './input-queue.ts';
import { NOVA_MODELS, voiceProblem } from './models.ts';
import { novaErrorFromSdk, type FailurePhase } from './sdk-errors.ts';

export interface NovaSessionOptions {
  client: BedrockRuntimeClient;
  modelId: string;
  voiceId: string;
  systemPrompt: string;
  inputSampleRate: 8000 | 16000;
  outputSampleRate: 8000 | 16000 | 24000;
  tools?: NovaTool[];
  /** Replayed as non-interactive TEXT content before the audio (session renewal). Trimmed to Nova's 40 KB, oldest first. */
  history?: Array<{ role: HistoryRole; text: string }>;
  inference?: { maxTokens?: number; topP?: number; temperature?: number };
  /**
   * Audio batching window: frames handed to sendAudio are concatenated and sent as one
   * audioInput event once this much audio has accumulated (a multiple of 20; default 40).
   */
  frameMs?: number;
  /** No output event for this long while the caller is talking → SB_NOVA_STALLED (default 15000). */
  idleTimeoutMs?: number;
  /** Audio waiting for the SDK beyond this is dropped, oldest first (default 1000 ms). */
  maxQueuedMs?: number;
  /** How long close() waits for Nova to end the response stream before tearing it down (default 3000). */
  closeTimeoutMs?: number;
  /** Per batch: ms from it being complete to the SDK taking it (the relay's own delay beyond frameMs). */
  onAudioSent?: (queuedMs: number) => void;
  logger: Logger;
  signal?: AbortSignal;
}

export type NovaRole = 'USER' | 'ASSISTANT';

export interface NovaText {
  role: NovaRole;
  text: string;
  /** false for the ASSISTANT's SPECULATIVE preview of what it is about to say. */
  final: boolean;
}

export interface NovaToolUse {
  toolName: string;
  toolUseId: string;
  /** The tool input parsed from JSON, or the raw string when it is not JSON. */
  input: unknown;
}

export interface NovaTurnEnd {
  role: NovaRole;
  /** END_TURN or INTERRUPTED. */
  stopReason: string;
}

export interface NovaUsage {
  /** Running totals for the session. */
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  /** Nova's `details` (delta and total, speech and text tokens), as sent. */
  details: unknown;
}

export type NovaCloseReason = 'ended' | 'error' | 'aborted';

export interface NovaSessionEvents {
  /** LPCM16 mono at outputSampleRate. */
  audio: [pcm: Buffer];
  text: [text: NovaText];
  /** Run the tool, then sendToolResult(toolUseId, result). */
  toolUse: [use: NovaToolUse];
  /** The caller talked over the model: drop every bit of its audio not yet played. */
  interrupted: [];
  turnEnd: [end: NovaTurnEnd];
  usage: [usage: NovaUsage];
  /** Once at most, always followed by 'closed'. */
  error: [err: SwitchboardError];
  /** The last event, exactly once (also for a session closed before it started). */
  closed: [info: { reason: NovaCloseReason }];
}

export interface NovaStats {
  audioEventsSent: number;
  audioBytesSent: number;
  /** sendAudio frames dropped because the stream was slower than real time. */
  framesDropped: number;
  audioOutBytes: number;
  /** Date.now() when start() was called; 0 before. */
  startedAt: number;
}

export type NovaSessionState = 'idle' | 'starting' | 'open' | 'closing' | 'closed';

interface ContentInfo {
  type: string;
  role: NovaRole;
  final: boolean;
}

interface PendingToolUse {
  toolName: string;
  toolUseId: string;
  content: string;
}

const DEFAULT_INFERENCE = { maxTokens: 1024, topP: 0.9, temperature: 0.7 };
const DEFAULT_FRAME_MS = 40;
const DEFAULT_IDLE_TIMEOUT_MS = 15_000;
const DEFAULT_MAX_QUEUED_MS = 1000;
const DEFAULT_CLOSE_TIMEOUT_MS = 3000;
/** RMS (16-bit units, ≈ -36 dBFS) at or above which a batch counts as the caller talking. */
const SPEECH_RMS = 500;
/** Talking this long (ms of audio) since the last output arms the stall watchdog; a click or a cough does not. */
const SPEECH_ARM_MS = 200;
/** Batches still waiting when the SDK pulls are joined into one audioInput event up to this much audio. */
const MAX_EVENT_MS = 200;
const INTERRUPTED_MARK = '"interrupted"';

export class NovaSession extends EventEmitter<NovaSessionEvents> {
  readonly modelId: string;
  readonly promptName = randomUUID();
  readonly stats: NovaStats = { audioEventsSent: 0, audioBytesSent: 0, framesDropped: 0, audioOutBytes: 0, startedAt: 0 };
  /** FINAL text in order (consecutive pieces of one role joined), starting with the replayed history: pass it as the next session's history. */
  readonly transcript: Array<{ role: NovaRole; text: string }> = [];

  private readonly opts: NovaSessionOptions;
  private readonly log: Logger;
  private readonly audioContentName = randomUUID();
  private readonly controller = new AbortController();
  private readonly queue: InputQueue;
  private readonly history: Array<{ role: HistoryRole; text: string }>;
  private readonly batchBytes: number;
  private readonly idleTimeoutMs: number;
  private readonly closeTimeoutMs: number;
  private readonly outBytesPerMs: number;
  private readonly inBytesPerMs: number;
  private _state: NovaSessionState = 'idle';

  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private pendingFrames = 0;

  private readonly contents = new Map<string, ContentInfo>();
  private readonly toolUses = new Map<string, PendingToolUse>();
  private readonly toolsAwaited = new Set<string>();
  private interruptLatched = false;
  private responseDone = false;

  /** performance.now() from which the watchdog counts (0: not armed). */
  private expectSince = 0;
  private speechMs = 0;
  /** When the model's audio received so far would have finished playing. */
  private playoutEnd = 0;
  private watchdog: NodeJS.Timeout | null = null;
  private closeTimer: NodeJS.Timeout | null = null;

  private startPromise: Promise<void> | null = null;
  private settleStart: ((err?: SwitchboardError) => void) | null = null;
  private readonly closedPromise: Promise<void>;
  private resolveClosed!: () => void;
  private readonly onAbort = (): void => this.finish('aborted');

  constructor(options: NovaSessionOptions) {
    super();
    validate(options);
    this.opts = options;
    this.modelId = options.modelId;
    this.log = options.logger.child({ component: 'nova', modelId: options.modelId, promptName: this.promptName });
    const frameMs = options.frameMs ?? DEFAULT_FRAME_MS;
    this.inBytesPerMs = (options.inputSampleRate * 2) / 1000;
    this.outBytesPerMs = (options.outputSampleRate * 2) / 1000;
    this.batchBytes = frameMs * this.inBytesPerMs;
    this.idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    const maxItems = Math.max(1, Math.ceil((options.maxQueuedMs ?? DEFAULT_MAX_QUEUED_MS) / frameMs));
    this.queue = new InputQueue(audioPrefix(this.promptName, this.audioContentName), maxItems, {
      onAudioSent: (bytes, queuedMs, joined) => {
        if (!joined) this.stats.audioEventsSent++;
        this.stats.audioBytesSent += bytes;
        options.onAudioSent?.(queuedMs);
      },
      onAudioDropped: (frames) => {
        if (this.stats.framesDropped === 0) this.log.warn('Nova stream slower than real time: dropping the oldest caller audio');
        this.stats.framesDropped += frames;
      },
    }, Math.max(this.batchBytes, MAX_EVENT_MS * this.inBytesPerMs));
    const { kept, dropped } = trimHistory((options.history ?? []).filter((h) => h.text));
    if (dropped) this.log.warn({ dropped }, 'history longer than Nova accepts (40 KB): oldest messages dropped');
    this.history = kept;
    for (const h of kept) this.addTranscript(h.role, h.text);
    this.closedPromise = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  get state(): NovaSessionState {
    return this._state;
  }

  /**
   * Opens the stream and queues sessionStart, promptStart, the system prompt, the history and the
   * audio contentStart. Resolves once the SDK has taken them (the request is under way; Nova
   * answers nothing before the caller speaks, so this does not wait for an output event).
   * Rejects if the session ends first; failures after that arrive as 'error'.
   */
  start(): Promise<void> {
    if (this.startPromise) return this.startPromise;
    if (this._state !== 'idle') return Promise.reject(this.closedError('start'));
    this.startPromise = new Promise<void>((resolve, reject) => {
      this.settleStart = (err) => {
        this.settleStart = null;
        if (err) reject(err);
        else resolve();
      };
    });
    const { signal } = this.opts;
    if (signal?.aborted) {
      this.finish('aborted');
      return this.startPromise;
    }
    signal?.addEventListener('abort', this.onAbort, { once: true });
    this._state = 'starting';
    this.stats.startedAt = Date.now();
    this.queueSetup();
    this.queue.pushMark(() => {
      if (this._state === 'starting') this._state = 'open';
      this.settleStart?.();
    });
    // send() resolves only on Nova's first output event, which needs our input: never await it
    // before the input is flowing (readOutput awaits it on its own).
    const pending = this.opts.client.send(
      new InvokeModelWithBidirectionalStreamCommand({ modelId: this.modelId, body: this.queue.iterate() }),
      { abortSignal: this.controller.signal },
    );
    void this.readOutput(pending);
    return this.startPromise;
  }

  /** LPCM16 mono at inputSampleRate. Ignored unless the session is starting or open. Do not reuse `pcm` afterwards. */
  sendAudio(pcm: Buffer): void {
    if (this._state !== 'open' && this._state !== 'starting') return;
    this.pending.push(pcm);
    this.pendingBytes += pcm.length;
    this.pendingFrames++;
    if (this.pendingBytes >= this.batchBytes) this.flushAudio();
  }

  /** Answers a 'toolUse'. `result` is sent as JSON unless it is a string (sent as is). */
  sendToolResult(toolUseId: string, result: unknown): void {
    this.assertAccepting('send a tool result');
    const content = typeof result === 'string' ? result : JSON.stringify(result ?? null);
    for (const ev of toolResult(this.promptName, randomUUID(), toolUseId, content)) this.queue.pushEvent(ev);
    this.toolsAwaited.delete(toolUseId);
    if (this.toolsAwaited.size === 0) this.expectOutput();
  }

  /** A USER text turn (Nova 2): makes the model answer, e.g. to speak first. Throws SB_NOVA_UNSUPPORTED on models that cannot. */
  sendText(text: string): void {
    if (!NOVA_MODELS[this.modelId]?.canSpeakFirst) throw new SwitchboardError('SB_NOVA_UNSUPPORTED', [this.modelId, 'take a text turn (sendText); use a model with canSpeakFirst']);
    this.assertAccepting('send text');
    for (const ev of textContent(this.promptName, randomUUID(), 'USER', text, true)) this.queue.pushEvent(ev);
    this.expectOutput();
  }

  /**
   * Orderly end: the buffered audio, contentEnd, promptEnd, sessionEnd; then waits (at most
   * closeTimeoutMs) for Nova to end the response stream. Never rejects; idempotent.
   */
  close(): Promise<void> {
    switch (this._state) {
      case 'idle':
        this.finish('ended');
        return this.closedPromise;
      case 'closing':
      case 'closed':
        return this.closedPromise;
      default:
    }
    this._state = 'closing';
    if (this.pendingBytes > 0) this.flushAudio();
    this.queue.pushEvent(contentEnd(this.promptName, this.audioContentName));
    this.queue.pushEvent(promptEnd(this.promptName));
    this.queue.pushEvent(sessionEnd());
    this.queue.end();
    this.clearWatchdog();
    this.closeTimer = setTimeout(() => {
      this.closeTimer = null;
      this.log.warn({ closeTimeoutMs: this.closeTimeoutMs }, 'Nova did not end the stream after sessionEnd; closing it');
      this.finish('ended');
    }, this.closeTimeoutMs);
    return this.closedPromise;
  }

  /* ----------------------------------------------------------------------------- input */

  private queueSetup(): void {
    const o = this.opts;
    const p = this.promptName;
    this.queue.pushEvent(sessionStart({ ...DEFAULT_INFERENCE, ...o.inference }));
    this.queue.pushEvent(promptStart({ promptName: p, voiceId: o.voiceId, outputSampleRate: o.outputSampleRate, tools: o.tools }));
    if (o.systemPrompt) for (const ev of textContent(p, randomUUID(), 'SYSTEM', o.systemPrompt, false)) this.queue.pushEvent(ev);
    for (const h of this.history) for (const ev of textContent(p, randomUUID(), h.role, h.text, false)) this.queue.pushEvent(ev);
    this.queue.pushEvent(audioContentStart(p, this.audioContentName, o.inputSampleRate));
  }

  private flushAudio(): void {
    let pcm = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    const frames = this.pendingFrames;
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingFrames = 0;
    if (pcm.length & 1) {
      // Nova takes whole samples only: carry the odd byte into the next batch.
      const odd = pcm.subarray(pcm.length - 1);
      pcm = pcm.subarray(0, pcm.length - 1);
      this.pending.push(odd);
      this.pendingBytes = 1;
    }
    if (pcm.length === 0) return;
    if (this.expectSince === 0 && this.toolsAwaited.size === 0 && isSpeech(pcm)) {
      this.speechMs += pcm.length / this.inBytesPerMs;
      if (this.speechMs >= SPEECH_ARM_MS) this.expectOutput();
    }
    this.queue.pushAudio(pcm, frames);
  }

  private assertAccepting(what: string): void {
    if (this._state !== 'open' && this._state !== 'starting') throw this.closedError(what);
  }

  private closedError(what: string): SwitchboardError {
    const state = this._state === 'idle' ? 'not started' : this._state;
    return new SwitchboardError('SB_NOVA_CLOSED', [state, what], { modelId: this.modelId });
  }

  /* ---------------------------------------------------------------------------- output */

  private async readOutput(pending: Promise<InvokeModelWithBidirectionalStreamCommandOutput>): Promise<void> {
    let failure: unknown = null;
    let phase: FailurePhase = 'before-output';
    try {
      const res = await pending;
      phase = 'mid-stream';
      if (res.body) {
        for await (const part of res.body) {
          if (this._state === 'closed') break;
          const bytes = part.chunk?.bytes;
          if (bytes) this.onOutput(bytes);
          else if (!part.chunk) {
            failure = exceptionMember(part as unknown as Record<string, unknown>);
            break;
          }
        }
      }
    } catch (e) {
      failure = e;
    }
    this.responseDone = true;
    if (this._state === 'closed') return;
    if (failure !== null) this.fail(failure instanceof SwitchboardError ? failure : novaErrorFromSdk(failure, this.modelId, phase));
    else if (this._state === 'closing') this.finish('ended');
    else {
      // The SDK ends the iterator without an error when its requestTimeout fires mid-stream.
      this.fail(new SwitchboardError('SB_NOVA_STREAM', [this.modelId, 'the response stream ended before the session was closed'], { modelId: this.modelId }));
    }
  }

  private onOutput(bytes: Uint8Array): void {
    let name = '';
    let body: Record<string, unknown>;
    try {
      const ev = (JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as { event: Record<string, Record<string, unknown>> }).event;
      for (const k in ev) {
        name = k;
        break;
      }
      body = ev[name]!;
    } catch (e) {
      throw new SwitchboardError('SB_NOVA_STREAM', [this.modelId, 'an output event is not JSON'], { modelId: this.modelId }, { cause: e });
    }
    // Anything from Nova means it is alive.
    this.expectSince = 0;
    this.speechMs = 0;
    switch (name) {
      case 'audioOutput': return this.onAudioOutput(body);
      case 'contentStart': return this.onContentStart(body);
      case 'textOutput': return this.onTextOutput(body);
      case 'contentEnd': return this.onContentEnd(body);
      case 'toolUse': return this.onToolUse(body);
      case 'usageEvent': return this.onUsage(body);
      default:
    }
  }

  private onAudioOutput(body: Record<string, unknown>): void {
    const pcm = Buffer.from(body.content as string, 'base64');
    this.stats.audioOutBytes += pcm.length;
    const now = performance.now();
    this.playoutEnd = Math.max(this.playoutEnd, now) + pcm.length / this.outBytesPerMs;
    this.emitSafe('audio', pcm);
  }

  private onContentStart(body: Record<string, unknown>): void {
    const type = String(body.type);
    const role = body.role === 'USER' ? 'USER' : 'ASSISTANT';
    const amf = body.additionalModelFields;
    const final = !(typeof amf === 'string' && amf.includes('SPECULATIVE'));
    if (typeof body.contentId === 'string') this.contents.set(body.contentId, { type, role, final });
    if (type === 'AUDIO' && role === 'ASSISTANT') this.interruptLatched = false;
  }

  private onTextOutput(body: Record<string, unknown>): void {
    const text = typeof body.content === 'string' ? body.content : '';
    if (text.includes(INTERRUPTED_MARK) && isInterruptedMark(text)) {
      this.interrupted();
      return;
    }
    const info = typeof body.contentId === 'string' ? this.contents.get(body.contentId) : undefined;
    const role: NovaRole = body.role === 'USER' || body.role === 'ASSISTANT' ? body.role : info?.role ?? 'ASSISTANT';
    const final = info?.final ?? true;
    if (final) this.addTranscript(role, text);
    this.emitSafe('text', { role, text, final });
  }

  private onContentEnd(body: Record<string, unknown>): void {
    const id = typeof body.contentId === 'string' ? body.contentId : '';
    const info = this.contents.get(id);
    this.contents.delete(id);
    const stopReason = String(body.stopReason ?? '');
    if (stopReason === 'INTERRUPTED') this.interrupted();
    const tool = this.toolUses.get(id);
    if (tool) {
      this.toolUses.delete(id);
      if (stopReason === 'INTERRUPTED') this.toolsAwaited.delete(tool.toolUseId);
      else this.emitSafe('toolUse', { toolName: tool.toolName, toolUseId: tool.toolUseId, input: parseJson(tool.content) });
    }
    if ((info?.type ?? body.type) === 'TEXT' && (stopReason === 'END_TURN' || stopReason === 'INTERRUPTED')) {
      this.emitSafe('turnEnd', { role: info?.role ?? 'ASSISTANT', stopReason });
    }
  }

  private onToolUse(body: Record<string, unknown>): void {
    const use = { toolName: String(body.toolName), toolUseId: String(body.toolUseId), content: typeof body.content === 'string' ? body.content : JSON.stringify(body.content ?? null) };
    // The model waits for the result: the caller's silence meanwhile is no stall.
    this.toolsAwaited.add(use.toolUseId);
    if (typeof body.contentId === 'string') this.toolUses.set(body.contentId, use);
    else this.emitSafe('toolUse', { toolName: use.toolName, toolUseId: use.toolUseId, input: parseJson(use.content) });
  }

  private onUsage(body: Record<string, unknown>): void {
    const n = (v: unknown): number => (typeof v === 'number' ? v : 0);
    this.emitSafe('usage', {
      inputTokens: n(body.totalInputTokens), outputTokens: n(body.totalOutputTokens), totalTokens: n(body.totalTokens), details: body.details,
    });
  }

  private interrupted(): void {
    // Nova signals one barge-in up to three ways (AUDIO contentEnd, the marker text, TEXT contentEnd).
    if (this.interruptLatched) return;
    this.interruptLatched = true;
    this.playoutEnd = performance.now();
    this.emitSafe('interrupted');
  }

  private addTranscript(role: NovaRole, text: string): void {
    if (!text) return;
    const last = this.transcript[this.transcript.length - 1];
    if (last && last.role === role) last.text += ` ${text}`;
    else this.transcript.push({ role, text });
  }

  /* -------------------------------------------------------------------------- watchdog */

  /** From now (or when the model's audio has played out), Nova owes us an output event within idleTimeoutMs. */
  private expectOutput(): void {
    if (this._state === 'closed' || this._state === 'closing') return;
    this.expectSince = Math.max(performance.now(), this.playoutEnd);
    if (!this.watchdog) this.watchdog = setTimeout(this.onWatchdog, this.expectSince + this.idleTimeoutMs - performance.now());
  }

  /** One timer at most; an output event only clears expectSince, the timer re-arms or lapses when it fires. */
  private readonly onWatchdog = (): void => {
    this.watchdog = null;
    if (this._state === 'closed' || this._state === 'closing' || this.expectSince === 0 || this.toolsAwaited.size > 0) return;
    const left = this.expectSince + this.idleTimeoutMs - performance.now();
    if (left > 1) {
      this.watchdog = setTimeout(this.onWatchdog, left);
      return;
    }
    this.fail(new SwitchboardError('SB_NOVA_STALLED', [this.modelId, `no output for ${this.idleTimeoutMs} ms while the caller was talking`], { modelId: this.modelId, idleTimeoutMs: this.idleTimeoutMs }));
  };

  private clearWatchdog(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = null;
    this.expectSince = 0;
  }

  /* ----------------------------------------------------------------------------- end */

  private fail(err: SwitchboardError): void {
    this.finish('error', err);
  }

  private finish(reason: NovaCloseReason, err?: SwitchboardError): void {
    if (this._state === 'closed') return;
    const started = this._state !== 'idle';
    this._state = 'closed';
    this.clearWatchdog();
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.closeTimer = null;
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    // After a refused request the SDK keeps pulling the input: ending it is ours to do.
    this.queue.end(reason !== 'ended');
    // Tear the HTTP/2 stream down unless Nova already ended it cleanly.
    if (started && !(reason === 'ended' && this.responseDone)) this.controller.abort();
    this.pending = [];
    this.pendingBytes = 0;
    this.contents.clear();
    this.toolUses.clear();
    this.toolsAwaited.clear();
    this.settleStart?.(err ?? this.closedError('start'));
    if (err) {
      this.log.debug({ err, code: err.code }, 'Nova session failed');
      if (this.listenerCount('error') > 0) this.emitSafe('error', err);
    }
    this.emitSafe('closed', { reason });
    this.resolveClosed();
  }

  private emitSafe<K extends keyof NovaSessionEvents>(name: K, ...args: NovaSessionEvents[K]): void {
    try {
      (this.emit as (n: K, ...a: NovaSessionEvents[K]) => boolean)(name, ...args);
    } catch (e) {
      this.log.error({ err: e, event: name }, 'a NovaSession listener threw');
    }
  }
}

function validate(o: NovaSessionOptions): void {
  const bad = (msg: string): never => {
    throw new SwitchboardError('SB_NOVA_BAD_OPTION', [msg], { modelId: o.modelId });
  };
  if (!o.modelId) bad('modelId is required');
  const voice = voiceProblem(o.modelId, o.voiceId);
  if (voice) bad(voice);
  if (o.inputSampleRate !== 8000 && o.inputSampleRate !== 16000) bad(`inputSampleRate must be 8000 or 16000 (got ${String(o.inputSampleRate)})`);
  if (o.outputSampleRate !== 8000 && o.outputSampleRate !== 16000 && o.outputSampleRate !== 24000) bad(`outputSampleRate must be 8000, 16000 or 24000 (got ${String(o.outputSampleRate)})`);
  const frameMs = o.frameMs ?? DEFAULT_FRAME_MS;
  if (!Number.isInteger(frameMs) || frameMs < 20 || frameMs % 20 !== 0 || frameMs > 1000) bad(`frameMs must be a multiple of 20 between 20 and 1000 (got ${frameMs})`);
  for (const [name, v] of [['idleTimeoutMs', o.idleTimeoutMs], ['maxQueuedMs', o.maxQueuedMs], ['closeTimeoutMs', o.closeTimeoutMs]] as const) {
    if (v !== undefined && !(v > 0)) bad(`${name} must be > 0 (got ${v})`);
  }
  if (typeof o.systemPrompt !== 'string') bad('systemPrompt must be a string');
  const names = new Set<string>();
  for (const t of o.tools ?? []) {
    if (!t.name || names.has(t.name)) bad(`tool names must be unique and non-empty (got "${t.name}")`);
    names.add(t.name);
  }
}

/** Mean square over every 4th sample: enough to tell talking from line noise, at a quarter of the reads. */
function isSpeech(pcm: Buffer): boolean {
  const samples = pcm.length >> 1;
  let sum = 0;
  let n = 0;
  for (let i = 0; i < samples; i += 4) {
    const s = pcm.readInt16LE(i << 1);
    sum += s * s;
    n++;
  }
  return n > 0 && sum / n >= SPEECH_RMS * SPEECH_RMS;
}

function isInterruptedMark(text: string): boolean {
  try {
    return (JSON.parse(text) as { interrupted?: unknown }).interrupted === true;
  } catch {
    return false;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** A union member other than `chunk` is a modelled exception (e.g. `throttlingException`). */
function exceptionMember(part: Record<string, unknown>): unknown {
  for (const key in part) {
    const v = part[key];
    if (v === undefined) continue;
    if (v instanceof Error) return v;
    const name = key.charAt(0).toUpperCase() + key.slice(1);
    const message = typeof (v as { message?: unknown })?.message === 'string' ? (v as { message: string }).message : name;
    return Object.assign(new Error(message), { name });
  }
  return new Error('an empty output event');
}
