import { SwitchboardError } from '../../core/errors.ts';
import type { Call } from '../../core/esl/index.ts';
import type { Logger } from '../../core/log.ts';
import type { AudioStream, SpeechPlayer } from '../../core/media/index.ts';
import { NovaSession, type NovaSessionOptions } from '../../core/nova/index.ts';
import type { LoadedTool } from '../../core/plugins/host.ts';
import type { ToolResult } from '../../core/plugins/types.ts';

const EARLY_AUDIO_BYTES = 64_000; // 2 s at 16 kHz

export interface ToolChoice {
  tool: LoadedTool;
  options: Record<string, unknown>;
}

export interface ConversationEnd {
  outcome: string;
  error?: SwitchboardError;
  tool?: string;
  result?: unknown;
}

export interface ConversationOptions {
  call: Call;
  stream: AudioStream;
  player: SpeechPlayer;
  session: Omit<NovaSessionOptions, 'history' | 'signal' | 'tools'>;
  tools: ReadonlyMap<string, ToolChoice>;
  /** Start a new Nova session (with the conversation so far) after this long, at a pause. */
  renewAfterMs: number;
  /** Renew even without a pause after this long (before Nova's 8-minute limit). */
  renewByMs: number;
  log: Logger;
  signal: AbortSignal;
  config: import('../../core/config.ts').Config;
}

/**
 * One caller ⇄ Nova Sonic conversation: caller audio from mod_audio_stream into the session,
 * the model's voice out through the SpeechPlayer, barge-in, tools, and renewal of the Nova
 * session before its 8-minute limit. Ends with an outcome: a tool's (hangup, transfer, …),
 * `error`, or whatever the caller of end() decides (timeout).
 */
export class Conversation {
  private session!: NovaSession;
  private readonly history: Array<{ role: 'USER' | 'ASSISTANT'; text: string }> = [];
  private sessionStarted = 0;
  private renewing = false;
  private toolsPending = 0;
  private pendingOutcome: { outcome: string; tool: string; result: unknown } | undefined;
  private resolveEnd!: (end: ConversationEnd) => void;
  private ended = false;
  readonly done: Promise<ConversationEnd>;
  readonly transcript: Array<{ role: 'USER' | 'ASSISTANT'; text: string }> = [];
  renewals = 0;
  private renewTimer: NodeJS.Timeout | undefined;
  private lastWordsTimer: NodeJS.Timeout | undefined;
  /** Caller audio that arrived before the first Nova session was open (bounded). */
  private early: Buffer[] | null = [];
  private earlyBytes = 0;
  private readonly onAudio = (frame: Buffer): void => {
    if (this.early === null) return this.session.sendAudio(frame);
    if (this.earlyBytes + frame.length > EARLY_AUDIO_BYTES) return;
    this.early.push(frame);
    this.earlyBytes += frame.length;
  };
  private readonly onStreamClose = (info: { byRemote: boolean; code: number }): void => {
    if (!this.ended && info.byRemote && !this.o.call.isGone) this.end({ outcome: 'error', error: new SwitchboardError('SB_MEDIA_CLOSED', [`audio stream of ${this.o.call.id} closed (${info.code})`]) });
  };

  constructor(private readonly o: ConversationOptions) {
    this.done = new Promise((resolve) => (this.resolveEnd = resolve));
    // Listen at once: what the caller says while Nova is being set up is kept and replayed.
    this.o.stream.on('audio', this.onAudio);
    this.o.stream.on('close', this.onStreamClose);
  }

  async start(): Promise<void> {
    await this.open();
    const early = this.early ?? [];
    this.early = null;
    for (const frame of early) this.session.sendAudio(frame);
  }

  /** Nova 2: the model speaks first. */
  speakFirst(text: string): void {
    this.session.sendText(text);
  }

