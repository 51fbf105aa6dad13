/**
 * One bidirectional stream: decode and check the client's frames, validate the event sequence,
 * take turns on the caller's audio, and play the script back as Nova Sonic's output sequence
 * (with barge-in, tool use, pacing and scripted failures).
 *
 * Hot path (every audioInput): split frames → two CRC-checked decodes → JSON → base64 → RMS.
 * Nothing else runs per audio event unless a waiter or failure trigger asks for it.
 */
import { randomUUID } from 'node:crypto';
import { constants as h2, type ServerHttp2Stream } from 'node:http2';
import { pcmBytesFor, pcmDurationMs, resample, tone } from './audio.ts';
import type { CloseReason, EmulatedSession } from './emulated-session.ts';
import { EventStreamError, FrameSplitter, scanHeaders, splitMessage } from './event-stream.ts';
import { AudioFramer, DEFAULT_EXCEPTION_MESSAGES, encodeException, encodeOutputEvent } from './output-frames.ts';
import type {
  AudioSpec, CannedTurn, EchoReply, ExceptionFailure, Failure, Reply, Sentence, SessionScript, StreamExceptionType,
  ToolUseSpec, TurnContext,
} from './scripts.ts';
import { TurnDetector } from './turn-detector.ts';
import { InputValidator, ValidationFailure, type InputAction, type OpenContent } from './validation.ts';

export const DEFAULT_SESSION_LIMIT_MS = 480_000;
const DEFAULT_CHUNK_MS = 40;
const DEFAULT_SPEED = 2;
const DEFAULT_BURST_MS = 200;
const INTERRUPTED_TEXT = '{ "interrupted" : true }';
/** After the response ends, how long the client may take to end its input before the stream is reset. */
const CLOSE_GRACE_MS = 1000;
/** Waits shorter than this are not worth a timer: send now. */
const MIN_TIMER_MS = 1;
/** Paced audio may run this far (wall-clock ms) ahead of its schedule, so it goes out in bursts. */
const PACING_QUANTUM_MS = 40;

export interface SessionEngineOptions {
  timeScale: number;
  recordAudio: boolean;
  voices: readonly string[];
  /** Nova 2 starts a turn on interactive text; v1 only on audio. */
  textTurnsDefault: boolean;
}

interface PlannedSentence {
  text: Sentence['text'];
  audio: Buffer | undefined;
}

interface TurnPlan {
  userTranscript: string | undefined;
  toolUse: ToolUseSpec | undefined;
  sentences: PlannedSentence[];
  delayMs: number | undefined;
  endSession: boolean;
  ctx: TurnContext;
}

interface ActiveTurn {
  interrupted: boolean;
  aborted: boolean;
  /** From the first audio chunk until the audio would have finished playing. */
  speaking: boolean;
  audioContentId: string | null;
}

type NormalReply =
  | { kind: 'silent' }
  | { kind: 'echo'; echo: EchoReply }
  | { kind: 'canned'; turns: CannedTurn[]; then: 'silent' | 'repeat-last' | 'echo' };

function normaliseReply(reply: Reply | undefined): NormalReply {
  if (reply === undefined || reply === 'echo') return { kind: 'echo', echo: { echo: true } };
  if (reply === 'silent') return { kind: 'silent' };
  if (Array.isArray(reply)) return { kind: 'canned', turns: reply, then: 'silent' };
  if ('echo' in reply) return { kind: 'echo', echo: reply };
  return { kind: 'canned', turns: reply.turns, then: reply.then ?? 'silent' };
}

function audioOf(spec: AudioSpec | undefined, rate: number): Buffer | undefined {
  if (spec === undefined) return undefined;
  if ('ms' in spec && !(spec instanceof Uint8Array)) return tone(spec.ms, rate, spec.hz, spec.amplitude);
  const buf = Buffer.isBuffer(spec) ? spec : Buffer.from(spec.buffer, spec.byteOffset, spec.byteLength);
  return buf.length & 1 ? buf.subarray(0, buf.length - 1) : buf;
}

const tokens = (chars: number): number => Math.ceil(chars / 4);
/** A rough speech-token rate; only the shape of usageEvent matters to clients. */
const speechTokens = (ms: number): number => Math.round(ms / 40);

