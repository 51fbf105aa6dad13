import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import modesl from 'modesl';
import { SwitchboardError } from '../errors.ts';
import { assertOneLine } from './escape.ts';
import { decodeEvent } from './event-decode.ts';
import type { EslEvent } from './event.ts';
import { ContentType, type Frame } from './frame.ts';
import { FrameParser, type ProtocolProblem } from './frame-parser.ts';
import { ReplyQueue } from './reply-queue.ts';

/** What a connection reports to its owner (EslClient or EslServer). */
export interface ConnectionHooks {
  event(event: EslEvent): void;
  /** Once, when the socket is gone; `error` is why, if it was not an orderly close. */
  close(error: Error | undefined): void;
  disconnectNotice(headers: Record<string, string>): void;
  problem(problem: ProtocolProblem): void;
}

export interface RequestOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

const noHooks: ConnectionHooks = { event() {}, close() {}, disconnectNotice() {}, problem() {} };

interface Job {
  command: string;
  resolve(body: string): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
}

interface Execution {
  resolve(event: EslEvent): void;
  reject(err: Error): void;
}

/** Per-connection state. Created lazily: modesl's constructor calls our overrides before class fields exist. */
class State {
  hooks: ConnectionHooks = noHooks;
  parser: FrameParser | null = null;
  readonly replies = new ReplyQueue();
  readonly jobs = new Map<string, Job>();
  readonly executions = new Map<string, Execution>();
  closed = false;
  closeReason: Error | undefined;
  defaultTimeoutMs = 10_000;
  ready: Promise<void>;
  resolveReady!: () => void;
  rejectReady!: (err: Error) => void;

  constructor() {
    this.ready = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => {}); // observed by whoever awaits it; never an unhandled rejection
  }
}

/**
 * modesl's Connection with the parts that lose replies, crash or inject replaced (see README.md):
 * one framing parser that never throws, one FIFO of replies for every command that gets one
 * (api, bgapi, sendmsg, exit…), bgapi results through one Job-UUID map, executions matched on
 * Application-UUID through one map, every pending promise settled on close, Nagle off, every
 * line validated before it is written, and socket errors handled instead of re-emitted.
 * modesl keeps what it does right: socket setup for inbound and outbound mode and the
 * outbound `connect` / subscribe / ready handshake.
 */
export class EslConnection extends modesl.Connection {
  declare private sb: State | undefined;
  declare password: string;

  constructor(host: string, port: number, password: string);
  constructor(socket: Socket);
  constructor(...args: [string, number, string] | [Socket]) {
    if (args.length === 3) {
      assertOneLine('ESL password', args[2]);
      super(args[0], args[1], args[2]);
    } else {
      super(args[0]);
      this.once('esl::ready', () => this.state.resolveReady());
    }
    const socket = this.socket as Socket;
    socket.once('close', () => this.onSocketClose());
  }

  private get state(): State {
    return (this.sb ??= new State());
  }

  /** Resolves once authenticated (inbound) or once `connect` and `myevents` are answered (outbound). */
  get ready(): Promise<void> {
    return this.state.ready;
  }

  get isClosed(): boolean {
    return this.state.closed;
  }

  /** Channel data from the outbound `connect` reply (URL-decoded headers). */
  get channel(): Record<string, string> {
    return (this.channelData as Record<string, string> | null) ?? {};
  }

  setHooks(hooks: Partial<ConnectionHooks>): void {
    this.state.hooks = { ...noHooks, ...hooks };
  }

  setDefaultTimeout(ms: number): void {
    this.state.defaultTimeoutMs = ms;
  }

  /** Counts of work in flight, for leak checks and metrics. */
  inFlight(): { replies: number; jobs: number; executions: number } {
    const s = this.state;
    return { replies: s.replies.size, jobs: s.jobs.size, executions: s.executions.size };
  }

