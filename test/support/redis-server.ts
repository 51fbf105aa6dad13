// A real redis-server for tests: started on a free loopback port with persistence off (unless
// asked for) and `noeviction` (what BullMQ requires), stopped in afterAll. Never a mock.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findTool } from './system-tools.ts';

export interface RedisServer {
  readonly host: string;
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** The running redis-server (a new one after `restart()`). */
  readonly process: ChildProcess;
  /** Sends one command over a fresh connection and resolves with the raw RESP reply. */
  command(...args: string[]): Promise<string>;
  /**
   * Stops redis-server (SIGTERM: it writes its data out and exits; clients see the connection
   * drop) and starts a new one on the same port and data directory, resolving once it answers
   * PING. With `persistence` the data survives; without, the new server starts empty.
   */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  /** PING attempts before giving up (one every 25 ms). */
  pingAttempts?: number;
  /** Append-only file, fsync'd on every write: nothing written is lost across `restart()`. Default off. */
  persistence?: boolean;
}

const HOST = '127.0.0.1';

/** Redis refuses `--port 0`: a port is reserved by listening on 0, released, then handed over. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('could not reserve a port');
  return address.port;
}

function encode(args: readonly string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

/** One command, one reply: enough for PING and test assertions (not a client). */
function sendCommand(port: number, args: readonly string[], timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: HOST, port });
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`redis ${args[0]} timed out`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(encode(args)));
    socket.on('data', (chunk: string) => {
      data += chunk;
      if (!data.endsWith('\r\n')) return;
      clearTimeout(timer);
      socket.end();
      resolve(data);
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

interface Spawned {
  child: ChildProcess;
  exited(): boolean;
  exit: Promise<void>;
  output(): string;
}

function spawnRedis(bin: string, port: number, dir: string, persistence: boolean): Spawned {
  const durability = persistence ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const child = spawn(
    bin,
    ['--port', String(port), '--bind', HOST, '--save', '', ...durability, '--maxmemory-policy', 'noeviction', '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (output += d));
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  return { child, exited: () => exited, exit, output: () => output };
}

/** true once it answers PING; false when it exited or never answered (then it is killed). */
async function answers(s: Spawned, port: number, pingAttempts: number): Promise<boolean> {
  for (let i = 0; i < pingAttempts && !s.exited(); i++) {
    const reply = await sendCommand(port, ['PING'], 500).catch(() => '');
    if (reply.startsWith('+PONG')) return true;
    await sleep(25);
  }
  if (!s.exited()) s.child.kill('SIGKILL');
  await s.exit;
  return false;
}

async function terminate(s: Spawned): Promise<void> {
  if (s.exited()) return;
  s.child.kill('SIGTERM');
  const killTimer = setTimeout(() => s.child.kill('SIGKILL'), 3000);
  await s.exit;
  clearTimeout(killTimer);
}

async function startOnce(bin: string, pingAttempts: number, persistence: boolean): Promise<RedisServer | 'port-taken'> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sb-redis-'));
  let current = spawnRedis(bin, port, dir, persistence);
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  if (await answers(current, port, pingAttempts)) {
    return {
      host: HOST,
      port,
      url: `redis://${HOST}:${port}`,
      get process() {
        return current.child;
      },
      command: (...args: string[]) => sendCommand(port, args),
      restart: async () => {
        await terminate(current);
        current = spawnRedis(bin, port, dir, persistence);
        if (!(await answers(current, port, pingAttempts))) throw new Error(`redis-server did not come back on port ${port}: ${current.output().trim() || '(no output)'}`);
      },
      stop: async () => {
        await terminate(current);
        cleanup();
      },
    };
  }
  cleanup();
  if (/address already in use/i.test(current.output())) return 'port-taken';
  throw new Error(`redis-server did not answer PING on port ${port}: ${current.output().trim() || '(no output)'}`);
}

/**
 * Starts redis-server (Debian package `redis-server`; `npm test` installs it) and resolves once
 * it answers PING. Call `stop()` in afterAll.
 */
export async function startRedisServer(options: StartRedisOptions = {}): Promise<RedisServer> {
  const bin = findTool('redis-server') ?? (existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : undefined);
  if (!bin) throw new Error('redis-server is not installed (apt-get install redis-server; npm test installs it)');
  for (let tries = 0; tries < 3; tries++) {
    const started = await startOnce(bin, options.pingAttempts ?? 200, options.persistence ?? false);
    if (started !== 'port-taken') return started;
  }
  throw new Error('redis-server: no free port after 3 tries');
}
