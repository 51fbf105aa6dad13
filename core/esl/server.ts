import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { silentLogger, type Logger } from '../log.ts';
import { Call } from './call.ts';
import { EslConnection } from './connection.ts';

export interface EslServerOptions {
  host: string;
  port: number;
  logger?: Logger;
  /** Runs once per call after connect/myevents/linger; the call is released when it returns or throws. */
  onCall: (call: Call) => void | Promise<void>;
  /** How long a new connection may take to send its channel data. */
  handshakeTimeoutMs?: number;
}

/**
 * Accepts FreeSWITCH's outbound connections (`socket <host>:<port> async full` in the dialplan,
 * or `&socket(...)` on originate): sends connect, myevents json and linger, then hands a typed
 * Call to onCall. A channel socket that resets or talks nonsense is logged and closed; it never
 * takes the process or other calls down.
 */
export class EslServer {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  readonly calls = new Map<string, Call>();
  private readonly log: Logger;

  constructor(private readonly options: EslServerOptions) {
    this.log = (options.logger ?? silentLogger).child({ component: 'esl-server' });
  }

  async start(): Promise<AddressInfo> {
    const server = createServer((socket) => this.accept(socket));
    server.on('error', (err) => this.log.error({ err: err.message }, 'outbound socket server error'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const address = server.address() as AddressInfo;
    this.log.info({ host: address.address, port: address.port }, 'waiting for FreeSWITCH outbound connections');
    return address;
  }

  get address(): AddressInfo | null {
    return (this.server?.address() as AddressInfo | null) ?? null;
  }

  /** Stops accepting; waits up to `graceMs` for calls in progress, then drops their sockets. */
  async close(graceMs = 5000): Promise<void> {
    const server = this.server;
    this.server = null;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    if (this.calls.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
      await Promise.race([Promise.all([...this.calls.values()].map((c) => c.ended)), grace]);
      clearTimeout(timer);
    }
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private accept(socket: Socket): void {
    const acceptedAt = performance.now();
    this.sockets.add(socket);
    // Attached before anything else: a reset channel socket must never become an uncaught error.
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'channel socket error'));
    socket.once('close', () => this.sockets.delete(socket));
    const conn = new EslConnection(socket);
    let call: Call | undefined;
    conn.setHooks({
      event: (ev) => call?.dispatch(ev),
      problem: (p) => (call?.log ?? this.log).warn({ fatal: p.fatal }, `ESL protocol problem: ${p.message}`),
      disconnectNotice: () => call?.markGone(call.hangupInfo),
      close: () => call?.release(),
    });
    const timer = setTimeout(() => conn.destroy(new Error('no channel data from FreeSWITCH')), this.options.handshakeTimeoutMs ?? 10_000);
    // modesl's constructor has sent `connect`; FreeSWITCH answers in order, so the rest of the
    // handshake goes out at once: one round trip instead of three.
    Promise.all([conn.ready, conn.request('myevents json'), conn.request('linger')])
      .then(
        () => {
          clearTimeout(timer);
          call = new Call(conn, this.options.logger ?? silentLogger, acceptedAt);
          this.run(call, conn);
        },
        (err: Error) => {
          clearTimeout(timer);
          this.log.warn({ err: err.message }, 'outbound connection closed before the call could start');
          conn.destroy();
        },
      );
  }

  private run(call: Call, conn: EslConnection): void {
    if (!call.id) {
      this.log.warn('outbound connection without a Unique-ID; closing');
      conn.destroy();
      return;
    }
    this.calls.set(call.id, call);
    call.log.info({ from: call.data.callerNumber, to: call.data.destination, context: call.data.context }, 'call connected');
    Promise.resolve()
      .then(() => this.options.onCall(call))
      .catch((err: Error) => call.log.error({ err: err.message, code: (err as { code?: string }).code }, 'call handler failed'))
      .finally(async () => {
        if (!call.isGone) await call.hangup().catch(() => {});
        this.calls.delete(call.id);
        // With linger, FreeSWITCH closes after the final events; do not keep a socket past that.
        setTimeout(() => conn.destroy(), 5000).unref();
      });
  }
}