  /**
   * Sends one command and resolves with its reply frame (command/reply or api/response).
   * Replies are matched in order; a command that timed out keeps its place so its late reply
   * is swallowed instead of answering the next caller.
   */
  request(command: string, headers: Record<string, string> = {}, body?: string, options: RequestOptions = {}): Promise<Frame> {
    const s = this.state;
    let wire: string;
    try {
      wire = serialise(command, headers, body);
    } catch (err) {
      return Promise.reject(err);
    }
    if (s.closed || this.socket === null || this.socket.destroyed) {
      return Promise.reject(closedError(s.closeReason, command));
    }
    const timeoutMs = options.timeoutMs ?? s.defaultTimeoutMs;
    const promise = new Promise<Frame>((resolve, reject) => {
      s.replies.push(command, resolve, reject, timeoutMs, options.signal);
    });
    this.socket.write(wire);
    return promise;
  }

  /** `api <command>`: resolves with the response body; `-ERR …` bodies are returned, not thrown. */
  override api(command: string, options?: RequestOptions): Promise<string> {
    return this.request(`api ${command}`, {}, undefined, options).then((frame) => frame.body ?? '');
  }

  /**
   * `bgapi <command>` with a Job-UUID chosen here, so the result is found in one map lookup when
   * its BACKGROUND_JOB event arrives (needs a subscription to BACKGROUND_JOB on this connection).
   */
  override bgapi(command: string, options: RequestOptions & { jobUuid?: string } = {}): Promise<string> {
    const s = this.state;
    const jobUuid = options.jobUuid ?? randomUUID();
    const timeoutMs = options.timeoutMs ?? s.defaultTimeoutMs;
    return new Promise<string>((resolve, reject) => {
      const job: Job = {
        command,
        resolve,
        reject,
        timer: timeoutMs > 0
          ? setTimeout(() => {
              s.jobs.delete(jobUuid);
              reject(new SwitchboardError('SB_ESL_TIMEOUT', [timeoutMs, `bgapi ${firstWord(command)}`]));
            }, timeoutMs)
          : undefined,
      };
      s.jobs.set(jobUuid, job);
      // The job's timer covers the reply too: no second timer per bgapi.
      this.request(`bgapi ${command}`, { 'Job-UUID': jobUuid }, undefined, { ...options, timeoutMs: 0 }).then(
        (reply) => {
          const text = reply.headers['Reply-Text'] ?? '';
          if (text.startsWith('-ERR')) settleJob(s, jobUuid, undefined, new SwitchboardError('SB_ESL_COMMAND_FAILED', [text]));
        },
        (err: Error) => settleJob(s, jobUuid, undefined, err),
      );
    });
  }