export class SessionEngine {
  private readonly splitter = new FrameSplitter();
  private readonly validator: InputValidator;
  private readonly detector: TurnDetector;
  private readonly reply: NormalReply;
  private readonly failures: Failure[];
  private readonly timeScale: number;
  private readonly outputDelayMs: number;
  private readonly bargeIn: boolean;
  private readonly textTurns: boolean;
  /** The emulator has ended (or seen the end of) the stream: no more output, input only bookkept. */
  private finished = false;
  /** The byte stream can no longer be parsed. */
  private broken = false;
  private stalled = false;
  private turn: ActiveTurn | null = null;
  private turnIndex = 0;
  private cannedIndex = 0;
  private outputRate = 16000;
  private promptName = '';
  private readonly completionId = randomUUID();
  private completionOpen = false;
  private inputCount = 0;
  private outputCount = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly sleepers = new Set<() => void>();
  private readonly toolWaiters = new Map<string, (result: string | null) => void>();
  private readonly usage = { inSpeechMs: 0, inText: 0, outSpeechMs: 0, outText: 0 };
  private readonly usageReported = { inSpeech: 0, inText: 0, outSpeech: 0, outText: 0 };

  constructor(
    private readonly record: EmulatedSession,
    private readonly stream: ServerHttp2Stream,
    private readonly script: SessionScript,
    private readonly options: SessionEngineOptions,
  ) {
    this.validator = new InputValidator(script.voices ?? options.voices);
    this.detector = new TurnDetector(script.turnDetection);
    this.reply = normaliseReply(script.reply);
    this.failures = script.failure === undefined ? [] : Array.isArray(script.failure) ? script.failure : [script.failure];
    this.timeScale = options.timeScale;
    this.outputDelayMs = (script.outputDelayMs ?? 0) * options.timeScale;
    this.bargeIn = script.bargeIn ?? true;
    this.textTurns = script.textTurns ?? options.textTurnsDefault;
  }

  /** Answer 200 and start reading the client's frames. */
  start(): void {
    const { stream } = this;
    stream.respond({
      ':status': 200,
      'content-type': 'application/vnd.amazon.eventstream',
      'x-amzn-requestid': this.record.id,
    });
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('end', () => this.onInputEnd());
    stream.on('error', () => { /* reported through 'close' */ });
    stream.on('close', () => this.onClosed());
    const limit = (this.script.sessionLimitMs ?? DEFAULT_SESSION_LIMIT_MS) * this.timeScale;
    this.after(limit, () => this.fail('modelTimeoutException',
      `Stream reached its maximum duration of ${Math.round((this.script.sessionLimitMs ?? DEFAULT_SESSION_LIMIT_MS) / 1000)} s; start a new session.`));
    for (const f of this.failures) if (f.afterMs !== undefined) this.after(f.afterMs * this.timeScale, () => this.fire(f));
    if (this.failures.some((f) => f.afterOutputEvents === 0)) {
      // "before the first output": fire as soon as the stream is open, nothing will have been sent.
      queueMicrotask(() => { for (const f of this.failures) if (f.afterOutputEvents === 0) this.fire(f); });
    }
  }

  /** NovaEmulator.close(): end the stream now. */
  shutdown(): void {
    this.finish('emulator-closed');
    if (!this.stream.destroyed) this.stream.close(h2.NGHTTP2_NO_ERROR);
  }

  /* ------------------------------------------------------------------ input */

  private onData(chunk: Buffer): void {
    if (this.broken) return;
    let frames: Buffer[];
    try {
      frames = this.splitter.push(chunk);
    } catch (e) {
      this.protocolError(e);
      return;
    }
    for (const frame of frames) {
      this.onFrame(frame);
      if (this.broken) return;
    }
  }

