import { EventEmitter } from 'node:events';
import { SwitchboardError } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import type { EslConnection } from './connection.ts';
import { dialString, parseEndpoint, type ChannelVars, type Endpoint } from './dial-string.ts';
import { assertHangupCause, assertNoExpansion, assertOneLine, assertToken, assertVarName, assertEndpointPart, assertDtmf } from './escape.ts';
import type { EslEvent } from './event.ts';

/** The channel data FreeSWITCH sends on connect, typed. */
export interface ChannelData {
  uuid: string;
  channelName: string;
  direction: 'inbound' | 'outbound';
  callerNumber: string;
  callerName: string;
  destination: string;
  context: string;
  /** FusionPBX: the domain (which is also the dialplan context). */
  domain: string | undefined;
  /** Audio rate of the call's codec (8000, 16000, 48000 …), when known. */
  sampleRate: number | undefined;
  answered: boolean;
  /** Every `variable_*` header, without the prefix. */
  variables: Readonly<Record<string, string>>;
}

export type CallState = 'ringing' | 'answered' | 'hungup';

export interface HangupInfo {
  cause: string;
  /** `switchboard` when Call.hangup() ended it, else `remote` (the caller, the far end, FreeSWITCH). */
  by: 'switchboard' | 'remote';
  /** Who hung up first, as FreeSWITCH reports it (`sip_hangup_disposition`), when known. */
  disposition: string | undefined;
}

export interface CommandOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface WaitOptions extends CommandOptions {
  /** Only events for which this returns true. */
  match?: (event: EslEvent) => boolean;
}

export interface AppResult {
  /** `Application-Response` of the EXECUTE_COMPLETE (e.g. `FILE PLAYED`, `+OK`). */
  response: string;
  event: EslEvent;
}

export interface BridgeResult {
  ok: boolean;
  /** `SUCCESS`, or the hangup cause of the failed attempt (`USER_BUSY`, `NO_ANSWER` …). */
  cause: string;
}

export interface AudioStreamOptions {
  mix?: 'mono' | 'mixed' | 'stereo';
  rate?: 8000 | 16000;
  /** Sent by mod_audio_stream as a text message before any audio. Must not contain whitespace (JSON.stringify output is fine when its strings have none). */
  metadata?: string;
}

