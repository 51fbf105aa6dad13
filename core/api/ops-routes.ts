import type { FastifyInstance } from 'fastify';
import { Gauge } from 'prom-client';
import type { Service } from '../service.ts';
import { QUEUE_STATES, type RedisHealth, type RedisProbe } from './redis-probe.ts';

const healthSchema = {
  type: 'object',
  required: ['status', 'esl', 'flows', 'calls'],
  properties: {
    status: { enum: ['ok', 'degraded'] },
    esl: { type: 'object', required: ['connected'], properties: { connected: { type: 'boolean' } } },
    redis: { type: 'object', required: ['reachable'], properties: { reachable: { type: 'boolean' }, latencyMs: { type: 'number' }, error: { type: 'string' } } },
    workers: {
      type: 'object',
      required: ['local', 'total'],
      properties: { local: { type: 'boolean', description: 'This instance\'s call worker is connected and taking jobs.' }, total: { type: 'integer', description: 'Call workers connected to Redis, every process.' } },
    },
    flows: { type: 'integer' },
    calls: { type: 'integer', description: 'Calls in progress on this instance.' },
  },
} as const;

/**
 * GET /health and GET /metrics: unauthenticated, on the HTTP server or a listener of their own
 * (SB_OPS_PORT). /health is 503 when something calls depend on is down: the event socket,
 * Redis (PING, 1 s), or this instance's call worker.
 */
export function registerOpsRoutes(app: FastifyInstance, service: Service, probe: RedisProbe | undefined): void {
  app.get(
    '/health',
    { schema: { tags: ['ops'], summary: 'Liveness and dependencies', security: [], response: { 200: healthSchema, 503: healthSchema } } },
    async (_req, reply) => {
      const esl = service.esl?.connected ?? false;
      let redis: RedisHealth | undefined;
      let workers: { local: boolean; total: number } | undefined;
      if (probe) {
        redis = await probe.ping();
        const names = redis.reachable ? await probe.callWorkers().catch(() => []) : [];
        const own = service.worker ? `:w:${service.worker.name}` : undefined;
        workers = { local: own !== undefined && names.some((n) => n.endsWith(own)), total: names.length };
      }
      const ok = esl && (redis?.reachable ?? true) && (service.worker === undefined || workers?.local === true);
      return reply.code(ok ? 200 : 503).send({
        status: ok ? 'ok' : 'degraded',
        esl: { connected: esl },
        ...(redis ? { redis } : {}),
        ...(workers ? { workers } : {}),
        flows: service.flows?.all().length ?? 0,
        calls: service.server?.calls.size ?? 0,
      });
    },
  );
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['ops'],
        summary: 'Prometheus metrics',
        security: [],
        produces: ['text/plain'],
        response: { 200: { type: 'string', description: 'Prometheus text exposition format.' } },
      },
    },
    async (_req, reply) => {
      const registry = service.metrics.registry;
      return reply.type(registry.contentType).send(await registry.metrics());
    },
  );
}

/**
 * Gauges read at scrape time: live calls by state on this instance, and jobs per state of every
 * BullMQ queue (from Redis: every instance reports the same values). Returns the unregister.
 */
export function registerOpsMetrics(service: Service, probe: RedisProbe | undefined): () => void {
  const registry = service.metrics.registry;
  const names = ['switchboard_calls_by_state', 'switchboard_queue_jobs'];
  for (const n of names) registry.removeSingleMetric(n);
  new Gauge({
    name: 'switchboard_calls_by_state',
    help: 'Calls in progress on this instance by state (ringing, answered, parked: waiting in a park step).',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.reset();
      const counts = { ringing: 0, answered: 0, parked: 0 };
      for (const c of service.server?.calls.values() ?? []) {
        if (c.state === 'ringing') counts.ringing++;
        else if (c.state === 'answered') counts.answered++;
        if (service.control.isListening(c.id)) counts.parked++;
      }
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  if (probe) {
    new Gauge({
      name: 'switchboard_queue_jobs',
      help: 'Jobs of each BullMQ queue by state (waiting, delayed, active, prioritized), read from Redis at scrape time.',
      labelNames: ['queue', 'state'],
      registers: [registry],
      async collect() {
        this.reset();
        try {
          for (const [queue, counts] of await probe.queueCounts()) for (const state of QUEUE_STATES) this.set({ queue, state }, counts[state] ?? 0);
        } catch {
          // Redis away: no sample rather than a wrong one (/health says why).
        }
      },
    });
  }
  return () => {
    for (const n of names) registry.removeSingleMetric(n);
  };
}