  private onFrame(frame: Buffer): void {
    let outer;
    let outerHeaders;
    try {
      outer = splitMessage(frame);
      outerHeaders = scanHeaders(outer.headerBlock);
    } catch (e) {
      this.protocolError(e);
      return;
    }
    if (outerHeaders.get(':chunk-signature')?.type !== 'binary' || outerHeaders.get(':date')?.type !== 'timestamp') {
      this.protocolError(new Error('frame is not signed: the outer message needs :date (timestamp) and :chunk-signature (binary) headers'));
      return;
    }
    if (outer.payload.length === 0) {
      // The SDK's end-of-input marker: a signed frame around nothing.
      this.record.inputEnded = true;
      return;
    }
    if (this.finished) return; // after sessionEnd or an exception: only the end marker matters
    let inner;
    let innerHeaders;
    try {
      inner = splitMessage(outer.payload);
      innerHeaders = scanHeaders(inner.headerBlock);
    } catch (e) {
      this.protocolError(e, 'inner message: ');
      return;
    }
    const problem = checkChunkHeaders(innerHeaders);
    if (problem) {
      this.protocolError(new Error(problem));
      return;
    }
    let wrapper: unknown;
    try {
      wrapper = JSON.parse(Buffer.from(chunkBytes(inner.payload), 'base64').toString('utf8'));
    } catch {
      this.record.recordInput('(unparseable)', {});
      this.fail('validationException', 'chunk bytes are not a JSON event');
      return;
    }
    this.onEvent(wrapper);
  }

  private onEvent(wrapper: unknown): void {
    const ev = (wrapper as { event?: unknown } | null)?.event;
    const name = typeof ev === 'object' && ev !== null ? (Object.keys(ev)[0] ?? '(empty)') : '(invalid)';
    const recorded = typeof ev === 'object' && ev !== null ? (ev as Record<string, unknown>) : { [name]: wrapper };
    this.record.recordInput(name, recorded);
    this.inputCount++;
    let action: InputAction;
    try {
      action = this.validator.accept(wrapper);
    } catch (e) {
      if (!(e instanceof ValidationFailure)) throw e;
      this.fail('validationException', e.message);
      return;
    }
    if (action.kind === 'audioInput' && !this.options.recordAudio) {
      const body = recorded.audioInput as Record<string, unknown>;
      delete body.content;
      body.contentBytes = action.pcm.length;
    }
    this.act(action);
    if (this.failures.length) {
      for (const f of this.failures) {
        if (f.afterInputEvents === this.inputCount || f.onInputEvent === name) this.fire(f);
      }
    }
  }

  private act(a: InputAction): void {
    switch (a.kind) {
      case 'promptStart':
        this.record.prompt = a.prompt;
        this.outputRate = a.prompt.outputSampleRate;
        this.promptName = a.prompt.promptName;
        return;
      case 'audioInput': return this.onAudio(a.content, a.pcm);
      case 'contentEnd': return this.onContentEnd(a.content);
      case 'promptEnd':
        this.abortTurn();
        if (this.completionOpen) this.sendNow('completionEnd', { ...this.ids(), stopReason: 'END_TURN' });
        this.completionOpen = false;
        return;
      case 'sessionEnd':
        this.finish('session-end');
        return;
      default:
    }
  }

  private onAudio(content: OpenContent, pcm: Buffer): void {
    const r = this.record;
    const ms = pcmDurationMs(pcm.length, content.sampleRate);
    r.audioInBytes += pcm.length;
    r.audioInEvents++;
    r.audioInMs += ms;
    this.usage.inSpeechMs += ms;
    const signal = this.detector.push(pcm, content.sampleRate);
    if (signal === 'speech-start') {
      const t = this.turn;
      if (t && t.speaking && this.bargeIn && !t.interrupted) {
        t.interrupted = true;
        this.wakeAll();
      }
    } else if (signal === 'turn-end' && !this.turn) {
      const audio = this.detector.takeTurnAudio();
      this.startTurn(audio, undefined);
    }
  }

  private onContentEnd(c: OpenContent): void {
    const text = c.parts.join('');
    if (c.type === 'TEXT') {
      this.usage.inText += text.length;
      if (c.role === 'SYSTEM') this.record.systemPrompt = text;
      else if ((c.role === 'USER' || c.role === 'ASSISTANT') && c.beforeAudio && !c.interactive) this.record.history.push({ role: c.role, text });
      else if (c.role === 'USER' && c.interactive && this.textTurns && !this.turn) this.startTurn(undefined, text);
    } else if (c.type === 'TOOL') {
      this.usage.inText += text.length;
      this.record.toolResults.push({ toolUseId: c.toolUseId, content: text });
      const w = this.toolWaiters.get(c.toolUseId);
      if (w) {
        this.toolWaiters.delete(c.toolUseId);
        w(text);
      }
    }
  }