/** A value FreeSWITCH's api argument splitting leaves untouched: no quotes, no control characters, no edge spaces. */
const LINE_SAFE = /^(?:[^\s'"\\\x00-\x1f]|[^\s'"\\\x00-\x1f][^'"\\\x00-\x1f]*[^\s'"\\\x00-\x1f])$/;

interface CallEvents {
  event: [EslEvent];
  dtmf: [string];
  hangup: [HangupInfo];
}

interface Waiter {
  name: string;
  match: ((e: EslEvent) => boolean) | undefined;
  resolve(e: EslEvent): void;
  reject(err: Error): void;
}

/**
 * One live call on an outbound (`socket … async full`) connection. The only call-control API
 * plugins see: every argument is validated or escaped before it reaches FreeSWITCH, and once the
 * call has hung up every command rejects with SB_CALL_GONE.
 */
export class Call extends EventEmitter<CallEvents> {
  readonly id: string;
  readonly data: ChannelData;
  readonly log: Logger;
  state: CallState;
  hangupInfo: HangupInfo | undefined;
  /** Resolves when the far end or a command hangs the call up. Never rejects. */
  readonly ended: Promise<HangupInfo>;
  /** performance.now() marks: socket accepted, handshake answered (this object created), first call command sent. */
  readonly timing: { accepted: number; ready: number; firstCommand: number | undefined };

  private resolveEnded!: (info: HangupInfo) => void;
  private readonly waiters = new Set<Waiter>();
  private readonly digits: string[] = [];
  private readonly digitWakers = new Set<() => void>();
  private hangupSent = false;

  constructor(private readonly conn: EslConnection, logger: Logger = silentLogger, acceptedAt = performance.now()) {
    super();
    this.timing = { accepted: acceptedAt, ready: performance.now(), firstCommand: undefined };
    this.data = channelData(conn.channel);
    this.id = this.data.uuid;
    this.state = this.data.answered ? 'answered' : 'ringing';
    this.log = logger.child({ callId: this.id });
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
  }

  get isGone(): boolean {
    return this.state === 'hungup';
  }

  // --- commands ----------------------------------------------------------------------------

  answer(options?: CommandOptions): Promise<AppResult> {
    return this.execute('answer', undefined, options);
  }

  /** Hangs up; resolves when FreeSWITCH confirms. A call already gone resolves at once. */
  async hangup(cause = 'NORMAL_CLEARING'): Promise<void> {
    assertHangupCause('hangup cause', cause);
    if (this.isGone) return;
    const hungUp = this.ended;
    this.hangupSent = true;
    this.timing.firstCommand ??= performance.now();
    await this.conn.request('sendmsg', { 'call-command': 'hangup', 'hangup-cause': cause }).catch((err: Error) => {
      if (!this.isGone) throw err;
    });
    await hungUp;
  }

  /** Plays a file (or `tone_stream://`, `silence_stream://` …) and resolves when it ends. */
  playback(file: string, options?: CommandOptions): Promise<AppResult> {
    assertNoExpansion('playback file', file);
    return this.execute('playback', file, options);
  }

  /**
   * Runs a dialplan application and resolves on its CHANNEL_EXECUTE_COMPLETE (matched by
   * Application-UUID). The argument goes in a text/plain body, so it may hold any characters
   * except `${` (FreeSWITCH would expand it).
   */
  async execute(app: string, arg?: string, options: CommandOptions = {}): Promise<AppResult> {
    this.assertLive(app);
    assertToken('application name', app);
    if (arg !== undefined) assertNoExpansion(`argument of ${app}`, arg);
    this.timing.firstCommand ??= performance.now();
    try {
      const event = await this.conn.executeApp(undefined, app, arg, options);
      return { response: event.get('Application-Response') ?? '', event };
    } catch (err) {
      if (this.isGone && err instanceof SwitchboardError && err.code === 'SB_ESL_CLOSED') throw this.gone(app);
      throw err;
    }
  }

  /**
   * Sets a channel variable. A value a command line carries verbatim goes by `uuid_setvar` (at
   * once, not queued behind a playing file); any other value (quotes, edge whitespace, line
   * breaks) goes by the `set` application with the value in the message body, so it arrives exact.
   */
  async setVar(name: string, value: string | number | boolean): Promise<void> {
    assertVarName('variable name', name);
    const v = String(value);
    assertNoExpansion(`variable ${name}`, v);
    if (LINE_SAFE.test(v)) await this.api(`uuid_setvar ${this.id} ${name} ${v}`);
    else await this.execute('set', `${name}=${v}`);
  }

  /** Reads a channel variable; undefined when unset. */
  async getVar(name: string): Promise<string | undefined> {
    assertVarName('variable name', name);
    const body = await this.api(`uuid_getvar ${this.id} ${name}`);
    return body === '_undef_' ? undefined : body;
  }

  /**
   * Bridges to one or more endpoints, all at once or one after another. An endpoint written as
   * text (`user/1001`, `1001`, `sofia/gateway/gw/+1555…`) is parsed and validated here, a bare
   * extension in the call's domain.
   */
  async bridge(legs: ReadonlyArray<{ endpoint: Endpoint | string; vars?: ChannelVars }>, options: CommandOptions & { mode?: 'simultaneous' | 'sequential'; vars?: ChannelVars; timeoutSec?: number; callerIdNumber?: string; callerIdName?: string } = {}): Promise<BridgeResult> {
    const vars: ChannelVars = { ...options.vars };
    if (options.timeoutSec !== undefined) vars.call_timeout = Math.round(options.timeoutSec);
    if (options.callerIdNumber !== undefined) vars.origination_caller_id_number = options.callerIdNumber;
    if (options.callerIdName !== undefined) vars.origination_caller_id_name = options.callerIdName;
    const parsed = legs.map((l) => ({ ...l, endpoint: typeof l.endpoint === 'string' ? parseEndpoint(l.endpoint, { domain: this.data.domain }) : l.endpoint }));
    const spec = dialString(parsed, { vars, mode: options.mode ?? 'simultaneous' });
    const { event } = await this.execute('bridge', spec, options);
    const cause = event.variable('originate_disposition') ?? event.variable('DIALSTATUS') ?? event.get('Application-Response') ?? 'UNKNOWN';
    return { ok: cause === 'SUCCESS' || cause === 'ANSWER', cause };
  }

  /** Records the caller to `path` (as FreeSWITCH sees its disk), up to `maxSeconds`, optionally stopping on silence. */
  async record(path: string, options: CommandOptions & { maxSeconds: number; silence?: { threshold: number; seconds: number } }): Promise<AppResult> {
    const args = [assertToken('recording path', path), String(Math.round(options.maxSeconds))];
    if (options.silence) args.push(String(Math.round(options.silence.threshold)), String(Math.round(options.silence.seconds)));
    return this.execute('record', args.join(' '), options);
  }

  /** Joins a conference room until the caller leaves it. */
  async conference(room: string, options: CommandOptions & { profile?: string; pin?: string; flags?: ReadonlyArray<'moderator' | 'mute'> } = {}): Promise<AppResult> {
    const pin = options.pin !== undefined ? `+${assertDtmf('conference pin', options.pin)}` : '';
    const flags = options.flags?.length ? `+flags{${options.flags.join('|')}}` : '';
    return this.execute('conference', `${assertToken('conference room', room)}@${assertToken('conference profile', options.profile ?? 'default')}${pin}${flags}`, options);
  }

  /** Sends the call to another extension (leaves Switchboard's control). */
  async transfer(destination: string, options: { dialplan?: string; context?: string; leg?: '-bleg' | '-both' } = {}): Promise<void> {
    assertEndpointPart('transfer destination', destination);
    const parts = ['uuid_transfer', this.id];
    if (options.leg) parts.push(options.leg);
    parts.push(destination, assertToken('dialplan', options.dialplan ?? 'XML'), assertToken('context', options.context ?? this.data.context));
    await this.apiOk(parts.join(' '));
  }

  /** Stops what is playing (`all`: and flushes what FreeSWITCH has queued through uuid_broadcast). */
  async break(all = false): Promise<void> {
    await this.api(`uuid_break ${this.id}${all ? ' all' : ''}`);
  }

  /** Plays a file over whatever runs on the channel, outside the application queue. */
  async broadcast(file: string, leg: 'aleg' | 'bleg' | 'both' = 'aleg'): Promise<void> {
    await this.apiOk(`uuid_broadcast ${this.id} ${assertToken('broadcast file', file)} ${leg}`);
  }

  /** Members in a conference room right now (0 when the room does not exist). */
  async conferenceSize(room: string): Promise<number> {
    const body = await this.api(`conference ${assertToken('conference room', room)} list count`);
    const n = Number(body.trim());
    return Number.isInteger(n) && n >= 0 ? n : 0;
  }

  async sendDtmf(digits: string): Promise<void> {
    await this.apiOk(`uuid_send_dtmf ${this.id} ${assertDtmf('dtmf', digits)}`);
  }

  /** mod_audio_stream: streams the call's audio to a websocket. */
  async startAudioStream(url: string, options: AudioStreamOptions = {}): Promise<void> {
    if (!/^wss?:\/\/\S+$/.test(url)) throw new SwitchboardError('SB_ESL_UNSAFE_VALUE', ['audio stream url', 'must be a ws:// or wss:// URL without whitespace']);
    assertToken('audio stream url', url);
    const parts = ['uuid_audio_stream', this.id, 'start', url, options.mix ?? 'mono', options.rate === 16000 ? '16k' : '8k'];
    if (options.metadata !== undefined) parts.push(assertToken('audio stream metadata', options.metadata));
    await this.apiOk(parts.join(' '));
  }

  async stopAudioStream(text?: string): Promise<void> {
    await this.api(`uuid_audio_stream ${this.id} stop${text !== undefined ? ` ${assertToken('audio stream stop text', text)}` : ''}`);
  }

  // --- events ------------------------------------------------------------------------------

  /**
   * Adds CUSTOM event subclasses (`mod_audio_stream::play` …) to this call's socket: `myevents`
   * covers the channel's ordinary events but, like mod_event_socket, no CUSTOM subclass.
   */
  async subscribe(...subclasses: string[]): Promise<void> {
    this.assertLive('subscribe');
    for (const s of subclasses) assertToken('event subclass', s);
    await this.conn.request(`event json CUSTOM ${subclasses.join(' ')}`);
  }

  /** Waits for the next event of this call with that name (`CHANNEL_ANSWER`, or a CUSTOM subclass like `mod_audio_stream::play`). */
  waitFor(name: string, options: WaitOptions = {}): Promise<EslEvent> {
    if (this.isGone && name !== 'CHANNEL_HANGUP_COMPLETE') return Promise.reject(this.gone(`waiting for ${name}`));
    return new Promise<EslEvent>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => done(undefined, new SwitchboardError('SB_CALL_ABORTED', [this.id, `waiting for ${name}`]));
      const done = (event: EslEvent | undefined, err?: Error): void => {
        if (!this.waiters.delete(waiter)) return;
        if (timer) clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(event as EslEvent);
      };
      const waiter: Waiter = { name, match: options.match, resolve: (e) => done(e), reject: (e) => done(undefined, e) };
      this.waiters.add(waiter);
      if (options.timeoutMs !== undefined) timer = setTimeout(() => done(undefined, new SwitchboardError('SB_CALL_TIMEOUT', [this.id, name])), options.timeoutMs);
      if (options.signal) {
        if (options.signal.aborted) onAbort();
        else options.signal.addEventListener('abort', onAbort, { once: true });
      }
    });
  }

  /**
   * The next DTMF digit: the oldest one buffered since the call started (or since
   * flushDigits), else the next one pressed. Undefined on timeout, abort, or hangup.
   */
  async nextDigit(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<string | undefined> {
    const buffered = this.digits.shift();
    if (buffered !== undefined || this.isGone || options.signal?.aborted) return buffered;
    return new Promise<string | undefined>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        if (timer) clearTimeout(timer);
        options.signal?.removeEventListener('abort', finish);
        this.digitWakers.delete(finish);
        resolve(this.digits.shift());
      };
      this.digitWakers.add(finish);
      if (options.timeoutMs !== undefined) timer = setTimeout(finish, options.timeoutMs);
      options.signal?.addEventListener('abort', finish, { once: true });
    });
  }

  /** Drops digits pressed so far. */
  flushDigits(): void {
    this.digits.length = 0;
  }

  /** DTMF digits as an async iterator (see nextDigit); ends when the call hangs up or the signal aborts. */
  async *dtmf(options: { signal?: AbortSignal; flush?: boolean } = {}): AsyncGenerator<string> {
    if (options.flush) this.flushDigits();
    for (;;) {
      const digit = await this.nextDigit({ signal: options.signal });
      if (digit === undefined) return;
      yield digit;
    }
  }

  /** Number of waiters still attached (leak checks). */
  pendingWaits(): number {
    return this.waiters.size + this.digitWakers.size;
  }

  private wakeDigitWaiters(): void {
    // The oldest waiter takes the digit; the rest keep waiting (or see the call gone).
    const first = this.digitWakers.values().next().value;
    if (this.isGone) for (const w of [...this.digitWakers]) w();
    else first?.();
  }

  /** Called by EslServer for every event on this call's socket. */
  dispatch(event: EslEvent): void {
    const name = event.name === 'CUSTOM' ? (event.subclass ?? 'CUSTOM') : event.name;
    switch (name) {
      case 'CHANNEL_ANSWER':
        if (this.state === 'ringing') this.state = 'answered';
        break;
      case 'DTMF': {
        const digit = event.get('DTMF-Digit');
        if (digit !== undefined) {
          this.digits.push(digit);
          this.emit('dtmf', digit);
          this.wakeDigitWaiters();
        }
        break;
      }
      case 'CHANNEL_HANGUP':
        this.markGone({ cause: event.get('Hangup-Cause') ?? 'NORMAL_CLEARING', disposition: event.variable('sip_hangup_disposition'), by: this.hangupSent ? 'switchboard' : 'remote' });
        break;
    }
    for (const w of [...this.waiters]) {
      if (w.name === name && (w.match === undefined || w.match(event))) w.resolve(event);
    }
    this.emit('event', event);
  }

  /** The socket is gone (disconnect notice, close): whatever is still waiting can never complete. */
  markGone(info: HangupInfo = { cause: 'NORMAL_CLEARING', disposition: undefined, by: this.hangupSent ? 'switchboard' : 'remote' }): void {
    if (this.state === 'hungup') return;
    this.state = 'hungup';
    this.hangupInfo = info;
    if (this.conn.inFlight().executions > 0 || this.waiters.size > 0) {
      const err = this.gone('command');
      this.conn.failExecutions(err);
      for (const w of [...this.waiters]) if (w.name !== 'CHANNEL_HANGUP_COMPLETE') w.reject(err);
    }
    this.wakeDigitWaiters();
    this.log.info({ cause: info.cause }, 'call ended');
    this.resolveEnded(info);
    this.emit('hangup', info);
  }

  /** Rejects remaining waiters at the very end (socket closed). */
  release(): void {
    this.markGone(this.hangupInfo);
    for (const w of [...this.waiters]) w.reject(this.gone('waiting'));
  }

  private async api(command: string): Promise<string> {
    this.assertLive(command.split(' ')[0] ?? command);
    this.timing.firstCommand ??= performance.now();
    const body = await this.conn.api(command);
    if (body.startsWith('-ERR No such channel')) {
      this.markGone(this.hangupInfo);
      throw this.gone(command.split(' ')[0] ?? command);
    }
    return body.endsWith('\n') ? body.slice(0, -1) : body;
  }

  private async apiOk(command: string): Promise<string> {
    const body = await this.api(command);
    if (body.startsWith('-ERR')) throw new SwitchboardError('SB_CALL_APP_FAILED', [this.id, command.split(' ')[0] ?? command, body.trim()], { callId: this.id });
    return body;
  }

  private assertLive(what: string): void {
    if (this.isGone) throw this.gone(what);
  }

  private gone(what: string): SwitchboardError {
    return new SwitchboardError('SB_CALL_GONE', [this.id], { callId: this.id, command: what });
  }
}

function channelData(h: Record<string, string>): ChannelData {
  const variables: Record<string, string> = {};
  for (const key in h) if (key.startsWith('variable_')) variables[key.slice(9)] = h[key] as string;
  const rate = Number(h['Channel-Read-Codec-Rate'] ?? variables.read_rate);
  return {
    uuid: h['Unique-ID'] ?? h['Channel-Unique-ID'] ?? '',
    channelName: h['Channel-Name'] ?? '',
    direction: (h['Call-Direction'] ?? h['Channel-Direction']) === 'outbound' ? 'outbound' : 'inbound',
    callerNumber: h['Caller-Caller-ID-Number'] ?? h['Channel-Caller-ID-Number'] ?? '',
    callerName: h['Caller-Caller-ID-Name'] ?? h['Channel-Caller-ID-Name'] ?? '',
    destination: h['Caller-Destination-Number'] ?? h['Channel-Destination-Number'] ?? '',
    context: h['Caller-Context'] ?? h['Channel-Context'] ?? 'default',
    domain: variables.domain_name,
    sampleRate: Number.isFinite(rate) && rate > 0 ? rate : undefined,
    answered: h['Answer-State'] === 'answered',
    variables,
  };
}
