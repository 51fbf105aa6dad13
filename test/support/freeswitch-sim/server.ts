import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { connect as netConnect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { runApiCommand, type ApiHost } from './api-commands.ts';
import { formatLocal, SimChannel } from './channel.ts';
import { EslConnection, type ConnectionHost, type SimCommand } from './connection.ts';
import { dial, type DialerHost } from './dialer.ts';
import { canonicalEventName, SimEvent } from './event.ts';
import { buildTemplates, floodConnection } from './flood.ts';
import type {
  AudioStreamAction,
  Calling,
  OriginateHandler,
  OriginatePlan,
  OriginateRequest,
  OutboundLink,
  ResolvedOptions,
  SocketTarget,
} from './host.ts';
import { parseDialString, parseOriginateArgs } from './originate.ts';
import type { EventFormat, HeaderList } from './wire.ts';

export interface FreeSwitchSimOptions {
  /** ESL password (`auth <password>`); default `ClueCon`. */
  password?: string;
  /** Multiplies every simulated duration (files, sleeps, answer delays, gaps); default 1. */
  timeScale?: number;
  /** How long a file plays when it is not on disk (and for speak/say), unscaled ms; default 1000. */
  defaultPlaybackMs?: number;
  /** FreeSWITCH-Hostname / -Switchname; default `freeswitch-sim`. */
  hostname?: string;
  /** Address to listen on; default 127.0.0.1 (port is always 0: read `sim.port`). */
  host?: string;
  /** Gap between queued uuid_broadcast files, unscaled ms; default 190 (measured 180–200). */
  broadcastGapMs?: number;
}

export interface InboundCallOptions {
  /** Dialled number (Caller-Destination-Number). */
  to: string;
  /** Caller-Caller-ID-Number */
  from: string;
  callerName?: string;
  context?: string;
  /** SIP domain; also sets variable_domain_name like FusionPBX does. */
  domain?: string;
  /** sofia profile in Channel-Name; default `internal`. */
  profile?: string;
  /** Extra channel variables, set before the dialplan runs. */
  vars?: Record<string, string>;
  /** Where the dialplan's `socket` application connects; `args` default `async full`. */
  socket: { host: string; port: number; args?: string };
}

/** A fired event as seen on the simulator's `event` emitter. */
export interface SimEventRecord {
  name: string;
  headers: Record<string, string>;
  body?: string;
}

export interface SimEvents {
  command: [SimCommand];
  channel: [SimChannel];
  event: [SimEventRecord];
  audioStream: [AudioStreamAction];
}

const PROCESS_START = performance.timeOrigin;

/**
 * A FreeSWITCH for tests: a TCP server speaking the real ESL wire format (inbound mode), channels
 * that connect out to a service (outbound mode), dialplan applications and api commands, with the
 * behaviours measured on FreeSWITCH 1.11 (see README.md in this folder).
 */
export class FreeSwitchSim extends EventEmitter<SimEvents> {
  /** Every command any connection sent, in arrival order. */
  readonly received: SimCommand[] = [];
  readonly channels = new Map<string, SimChannel>();
  readonly options: ResolvedOptions;
  readonly coreUuid = randomUUID();
  readonly startedAt: number;
  private server: Server | undefined;
  private listenHost: string;
  private listenPort = 0;
  private readonly conns = new Set<EslConnection>();
  /** Connections not restricted to one channel's events. */
  private readonly unbound = new Set<EslConnection>();
  /** myevents listeners by the Unique-ID they follow. */
  private readonly boundTo = new Map<string, Set<EslConnection>>();
  private liveChannels = 0;
  private dateCache = { second: -1, local: '', gmt: '' };
  private nextConnId = 1;
  private sequence = 100;
  private sessionCounter = 0;
  private peak = 0;
  private originateHandler: OriginateHandler | undefined;
  private readonly pendingWaits = new Set<() => void>();
  private readonly socketSettled = new Map<string, () => void>();
  private closing = false;
  private floodTemplates: ReturnType<typeof buildTemplates> | undefined;
  private readonly dialerHost: DialerHost;
  private readonly connHost: ConnectionHost;
  private readonly apiHost: ApiHost;

  private constructor(opts: FreeSwitchSimOptions) {
    super();
    this.options = {
      password: opts.password ?? 'ClueCon',
      timeScale: Math.max(0, opts.timeScale ?? 1),
      defaultPlaybackMs: opts.defaultPlaybackMs ?? 1000,
      hostname: opts.hostname ?? 'freeswitch-sim',
      broadcastGapMs: opts.broadcastGapMs ?? 190,
    };
    this.listenHost = opts.host ?? '127.0.0.1';
    this.startedAt = this.now();
    this.dialerHost = this.makeDialerHost();
    this.connHost = this.makeConnHost();
    this.apiHost = this.makeApiHost();
  }

  /** Starts listening on `host` (default 127.0.0.1), port 0. */
  static async start(opts: FreeSwitchSimOptions = {}): Promise<FreeSwitchSim> {
    const sim = new FreeSwitchSim(opts);
    await sim.listen();
    return sim;
  }

  get host(): string {
    return this.listenHost;
  }

  get port(): number {
    return this.listenPort;
  }

  /** The channel with that Unique-ID, if it still exists. */
  channel(uuid: string): SimChannel | undefined {
    return this.channels.get(uuid);
  }

  /** Decides what the far end does for each originate / bridge leg; default: answer at once. */
  onOriginate(handler: OriginateHandler | undefined): void {
    this.originateHandler = handler;
  }

  /** Connections open right now (inbound clients and outbound channel sockets). */
  get connections(): ReadonlyArray<{ id: number; mode: 'inbound' | 'outbound'; authed: boolean; session?: string; format: EventFormat }> {
    return [...this.conns].map((c) => ({ id: c.id, mode: c.mode, authed: c.authed, session: c.session?.uuid, format: c.sub.format }));
  }

  /**
   * Resolves with the first command matching `pred`. Commands already received count too,
   * from index `since` of `sim.received` (default 0: all of them); pass `sim.received.length`
   * to wait only for new ones.
   */
  waitForCommand(pred: (c: SimCommand) => boolean, opts: { timeoutMs?: number; since?: number } = {}): Promise<SimCommand> {
    const found = this.received.slice(opts.since ?? 0).find(pred);
    if (found) return Promise.resolve(found);
    return new Promise<SimCommand>((resolve, reject) => {
      const onCommand = (c: SimCommand): void => {
        if (!pred(c)) return;
        clearTimeout(timer);
        this.off('command', onCommand);
        resolve(c);
      };
      const timer = setTimeout(() => {
        this.off('command', onCommand);
        const last = this.received.slice(-5).map((c) => JSON.stringify(c.line)).join(', ');
        reject(new Error(`timed out after ${opts.timeoutMs ?? 5000} ms waiting for a command (last: ${last || 'none'})`));
      }, opts.timeoutMs ?? 5000);
      this.on('command', onCommand);
    });
  }

  /**
   * An inbound SIP call whose dialplan runs `socket <host>:<port> async full`. Resolves once the
   * socket connection attempt has settled: connected (the channel waits for the service's
   * `connect`) or refused (the channel is then already hanging up with DESTINATION_OUT_OF_ORDER).
   */
  async inboundCall(opts: InboundCallOptions): Promise<SimChannel> {
    const uuid = randomUUID();
    const domain = opts.domain ?? '127.0.0.1';
    const profile = opts.profile ?? 'internal';
    const name = `sofia/${profile}/${opts.from}@${domain}`;
    const ch = new SimChannel(this.dialerHost, {
      uuid,
      direction: 'inbound',
      name,
      source: 'mod_sofia',
      callerIdName: opts.callerName ?? opts.from,
      callerIdNumber: opts.from,
      destinationNumber: opts.to,
      context: opts.context ?? 'default',
      dialplan: 'XML',
      username: opts.from,
      networkAddr: '127.0.0.1',
      sip: true,
    });
    const callId = `${randomUUID()}@127.0.0.1`;
    const v = (k: string, val: string): void => ch.setVar(k, val);
    v('direction', 'inbound');
    v('uuid', uuid);
    v('session_id', String(this.nextSessionId()));
    v('sip_from_user', opts.from);
    v('sip_from_uri', `${opts.from}@${domain}`);
    v('sip_from_host', domain);
    v('channel_name', name);
    v('sip_local_network_addr', '127.0.0.1');
    v('sip_network_ip', '127.0.0.1');
    v('sip_network_port', '5060');
    v('sip_invite_stamp', String(Math.round(this.now() * 1000)));
    v('sip_received_ip', '127.0.0.1');
    v('sip_received_port', '5060');
    v('sip_via_protocol', 'udp');
    if (opts.callerName) v('sip_from_display', opts.callerName);
    v('sip_full_from', `${opts.callerName ? `"${opts.callerName}" ` : ''}<sip:${opts.from}@${domain}>;tag=${randomUUID().slice(0, 8)}`);
    v('sip_full_to', `<sip:${opts.to}@${domain}>`);
    v('sip_req_user', opts.to);
    v('sip_req_uri', `${opts.to}@${domain}`);
    v('sip_req_host', domain);
    v('sip_to_user', opts.to);
    v('sip_to_uri', `${opts.to}@${domain}`);
    v('sip_to_host', domain);
    v('sip_contact_user', opts.from);
    v('sip_contact_uri', `${opts.from}@127.0.0.1:5060`);
    v('sip_contact_host', '127.0.0.1');
    v('sip_call_id', callId);
    v('sip_user_agent', 'Switchboard-Sim/1.0');
    v('sip_via_host', '127.0.0.1');
    v('sip_via_port', '5060');
    v('presence_id', `${opts.from}@${domain}`);
    v('ep_codec_string', 'PCMU@8000h@20i@64000b,PCMA@8000h@20i@64000b');
    if (opts.domain) v('domain_name', opts.domain);
    for (const [k, val] of Object.entries(opts.vars ?? {})) v(k, val);
    v('read_codec', 'PCMU');
    v('read_rate', '8000');
    v('write_codec', 'PCMU');
    v('write_rate', '8000');
    v('call_uuid', uuid);
    this.registerChannel(ch);

    ch.setState('CS_INIT', true);
    ch.fire('CHANNEL_CREATE');
    ch.setCallState('RINGING');
    ch.setState('CS_ROUTING');
    ch.setState('CS_EXECUTE');

    const settled = new Promise<void>((resolve) => {
      this.socketSettled.set(uuid, resolve);
      ch.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    const socketArg = `${opts.socket.host}:${opts.socket.port} ${opts.socket.args ?? 'async full'}`;
    ch.start(async (c) => {
      await c.runDialplan([{ app: 'socket', arg: socketArg, via: 'dialplan' }]);
    });
    await settled;
    this.socketSettled.delete(uuid);
    return ch;
  }

  /** Destroys every socket with a reset (a FreeSWITCH crash, as the client sees it). With `killChannels` the calls vanish too, without events. */
  dropConnections(opts: { killChannels?: boolean } = {}): void {
    for (const c of [...this.conns]) c.stop(true);
    if (opts.killChannels) for (const ch of [...this.channels.values()]) ch.destroySilently();
  }

  /** Writes bytes as they are to every authenticated inbound connection (malformed frames). */
  sendRaw(bytes: Buffer | string): void {
    for (const c of this.conns) if (c.mode === 'inbound' && c.authed) c.write(bytes);
  }

  /**
   * Fires any event (CUSTOM with an `Event-Subclass` header too), delivered per subscriptions and
   * filters. When `Unique-ID` names a live channel, the event carries that channel's data like a
   * module's event would. Given headers replace standard ones of the same name.
   */
  emitEvent(name: string, headers: Record<string, string> = {}, body?: string): void {
    const evName = canonicalEventName(name) ?? name;
    const subclass = headerValue(headers, 'Event-Subclass');
    const uuid = headerValue(headers, 'Unique-ID');
    const ch = uuid ? this.channels.get(uuid) : undefined;
    const calling: Calling = { file: 'switch_event.c', func: 'switch_event_fire_detailed', line: 0 };
    const ev = ch ? ch.event(evName, { subclass, calling }) : this.newEvent(evName, calling, subclass);
    for (const [k, val] of Object.entries(headers)) {
      const lower = k.toLowerCase();
      if (lower === 'event-subclass' || (ch && lower === 'unique-id')) continue;
      const i = ev.headers.findIndex(([n]) => n.toLowerCase() === lower);
      if (i >= 0) ev.headers[i] = [ev.headers[i]?.[0] ?? k, val];
      else ev.headers.push([k, val]);
    }
    if (body !== undefined) ev.body = body;
    ev.touched();
    this.fire(ev);
  }

  /**
   * Benchmark helper: writes `count` realistic pre-serialised channel events to each subscribed
   * inbound connection (or only `connId`), as fast as each socket drains. `format` forces the
   * encoding; by default each connection gets its own. Only event types the connection's
   * subscription accepts are sent. Resolves when everything is handed to the sockets.
   */
  async floodEvents(count: number, opts: { format?: 'json' | 'plain'; connId?: number } = {}): Promise<{ delivered: number }> {
    if (!this.floodTemplates) {
      const fake = new SimChannel(this.dialerHost, {
        uuid: randomUUID(),
        direction: 'inbound',
        name: 'sofia/internal/+15551234567@127.0.0.1',
        source: 'mod_sofia',
        callerIdName: 'Flood Caller',
        callerIdNumber: '+15551234567',
        destinationNumber: '7000',
        context: 'default',
        username: '+15551234567',
        networkAddr: '127.0.0.1',
        sip: true,
      });
      fake.setVar('direction', 'inbound');
      fake.setVar('uuid', fake.uuid);
      fake.setVar('sip_from_user', '+15551234567');
      fake.setVar('sip_to_user', '7000');
      fake.setVar('domain_name', 'example.com');
      fake.setVar('call_uuid', fake.uuid);
      fake.setVar('sb_note', '100% a%zz b%25 café');
      this.floodTemplates = buildTemplates(fake);
    }
    const targets = [...this.conns].filter(
      (c) => c.mode === 'inbound' && c.authed && c.isOpen && c.sub.enabled && (opts.connId === undefined || c.id === opts.connId),
    );
    const firstSeq = this.sequence + 1;
    this.sequence += count;
    const templates = this.floodTemplates;
    const counts = await Promise.all(targets.map((c) => floodConnection(c, templates, count, firstSeq, opts.format)));
    return { delivered: counts.reduce((a, b) => a + b, 0) };
  }

  /** Stops listening, drops every socket and forgets every channel (no events). */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const w of [...this.pendingWaits]) w();
    for (const c of [...this.conns]) {
      c.stop(false);
      c.socket.destroy();
    }
    for (const ch of [...this.channels.values()]) ch.destroySilently();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ---- internals -------------------------------------------------------------------------

  now(): number {
    return PROCESS_START + performance.now();
  }

  private listen(): Promise<void> {
    const server = createServer({ noDelay: true }, (socket) => this.accept(socket));
    server.on('error', () => {
      /* listen errors surface through start() */
    });
    this.server = server;
    return new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, this.listenHost, () => {
        server.off('error', reject);
        this.listenPort = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  private accept(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const conn = new EslConnection(this.connHost, socket, { id: this.nextConnId++, mode: 'inbound' });
    this.conns.add(conn);
    this.unbound.add(conn);
  }

  /** Event-Name … Event-Sequence, the header block every event starts with. */
  newEvent(name: string, calling: Calling, subclass?: string): SimEvent {
    const micros = Math.round(this.now() * 1000);
    const second = Math.floor(micros / 1_000_000);
    if (second !== this.dateCache.second) {
      const d = new Date(second * 1000);
      this.dateCache = { second, local: formatLocal(d), gmt: d.toUTCString() };
    }
    const h: HeaderList = [];
    if (name === 'CUSTOM' && subclass) h.push(['Event-Subclass', subclass]);
    h.push(
      ['Event-Name', name],
      ['Core-UUID', this.coreUuid],
      ['FreeSWITCH-Hostname', this.options.hostname],
      ['FreeSWITCH-Switchname', this.options.hostname],
      ['FreeSWITCH-IPv4', '127.0.0.1'],
      ['FreeSWITCH-IPv6', '::1'],
      ['Event-Date-Local', this.dateCache.local],
      ['Event-Date-GMT', this.dateCache.gmt],
      ['Event-Date-Timestamp', String(micros)],
      ['Event-Calling-File', calling.file],
      ['Event-Calling-Function', calling.func],
      ['Event-Calling-Line-Number', String(calling.line)],
      ['Event-Sequence', String(++this.sequence)],
    );
    return new SimEvent(name, h);
  }

  mightDeliver(name: string, uuid: string | undefined, subclass?: string): boolean {
    if (this.closing) return false;
    if (this.listenerCount('event') > 0) return true;
    for (const c of this.unbound) if (c.sub.mightWant(name, subclass)) return true;
    const bound = uuid === undefined ? undefined : this.boundTo.get(uuid);
    if (bound) for (const c of bound) if (c.sub.mightWant(name, subclass)) return true;
    this.sequence++;
    return false;
  }

  fire(ev: SimEvent): void {
    if (this.closing) return;
    // Listeners bound to one channel (myevents) only ever take that channel's events.
    for (const c of this.unbound) c.deliver(ev);
    const uuid = ev.get('Unique-ID');
    const bound = uuid === undefined ? undefined : this.boundTo.get(uuid);
    if (bound) for (const c of bound) c.deliver(ev);
    if (this.listenerCount('event') > 0) this.emit('event', { name: ev.name, headers: ev.toRecord(), body: ev.body });
  }

  scaled(ms: number): number {
    return ms * this.options.timeScale;
  }

  wait(ms: number, ...signals: Array<AbortSignal | undefined>): Promise<boolean> {
    const sigs = signals.filter((s): s is AbortSignal => s !== undefined);
    if (this.closing || sigs.some((s) => s.aborted)) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (value: boolean): void => {
        if (timer) clearTimeout(timer);
        for (const s of sigs) s.removeEventListener('abort', onAbort);
        this.pendingWaits.delete(onAbort);
        resolve(value);
      };
      const onAbort = (): void => finish(false);
      if (Number.isFinite(ms)) timer = setTimeout(() => finish(true), Math.max(0, ms));
      for (const s of sigs) s.addEventListener('abort', onAbort, { once: true });
      this.pendingWaits.add(onAbort);
    });
  }

  nextSessionId(): number {
    return ++this.sessionCounter;
  }

  registerChannel(ch: SimChannel): void {
    this.channels.set(ch.uuid, ch);
    this.liveChannels++;
    if (this.liveChannels > this.peak) this.peak = this.liveChannels;
    this.emit('channel', ch);
  }

  unregisterChannel(ch: SimChannel): void {
    if (this.channels.get(ch.uuid) === ch) {
      this.channels.delete(ch.uuid);
      this.liveChannels--;
    }
  }

  private async planFor(req: OriginateRequest): Promise<OriginatePlan> {
    if (!this.originateHandler) return {};
    try {
      return (await this.originateHandler(req)) ?? {};
    } catch {
      return { fail: 'NORMAL_TEMPORARY_FAILURE' };
    }
  }

  private connectSocket(ch: SimChannel, target: SocketTarget): Promise<OutboundLink | undefined> {
    return new Promise<OutboundLink | undefined>((resolve) => {
      const settle = (link: OutboundLink | undefined): void => {
        this.socketSettled.get(ch.uuid)?.();
        resolve(link);
      };
      let sock: Socket;
      try {
        sock = netConnect({ host: target.host, port: target.port, noDelay: true });
      } catch {
        settle(undefined);
        return;
      }
      const onAbort = (): void => {
        sock.destroy();
        fail();
      };
      const fail = (): void => {
        ch.signal.removeEventListener('abort', onAbort);
        settle(undefined);
      };
      sock.once('error', fail);
      ch.signal.addEventListener('abort', onAbort, { once: true });
      sock.once('connect', () => {
        sock.off('error', fail);
        ch.signal.removeEventListener('abort', onAbort);
        if (this.closing) {
          sock.destroy();
          settle(undefined);
          return;
        }
        ch.socket = { host: target.host, port: target.port, async: target.async, full: target.full };
        const conn = new EslConnection(this.connHost, sock, { id: this.nextConnId++, mode: 'outbound', channel: ch, async: target.async, full: target.full });
        this.conns.add(conn);
        this.unbound.add(conn);
        settle(conn);
      });
    });
  }

  /** Never throws: a simulator fault is answered as an -ERR body rather than breaking the connection. */
  private async runApi(command: string, arg: string | undefined): Promise<string> {
    let out: string;
    try {
      const result = runApiCommand(this.apiHost, command, arg);
      if (result === undefined) return `-ERR ${command} Command not found!\n`;
      out = await result;
    } catch (err) {
      return `-ERR ${err instanceof Error ? err.message : String(err)}\n`;
    }
    const ev = this.newEvent('API', { file: 'switch_loadable_module.c', func: 'switch_api_execute', line: 3140 });
    ev.add('API-Command', command);
    if (arg !== undefined) ev.add('API-Command-Argument', arg);
    this.fire(ev);
    return out;
  }

  private async originate(arg: string): Promise<string> {
    const args = parseOriginateArgs(arg);
    if (!args) return '-USAGE: originate\n';
    const ds = parseDialString(args.dial);
    if (!ds.ok) return `-ERR ${ds.cause}\n`;
    const target = args.target;
    const res = await dial(this.dialerHost, ds, {
      appLabel: args.appText,
      cidName: args.cidName,
      cidNum: args.cidNum,
      timeoutSec: args.timeoutSec,
      afterAnswer: async (leg) => {
        leg.flipCid();
        if (target.kind === 'app') {
          leg.setState('CS_EXECUTE');
          await leg.runDialplan([{ app: target.name, arg: target.arg, via: 'dialplan' }]);
        } else {
          leg.transfer(target.extension, target.dialplan, target.context);
          leg.setState('CS_EXECUTE');
          await leg.runDialplan([{ app: 'park', arg: '', via: 'dialplan' }]);
        }
      },
    });
    return 'leg' in res ? `+OK ${res.leg.uuid}\n` : `-ERR ${res.cause}\n`;
  }

  private async dialLeg(aLeg: SimChannel, dialText: string, signal: AbortSignal): Promise<{ leg: SimChannel } | { cause: string }> {
    const ds = parseDialString(dialText);
    if (!ds.ok) return { cause: ds.cause };
    const exported = (aLeg.vars.get('export_vars') ?? '')
      .split(',')
      .filter(Boolean)
      .map((k): [string, string] => [k, aLeg.vars.get(k) ?? ''])
      .filter(([, val]) => val !== '');
    const timeout = Number.parseInt(aLeg.vars.get('call_timeout') ?? '', 10);
    return dial(this.dialerHost, ds, {
      appLabel: 'bridge',
      cidName: aLeg.vars.get('effective_caller_id_name') ?? undefined,
      cidNum: aLeg.vars.get('effective_caller_id_number') ?? aLeg.callerIdNumber,
      timeoutSec: Number.isFinite(timeout) && timeout > 0 ? timeout : 60,
      signal,
      inherit: exported,
      afterAnswer: async (leg) => {
        leg.setState('CS_EXCHANGE_MEDIA');
        await this.wait(Infinity, leg.signal);
      },
    });
  }

  private makeDialerHost(): DialerHost {
    return {
      options: this.options,
      channels: this.channels,
      newEvent: (name, calling, subclass) => this.newEvent(name, calling, subclass),
      fire: (ev) => this.fire(ev),
      mightDeliver: (name, uuid, subclass) => this.mightDeliver(name, uuid, subclass),
      scaled: (ms) => this.scaled(ms),
      wait: (ms, ...signals) => this.wait(ms, ...signals),
      uuid: () => randomUUID(),
      now: () => this.now(),
      nextSessionId: () => this.nextSessionId(),
      registerChannel: (ch) => this.registerChannel(ch),
      unregisterChannel: (ch) => this.unregisterChannel(ch),
      connectSocket: (ch, t) => this.connectSocket(ch, t),
      dialLeg: (a, d, s) => this.dialLeg(a, d, s),
      audioStream: (a) => this.emit('audioStream', a),
      planFor: (req) => this.planFor(req),
    };
  }

  private makeConnHost(): ConnectionHost {
    const sim = this;
    return {
      get password(): string {
        return sim.options.password;
      },
      now: () => this.now(),
      record: (cmd) => {
        this.received.push(cmd);
        this.emit('command', cmd);
      },
      channel: (uuid) => this.channels.get(uuid),
      api: (command, arg) => this.runApi(command, arg),
      bgapi: (command, arg, jobUuid) => {
        void this.runApi(command, arg).then((out) => {
          const ev = this.newEvent('BACKGROUND_JOB', { file: 'mod_event_socket.c', func: 'api_exec', line: 1580 });
          ev.add('Job-UUID', jobUuid).add('Job-Command', command);
          if (arg !== undefined) ev.add('Job-Command-Arg', arg);
          ev.body = out;
          this.fire(ev);
        });
      },
      uuid: () => randomUUID(),
      sendEvent: (name, headers, body, eventUuid) => {
        const subclass = headerValue(headers, 'Event-Subclass');
        const ev = this.newEvent(canonicalEventName(name) ?? name, { file: 'mod_event_socket.c', func: 'parse_command', line: 2145 }, subclass);
        for (const [k, val] of Object.entries(headers)) {
          const lower = k.toLowerCase();
          if (lower === 'content-length' || lower === 'event-subclass') continue;
          ev.add(k, val);
        }
        ev.add('Event-UUID', eventUuid);
        if (body !== undefined) ev.body = body;
        this.fire(ev);
      },
      forget: (conn) => {
        this.conns.delete(conn);
        this.unbound.delete(conn);
        for (const [uuid, set] of this.boundTo) {
          if (set.delete(conn) && set.size === 0) this.boundTo.delete(uuid);
        }
      },
      bind: (conn, uuid) => {
        this.unbound.delete(conn);
        let set = this.boundTo.get(uuid);
        if (!set) this.boundTo.set(uuid, (set = new Set()));
        set.add(conn);
      },
    };
  }

  private makeApiHost(): ApiHost {
    const sim = this;
    return {
      channels: this.channels,
      get hostname(): string {
        return sim.options.hostname;
      },
      get startedAt(): number {
        return sim.startedAt;
      },
      get sessionsSinceStartup(): number {
        return sim.sessionCounter;
      },
      get peakSessions(): number {
        return sim.peak;
      },
      now: () => this.now(),
      originate: (arg) => this.originate(arg),
      audioStream: (a) => this.emit('audioStream', a),
    };
  }
}

function headerValue(headers: Record<string, string>, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === lower) return v;
  return undefined;
}
