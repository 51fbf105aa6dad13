import { setMaxListeners } from 'node:events';
import { runApp, isKnownApp } from './apps.ts';
import { playbackInfo } from './audio-duration.ts';
import { SimEvent } from './event.ts';
import { causeQ850 } from './hangup-causes.ts';
import type { Calling, SimHost } from './host.ts';
import type { HeaderList } from './wire.ts';

export type ChannelStateName =
  | 'CS_NEW' | 'CS_INIT' | 'CS_ROUTING' | 'CS_SOFT_EXECUTE' | 'CS_EXECUTE' | 'CS_EXCHANGE_MEDIA' | 'CS_PARK'
  | 'CS_CONSUME_MEDIA' | 'CS_HIBERNATE' | 'CS_RESET' | 'CS_HANGUP' | 'CS_REPORTING' | 'CS_DESTROY';
export type CallStateName = 'DOWN' | 'DIALING' | 'RINGING' | 'EARLY' | 'ACTIVE' | 'HELD' | 'RING_WAIT' | 'HANGUP';
export type AnswerState = 'ringing' | 'early' | 'answered' | 'hangup';
/** How an application came to run: a `sendmsg` execute, `uuid_broadcast`, or the dialplan / originate. */
export type ExecVia = 'sendmsg' | 'broadcast' | 'dialplan';

const STATE_NUMBER: Record<ChannelStateName, number> = {
  CS_NEW: 0, CS_INIT: 1, CS_ROUTING: 2, CS_SOFT_EXECUTE: 3, CS_EXECUTE: 4, CS_EXCHANGE_MEDIA: 5, CS_PARK: 6,
  CS_CONSUME_MEDIA: 7, CS_HIBERNATE: 8, CS_RESET: 9, CS_HANGUP: 10, CS_REPORTING: 11, CS_DESTROY: 12,
};
const CALL_STATE_NUMBER: Record<CallStateName, number> = {
  DOWN: 0, DIALING: 1, RINGING: 2, EARLY: 3, ACTIVE: 4, HELD: 5, RING_WAIT: 6, HANGUP: 7,
};

/** Event-Calling-* as the captures show them. */
const CALLING: Record<string, Calling> = {
  CHANNEL_CREATE: { file: 'switch_core_state_machine.c', func: 'switch_core_session_run', line: 626 },
  CHANNEL_ORIGINATE: { file: 'switch_core_state_machine.c', func: 'switch_core_session_run', line: 632 },
  CHANNEL_OUTGOING: { file: 'switch_core_session.c', func: 'switch_core_session_outgoing_channel', line: 768 },
  CHANNEL_UUID: { file: 'switch_core_session.c', func: 'switch_core_session_set_uuid', line: 2056 },
  CHANNEL_STATE: { file: 'switch_channel.c', func: 'switch_channel_perform_set_running_state', line: 2409 },
  CHANNEL_CALLSTATE: { file: 'switch_channel.c', func: 'switch_channel_perform_set_callstate', line: 302 },
  CHANNEL_ANSWER: { file: 'switch_channel.c', func: 'switch_channel_perform_mark_answered', line: 3848 },
  CHANNEL_PROGRESS: { file: 'switch_channel.c', func: 'switch_channel_perform_mark_ring_ready_value', line: 3534 },
  CHANNEL_PROGRESS_MEDIA: { file: 'switch_channel.c', func: 'switch_channel_perform_mark_pre_answered', line: 3685 },
  CHANNEL_EXECUTE: { file: 'switch_core_session.c', func: 'switch_core_session_exec', line: 2949 },
  CHANNEL_EXECUTE_COMPLETE: { file: 'switch_core_session.c', func: 'switch_core_session_exec', line: 2972 },
  CHANNEL_HANGUP: { file: 'switch_channel.c', func: 'switch_channel_perform_hangup', line: 3447 },
  CHANNEL_HANGUP_COMPLETE: { file: 'switch_core_state_machine.c', func: 'switch_core_session_reporting_state', line: 943 },
  CHANNEL_DESTROY: { file: 'switch_core_session.c', func: 'switch_core_session_perform_destroy', line: 1588 },
  CHANNEL_PARK: { file: 'switch_ivr.c', func: 'switch_ivr_park', line: 1002 },
  CHANNEL_UNPARK: { file: 'switch_ivr.c', func: 'switch_ivr_park', line: 1213 },
  CHANNEL_BRIDGE: { file: 'switch_ivr_bridge.c', func: 'switch_ivr_multi_threaded_bridge', line: 1689 },
  CHANNEL_UNBRIDGE: { file: 'switch_ivr_bridge.c', func: 'switch_ivr_multi_threaded_bridge', line: 1887 },
  PLAYBACK_START: { file: 'switch_ivr_play_say.c', func: 'switch_ivr_play_file', line: 1649 },
  PLAYBACK_STOP: { file: 'switch_ivr_play_say.c', func: 'switch_ivr_play_file', line: 2023 },
  RECORD_START: { file: 'switch_ivr_async.c', func: 'record_callback', line: 1287 },
  RECORD_STOP: { file: 'switch_ivr_async.c', func: 'record_callback', line: 1333 },
  DTMF: { file: 'switch_channel.c', func: 'switch_channel_queue_dtmf', line: 498 },
  CHANNEL_DATA: { file: 'mod_event_socket.c', func: 'parse_command', line: 2029 },
  CALL_UPDATE: { file: 'switch_channel.c', func: 'switch_channel_flip_cid', line: 3279 },
  CUSTOM: { file: 'switch_channel.c', func: 'switch_channel_event_set_data', line: 0 },
};
const DEFAULT_CALLING: Calling = { file: 'switch_channel.c', func: 'switch_channel_event_set_data', line: 0 };

export interface ExecRequest {
  app: string;
  arg: string;
  via: ExecVia;
  /** Event-UUID of a sendmsg: becomes Application-UUID. */
  eventUuid?: string;
  loops?: number;
}