  private onInputEnd(): void {
    // END_STREAM on the request. The SDK sends its end-of-input frame first when the body iterable
    // finishes; an abort (AbortSignal, destroy) ends the request without it.
    if (!this.finished) this.finish(this.record.inputEnded ? 'input-ended' : 'client-reset');
  }

  private onClosed(): void {
    if (!this.finished) {
      this.finish('client-reset');
    }
    this.record.markClosed();
  }

  /* ------------------------------------------------------------------ turns */

  private startTurn(callerAudio: { pcm: Buffer; sampleRate: number } | undefined, userText: string | undefined): void {
    const plan = this.plan(callerAudio, userText);
    if (!plan) {
      this.detector.listen();
      return;
    }
    this.record.turns++;
    const turn: ActiveTurn = { interrupted: false, aborted: false, speaking: false, audioContentId: null };
    this.turn = turn;
    this.detector.respond();
    this.runTurn(turn, plan).catch(() => { /* a write after the stream died: nothing to report */ }).finally(() => {
      if (this.turn === turn) {
        this.turn = null;
        this.detector.listen();
      }
    });
  }

  private plan(callerAudio: { pcm: Buffer; sampleRate: number } | undefined, userText: string | undefined): TurnPlan | null {
    const callerAudioMs = callerAudio ? pcmDurationMs(callerAudio.pcm.length, callerAudio.sampleRate) : 0;
    const ctx: TurnContext = { turn: this.turnIndex, callerAudioMs };
    let canned: CannedTurn | undefined;
    let echo: EchoReply | undefined;
    const r = this.reply;
    if (r.kind === 'silent') return null;
    if (r.kind === 'echo') echo = r.echo;
    else if (this.cannedIndex < r.turns.length) canned = r.turns[this.cannedIndex++];
    else if (r.then === 'repeat-last' && r.turns.length) canned = r.turns[r.turns.length - 1];
    else if (r.then === 'echo') echo = { echo: true };
    else return null;
    this.turnIndex++;
    if (canned) {
      const sentences = canned.sentences
        ? canned.sentences.map((s) => ({ text: s.text, audio: audioOf(s.audio, this.outputRate) }))
        : [{ text: canned.text, audio: audioOf(canned.audio, this.outputRate) }];
      return {
        userTranscript: canned.userTranscript ?? userText,
        toolUse: canned.toolUse,
        sentences,
        delayMs: canned.delayMs,
        endSession: canned.endSession ?? false,
        ctx,
      };
    }
    const e = echo!;
    const audio = callerAudio && callerAudio.pcm.length
      ? resample(callerAudio.pcm, callerAudio.sampleRate, this.outputRate)
      : tone(500, this.outputRate);
    const transcript = typeof e.userTranscript === 'function' ? e.userTranscript(ctx) : e.userTranscript;
    return {
      userTranscript: transcript ?? userText ?? `[echo ${Math.round(callerAudioMs)} ms]`,
      toolUse: undefined,
      sentences: [{ text: e.text ?? userText, audio }],
      delayMs: undefined,
      endSession: false,
      ctx,
    };
  }

  private async runTurn(turn: ActiveTurn, plan: TurnPlan): Promise<void> {
    const delay = (plan.delayMs ?? this.script.responseDelayMs ?? 0) * this.timeScale;
    if (delay > 0 && !(await this.pause(delay, turn))) return;
    if (!this.live(turn)) return;
    if (!this.completionOpen) {
      this.completionOpen = true;
      if (!(await this.send('completionStart', this.ids()))) return;
    }
    if (plan.userTranscript !== undefined) {
      if (!(await this.textBlock('USER', 'FINAL', plan.userTranscript, 'END_TURN'))) return;
    }
    if (plan.toolUse) {
      const result = await this.toolRoundTrip(plan.toolUse);
      if (result === null || !this.live(turn)) return;
      plan.ctx.toolResult = result;
    }
    for (let i = 0; i < plan.sentences.length; i++) {
      const s = plan.sentences[i]!;
      const last = i === plan.sentences.length - 1;
      const text = typeof s.text === 'function' ? s.text(plan.ctx) : s.text;
      if (text !== undefined && !(await this.textBlock('ASSISTANT', 'SPECULATIVE', text, 'PARTIAL_TURN'))) return;
      if (s.audio && s.audio.length) {
        const spoke = await this.speak(turn, s.audio, last);
        if (!spoke) {
          if (turn.interrupted && !this.finished && !this.stalled) await this.interrupted(turn);
          return;
        }
      }
      if (text !== undefined && !(await this.textBlock('ASSISTANT', 'FINAL', text, last ? 'END_TURN' : 'PARTIAL_TURN'))) return;
    }
    if (!(await this.sendUsage())) return;
    if (this.script.completionPerTurn || plan.endSession) {
      this.completionOpen = false;
      if (!(await this.send('completionEnd', { ...this.ids(), stopReason: 'END_TURN' }))) return;
    }
    if (plan.endSession) this.finish('end-session');
  }

