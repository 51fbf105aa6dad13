/**
 * Scale-out: two Switchboard instances share one Redis and one FreeSWITCH. Calls queued through
 * one are dialled by whichever instance is running, each number once, and when an instance
 * stops, another takes over the jobs it had not dialled.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../core/config.ts';
import { silentLogger } from '../core/log.ts';
import { Service } from '../core/service.ts';
import { FreeSwitchSim } from '../test/support/freeswitch-sim/index.ts';
import { startRedisServer, type RedisServer } from '../test/support/redis-server.ts';

let redis: RedisServer;
let sim: FreeSwitchSim;
let dir: string;
const instances: Service[] = [];

async function startInstance(): Promise<Service> {
  const s = new Service({
    config: loadConfig({ SB_ESL_PORT: String(sim.port), SB_OUTBOUND_PORT: '0', SB_HTTP_PORT: '0', SB_MEDIA_PORT: '0', SB_FLOWS_DIR: dir, REDIS_URL: redis.url, SB_QUEUE_PREFIX: 'scale', SB_CPS: '40', SB_MAX_CONCURRENT: '6' }),
    logger: silentLogger,
  });
  await s.start();
  instances.push(s);
  return s;
}

beforeAll(async () => {
  redis = await startRedisServer();
  sim = await FreeSwitchSim.start({ timeScale: 0.01 });
  dir = mkdtempSync(join(tmpdir(), 'sb-scale-'));
  // Each answered call holds for a while: with at most 6 at once, 16 calls take several rounds.
  writeFileSync(join(dir, 'hold.yaml'), 'name: hold\ntrigger: outbound\nsteps:\n  - wait: 0.5\n  - hangup\n');
}, 30_000);

afterAll(async () => {
  for (const s of instances) await s.close().catch(() => {});
  await sim?.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('two instances share the queue: a stopped instance hands the jobs it had not dialled to the other, each number dialled once', async () => {
  const a = await startInstance();
  const jobs = await Promise.all(Array.from({ length: 16 }, (_, i) => a.queue!.add({ to: `20${String(i).padStart(2, '0')}`, flow: 'hold' })));
  // A alone dials the first ones; stopped then, it finishes those calls and hands back the rest
  // (the rounds of 6 calls of 0.5 s leave most of the 16 undialled), which B, started now, dials.
  const originates = (): typeof sim.received => sim.received.filter((c) => c.line.startsWith('bgapi originate'));
  await expect.poll(() => originates().length, { timeout: 20_000 }).toBeGreaterThanOrEqual(2);
  await a.close();
  const dialledByA = originates().length;
  expect(dialledByA).toBeLessThan(16);
  const b = await startInstance();
  const final = async (): Promise<string[]> => Promise.all(jobs.map(async (j) => (await b.queue!.get(j.jobId))?.state ?? 'unknown'));
  await expect.poll(async () => (await final()).every((s) => s === 'completed'), { timeout: 30_000, interval: 200 }).toBe(true);
  for (const j of jobs) expect(originates().filter((c) => c.line.includes(`origination_uuid=${j.callId}`))).toHaveLength(1);
  // The originates came over two event-socket connections: A's, then B's.
  const connections = originates().map((c) => c.connId);
  expect(new Set(connections).size).toBe(2);
  expect(new Set(connections.slice(0, dialledByA)).size).toBe(1);
});

it('exports every metric the Grafana dashboard shows', async () => {
  const dashboard = readFileSync(new URL('./grafana/dashboards/switchboard.json', import.meta.url), 'utf8');
  const shown = new Set([...dashboard.matchAll(/switchboard_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, '')));
  const b = instances.at(-1) as Service;
  const exported = await (await fetch(`http://127.0.0.1:${b.http?.port}/metrics`)).text();
  for (const name of shown) expect(exported, name).toContain(`# TYPE ${name} `);
});