export interface ExecutedApp {
  app: string;
  arg: string;
  startedAt: number;
  endedAt?: number;
  /** Application-Response of the CHANNEL_EXECUTE_COMPLETE (`_none_` when the app set none). */
  response?: string;
  applicationUuid: string;
  via: ExecVia;
  /** Set when FreeSWITCH would not run it (unknown application: the call is hung up). */
  error?: string;
}

export interface PlayedFile {
  file: string;
  startedAt: number;
  endedAt?: number;
  /** Stopped before its end (uuid_break, a terminator digit, hangup). */
  interrupted: boolean;
  via: ExecVia;
  /** How long it would have played, unscaled ms (Infinity for endless streams). */
  durationMs: number;
}

export interface TransferRecord {
  destination: string;
  dialplan: string;
  context: string;
  at: number;
}

export interface AudioStreamState {
  url: string;
  mix: string;
  rate: number;
  metadata?: string;
  startedAt: number;
  stoppedAt?: number;
  paused: boolean;
  sentTexts: string[];
}

export interface ChannelInit {
  uuid: string;
  direction: 'inbound' | 'outbound';
  name: string;
  source: string;
  callerIdName?: string;
  callerIdNumber: string;
  destinationNumber: string;
  context: string;
  dialplan?: string;
  calleeIdName?: string;
  calleeIdNumber?: string;
  username?: string;
  networkAddr?: string;
  ani?: string;
  codec?: { name: string; rate: number; bitRate: number };
  hitDialplan?: boolean;
  /** SIP legs get sip_hangup_disposition. */
  sip?: boolean;
}

/** Something that must hear when its channel goes down (a session-bound ESL connection). */
export interface ChannelController {
  onChannelHangup(ch: SimChannel): void;
  onChannelHangupComplete(ch: SimChannel): void;
}

interface Waiter<T> {
  match: (v: T) => boolean;
  resolve: (v: T) => void;
}

type DtmfListener = (digit: string) => boolean;

/**
 * One call leg. The public fields are what tests read; the methods marked "far end" are how a
 * test plays the other party (press DTMF, hang up). Everything else is driven over ESL.
 */
/** A leg's membership of a conference room (mod_conference's member). */
export interface ConferenceMembership {
  name: string;
  /** The room's conference_uuid (the same for every member of one room instance). */
  roomUuid: string;
  memberId: string;
  /** host.now() when the member joined. */
  joinedAt: number;
  /** Not allowed to speak (`+flags{mute}`, or `conference <room> mute <id>`). */
  muted: boolean;
  moderator: boolean;
  /** No audio here: a test sets it to see it reported. */
  talking: boolean;
  leave: AbortController;
  /** Fires conference::maintenance with this Action for the member. */
  event(action: string): void;
}

export class SimChannel {
  readonly uuid: string;
  readonly direction: 'inbound' | 'outbound';
  readonly vars = new Map<string, string>();
  /** Every application started on this leg, in order. */
  readonly executed: ExecutedApp[] = [];
  /** Every file played (playback, broadcast, prompts of read/play_and_get_digits). */
  readonly played: PlayedFile[] = [];
  readonly transfers: TransferRecord[] = [];
  /** Digits sent to the far end with uuid_send_dtmf / send_dtmf. */
  readonly dtmfSent: string[] = [];
  /** mod_audio_stream state; null until `uuid_audio_stream … start`. */
  audioStream: AudioStreamState | null = null;
  /** Conference last joined with the `conference` application (kept after leaving). */
  conference: string | undefined;
  /** Set while the leg is a member of `conference`. */
  conferenceMember: ConferenceMembership | undefined;
  /** Unique-ID of the leg this one is bridged to. */
  bridgedTo: string | undefined;
  /** Socket-Mode / Control of its outbound socket, once connected. */
  socket: { host: string; port: number; async: boolean; full: boolean } | undefined;

  name: string;
  private stateName: ChannelStateName = 'CS_NEW';
  private callStateName: CallStateName = 'DOWN';
  private answerStateName: AnswerState = 'ringing';
  private hangupCauseValue: string | undefined;
  private readonly profile: Required<Pick<ChannelInit, 'callerIdNumber' | 'destinationNumber' | 'context' | 'source'>> & ChannelInit;
  private readonly codec: { name: string; rate: number; bitRate: number };
  private hitDialplan: boolean;
  private readonly origCallerIdNumber: string;
  private readonly times = { created: 0, answered: 0, progress: 0, progressMedia: 0, hangup: 0, transfer: 0, bridged: 0 };
  private readonly life = new AbortController();
  private transferCtl = new AbortController();
  private breakCtl: AbortController | undefined;
  private readonly queue: ExecRequest[] = [];
  private queueWake: (() => void) | undefined;
  private readonly dtmfListeners = new Set<DtmfListener>();
  private readonly dtmfBuffer: string[] = [];
  private readonly appWaiters: Array<Waiter<ExecutedApp>> = [];
  private readonly controllers = new Set<ChannelController>();
  private readonly hungUpWaiters: Array<() => void> = [];
  private destroyed = false;
  private runner: Promise<void> | undefined;
  private parkDepth = 0;
  /** Cause used when the dialplan runs out while the call is still up. */
  endCause = 'NORMAL_CLEARING';
  private initialDestination: string | undefined;

  constructor(private readonly host: SimHost, init: ChannelInit) {
    this.uuid = init.uuid;
    this.direction = init.direction;
    this.name = init.name;
    this.profile = { dialplan: 'XML', ...init };
    this.codec = init.codec ?? { name: 'PCMU', rate: 8000, bitRate: 64000 };
    this.hitDialplan = init.hitDialplan ?? init.direction === 'inbound';
    this.origCallerIdNumber = init.callerIdNumber;
    this.times.created = this.microNow();
    setMaxListeners(0, this.life.signal, this.transferCtl.signal);
  }

  // ---- what tests read -------------------------------------------------------------------