  private async toolRoundTrip(spec: ToolUseSpec): Promise<string | null> {
    const toolUseId = spec.toolUseId ?? randomUUID();
    const contentId = randomUUID();
    const content = JSON.stringify(spec.input ?? {});
    // Accept the client's answer from the moment the model asks.
    this.validator.pendingToolUses.add(toolUseId);
    const answered = new Promise<string | null>((resolve) => this.toolWaiters.set(toolUseId, resolve));
    const base = { ...this.ids(), contentId };
    this.usage.outText += content.length;
    const ok = (await this.send('contentStart', { ...base, type: 'TOOL', role: 'TOOL', toolUseOutputConfiguration: { mediaType: 'application/json' } }))
      && (await this.send('toolUse', { ...base, toolName: spec.toolName, toolUseId, content }))
      && (await this.send('contentEnd', { ...base, type: 'TOOL', stopReason: 'TOOL_USE' }));
    if (!ok) return null;
    return answered;
  }

  /** Send one audio content, paced; true when it was spoken (and played out) to the end. */
  private async speak(turn: ActiveTurn, pcm: Buffer, lastSentence: boolean): Promise<boolean> {
    const rate = this.outputRate;
    const contentId = randomUUID();
    const base = { ...this.ids(), contentId };
    const started = await this.send('contentStart', {
      ...base, type: 'AUDIO', role: 'ASSISTANT',
      audioOutputConfiguration: { mediaType: 'audio/lpcm', sampleRateHertz: rate, sampleSizeBits: 16, channelCount: 1, encoding: 'base64', audioType: 'SPEECH' },
    });
    if (!started || !this.live(turn)) return false;
    turn.audioContentId = contentId;
    turn.speaking = true;
    const pacing = this.script.audioPacing ?? {};
    const chunkMs = pacing.chunkMs ?? DEFAULT_CHUNK_MS;
    const speed = pacing.speed ?? DEFAULT_SPEED;
    const burstMs = pacing.burstMs ?? DEFAULT_BURST_MS;
    const chunkBytes = Math.max(2, pcmBytesFor(chunkMs, rate));
    const framer = new AudioFramer(base);
    const paced = Number.isFinite(speed) && speed > 0;
    const t0 = this.record.now();
    let sentMs = 0;
    for (let off = 0; off < pcm.length; off += chunkBytes) {
      if (paced) {
        // Sleep only when a whole quantum ahead, then send everything due: bursts, few timers.
        const wait = t0 + (Math.max(0, sentMs - burstMs) / speed) * this.timeScale - this.record.now();
        if (wait >= PACING_QUANTUM_MS && !(await this.pause(wait, turn))) return false;
      }
      if (!this.live(turn)) return false;
      const chunk = pcm.subarray(off, off + chunkBytes);
      if (this.outputDelayMs > 0 && !(await this.pause(this.outputDelayMs, null))) return false;
      if (!this.sendFrame('audioOutput', framer.frame(chunk), base, chunk.length)) return false;
      sentMs += pcmDurationMs(chunk.length, rate);
    }
    this.usage.outSpeechMs += sentMs;
    if (!this.live(turn)) return false;
    turn.audioContentId = null;
    if (!(await this.send('contentEnd', { ...base, type: 'AUDIO', stopReason: lastSentence ? 'END_TURN' : 'PARTIAL_TURN' }))) return false;
    if (this.bargeIn) {
      // Still "speaking" until the caller would have heard it all: barge-in can land after the last chunk was sent.
      const wait = t0 + sentMs * this.timeScale - this.record.now();
      if (wait >= MIN_TIMER_MS && !(await this.pause(wait, turn))) return false;
    }
    turn.speaking = false;
    return this.live(turn);
  }

