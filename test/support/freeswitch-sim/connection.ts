import type { Socket } from 'node:net';
import type { ChannelController, ExecRequest, SimChannel } from './channel.ts';
import { CommandReader, header, type ParsedCommand } from './command-reader.ts';
import type { SimEvent } from './event.ts';
import type { OutboundLink } from './host.ts';
import { parseCause } from './hangup-causes.ts';
import { Subscription } from './subscription.ts';
import {
  apiResponseFrame,
  authRequestFrame,
  commandReplyFrame,
  disconnectNoticeFrame,
  lingerNoticeFrame,
  serializePlain,
} from './wire.ts';

export type ConnectionMode = 'inbound' | 'outbound';

/** Every command any connection sent, as the tests see it. */
export interface SimCommand {
  connId: number;
  mode: ConnectionMode;
  /** Unique-ID of the channel an outbound connection controls. */
  channel?: string;
  /** First line, e.g. `api status`. */
  line: string;
  headers: Record<string, string>;
  body?: string;
  raw: Buffer;
  at: number;
}

/** What a connection needs from the simulator. */
export interface ConnectionHost {
  readonly password: string;
  now(): number;
  record(cmd: SimCommand): void;
  channel(uuid: string): SimChannel | undefined;
  /** Runs an api command; resolves with its output (what goes in the api/response body). */
  api(command: string, arg: string | undefined): Promise<string>;
  /** Runs a bgapi command and fires BACKGROUND_JOB when it is done. */
  bgapi(command: string, arg: string | undefined, jobUuid: string): void;
  uuid(): string;
  sendEvent(name: string, headers: Record<string, string>, body: string | undefined, eventUuid: string): void;
  forget(conn: EslConnection): void;
  /** The connection now only takes events of `uuid` (myevents). */
  bind(conn: EslConnection, uuid: string): void;
}

/** 25 s for the service to speak after FreeSWITCH connects to it (read_packet timeout). */
const OUTBOUND_FIRST_COMMAND_TIMEOUT_MS = 25_000;

/**
 * One ESL connection, either side: inbound (a client connected to the simulator) or outbound
 * (the simulator connected to the service for a channel, like the `socket` application).
 * Commands are handled one at a time in the order sent; while one is running (an `api` that waits
 * for an answer, a static-mode sendmsg) events are held back and follow its reply, as they do in
 * mod_event_socket where one thread reads, executes and writes.
 */
export class EslConnection implements ChannelController, OutboundLink {
  readonly id: number;
  readonly mode: ConnectionMode;
  readonly sub = new Subscription();
  authed: boolean;
  /** The channel this listener controls: the outbound one, or an inbound `myevents <uuid>`. */
  session: SimChannel | undefined;
  readonly isAsync: boolean;
  readonly full: boolean;
  resume = false;
  private linger: number | undefined;
  private divert = false;
  private readonly reader = new CommandReader();
  private readonly commands: ParsedCommand[] = [];
  private processing = false;
  private hold = 0;
  private held: string[] = [];
  private stopped = false;
  private disconnectHandled = false;
  private readonly closeCtl = new AbortController();
  private connectedResolve: ((ok: boolean) => void) | undefined;
  readonly connected: Promise<boolean>;
  private connectTimer: NodeJS.Timeout | undefined;
  private loggingLevel: string | undefined;
  private corked = false;