  /**
   * `sendmsg` execute: resolves with the CHANNEL_EXECUTE_COMPLETE whose Application-UUID is the
   * Event-UUID sent. The argument travels in a text/plain body, so no character in it can end
   * the message early.
   */
  executeApp(uuid: string | undefined, app: string, arg: string | undefined, options: RequestOptions & { eventLock?: boolean } = {}): Promise<EslEvent> {
    const s = this.state;
    const eventUuid = randomUUID();
    const headers: Record<string, string> = { 'call-command': 'execute', 'execute-app-name': app };
    if (options.eventLock !== false) headers['event-lock'] = 'true';
    headers['Event-UUID'] = eventUuid;
    if (arg !== undefined && arg !== '') headers['content-type'] = 'text/plain';
    return new Promise<EslEvent>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => finish(undefined, new SwitchboardError('SB_CALL_ABORTED', [uuid ?? this.channel['Unique-ID'] ?? '?', app]));
      const finish = (event: EslEvent | undefined, err?: Error): void => {
        if (!s.executions.delete(eventUuid)) return;
        if (timer) clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(event as EslEvent);
      };
      s.executions.set(eventUuid, { resolve: (e) => finish(e), reject: (e) => finish(undefined, e) });
      if (options.timeoutMs !== undefined && options.timeoutMs > 0) {
        timer = setTimeout(() => finish(undefined, new SwitchboardError('SB_ESL_TIMEOUT', [options.timeoutMs as number, `execute ${app}`])), options.timeoutMs);
      }
      if (options.signal) {
        if (options.signal.aborted) return onAbort();
        options.signal.addEventListener('abort', onAbort, { once: true });
      }
      const command = uuid === undefined ? 'sendmsg' : `sendmsg ${uuid}`;
      this.request(command, headers, arg !== undefined && arg !== '' ? arg : undefined).then(
        (reply) => {
          const text = reply.headers['Reply-Text'] ?? '';
          if (text.startsWith('-ERR')) finish(undefined, new SwitchboardError('SB_ESL_COMMAND_FAILED', [`${text} to execute ${app}`]));
        },
        (err: Error) => finish(undefined, err),
      );
    });
  }

  /** Rejects every execution still waiting (the channel is gone). */
  failExecutions(err: Error): void {
    for (const exec of [...this.state.executions.values()]) exec.reject(err);
  }

  /** Sends `exit` (its reply is awaited like any other), then closes the socket. Never throws. */
  override async disconnect(): Promise<void> {
    if (this.state.closed || this.socket === null) return;
    await this.request('exit', {}, undefined, { timeoutMs: 2000 }).catch(() => {});
    this.destroy();
  }

  /**
   * Closes now: says `exit`, half-closes the socket so it flushes, and rejects everything
   * pending with SB_ESL_CLOSED at once (a blocking api on this connection would otherwise hold
   * the exit's reply). The socket is destroyed if FreeSWITCH has not closed it within a second.
   */
  close(): void {
    const socket = this.socket;
    if (this.state.closed || socket === null || socket.destroyed) return;
    socket.end('exit\n\n');
    this.onSocketClose();
    setTimeout(() => socket.destroy(), 1000).unref();
  }

  /** Closes the socket at once; everything pending rejects with SB_ESL_CLOSED. */
  destroy(reason?: Error): void {
    if (reason && !this.state.closeReason) this.state.closeReason = reason;
    this.socket?.destroy();
  }

  // --- modesl overrides -------------------------------------------------------------------

  /** Called by modesl once the socket is connected (inbound) or adopted (outbound). */
  override _onConnect(): void {
    const s = this.state;
    const socket = this.socket as Socket;
    socket.setNoDelay(true);
    s.parser = new FrameParser(
      (frame) => this.onFrame(frame),
      (problem) => {
        s.hooks.problem(problem);
        if (problem.fatal) this.destroy(new SwitchboardError('SB_ESL_PROTOCOL', [problem.message]));
      },
    );
    socket.on('data', (chunk: Buffer) => s.parser?.push(chunk));
    this.connecting = false;
  }

  /** modesl re-emits socket errors on an emitter that throws when nobody listens; keep the reason instead. */
  override _onError(err: Error): void {
    if (!this.state.closeReason) this.state.closeReason = err;
  }

  /** Used by modesl's outbound handshake (`connect`). Callback style kept for it. */
  override sendRecv(command: string, args?: Record<string, string> | ((frame: Frame) => void), cb?: (frame: Frame) => void): void {
    const callback = typeof args === 'function' ? args : cb;
    const headers = typeof args === 'object' && args !== null ? args : {};
    this.request(command, headers).then(
      (frame) => {
        if (command === 'connect') this.channelData = frame.headers;
        callback?.(frame);
      },
      (err: Error) => this.state.rejectReady(err),
    );
  }

  /**
   * modesl subscribes once `connect` is answered. An outbound socket pipelines its own
   * `myevents json` and `linger` right behind `connect` instead (see EslServer), so here there is
   * nothing left to send.
   */
  override subscribe(_events: unknown, cb?: () => void): void {
    if (!this._inbound) return void cb?.();
    this.request('event json BACKGROUND_JOB CHANNEL_EXECUTE_COMPLETE').then(
      () => cb?.(),
      (err: Error) => this.state.rejectReady(err),
    );
  }

  /** modesl's fire-and-forget write; routed through request() so its reply keeps the queue in step. */
  override send(command: string, args?: Record<string, string>): void {
    this.request(command, args ?? {}).catch(() => {});
  }

  // --- frame dispatch ---------------------------------------------------------------------

  private onFrame(frame: Frame): void {
    const s = this.state;
    if (s.closed) return;
    const type = frame.headers['Content-Type'];
    switch (type) {
      case ContentType.eventJson:
      case ContentType.eventPlain:
      case ContentType.eventXml:
        return this.onEventFrame(frame);
      case ContentType.commandReply:
      case ContentType.apiResponse:
        if (!s.replies.resolveNext(frame)) s.hooks.problem({ message: `unexpected ${type} with nothing waiting: ${frame.headers['Reply-Text'] ?? ''}`, fatal: false });
        return;
      case ContentType.authRequest:
        return this.authenticate();
      case ContentType.disconnectNotice:
        return s.hooks.disconnectNotice(frame.headers);
      case ContentType.rudeRejection:
        s.hooks.problem({ message: `FreeSWITCH refused the connection (ACL): ${(frame.body ?? '').trim()}`, fatal: true });
        return this.destroy(new SwitchboardError('SB_ESL_AUTH', ['connection rejected by FreeSWITCH ACL']));
      case ContentType.logData:
        return;
      default:
        s.hooks.problem({ message: `frame with unknown Content-Type ${JSON.stringify(type ?? null)} ignored`, fatal: false });
    }
  }

  private onEventFrame(frame: Frame): void {
    const s = this.state;
    let event: EslEvent;
    try {
      event = decodeEvent(frame);
    } catch (err) {
      s.hooks.problem({ message: (err as Error).message, fatal: false });
      return;
    }
    const name = event.name;
    if (name === 'BACKGROUND_JOB') {
      const jobUuid = event.get('Job-UUID');
      if (jobUuid !== undefined) settleJob(s, jobUuid, event.body ?? '');
    } else if (name === 'CHANNEL_EXECUTE_COMPLETE') {
      const appUuid = event.get('Application-UUID');
      if (appUuid !== undefined) s.executions.get(appUuid)?.resolve(event);
    }
    s.hooks.event(event);
  }

  private authenticate(): void {
    const s = this.state;
    this.request(`auth ${this.password}`).then(
      (reply) => {
        const text = reply.headers['Reply-Text'] ?? '';
        if (text.startsWith('+OK')) {
          this.authed = true;
          s.resolveReady();
        } else {
          s.rejectReady(new SwitchboardError('SB_ESL_AUTH', [text || 'no reply']));
        }
      },
      (err: Error) => s.rejectReady(err),
    );
  }

  private onSocketClose(): void {
    const s = this.state;
    if (s.closed) return;
    s.closed = true;
    const err = closedError(s.closeReason);
    s.parser?.reset();
    s.replies.rejectAll(err);
    for (const uuid of [...s.jobs.keys()]) settleJob(s, uuid, undefined, err);
    for (const exec of [...s.executions.values()]) exec.reject(err);
    s.rejectReady(s.closeReason instanceof SwitchboardError ? s.closeReason : err);
    s.hooks.close(s.closeReason);
  }
}