  /** Barge-in: close the audio content, say so, and go back to listening (the caller's speech is the next turn). */
  private async interrupted(turn: ActiveTurn): Promise<void> {
    this.record.interruptions++;
    if (turn.audioContentId) {
      const id = turn.audioContentId;
      turn.audioContentId = null;
      if (!(await this.send('contentEnd', { ...this.ids(), contentId: id, type: 'AUDIO', stopReason: 'INTERRUPTED' }))) return;
    }
    if (!(await this.textBlock('ASSISTANT', 'FINAL', INTERRUPTED_TEXT, 'INTERRUPTED'))) return;
    if (!(await this.sendUsage())) return;
    if (this.script.completionPerTurn) {
      this.completionOpen = false;
      await this.send('completionEnd', { ...this.ids(), stopReason: 'INTERRUPTED' });
    }
  }

  private async textBlock(role: 'USER' | 'ASSISTANT', stage: 'SPECULATIVE' | 'FINAL', text: string, stopReason: string): Promise<boolean> {
    const base = { ...this.ids(), contentId: randomUUID() };
    if (role === 'ASSISTANT' && stage === 'SPECULATIVE') this.usage.outText += text.length;
    return (await this.send('contentStart', {
      ...base, type: 'TEXT', role, additionalModelFields: JSON.stringify({ generationStage: stage }), textOutputConfiguration: { mediaType: 'text/plain' },
    }))
      && (await this.send('textOutput', { ...base, role, content: text }))
      && (await this.send('contentEnd', { ...base, type: 'TEXT', stopReason }));
  }

  private sendUsage(): Promise<boolean> {
    const u = this.usage;
    const total = { inSpeech: speechTokens(u.inSpeechMs), inText: tokens(u.inText), outSpeech: speechTokens(u.outSpeechMs), outText: tokens(u.outText) };
    const prev = this.usageReported;
    const delta = { inSpeech: total.inSpeech - prev.inSpeech, inText: total.inText - prev.inText, outSpeech: total.outSpeech - prev.outSpeech, outText: total.outText - prev.outText };
    Object.assign(prev, total);
    const shape = (t: typeof total): Record<string, unknown> => ({
      input: { speechTokens: t.inSpeech, textTokens: t.inText }, output: { speechTokens: t.outSpeech, textTokens: t.outText },
    });
    const totalIn = total.inSpeech + total.inText;
    const totalOut = total.outSpeech + total.outText;
    return this.send('usageEvent', {
      ...this.ids(), details: { delta: shape(delta), total: shape(total) }, totalInputTokens: totalIn, totalOutputTokens: totalOut, totalTokens: totalIn + totalOut,
    });
  }

  private abortTurn(): void {
    if (this.turn) {
      this.turn.aborted = true;
      this.wakeAll();
    }
  }

  private ids(): { sessionId: string; promptName: string; completionId: string } {
    return { sessionId: this.record.id, promptName: this.promptName, completionId: this.completionId };
  }

  /* ----------------------------------------------------------------- output */

  private live(turn: ActiveTurn | null): boolean {
    return !this.finished && !this.stalled && (turn === null || (!turn.interrupted && !turn.aborted));
  }

  /** Send an output event, after the scripted 'slow' delay if any; false once nothing more may be sent. */
  private async send(name: string, body: Record<string, unknown>): Promise<boolean> {
    if (this.outputDelayMs > 0 && !(await this.pause(this.outputDelayMs, null))) return false;
    return this.sendNow(name, body);
  }

  private sendNow(name: string, body: Record<string, unknown>): boolean {
    if (this.finished || this.stalled) return false;
    return this.sendFrame(name, encodeOutputEvent(name, body), body, 0);
  }

  /** Write an encoded output event and record it (audioOutput: `body` is the event without its content). */
  private sendFrame(name: string, frame: Buffer, body: Record<string, unknown>, audioBytes: number): boolean {
    if (this.finished || this.stalled) return false;
    this.stream.write(frame);
    this.outputCount++;
    const r = this.record;
    if (name === 'audioOutput') {
      r.audioOutBytes += audioBytes;
      r.audioOutEvents++;
      const recorded = this.options.recordAudio
        ? { ...body, content: frameAudioBase64(frame) }
        : { ...body, contentBytes: audioBytes };
      r.recordOutput(name, { [name]: recorded });
    } else {
      r.recordOutput(name, { [name]: body });
    }
    if (this.failures.length) {
      for (const f of this.failures) if (f.afterOutputEvents === this.outputCount) this.fire(f);
    }
    return !this.finished && !this.stalled;
  }

