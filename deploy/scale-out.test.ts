/**
 * Scale-out: two Switchboard instances share one Redis and one FreeSWITCH. Queued calls spread
 * over both instances' workers, each number is dialled once, and when one instance stops, the
 * other takes over the remaining jobs.
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

beforeAll(async () => {
  redis = await startRedisServer();
  sim = await FreeSwitchSim.start({ timeScale: 0.01 });
  dir = mkdtempSync(join(tmpdir(), 'sb-scale-'));
  // Each answered call holds for a while, so both workers get busy.
  writeFileSync(join(dir, 'hold.yaml'), 'name: hold\ntrigger: outbound\nsteps:\n  - wait: 0.3\n  - hangup\n');
  for (let i = 0; i < 2; i++) {
    const s = new Service({
      config: loadConfig({ SB_ESL_PORT: String(sim.port), SB_OUTBOUND_PORT: '0', SB_HTTP_PORT: '0', SB_MEDIA_PORT: '0', SB_FLOWS_DIR: dir, REDIS_URL: redis.url, SB_QUEUE_PREFIX: 'scale', SB_CPS: '40', SB_MAX_CONCURRENT: '6' }),
      logger: silentLogger,
    });
    await s.start();
    instances.push(s);
  }
}, 30_000);

afterAll(async () => {
  for (const s of instances) await s.close().catch(() => {});
  await sim?.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('two instances share the queue: jobs spread, each dialled once; a stopped instance hands its work to the other', async () => {
  const [a, b] = instances as [Service, Service];
  const jobs = await Promise.all(Array.from({ length: 16 }, (_, i) => a.queue!.add({ to: `20${String(i).padStart(2, '0')}`, flow: 'hold' })));
  // Stop instance A once it has dialled a few: its remaining jobs must be taken over by B.
  await expect.poll(() => sim.received.filter((c) => c.line.startsWith('bgapi originate')).length, { timeout: 20_000 }).toBeGreaterThanOrEqual(4);
  await a.close();
  const final = async (): Promise<string[]> => Promise.all(jobs.map(async (j) => (await b.queue!.get(j.jobId))?.state ?? 'unknown'));
  await expect.poll(async () => (await final()).every((s) => s === 'completed'), { timeout: 30_000, interval: 200 }).toBe(true);
  const originates = sim.received.filter((c) => c.line.startsWith('bgapi originate'));
  for (const j of jobs) expect(originates.filter((c) => c.line.includes(`origination_uuid=${j.callId}`))).toHaveLength(1);
  // Both instances dialled: the originates came over two different event-socket connections.
  expect(new Set(originates.map((c) => c.connId)).size).toBe(2);
});

it('exports every metric the Grafana dashboard shows', async () => {
  const dashboard = readFileSync(new URL('./grafana/dashboards/switchboard.json', import.meta.url), 'utf8');
  const shown = new Set([...dashboard.matchAll(/switchboard_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, '')));
  const b = instances[1] as Service;
  const exported = await (await fetch(`http://127.0.0.1:${b.http?.port}/metrics`)).text();
  for (const name of shown) expect(exported, name).toContain(`# TYPE ${name} `);
});