  /** FreeSWITCH channel state (Channel-State). */
  get state(): ChannelStateName {
    return this.stateName;
  }
  /** Channel-Call-State */
  get callState(): CallStateName {
    return this.callStateName;
  }
  /** Answer-State */
  get answerState(): AnswerState {
    return this.answerStateName;
  }
  get answered(): boolean {
    return this.times.answered > 0;
  }
  get hungUp(): boolean {
    return this.hangupCauseValue !== undefined;
  }
  get hangupCause(): string | undefined {
    return this.hangupCauseValue;
  }
  /** Aborted when the leg hangs up. */
  get signal(): AbortSignal {
    return this.life.signal;
  }
  get destinationNumber(): string {
    return this.profile.destinationNumber;
  }
  get callerIdNumber(): string {
    return this.profile.callerIdNumber;
  }
  get callerIdName(): string {
    return this.profile.callerIdName ?? '';
  }
  get context(): string {
    return this.profile.context;
  }
  /** True once CHANNEL_DESTROY has been fired and the leg is gone from `sim.channels`. */
  get isDestroyed(): boolean {
    return this.destroyed;
  }

  // ---- the far end (scripting) -----------------------------------------------------------

  /**
   * The caller presses keys: a DTMF event per digit (DTMF-Digit, DTMF-Duration), fed to a running
   * read / play_and_get_digits or used as a playback terminator. `intervalMs` (simulated, × timeScale)
   * between digits, default 100.
   */
  async pressDtmf(digits: string, opts: { intervalMs?: number; durationMs?: number } = {}): Promise<void> {
    if (!/^[0-9*#A-Da-d]*$/.test(digits)) throw new Error(`pressDtmf: not DTMF digits: ${JSON.stringify(digits)}`);
    const interval = opts.intervalMs ?? 100;
    const samples = Math.round(((opts.durationMs ?? 250) * this.codec.rate) / 1000);
    for (let i = 0; i < digits.length; i++) {
      if (this.hungUp) return;
      this.receiveDtmf((digits[i] as string).toUpperCase(), samples);
      if (i < digits.length - 1) await this.host.wait(this.host.scaled(interval), this.life.signal);
    }
  }

  /** The far end hangs up (a BYE arrives). Resolves once the leg is destroyed. */
  async hangup(cause = 'NORMAL_CLEARING'): Promise<void> {
    this.hangupNow(cause, 'recv_bye');
    await this.waitForHangup({ timeoutMs: 10_000 });
  }

  /** Resolves with the first execution of `app` (already run or to come) matching `opts`. */
  waitForApp(
    app: string,
    opts: { timeoutMs?: number; completed?: boolean; arg?: string | RegExp; since?: number } = {},
  ): Promise<ExecutedApp> {
    const match = (e: ExecutedApp): boolean =>
      e.app.toLowerCase() === app.toLowerCase() &&
      (opts.arg === undefined || (typeof opts.arg === 'string' ? e.arg === opts.arg : opts.arg.test(e.arg))) &&
      (!opts.completed || e.endedAt !== undefined);
    const since = opts.since ?? 0;
    const found = this.executed.slice(since).find(match);
    if (found) return Promise.resolve(found);
    const matchSince = (e: ExecutedApp): boolean => this.executed.indexOf(e) >= since && match(e);
    return this.addWaiter(this.appWaiters, matchSince, opts.timeoutMs ?? 5000, `application ${app} on ${this.uuid}`);
  }

  /** Resolves once the leg is hung up and destroyed (CHANNEL_DESTROY fired). */
  waitForHangup(opts: { timeoutMs?: number } = {}): Promise<void> {
    if (this.destroyed) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${this.uuid} to hang up`)), opts.timeoutMs ?? 5000);
      this.hungUpWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  getVar(name: string): string | undefined {
    return this.vars.get(name);
  }

  // ---- state changes (used by the simulator) ---------------------------------------------

  /** Variables keep FreeSWITCH's order: setting one moves it to the end. */
  setVar(name: string, value: string | undefined): void {
    this.vars.delete(name);
    if (value !== undefined) this.vars.set(name, value);
  }

  addController(c: ChannelController): void {
    this.controllers.add(c);
  }
  removeController(c: ChannelController): void {
    this.controllers.delete(c);
  }

  /** Runs the leg's life: `body` is its dialplan; then hangup (if still up) and teardown. */
  start(body: (ch: SimChannel) => Promise<void>): void {
    this.runner = (async () => {
      try {
        await body(this);
      } catch {
        // an application failing must never take the simulator down
      }
      if (!this.hungUp) this.hangupNow(this.endCause);
      await this.teardown();
    })();
  }

  setState(state: ChannelStateName, fire = true): void {
    this.stateName = state;
    if (fire) this.fire('CHANNEL_STATE');
  }

  setCallState(cs: CallStateName): void {
    if (cs === this.callStateName) return;
    const original = this.callStateName;
    this.callStateName = cs;
    this.fire('CHANNEL_CALLSTATE', {
      pre: [
        ['Original-Channel-Call-State', original],
        ['Channel-Call-State-Number', String(CALL_STATE_NUMBER[cs])],
      ],
    });
  }

  ringReady(): void {
    if (this.times.progress || this.answered || this.hungUp) return;
    this.times.progress = this.microNow();
    this.fire('CHANNEL_PROGRESS');
    if (this.callStateName === 'DOWN') this.setCallState('RINGING');
  }

  preAnswer(): void {
    if (this.times.progressMedia || this.answered || this.hungUp) return;
    this.times.progressMedia = this.microNow();
    this.answerStateName = 'early';
    this.fire('CHANNEL_PROGRESS_MEDIA');
    this.setCallState('EARLY');
  }

  answer(): void {
    if (this.answered || this.hungUp) return;
    this.times.answered = this.microNow();
    this.answerStateName = 'answered';
    this.setVar('endpoint_disposition', 'ANSWER');
    this.fire('CHANNEL_ANSWER');
    this.setCallState('ACTIVE');
  }

  /**
   * switch_channel_flip_cid, which `originate` applies to the answered leg: caller and callee
   * swap (the leg now shows the dialled party as its caller) and CALL_UPDATE is fired.
   */
  flipCid(): void {
    const p = this.profile;
    this.setVar('pre_transfer_caller_id_number', p.callerIdNumber);
    this.setVar('channel_cid_flipped', 'yes');
    const [name, num] = [p.callerIdName, p.callerIdNumber];
    p.callerIdName = p.calleeIdName;
    p.callerIdNumber = p.calleeIdNumber ?? p.callerIdNumber;
    p.calleeIdName = name;
    p.calleeIdNumber = num;
    this.hitDialplan = true;
    this.fire('CALL_UPDATE', { pre: [['Direction', 'RECV']] });
  }

  /** switch_channel_hangup: fires CHANNEL_HANGUP at once, the rest follows as the leg unwinds. */
  hangupNow(cause: string, disposition?: string): void {
    if (this.hungUp || this.destroyed) return;
    this.hangupCauseValue = cause;
    this.answerStateName = 'hangup';
    if (this.profile.sip) this.setVar('sip_hangup_disposition', disposition ?? 'send_bye');
    this.fire('CHANNEL_HANGUP');
    this.life.abort();
    if (this.audioStream && this.audioStream.stoppedAt === undefined) {
      // mod_audio_stream closes its websocket when the channel goes (no ::disconnect event reaches ESL).
      this.audioStream.stoppedAt = this.host.now();
      this.host.audioStream({ uuid: this.uuid, action: 'stop' });
    }
    for (const c of [...this.controllers]) c.onChannelHangup(this);
    if (!this.runner) {
      // never started: tear down directly
      this.runner = this.teardown();
    }
  }

  /** Sends the leg elsewhere (uuid_transfer / transfer app): the running application returns. */
  transfer(destination: string, dialplan = 'XML', context = this.profile.context): void {
    if (this.hungUp) return;
    this.initialDestination ??= this.profile.destinationNumber;
    this.transfers.push({ destination, dialplan, context, at: this.host.now() });
    this.setVar('transfer_source', `${Math.floor(this.host.now() / 1000)}:${this.uuid}:uuid_br:${destination}/${context}/${dialplan}`);
    this.profile.destinationNumber = destination;
    this.profile.context = context;
    this.times.transfer = this.microNow();
    const ctl = this.transferCtl;
    this.transferCtl = new AbortController();
    setMaxListeners(0, this.transferCtl.signal);
    ctl.abort();
  }

  /**
   * Runs dialplan applications in order, with whatever sendmsg queued between them. After a
   * transfer the simulator has no dialplan for the new extension, so the leg parks there.
   */
  async runDialplan(apps: ExecRequest[]): Promise<void> {
    let list = apps;
    for (;;) {
      const transfers = this.transfers.length;
      for (const app of list) {
        if (this.hungUp || this.transfers.length !== transfers) break;
        await this.execute(app);
        if (this.transfers.length === transfers) await this.drainQueue();
      }
      if (this.hungUp || this.transfers.length === transfers) return;
      list = [{ app: 'park', arg: '', via: 'dialplan' }];
    }
  }

  /** One row of `show channels`. */
  showRow(hostname: string): Record<string, string> {
    const p = this.profile;
    const created = new Date(this.times.created / 1000);
    return {
      uuid: this.uuid,
      direction: this.direction,
      created: formatLocal(created),
      created_epoch: String(Math.floor(this.times.created / 1_000_000)),
      name: this.name,
      state: this.stateName,
      cid_name: p.callerIdName ?? '',
      cid_num: p.callerIdNumber,
      ip_addr: p.networkAddr ?? '',
      dest: p.destinationNumber,
      application: this.vars.get('current_application') ?? '',
      application_data: this.vars.get('current_application_data') ?? '',
      dialplan: p.dialplan ?? 'XML',
      context: p.context,
      read_codec: this.codec.name,
      read_rate: String(this.codec.rate),
      read_bit_rate: String(this.codec.bitRate),
      write_codec: this.codec.name,
      write_rate: String(this.codec.rate),
      write_bit_rate: String(this.codec.bitRate),
      secure: '',
      hostname,
      presence_id: this.vars.get('presence_id') ?? '',
      presence_data: '',
      accountcode: this.vars.get('accountcode') ?? '',
      callstate: this.callStateName,
      callee_name: p.calleeIdName ?? '',
      callee_num: p.calleeIdNumber ?? '',
      callee_direction: '',
      call_uuid: this.uuid,
      sent_callee_name: '',
      sent_callee_num: '',
      initial_cid_name: p.callerIdName ?? '',
      initial_cid_num: p.callerIdNumber,
      initial_ip_addr: p.networkAddr ?? '',
      initial_dest: this.transfers.length > 0 ? (this.initialDestination ?? p.destinationNumber) : p.destinationNumber,
      initial_dialplan: p.dialplan ?? 'XML',
      initial_context: p.context,
    };
  }

  /** Aborted when the leg is transferred away from what it runs now. */
  get transferSignal(): AbortSignal {
    return this.transferCtl.signal;
  }

  // ---- private events: sendmsg executes and broadcasts -----------------------------------

  enqueue(req: ExecRequest): void {
    if (this.hungUp) return;
    this.queue.push(req);
    const wake = this.queueWake;
    this.queueWake = undefined;
    wake?.();
  }

  get isParked(): boolean {
    return this.parkDepth > 0;
  }

  /**
   * switch_ivr_park: CHANNEL_PARK, then queued executes one after another (sendmsg ones back to
   * back, broadcasts with the measured gap), until `until` aborts or the leg goes down.
   */
  async park(until?: AbortSignal): Promise<void> {
    this.parkDepth++;
    this.fire('CHANNEL_PARK');
    let previous: ExecVia | undefined;
    try {
      while (!this.hungUp && !until?.aborted) {
        const item = this.queue.shift();
        if (!item) {
          previous = undefined;
          await this.waitForQueue(until);
          continue;
        }
        if (item.via === 'broadcast' && previous === 'broadcast') {
          await this.host.wait(this.host.scaled(this.host.options.broadcastGapMs), this.life.signal, until);
          if (this.hungUp || until?.aborted) {
            this.queue.unshift(item);
            break;
          }
        }
        await this.execute(item);
        previous = item.via;
      }
    } finally {
      this.parkDepth--;
      this.fire('CHANNEL_UNPARK');
    }
  }

  /** Runs what is queued right now (between dialplan applications). */
  async drainQueue(): Promise<void> {
    while (!this.hungUp && this.queue.length > 0) {
      const item = this.queue.shift() as ExecRequest;
      await this.execute(item);
    }
  }

  private waitForQueue(until?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.queue.length > 0 || this.hungUp || until?.aborted) return resolve();
      const done = (): void => {
        this.life.signal.removeEventListener('abort', done);
        until?.removeEventListener('abort', done);
        if (this.queueWake === done) this.queueWake = undefined;
        resolve();
      };
      this.queueWake = done;
      this.life.signal.addEventListener('abort', done, { once: true });
      until?.addEventListener('abort', done, { once: true });
    });
  }

  /** uuid_break: stops the file (or sleep / recording) in progress; `all` also drops queued broadcasts. */
  breakMedia(all: boolean): void {
    this.breakCtl?.abort();
    if (all) {
      for (let i = this.queue.length - 1; i >= 0; i--) if (this.queue[i]?.via === 'broadcast') this.queue.splice(i, 1);
    }
  }

  /**
   * switch_core_session_exec: CHANNEL_EXECUTE, the application, CHANNEL_EXECUTE_COMPLETE with
   * Application-UUID = the sendmsg's Event-UUID. An unknown application hangs the call up with
   * DESTINATION_OUT_OF_ORDER and fires neither event, as switch_core_session_execute_application does.
   */
  async execute(req: ExecRequest): Promise<ExecutedApp> {
    const appUuid = req.eventUuid ?? this.host.uuid();
    const entry: ExecutedApp = { app: req.app, arg: req.arg, startedAt: this.host.now(), applicationUuid: appUuid, via: req.via };
    if (!isKnownApp(req.app)) {
      entry.error = `Invalid Application ${req.app}`;
      entry.endedAt = entry.startedAt;
      this.executed.push(entry);
      this.notifyApp(entry);
      this.hangupNow('DESTINATION_OUT_OF_ORDER');
      return entry;
    }
    if (this.hungUp) {
      entry.error = 'channel is gone';
      entry.endedAt = entry.startedAt;
      return entry;
    }
    const loops = req.loops && req.loops > 1 ? req.loops : 1;
    if (req.via === 'sendmsg') {
      this.setVar('current_loop', '1');
      this.setVar('total_loops', String(loops));
    }
    this.setVar('current_application', req.app);
    this.setVar('current_application_data', req.arg || undefined);
    this.setVar('current_application_response', undefined);
    this.executed.push(entry);
    this.notifyApp(entry);
    const appHeaders = (): HeaderList => [['Application', req.app], ...(req.arg ? ([['Application-Data', req.arg]] as HeaderList) : [])];
    this.fire('CHANNEL_EXECUTE', { post: [...appHeaders(), ['Application-UUID', appUuid]] });
    let response: string | undefined;
    for (let loop = 1; loop <= loops; loop++) {
      if (loop > 1) {
        if (this.hungUp) break;
        this.setVar('current_loop', String(loop));
      }
      try {
        response = await runApp(this, this.host, req);
      } catch (err) {
        response = `-ERR ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    if (response !== undefined) this.setVar('current_application_response', response);
    const finalResponse = this.vars.get('current_application_response') ?? '_none_';
    this.fire('CHANNEL_EXECUTE_COMPLETE', {
      post: [...appHeaders(), ['Application-Response', finalResponse], ['Application-UUID', appUuid]],
    });
    entry.endedAt = this.host.now();
    entry.response = finalResponse;
    this.notifyApp(entry);
    return entry;
  }

  // ---- media primitives used by the applications -----------------------------------------

  /** Starts an operation uuid_break can stop; the caller must call the returned `end`. */
  beginBreakable(): { signal: AbortSignal; abort: () => void; end: () => void } {
    const ctl = new AbortController();
    this.breakCtl = ctl;
    return {
      signal: ctl.signal,
      abort: () => ctl.abort(),
      end: () => {
        if (this.breakCtl === ctl) this.breakCtl = undefined;
      },
    };
  }

  /**
   * switch_ivr_play_file: PLAYBACK_START, the file's duration (× timeScale) unless broken by
   * uuid_break, a terminator digit (playback_terminators, default `*`) or hangup, PLAYBACK_STOP.
   */
  async playFile(file: string, via: ExecVia, opts: { extraSignal?: AbortSignal } = {}): Promise<{ completed: boolean }> {
    const info = playbackInfo(file, this.host.options.defaultPlaybackMs);
    const rec: PlayedFile = { file, startedAt: this.host.now(), interrupted: false, via, durationMs: info.durationMs };
    this.played.push(rec);
    this.setVar('playback_terminator_used', undefined);
    const fileHeaders: HeaderList = [
      ['Playback-File-Type', info.fileType],
      ['Playback-File-Path', file],
    ];
    this.fire('PLAYBACK_START', { post: fileHeaders });
    const brk = this.beginBreakable();
    const terminators = this.vars.get('playback_terminators') ?? '*';
    // A terminator ends the file and is used up; other digits stay queued for a later read.
    const onDigit: DtmfListener = (digit) => {
      if (terminators === 'any' || (terminators !== 'none' && terminators.includes(digit))) {
        this.setVar('playback_terminator_used', digit);
        brk.abort();
        return true;
      }
      return false;
    };
    this.dtmfListeners.add(onDigit);
    const started = this.host.now();
    const completed = await this.host.wait(this.host.scaled(info.durationMs), this.life.signal, brk.signal, opts.extraSignal);
    this.dtmfListeners.delete(onDigit);
    brk.end();
    const realElapsed = this.host.now() - started;
    const scale = this.host.options.timeScale;
    const playedMs = completed ? info.durationMs : scale > 0 ? Math.min(info.durationMs, realElapsed / scale) : 0;
    const samples = Math.round((playedMs * this.codec.rate) / 1000);
    rec.endedAt = this.host.now();
    rec.interrupted = !completed;
    this.setVar('playback_last_offset_pos', String(samples));
    this.setVar('playback_seconds', String(Math.floor(playedMs / 1000)));
    this.setVar('playback_ms', String(Math.round(playedMs)));
    this.setVar('playback_samples', String(samples));
    this.fire('PLAYBACK_STOP', { post: [...fileHeaders, ['Playback-Status', completed ? 'done' : 'break']] });
    return { completed };
  }

  /** Digits for read / play_and_get_digits: type-ahead first, then the prompt, then waiting. */
  async collectDigits(opts: {
    min: number;
    max: number;
    terminators: string;
    timeoutMs: number;
    digitTimeoutMs?: number;
    prompt?: string;
    via: ExecVia;
  }): Promise<{ digits: string; terminator?: string; result: 'success' | 'timeout' | 'failure' }> {
    let digits = '';
    let terminator: string | undefined;
    let done = false;
    let wake: (() => void) | undefined;
    const take = (d: string): void => {
      if (done) return;
      if (opts.terminators && opts.terminators !== 'none' && (opts.terminators === 'any' || opts.terminators.includes(d))) {
        terminator = d;
        done = true;
      } else {
        digits += d;
        if (digits.length >= opts.max) done = true;
      }
      wake?.();
    };
    while (this.dtmfBuffer.length > 0 && !done) take(this.dtmfBuffer.shift() as string);
    const listener: DtmfListener = (d) => {
      take(d);
      return true;
    };
    this.dtmfListeners.add(listener);
    try {
      if (!done && opts.prompt && !this.hungUp) {
        const promptEnd = new AbortController();
        const stopOnFirst: DtmfListener = () => {
          promptEnd.abort();
          return false;
        };
        this.dtmfListeners.add(stopOnFirst);
        await this.playFile(opts.prompt, opts.via, { extraSignal: promptEnd.signal });
        this.dtmfListeners.delete(stopOnFirst);
      }
      let timedOut = false;
      while (!done && !this.hungUp) {
        const limit = digits.length === 0 ? opts.timeoutMs : (opts.digitTimeoutMs ?? opts.timeoutMs);
        const before = digits.length;
        const ctl = new AbortController();
        wake = () => ctl.abort();
        const expired = await this.host.wait(this.host.scaled(limit), this.life.signal, ctl.signal);
        wake = undefined;
        if (expired && digits.length === before && !done) {
          timedOut = true;
          break;
        }
      }
      const ok = digits.length >= opts.min && (digits.length > 0 || terminator !== undefined);
      return { digits, terminator, result: ok ? 'success' : timedOut ? 'timeout' : 'failure' };
    } finally {
      this.dtmfListeners.delete(listener);
    }
  }

  /** A wait uuid_break can end early (sleep, record). Resolves true when it ran its full time. */
  async breakableWait(ms: number, extra?: AbortSignal): Promise<boolean> {
    const brk = this.beginBreakable();
    try {
      return await this.host.wait(this.host.scaled(ms), this.life.signal, brk.signal, extra);
    } finally {
      brk.end();
    }
  }

  /** Waits for a terminator digit, hangup, break or `ms`. Used by record. */
  async waitWithTerminators(ms: number, terminators: string): Promise<{ completed: boolean; terminator?: string }> {
    const brk = this.beginBreakable();
    let term: string | undefined;
    const listener: DtmfListener = (d) => {
      if (terminators !== 'none' && (terminators === 'any' || terminators.includes(d))) {
        term = d;
        brk.abort();
        return true;
      }
      return false;
    };
    this.dtmfListeners.add(listener);
    try {
      const completed = await this.host.wait(this.host.scaled(ms), this.life.signal, brk.signal);
      return { completed, terminator: term };
    } finally {
      this.dtmfListeners.delete(listener);
      brk.end();
    }
  }

  receiveDtmf(digit: string, samples: number): void {
    this.fire('DTMF', {
      post: [
        ['DTMF-Digit', digit],
        ['DTMF-Duration', String(samples)],
        ['DTMF-Source', 'RTP'],
      ],
    });
    let consumed = false;
    for (const l of [...this.dtmfListeners]) if (l(digit)) consumed = true;
    if (!consumed && this.dtmfBuffer.length < 128) this.dtmfBuffer.push(digit);
  }

  flushDtmf(): void {
    this.dtmfBuffer.length = 0;
  }

  markBridged(other: SimChannel | undefined): void {
    this.bridgedTo = other?.uuid;
    if (other) {
      this.times.bridged = this.microNow();
      this.setVar('bridge_uuid', other.uuid);
      this.setVar('bridge_channel', other.name);
      this.setVar('signal_bond', other.uuid);
      this.setVar('last_bridge_to', other.uuid);
      this.setVar('bridge_to', other.uuid);
    } else {
      this.setVar('bridge_to', undefined);
      this.setVar('bridge_uuid', undefined);
      this.setVar('signal_bond', undefined);
    }
  }

  // ---- events ----------------------------------------------------------------------------

  /** An event carrying this channel's data, the way switch_channel_event_set_data lays it out. */
  event(name: string, opts: { pre?: HeaderList; post?: HeaderList; body?: string; subclass?: string; calling?: Calling } = {}): SimEvent {
    const ev = this.host.newEvent(name, opts.calling ?? CALLING[name] ?? DEFAULT_CALLING, opts.subclass);
    for (const h of opts.pre ?? []) ev.headers.push(h);
    // HANGUP_COMPLETE carries the cause before the channel data, every other event after Answer-State.
    const causeFirst = name === 'CHANNEL_HANGUP_COMPLETE';
    if (causeFirst && this.hangupCauseValue) ev.headers.push(['Hangup-Cause', this.hangupCauseValue]);
    this.appendChannelData(ev.headers, !causeFirst);
    for (const h of opts.post ?? []) ev.headers.push(h);
    if (opts.body !== undefined) ev.body = opts.body;
    return ev;
  }

  /** Builds and fires the event, unless no listener could take it (it then only counts a sequence number). */
  fire(name: string, opts: { pre?: HeaderList; post?: HeaderList; body?: string; subclass?: string; calling?: Calling } = {}): void {
    if (!this.host.mightDeliver(name, this.uuid, opts.subclass)) return;
    this.host.fire(this.event(name, opts));
  }

  /** The `connect` reply of an outbound socket: CHANNEL_DATA with the profile as `Channel-*`. */
  connectReplyHeaders(socketMode: 'async' | 'static', control: 'full' | 'single-channel'): HeaderList {
    const ev = this.host.newEvent('CHANNEL_DATA', CALLING.CHANNEL_DATA as Calling);
    ev.headers.push(...this.profileHeaders('Channel'));
    this.appendChannelData(ev.headers, true);
    ev.headers.push(['Content-Type', 'command/reply'], ['Reply-Text', '+OK\n'], ['Socket-Mode', socketMode], ['Control', control]);
    return ev.headers;
  }

  appendChannelData(h: HeaderList, withCause = true): void {
    const stateNumber = this.hungUp && STATE_NUMBER[this.stateName] < STATE_NUMBER.CS_HANGUP ? STATE_NUMBER.CS_HANGUP : STATE_NUMBER[this.stateName];
    h.push(
      ['Channel-State', this.stateName],
      ['Channel-Call-State', this.callStateName],
      ['Channel-State-Number', String(this.destroyed ? STATE_NUMBER.CS_DESTROY : stateNumber)],
      ['Channel-Name', this.name],
      ['Unique-ID', this.uuid],
      ['Call-Direction', this.direction],
      ['Presence-Call-Direction', this.direction],
      ['Channel-HIT-Dialplan', String(this.hitDialplan)],
    );
    const presence = this.vars.get('presence_id');
    if (presence) h.push(['Channel-Presence-ID', presence]);
    h.push(['Channel-Call-UUID', this.uuid], ['Answer-State', this.answerStateName]);
    if (withCause && this.hangupCauseValue) h.push(['Hangup-Cause', this.hangupCauseValue]);
    const c = this.codec;
    h.push(
      ['Channel-Read-Codec-Name', c.name],
      ['Channel-Read-Codec-Rate', String(c.rate)],
      ['Channel-Read-Codec-Bit-Rate', String(c.bitRate)],
      ['Channel-Write-Codec-Name', c.name],
      ['Channel-Write-Codec-Rate', String(c.rate)],
      ['Channel-Write-Codec-Bit-Rate', String(c.bitRate)],
    );
    h.push(...this.profileHeaders('Caller'));
    if (this.bridgedTo) {
      const other = this.host.channels.get(this.bridgedTo);
      if (other) {
        h.push(['Other-Type', this.direction === 'inbound' ? 'originatee' : 'originator']);
        h.push(...other.profileHeaders('Other-Leg'));
      }
    }
    for (const [k, v] of this.vars) h.push([variableHeader(k), v]);
  }

  profileHeaders(prefix: string): HeaderList {
    const p = this.profile;
    const t = this.times;
    const n = profileNames(prefix);
    const h: HeaderList = [
      [n.direction, this.direction],
      [n.logicalDirection, this.direction],
    ];
    if (p.username) h.push([n.username, p.username]);
    h.push([n.dialplan, p.dialplan ?? 'XML']);
    if (p.callerIdName) h.push([n.callerIdName, p.callerIdName]);
    h.push([n.callerIdNumber, p.callerIdNumber], [n.origCallerIdNumber, this.origCallerIdNumber]);
    if (p.calleeIdName) h.push([n.calleeIdName, p.calleeIdName]);
    if (p.calleeIdNumber) h.push([n.calleeIdNumber, p.calleeIdNumber]);
    if (p.networkAddr) h.push([n.networkAddr, p.networkAddr]);
    h.push(
      [n.ani, p.ani ?? this.origCallerIdNumber],
      [n.destinationNumber, p.destinationNumber],
      [n.uniqueId, this.uuid],
      [n.source, p.source],
      [n.context, p.context],
      [n.channelName, this.name],
      [n.profileIndex, String(this.transfers.length + 1)],
      [n.profileCreatedTime, String(t.transfer || t.created)],
      [n.createdTime, String(t.created)],
      [n.answeredTime, String(t.answered)],
      [n.progressTime, String(t.progress)],
      [n.progressMediaTime, String(t.progressMedia)],
      [n.hangupTime, String(t.hangup)],
      [n.transferTime, String(t.transfer)],
      [n.resurrectTime, '0'],
      [n.bridgedTime, String(t.bridged)],
      [n.lastHold, '0'],
      [n.holdAccum, '0'],
      [n.screenBit, 'true'],
      [n.hideName, 'false'],
      [n.hideNumber, 'false'],
    );
    return h;
  }

  /** Silently forgets the leg (simulator shutdown / crash): no events, waiters released. */
  destroySilently(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.hangupCauseValue ??= 'CRASH';
    this.life.abort();
    this.host.unregisterChannel(this);
    for (const w of this.hungUpWaiters.splice(0)) w();
  }

  // ---- internals -------------------------------------------------------------------------

  private async teardown(): Promise<void> {
    if (this.destroyed) return;
    // Let applications that were aborted by the hangup finish their own events first.
    await new Promise<void>((r) => setImmediate(r));
    if (this.destroyed) return;
    this.setState('CS_HANGUP');
    this.setCallState('HANGUP');
    this.times.hangup = this.microNow();
    this.setCdrVars();
    this.setState('CS_REPORTING');
    this.fire('CHANNEL_HANGUP_COMPLETE');
    for (const c of [...this.controllers]) c.onChannelHangupComplete(this);
    await new Promise<void>((r) => setImmediate(r));
    if (this.destroyed) return;
    this.destroyed = true;
    this.fire('CHANNEL_DESTROY');
    this.stateName = 'CS_DESTROY';
    this.fire('CHANNEL_STATE');
    this.host.unregisterChannel(this);
    for (const w of this.hungUpWaiters.splice(0)) w();
  }

  private setCdrVars(): void {
    const t = this.times;
    const cause = this.hangupCauseValue ?? 'NORMAL_CLEARING';
    const last = [...this.executed].reverse().find((e) => !e.error);
    const stamp = (us: number): string => formatLocal(new Date(us / 1000));
    const sec = (us: number): string => String(Math.floor(us / 1_000_000));
    const set = (k: string, v: string): void => this.setVar(k, v);
    set('hangup_cause', cause);
    set('hangup_cause_q850', String(causeQ850(cause)));
    set('digits_dialed', 'none');
    set('start_stamp', stamp(t.created));
    set('profile_start_stamp', stamp(t.created));
    if (t.answered) set('answer_stamp', stamp(t.answered));
    if (t.progress) set('progress_stamp', stamp(t.progress));
    set('end_stamp', stamp(t.hangup));
    set('start_epoch', sec(t.created));
    set('start_uepoch', String(t.created));
    set('profile_start_epoch', sec(t.created));
    set('profile_start_uepoch', String(t.created));
    set('answer_epoch', sec(t.answered));
    set('answer_uepoch', String(t.answered));
    set('bridge_epoch', sec(t.bridged));
    set('bridge_uepoch', String(t.bridged));
    set('last_hold_epoch', '0');
    set('last_hold_uepoch', '0');
    set('hold_accum_seconds', '0');
    set('hold_accum_usec', '0');
    set('hold_accum_ms', '0');
    set('resurrect_epoch', '0');
    set('resurrect_uepoch', '0');
    set('progress_epoch', sec(t.progress));
    set('progress_uepoch', String(t.progress));
    set('progress_media_epoch', sec(t.progressMedia));
    set('progress_media_uepoch', String(t.progressMedia));
    set('end_epoch', sec(t.hangup));
    set('end_uepoch', String(t.hangup));
    if (last) {
      set('last_app', last.app);
      if (last.arg) set('last_arg', last.arg);
    }
    set('caller_id', this.profile.callerIdName ? `"${this.profile.callerIdName}" <${this.profile.callerIdNumber}>` : this.profile.callerIdNumber);
    const dur = t.hangup - t.created;
    const bill = t.answered ? t.hangup - t.answered : 0;
    const progress = t.progress ? t.progress - t.created : 0;
    const answer = t.answered ? t.answered - t.created : 0;
    const progressMedia = t.progressMedia ? t.progressMedia - t.created : 0;
    const trio = (name: string, us: number): void => {
      set(`${name}sec`, String(Math.floor(us / 1_000_000)));
    };
    set('duration', String(Math.floor(dur / 1_000_000)));
    set('billsec', String(Math.floor(bill / 1_000_000)));
    trio('progress', progress);
    trio('answer', answer);
    set('waitsec', String(Math.floor(answer / 1_000_000)));
    trio('progress_media', progressMedia);
    set('flow_billsec', String(Math.floor(dur / 1_000_000)));
    set('mduration', String(Math.floor(dur / 1000)));
    set('billmsec', String(Math.floor(bill / 1000)));
    set('progressmsec', String(Math.floor(progress / 1000)));
    set('answermsec', String(Math.floor(answer / 1000)));
    set('waitmsec', String(Math.floor(answer / 1000)));
    set('progress_mediamsec', String(Math.floor(progressMedia / 1000)));
    set('flow_billmsec', String(Math.floor(dur / 1000)));
    set('uduration', String(dur));
    set('billusec', String(bill));
    set('progressusec', String(progress));
    set('answerusec', String(answer));
    set('waitusec', String(answer));
    set('progress_mediausec', String(progressMedia));
    set('flow_billusec', String(dur));
  }

  private microNow(): number {
    return Math.round(this.host.now() * 1000);
  }

  private notifyApp(entry: ExecutedApp): void {
    for (const w of [...this.appWaiters]) {
      if (w.match(entry)) {
        this.appWaiters.splice(this.appWaiters.indexOf(w), 1);
        w.resolve(entry);
      }
    }
  }

  private addWaiter<T>(list: Array<Waiter<T>>, match: (v: T) => boolean, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const w: Waiter<T> = {
        match,
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
      };
      const timer = setTimeout(() => {
        const i = list.indexOf(w);
        if (i >= 0) list.splice(i, 1);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      list.push(w);
    });
  }
}

// Header names are built once: the same string objects every event keeps serialisation cheap.
const PROFILE_FIELDS = {
  direction: 'Direction', logicalDirection: 'Logical-Direction', username: 'Username', dialplan: 'Dialplan',
  callerIdName: 'Caller-ID-Name', callerIdNumber: 'Caller-ID-Number', origCallerIdNumber: 'Orig-Caller-ID-Number',
  calleeIdName: 'Callee-ID-Name', calleeIdNumber: 'Callee-ID-Number', networkAddr: 'Network-Addr', ani: 'ANI',
  destinationNumber: 'Destination-Number', uniqueId: 'Unique-ID', source: 'Source', context: 'Context',
  channelName: 'Channel-Name', profileIndex: 'Profile-Index', profileCreatedTime: 'Profile-Created-Time',
  createdTime: 'Channel-Created-Time', answeredTime: 'Channel-Answered-Time', progressTime: 'Channel-Progress-Time',
  progressMediaTime: 'Channel-Progress-Media-Time', hangupTime: 'Channel-Hangup-Time', transferTime: 'Channel-Transfer-Time',
  resurrectTime: 'Channel-Resurrect-Time', bridgedTime: 'Channel-Bridged-Time', lastHold: 'Channel-Last-Hold',
  holdAccum: 'Channel-Hold-Accum', screenBit: 'Screen-Bit', hideName: 'Privacy-Hide-Name', hideNumber: 'Privacy-Hide-Number',
} as const;
type ProfileNames = { [K in keyof typeof PROFILE_FIELDS]: string };
const profileNameCache = new Map<string, ProfileNames>();

function profileNames(prefix: string): ProfileNames {
  let names = profileNameCache.get(prefix);
  if (!names) {
    names = Object.fromEntries(Object.entries(PROFILE_FIELDS).map(([k, v]) => [k, `${prefix}-${v}`])) as ProfileNames;
    profileNameCache.set(prefix, names);
  }
  return names;
}

const variableHeaders = new Map<string, string>();
function variableHeader(name: string): string {
  let h = variableHeaders.get(name);
  if (h === undefined) {
    h = `variable_${name}`;
    if (variableHeaders.size < 50_000) variableHeaders.set(name, h);
  }
  return h;
}

/** Event-Date-Local / *_stamp: `YYYY-MM-DD HH:MM:SS` in local time. */
export function formatLocal(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