  /** Sleep that ends early (false) when the turn is interrupted or aborted, or the stream is done. */
  private pause(ms: number, turn: ActiveTurn | null): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve(this.live(turn));
      };
      const timer = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }

  private wakeAll(): void {
    for (const s of [...this.sleepers]) s();
  }

  private after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  /* -------------------------------------------------------- failure & close */

  private fire(f: Failure): void {
    if (this.finished || this.stalled) return;
    if ('stall' in f) {
      this.stalled = true;
      this.wakeAll();
      return;
    }
    const ex = f as ExceptionFailure;
    this.fail(ex.exception, ex.message ?? DEFAULT_EXCEPTION_MESSAGES[ex.exception]);
  }

  private fail(type: StreamExceptionType, message: string, reason: CloseReason = 'exception'): void {
    if (this.finished) return;
    const body: Record<string, unknown> = { message };
    if (type === 'modelStreamErrorException') {
      body.originalStatusCode = 500;
      body.originalMessage = message;
    }
    this.record.exception = { type, message };
    // Write the exception before finish() ends the stream (a stall does not stop exceptions: the
    // service's own limits still apply).
    if (!this.stream.destroyed && !this.stream.writableEnded) this.stream.write(encodeException(type, body));
    this.finish(reason);
  }

  private protocolError(e: unknown, prefix = ''): void {
    this.broken = true;
    if (e instanceof EventStreamError && (e.code === 'prelude-crc' || e.code === 'message-crc')) this.record.crcErrors++;
    if (this.finished) return;
    const msg = e instanceof Error ? e.message : String(e);
    this.fail('validationException', `invalid event-stream frame: ${prefix}${msg}`, 'protocol-error');
  }

  private finish(reason: CloseReason): void {
    if (this.finished) return;
    this.finished = true;
    if (this.record.closeReason === null) this.record.closeReason = reason;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.turn) this.turn.aborted = true;
    this.wakeAll();
    for (const w of this.toolWaiters.values()) w(null);
    this.toolWaiters.clear();
    const s = this.stream;
    if (s.destroyed || s.writableEnded) return;
    s.end(() => {
      // A complete response may be followed by RST_STREAM(NO_ERROR) to tell the client to stop
      // sending (RFC 9113 §8.1). Give a well-behaved client time to end its input first; a client
      // that never does would otherwise keep the stream half-open for ever.
      if (s.destroyed || s.closed) return;
      const t = setTimeout(() => {
        if (!s.destroyed && !s.closed) s.close(h2.NGHTTP2_NO_ERROR);
      }, CLOSE_GRACE_MS);
      t.unref();
      s.once('close', () => clearTimeout(t));
    });
  }
}

function checkChunkHeaders(h: ReturnType<typeof scanHeaders>): string | null {
  if (h.get(':message-type')?.text !== 'event') return `inner message :message-type must be the string 'event'`;
  const et = h.get(':event-type')?.text;
  if (et !== 'chunk') return `inner message :event-type must be the string 'chunk' (got ${et ?? 'none'})`;
  return null;
}

/** The audio (base64) back out of an encoded audioOutput frame, for `recordAudio`. */
function frameAudioBase64(frame: Buffer): string {
  const outer = splitMessage(frame).payload;
  const json = Buffer.from(chunkBytes(outer), 'base64').toString('utf8');
  const ev = JSON.parse(json) as { event: { audioOutput: { content: string } } };
  return ev.event.audioOutput.content;
}

/** The base64 text of `{"bytes":"…"}` without building an object (falls back to JSON.parse). */
function chunkBytes(payload: Buffer): string {
  const PREFIX = '{"bytes":"';
  const s = payload.toString('latin1');
  if (s.startsWith(PREFIX) && s.endsWith('"}') && s.indexOf('"', PREFIX.length) === s.length - 2) return s.slice(PREFIX.length, -2);
  const parsed: unknown = JSON.parse(payload.toString('utf8'));
  const bytes = (parsed as { bytes?: unknown } | null)?.bytes;
  if (typeof bytes !== 'string') throw new Error('chunk payload has no "bytes" string');
  return bytes;
}
