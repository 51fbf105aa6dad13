// A real redis-server for tests: started on a free loopback port with persistence off and
// `noeviction` (what BullMQ requires), stopped in afterAll. Never a mock.
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
  readonly process: ChildProcess;
  /** Sends one command over a fresh connection and resolves with the raw RESP reply. */
  command(...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  /** PING attempts before giving up (one every 25 ms). */
  pingAttempts?: number;
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

async function startOnce(bin: string, pingAttempts: number): Promise<RedisServer | 'port-taken'> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sb-redis-'));
  const child = spawn(
    bin,
    ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (output += d));
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));

  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  for (let i = 0; i < pingAttempts && !exited; i++) {
    const reply = await sendCommand(port, ['PING'], 500).catch(() => '');
    if (reply.startsWith('+PONG')) {
      return {
        host: HOST,
        port,
        url: `redis://${HOST}:${port}`,
        process: child,
        command: (...args: string[]) => sendCommand(port, args),
        stop: async () => {
          if (!exited) {
            child.kill('SIGTERM');
            const killTimer = setTimeout(() => child.kill('SIGKILL'), 3000);
            await exit;
            clearTimeout(killTimer);
          }
          cleanup();
        },
      };
    }
    await sleep(25);
  }
  if (!exited) child.kill('SIGKILL');
  await exit;
  cleanup();
  if (/address already in use/i.test(output)) return 'port-taken';
  throw new Error(`redis-server did not answer PING on port ${port}: ${output.trim() || '(no output)'}`);
}

/**
 * Starts redis-server (Debian package `redis-server`; `npm test` installs it) and resolves once
 * it answers PING. Call `stop()` in afterAll.
 */
export async function startRedisServer(options: StartRedisOptions = {}): Promise<RedisServer> {
  const bin = findTool('redis-server') ?? (existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : undefined);
  if (!bin) throw new Error('redis-server is not installed (apt-get install redis-server; npm test installs it)');
  for (let tries = 0; tries < 3; tries++) {
    const started = await startOnce(bin, options.pingAttempts ?? 200);
    if (started !== 'port-taken') return started;
  }
  throw new Error('redis-server: no free port after 3 tries');
}
