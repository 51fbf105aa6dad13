import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FreeSwitchSim } from '../../test/support/freeswitch-sim/index.ts';
import { startRedisServer, type RedisServer } from '../../test/support/redis-server.ts';
import { loadConfig, PROJECT_ROOT } from '../config.ts';
import { silentLogger } from '../log.ts';
import { Service } from '../service.ts';

const run = promisify(execFile);
let redis: RedisServer;
let sim: FreeSwitchSim;
let service: Service;
let dir: string;

beforeAll(async () => {
  redis = await startRedisServer();
  sim = await FreeSwitchSim.start({ timeScale: 0.01 });
  dir = mkdtempSync(join(tmpdir(), 'sb-call-'));
  writeFileSync(join(dir, 'reminder.yaml'), 'name: reminder\ntrigger: outbound\nsteps:\n  - play: "${env.SB_TEST_REMINDER:-closed.wav}"\n  - hangup\n');
  service = new Service({
    config: loadConfig({ SB_ESL_PORT: String(sim.port), SB_OUTBOUND_PORT: '0', SB_HTTP_PORT: '0', SB_MEDIA_PORT: '0', SB_FLOWS_DIR: dir, REDIS_URL: redis.url, SB_QUEUE_PREFIX: 'clitest' }),
    logger: silentLogger,
  });
  await service.start();
}, 30_000);

afterAll(async () => {
  await service?.close();
  await sim?.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('switchboard call: the job is dialled once with its pre-chosen uuid, the answered call runs the flow, the job completes', async () => {
  const r = await run(process.execPath, [join(PROJECT_ROOT, 'bin/switchboard.js'), 'call', '1001', '--flow', 'reminder', '--from', '+15550001111'], {
    cwd: dir,
    env: { ...process.env, REDIS_URL: redis.url, SB_QUEUE_PREFIX: 'clitest' },
    timeout: 60_000,
  });
  const callId = /call ([0-9a-f-]{36})/.exec(r.stdout)?.[1];
  expect(callId, r.stdout).toBeDefined();
  expect(r.stdout.trim().split('\n').at(-1)).toMatch(/^completed/);
  const originates = sim.received.filter((c) => c.line.startsWith('bgapi originate') && c.line.includes(`origination_uuid=${callId}`));
  expect(originates).toHaveLength(1);
  expect(originates[0]?.line).toContain('sb_flow=reminder');
  expect(originates[0]?.line).toContain("'&socket(127.0.0.1:");
  const played = sim.received.filter((c) => c.channel === callId && c.headers['execute-app-name'] === 'playback').map((c) => c.body?.split('/').pop());
  expect(played).toEqual(['closed.wav']);
});

it('switchboard call: a bad number is refused with the JSON pointer, nothing queued', async () => {
  const before = sim.received.length;
  const r = await run(process.execPath, [join(PROJECT_ROOT, 'bin/switchboard.js'), 'call', '1001;evil', '--flow', 'reminder'], { cwd: dir, env: { ...process.env, REDIS_URL: redis.url, SB_QUEUE_PREFIX: 'clitest' } }).catch((e: { code: number; stderr: string }) => e);
  expect((r as { code: number }).code).toBe(1);
  expect((r as { stderr: string }).stderr).toMatch(/^SB_QUEUE_BAD_JOB at \/to/);
  expect(sim.received.slice(before).filter((c) => c.line.startsWith('bgapi originate'))).toEqual([]);
});