  constructor(
    private readonly host: ConnectionHost,
    readonly socket: Socket,
    opts: { id: number; mode: ConnectionMode; channel?: SimChannel; async?: boolean; full?: boolean },
  ) {
    this.id = opts.id;
    this.mode = opts.mode;
    this.session = opts.channel;
    this.isAsync = opts.async ?? true;
    this.full = opts.mode === 'inbound' ? true : (opts.full ?? false);
    this.authed = opts.mode === 'outbound';
    this.connected = new Promise<boolean>((resolve) => (this.connectedResolve = resolve));
    // TCP_NODELAY is set through the server / connect options (as FreeSWITCH sets it on every listener socket).
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => {
      /* a reset is a close */
    });
    socket.on('close', () => this.onClose());
    if (opts.mode === 'inbound') {
      this.write(authRequestFrame());
    } else if (opts.channel) {
      opts.channel.addController(this);
      this.connectTimer = setTimeout(() => {
        if (!this.stopped) this.disconnect(true);
      }, OUTBOUND_FIRST_COMMAND_TIMEOUT_MS);
      this.connectTimer.unref();
    }
  }

  /** OutboundLink: aborted when the socket closes. */
  get closed(): AbortSignal {
    return this.closeCtl.signal;
  }

  get isOpen(): boolean {
    return !this.stopped && !this.socket.destroyed;
  }

  // ---- output ----------------------------------------------------------------------------

  write(data: string | Buffer): boolean {
    if (this.socket.destroyed || !this.socket.writable) return true;
    // Everything written in one tick goes out in one writev.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    return this.socket.write(data);
  }

  /** An event from the bus: written now, or after the command in progress has replied. */
  deliver(ev: SimEvent): void {
    if (this.stopped || !this.sub.wants(ev)) return;
    const frame = ev.frame(this.sub.format);
    if (this.hold > 0) this.held.push(frame);
    else this.write(frame);
  }

  private reply(text: string, extra: Array<[string, string]> = []): void {
    this.write(commandReplyFrame(text, extra));
  }

  private flushHeld(): void {
    if (this.hold > 0 || this.held.length === 0) return;
    const frames = this.held;
    this.held = [];
    this.write(frames.join(''));
  }

  // ---- input -----------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.stopped) return;
    let parsed: ParsedCommand[];
    try {
      parsed = this.reader.push(chunk);
    } catch {
      parsed = [];
    }
    for (const cmd of parsed) {
      this.host.record({
        connId: this.id,
        mode: this.mode,
        channel: this.mode === 'outbound' ? this.session?.uuid : undefined,
        line: cmd.line,
        headers: cmd.headers,
        body: cmd.body,
        raw: cmd.raw,
        at: this.host.now(),
      });
      this.commands.push(cmd);
    }
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.processing) return;
    this.processing = true;
    try {
      while (this.commands.length > 0 && !this.stopped) {
        const cmd = this.commands.shift() as ParsedCommand;
        try {
          await this.handle(cmd);
        } catch (err) {
          // A command that trips the simulator is answered, never fatal.
          this.reply(`-ERR ${err instanceof Error ? err.message : String(err)}`);
        }
        this.flushHeld();
      }
    } finally {
      this.processing = false;
    }
  }

  /** parse_command() of mod_event_socket, in its order of checks (prefix matches, any case). */
  private async handle(cmd: ParsedCommand): Promise<void> {
    const line = cmd.line.replace(/[\r\n].*$/s, '');
    const lower = line.toLowerCase();
    const starts = (p: string): boolean => lower.startsWith(p);

    if (this.mode === 'outbound' && this.connectTimer) {
      clearTimeout(this.connectTimer);
      this.connectTimer = undefined;
    }

    if (starts('exit') || starts('...')) {
      this.reply('+OK bye');
      this.disconnect(true);
      return;
    }

    if (!this.authed) {
      if (starts('auth ')) {
        if (line.slice(5) === this.host.password) {
          this.authed = true;
          this.reply('+OK accepted');
        } else {
          this.reply('-ERR invalid');
          this.disconnect(true);
        }
        return;
      }
      if (starts('userauth ')) {
        this.reply('-ERR invalid');
        this.disconnect(true);
        return;
      }
      this.reply('-ERR command not found');
      return;
    }

    if (starts('filter ')) {
      this.reply(this.sub.filter(line.slice(7)));
      return;
    }

    if (this.session && starts('resume')) {
      this.resume = true;
      this.session.setVar('socket_resume', 'true');
      this.reply('+OK');
      return;
    }

    if (this.session || starts('myevents ')) {
      if (starts('connect')) {
        this.handleConnect();
        return;
      }
      if (starts('getvar')) {
        const sp = line.indexOf(' ');
        const value = sp >= 0 && this.session ? (this.session.vars.get(line.slice(sp + 1)) ?? '') : '';
        this.reply(value);
        return;
      }
      if (starts('myevents')) {
        this.handleMyevents(line);
        return;
      }
    }

    if (starts('divert_events')) {
      if (!this.session) {
        this.reply('-ERR not controlling a session.');
        return;
      }
      const onoff = line.slice(13).trim();
      if (!onoff) {
        this.reply('-ERR missing value.');
        return;
      }
      this.divert = onoff.toLowerCase() === 'on';
      this.reply(this.divert ? '+OK events diverted' : '+OK events not diverted');
      return;
    }

    if (starts('sendmsg')) {
      await this.handleSendmsg(line, cmd);
      return;
    }

    if (this.mode === 'outbound' && !this.full) {
      this.reply('-ERR command not found');
      return;
    }

    if (starts('sendevent')) {
      const name = line.slice(9).trim() || 'CUSTOM';
      const eventUuid = this.host.uuid();
      this.host.sendEvent(name, cmd.headers, cmd.body, eventUuid);
      this.reply(`+OK ${eventUuid}`);
      return;
    }

    if (starts('api ')) {
      const { command, arg } = splitApi(line.slice(4));
      this.hold++;
      let out: string;
      try {
        out = await this.host.api(command, arg);
      } finally {
        this.hold--;
      }
      if (out.length === 0) out = '-ERR no reply\n';
      this.write(apiResponseFrame(out));
      return;
    }

    if (starts('bgapi ')) {
      const { command, arg } = splitApi(line.slice(6));
      const jobUuid = header(cmd.headers, 'job-uuid') || this.host.uuid();
      this.reply(`+OK Job-UUID: ${jobUuid}`, [['Job-UUID', jobUuid]]);
      this.host.bgapi(command, arg, jobUuid);
      return;
    }

    if (starts('log')) {
      // Accepted like mod_event_socket; the simulator has no log lines to send.
      const levelText = line.length > 3 ? line.slice(4) : '';
      const level = levelText === '' ? 7 : LOG_LEVELS[levelText.toLowerCase()];
      if (level === undefined) {
        this.reply('-ERR invalid log level');
        return;
      }
      this.loggingLevel = levelText;
      this.reply(`+OK log level ${levelText} [${level}]`);
      return;
    }

    if (starts('linger')) {
      if (!this.session) {
        this.reply('-ERR not controlling a session');
        return;
      }
      const rest = line.slice(6);
      if (rest.startsWith(' ') && rest.length > 1) {
        this.linger = Number.parseInt(rest.slice(1), 10) || 0;
        this.reply(`+OK will linger ${this.linger} seconds`);
      } else {
        this.linger = -1;
        this.reply('+OK will linger');
      }
      return;
    }

    if (starts('nolinger')) {
      if (!this.session) {
        this.reply('-ERR not controlling a session');
        return;
      }
      this.linger = undefined;
      this.reply('+OK will not linger');
      return;
    }

    if (starts('nolog')) {
      if (this.loggingLevel !== undefined) {
        this.loggingLevel = undefined;
        this.reply('+OK no longer logging');
      } else {
        this.reply('-ERR not loging');
      }
      return;
    }

    if (starts('event')) {
      const sp = line.indexOf(' ', 5);
      this.reply(sp < 0 ? '-ERR no keywords supplied' : this.sub.subscribe(line.slice(sp + 1)));
      return;
    }

    if (starts('nixevent')) {
      const sp = line.indexOf(' ', 5);
      this.reply(sp < 0 ? '-ERR no keywords supplied' : this.sub.unsubscribe(line.slice(sp + 1)));
      return;
    }

    if (starts('noevents')) {
      this.held = [];
      this.reply(this.sub.clear());
      return;
    }

    this.reply('-ERR command not found');
  }

  private handleConnect(): void {
    const ch = this.session;
    if (!ch) {
      this.reply('-ERR command not found');
      return;
    }
    const headers = ch.connectReplyHeaders(this.isAsync ? 'async' : 'static', this.full ? 'full' : 'single-channel');
    this.write(serializePlain(headers, undefined));
    if (this.connectedResolve) {
      const resolve = this.connectedResolve;
      this.connectedResolve = undefined;
      resolve(true);
    }
  }

  private handleMyevents(line: string): void {
    if (this.sub.myevents) {
      this.reply('-ERR aready enabled.');
      return;
    }
    let hint = line;
    if (!this.session) {
      const rest = line.slice(9).trim();
      const [uuid, fmt] = rest.split(' ');
      const ch = uuid ? this.host.channel(uuid) : undefined;
      if (!ch || ch.hungUp) {
        this.reply('-ERR invalid uuid');
        return;
      }
      this.session = ch;
      ch.addController(this);
      hint = fmt ?? line;
    }
    this.sub.enableMyevents(this.session.uuid, hint);
    this.host.bind(this, this.session.uuid);
    this.reply('+OK Events Enabled');
  }

  private async handleSendmsg(line: string, cmd: ParsedCommand): Promise<void> {
    let uuid: string | undefined = line.slice(7).trim() || header(cmd.headers, 'session-id');
    if (uuid && this.session && uuid === this.session.uuid) uuid = undefined;
    const own = !uuid;
    const target = own ? this.session : this.host.channel(uuid as string);
    if (!target || target.isDestroyed) {
      this.reply(`-ERR invalid session id [${uuid ?? ''}]`);
      return;
    }
    const callCommand = (header(cmd.headers, 'call-command') ?? '').toLowerCase();
    const asyncHeader = (header(cmd.headers, 'async') ?? '').toLowerCase();
    const isAsync = !own || this.isAsync || asyncHeader === 'true' || asyncHeader === 'yes' || asyncHeader === '1';
    if (callCommand === 'hangup') {
      // Acted on at once (see README: a sim simplification).
      this.reply('+OK');
      target.hangupNow(parseCause(header(cmd.headers, 'hangup-cause')) ?? 'NORMAL_CLEARING');
      return;
    }
    if (callCommand !== 'execute') {
      // nomedia, unicast, xferext …: accepted, not simulated.
      this.reply('+OK');
      return;
    }
    const app = header(cmd.headers, 'execute-app-name');
    if (!app) {
      this.reply('+OK');
      return;
    }
    let arg = header(cmd.headers, 'execute-app-arg');
    const contentType = header(cmd.headers, 'content-type');
    if (!arg && contentType?.toLowerCase() === 'text/plain' && cmd.body !== undefined) arg = cmd.body;
    const loops = Number.parseInt(header(cmd.headers, 'loops') ?? '1', 10);
    const req: ExecRequest = {
      app,
      arg: arg ?? '',
      via: 'sendmsg',
      eventUuid: header(cmd.headers, 'event-uuid'),
      loops: Number.isFinite(loops) ? loops : 1,
    };
    if (isAsync) {
      target.enqueue(req);
      this.reply('+OK');
      return;
    }
    // Static (non-async) socket: the application runs inside the command; the reply follows it.
    this.hold++;
    try {
      await target.execute(req);
    } finally {
      this.hold--;
    }
    this.reply('+OK');
  }

  // ---- channel going down (session listeners) --------------------------------------------

  onChannelHangup(ch: SimChannel): void {
    if (ch !== this.session || this.disconnectHandled) return;
    if (this.linger === undefined) {
      // Without linger FreeSWITCH leaves as soon as the channel is down.
      this.disconnectHandled = true;
      this.disconnect(true);
    }
  }

  onChannelHangupComplete(ch: SimChannel): void {
    if (ch !== this.session || this.disconnectHandled) return;
    this.disconnectHandled = true;
    this.flushHeldNow();
    this.write(lingerNoticeFrame(ch.uuid, ch.name, this.linger ?? -1));
    this.stop(false);
  }

  private flushHeldNow(): void {
    if (this.held.length === 0) return;
    const frames = this.held;
    this.held = [];
    this.write(frames.join(''));
  }

  // ---- closing ---------------------------------------------------------------------------

  /** Leaves like listener_run's end: the goodbye notice (if asked), then the socket closes. */
  disconnect(withNotice: boolean): void {
    if (this.stopped) return;
    this.flushHeldNow();
    if (withNotice) this.write(disconnectNoticeFrame(undefined, this.session?.uuid));
    this.stop(false);
  }

  /** Closes the socket; `reset` sends an RST instead of a FIN (a crash). */
  stop(reset: boolean): void {
    if (this.stopped) return;
    this.stopped = true;
    if (reset) this.socket.resetAndDestroy();
    else this.socket.end();
    this.onClose();
  }

  private onClose(): void {
    this.stopped = true;
    if (this.connectTimer) {
      clearTimeout(this.connectTimer);
      this.connectTimer = undefined;
    }
    if (this.closeCtl.signal.aborted) return;
    this.closeCtl.abort();
    if (this.connectedResolve) {
      const r = this.connectedResolve;
      this.connectedResolve = undefined;
      r(false);
    }
    const ch = this.session;
    if (ch) {
      ch.removeController(this);
      // The outbound socket going away ends the socket application; the call goes with it.
      if (this.mode === 'outbound' && !ch.hungUp && !this.resume) ch.hangupNow('NORMAL_CLEARING');
    }
    this.host.forget(this);
  }

  /** For tests: does this listener divert session events. */
  get divertEvents(): boolean {
    return this.divert;
  }
}

const LOG_LEVELS: Record<string, number> = {
  console: 0, emerg: 0, alert: 1, crit: 2, err: 3, error: 3, warning: 4, notice: 5, info: 6, debug: 7,
  '0': 0, '1': 1, '2': 2, '3': 3, '4': 4, '5': 5, '6': 6, '7': 7,
};

function splitApi(text: string): { command: string; arg: string | undefined } {
  const sp = text.indexOf(' ');
  return sp < 0 ? { command: text, arg: undefined } : { command: text.slice(0, sp), arg: text.slice(sp + 1) };
}