  /** Ends the conversation (e.g. max_duration); the first end wins. */
  end(end: ConversationEnd): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.renewTimer);
    clearTimeout(this.lastWordsTimer);
    this.resolveEnd(end);
  }

  async close(): Promise<void> {
    this.end({ outcome: 'ok' });
    this.o.stream.off('audio', this.onAudio);
    this.o.stream.off('close', this.onStreamClose);
    await this.session?.close().catch(() => {});
  }

  private async open(): Promise<void> {
    const toolSpecs = [...this.o.tools.entries()].map(([name, t]) => ({ name, description: t.tool.plugin.meta.description, inputSchema: t.tool.plugin.meta.schema }));
    const session = new NovaSession({ ...this.o.session, tools: toolSpecs, history: this.history.length > 0 ? [...this.history] : undefined, signal: this.o.signal });
    session.on('audio', (pcm) => this.session === session && this.o.player.push(pcm));
    session.on('interrupted', () => {
      if (this.session !== session) return;
      this.o.log.debug('caller barged in');
      void this.o.player.interrupt();
    });
    session.on('text', (t) => {
      if (this.session !== session || !t.final) return;
      this.transcript.push({ role: t.role, text: t.text });
      this.history.push({ role: t.role, text: t.text });
      this.o.log.info({ role: t.role, text: t.text }, 'transcript');
    });
    session.on('turnEnd', (e) => {
      if (this.session !== session || e.role !== 'ASSISTANT') return;
      this.o.player.flush();
      void this.atPause();
    });
    session.on('toolUse', (use) => void this.runTool(session, use.toolName, use.toolUseId, use.input));
    session.on('error', (err) => {
      if (this.session === session && !this.renewing) this.end({ outcome: 'error', error: err });
    });
    this.session = session;
    this.sessionStarted = performance.now();
    await session.start();
    clearTimeout(this.renewTimer);
    this.renewTimer = setTimeout(() => void this.renew('limit'), this.o.renewByMs);
  }

  /** After the model's turn has been heard: act on a tool's outcome, or renew the session if due. */
  private async atPause(): Promise<void> {
    await this.o.player.idle();
    if (this.ended) return;
    if (this.pendingOutcome && this.toolsPending === 0) {
      const p = this.pendingOutcome;
      return this.end({ outcome: p.outcome, tool: p.tool, result: p.result });
    }
    if (performance.now() - this.sessionStarted >= this.o.renewAfterMs) await this.renew('pause');
  }

  /** A new Nova session with the conversation so far as history; the caller hears no gap beyond a turn. */
  private async renew(why: 'pause' | 'limit'): Promise<void> {
    if (this.ended || this.renewing || this.toolsPending > 0) return;
    this.renewing = true;
    const old = this.session;
    this.o.log.info({ why, afterMs: Math.round(performance.now() - this.sessionStarted) }, 'renewing the Nova session');
    try {
      await this.open();
      this.renewals++;
    } catch (err) {
      this.end({ outcome: 'error', error: err instanceof SwitchboardError ? err : new SwitchboardError('SB_NOVA_STREAM', ['?', (err as Error).message]) });
    } finally {
      this.renewing = false;
      void old.close().catch(() => {});
    }
  }

  private async runTool(session: NovaSession, name: string, id: string, input: unknown): Promise<void> {
    const choice = this.o.tools.get(name);
    const log = this.o.log.child({ tool: name });
    if (!choice) {
      log.warn('the model asked for a tool this step does not offer');
      return session.sendToolResult(id, { error: `there is no tool named ${name}` });
    }
    if (!choice.tool.validate(input)) {
      const e = choice.tool.validate.errors?.[0];
      log.warn({ input }, 'tool input does not match its schema');
      return session.sendToolResult(id, { error: `invalid input: ${e?.instancePath || '(input)'} ${e?.message ?? 'is invalid'}` });
    }
    this.toolsPending++;
    const timeoutMs = choice.tool.plugin.meta.timeoutMs ?? 5000;
    let r: ToolResult;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new AbortController();
    try {
      r = await Promise.race([
        choice.tool.plugin.run(input as never, { call: this.o.call, log, signal: AbortSignal.any([this.o.signal, timeout.signal]), config: this.o.config, options: choice.options }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            timeout.abort();
            reject(new SwitchboardError('SB_STEP_FAILED', [`tool ${name}`, `no answer within ${timeoutMs} ms`]));
          }, timeoutMs);
        }),
      ]);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'tool failed');
      r = { result: { error: `the tool failed: ${(err as Error).message}` } };
    } finally {
      clearTimeout(timer);
      this.toolsPending--;
    }
    if (session !== this.session || this.ended) return;
    session.sendToolResult(id, r.result);
    if (r.outcome) {
      // Let the model say its last words (it speaks after the tool result), then end.
      this.pendingOutcome = { outcome: r.outcome, tool: name, result: r.result };
      this.lastWordsTimer = setTimeout(() => void this.atPause(), 8000);
    }
  }
}
