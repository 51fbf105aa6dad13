import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A deliberately tiny ESL peer for the simulator's own tests: it splits frames by the wire rules
 * and keeps every byte, so tests can compare shapes with the real captures. It shares no code
 * with core/esl on purpose.
 */
export interface RawFrame {
  /** Header names in the order they arrived. */
  order: string[];
  headers: Record<string, string>;
  body?: Buffer;
  /** Every byte of the frame (headers, blank line, body). */
  raw: Buffer;
}

export class RawEslPeer {
  readonly frames: RawFrame[] = [];
  private buf: Buffer = Buffer.alloc(0);
  private readonly waiters: Array<{ pred: (f: RawFrame) => boolean; resolve: (f: RawFrame) => void }> = [];
  /** Frames already handed out by nextFrame / command / nextEvent. */
  private readonly taken = new Set<RawFrame>();
  readonly closed: Promise<void>;
  isClosed = false;
  /** Every byte received. */
  received = Buffer.alloc(0);

  constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => {});
    this.closed = new Promise<void>((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        resolve();
      }),
    );
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<RawEslPeer> {
    const socket = connect({ port, host });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawEslPeer(socket);
  }

  /** Connects and authenticates (`auth ClueCon`). */
  static async authed(port: number, password = 'ClueCon'): Promise<RawEslPeer> {
    const peer = await RawEslPeer.connect(port);
    await peer.nextFrame((f) => f.headers['Content-Type'] === 'auth/request');
    const reply = await peer.command(`auth ${password}`);
    if (reply.headers['Reply-Text'] !== '+OK accepted') throw new Error(`auth failed: ${reply.headers['Reply-Text']}`);
    return peer;
  }

  private onData(chunk: Buffer): void {
    this.received = Buffer.concat([this.received, chunk]);
    this.buf = Buffer.concat([this.buf, chunk]);
    const { frames, rest } = splitFrames(this.buf);
    this.buf = rest;
    for (const frame of frames) {
      this.frames.push(frame);
      for (const w of [...this.waiters]) {
        if (w.pred(frame)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          this.taken.add(frame);
          w.resolve(frame);
          break;
        }
      }
    }
  }

  send(text: string | Buffer): void {
    this.socket.write(text);
  }

  /** The first frame not handed out yet that matches `pred` (waiting for it if need be). */
  nextFrame(pred: (f: RawFrame) => boolean = () => true, timeoutMs = 5000): Promise<RawFrame> {
    const found = this.frames.find((f) => !this.taken.has(f) && pred(f));
    if (found) {
      this.taken.add(found);
      return Promise.resolve(found);
    }
    return new Promise<RawFrame>((resolve, reject) => {
      const w = {
        pred,
        resolve: (f: RawFrame) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`no matching frame within ${timeoutMs} ms; got: ${this.frames.filter((f) => !this.taken.has(f)).map((f) => f.headers['Content-Type']).join(', ')}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Sends a command (first line + optional headers/body) and resolves with its reply frame. */
  command(line: string, headers: Record<string, string> = {}, body?: string): Promise<RawFrame> {
    let text = `${line}\n`;
    for (const [k, v] of Object.entries(headers)) text += `${k}: ${v}\n`;
    if (body !== undefined) text += `content-length: ${Buffer.byteLength(body)}\n\n${body}`;
    else text += '\n';
    const reply = this.nextFrame((f) => f.headers['Content-Type'] === 'command/reply' || f.headers['Content-Type'] === 'api/response');
    this.send(text);
    return reply;
  }

  async api(cmd: string): Promise<string> {
    const f = await this.command(`api ${cmd}`);
    return f.body?.toString('utf8') ?? '';
  }

  /** Resolves with the next event (json or plain) whose parsed headers match `pred`. */
  async nextEvent(pred: (e: Record<string, string>) => boolean = () => true, timeoutMs = 5000): Promise<{ event: Record<string, string>; frame: RawFrame }> {
    let parsed: Record<string, string> | undefined;
    const frame = await this.nextFrame((f) => {
      const e = parseEventFrame(f);
      if (e && pred(e)) {
        parsed = e;
        return true;
      }
      return false;
    }, timeoutMs);
    return { event: parsed as Record<string, string>, frame };
  }

  /** Every event received so far, parsed. */
  events(): Array<Record<string, string>> {
    return this.frames.map(parseEventFrame).filter((e): e is Record<string, string> => e !== undefined);
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * Splits bytes into frames by the wire rules: a header block up to `\n\n`, then exactly
 * Content-Length bytes. `rest` is an incomplete tail.
 */
export function splitFrames(input: Buffer): { frames: RawFrame[]; rest: Buffer } {
  const frames: RawFrame[] = [];
  let buf = input;
  for (;;) {
    const end = buf.indexOf('\n\n');
    if (end < 0) break;
    const head = buf.subarray(0, end).toString('utf8');
    const order: string[] = [];
    const headers: Record<string, string> = {};
    for (const line of head.split('\n')) {
      const i = line.indexOf(': ');
      const name = i < 0 ? line : line.slice(0, i);
      order.push(name);
      headers[name] = i < 0 ? '' : line.slice(i + 2);
    }
    const len = headers['Content-Length'] !== undefined ? Number(headers['Content-Length']) : 0;
    if (buf.length < end + 2 + len) break;
    const raw = Buffer.from(buf.subarray(0, end + 2 + len));
    const body = headers['Content-Length'] !== undefined ? raw.subarray(end + 2) : undefined;
    buf = buf.subarray(end + 2 + len);
    frames.push({ order, headers, body, raw });
  }
  return { frames, rest: buf };
}

/** Event headers of a text/event-json or text/event-plain frame (plain values decoded tolerantly). */
export function parseEventFrame(f: RawFrame): Record<string, string> | undefined {
  const type = f.headers['Content-Type'];
  if (!f.body) return undefined;
  const text = f.body.toString('utf8');
  if (type === 'text/event-json') {
    const obj = JSON.parse(text) as Record<string, string>;
    return obj;
  }
  if (type === 'text/event-plain') {
    const out: Record<string, string> = {};
    const blank = text.indexOf('\n\n');
    const head = blank < 0 ? text : text.slice(0, blank);
    for (const line of head.split('\n')) {
      const i = line.indexOf(': ');
      if (i < 0) continue;
      out[line.slice(0, i)] = tolerantDecode(line.slice(i + 2));
    }
    if (out['Content-Length'] !== undefined && blank >= 0) out._body = text.slice(blank + 2);
    return out;
  }
  return undefined;
}

export function tolerantDecode(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '%' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      for (const b of Buffer.from(s[i] as string, 'utf8')) bytes.push(b);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** A listener standing in for the service: FreeSWITCH's outbound sockets arrive here. */
export class RawOutboundServer {
  private readonly server: Server;
  private readonly pending: RawEslPeer[] = [];
  private readonly waiting: Array<(p: RawEslPeer) => void> = [];
  readonly peers: RawEslPeer[] = [];

  private constructor() {
    this.server = createServer((socket) => {
      const peer = new RawEslPeer(socket);
      this.peers.push(peer);
      const w = this.waiting.shift();
      if (w) w(peer);
      else this.pending.push(peer);
    });
  }

  static async start(): Promise<RawOutboundServer> {
    const s = new RawOutboundServer();
    await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve));
    return s;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The next connection FreeSWITCH makes. */
  accept(timeoutMs = 5000): Promise<RawEslPeer> {
    const p = this.pending.shift();
    if (p) return Promise.resolve(p);
    return new Promise<RawEslPeer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no outbound connection')), timeoutMs);
      this.waiting.push((peer) => {
        clearTimeout(timer);
        resolve(peer);
      });
    });
  }

  async close(): Promise<void> {
    for (const p of this.peers) p.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
