import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FreeSwitchSim } from '../../test/support/freeswitch-sim/index.ts';
import { startRedisServer } from '../../test/support/redis-server.ts';
import { PROJECT_ROOT } from '../config.ts';

let sim: FreeSwitchSim;
let dir: string;
beforeAll(async () => {
  sim = await FreeSwitchSim.start({ timeScale: 0.01 });
  dir = mkdtempSync(join(tmpdir(), 'sb-start-'));
  writeFileSync(join(dir, 'desk.yaml'), 'name: desk\ndefault: true\nsteps:\n  - answer\n  - hangup\n');
});
afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Running {
  child: ReturnType<typeof spawn>;
  lines: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
  waitLine(pred: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

/** `switchboard start` in a child process, its JSON log lines collected. */
function startSwitchboard(env: Record<string, string> = {}): Running {
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'bin/switchboard.js'), 'start'], {
    cwd: dir,
    env: { ...process.env, SB_ESL_PORT: String(sim.port), SB_OUTBOUND_PORT: '0', SB_HTTP_PORT: '0', SB_MEDIA_PORT: '0', SB_FLOWS_DIR: dir, SB_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<{ pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }> = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    lines.push(line);
    for (const w of [...waiters]) if (w.pred(line)) waiters.splice(waiters.indexOf(w), 1) && w.resolve(line);
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const waitLine = (pred: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> => {
    const found = lines.find(pred);
    if (found) return Promise.resolve(found);
    return Promise.race([
      new Promise<Record<string, unknown>>((resolve) => waiters.push({ pred, resolve })),
      exited.then((code) => Promise.reject(new Error(`switchboard exited (${code}) before the expected log line`))),
    ]);
  };
  return { child, lines, exited, waitLine };
}

it('switchboard start: runs the real service, takes calls, reloads on SIGHUP, stops cleanly on SIGTERM', async () => {
  const { child, lines, exited, waitLine } = startSwitchboard();
  try {
    const running = await waitLine((l) => l.msg === 'switchboard is running');
    const port = (running.outbound as { port: number }).port;
    const ch = await sim.inboundCall({ to: '7000', from: '1000', socket: { host: '127.0.0.1', port } });
    await ch.waitForHangup();
    const ended = await waitLine((l) => l.msg === 'flow ended');
    expect(ended).toMatchObject({ callId: ch.uuid, flow: 'desk', ending: 'completed' });

    writeFileSync(join(dir, 'desk.yaml'), 'name: desk\ndefault: true\nsteps:\n  - answer\n  - wait: 0.1\n  - hangup\n');
    child.kill('SIGHUP');
    await waitLine((l) => l.msg === 'flows loaded' && l.generation === 2);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(lines.some((l) => l.msg === 'stopping: finishing calls in progress')).toBe(true);
  } finally {
    child.kill('SIGKILL');
  }
});

describe('a stop that cannot finish in time', () => {
  let holdDir: string;
  beforeAll(() => {
    holdDir = mkdtempSync(join(tmpdir(), 'sb-start-hold-'));
    writeFileSync(join(holdDir, 'hold.yaml'), 'name: hold\ndefault: true\nsteps:\n  - answer\n  - wait: 3000\n  - hangup\n');
  });
  afterAll(() => rmSync(holdDir, { recursive: true, force: true }));

  /** A running switchboard with one call in a long flow (3000 s, 30 s on the simulator's clock): its stop waits for the call, up to 5 s. */
  async function withCallInProgress(env: Record<string, string>): Promise<Running> {
    const run = startSwitchboard({ SB_FLOWS_DIR: holdDir, ...env });
    const running = await run.waitLine((l) => l.msg === 'switchboard is running');
    await sim.inboundCall({ to: '7000', from: '1000', socket: { host: '127.0.0.1', port: (running.outbound as { port: number }).port } });
    await run.waitLine((l) => l.msg === 'flow started');
    return run;
  }

  it('SIGTERM: after SB_SHUTDOWN_TIMEOUT_MS it says so and exits 1', async () => {
    const { child, lines, exited } = await withCallInProgress({ SB_SHUTDOWN_TIMEOUT_MS: '1000' });
    try {
      child.kill('SIGTERM');
      expect(await exited).toBe(1);
      expect(lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('could not stop within the shutdown deadline'))).toMatchObject({ timeoutMs: 1000 });
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a second signal while stopping exits at once', async () => {
    const { child, lines, exited, waitLine } = await withCallInProgress({ SB_SHUTDOWN_TIMEOUT_MS: '600000' });
    try {
      child.kill('SIGTERM');
      await waitLine((l) => l.msg === 'stopping: finishing calls in progress');
      child.kill('SIGINT');
      expect(await exited).toBe(1);
      expect(lines.some((l) => l.msg === 'second signal while stopping: exiting now')).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('Redis unreachable: the stop ends, exit 1, and the log says why', async () => {
    const redis = await startRedisServer();
    const { child, lines, exited, waitLine } = startSwitchboard({ REDIS_URL: redis.url, SB_SHUTDOWN_TIMEOUT_MS: '1500', SB_RECORDINGS_DIR: dir });
    try {
      await waitLine((l) => l.msg === 'switchboard is running');
      await redis.stop();
      child.kill('SIGTERM');
      expect(await exited).toBe(1);
      // Either BullMQ's close waits for Redis (the deadline) or it fails at once (the rest are closed anyway).
      const why = lines.find((l) => typeof l.msg === 'string' && (l.msg.startsWith('could not stop within the shutdown deadline') || l.msg === 'stopping failed'));
      expect(why).toBeDefined();
    } finally {
      child.kill('SIGKILL');
      await redis.stop();
    }
  });
});
