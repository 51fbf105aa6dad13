import { EventEmitter } from 'node:events';
import { SwitchboardError } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import { EslConnection, type RequestOptions } from './connection.ts';
import { originateArgs, type OriginateRequest } from './dial-string.ts';
import { assertOneLine, assertToken } from './escape.ts';
import type { EslEvent } from './event.ts';

export interface EslClientOptions {
  host: string;
  port: number;
  password: string;
  logger?: Logger;
  /** Default timeout of api/bgapi commands. */
  timeoutMs?: number;
  reconnect?: { initialMs?: number; maxMs?: number };
}

interface ClientEvents {
  event: [EslEvent];
  connected: [];
  disconnected: [Error | undefined];
  reconnecting: [{ attempt: number; delayMs: number }];
}

export type OriginateResult = { ok: true; uuid: string } | { ok: false; cause: string };

/**
 * The inbound ESL connection (Switchboard → FreeSWITCH :8021): api, bgapi, events, filters.
 * Reconnects with capped exponential backoff and restores subscriptions and filters. Work in
 * flight when the connection drops rejects with SB_ESL_CLOSED; nothing is silently retried.
 */
export class EslClient extends EventEmitter<ClientEvents> {
  private conn: EslConnection | null = null;
  private readonly subscriptions = new Set<string>(['BACKGROUND_JOB']);
  private readonly filters: Array<[string, string]> = [];
  private closing = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly log: Logger;
  /** Times the connection was re-established after a loss (a metric). */
  reconnects = 0;

  constructor(private readonly options: EslClientOptions) {
    super();
    this.log = (options.logger ?? silentLogger).child({ component: 'esl-client' });
  }

  get connected(): boolean {
    return this.conn !== null && !this.conn.isClosed && this.conn.authed;
  }

  /** Connects and authenticates; rejects if the first attempt fails (bad password, nothing listening). Later losses reconnect on their own. */
  async start(): Promise<void> {
    this.closing = false;
    try {
      await this.connectOnce();
    } catch (err) {
      this.closing = true;
      clearTimeout(this.retryTimer);
      this.conn?.destroy();
      this.conn = null;
      throw err;
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.retryTimer);
    const conn = this.conn;
    this.conn = null;
    conn?.close();
  }

  /** `api <command>`; the body is returned as is (FreeSWITCH reports errors as `-ERR …` bodies). */
  async api(command: string, options?: RequestOptions): Promise<string> {
    return this.live().api(command, options);
  }

  /** Like api(), but a `-ERR …` answer rejects with SB_ESL_COMMAND_FAILED. */
  async apiOk(command: string, options?: RequestOptions): Promise<string> {
    const body = await this.api(command, options);
    if (body.startsWith('-ERR')) throw new SwitchboardError('SB_ESL_COMMAND_FAILED', [`${body.trim()} to "${command.split(' ')[0]}"`]);
    return body;
  }

  async bgapi(command: string, options?: RequestOptions & { jobUuid?: string }): Promise<string> {
    return this.live().bgapi(command, options);
  }

  /** `bgapi originate …` with the uuid chosen by the caller; failure causes come back as values. */
  async originate(req: OriginateRequest, options?: RequestOptions): Promise<OriginateResult> {
    const args = originateArgs(req);
    const timeoutMs = options?.timeoutMs ?? ((req.timeoutSec ?? 60) + 15) * 1000;
    const body = (await this.bgapi(`originate ${args}`, { ...options, timeoutMs })).trim();
    if (body.startsWith('+OK')) return { ok: true, uuid: body.slice(3).trim() || req.uuid };
    return { ok: false, cause: body.replace(/^-ERR\s*/, '') || 'UNKNOWN' };
  }

  /** Adds event names (`CHANNEL_ANSWER`, or `CUSTOM` subclasses like `mod_audio_stream::play`) to the subscription. */
  async subscribe(...names: string[]): Promise<void> {
    for (const n of names) this.subscriptions.add(assertToken('event name', n));
    if (this.connected) await this.sendSubscriptions(this.live());
  }

  async filter(header: string, value: string): Promise<void> {
    this.filters.push([assertToken('filter header', header), assertOneLine('filter value', value)]);
    if (this.connected) await this.live().request(`filter ${header} ${value}`);
  }

  /** Work in flight on the current connection (for leak checks). */
  inFlight(): { replies: number; jobs: number; executions: number } {
    return this.conn?.inFlight() ?? { replies: 0, jobs: 0, executions: 0 };
  }

  private live(): EslConnection {
    const conn = this.conn;
    if (conn === null || conn.isClosed) throw new SwitchboardError('SB_ESL_CLOSED', ['not connected to FreeSWITCH']);
    return conn;
  }

  private async connectOnce(): Promise<void> {
    const { host, port, password } = this.options;
    const conn = new EslConnection(host, port, password);
    if (this.options.timeoutMs !== undefined) conn.setDefaultTimeout(this.options.timeoutMs);
    conn.setHooks({
      event: (ev) => this.emit('event', ev),
      problem: (p) => this.log.warn({ fatal: p.fatal }, `ESL protocol problem: ${p.message}`),
      close: (err) => this.onClose(conn, err),
    });
    this.conn = conn;
    await conn.ready;
    await this.sendSubscriptions(conn);
    for (const [h, v] of this.filters) await conn.request(`filter ${h} ${v}`);
    if (this.attempt > 0) this.reconnects++;
    this.attempt = 0;
    this.log.info({ host, port }, 'connected to FreeSWITCH');
    this.emit('connected');
  }

  private async sendSubscriptions(conn: EslConnection): Promise<void> {
    const names = [...this.subscriptions];
    const plain = names.filter((n) => !n.includes('::') && n !== 'CUSTOM');
    const custom = names.filter((n) => n.includes('::'));
    const list = custom.length > 0 ? [...plain, 'CUSTOM', ...custom] : plain;
    await conn.request(`event json ${list.join(' ')}`);
  }

  private onClose(conn: EslConnection, err: Error | undefined): void {
    if (this.conn !== conn) return;
    this.conn = null;
    this.emit('disconnected', err);
    if (this.closing) return;
    this.log.warn({ err: err?.message }, 'lost the FreeSWITCH event socket; reconnecting');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const initial = this.options.reconnect?.initialMs ?? 250;
    const max = this.options.reconnect?.maxMs ?? 10_000;
    const delayMs = Math.min(max, initial * 2 ** this.attempt);
    this.attempt++;
    this.emit('reconnecting', { attempt: this.attempt, delayMs });
    this.retryTimer = setTimeout(() => {
      if (this.closing) return;
      // A failed attempt's socket close schedules the next one (onClose).
      this.connectOnce().catch((err: Error) => this.log.warn({ err: err.message, attempt: this.attempt }, 'reconnect failed'));
    }, delayMs);
    this.retryTimer.unref?.();
  }
}
