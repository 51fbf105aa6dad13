// /health (ESL, Redis, workers; 503 when degraded) and /metrics (calls by state, originates by
// cause and by gateway, every BullMQ queue's jobs by state), unauthenticated, on the HTTP server
// or on a listener of their own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, createServer } from 'node:net';
import { startApiRig, type ApiRig } from '../../test/support/api-rig.ts';
import { RedisProbe } from './redis-probe.ts';

/** A loopback port nothing listens on (taken, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Health {
  status: string;
  esl: { connected: boolean };
  redis?: { reachable: boolean; latencyMs?: number; error?: string };
  workers?: { local: boolean; total: number };
  flows: number;
  calls: number;
}

/** The value of one sample of the Prometheus text, or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('on the HTTP server', () => {
  let rig: ApiRig;
  beforeAll(async () => {
    rig = await startApiRig({ prefix: 'ops' });
  }, 30_000);
  afterAll(async () => {
    await rig?.close();
  });

  it('/health: ok with the event socket, Redis (PING) and this instance\'s call worker', async () => {
    const r = await fetch(`${rig.base}/health`);
    expect(r.status).toBe(200);
    const h = (await r.json()) as Health;
    expect(h).toMatchObject({ status: 'ok', esl: { connected: true }, redis: { reachable: true }, workers: { local: true }, flows: 2, calls: 0 });
    expect(h.redis?.latencyMs).toBeGreaterThanOrEqual(0);
    expect(h.workers?.total).toBeGreaterThanOrEqual(1);
  });

  it('/metrics: calls by state, originates by cause and gateway, queue jobs by state (read at scrape)', async () => {
    const { jobId } = (await (await rig.post('/v1/calls', { to: '1001', flow: 'reminder' })).json()) as { jobId: string };
    await expect.poll(async () => (await rig.service.queue!.get(jobId))?.state, { timeout: 15_000 }).toBe('completed');
    // A job for later: delayed in BullMQ until then.
    expect((await rig.post('/v1/calls', { to: '1002', flow: 'reminder', notBefore: new Date(Date.now() + 3_600_000).toISOString() })).status).toBe(202);
    const text = await (await fetch(`${rig.base}/metrics`)).text();
    expect(sample(text, 'switchboard_dials_total{gateway=""}')).toBe(1);
    expect(sample(text, 'switchboard_originate_total{cause="SUCCESS"}')).toBe(1);
    expect(sample(text, 'switchboard_queue_jobs{queue="calls",state="delayed"}')).toBe(1);
    expect(sample(text, 'switchboard_queue_jobs{queue="calls",state="waiting"}')).toBe(0);
    expect(sample(text, 'switchboard_queue_jobs{queue="calls",state="active"}')).toBe(0);
    expect(sample(text, 'switchboard_calls_by_state{state="answered"}')).toBe(0);
  });

  it('/metrics: a parked call counts as answered or ringing, and parked', async () => {
    const ch = await rig.sim.inboundCall({ to: '7000', from: '1000', socket: { host: '127.0.0.1', port: rig.service.outboundAddress.port } });
    await ch.waitForApp('playback');
    const text = await (await fetch(`${rig.base}/metrics`)).text();
    expect((sample(text, 'switchboard_calls_by_state{state="ringing"}') ?? 0) + (sample(text, 'switchboard_calls_by_state{state="answered"}') ?? 0)).toBe(1);
    expect(sample(text, 'switchboard_calls_by_state{state="parked"}')).toBe(1);
    await ch.hangup();
  });
});

describe('on their own listener (SB_OPS_PORT)', () => {
  let rig: ApiRig;
  beforeAll(async () => {
    rig = await startApiRig({ redis: false, env: { SB_OPS_PORT: '0', SB_OPS_HOST: '127.0.0.1' } });
  }, 30_000);
  afterAll(async () => {
    await rig?.close();
  });

  it('/health and /metrics answer there, not on the API\'s port; the API is not on the ops port', async () => {
    expect(rig.opsBase).not.toBe(rig.base);
    const h = await fetch(`${rig.opsBase}/health`);
    expect(h.status).toBe(200);
    expect(((await h.json()) as Health).redis).toBeUndefined();
    expect(await (await fetch(`${rig.opsBase}/metrics`)).text()).toContain('switchboard_calls_by_state');
    expect((await fetch(`${rig.base}/health`)).status).toBe(404);
    expect((await fetch(`${rig.base}/metrics`)).status).toBe(404);
    expect((await fetch(`${rig.opsBase}/v1/flows`, { headers: rig.auth })).status).toBe(404);
    expect((await rig.get('/v1/flows')).status).toBe(200);
  });
});

describe('degraded', () => {
  let rig: ApiRig;
  beforeAll(async () => {
    rig = await startApiRig({ prefix: 'down' });
  }, 30_000);
  afterAll(async () => {
    await rig?.close();
  });

  it('503 within about a second when Redis stops answering (PING timeout); ok again once it answers', async () => {
    // SIGSTOP: the port stays open but nothing answers, the hardest case for a health check.
    rig.redis!.process.kill('SIGSTOP');
    try {
      const started = Date.now();
      const r = await fetch(`${rig.base}/health`);
      expect(r.status).toBe(503);
      const h = (await r.json()) as Health;
      expect(h).toMatchObject({ status: 'degraded', esl: { connected: true }, redis: { reachable: false, error: 'no PONG within 1000 ms' }, workers: { local: false, total: 0 } });
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      rig.redis!.process.kill('SIGCONT');
    }
    await expect.poll(async () => (await fetch(`${rig.base}/health`)).status, { timeout: 10_000 }).toBe(200);
  });

  it('a Redis that refuses connections is unreachable at once (no waiting for a retry)', async () => {
    const probe = new RedisProbe(`redis://127.0.0.1:${await closedPort()}`, 'down');
    try {
      const started = Date.now();
      expect(await probe.ping()).toMatchObject({ reachable: false });
      expect(Date.now() - started).toBeLessThan(1500);
    } finally {
      await probe.close();
    }
  });

  it('503 when the event socket is down', async () => {
    await rig.sim.close();
    await expect.poll(async () => ((await (await fetch(`${rig.base}/health`)).json()) as Health).esl.connected, { timeout: 5000 }).toBe(false);
    expect((await fetch(`${rig.base}/health`)).status).toBe(503);
  });
});

describe('shutdown', () => {
  it('a client holding a request half-sent does not keep the service from stopping: its connection is cut', async () => {
    const rig = await startApiRig({ redis: false });
    const port = Number(new URL(rig.base).port);
    const sock = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
    const cut = new Promise<void>((resolve) => sock.once('close', () => resolve()));
    sock.on('error', () => {});
    sock.write('GET /health HTTP/1.1\r\nHost: switchboard\r\n'); // the headers never end
    await rig.close(); // without the cut, fastify waits for Node's header timeout (a minute): this test's timeout fails it
    await cut;
    expect(sock.destroyed).toBe(true);
  });
});