function settleJob(s: State, jobUuid: string, body: string | undefined, err?: Error): void {
  const job = s.jobs.get(jobUuid);
  if (!job) return;
  s.jobs.delete(jobUuid);
  if (job.timer) clearTimeout(job.timer);
  if (err) job.reject(err);
  else job.resolve(body ?? '');
}

function closedError(reason: Error | undefined, command?: string): SwitchboardError {
  const why = reason ? `${reason.message}` : 'connection closed';
  return new SwitchboardError('SB_ESL_CLOSED', [command ? `${why} (while sending ${firstWord(command)})` : why], {}, { cause: reason });
}

function firstWord(command: string): string {
  const i = command.indexOf(' ', command.startsWith('api ') || command.startsWith('bgapi ') ? command.indexOf(' ') + 1 : 0);
  return i === -1 ? command : command.slice(0, i);
}

/** One command as one string, so it leaves in one write; every line checked for CR/LF/NUL. */
export function serialise(command: string, headers: Record<string, string>, body: string | undefined): string {
  let out = assertOneLine('ESL command', command) + '\n';
  for (const name in headers) {
    out += `${assertOneLine('ESL header name', name)}: ${assertOneLine(`ESL header ${name}`, headers[name] as string)}\n`;
  }
  if (body === undefined) return out + '\n';
  return `${out}content-length: ${Buffer.byteLength(body)}\n\n${body}`;
}
